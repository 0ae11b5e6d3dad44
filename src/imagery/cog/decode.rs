//! One tile's bytes → RGBA pixels, a pure function of the [`TileFormat`]: decompression
//! (zlib Deflate with `flate2`, TIFF LZW with `weezl`, JPEG with `zune-jpeg`, WebP with
//! `image-webp`), the horizontal predictor, and the samples (RGB, RGB + alpha, grey) turned
//! into RGBA. Output never exceeds the tile's size, whatever the bytes claim.

use std::io::{Cursor, Read};

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use super::level::{ColorModel, Compression, TileFormat};

/// A tile as RGBA, `tile_width × tile_height` pixels, row after row (edge tiles include the
/// padding past the image, as stored).
pub fn decode_tile(format: &TileFormat, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let pixels = format.tile_width as usize * format.tile_height as usize;
    let (samples, color, alpha) = match format.compression {
        Compression::None | Compression::Deflate | Compression::Lzw => {
            let stored = pixels * usize::from(format.samples);
            let mut raw = match format.compression {
                Compression::Deflate => inflate(bytes, stored)?,
                Compression::Lzw => unlzw(bytes, stored)?,
                _ => bytes.get(..stored).map(<[u8]>::to_vec).ok_or_else(|| short(bytes.len(), stored))?,
            };
            if format.horizontal_predictor {
                undo_horizontal_predictor(&mut raw, format.tile_width as usize, usize::from(format.samples));
            }
            (raw, format.color, format.alpha.map(usize::from))
        }
        Compression::Jpeg => {
            let (rgb, channels) = jpeg(format, bytes)?;
            let color = if channels == 1 { ColorModel::Gray } else { ColorModel::Rgb };
            (rgb, color, None)
        }
        Compression::WebP => webp(format, bytes)?,
    };
    let channels = match color {
        ColorModel::Gray => 1,
        ColorModel::Rgb | ColorModel::YCbCr => 3,
    };
    let stride = match format.compression {
        Compression::Jpeg => channels,
        Compression::WebP => samples.len() / pixels.max(1),
        _ => usize::from(format.samples),
    };
    to_rgba(&samples, pixels, stride, channels, alpha)
}

fn short(got: usize, want: usize) -> String {
    format!("{got} bytes of samples, the tile needs {want}")
}

/// zlib-wrapped Deflate, at most `want` bytes out.
fn inflate(bytes: &[u8], want: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(want);
    flate2::read::ZlibDecoder::new(bytes)
        .take(want as u64)
        .read_to_end(&mut out)
        .map_err(|e| format!("Deflate: {e}"))?;
    if out.len() < want {
        return Err(format!("Deflate: {}", short(out.len(), want)));
    }
    Ok(out)
}

/// TIFF's LZW (MSB first, code size switching one code early), at most `want` bytes out.
fn unlzw(bytes: &[u8], want: usize) -> Result<Vec<u8>, String> {
    let mut decoder = weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
    let mut out = vec![0u8; want];
    let (mut read, mut written) = (0, 0);
    while written < want {
        let result = decoder.decode_bytes(&bytes[read..], &mut out[written..]);
        read += result.consumed_in;
        written += result.consumed_out;
        match result.status {
            Ok(weezl::LzwStatus::Ok) if result.consumed_in + result.consumed_out > 0 => {}
            Ok(_) => break,
            Err(e) => return Err(format!("LZW: {e}")),
        }
    }
    if written < want {
        return Err(format!("LZW: {}", short(written, want)));
    }
    Ok(out)
}

/// Predictor 2: each sample was stored as the difference from the same sample of the pixel
/// to its left, row by row.
fn undo_horizontal_predictor(raw: &mut [u8], width: usize, samples: usize) {
    let row = width * samples;
    if row == 0 {
        return;
    }
    for line in raw.chunks_mut(row) {
        for i in samples..line.len() {
            line[i] = line[i].wrapping_add(line[i - samples]);
        }
    }
}

/// A JPEG tile (the shared tables spliced in front), decoded to RGB (or grey): returns the
/// samples and their count per pixel.
fn jpeg(format: &TileFormat, bytes: &[u8]) -> Result<(Vec<u8>, usize), String> {
    if bytes.len() < 4 || bytes[..2] != [0xFF, 0xD8] {
        return Err("JPEG: the tile does not start with SOI".to_owned());
    }
    // Tables (SOI, DQT/DHT, EOI) + the tile (SOI, frame, scan, EOI) = one stream: the tables'
    // EOI and the tile's SOI go.
    // The tag comes from the file: anything shorter than SOI + EOI, or not starting with SOI,
    // is refused (found by the cog_tile fuzz target: a 1-byte JPEGTables trapped the worker).
    let stream = match &format.jpeg_tables {
        Some(tables) => {
            if tables.len() < 4 || tables[..2] != [0xFF, 0xD8] {
                return Err(format!(
                    "JPEG: JPEGTables ({} bytes) is not a JPEG table stream (SOI … EOI)",
                    tables.len()
                ));
            }
            let tables = tables.strip_suffix(&[0xFF, 0xD9]).unwrap_or(tables);
            let mut s = Vec::with_capacity(tables.len() + bytes.len());
            s.extend_from_slice(tables);
            s.extend_from_slice(&bytes[2..]);
            s
        }
        None => bytes.to_vec(),
    };
    let mut decoder = JpegDecoder::new(ZCursor::new(stream));
    decoder.decode_headers().map_err(|e| format!("JPEG: {e:?}"))?;
    let (width, height) = decoder.dimensions().ok_or("JPEG: no frame header")?;
    if (width, height) != (format.tile_width as usize, format.tile_height as usize) {
        return Err(format!(
            "JPEG: {width} x {height} pixels in a tile of {} x {}",
            format.tile_width, format.tile_height
        ));
    }
    let input = decoder.input_colorspace().ok_or("JPEG: no colour space")?;
    // The TIFF's PhotometricInterpretation says what the components are; libtiff writes no
    // JFIF or Adobe marker to say it inside the stream.
    let out = match (format.color, input) {
        (ColorModel::YCbCr, ColorSpace::YCbCr) => ColorSpace::RGB,
        (ColorModel::YCbCr, other) => {
            return Err(format!("JPEG: PhotometricInterpretation YCbCr, but the stream is {other:?}"));
        }
        // RGB stored as is: take the components without conversion.
        (ColorModel::Rgb, ColorSpace::RGB | ColorSpace::YCbCr) => input,
        (ColorModel::Gray, ColorSpace::Luma) => ColorSpace::Luma,
        (color, other) => return Err(format!("JPEG: a {other:?} stream in a {color:?} image")),
    };
    decoder.set_options(DecoderOptions::default().jpeg_set_out_colorspace(out));
    let channels = out.num_components();
    let size = width * height * channels;
    let mut pixels = vec![0u8; size];
    decoder.decode_into(&mut pixels).map_err(|e| format!("JPEG: {e:?}"))?;
    Ok((pixels, channels))
}

/// A WebP tile: RGB or RGBA samples, the colour model, and which sample is alpha.
fn webp(format: &TileFormat, bytes: &[u8]) -> Result<(Vec<u8>, ColorModel, Option<usize>), String> {
    let mut decoder = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(|e| format!("WebP: {e}"))?;
    let (width, height) = decoder.dimensions();
    if (width, height) != (format.tile_width, format.tile_height) {
        return Err(format!(
            "WebP: {width} x {height} pixels in a tile of {} x {}",
            format.tile_width, format.tile_height
        ));
    }
    let has_alpha = decoder.has_alpha();
    let size = decoder.output_buffer_size().ok_or("WebP: image too large")?;
    let mut pixels = vec![0u8; size];
    decoder.read_image(&mut pixels).map_err(|e| format!("WebP: {e}"))?;
    // GDAL writes the alpha band into the WebP's alpha; without an alpha band in the TIFF,
    // an alpha in the stream means nothing.
    let alpha = (has_alpha && format.alpha.is_some()).then_some(3);
    Ok((pixels, ColorModel::Rgb, alpha))
}

/// Samples (`stride` a pixel, the first `channels` the colour, `alpha` the index of alpha) →
/// RGBA.
fn to_rgba(
    samples: &[u8],
    pixels: usize,
    stride: usize,
    channels: usize,
    alpha: Option<usize>,
) -> Result<Vec<u8>, String> {
    if stride < channels || stride == 0 || samples.len() < pixels * stride {
        return Err(short(samples.len(), pixels * stride.max(channels)));
    }
    let mut out = Vec::with_capacity(pixels * 4);
    for px in samples.chunks_exact(stride).take(pixels) {
        let a = alpha.and_then(|i| px.get(i).copied()).unwrap_or(255);
        if channels == 1 {
            out.extend_from_slice(&[px[0], px[0], px[0], a]);
        } else {
            out.extend_from_slice(&[px[0], px[1], px[2], a]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;

    fn format(compression: Compression, samples: u16) -> TileFormat {
        TileFormat {
            tile_width: 2,
            tile_height: 2,
            compression,
            horizontal_predictor: false,
            color: ColorModel::Rgb,
            samples,
            alpha: None,
            jpeg_tables: None,
        }
    }

    #[test]
    fn predictor_is_per_row_and_per_sample() {
        let mut raw = vec![10, 20, 1, 2, 5, 6, 1, 1];
        undo_horizontal_predictor(&mut raw, 2, 2);
        assert_eq!(raw, vec![10, 20, 11, 22, 5, 6, 6, 7]);
    }

    #[test]
    fn uncompressed_rgb_and_alpha() {
        let bytes: Vec<u8> = (0..12).collect();
        let rgba = decode_tile(&format(Compression::None, 3), &bytes).unwrap();
        assert_eq!(&rgba[..8], &[0, 1, 2, 255, 3, 4, 5, 255]);
        let mut f = format(Compression::None, 4);
        f.alpha = Some(3);
        let bytes: Vec<u8> = (0..16).collect();
        assert_eq!(&decode_tile(&f, &bytes).unwrap()[..8], &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert!(decode_tile(&f, &bytes[..15]).unwrap_err().contains("15 bytes"));
    }

    #[test]
    fn jpeg_tables_that_are_not_a_table_stream_are_an_error() {
        let tile = [0xFF, 0xD8, 0xFF, 0xD9];
        for tables in [&[][..], &[0xD9][..], &[0xFF, 0xD9][..], &[0xFF, 0xD8, 0xFF][..], &[0, 0, 0xFF, 0xD9][..]] {
            let f = TileFormat { jpeg_tables: Some(Rc::from(tables)), ..format(Compression::Jpeg, 3) };
            let err = decode_tile(&f, &tile).unwrap_err();
            assert!(err.contains("JPEGTables"), "{tables:?}: {err}");
        }
    }

    #[test]
    fn garbage_is_an_error_in_every_codec() {
        for c in [Compression::Deflate, Compression::Lzw, Compression::Jpeg, Compression::WebP] {
            for bytes in [&[][..], &[0xFF, 0xD8, 0, 0, 1, 2, 3][..], &[0x78, 0x9C, 1, 2, 3][..]] {
                assert!(decode_tile(&format(c, 3), bytes).is_err(), "{c:?} {bytes:?}");
            }
        }
    }
}
