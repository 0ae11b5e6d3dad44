//! [`Level`]: one resolution of the pyramid (the full-resolution image or an overview): its
//! size, its tile grid, where each tile's bytes are, and how they decode ([`TileFormat`]).
//! Built from an [`Ifd`], refusing with a clear reason what this reader does not read.

use std::rc::Rc;

use super::error::CogError;
use super::ifd::Ifd;

/// Largest tile side accepted (GDAL writes 256 or 512; the TIFF spec allows any multiple of 16).
pub const MAX_TILE_SIDE: u32 = 4096;
/// Most samples per pixel accepted (RGB + alpha is 4; multispectral imagery a few more).
pub const MAX_SAMPLES: u16 = 16;

/// How tiles are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Stored as is (`Compression` 1).
    None,
    /// TIFF LZW (5).
    Lzw,
    /// JPEG, "new style" (7), with the tables in `JPEGTables`.
    Jpeg,
    /// zlib Deflate (8, or the older code 32946).
    Deflate,
    /// WebP (50001).
    WebP,
}

impl Compression {
    fn from_tag(code: u16) -> Result<Self, CogError> {
        Ok(match code {
            1 => Self::None,
            5 => Self::Lzw,
            7 => Self::Jpeg,
            8 | 32946 => Self::Deflate,
            50001 => Self::WebP,
            other => {
                let name = match other {
                    2 => "CCITT RLE",
                    3 | 4 => "CCITT fax",
                    6 => "old-style JPEG",
                    32773 => "PackBits",
                    34887 => "LERC",
                    34925 => "LZMA",
                    50000 => "ZSTD",
                    50002 => "JPEG XL",
                    _ => "unknown",
                };
                return Err(CogError::Unsupported(format!(
                    "compression {other} ({name}); this reader reads none, Deflate, LZW, JPEG and WebP"
                )));
            }
        })
    }
}

/// What the decoded samples of a pixel mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorModel {
    /// Red, green, blue (`PhotometricInterpretation` 2).
    Rgb,
    /// Luma and chroma, JPEG only (6; the JPEG decoder turns it into RGB).
    YCbCr,
    /// Grey, 0 is black (1).
    Gray,
}

/// Everything needed to turn one tile's bytes into RGBA pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct TileFormat {
    /// The tile's width in pixels (every tile has it, edge tiles included).
    pub tile_width: u32,
    /// The tile's height in pixels.
    pub tile_height: u32,
    /// How the bytes are compressed.
    pub compression: Compression,
    /// Horizontal differencing (`Predictor` 2) to undo after Deflate or LZW.
    pub horizontal_predictor: bool,
    /// What the colour samples are.
    pub color: ColorModel,
    /// Samples per pixel as stored.
    pub samples: u16,
    /// Which sample is alpha, if any (`ExtraSamples` 1 or 2).
    pub alpha: Option<u16>,
    /// The shared JPEG tables (an abbreviated JPEG stream: SOI, tables, EOI).
    pub jpeg_tables: Option<Rc<[u8]>>,
}

/// One resolution of the image.
#[derive(Debug, Clone)]
pub struct Level {
    ifd_index: usize,
    width: u32,
    height: u32,
    format: TileFormat,
    tile_offsets: Vec<u64>,
    tile_byte_counts: Vec<u64>,
}

impl Level {
    /// Checks that `ifd` is an image this reader reads (tiled, 8-bit, RGB / RGBA / grey, or
    /// YCbCr in JPEG, samples contiguous, a supported compression) and takes its tile index.
    pub fn from_ifd(ifd: &Ifd) -> Result<Self, CogError> {
        let which = if ifd.index == 0 { "the image".to_owned() } else { format!("IFD {}", ifd.index) };
        let unsupported = |what: String| CogError::Unsupported(format!("{which}: {what}"));
        if ifd.width == 0 || ifd.height == 0 {
            return Err(CogError::NotTiff(format!("{which} is {} x {} pixels", ifd.width, ifd.height)));
        }
        let Some((tile_width, tile_height)) = ifd.tile_size else {
            return Err(unsupported(if ifd.has_strips {
                "it is stored in strips, not tiles; a Cloud-Optimized GeoTIFF is tiled \
                 (convert it with `gdal_translate -of COG`)"
                    .to_owned()
            } else {
                "it has neither tiles nor strips".to_owned()
            }));
        };
        if tile_width == 0 || tile_height == 0 || tile_width > MAX_TILE_SIDE || tile_height > MAX_TILE_SIDE {
            return Err(unsupported(format!(
                "tiles of {tile_width} x {tile_height} pixels (at most {MAX_TILE_SIDE} a side)"
            )));
        }
        if ifd.planar_configuration != 1 {
            return Err(unsupported(format!(
                "PlanarConfiguration {}: samples stored in separate planes; this reader needs them \
                 interleaved (PlanarConfiguration 1, GDAL's INTERLEAVE=PIXEL)",
                ifd.planar_configuration
            )));
        }
        let samples = ifd.samples_per_pixel;
        if samples == 0 || samples > MAX_SAMPLES {
            return Err(unsupported(format!("{samples} samples per pixel (1 to {MAX_SAMPLES})")));
        }
        if let Some(bits) = ifd.bits_per_sample.iter().find(|&&b| b != 8) {
            return Err(unsupported(format!("{bits}-bit samples; this reader reads 8-bit imagery only")));
        }
        if ifd.bits_per_sample.len() != 1 && ifd.bits_per_sample.len() != usize::from(samples) {
            return Err(CogError::NotTiff(format!(
                "{which}: {} BitsPerSample values for {samples} samples",
                ifd.bits_per_sample.len()
            )));
        }
        if let Some(format) = ifd.sample_format.iter().find(|&&f| f != 1) {
            return Err(unsupported(format!("SampleFormat {format}; this reader reads unsigned integers only")));
        }
        let compression = Compression::from_tag(ifd.compression).map_err(|e| match e {
            CogError::Unsupported(what) => unsupported(what),
            other => other,
        })?;
        let color = match (ifd.photometric, samples) {
            (Some(2), 3..) => ColorModel::Rgb,
            (Some(6), 3) if compression == Compression::Jpeg => ColorModel::YCbCr,
            (Some(6), _) => {
                return Err(unsupported("YCbCr other than in JPEG tiles".to_owned()));
            }
            (Some(1), 1..) => ColorModel::Gray,
            (photometric, samples) => {
                let name = match photometric {
                    None => "missing".to_owned(),
                    Some(0) => "0 (white is zero)".to_owned(),
                    Some(3) => "3 (palette)".to_owned(),
                    Some(5) => "5 (CMYK)".to_owned(),
                    Some(p) => p.to_string(),
                };
                return Err(unsupported(format!(
                    "PhotometricInterpretation {name} with {samples} samples; this reader reads RGB (or RGBA), \
                     YCbCr JPEG and greyscale"
                )));
            }
        };
        let color_samples: u16 = if color == ColorModel::Gray { 1 } else { 3 };
        // The first extra sample is alpha when ExtraSamples says so (1 associated, 2 unassociated).
        let alpha = match ifd.extra_samples.first() {
            Some(1 | 2) if samples > color_samples => Some(color_samples),
            _ => None,
        };
        let horizontal_predictor = match (ifd.predictor, compression) {
            (1, _) => false,
            (2, Compression::Deflate | Compression::Lzw) => true,
            // libtiff applies predictors only inside the codecs that have them.
            (2, _) => false,
            (p, _) => {
                return Err(unsupported(format!(
                    "Predictor {p}{}; this reader undoes horizontal differencing (2) only",
                    if p == 3 { " (floating point)" } else { "" }
                )));
            }
        };
        let across = ifd.width.div_ceil(tile_width);
        let down = ifd.height.div_ceil(tile_height);
        let tiles = u64::from(across) * u64::from(down);
        let offsets = ifd.tile_offsets.len() as u64;
        let counts = ifd.tile_byte_counts.len() as u64;
        if offsets != tiles || counts != tiles {
            return Err(CogError::NotTiff(format!(
                "{which}: {offsets} TileOffsets and {counts} TileByteCounts for a grid of {across} x {down} tiles"
            )));
        }
        let jpeg_tables = match (&ifd.jpeg_tables, compression) {
            (Some(tables), Compression::Jpeg) => {
                if tables.len() < 4 || tables[..2] != [0xFF, 0xD8] || tables[tables.len() - 2..] != [0xFF, 0xD9] {
                    return Err(CogError::NotTiff(format!(
                        "{which}: JPEGTables is not an abbreviated JPEG stream (SOI ... EOI)"
                    )));
                }
                Some(Rc::from(tables.as_slice()))
            }
            _ => None,
        };
        Ok(Level {
            ifd_index: ifd.index,
            width: ifd.width,
            height: ifd.height,
            format: TileFormat {
                tile_width,
                tile_height,
                compression,
                horizontal_predictor,
                color,
                samples,
                alpha,
                jpeg_tables,
            },
            tile_offsets: ifd.tile_offsets.clone(),
            tile_byte_counts: ifd.tile_byte_counts.clone(),
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Tile width in pixels.
    pub fn tile_width(&self) -> u32 {
        self.format.tile_width
    }

    /// Tile height in pixels.
    pub fn tile_height(&self) -> u32 {
        self.format.tile_height
    }

    /// Columns of tiles.
    pub fn tiles_across(&self) -> u32 {
        self.width.div_ceil(self.format.tile_width)
    }

    /// Rows of tiles.
    pub fn tiles_down(&self) -> u32 {
        self.height.div_ceil(self.format.tile_height)
    }

    /// How its tiles decode.
    pub fn format(&self) -> &TileFormat {
        &self.format
    }

    /// The compression of its tiles.
    pub fn compression(&self) -> Compression {
        self.format.compression
    }

    /// Where the level's IFD is in the file's chain (0 = first).
    pub fn ifd_index(&self) -> usize {
        self.ifd_index
    }

    /// The byte range `(offset, length)` of tile `(tx, ty)`; `None` outside the grid and for
    /// an absent tile (offset or length 0: GDAL's sparse tiles, no data there).
    pub fn tile_range(&self, tx: u32, ty: u32) -> Option<(u64, u64)> {
        if tx >= self.tiles_across() || ty >= self.tiles_down() {
            return None;
        }
        let i = usize::try_from(u64::from(ty) * u64::from(self.tiles_across()) + u64::from(tx)).ok()?;
        let offset = *self.tile_offsets.get(i)?;
        let length = *self.tile_byte_counts.get(i)?;
        (offset != 0 && length != 0).then_some((offset, length))
    }

    /// The pixels of tile `(tx, ty)` that lie inside the image: `(x, y, width, height)` in the
    /// level's pixels.
    pub fn tile_rect(&self, tx: u32, ty: u32) -> (u32, u32, u32, u32) {
        let x = tx.saturating_mul(self.format.tile_width).min(self.width);
        let y = ty.saturating_mul(self.format.tile_height).min(self.height);
        (x, y, self.format.tile_width.min(self.width - x), self.format.tile_height.min(self.height - y))
    }
}
