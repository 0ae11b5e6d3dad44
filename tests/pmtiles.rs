//! A PMTiles archive is the same imagery as its XYZ tiles: www/tiles/<name>.pmtiles (packed by
//! tests/data/make_pmtiles.py) read through the reader the browser uses (here over file
//! reads), stitched by the pipeline, gives the XYZ directory's raster pixel for pixel; a tile
//! the archive lacks is empty (black, counted in `tiles.empty`), not missing.
#![cfg(not(target_family = "wasm"))]
// Tests fail by panicking: the no-panic lints are for library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use futures::executor::block_on;
use geodetect::imagery::PixelExtent;
use geodetect::native::{ArchiveTiles, DirTiles, NativeHooks};
use geodetect::pipeline::load_raster;
use geodetect::tiles::TileSource;

#[test]
fn archive_and_xyz_tiles_stitch_to_the_same_raster() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www/tiles");
    for (name, zooms) in [("marina", [17u8, 18, 19]), ("osbs", [20, 21, 22])] {
        let archive_path = root.join(format!("{name}.pmtiles"));
        assert!(archive_path.is_file(), "{} is missing: run tests/data/prepare.sh", archive_path.display());
        let archive = block_on(ArchiveTiles::open(&archive_path)).unwrap();
        assert_eq!(archive.zoom_range(), (zooms[0], zooms[2]), "{name}");
        let tileset: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join(name).join("tileset.json")).unwrap()).unwrap();
        let b: Vec<f64> = tileset["bounds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        // The tile set's bounds and a margin of about one tile on every side, outside the imagery.
        let (dx, dy) = ((b[2] - b[0]) * 0.3, (b[3] - b[1]) * 0.3);
        let bounds =
            geo::Rect::new(geo::coord! { x: b[0] - dx, y: b[1] - dy }, geo::coord! { x: b[2] + dx, y: b[3] + dy });
        let source = TileSource { pmtiles: Some(archive_path.display().to_string()), ..TileSource::from_template("") };
        for zoom in zooms {
            let extent = PixelExtent::covering(bounds, zoom, 256).unwrap();
            let tiles: Vec<_> = extent.tiles().iter().collect();
            let hooks = NativeHooks::new(false);
            let from_dir = block_on(load_raster(
                &DirTiles::new(root.join(name)),
                &source,
                extent,
                tiles.clone(),
                false,
                &hooks,
                None,
            ))
            .unwrap();
            let from_archive =
                block_on(load_raster(&archive, &source, extent, tiles.clone(), false, &hooks, None)).unwrap();
            // The margin's tiles: missing files in the directory, absent from the archive.
            assert!(!from_dir.missing.is_empty(), "{name} z{zoom}: the margin should hold tiles without imagery");
            assert!(from_archive.missing.is_empty(), "{name} z{zoom}: {:?}", from_archive.missing);
            assert_eq!(from_archive.stats.empty, from_dir.missing.len(), "{name} z{zoom}");
            assert_eq!(from_archive.stats.requested, tiles.len());
            assert_eq!(from_archive.raster.extent, from_dir.raster.extent);
            assert!(from_archive.raster.rgb == from_dir.raster.rgb, "{name} z{zoom}: the pixels differ");
        }
    }
}
