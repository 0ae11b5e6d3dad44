//! The IFD chain as the `tiff` crate reads it out of the bytes fetched so far: for each
//! image file directory, the tags this reader needs ([`Ifd`]), untouched. What they mean for
//! a COG is decided in `level.rs` (pixels) and `geokeys.rs` / `georef.rs` (georeferencing).
//!
//! Parsing is synchronous over a [`SparseBytes`]; when it needs a byte that has not been
//! fetched it stops with [`Parse::Need`], the caller fetches from there and parses again.

use std::collections::HashSet;
use std::io;

use tiff::TiffError;
use tiff::decoder::ifd::Value;
use tiff::decoder::{Decoder, IfdDecoder};
use tiff::tags::Tag;

use super::error::CogError;
use super::sparse::{SparseBytes, missing_in};

/// More IFDs than this is not an image pyramid (GDAL writes one per level and mask).
pub const MAX_IFDS: usize = 64;

/// `NewSubfileType` bit 0: a reduced-resolution version of another image (an overview).
pub const SUBFILE_REDUCED: u32 = 1;
/// `NewSubfileType` bit 2: a transparency mask.
pub const SUBFILE_MASK: u32 = 4;

/// GDAL's `GDAL_NODATA` tag (ASCII).
const TAG_GDAL_NODATA: u16 = 42113;

/// The tags of one IFD that this reader uses, as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ifd {
    /// Position in the chain (0 = first).
    pub index: usize,
    /// `NewSubfileType` (0 when absent).
    pub subfile_type: u32,
    /// `ImageWidth`.
    pub width: u32,
    /// `ImageLength`.
    pub height: u32,
    /// `TileWidth` and `TileLength`, when the image is tiled.
    pub tile_size: Option<(u32, u32)>,
    /// Whether the image has `StripOffsets` (it is in strips).
    pub has_strips: bool,
    /// `BitsPerSample`, one per sample or one for all (default 1).
    pub bits_per_sample: Vec<u16>,
    /// `SamplesPerPixel` (default 1).
    pub samples_per_pixel: u16,
    /// `SampleFormat` (default 1, unsigned integer).
    pub sample_format: Vec<u16>,
    /// `PhotometricInterpretation`, if present.
    pub photometric: Option<u16>,
    /// `Compression` (default 1, none).
    pub compression: u16,
    /// `Predictor` (default 1, none).
    pub predictor: u16,
    /// `PlanarConfiguration` (default 1, contiguous).
    pub planar_configuration: u16,
    /// `ExtraSamples` (what the samples after the colour ones are).
    pub extra_samples: Vec<u16>,
    /// `JPEGTables`: the quantisation and Huffman tables the JPEG tiles share.
    pub jpeg_tables: Option<Vec<u8>>,
    /// `TileOffsets`.
    pub tile_offsets: Vec<u64>,
    /// `TileByteCounts`.
    pub tile_byte_counts: Vec<u64>,
    /// The GeoTIFF tags (read for the first IFD only: overviews and masks share its georeferencing).
    pub geo: GeoTags,
    /// GDAL's `GDAL_NODATA`, if present (the first IFD only).
    pub nodata: Option<String>,
}

impl Ifd {
    /// An overview (reduced resolution) and not a mask.
    pub fn is_overview(&self) -> bool {
        self.subfile_type & SUBFILE_REDUCED != 0 && !self.is_mask()
    }

    /// A transparency mask.
    pub fn is_mask(&self) -> bool {
        self.subfile_type & SUBFILE_MASK != 0
    }
}

/// The GeoTIFF tags, as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoTags {
    /// `ModelPixelScaleTag` (33550): Sx, Sy, Sz.
    pub pixel_scale: Option<Vec<f64>>,
    /// `ModelTiepointTag` (33922): (I, J, K, X, Y, Z) per tie point.
    pub tiepoints: Option<Vec<f64>>,
    /// `ModelTransformationTag` (34264): a 4 × 4 matrix, row by row.
    pub transformation: Option<Vec<f64>>,
    /// `GeoKeyDirectoryTag` (34735).
    pub key_directory: Option<Vec<u16>>,
    /// `GeoDoubleParamsTag` (34736).
    pub double_params: Option<Vec<f64>>,
    /// `GeoAsciiParamsTag` (34737).
    pub ascii_params: Option<String>,
}

/// How a parse of the fetched bytes ended short of a result.
#[derive(Debug, Clone, PartialEq)]
pub enum Parse {
    /// It needs the bytes from `offset` on, which have not been fetched.
    Need(u64),
    /// The file is not something this reader can use; fetching more will not help.
    Invalid(CogError),
}

/// What a `tiff` crate error means here.
fn classify(e: TiffError, bytes: &SparseBytes) -> Parse {
    if let TiffError::IoError(io) = &e {
        if let Some(missing) = missing_in(io) {
            return Parse::Need(missing.offset);
        }
        if io.kind() == io::ErrorKind::UnexpectedEof {
            let end = bytes.end().unwrap_or(0);
            return Parse::Invalid(CogError::Truncated { end });
        }
    }
    match e {
        TiffError::UnsupportedError(u) => Parse::Invalid(CogError::Unsupported(u.to_string())),
        e => Parse::Invalid(CogError::NotTiff(e.to_string())),
    }
}

/// Parses the header and every IFD of the chain from `bytes`.
pub fn parse_chain(bytes: &SparseBytes) -> Result<Vec<Ifd>, Parse> {
    let fail = |e: TiffError| classify(e, bytes);
    let mut decoder = Decoder::new(bytes.cursor()).map_err(fail)?;
    let mut next = decoder.ifd_pointer();
    let mut seen = HashSet::new();
    let mut ifds = Vec::new();
    while let Some(pointer) = next {
        if !seen.insert(pointer.0) {
            return Err(Parse::Invalid(CogError::NotTiff(format!("the IFD chain loops back to offset {}", pointer.0))));
        }
        if ifds.len() == MAX_IFDS {
            return Err(Parse::Invalid(CogError::Unsupported(format!(
                "more than {MAX_IFDS} IFDs; a COG has one per level and mask"
            ))));
        }
        let directory = decoder.read_directory(pointer).map_err(fail)?;
        next = directory.next();
        let index = ifds.len();
        let mut tags = decoder.read_directory_tags(&directory);
        ifds.push(read_ifd(&mut tags, index).map_err(fail)?);
    }
    Ok(ifds)
}

fn read_ifd(tags: &mut IfdDecoder<'_>, index: usize) -> Result<Ifd, TiffError> {
    let subfile_type = scalar_u32(tags, Tag::NewSubfileType)?.unwrap_or(0);
    let mut ifd = Ifd {
        index,
        subfile_type,
        width: scalar_u32(tags, Tag::ImageWidth)?.unwrap_or(0),
        height: scalar_u32(tags, Tag::ImageLength)?.unwrap_or(0),
        has_strips: tags.find_entry(Tag::StripOffsets).is_some(),
        compression: scalar_u16(tags, Tag::Compression)?.unwrap_or(1),
        photometric: scalar_u16(tags, Tag::PhotometricInterpretation)?,
        samples_per_pixel: scalar_u16(tags, Tag::SamplesPerPixel)?.unwrap_or(1),
        bits_per_sample: tags.find_tag_unsigned_vec(Tag::BitsPerSample)?.unwrap_or_else(|| vec![1]),
        sample_format: tags.find_tag_unsigned_vec(Tag::SampleFormat)?.unwrap_or_else(|| vec![1]),
        predictor: scalar_u16(tags, Tag::Predictor)?.unwrap_or(1),
        planar_configuration: scalar_u16(tags, Tag::PlanarConfiguration)?.unwrap_or(1),
        extra_samples: tags.find_tag_unsigned_vec(Tag::ExtraSamples)?.unwrap_or_default(),
        ..Ifd::default()
    };
    let tile_width = scalar_u32(tags, Tag::TileWidth)?;
    let tile_length = scalar_u32(tags, Tag::TileLength)?;
    if let (Some(w), Some(h)) = (tile_width, tile_length) {
        ifd.tile_size = Some((w, h));
    }
    // A mask's tiles and tables are never read: skip their bytes.
    if !ifd.is_mask() {
        ifd.tile_offsets = tags.find_tag_unsigned_vec(Tag::TileOffsets)?.unwrap_or_default();
        ifd.tile_byte_counts = tags.find_tag_unsigned_vec(Tag::TileByteCounts)?.unwrap_or_default();
        if ifd.compression == 7 {
            ifd.jpeg_tables = tags.find_tag(Tag::JPEGTables)?.map(Value::into_u8_vec).transpose()?;
        }
    }
    if index == 0 {
        ifd.geo = GeoTags {
            pixel_scale: f64_vec(tags, Tag::ModelPixelScaleTag)?,
            tiepoints: f64_vec(tags, Tag::ModelTiepointTag)?,
            transformation: f64_vec(tags, Tag::ModelTransformationTag)?,
            key_directory: tags.find_tag_unsigned_vec(Tag::GeoKeyDirectoryTag)?,
            double_params: f64_vec(tags, Tag::GeoDoubleParamsTag)?,
            ascii_params: tags.find_tag(Tag::GeoAsciiParamsTag)?.map(Value::into_string).transpose()?,
        };
        ifd.nodata = tags.find_tag(Tag::Unknown(TAG_GDAL_NODATA))?.map(Value::into_string).transpose()?;
    }
    Ok(ifd)
}

fn scalar_u32(tags: &mut IfdDecoder<'_>, tag: Tag) -> Result<Option<u32>, TiffError> {
    tags.find_tag(tag)?.map(Value::into_u32).transpose()
}

fn scalar_u16(tags: &mut IfdDecoder<'_>, tag: Tag) -> Result<Option<u16>, TiffError> {
    tags.find_tag(tag)?.map(Value::into_u16).transpose()
}

fn f64_vec(tags: &mut IfdDecoder<'_>, tag: Tag) -> Result<Option<Vec<f64>>, TiffError> {
    tags.find_tag(tag)?.map(Value::into_f64_vec).transpose()
}
