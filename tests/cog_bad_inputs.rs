//! (e) What the reader must refuse, with a reason and without panicking: not a TIFF, strips,
//! 16-bit samples, separate planes, a header cut short, a file cut before its tiles, and
//! (a deterministic fuzz) headers and tiles with bytes changed.
#![cfg(not(target_family = "wasm"))]
// Test helpers outside #[test] functions may panic too.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

#[path = "cog_common/mod.rs"]
mod common;

use common::*;
use geodetect::imagery::cog::{Cog, CogError};

fn reason(memory: &Memory) -> CogError {
    match open(memory) {
        Ok(cog) => panic!("opened: {cog:?}"),
        Err(e) => e,
    }
}

#[test]
fn not_a_tiff() {
    let csv = Memory::new(
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/.cache/pypi/files/OSBS_029.csv"))
            .unwrap_or_else(|_| b"a,b\n1,2\n".to_vec()),
    );
    for (what, memory) in [
        ("csv", csv),
        ("empty", Memory::new(Vec::new())),
        ("png", Memory::new(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec())),
        ("html", Memory::new(b"<html>not found</html>".repeat(50))),
        ("TIFF byte order, version 44", Memory::new(b"II\x2c\0\x08\0\0\0".to_vec())),
    ] {
        let e = reason(&memory);
        println!("{what}: {e}");
        assert!(matches!(e, CogError::NotTiff(_)), "{what}: {e:?}");
        assert!(!e.is_retryable());
    }
}

#[test]
fn strips_16_bit_and_separate_planes_are_refused_with_the_reason() {
    for (file, words) in [
        ("bad_stripped.tif", &["strips", "gdal_translate -of COG"][..]),
        ("bad_16bit.tif", &["16-bit", "8-bit"][..]),
        ("bad_planar.tif", &["PlanarConfiguration 2", "separate planes"][..]),
    ] {
        let e = reason(&Memory::file(file));
        println!("{file}: {e}");
        assert!(matches!(e, CogError::Unsupported(_)), "{file}: {e:?}");
        for w in words {
            assert!(e.to_string().contains(w), "{file}: {e}");
        }
    }
}

#[test]
fn a_truncated_header_or_file() {
    let e = reason(&Memory::file("bad_truncated.tif"));
    println!("bad_truncated.tif: {e}");
    assert_eq!(e, CogError::Truncated { end: 300 });
    // A BigTIFF header cut after 8 of its 16 bytes.
    assert_eq!(reason(&Memory::new(b"II\x2b\0\x08\0\0\0".to_vec())), CogError::Truncated { end: 8 });

    // Cut after the header, before most tiles: it opens, and the tiles past the end fail.
    let whole = Memory::file("deflate_pred.tif");
    let cut = Memory::new(whole.bytes[..20_000].to_vec());
    let cog = open(&cut).unwrap();
    let e = block_on(cog.read_window(0, 0, 0, 400, 400)).unwrap_err();
    println!("cut at 20000 bytes, reading level 0: {e}");
    assert!(matches!(e, CogError::ShortRead { .. }), "{e:?}");
}

/// Every byte of the header region of a COG changed (to 0, 0xFF, and two bit flips), and the
/// file cut at every length through its header: each opens or fails with an error, and what
/// opens reads its smallest level, a full-resolution tile and a lon/lat, without panicking.
#[test]
fn changed_header_bytes_never_panic() {
    let original = Memory::file("deflate_pred.tif");
    // deflate_pred.tif's IFDs and tag values end before byte 2304.
    let header_end = 2304.min(original.bytes.len());
    let (mut opened, mut refused, mut read_ok, mut read_err) = (0, 0, 0, 0);
    let mut exercise = |bytes: Vec<u8>| {
        let memory = Memory::new(bytes);
        match block_on(Cog::open(memory)) {
            Err(_) => refused += 1,
            Ok(cog) => {
                opened += 1;
                let last = cog.levels().len() - 1;
                let l = &cog.levels()[last];
                let (w, h) = (l.width().min(512), l.height().min(512));
                match block_on(cog.read_window(last, -1, -1, w, h)) {
                    Ok(_) => read_ok += 1,
                    Err(_) => read_err += 1,
                }
                let _ = block_on(cog.read_tile(0, 0, 0));
                let _ = cog.pixel_to_lonlat(0, 1.0, 1.0);
                let _ = cog.lonlat_to_pixel(last, -82.0, 29.7);
                let _ = cog.level_for_resolution(0.3);
            }
        }
    };
    for p in 0..header_end {
        let b = original.bytes[p];
        for v in [0x00, 0xFF, b ^ 0x01, b ^ 0x80] {
            if v == b {
                continue;
            }
            let mut bytes = original.bytes.to_vec();
            bytes[p] = v;
            exercise(bytes);
        }
    }
    for len in (0..header_end + 64).step_by(3) {
        exercise(original.bytes[..len].to_vec());
    }
    println!("changed headers: {opened} opened ({read_ok} read, {read_err} failed to read), {refused} refused");
    assert!(opened > 0 && refused > 0);
}

/// Tiles with bytes changed or cut, in every codec: decode_tile errs or returns a tile of the
/// right size, never panics.
#[test]
fn changed_tile_bytes_never_panic() {
    for file in [
        "deflate_pred.tif",
        "lzw_pred.tif",
        "jpeg.tif",
        "jpeg_rgb_tiled.tif",
        "webp.tif",
        "webp_lossless.tif",
        "none.tif",
    ] {
        let memory = Memory::file(file);
        let cog = open(&memory).unwrap();
        let (offset, length) = cog.tile_range(0, 1, 1).unwrap();
        let tile = memory.bytes[offset as usize..(offset + length) as usize].to_vec();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let (mut ok, mut err) = (0, 0);
        for i in 0..400 {
            let mut bytes = tile.clone();
            if i % 4 == 3 {
                bytes.truncate(next() % tile.len());
            } else {
                for _ in 0..1 + i % 5 {
                    let p = next() % bytes.len();
                    bytes[p] = next() as u8;
                }
            }
            match cog.decode_tile(0, 1, 1, &bytes) {
                Ok(t) => {
                    assert_eq!((t.width, t.height), (128, 128));
                    ok += 1;
                }
                Err(e) => {
                    assert!(matches!(e, CogError::Decode { level: 0, tx: 1, ty: 1, .. }), "{e:?}");
                    err += 1;
                }
            }
        }
        println!("{file}: changed tiles decoded {ok}, refused {err}");
    }
}
