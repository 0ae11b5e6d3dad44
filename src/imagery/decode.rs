//! One encoded map tile as a tile server sends it (PNG, JPEG or WebP, told apart by its first
//! bytes) → its RGB8 or RGBA8 pixels, in pure Rust: the browser worker (on a pool thread) and the native
//! host decode tiles with this same code, so both get the same pixels.

use std::borrow::Cow;
use std::io::Cursor;

use png::{BitDepth, ColorType, Transformations};
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

/// The widest and the tallest image decoded, in pixels.
pub const MAX_SIDE: u32 = 4096;
/// The most pixels an image decoded may have (16 Mi).
pub const MAX_PIXELS: u64 = 16 << 20;
/// What the png crate may allocate besides the image itself: row buffers, the inflate window
/// and the chunks it keeps.
const PNG_MEMORY: usize = 8 << 20;
/// What image-webp may allocate for a chunk it reads whole.
const WEBP_MEMORY: usize = 8 << 20;

/// A decoded tile: 8 bits a sample, row-major, as many samples a pixel as its [`Layout`] says.
/// An image without alpha stays RGB: the raster is RGB, so its rows go in as they are.
#[derive(Debug, Clone)]
pub struct DecodedTile {
    /// The samples, `width × height × layout.channels()` of them.
    pub pixels: Vec<u8>,
    /// RGB or RGBA.
    pub layout: Layout,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The samples of a pixel of a [`DecodedTile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Red, green, blue: opaque.
    Rgb,
    /// Red, green, blue and straight (not premultiplied) alpha.
    Rgba,
}

impl Layout {
    /// Samples a pixel.
    pub fn channels(self) -> usize {
        match self {
            Layout::Rgb => 3,
            Layout::Rgba => 4,
        }
    }
}

impl DecodedTile {
    /// An RGBA8 tile (a canvas's read-back, a COG's decoded tile).
    pub fn from_rgba(rgba: Vec<u8>, width: u32, height: u32) -> Self {
        DecodedTile { pixels: rgba, layout: Layout::Rgba, width, height }
    }

    /// The pixels as RGBA8 (RGB given alpha 255).
    pub fn rgba(&self) -> Cow<'_, [u8]> {
        match self.layout {
            Layout::Rgba => Cow::Borrowed(&self.pixels),
            Layout::Rgb => Cow::Owned(self.pixels.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect()),
        }
    }
}

/// The formats decoded here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// PNG: every colour type and bit depth, interlaced or not.
    Png,
    /// JPEG, baseline or progressive: grey, YCbCr, RGB, CMYK or YCCK.
    Jpeg,
    /// WebP, lossy or lossless, with or without alpha; a still image (not animated).
    WebP,
}

impl ImageFormat {
    /// The format whose signature `bytes` start with: PNG `89 50 4E 47 0D 0A 1A 0A`, JPEG
    /// `FF D8 FF`, WebP `RIFF` (4 bytes of size) `WEBP`.
    pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
        if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(ImageFormat::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
            Some(ImageFormat::WebP)
        } else {
            None
        }
    }

    /// The format's name, which starts every error about it.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "PNG",
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::WebP => "WebP",
        }
    }
}

/// Decode `bytes`; Ok(None) when the bytes are none of the formats above (the browser then
/// hands them to createImageBitmap), Err(reason) when they claim a format but do not decode.
///
/// Pixels whose alpha is 0 come out (0, 0, 0, 0), black like a tile with no imagery; the others
/// keep their straight (not premultiplied) colour and alpha. Images wider or taller than
/// [`MAX_SIDE`], or with more than [`MAX_PIXELS`], are refused before anything is allocated
/// for them. Colour profiles, gamma and Exif orientation are not applied.
pub fn decode_image(bytes: &[u8]) -> Result<Option<DecodedTile>, String> {
    let Some(format) = ImageFormat::sniff(bytes) else {
        return Ok(None);
    };
    let mut tile = match format {
        ImageFormat::Png => png(bytes)?,
        ImageFormat::Jpeg => jpeg(bytes)?,
        ImageFormat::WebP => webp(bytes)?,
    };
    if tile.layout == Layout::Rgba {
        clear_transparent(&mut tile.pixels);
    }
    Ok(Some(tile))
}

/// Refuses a size that is empty or larger than a tile may be.
fn check_size(format: ImageFormat, width: u32, height: u32) -> Result<(), String> {
    let name = format.name();
    if width == 0 || height == 0 {
        return Err(format!("{name}: {width} x {height} pixels, an empty image"));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(format!(
            "{name}: {width} x {height} pixels, larger than an image decoded here may be \
             (at most {MAX_SIDE} x {MAX_SIDE}, 16 Mi pixels)"
        ));
    }
    Ok(())
}

/// A PNG, through the png crate's transformations: palette → RGB, grey below 8 bits → 8 bits,
/// tRNS → alpha and 16 bits → 8 (the high byte), so the rows come out grey, grey + alpha, RGB
/// or RGBA, 8 bits a sample; grey is made RGB here, grey + alpha RGBA.
fn png(bytes: &[u8]) -> Result<DecodedTile, String> {
    check_palette(bytes)?;
    let failed = |e: png::DecodingError| format!("PNG: {e}");
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: PNG_MEMORY });
    decoder.set_transformations(Transformations::EXPAND | Transformations::STRIP_16);
    decoder.set_ignore_text_chunk(true);
    decoder.set_ignore_iccp_chunk(true);
    let header = decoder.read_header_info().map_err(failed)?;
    let (width, height) = (header.width, header.height);
    check_size(ImageFormat::Png, width, height)?;
    let mut reader = decoder.read_info().map_err(failed)?;
    let size = reader.output_buffer_size().ok_or("PNG: the image does not fit in memory")?;
    let mut samples = vec![0u8; size];
    // An animated PNG gives its default image.
    let frame = reader.next_frame(&mut samples).map_err(failed)?;
    if (frame.width, frame.height) != (width, height) || frame.bit_depth != BitDepth::Eight {
        return Err(format!(
            "PNG: a {} x {} frame of {:?} bits in a {width} x {height} image",
            frame.width, frame.height, frame.bit_depth
        ));
    }
    let pixels = width as usize * height as usize;
    samples.truncate(pixels * frame.color_type.samples());
    let (layout, pixels) = match frame.color_type {
        ColorType::Rgba => (Layout::Rgba, samples),
        ColorType::Rgb => (Layout::Rgb, samples),
        ColorType::GrayscaleAlpha => {
            let mut rgba = Vec::with_capacity(pixels * 4);
            rgba.extend(samples.chunks_exact(2).flat_map(|px| [px[0], px[0], px[0], px[1]]));
            (Layout::Rgba, rgba)
        }
        ColorType::Grayscale => {
            let mut rgb = Vec::with_capacity(pixels * 3);
            rgb.extend(samples.iter().flat_map(|&v| [v, v, v]));
            (Layout::Rgb, rgb)
        }
        ColorType::Indexed => return Err("PNG: palette indices left after expansion".to_owned()),
    };
    tile(ImageFormat::Png, layout, pixels, width, height)
}

/// Refuses a palette the png crate would trust and then panic on while expanding it (the
/// `tile_image` fuzz target found the first): a `PLTE` chunk that is not 1 to 256 RGB entries
/// (a whole number of 3 bytes), or, in a palette image, a `tRNS` chunk with more alpha values
/// than the palette has entries. Both break the PNG specification. Reads the chunk headers
/// up to the image data.
fn check_palette(bytes: &[u8]) -> Result<(), String> {
    let indexed = bytes.get(25) == Some(&3); // IHDR's colour type
    let (mut at, mut entries) = (8usize, None);
    while let Some(header) = bytes.get(at..at.saturating_add(8)) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        match &header[4..8] {
            b"PLTE" if len == 0 || !len.is_multiple_of(3) || len > 3 * 256 => {
                return Err(format!("PNG: a palette of {len} bytes, not 1 to 256 RGB entries"));
            }
            b"PLTE" => entries = Some(len / 3),
            b"tRNS" if indexed => {
                if let Some(n) = entries.filter(|&n| len > n) {
                    return Err(format!("PNG: {len} palette alpha values for a palette of {n} entries"));
                }
            }
            b"IDAT" | b"IEND" => break,
            _ => {}
        }
        // Length, type, data, CRC.
        at = at.saturating_add(12).saturating_add(len);
    }
    Ok(())
}

/// A JPEG, with zune-jpeg: YCbCr, grey, RGB (Adobe transform 0), CMYK and YCCK converted by it
/// to RGB.
fn jpeg(bytes: &[u8]) -> Result<DecodedTile, String> {
    let failed = |e: zune_jpeg::errors::DecodeErrors| format!("JPEG: {e}");
    // RGB is the one output every input above converts to; it is set before the headers are
    // read, when zune-jpeg picks its colour conversion (setting it later leaves the conversion
    // of the default). The decoder takes any size a JPEG can state (16 bits): check_size is the
    // limit, with its own message, before anything is allocated for the image.
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX));
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(failed)?;
    let (width, height) = decoder.dimensions().ok_or("JPEG: no frame header")?;
    let (width, height) = (
        u32::try_from(width).map_err(|_| "JPEG: width out of range")?,
        u32::try_from(height).map_err(|_| "JPEG: height out of range")?,
    );
    check_size(ImageFormat::Jpeg, width, height)?;
    match decoder.input_colorspace().ok_or("JPEG: no colour space")? {
        ColorSpace::YCbCr | ColorSpace::Luma | ColorSpace::RGB | ColorSpace::CMYK | ColorSpace::YCCK => {}
        other => return Err(format!("JPEG: {other:?} images are not decoded")),
    }
    let size = decoder.output_buffer_size().ok_or("JPEG: the image does not fit in memory")?;
    let mut rgb = vec![0u8; size];
    decoder.decode_into(&mut rgb).map_err(failed)?;
    tile(ImageFormat::Jpeg, Layout::Rgb, rgb, width, height)
}

/// A WebP still image, with image-webp: RGB or RGBA as stored.
fn webp(bytes: &[u8]) -> Result<DecodedTile, String> {
    let failed = |e: image_webp::DecodingError| format!("WebP: {e}");
    let mut decoder = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(failed)?;
    decoder.set_memory_limit(WEBP_MEMORY);
    let (width, height) = decoder.dimensions();
    check_size(ImageFormat::WebP, width, height)?;
    if decoder.is_animated() {
        return Err("WebP: an animated image, not a still tile".to_owned());
    }
    // A lossy bitstream states its own size, which image-webp allocates for before comparing
    // it with the canvas of an extended (VP8X) file.
    if let Some((w, h)) = lossy_size(bytes)
        && (w, h) != (width, height)
    {
        return Err(format!("WebP: a {w} x {h} lossy bitstream in a {width} x {height} image"));
    }
    let size = decoder.output_buffer_size().ok_or("WebP: the image does not fit in memory")?;
    let mut samples = vec![0u8; size];
    decoder.read_image(&mut samples).map_err(failed)?;
    let layout = if decoder.has_alpha() { Layout::Rgba } else { Layout::Rgb };
    tile(ImageFormat::WebP, layout, samples, width, height)
}

/// The size in the frame header of a WebP's first top-level lossy bitstream (`VP8 ` chunk), the
/// one image-webp decodes; None when there is none (or it is cut short: the decoder says so).
fn lossy_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut at = 12usize;
    while let Some(header) = bytes.get(at..at.checked_add(8)?) {
        let size = usize::try_from(u32::from_le_bytes([header[4], header[5], header[6], header[7]])).ok()?;
        let data = at + 8;
        if header.starts_with(b"VP8 ") {
            // 3 bytes of frame tag, 3 of start code, then width and height (14 bits each).
            let frame = bytes.get(data.checked_add(6)?..data.checked_add(10)?)?;
            let side = |lo: u8, hi: u8| u32::from(u16::from_le_bytes([lo, hi]) & 0x3FFF);
            return Some((side(frame[0], frame[1]), side(frame[2], frame[3])));
        }
        at = data.checked_add(size)?.checked_add(size & 1)?;
    }
    None
}

/// The tile, once its samples are checked to be `width × height` pixels of `layout`.
fn tile(format: ImageFormat, layout: Layout, pixels: Vec<u8>, width: u32, height: u32) -> Result<DecodedTile, String> {
    let want = width as usize * height as usize * layout.channels();
    if pixels.len() != want {
        return Err(format!("{}: {} bytes of pixels for {width} x {height} {layout:?}", format.name(), pixels.len()));
    }
    Ok(DecodedTile { pixels, layout, width, height })
}

/// Pixels with alpha 0 → (0, 0, 0, 0), whatever colour they stored.
fn clear_transparent(rgba: &mut [u8]) {
    for px in rgba.chunks_exact_mut(4) {
        if px[3] == 0 {
            px.fill(0);
        }
    }
}

// Natively only: they build images with the `image` crate and read the repository's tiles from disk.
#[cfg(test)]
#[cfg(not(target_family = "wasm"))]
mod tests {
    use std::io::Write;
    use std::path::Path;
    use std::time::{Duration, Instant};

    use super::*;

    const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

    fn decode(bytes: &[u8]) -> DecodedTile {
        decode_image(bytes).unwrap().unwrap()
    }

    /// `rgba` with the alpha rule applied: alpha 0 → (0, 0, 0, 0).
    fn cleared(mut rgba: Vec<u8>) -> Vec<u8> {
        clear_transparent(&mut rgba);
        rgba
    }

    /// A PNG from the png crate's encoder.
    fn encode_png(
        (width, height): (u32, u32),
        color: ColorType,
        depth: BitDepth,
        palette: Option<&[u8]>,
        trns: Option<&[u8]>,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(depth);
        if let Some(palette) = palette {
            encoder.set_palette(palette.to_vec());
        }
        if let Some(trns) = trns {
            encoder.set_trns(trns.to_vec());
        }
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
        out
    }

    /// One PNG chunk: length, type, data, CRC.
    fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }

    /// Signature and IHDR (8-bit samples, the given colour type and interlace method).
    fn png_header(width: u32, height: u32, color_type: u8, interlace: u8) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, color_type, 0, 0, interlace]);
        let mut out = PNG_SIGNATURE.to_vec();
        png_chunk(&mut out, b"IHDR", &ihdr);
        out
    }

    /// An interlaced (Adam7) RGBA8 PNG, written here (the png crate's encoder does not
    /// interlace): each pass's rows, filter type 0, in one IDAT.
    fn interlaced_rgba_png(width: usize, height: usize, rgba: &[u8]) -> Vec<u8> {
        // (first column, first row, column step, row step) of the seven passes.
        const PASSES: [(usize, usize, usize, usize); 7] =
            [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];
        let mut raw = Vec::new();
        for (x0, y0, dx, dy) in PASSES {
            if x0 >= width {
                continue; // an empty pass has no rows at all
            }
            for y in (y0..height).step_by(dy) {
                raw.push(0);
                for x in (x0..width).step_by(dx) {
                    raw.extend_from_slice(&rgba[(y * width + x) * 4..][..4]);
                }
            }
        }
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(&raw).unwrap();
        let mut out = png_header(width as u32, height as u32, 6, 1);
        png_chunk(&mut out, b"IDAT", &zlib.finish().unwrap());
        png_chunk(&mut out, b"IEND", &[]);
        out
    }

    /// A lossless WebP from image-webp's encoder.
    fn encode_webp(width: u32, height: u32, color: image_webp::ColorType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        image_webp::WebPEncoder::new(&mut out).encode(data, width, height, color).unwrap();
        out
    }

    /// A RIFF WEBP file of these chunks.
    fn riff(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut body = b"WEBP".to_vec();
        for (kind, data) in chunks {
            body.extend_from_slice(*kind);
            body.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
            body.extend_from_slice(data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// A VP8X chunk's data: flags, then the canvas size.
    fn vp8x(flags: u8, width: u32, height: u32) -> Vec<u8> {
        let mut data = vec![flags, 0, 0, 0];
        data.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
        data.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
        data
    }

    /// The data of the first chunk of a simple WebP (its only one).
    fn first_chunk(webp: &[u8]) -> &[u8] {
        let size = u32::from_le_bytes(webp[16..20].try_into().unwrap()) as usize;
        &webp[20..20 + size]
    }

    /// The colours of the four 8 × 8 quadrants of the 16 × 16 fixtures below (top left, top
    /// right, bottom left, bottom right), and their alpha in `WEBP_LOSSY_ALPHA`.
    const QUADRANTS: [[u8; 3]; 4] = [[200, 30, 40], [20, 180, 60], [30, 60, 210], [240, 230, 220]];
    const QUADRANT_ALPHA: [u8; 4] = [255, 128, 0, 255];

    fn quadrant(x: usize, y: usize) -> usize {
        usize::from(x >= 8) + 2 * usize::from(y >= 8)
    }

    /// The grey of `JPEG_GREY` at (x, y).
    fn grey_ramp(x: usize, y: usize) -> u8 {
        (x * 16 + y * 2).min(255) as u8
    }

    fn pixel(tile: &DecodedTile, x: usize, y: usize) -> [u8; 4] {
        tile.rgba()[(y * tile.width as usize + x) * 4..][..4].try_into().unwrap()
    }

    fn close(a: u8, b: u8, tolerance: u8) -> bool {
        a.abs_diff(b) <= tolerance
    }

    // The JPEG and lossy WebP fixtures were made once with libjpeg-turbo's cjpeg 2.1, Pillow 13
    // (CMYK) and libwebp's cwebp 1.2.4 from the pictures `QUADRANTS`/`QUADRANT_ALPHA`/`grey_ramp`
    // describe (neither zune-jpeg nor image-webp encodes them), and checked with djpeg/dwebp.

    /// The 16 × 16 quadrants of `QUADRANTS`, baseline, quality 95, no chroma subsampling.
    const JPEG_RGB: &[u8] = &[
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
        0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x02,
        0x02, 0x02, 0x02, 0x02, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x05, 0x04, 0x04, 0x03, 0x04, 0x06, 0x05, 0x06,
        0x06, 0x06, 0x05, 0x06, 0x06, 0x06, 0x07, 0x09, 0x08, 0x06, 0x07, 0x09, 0x07, 0x06, 0x06, 0x08, 0x0b, 0x08,
        0x09, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x06, 0x08, 0x0b, 0x0c, 0x0b, 0x0a, 0x0c, 0x09, 0x0a, 0x0a, 0x0a, 0xff,
        0xdb, 0x00, 0x43, 0x01, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x05, 0x03, 0x03, 0x05, 0x0a, 0x07, 0x06, 0x07,
        0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
        0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
        0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0xff, 0xc0, 0x00, 0x11,
        0x08, 0x00, 0x10, 0x00, 0x10, 0x03, 0x01, 0x11, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xc4, 0x00,
        0x15, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x08, 0x0a, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xc4, 0x00, 0x18, 0x01, 0x00, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x09, 0x06, 0x07, 0x0a, 0xff, 0xc4, 0x00, 0x14,
        0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00, 0x23, 0xa9, 0xf3, 0x50,
        0x24, 0x11, 0xb6, 0x65, 0xc3, 0x73, 0xc4, 0x15, 0x8a, 0x90, 0x2a, 0x31, 0x08, 0xff, 0xd9,
    ];
    /// The same, progressive.
    const JPEG_RGB_PROGRESSIVE: &[u8] = &[
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
        0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x02,
        0x02, 0x02, 0x02, 0x02, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x05, 0x04, 0x04, 0x03, 0x04, 0x06, 0x05, 0x06,
        0x06, 0x06, 0x05, 0x06, 0x06, 0x06, 0x07, 0x09, 0x08, 0x06, 0x07, 0x09, 0x07, 0x06, 0x06, 0x08, 0x0b, 0x08,
        0x09, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x06, 0x08, 0x0b, 0x0c, 0x0b, 0x0a, 0x0c, 0x09, 0x0a, 0x0a, 0x0a, 0xff,
        0xdb, 0x00, 0x43, 0x01, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x05, 0x03, 0x03, 0x05, 0x0a, 0x07, 0x06, 0x07,
        0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
        0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
        0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0xff, 0xc2, 0x00, 0x11,
        0x08, 0x00, 0x10, 0x00, 0x10, 0x03, 0x01, 0x11, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xc4, 0x00,
        0x15, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x07, 0x09, 0xff, 0xc4, 0x00, 0x18, 0x01, 0x00, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x08, 0x05, 0x06, 0x09, 0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02,
        0x10, 0x03, 0x10, 0x00, 0x00, 0x01, 0x23, 0xa7, 0xb5, 0x09, 0x11, 0xb9, 0x96, 0x36, 0xf1, 0x15, 0xaa, 0x42,
        0xa2, 0x42, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x05, 0x02, 0x1f, 0xff,
        0xc4, 0x00, 0x14, 0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x20, 0xff, 0xda, 0x00, 0x08, 0x01, 0x03, 0x01, 0x01, 0x3f, 0x01, 0x1f, 0xff, 0xc4, 0x00, 0x14,
        0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20,
        0xff, 0xda, 0x00, 0x08, 0x01, 0x02, 0x01, 0x01, 0x3f, 0x01, 0x1f, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0xff, 0xda, 0x00,
        0x08, 0x01, 0x01, 0x00, 0x06, 0x3f, 0x02, 0x1f, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01,
        0x00, 0x01, 0x3f, 0x21, 0x1f, 0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00,
        0x10, 0x00, 0x0f, 0xff, 0xc4, 0x00, 0x14, 0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0xff, 0xda, 0x00, 0x08, 0x01, 0x03, 0x01, 0x01, 0x3f, 0x10, 0x1f,
        0xff, 0xc4, 0x00, 0x14, 0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x20, 0xff, 0xda, 0x00, 0x08, 0x01, 0x02, 0x01, 0x01, 0x3f, 0x10, 0x1f, 0xff, 0xc4, 0x00,
        0x14, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x20, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3f, 0x10, 0x1f, 0xff, 0xd9,
    ];
    /// A 16 × 16 grey ramp (`grey_ramp`), quality 95.
    const JPEG_GREY: &[u8] = &[
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
        0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x02,
        0x02, 0x02, 0x02, 0x02, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x05, 0x04, 0x04, 0x03, 0x04, 0x06, 0x05, 0x06,
        0x06, 0x06, 0x05, 0x06, 0x06, 0x06, 0x07, 0x09, 0x08, 0x06, 0x07, 0x09, 0x07, 0x06, 0x06, 0x08, 0x0b, 0x08,
        0x09, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x06, 0x08, 0x0b, 0x0c, 0x0b, 0x0a, 0x0c, 0x09, 0x0a, 0x0a, 0x0a, 0xff,
        0xc0, 0x00, 0x0b, 0x08, 0x00, 0x10, 0x00, 0x10, 0x01, 0x01, 0x11, 0x00, 0xff, 0xc4, 0x00, 0x15, 0x00, 0x01,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x0a, 0xff,
        0xc4, 0x00, 0x23, 0x10, 0x00, 0x00, 0x03, 0x07, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x06, 0x09, 0x01, 0x03, 0x04, 0x23, 0x34, 0x41, 0x52, 0x02, 0x12, 0x13, 0x31, 0x32, 0x51,
        0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x3e, 0xd3, 0x6c, 0xb5, 0x41, 0x2f, 0x1b, 0x0a,
        0x00, 0x4d, 0xb2, 0xd5, 0x04, 0xbc, 0x6c, 0x03, 0xf4, 0xdb, 0x2d, 0x50, 0x4b, 0xc6, 0xc1, 0xfc, 0x4e, 0x72,
        0xff, 0x00, 0x0c, 0x2c, 0x23, 0xed, 0x9e, 0x1d, 0xb3, 0x57, 0x5f, 0x18, 0x3f, 0xff, 0xd9,
    ];
    /// The quadrants as CMYK (Pillow 13, Adobe APP14, inverted), quality 95.
    const JPEG_CMYK: &[u8] = &[
        0xff, 0xd8, 0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xff, 0xdb, 0x00, 0x43, 0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x02, 0x02, 0x02,
        0x02, 0x02, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x05, 0x04, 0x04, 0x03, 0x04, 0x06, 0x05, 0x06, 0x06, 0x06,
        0x05, 0x06, 0x06, 0x06, 0x07, 0x09, 0x08, 0x06, 0x07, 0x09, 0x07, 0x06, 0x06, 0x08, 0x0b, 0x08, 0x09, 0x0a,
        0x0a, 0x0a, 0x0a, 0x0a, 0x06, 0x08, 0x0b, 0x0c, 0x0b, 0x0a, 0x0c, 0x09, 0x0a, 0x0a, 0x0a, 0xff, 0xc0, 0x00,
        0x14, 0x08, 0x00, 0x10, 0x00, 0x10, 0x04, 0x43, 0x11, 0x00, 0x4d, 0x11, 0x00, 0x59, 0x11, 0x00, 0x4b, 0x11,
        0x00, 0xff, 0xc4, 0x00, 0x18, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x0a, 0x06, 0x07, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xda, 0x00, 0x0e, 0x04,
        0x43, 0x00, 0x4d, 0x00, 0x59, 0x00, 0x4b, 0x00, 0x00, 0x3f, 0x00, 0x64, 0x04, 0xee, 0x53, 0xe7, 0xf8, 0x92,
        0xf5, 0x2c, 0x3a, 0x80, 0x6a, 0x08, 0x7d, 0x4b, 0x01, 0x69, 0x0a, 0xa8, 0x6a, 0x03, 0xff, 0xd9,
    ];
    /// The quadrants, lossy (VP8), quality 90.
    const WEBP_LOSSY: &[u8] = &[
        0x52, 0x49, 0x46, 0x46, 0x46, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x20, 0x3a, 0x00,
        0x00, 0x00, 0xf0, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x10, 0x00, 0x10, 0x00, 0x00, 0xc0, 0x12, 0x25, 0xa0, 0x02,
        0x74, 0xba, 0x01, 0xf8, 0x00, 0x05, 0x21, 0x00, 0x00, 0xfe, 0xcd, 0xef, 0xff, 0xf5, 0xe7, 0xff, 0xfe, 0x1b,
        0x2b, 0xff, 0xfd, 0x35, 0x73, 0x7f, 0xe6, 0xc0, 0xfc, 0xca, 0xff, 0x6c, 0xfd, 0x2f, 0xff, 0xdd, 0x02, 0x7e,
        0xab, 0x1f, 0x74, 0xa0, 0x00, 0x00,
    ];
    /// The quadrants with `QUADRANT_ALPHA`, lossy with a lossless alpha (VP8X + ALPH + VP8).
    const WEBP_LOSSY_ALPHA: &[u8] = &[
        0x52, 0x49, 0x46, 0x46, 0x7a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x58, 0x0a, 0x00,
        0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x41, 0x4c, 0x50, 0x48, 0x1a, 0x00,
        0x00, 0x00, 0x01, 0x17, 0x20, 0x10, 0x48, 0x52, 0x9f, 0x7c, 0x8d, 0x88, 0x08, 0x07, 0x81, 0x00, 0x61, 0xd2,
        0xa4, 0x53, 0x07, 0x11, 0xfd, 0x0f, 0xad, 0x07, 0xfa, 0x00, 0x56, 0x50, 0x38, 0x20, 0x3a, 0x00, 0x00, 0x00,
        0xf0, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x10, 0x00, 0x10, 0x00, 0x00, 0xc0, 0x12, 0x25, 0xa0, 0x02, 0x74, 0xba,
        0x01, 0xf8, 0x00, 0x05, 0x21, 0x00, 0x00, 0xfe, 0xcd, 0xef, 0xff, 0xf5, 0xe7, 0xff, 0xfe, 0x1b, 0x2b, 0xff,
        0xfd, 0x35, 0x73, 0x7f, 0xe6, 0xc0, 0xfc, 0xca, 0xff, 0x6c, 0xfd, 0x2f, 0xff, 0xdd, 0x02, 0x7e, 0xab, 0x1f,
        0x74, 0xa0, 0x00, 0x00,
    ];

    #[test]
    fn sniff_reads_the_signature_only() {
        assert_eq!(ImageFormat::sniff(&PNG_SIGNATURE), Some(ImageFormat::Png));
        assert_eq!(ImageFormat::sniff(&[0xFF, 0xD8, 0xFF]), Some(ImageFormat::Jpeg));
        assert_eq!(ImageFormat::sniff(b"RIFF\0\0\0\0WEBP"), Some(ImageFormat::WebP));
        assert_eq!(ImageFormat::sniff(JPEG_RGB), Some(ImageFormat::Jpeg));
        assert_eq!(ImageFormat::sniff(WEBP_LOSSY), Some(ImageFormat::WebP));
        let not_images: [&[u8]; 9] = [
            b"",
            &[0xFF, 0xD8],
            &PNG_SIGNATURE[..3],
            &PNG_SIGNATURE[..7],
            b"RIF",
            b"RIFF\0\0\0\0WAVEfmt ",
            b"RIFF\0\0\0\0WEB",
            b"<!DOCTYPE html><html><body>Not found</body></html>",
            b"{\"error\": \"tile out of range\"}",
        ];
        for bytes in not_images {
            assert_eq!(ImageFormat::sniff(bytes), None, "{bytes:?}");
            assert!(decode_image(bytes).unwrap().is_none(), "{bytes:?}");
        }
    }

    #[test]
    fn a_claimed_format_that_does_not_decode_is_an_error_named_after_it() {
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(b"not a chunk at all");
        let mut jpeg = vec![0xFF, 0xD8, 0xFF];
        jpeg.extend_from_slice(b"garbage garbage garbage");
        for (bytes, name) in [(png, "PNG: "), (jpeg, "JPEG: "), (b"RIFF\x04\0\0\0WEBPVP8 ".to_vec(), "WebP: ")] {
            let err = decode_image(&bytes).unwrap_err();
            assert!(err.starts_with(name), "{err}");
        }
    }

    #[test]
    fn png_rgb_comes_out_opaque_and_exact() {
        let (w, h) = (7usize, 5usize);
        let rgb: Vec<u8> =
            (0..w * h).flat_map(|i| [(i * 37) as u8, (i * 51 + 3) as u8, (i * 13 + 200) as u8]).collect();
        let tile = decode(&encode_png((7, 5), ColorType::Rgb, BitDepth::Eight, None, None, &rgb));
        assert_eq!((tile.width, tile.height), (7, 5));
        assert_eq!((tile.layout, &tile.pixels), (Layout::Rgb, &rgb));
    }

    #[test]
    fn png_rgba_keeps_straight_alpha_and_clears_alpha_zero() {
        let rgba = [
            10, 20, 30, 255, // opaque
            200, 100, 50, 0, // transparent with a colour: must come out black and transparent
            200, 100, 50, 128, // half-transparent: keeps its colour
            1, 2, 3, 1, // barely visible: kept as is
            0, 0, 0, 0, // already (0, 0, 0, 0)
            255, 255, 255, 254,
        ];
        let tile = decode(&encode_png((3, 2), ColorType::Rgba, BitDepth::Eight, None, None, &rgba));
        #[rustfmt::skip]
        let want = [
            10, 20, 30, 255,
            0, 0, 0, 0,
            200, 100, 50, 128,
            1, 2, 3, 1,
            0, 0, 0, 0,
            255, 255, 255, 254,
        ];
        assert_eq!(*tile.rgba(), want);
    }

    #[test]
    fn png_palette_with_trns_and_two_bit_indices() {
        let palette = [10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 210, 220];
        // Alpha for the first three entries: the fourth is opaque.
        let trns = [255, 0, 128];
        // 5 × 2 two-bit indices: [0, 1, 2, 3, 0] and [3, 2, 1, 0, 1], each row padded to a byte.
        let data = [0b0001_1011, 0b0000_0000, 0b1110_0100, 0b0100_0000];
        let tile = decode(&encode_png((5, 2), ColorType::Indexed, BitDepth::Two, Some(&palette), Some(&trns), &data));
        let entry = |i: usize| match i {
            0 => [10, 20, 30, 255],
            1 => [0, 0, 0, 0], // alpha 0
            2 => [70, 80, 90, 128],
            _ => [200, 210, 220, 255],
        };
        let want: Vec<u8> = [0, 1, 2, 3, 0, 3, 2, 1, 0, 1].into_iter().flat_map(entry).collect();
        assert_eq!(*tile.rgba(), want);
    }

    /// A 2 × 1 palette PNG (indices 0 and 1) with the given `PLTE` and `tRNS` chunks, as
    /// they are.
    fn indexed_png(palette: &[u8], trns: Option<&[u8]>) -> Vec<u8> {
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(&[0, 0, 1]).unwrap(); // filter type 0, then the row
        let mut out = png_header(2, 1, 3, 0);
        png_chunk(&mut out, b"PLTE", palette);
        if let Some(trns) = trns {
            png_chunk(&mut out, b"tRNS", trns);
        }
        png_chunk(&mut out, b"IDAT", &zlib.finish().unwrap());
        png_chunk(&mut out, b"IEND", &[]);
        out
    }

    /// Palettes that break the specification in ways the png crate does not check, and would
    /// panic on (the first found by the `tile_image` fuzz target), are refused; the same
    /// image with a sound palette decodes.
    #[test]
    fn png_palettes_of_the_wrong_size_are_refused_not_a_panic() {
        let two = [10, 20, 30, 40, 50, 60];
        let tile = decode(&indexed_png(&two, Some(&[0, 128])));
        assert_eq!(*tile.rgba(), [0, 0, 0, 0, 40, 50, 60, 128]);
        let refused = |palette: &[u8], trns: Option<&[u8]>, why: &str| {
            let e = decode_image(&indexed_png(palette, trns)).unwrap_err();
            assert!(e.starts_with("PNG: ") && e.contains(why), "{e}");
        };
        refused(&two[..4], None, "a palette of 4 bytes");
        refused(&[7; 49], None, "a palette of 49 bytes");
        refused(&[], None, "a palette of 0 bytes");
        refused(&[7; 3 * 257], None, "a palette of 771 bytes");
        refused(&two, Some(&[1, 2, 3]), "3 palette alpha values for a palette of 2 entries");
    }

    #[test]
    fn png_sixteen_bit_grey_with_trns_keeps_the_high_byte() {
        let samples: [u16; 4] = [0x1234, 0xFF00, 0x00FF, 0xFFFF];
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_be_bytes()).collect();
        let tile = decode(&encode_png((4, 1), ColorType::Grayscale, BitDepth::Sixteen, None, None, &data));
        assert_eq!(tile.layout, Layout::Rgb);
        assert_eq!(*tile.rgba(), [0x12, 0x12, 0x12, 255, 0xFF, 0xFF, 0xFF, 255, 0, 0, 0, 255, 0xFF, 0xFF, 0xFF, 255]);
        // tRNS names 0xFF00 (the whole 16-bit value): that pixel only is transparent.
        let tile =
            decode(&encode_png((4, 1), ColorType::Grayscale, BitDepth::Sixteen, None, Some(&[0xFF, 0x00]), &data));
        assert_eq!(tile.layout, Layout::Rgba);
        assert_eq!(*tile.rgba(), [0x12, 0x12, 0x12, 255, 0, 0, 0, 0, 0, 0, 0, 255, 0xFF, 0xFF, 0xFF, 255]);
    }

    #[test]
    fn png_grey_alpha_sixteen_bit_rgba_and_one_bit_grey() {
        let tile =
            decode(&encode_png((2, 1), ColorType::GrayscaleAlpha, BitDepth::Eight, None, None, &[100, 0, 150, 200]));
        assert_eq!(*tile.rgba(), [0, 0, 0, 0, 150, 150, 150, 200]);
        let data = [0x12, 0x34, 0xAB, 0xCD, 0x56, 0x78, 0x80, 0x01];
        let tile = decode(&encode_png((1, 1), ColorType::Rgba, BitDepth::Sixteen, None, None, &data));
        assert_eq!(*tile.rgba(), [0x12, 0xAB, 0x56, 0x80]);
        // 9 one-bit pixels 1 0 1 1 0 0 1 0 | 1, padded to two bytes.
        let tile =
            decode(&encode_png((9, 1), ColorType::Grayscale, BitDepth::One, None, None, &[0b1011_0010, 0b1000_0000]));
        let want: Vec<u8> =
            [1u8, 0, 1, 1, 0, 0, 1, 0, 1].into_iter().flat_map(|b| [b * 255, b * 255, b * 255, 255]).collect();
        assert_eq!(*tile.rgba(), want);
    }

    #[test]
    fn png_interlaced_matches_the_same_image_not_interlaced() {
        // 13 × 11: odd sizes, so some Adam7 passes are narrow and pass 2 has a single column.
        let (w, h) = (13usize, 11usize);
        let rgba: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                [(i * 7) as u8, (i * 11 + 5) as u8, (255 - i) as u8, if i % 5 == 0 { 0 } else { (i * 3) as u8 }]
            })
            .collect();
        let interlaced = interlaced_rgba_png(w, h, &rgba);
        let tile = decode(&interlaced);
        assert_eq!((tile.width, tile.height), (13, 11));
        assert_eq!(*tile.rgba(), cleared(rgba.clone()));
        let plain = decode(&encode_png((13, 11), ColorType::Rgba, BitDepth::Eight, None, None, &rgba));
        assert_eq!(tile.rgba(), plain.rgba());
    }

    #[test]
    fn webp_lossless_round_trips_exactly() {
        let (w, h) = (8usize, 4usize);
        let mut rgba: Vec<u8> = (0..w * h)
            .flat_map(|i| [(i * 9) as u8, (i * 5 + 1) as u8, (i * 3 + 100) as u8, (i * 8 + 3) as u8])
            .collect();
        rgba[..8].copy_from_slice(&[50, 60, 70, 0, 90, 80, 70, 128]); // alpha 0 with a colour; half
        let tile = decode(&encode_webp(8, 4, image_webp::ColorType::Rgba8, &rgba));
        assert_eq!((tile.width, tile.height, tile.layout), (8, 4, Layout::Rgba));
        assert_eq!(&tile.rgba()[..8], &[0, 0, 0, 0, 90, 80, 70, 128]);
        assert_eq!(*tile.rgba(), cleared(rgba.clone()));

        let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        let tile = decode(&encode_webp(8, 4, image_webp::ColorType::Rgb8, &rgb));
        assert_eq!((tile.layout, &tile.pixels), (Layout::Rgb, &rgb));
    }

    #[test]
    fn webp_lossy_with_and_without_alpha() {
        for (bytes, with_alpha) in [(WEBP_LOSSY, false), (WEBP_LOSSY_ALPHA, true)] {
            let tile = decode(bytes);
            assert_eq!((tile.width, tile.height), (16, 16));
            assert_eq!(tile.layout, if with_alpha { Layout::Rgba } else { Layout::Rgb });
            for y in 0..16 {
                for x in 0..16 {
                    let q = quadrant(x, y);
                    let alpha = if with_alpha { QUADRANT_ALPHA[q] } else { 255 };
                    let px = pixel(&tile, x, y);
                    // The alpha plane is lossless: exact everywhere.
                    assert_eq!(px[3], alpha, "({x}, {y})");
                    if alpha == 0 {
                        assert_eq!(px, [0, 0, 0, 0], "({x}, {y})");
                    } else if (2..6).contains(&(x % 8)) && (2..6).contains(&(y % 8)) {
                        // Inside a quadrant (away from its chroma-blurred edges): its colour.
                        let want = QUADRANTS[q];
                        assert!((0..3).all(|c| close(px[c], want[c], 8)), "({x}, {y}): {px:?} vs {want:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn jpeg_colour_baseline_progressive_and_cmyk() {
        // CMYK (Adobe) comes out RGB like the others.
        for bytes in [JPEG_RGB, JPEG_RGB_PROGRESSIVE, JPEG_CMYK] {
            let tile = decode(bytes);
            assert_eq!((tile.width, tile.height, tile.layout), (16, 16, Layout::Rgb));
            // Each quadrant is one flat 8 × 8 block, no chroma subsampling: every pixel has
            // its quadrant's colour, to the rounding of YCbCr.
            for y in 0..16 {
                for x in 0..16 {
                    let (px, want) = (pixel(&tile, x, y), QUADRANTS[quadrant(x, y)]);
                    assert!((0..3).all(|c| close(px[c], want[c], 3)) && px[3] == 255, "({x}, {y}): {px:?} vs {want:?}");
                }
            }
        }
    }

    #[test]
    fn jpeg_grey_comes_out_grey() {
        let tile = decode(JPEG_GREY);
        assert_eq!((tile.width, tile.height, tile.layout), (16, 16, Layout::Rgb));
        for y in 0..16 {
            for x in 0..16 {
                let px = pixel(&tile, x, y);
                assert!(px[0] == px[1] && px[1] == px[2] && px[3] == 255, "({x}, {y}): {px:?}");
                assert!(close(px[0], grey_ramp(x, y), 4), "({x}, {y}): {} vs {}", px[0], grey_ramp(x, y));
            }
        }
    }

    #[test]
    fn sizes_past_the_limit_are_refused_from_the_header() {
        let refused = |bytes: &[u8], size: &str, name: &str| {
            let started = Instant::now();
            let err = decode_image(bytes).unwrap_err();
            assert!(err.starts_with(name) && err.contains(size) && err.contains("4096"), "{err}");
            // Refused before allocating: instant (decoding 60000² pixels would take seconds).
            assert!(started.elapsed() < Duration::from_millis(100), "{err}");
        };
        // PNG: IHDR alone (with its CRC), no image data.
        let mut png = png_header(60_000, 60_000, 6, 0);
        png_chunk(&mut png, b"IEND", &[]);
        refused(&png, "60000 x 60000", "PNG: ");
        refused(&png_header(4097, 1, 2, 0), "4097 x 1", "PNG: ");
        // JPEG: the frame header's height and width patched.
        let mut jpeg = JPEG_RGB.to_vec();
        let sof = jpeg.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
        refused(&jpeg, "60000 x 60000", "JPEG: ");
        // WebP: an extended file's canvas (24 bits a side) around a small lossless image.
        let lossless = encode_webp(2, 2, image_webp::ColorType::Rgb8, &[0; 12]);
        let webp = riff(&[(b"VP8X", &vp8x(0, 60_000, 60_000)), (b"VP8L", first_chunk(&lossless))]);
        refused(&webp, "60000 x 60000", "WebP: ");
        // A simple lossy file stating 16383 × 16383 (its largest).
        let mut webp = WEBP_LOSSY.to_vec();
        webp[26..30].copy_from_slice(&[0xFF, 0x3F, 0xFF, 0x3F]);
        refused(&webp, "16383 x 16383", "WebP: ");
    }

    #[test]
    fn webp_lossy_bitstream_larger_than_its_canvas_is_refused_before_decoding() {
        // A 16 × 16 canvas whose VP8 frame header says 16000 × 16000: image-webp would allocate
        // for that frame before comparing it with the canvas.
        let mut webp = WEBP_LOSSY_ALPHA.to_vec();
        let vp8 = webp.windows(4).position(|c| c == b"VP8 ").unwrap();
        webp[vp8 + 14..vp8 + 18].copy_from_slice(&[0x80, 0x3E, 0x80, 0x3E]);
        let err = decode_image(&webp).unwrap_err();
        assert!(err.contains("16000 x 16000") && err.contains("16 x 16"), "{err}");
    }

    #[test]
    fn animated_webp_is_refused() {
        let lossless = encode_webp(2, 2, image_webp::ColorType::Rgb8, &[0; 12]);
        let vp8l = first_chunk(&lossless);
        // ANMF: x, y, width - 1, height - 1, duration (3 bytes each), flags, then the frame.
        let mut anmf = vec![0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 100, 0, 0, 0];
        anmf.extend_from_slice(b"VP8L");
        anmf.extend_from_slice(&u32::try_from(vp8l.len()).unwrap().to_le_bytes());
        anmf.extend_from_slice(vp8l);
        if vp8l.len() % 2 == 1 {
            anmf.push(0);
        }
        let webp = riff(&[(b"VP8X", &vp8x(0x02, 2, 2)), (b"ANIM", &[0, 0, 0, 0, 0, 0]), (b"ANMF", &anmf)]);
        let err = decode_image(&webp).unwrap_err();
        assert!(err.starts_with("WebP: ") && err.contains("animated"), "{err}");
    }

    /// Valid files of every kind decoded here.
    fn samples() -> Vec<(&'static str, Vec<u8>)> {
        let rgba: Vec<u8> = (0..24 * 24 * 4).map(|i| (i * 7 % 251) as u8).collect();
        vec![
            ("png rgba", encode_png((24, 24), ColorType::Rgba, BitDepth::Eight, None, None, &rgba)),
            ("png interlaced", interlaced_rgba_png(24, 24, &rgba)),
            (
                "png palette",
                encode_png((5, 2), ColorType::Indexed, BitDepth::Two, Some(&[1; 12]), Some(&[0, 9]), &[27, 0, 228, 64]),
            ),
            ("webp lossless", encode_webp(24, 24, image_webp::ColorType::Rgba8, &rgba)),
            ("webp lossy", WEBP_LOSSY.to_vec()),
            ("webp lossy alpha", WEBP_LOSSY_ALPHA.to_vec()),
            ("jpeg", JPEG_RGB.to_vec()),
            ("jpeg progressive", JPEG_RGB_PROGRESSIVE.to_vec()),
            ("jpeg grey", JPEG_GREY.to_vec()),
            ("jpeg cmyk", JPEG_CMYK.to_vec()),
        ]
    }

    #[test]
    fn every_truncation_is_an_answer_not_a_panic() {
        let started = Instant::now();
        for (name, bytes) in samples() {
            assert!(decode_image(&bytes).unwrap().is_some(), "{name}");
            for len in 0..bytes.len() {
                let cut = &bytes[..len];
                match decode_image(cut) {
                    Ok(None) => assert_eq!(ImageFormat::sniff(cut), None, "{name} cut at {len}"),
                    Ok(Some(tile)) => assert_eq!(
                        tile.pixels.len(),
                        tile.width as usize * tile.height as usize * tile.layout.channels()
                    ),
                    Err(e) => {
                        assert!(e.starts_with(ImageFormat::sniff(cut).unwrap().name()), "{name} cut at {len}: {e}")
                    }
                }
            }
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn every_corrupted_byte_is_an_answer_not_a_panic() {
        for (name, bytes) in samples() {
            for at in 0..bytes.len() {
                for value in [0x00, 0xFF, bytes[at] ^ 0x01, bytes[at] ^ 0x80] {
                    let mut bad = bytes.clone();
                    bad[at] = value;
                    if let Ok(Some(tile)) = decode_image(&bad) {
                        assert_eq!(
                            tile.pixels.len(),
                            tile.width as usize * tile.height as usize * tile.layout.channels(),
                            "{name} {at}"
                        );
                    }
                }
            }
        }
    }

    /// The repository's real map tiles (www/tiles/marina/19, made by tests/data/make_tiles.py),
    /// when they are there: the same pixels as the `image` crate's decoder.
    #[test]
    fn marina_tiles_match_the_image_crate() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/tiles/marina/19");
        let Ok(columns) = std::fs::read_dir(&root) else {
            eprintln!("skipped: no {}", root.display());
            return;
        };
        let mut paths: Vec<_> = columns
            .flatten()
            .filter_map(|column| std::fs::read_dir(column.path()).ok())
            .flat_map(|tiles| tiles.flatten().map(|tile| tile.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "png"))
            .collect();
        paths.sort();
        assert!(!paths.is_empty(), "no tiles under {}", root.display());
        let tiles: Vec<Vec<u8>> = paths.iter().map(|path| std::fs::read(path).unwrap()).collect();
        for (path, bytes) in paths.iter().zip(&tiles) {
            let tile = decode(bytes);
            let want = image::load_from_memory(bytes).unwrap().to_rgba8();
            assert_eq!((tile.width, tile.height), want.dimensions(), "{}", path.display());
            assert!(*tile.rgba() == cleared(want.into_raw()), "{}: pixels differ", path.display());
            // Cut short anywhere (80 places), a real tile still gives an answer, not a panic.
            for len in (0..bytes.len()).step_by(bytes.len() / 80 + 1) {
                let _ = decode_image(&bytes[..len]);
            }
        }
        // Decoding times, the best of 3 rounds over all the tiles (other tests run alongside).
        let (mut ours, mut theirs) = (Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            let started = Instant::now();
            tiles.iter().for_each(|bytes| drop(decode(bytes)));
            ours = ours.min(started.elapsed());
            let started = Instant::now();
            tiles.iter().for_each(|bytes| drop(image::load_from_memory(bytes).unwrap().to_rgba8()));
            theirs = theirs.min(started.elapsed());
        }
        let per_tile = |d: Duration| d.as_secs_f64() * 1000.0 / paths.len() as f64;
        eprintln!(
            "{} marina tiles: {:.3} ms a tile with decode_image, {:.3} ms with image::load_from_memory",
            paths.len(),
            per_tile(ours),
            per_tile(theirs)
        );
    }
}
