//! Decoded tiles -> one georeferenced RGB raster.
//!
//! - [`decode`]: [`DecodedTile`], one encoded tile (PNG, JPEG or WebP) decoded to RGB or RGBA,
//!   the same on both hosts.
//! - [`grid`]: [`Grid`], the pixel grid a raster lies in: Web Mercator tiles at one zoom, or
//!   one level of a COG in its own CRS; its pixels to lon/lat and back.
//! - [`extent`]: [`PixelExtent`], a rectangle of a grid's pixels; it maps raster pixels to
//!   lon/lat and back (exactly: inverse Mercator, or the image's affine and CRS).
//! - [`raster`]: [`GeoRaster`], the RGB pixels of an extent.
//! - [`stitch`]: [`Stitcher`], which fills an extent's raster tile by tile.
//! - [`buffers`]: raster buffers handed back for the next raster (bounded memory over many
//!   chunks).
//! - [`cog`]: a Cloud-Optimized GeoTIFF read over byte ranges, in its own pixel grid and CRS.

pub mod buffers;
pub mod cog;
pub mod decode;
pub mod extent;
pub mod grid;
pub mod raster;
pub mod stitch;

pub use decode::DecodedTile;
pub use extent::PixelExtent;
pub use grid::{Grid, ImageGrid};
pub use raster::GeoRaster;
pub use stitch::{MAX_RASTER_PIXELS, RowWatch, Stitcher};
