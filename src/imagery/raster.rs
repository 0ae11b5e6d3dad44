//! [`GeoRaster`]: a stitched RGB raster and the extent it covers.

use super::PixelExtent;

/// A stitched raster and the extent it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoRaster {
    /// Where the raster lies; use it to georeference pixels.
    pub extent: PixelExtent,
    /// Width in pixels (`extent.width`).
    pub width: u32,
    /// Height in pixels (`extent.height`).
    pub height: u32,
    /// Row-major RGB8, `width * height * 3` bytes.
    pub rgb: Vec<u8>,
}

impl GeoRaster {
    /// The colour of raster pixel `(x, y)`, or `None` outside the raster.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = usize::try_from((u64::from(y) * u64::from(self.width) + u64::from(x)) * 3).ok()?;
        self.rgb.get(i..i.checked_add(3)?)?.try_into().ok()
    }
}
