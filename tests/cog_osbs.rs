//! The OSBS image (EPSG:32617, 0.1 m, 400 × 400 RGB) as COGs in every compression, read
//! through the reader and compared with rasterio's decode, rasterio's affines and pyproj's
//! lon/lat of the labelled trees (`tests/data/make_cogs.py` writes them into `.cache/cog/`).
#![cfg(not(target_family = "wasm"))]
// Test helpers outside #[test] functions may panic too.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

#[path = "cog_common/mod.rs"]
mod common;

use common::*;
use geodetect::imagery::cog::georef::ground_distance;
use geodetect::imagery::cog::{CogError, Compression, RasterType, ReadOptions};
use geodetect::tiles::fetch::FetchAttemptError;

/// Differences between two decodes of the same pixels over every sample: (max, mean, the
/// share of samples more than 8 apart).
fn diff(ours: &[u8], theirs: &[u8]) -> (u8, f64, f64) {
    assert_eq!(ours.len(), theirs.len());
    let mut max = 0u8;
    let mut sum = 0u64;
    let mut far = 0usize;
    for (a, b) in ours.iter().zip(theirs) {
        let d = a.abs_diff(*b);
        max = max.max(d);
        sum += u64::from(d);
        far += usize::from(d > 8);
    }
    let n = ours.len().max(1) as f64;
    (max, sum as f64 / n, far as f64 / n)
}

/// rasterio's samples as RGBA the way the reader gives them: grey → R = G = B, no alpha → 255.
fn truth_rgba(truth: &[u8], samples: usize) -> Vec<u8> {
    truth
        .chunks_exact(samples)
        .flat_map(|p| match samples {
            1 => [p[0], p[0], p[0], 255],
            3 => [p[0], p[1], p[2], 255],
            _ => [p[0], p[1], p[2], p[3]],
        })
        .collect()
}

/// (a) Every level of every variant, read as one window, against rasterio.
#[test]
fn pixels_equal_rasterio_lossless_exactly_lossy_within_tolerance() {
    for v in variants() {
        let memory = Memory::file(&v.file);
        let cog = open(&memory).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        let sizes: Vec<(u32, u32)> = cog.levels().iter().map(|l| (l.width(), l.height())).collect();
        assert_eq!(sizes, v.levels, "{}: levels", v.name);
        for (level, &(w, h)) in v.levels.iter().enumerate() {
            let window =
                block_on(cog.read_window(level, 0, 0, w, h)).unwrap_or_else(|e| panic!("{} L{level}: {e}", v.name));
            let truth = truth_rgba(&truth_pixels(&v.name, level), v.samples);
            let (max, mean, far) = diff(&window.data, &truth);
            let format = cog.level(level).unwrap().format();
            println!(
                "{:15} L{level} {w}x{h} {:?} {:?}: max |diff| {max}, mean {mean:.4}, > 8 apart {:.3} %",
                v.name,
                format.compression,
                format.color,
                far * 100.0
            );
            if v.lossless {
                assert_eq!(max, 0, "{} L{level}: lossless must be exact", v.name);
            } else {
                // The same lossy bytes through different decoders (GDAL's libjpeg / libwebp,
                // zune-jpeg / image-webp here). JPEG in YCbCr with 2 x 2 chroma subsampling
                // differs most, where chroma changes: GDAL's chroma upsampling is not the
                // "fancy" (triangle) one zune-jpeg (and jpeg-decoder, tried) use: Pillow
                // (libjpeg-turbo, fancy) is within 3 of zune-jpeg on a tile where GDAL is 18 off. The limits
                // are the measured values with some margin.
                assert!(
                    max <= 32 && mean <= 1.5 && far <= 0.02,
                    "{} L{level}: max {max}, mean {mean}, far {far}",
                    v.name
                );
            }
        }
    }
}

/// (a) Tile by tile, through read_tile and through tile_range + decode_tile, with the edge
/// tiles cropped to the image.
#[test]
fn tiles_one_by_one_equal_the_window() {
    for name in ["deflate_pred", "jpeg", "webp_lossless", "rgba"] {
        let v = variant(name);
        let memory = Memory::file(&v.file);
        let cog = open(&memory).unwrap();
        let l = &cog.levels()[0];
        let whole = block_on(cog.read_window(0, 0, 0, l.width(), l.height())).unwrap();
        for ty in 0..l.tiles_down() {
            for tx in 0..l.tiles_across() {
                let tile = block_on(cog.read_tile(0, tx, ty)).unwrap().expect("every tile is present");
                let (x, y, w, h) = l.tile_rect(tx, ty);
                assert_eq!((tile.width, tile.height), (w, h), "{name} ({tx}, {ty})");
                assert_eq!(tile, whole.crop(x, y, w, h), "{name} ({tx}, {ty})");
                let (offset, length) = cog.tile_range(0, tx, ty).unwrap();
                let bytes = &memory.bytes[offset as usize..(offset + length) as usize];
                assert_eq!(cog.decode_tile(0, tx, ty, bytes).unwrap(), tile);
            }
        }
        assert_eq!((l.tiles_across(), l.tiles_down()), (4, 4));
        assert!(matches!(block_on(cog.read_tile(0, 4, 0)), Err(CogError::OutOfRange(_))));
        assert_eq!(cog.tile_range(0, 4, 0), None);
        assert_eq!(cog.tile_range(9, 0, 0), None);
    }
}

/// (a) A window that hangs over every edge: inside it is the image, outside transparent black.
#[test]
fn windows_outside_the_image_are_transparent() {
    let v = variant("lzw_pred");
    let cog = open(&Memory::file(&v.file)).unwrap();
    let whole = block_on(cog.read_window(0, 0, 0, 400, 400)).unwrap();
    let window = block_on(cog.read_window(0, -30, -20, 460, 450)).unwrap();
    for (x, y) in [(0, 0), (29, 19), (459, 449), (430, 20), (30, 420)] {
        assert_eq!(window.pixel(x, y), Some([0, 0, 0, 0]), "({x}, {y})");
    }
    for (x, y) in [(30, 20), (429, 419), (200, 300)] {
        assert_eq!(window.pixel(x, y), whole.pixel(x - 30, y - 20), "({x}, {y})");
    }
    let far = block_on(cog.read_window(0, 1000, 1000, 10, 10)).unwrap();
    assert!(far.data.iter().all(|&b| b == 0));
    let empty = block_on(cog.read_window(0, 5, 5, 0, 0)).unwrap();
    assert!(empty.data.is_empty());
    assert!(matches!(block_on(cog.read_window(0, 0, 0, 100_000, 100_000)), Err(CogError::OutOfRange(_))));
    assert!(matches!(block_on(cog.read_window(7, 0, 0, 1, 1)), Err(CogError::OutOfRange(_))));
}

/// (b) Tree centres → lon/lat against rasterio + pyproj, and back; the affine against
/// rasterio's; the EPSG code and PixelIsPoint.
#[test]
fn trees_land_where_pyproj_puts_them() {
    for v in variants() {
        let cog = open(&Memory::file(&v.file)).unwrap();
        let georef = cog.georef().unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(georef.keys().epsg, v.epsg, "{}", v.name);
        let expected_raster_type = if v.name == "point" { RasterType::PixelIsPoint } else { RasterType::PixelIsArea };
        assert_eq!(georef.keys().raster_type, expected_raster_type, "{}", v.name);
        for (level, _) in v.levels.iter().enumerate() {
            let ours = cog.level_affine(level).unwrap();
            let theirs = level_affine(&v.name, level);
            for (a, b) in [ours.a, ours.b, ours.c, ours.d, ours.e, ours.f].iter().zip(theirs) {
                assert!((a - b).abs() <= 1e-9 * b.abs().max(1e-3), "{} L{level}: {ours:?} vs {theirs:?}", v.name);
            }
        }
        let (mut worst_m, mut worst_px) = (0.0f64, 0.0f64);
        for t in trees(&v.trees) {
            let (lon, lat) = cog.pixel_to_lonlat(0, t.px, t.py).unwrap();
            let metres = ground_distance((lon, lat), (t.lon, t.lat));
            let (px, py) = cog.lonlat_to_pixel(0, t.lon, t.lat).unwrap();
            let pixels = (px - t.px).hypot(py - t.py);
            // Round trip through our own two directions.
            let (bx, by) = cog.lonlat_to_pixel(0, lon, lat).unwrap();
            assert!((bx - t.px).hypot(by - t.py) < 0.01, "{}: round trip", v.name);
            worst_m = worst_m.max(metres);
            worst_px = worst_px.max(pixels);
        }
        println!(
            "{:15} EPSG:{}: tree centres within {worst_m:.2e} m of pyproj, lon/lat → pixel within {worst_px:.2e} px",
            v.name, v.epsg
        );
        // The brief's bound is 1 pixel (0.1 m) and 0.01 px; half a pixel of PixelIsPoint is 5 cm,
        // so hold it to a millimetre.
        assert!(worst_m < 1e-3, "{}: {worst_m} m", v.name);
        assert!(worst_px < 0.01, "{}: {worst_px} px", v.name);
    }
}

/// (c) Overviews: ground resolution, the level chosen for a resolution, and tree centres at
/// overview pixels.
#[test]
fn overview_levels_and_their_georeferencing() {
    let v = variant("deflate_pred");
    let cog = open(&Memory::file(&v.file)).unwrap();
    let res: Vec<f64> = (0..3).map(|l| cog.ground_resolution(l).unwrap()).collect();
    println!("ground resolution per level: {res:?} m/px");
    // UTM grid metres are ground metres over the scale factor (0.99971 here, 1° from the
    // central meridian): 0.1 m of grid is 0.10003 m of ground.
    for (level, r) in res.iter().enumerate() {
        let nominal = 0.1 * f64::from(1u32 << level);
        assert!((r / nominal - 1.0).abs() < 1e-3, "L{level}: {r}");
    }
    for (asked, level) in
        [(0.05, 0), (0.1, 0), (0.1001, 0), (0.15, 0), (0.2, 1), (0.3, 1), (0.4, 2), (0.401, 2), (5.0, 2)]
    {
        assert_eq!(cog.level_for_resolution(asked).unwrap(), level, "{asked} m/px");
    }
    assert!(cog.level_for_resolution(0.0).is_err() && cog.level_for_resolution(f64::NAN).is_err());
    for (level, &level_res) in res.iter().enumerate().skip(1) {
        let scale = f64::from(1u32 << level);
        let mut worst = 0.0f64;
        for t in trees(&v.trees) {
            let (lon, lat) = cog.pixel_to_lonlat(level, t.cx / scale, t.cy / scale).unwrap();
            worst = worst.max(ground_distance((lon, lat), (t.lon, t.lat)));
            let (px, py) = cog.lonlat_to_pixel(level, t.lon, t.lat).unwrap();
            assert!((px - t.cx / scale).hypot(py - t.cy / scale) < 0.01);
        }
        println!("L{level}: tree centres within {worst:.2e} m (1 overview pixel = {level_res:.2} m)");
        assert!(worst < level_res, "L{level}: {worst} m");
        assert!(worst < 1e-3, "the overview affine is exact: {worst} m");
    }
    // Web Mercator: map metres are not ground metres (cos 29.7° = 0.869).
    let merc = open(&Memory::file("webmerc.tif")).unwrap();
    let r = merc.ground_resolution(0).unwrap();
    println!("webmerc: 0.11534 map m/px = {r:.5} ground m/px");
    assert!((r - 0.115341381084464 * 29.6926f64.to_radians().cos()).abs() < 2e-4, "{r}");
}

/// (d) Range requests: open, then one window.
#[test]
fn few_range_requests() {
    println!("variant          open  +window L0 (100,100 200x200)  +whole L0  +whole smallest level");
    for v in variants() {
        let memory = Memory::file(&v.file);
        let cog = open(&memory).unwrap();
        let opened = memory.count();
        assert_eq!(opened, cog.header_reads());
        block_on(cog.read_window(0, 100, 100, 200, 200)).unwrap();
        let window = memory.count() - opened;
        let before = memory.count();
        block_on(cog.read_window(0, 0, 0, cog.width(), cog.height())).unwrap();
        let whole = memory.count() - before;
        let before = memory.count();
        let last = cog.levels().len() - 1;
        let l = &cog.levels()[last];
        block_on(cog.read_window(last, 0, 0, l.width(), l.height())).unwrap();
        let smallest = memory.count() - before;
        println!("{:15} {opened:5} {window:27} {whole:10} {smallest:22}", v.name);
        if v.name == "jpeg_rgb_tiled" {
            // Not GDAL's COG layout: its IFD was rewritten at the end of the file. The first
            // read finds the pointer, the second the IFD and its values.
            assert_eq!(opened, 2, "{}", v.name);
        } else {
            assert_eq!(opened, 1, "{}: a GDAL COG's header is in its first 64 KiB", v.name);
        }
        // 3 x 3 tiles of 128 px, row after row in the file: at most one request per tile row.
        assert!(window <= 3, "{}: {window}", v.name);
        assert!(whole <= 4, "{}: {whole}", v.name);
    }
    // With no gap allowed, tiles of one row are still contiguous in a COG (GDAL writes a
    // 4-byte size before each tile: a gap of 4 bytes).
    let memory = Memory::file("deflate_pred.tif");
    let cog = open_with(&memory, ReadOptions { max_gap: 0, ..ReadOptions::default() }).unwrap();
    let before = memory.count();
    block_on(cog.read_window(0, 100, 100, 200, 200)).unwrap();
    println!("max_gap 0: window in {} requests", memory.count() - before);
    assert_eq!(memory.count() - before, 9, "one per tile");
}

/// (d) A header read in small pieces still opens to the same thing.
#[test]
fn a_small_first_read_grows_until_the_header_is_in() {
    let memory = Memory::file("deflate_pred.tif");
    let cog = open_with(&memory, ReadOptions { header_bytes: 64, ..ReadOptions::default() }).unwrap();
    println!("header in {} reads: {:?}", memory.count(), memory.reads.borrow());
    assert!(memory.count() > 1);
    let whole = block_on(cog.read_window(0, 0, 0, 400, 400)).unwrap();
    let reference = open(&Memory::file("deflate_pred.tif")).unwrap();
    assert_eq!(whole, block_on(reference.read_window(0, 0, 0, 400, 400)).unwrap());
}

#[test]
fn read_failures_keep_their_class_and_a_changed_file_is_noticed() {
    let memory = Memory::file("lzw.tif");
    for e in [FetchAttemptError::Retryable("network".into()), FetchAttemptError::Permanent("HTTP 404".into())] {
        memory.fail_next.borrow_mut().push(e.clone());
        let err = open(&memory).unwrap_err();
        assert_eq!(err, CogError::Fetch(e.clone()));
        assert_eq!(err.is_retryable(), matches!(e, FetchAttemptError::Retryable(_)));
    }
    let cog = open(&memory).unwrap();
    memory.fail_next.borrow_mut().push(FetchAttemptError::Throttled { reason: "429".into(), retry_after_ms: 5 });
    let err = block_on(cog.read_window(0, 0, 0, 400, 400)).unwrap_err();
    assert!(err.is_retryable() && matches!(err, CogError::Fetch(FetchAttemptError::Throttled { .. })));
    assert!(block_on(cog.read_window(0, 0, 0, 400, 400)).is_ok(), "the next try reads");

    // A body cut short.
    let cut = Memory { cut_read: Some(1), ..Memory::file("lzw.tif") };
    let cog = open(&cut).unwrap();
    let err = block_on(cog.read_tile(0, 3, 3)).unwrap_err();
    assert!(matches!(err, CogError::ShortRead { .. }) && err.is_retryable(), "{err}");

    // The file replaced after open.
    let changing = Memory { version: Some("v1".into()), change_after: Some(1), ..Memory::file("lzw.tif") };
    let cog = open(&changing).unwrap();
    assert_eq!(cog.version(), Some("v1"));
    let err = block_on(cog.read_tile(0, 3, 3)).unwrap_err();
    assert!(matches!(err, CogError::Changed { .. }) && !err.is_retryable(), "{err}");
}

#[test]
fn what_the_variants_are_made_of() {
    for (name, compression) in [
        ("deflate_pred", Compression::Deflate),
        ("lzw", Compression::Lzw),
        ("none", Compression::None),
        ("jpeg", Compression::Jpeg),
        ("jpeg_rgb_tiled", Compression::Jpeg),
        ("webp", Compression::WebP),
        ("bigtiff", Compression::Deflate),
    ] {
        let cog = open(&Memory::file(&format!("{name}.tif"))).unwrap();
        let f = cog.levels()[0].format();
        println!(
            "{name}: {:?} predictor {} {:?} samples {} alpha {:?} tables {:?} nodata {:?}",
            f.compression,
            f.horizontal_predictor,
            f.color,
            f.samples,
            f.alpha,
            f.jpeg_tables.as_ref().map(|t| t.len()),
            cog.nodata()
        );
        assert_eq!(f.compression, compression, "{name}");
    }
    let jpeg = open(&Memory::file("jpeg.tif")).unwrap();
    assert_eq!(jpeg.levels()[0].format().color, geodetect::imagery::cog::ColorModel::YCbCr);
    let rgb = open(&Memory::file("jpeg_rgb_tiled.tif")).unwrap();
    assert_eq!(rgb.levels()[0].format().color, geodetect::imagery::cog::ColorModel::Rgb);
    assert!(open(&Memory::file("deflate_pred.tif")).unwrap().levels()[0].format().horizontal_predictor);
    assert_eq!(open(&Memory::file("rgba.tif")).unwrap().levels()[0].format().alpha, Some(3));
}
