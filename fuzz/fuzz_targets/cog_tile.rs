//! Tile decoding: any bytes as one COG tile of any format the reader accepts (Deflate, LZW,
//! JPEG with or without JPEGTables, WebP, uncompressed; RGB, RGBA, YCbCr JPEG, grey; with the
//! horizontal predictor) → `decode_tile`. A decoded tile is exactly its size in RGBA, whatever
//! the bytes claim. The formats are built under the rules `Level::from_ifd` enforces on a
//! file's tags (so a format is one a real file could have), with sides up to 256 px.
#![no_main]

use std::rc::Rc;

use geodetect::imagery::cog::decode::decode_tile;
use geodetect::imagery::cog::level::MAX_SAMPLES;
use geodetect::imagery::cog::{ColorModel, Compression, TileFormat};
use libfuzzer_sys::fuzz_target;

/// The input: six bytes of format (width - 1, height - 1, compression, colour, extra samples,
/// flags: 1 alpha, 2 predictor, 4 JPEG tables follow as a u16 LE length and the bytes), then
/// the tile's stored bytes. `make_seeds.py` writes real tiles in this form.
fn split(data: &[u8]) -> Option<(TileFormat, &[u8])> {
    let (&[width, height, compression, color, extra, flags], rest) = data.split_first_chunk::<6>()?;
    let compression = [Compression::None, Compression::Lzw, Compression::Jpeg, Compression::Deflate, Compression::WebP]
        [usize::from(compression) % 5];
    let color = match color % 3 {
        0 => ColorModel::Rgb,
        1 if compression == Compression::Jpeg => ColorModel::YCbCr,
        1 => ColorModel::Rgb,
        _ => ColorModel::Gray,
    };
    let color_samples: u16 = if color == ColorModel::Gray { 1 } else { 3 };
    let samples = if color == ColorModel::YCbCr { 3 } else { (color_samples + u16::from(extra % 4)).min(MAX_SAMPLES) };
    let (tables, bytes) = if flags & 4 != 0 {
        let (len, rest) = rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
        (Some(&rest[..len]), &rest[len..])
    } else {
        (None, rest)
    };
    let format = TileFormat {
        tile_width: u32::from(width) + 1,
        tile_height: u32::from(height) + 1,
        compression,
        horizontal_predictor: flags & 2 != 0 && matches!(compression, Compression::Deflate | Compression::Lzw),
        color,
        samples,
        alpha: (flags & 1 != 0 && samples > color_samples).then_some(color_samples),
        jpeg_tables: tables.filter(|_| compression == Compression::Jpeg).map(Rc::from),
    };
    Some((format, bytes))
}

fuzz_target!(|data: &[u8]| {
    let Some((format, bytes)) = split(data) else { return };
    if let Ok(rgba) = decode_tile(&format, bytes) {
        let want = format.tile_width as usize * format.tile_height as usize * 4;
        assert_eq!(rgba.len(), want, "{format:?}");
    }
});
