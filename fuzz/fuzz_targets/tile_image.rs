//! A tile's body as a server sends it: any bytes → `decode_image`, which decodes PNG, JPEG and
//! WebP in the browser worker and natively. It may refuse them, but never panics, and a decoded
//! tile is exactly its size in RGB or RGBA, within the size limits.
#![no_main]

use geodetect::imagery::decode::{MAX_PIXELS, MAX_SIDE, decode_image};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(tile)) = decode_image(data) {
        assert!(tile.width >= 1 && tile.height >= 1 && tile.width <= MAX_SIDE && tile.height <= MAX_SIDE);
        assert!(u64::from(tile.width) * u64::from(tile.height) <= MAX_PIXELS);
        assert_eq!(tile.pixels.len(), tile.width as usize * tile.height as usize * tile.layout.channels());
        // Transparent pixels are black.
        assert!(tile.rgba().chunks_exact(4).all(|p| p[3] != 0 || p == [0, 0, 0, 0]));
    }
});
