//! A Cloud-Optimized GeoTIFF read over byte ranges (no tile server): its levels (the full
//! resolution and its overviews), tiles, windows and georeferencing.
//!
//! [`Cog::open`] reads the header with as few range requests as the file allows (one for
//! GDAL's COGs, whose IFDs all come first), finds the full-resolution image, its overviews and
//! the georeferencing; [`Cog::read_tile`] and [`Cog::read_window`] fetch tiles (nearby ones in
//! one request), decode them and return RGBA; [`Cog::pixel_to_lonlat`],
//! [`Cog::lonlat_to_pixel`], [`Cog::ground_resolution`] and [`Cog::level_for_resolution`]
//! place pixels on the Earth. Everything runs on one thread with plain futures; bytes come
//! from the host's [`crate::tiles::fetch::RangeRead`].
//!
//! [`CogSource`] is what a run reads: the levels as pixel grids for the planner, and each
//! tile's bytes through the host's scheduler, decoded here (`detect()` with `source: { cog }`
//! runs in the image's own grid, see [`crate::imagery::Grid`]).
//!
//! | module | |
//! | --- | --- |
//! | [`error`] | [`CogError`]: what is wrong, and whether to retry |
//! | [`sparse`] | the byte ranges read so far, as `Read + Seek` for the `tiff` crate; misses name the offset |
//! | [`ifd`] | the IFD chain and the tags this reader uses, read by the `tiff` crate |
//! | [`level`] | one resolution: size, tile grid, tile byte ranges, what it takes to decode ([`TileFormat`]) |
//! | [`decode`] | tile bytes → RGBA (Deflate, LZW, JPEG, WebP, none; predictor; RGB, RGBA, YCbCr, grey) |
//! | [`raster`] | [`RgbaImage`] and copying rectangles |
//! | [`fetch`] | [`ReadOptions`], coalescing ranges into requests, checking what a read returned |
//! | [`affine`] | [`Affine`] pixel → CRS from the GeoTIFF tags |
//! | [`geokeys`] | the GeoKeyDirectory: EPSG code, projected or geographic, PixelIsArea / PixelIsPoint |
//! | [`crs`] | [`Crs`]: EPSG code → proj4 (`crs-definitions`) → `proj4rs`, to and from WGS 84 |
//! | [`georef`] | [`Georef`]: pixel ↔ lon/lat and ground distances |
//! | [`reader`] | [`Cog`]: open, levels, tiles, windows, georeferencing per level |
//! | [`source`] | [`CogSource`]: a run's tiles, in the image's own grid |

pub mod affine;
pub mod crs;
pub mod decode;
pub mod error;
pub mod fetch;
pub mod geokeys;
pub mod georef;
pub mod ifd;
pub mod level;
pub mod raster;
pub mod reader;
pub mod source;
pub mod sparse;

pub use affine::Affine;
pub use crs::Crs;
pub use error::CogError;
pub use fetch::ReadOptions;
pub use geokeys::{CrsKind, GeoKeys, RasterType};
pub use georef::Georef;
pub use level::{ColorModel, Compression, Level, TileFormat};
pub use raster::RgbaImage;
pub use reader::Cog;
pub use source::CogSource;
