//! Georeferencing on real georeferenced imagery: OSBS_029.tif (deepforest, UTM 17N, 0.10 m),
//! reprojected by tests/data/make_tiles.py with pyproj into Web Mercator tiles. Stitched with
//! the pipeline's own tile loading, the raster must show each checkpoint's original colour
//! at the checkpoint's lon/lat (tests/data/osbs_checkpoints.json), at zooms 20, 21 and 22.
#![cfg(not(target_family = "wasm"))]
// Tests fail by panicking: the no-panic lints are for library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use geodetect::imagery::PixelExtent;
use geodetect::native::{DirTiles, NativeHooks};
use geodetect::pipeline::load_raster;
use geodetect::tiles::{TileSource, mercator};
use serde::Deserialize;

#[derive(Deserialize)]
struct Checkpoint {
    id: u32,
    lon: f64,
    lat: f64,
    rgb: [u8; 3],
    tol3x3: u8,
    #[serde(rename = "globalPxZ22")]
    global_px_z22: [f64; 2],
}

#[derive(Deserialize)]
struct Checkpoints {
    points: Vec<Checkpoint>,
}

#[test]
fn osbs_colours_land_at_their_lon_lat() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tiles = root.join("www/tiles/osbs");
    assert!(tiles.join("22").is_dir(), "{} is missing: run tests/data/prepare.sh (or tests/setup.sh)", tiles.display());
    let fixture = std::fs::read_to_string(root.join("tests/data/osbs_checkpoints.json")).unwrap();
    let points = serde_json::from_str::<Checkpoints>(&fixture).unwrap().points;
    assert!(points.len() >= 10);

    // Our Mercator against pyproj's lon/lat and the fixture's global pixels.
    for p in &points {
        let px = mercator::lonlat_to_pixel(p.lon, p.lat, 22, 256);
        assert!(
            (px[0] - p.global_px_z22[0]).abs() < 1e-2 && (px[1] - p.global_px_z22[1]).abs() < 1e-2,
            "point {}",
            p.id
        );
    }

    let bounds = geo::Rect::new(
        geo::coord! { x: points.iter().map(|p| p.lon).fold(f64::INFINITY, f64::min), y: points.iter().map(|p| p.lat).fold(f64::INFINITY, f64::min) },
        geo::coord! { x: points.iter().map(|p| p.lon).fold(f64::NEG_INFINITY, f64::max), y: points.iter().map(|p| p.lat).fold(f64::NEG_INFINITY, f64::max) },
    );
    let source: TileSource = serde_json::from_value(serde_json::json!({ "url": "file:///{z}/{x}/{y}.png" })).unwrap();
    for zoom in [20u8, 21, 22] {
        let extent = PixelExtent::covering(bounds, zoom, 256).unwrap();
        let loaded = futures::executor::block_on(load_raster(
            &DirTiles::new(&tiles),
            &source,
            extent,
            extent.tiles().iter().collect(),
            true,
            &NativeHooks::new(false),
            None,
        ))
        .unwrap();
        assert!(loaded.missing.is_empty());
        let raster = &loaded.raster;
        for p in &points {
            let [x, y] = raster.extent.lonlat_to_pixel(p.lon, p.lat);
            let got = raster.pixel(x.floor() as u32, y.floor() as u32).expect("checkpoint inside the raster");
            let worst = (0..3).map(|c| got[c].abs_diff(p.rgb[c])).max().unwrap();
            assert!(worst <= p.tol3x3, "z{zoom} point {}: {got:?} vs {:?} (tolerance {})", p.id, p.rgb, p.tol3x3);
        }
    }
}
