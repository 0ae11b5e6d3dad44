//! Decoded tiles -> one georeferenced RGB raster.
//!
//! - [`extent`]: [`PixelExtent`], a rectangle of global Web Mercator pixels at one zoom; it
//!   maps raster pixels to lon/lat and back (exactly, through inverse Mercator).
//! - [`raster`]: [`GeoRaster`], the RGB pixels of an extent.
//! - [`stitch`]: [`Stitcher`], which fills an extent's raster tile by tile.
//! - [`buffers`]: raster buffers handed back for the next raster (bounded memory over many
//!   chunks).
//! - `cog` (feature `cog`): a Cloud-Optimized GeoTIFF read over byte ranges, in its own pixel
//!   grid and CRS.

pub mod buffers;
#[cfg(feature = "cog")]
pub mod cog;
pub mod extent;
pub mod raster;
pub mod stitch;

pub use extent::PixelExtent;
pub use raster::GeoRaster;
pub use stitch::{MAX_RASTER_PIXELS, Stitcher};
