//! `detect()` on a Cloud-Optimized GeoTIFF, in the image's own pixel grid and CRS, natively
//! (the browser runs the same pipeline over range requests: tests/e2e/sources.test.mjs).
//!
//! - The marina's zoom-19 tiles reprojected to UTM 32N (`marina_utm.tif`): the same boats as
//!   the XYZ tiles, within what resampling moves them.
//! - OSBS (EPSG:32617, 0.1 m) and its Web Mercator and lon/lat variants: the labelled trees'
//!   centres, mapped as a detection's corners are (the run's raster pixel → CRS → lon/lat),
//!   land within a pixel of where rasterio and pyproj put them, at the full resolution and
//!   on an overview.
//!
//! Needs the setup's generated files (www/models, www/tiles/marina, .cache/cog:
//! `tests/data/prepare.sh`).
#![cfg(not(target_family = "wasm"))]
// Tests fail by panicking: the no-panic lints are for library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{engine, root};
use futures::executor::block_on;
use geodetect::api::{DetectOptions, DetectResult};
use geodetect::detect::Engine;
use geodetect::geojson::Aoi;
use geodetect::host::TileProvider;
use geodetect::imagery::Grid;
use geodetect::imagery::cog::georef::ground_distance;
use geodetect::native::{CogFile, DirTiles, NativeHooks};
use geodetect::pipeline::{AreaRun, detect_area};
use geodetect::tiles::TileSource;
use serde_json::{Value, json};

fn cog_path(name: &str) -> String {
    let path = root().join(".cache/cog").join(name);
    assert!(path.exists(), "{}: make the test COGs with tests/data/prepare.sh", path.display());
    path.display().to_string()
}

fn aoi(name: &str) -> Aoi {
    let text = std::fs::read_to_string(root().join("tests/data/aoi").join(format!("{name}.geojson"))).unwrap();
    Aoi::from_json(&serde_json::from_str::<Value>(&text).unwrap()).unwrap()
}

fn cog_source(path: &str) -> TileSource {
    serde_json::from_value(json!({ "cog": format!("file://{path}") })).unwrap()
}

fn run<P: TileProvider>(engine: &Engine, source: &TileSource, provider: &P, aoi: &Aoi, zoom: i64) -> DetectResult {
    let options = DetectOptions { max_tiles: 400, ..DetectOptions::at_zoom(zoom) };
    block_on(detect_area(engine, source, provider, aoi, &options, &NativeHooks::new(false))).unwrap()
}

/// Each detection: class, score, and the centre of its outline (lon, lat).
fn detections(result: &DetectResult) -> Vec<(String, f32, (f64, f64))> {
    let fc = serde_json::to_value(&result.detections).unwrap();
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
            let corners = &ring[..ring.len() - 1];
            let mean = |k: usize| corners.iter().map(|p| p[k].as_f64().unwrap()).sum::<f64>() / corners.len() as f64;
            let props = &f["properties"];
            (props["class"].as_str().unwrap().to_owned(), props["score"].as_f64().unwrap() as f32, (mean(0), mean(1)))
        })
        .collect()
}

/// For each detection of `of` with a score of at least `min_score`: the east and north offset
/// in metres to the nearest detection of the same class in `among`, if one is within `metres`.
fn matches(
    of: &[(String, f32, (f64, f64))],
    among: &[(String, f32, (f64, f64))],
    min_score: f32,
    metres: f64,
) -> Vec<Option<(f64, f64)>> {
    of.iter()
        .filter(|d| d.1 >= min_score)
        .map(|d| {
            let nearest = among
                .iter()
                .filter(|o| o.0 == d.0)
                .min_by(|x, y| ground_distance(d.2, x.2).total_cmp(&ground_distance(d.2, y.2)))?;
            let east = ground_distance(d.2, (nearest.2.0, d.2.1)) * (nearest.2.0 - d.2.0).signum();
            let north = ground_distance(d.2, (d.2.0, nearest.2.1)) * (nearest.2.1 - d.2.1).signum();
            (east.hypot(north) <= metres).then_some((east, north))
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn the_marina_in_utm_gives_the_boats_of_the_xyz_tiles() {
    let engine = engine();
    let area = aoi("marina");
    let xyz_source: TileSource =
        serde_json::from_value(json!({ "url": "file:///{z}/{x}/{y}.png", "maxZoom": 21 })).unwrap();
    let xyz = run(&engine, &xyz_source, &DirTiles::new(root().join("www/tiles/marina")), &area, 19);

    let path = cog_path("marina_utm.tif");
    let cog = block_on(CogFile::open(&path)).unwrap();
    let source = cog_source(&path);
    let result = run(&engine, &source, &cog, &area, 19);
    let image = &result.image;
    assert_eq!((image.crs.as_str(), image.level, image.zoom), ("EPSG:32632", Some(0), 19), "{image:?}");
    assert!(result.missing_tiles.is_empty(), "{:?}", result.missing_tiles);

    let (a, b) = (detections(&xyz), detections(&result));
    assert!(a.len() > 50, "{} XYZ detections", a.len());
    // One pixel is 0.216 m here. The COG is the XYZ raster resampled (bilinear) onto a grid
    // turned by 1.1° (UTM's grid convergence at 7.42° E), so the model sees slightly other
    // pixels: boxes move by a fraction of a pixel, and in the crowded rows of boats a few
    // come out merged or split. Measured: the median distance between twins is 0.16 m, 90 %
    // are within 0.56 m. So: nine in ten confident detections of either run have their twin
    // within 3 px in the other, and the twins are not shifted as a whole (the median offset,
    // east and north, is under a quarter of a pixel: a georeferencing error would shift them
    // all).
    let pixel = 0.2158;
    for (from, to, what) in [(&a, &b, "XYZ -> COG"), (&b, &a, "COG -> XYZ")] {
        let found = matches(from, to, 0.5, 3.0 * pixel);
        let twins: Vec<(f64, f64)> = found.iter().flatten().copied().collect();
        let (east, north) = (median(twins.iter().map(|t| t.0).collect()), median(twins.iter().map(|t| t.1).collect()));
        println!(
            "{what}: {} of {} (score >= 0.5) have a twin within 3 px; median offset east {east:+.3} m, north {north:+.3} m",
            twins.len(),
            found.len()
        );
        assert!(twins.len() * 10 >= found.len() * 9, "{what}: {} of {}", twins.len(), found.len());
        assert!(east.abs() < pixel / 4.0 && north.abs() < pixel / 4.0, "{what}: shifted by ({east}, {north}) m");
    }
    println!("detections: XYZ {}, COG {}", a.len(), b.len());
    // Every detection's centre is inside the area (the default clip).
    for d in &b {
        assert!(area.contains_point(d.2.0, d.2.1), "{d:?}");
    }
}

/// A tree table of `.cache/cog`: per tree, its centre in the original OSBS pixels, its lon/lat
/// (rasterio + pyproj) and its place in the variant's own grid.
fn trees(file: &str) -> Vec<[f64; 6]> {
    let text = std::fs::read_to_string(cog_path(file)).unwrap();
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: Vec<f64> = l.split('\t').map(|x| x.parse().unwrap()).collect();
            [v[0], v[1], v[2], v[3], v[4], v[5]]
        })
        .collect()
}

#[test]
fn labelled_trees_come_back_within_a_pixel() {
    let entry = engine().entry().clone();
    let area = aoi("osbs");
    // Zoom z at 29.69° N is 156543.03 cos(29.69°) / 2^z m per pixel: 0.032 m at zoom 22 (the
    // full resolution, 0.1 m, is nearest), 0.26 m at 19 (the first overview, 0.2 m), 0.52 m at
    // 18 (the second, 0.4 m).
    for (variant, table) in [
        ("deflate_pred.tif", "trees_utm.tsv"),
        ("webmerc.tif", "trees_webmerc.tsv"),
        ("lonlat.tif", "trees_lonlat.tsv"),
    ] {
        let path = cog_path(variant);
        let cog = block_on(CogFile::open(&path)).unwrap();
        let source = cog_source(&path);
        let levels = block_on(cog.image_levels(&source)).unwrap().unwrap();
        for (zoom, level) in [(22, 0u8), (19, 1), (18, 2)] {
            let options = DetectOptions::at_zoom(zoom);
            let run = AreaRun::new(&entry, &source, &area, &options, 2, Some(&levels)).unwrap();
            let extent = run.plan().extent;
            let Grid::Image(grid) = extent.grid else { panic!("{variant}: {:?}", extent.grid) };
            assert_eq!(grid.level, level, "{variant} at zoom {zoom}");
            // Overviews are the full size over 2^level, rounded: scaled per axis (as GDAL does).
            let sx = f64::from(levels[0].width) / f64::from(grid.width);
            let sy = f64::from(levels[0].height) / f64::from(grid.height);
            let mut worst_px = 0f64;
            for t in trees(table) {
                // The tree's centre in the run's raster: its place in the variant's full
                // resolution, scaled to the level, less the raster's origin.
                let (x, y) = (t[4] / sx - extent.x0 as f64, t[5] / sy - extent.y0 as f64);
                let [lon, lat] = extent.pixel_to_lonlat(x, y);
                let metres = ground_distance((lon, lat), (t[2], t[3]));
                let pixel_m = extent.grid.ground_resolution_at(x + extent.x0 as f64, y + extent.y0 as f64);
                worst_px = worst_px.max(metres / pixel_m);
                // And back: lon/lat → the raster's pixel.
                let [bx, by] = extent.lonlat_to_pixel(t[2], t[3]);
                assert!((bx - x).hypot(by - y) < 1.0, "{variant} L{level}: {t:?} -> ({bx}, {by}) not ({x}, {y})");
            }
            println!("{variant} level {level}: tree centres within {worst_px:.2e} px of pyproj");
            // Well within the pixel: the same affine and proj4 definitions as GDAL's.
            assert!(worst_px < 1e-3, "{variant} level {level}: {worst_px} px");
        }
    }
}

#[test]
fn osbs_runs_end_to_end_in_its_own_grid() {
    let engine = engine();
    let area = aoi("osbs");
    let path = cog_path("deflate_pred.tif");
    let cog = block_on(CogFile::open(&path)).unwrap();
    let result = run(&engine, &cog_source(&path), &cog, &area, 22);
    let image = &result.image;
    assert_eq!((image.crs.as_str(), image.level, image.tile_size), ("EPSG:32617", Some(0), 128), "{image:?}");
    // The area is most of the 400 x 400 image; its raster is the part the area covers.
    assert!(image.width > 300 && image.width <= 400 && image.height > 300 && image.height <= 400, "{image:?}");
    let [west, south, east, north] = image.bounds;
    assert!((-81.9902..-81.9896).contains(&west) && (-81.9899..-81.9894).contains(&east), "{:?}", image.bounds);
    assert!((29.6921..29.6925).contains(&south) && (29.6925..29.6929).contains(&north), "{:?}", image.bounds);
    // 4 x 4 tiles of 128 px; those the area does not come near are not read.
    assert!((9..=16).contains(&result.tiles.requested), "{:?}", result.tiles);
    assert_eq!(result.tiles.downloaded, result.tiles.requested);
    assert!(result.missing_tiles.is_empty());
    for d in detections(&result) {
        assert!(area.contains_point(d.2.0, d.2.1), "{d:?}");
    }
}

#[test]
fn an_area_off_the_image_or_a_broken_file_is_a_clear_error() {
    let entry = engine().entry().clone();
    let path = cog_path("deflate_pred.tif");
    let cog = block_on(CogFile::open(&path)).unwrap();
    let source = cog_source(&path);
    let levels = block_on(cog.image_levels(&source)).unwrap().unwrap();
    let marina = aoi("marina");
    let err = AreaRun::new(&entry, &source, &marina, &DetectOptions::at_zoom(19), 2, Some(&levels)).unwrap_err();
    assert_eq!(err.code().as_str(), "INVALID_POLYGON");
    assert!(err.to_string().contains("outside the image"), "{err}");
    // More tiles than `maxTiles` at the full resolution: the message names the highest zoom
    // whose level fits (zoom 19 runs on the first overview, 2 x 2 tiles of 128 px).
    let osbs = aoi("osbs");
    let few = DetectOptions { max_tiles: 4, ..DetectOptions::at_zoom(22) };
    let err = AreaRun::new(&entry, &source, &osbs, &few, 2, Some(&levels)).unwrap_err();
    assert_eq!(err.code().as_str(), "TOO_MANY_TILES");
    assert!(err.to_string().contains("at zoom 19 it fits"), "{err}");
    let fits = DetectOptions { max_tiles: 4, ..DetectOptions::at_zoom(19) };
    assert!(AreaRun::new(&entry, &source, &osbs, &fits, 2, Some(&levels)).is_ok());
    let err = block_on(CogFile::open(cog_path("bad_stripped.tif"))).unwrap_err();
    assert_eq!(err.code().as_str(), "INVALID_OPTIONS");
    assert!(err.to_string().contains("cog") && err.to_string().contains("strip"), "{err}");
}
