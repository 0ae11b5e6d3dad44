//! Map tiles: Web Mercator math ([`mercator`]), tile ids and ranges, where tiles come from
//! ([`source`]: URL templates, WMS, presets, PMTiles archives), the archive reader
//! ([`pmtiles`]) and the backend-agnostic download scheduler ([`fetch`]).

pub mod fetch;
pub mod mercator;
pub mod pmtiles;
pub mod source;

pub use source::{Preset, TileSource, WmsOptions, quadkey};

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Deepest zoom level geodetect accepts (about 2 cm per pixel at the equator).
pub const MAX_ZOOM: u8 = 22;
/// Smallest accepted tile edge, in pixels.
pub const MIN_TILE_SIZE: u32 = 128;
/// Largest accepted tile edge, in pixels.
pub const MAX_TILE_SIZE: u32 = 4096;

/// Number of tiles along one edge of the world at `zoom` (`2^zoom`, saturating).
pub fn tiles_per_side(zoom: u8) -> u64 {
    1u64.checked_shl(u32::from(zoom)).unwrap_or(u64::MAX)
}

/// Checks that `zoom` is a supported Web Mercator zoom level (`0..=22`).
pub fn validate_zoom(zoom: u8) -> Result<()> {
    if zoom > MAX_ZOOM {
        return Err(Error::ZoomOutOfRange { zoom: zoom.into(), min: 0, max: MAX_ZOOM });
    }
    Ok(())
}

/// Checks that `tile_size` is a power of two in `128..=4096`.
pub fn validate_tile_size(tile_size: u32) -> Result<()> {
    if !tile_size.is_power_of_two() || !(MIN_TILE_SIZE..=MAX_TILE_SIZE).contains(&tile_size) {
        return Err(Error::invalid_option(
            "tileSize",
            format!(
                "must be a power of two between {MIN_TILE_SIZE} and {MAX_TILE_SIZE}, got {tile_size}; \
                 use the pixel size of the server's tiles (256 for most XYZ servers, 512 for @2x tiles)"
            ),
        ));
    }
    Ok(())
}

/// One XYZ ("slippy map") tile: `x` grows eastwards, `y` southwards, both in `0..2^z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TileId {
    /// Zoom level.
    pub z: u8,
    /// Column, from the antimeridian eastwards.
    pub x: u32,
    /// Row, from the north edge southwards.
    pub y: u32,
}

impl TileId {
    /// Whether the zoom is supported and `x` and `y` lie inside the `2^z` by `2^z` grid.
    pub fn is_valid(&self) -> bool {
        let n = tiles_per_side(self.z);
        self.z <= MAX_ZOOM && u64::from(self.x) < n && u64::from(self.y) < n
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// An inclusive rectangle of tiles at one zoom level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TileRange {
    /// Zoom level.
    pub z: u8,
    /// Westernmost column.
    pub x_min: u32,
    /// Easternmost column (inclusive).
    pub x_max: u32,
    /// Northernmost row.
    pub y_min: u32,
    /// Southernmost row (inclusive).
    pub y_max: u32,
}

impl TileRange {
    /// The tiles overlapping the global-pixel rectangle from `min` (north-west corner) to
    /// `max` (south-east corner), clamped to the world.
    ///
    /// The rectangle is half-open: an edge exactly on a tile boundary does not pull in
    /// the tile beyond it. A degenerate (zero-width or zero-height) rectangle yields the
    /// tiles containing it. Zoom and tile size are not validated here; see
    /// [`validate_zoom`] and [`validate_tile_size`].
    pub fn covering_pixels(zoom: u8, tile_size: u32, min: [f64; 2], max: [f64; 2]) -> TileRange {
        let n = tiles_per_side(zoom);
        Self::covering_pixels_in(zoom, tile_size, (n, n), min, max)
    }

    /// [`TileRange::covering_pixels`] in a grid of `across` × `down` tiles (an image's, see
    /// [`crate::imagery::Grid`]), clamped to it.
    pub fn covering_pixels_in(
        z: u8,
        tile_size: u32,
        (across, down): (u64, u64),
        min: [f64; 2],
        max: [f64; 2],
    ) -> TileRange {
        let size = f64::from(tile_size.max(1));
        // `as` saturates (and maps NaN to 0), so no input can make this panic.
        let first_tile = |lo: f64, n: u64| (lo / size).floor().clamp(0.0, n.saturating_sub(1) as f64) as u32;
        let last_tile = |lo: f64, hi: f64, n: u64| {
            let t = if hi > lo { (hi / size).ceil() - 1.0 } else { (lo / size).floor() };
            t.clamp(0.0, n.saturating_sub(1) as f64) as u32
        };
        TileRange {
            z,
            x_min: first_tile(min[0], across),
            x_max: last_tile(min[0], max[0], across),
            y_min: first_tile(min[1], down),
            y_max: last_tile(min[1], max[1], down),
        }
    }

    /// Number of tiles in the range.
    pub fn count(&self) -> u64 {
        let span = |lo: u32, hi: u32| if hi < lo { 0 } else { u64::from(hi - lo) + 1 };
        span(self.x_min, self.x_max).saturating_mul(span(self.y_min, self.y_max))
    }

    /// The tiles row by row, from north-west to south-east.
    pub fn iter(&self) -> impl Iterator<Item = TileId> + use<> {
        let r = *self;
        (r.y_min..=r.y_max).flat_map(move |y| (r.x_min..=r.x_max).map(move |x| TileId { z: r.z, x, y }))
    }

    /// Whether `tile` is one of the range's tiles.
    pub fn contains(&self, tile: &TileId) -> bool {
        tile.z == self.z && (self.x_min..=self.x_max).contains(&tile.x) && (self.y_min..=self.y_max).contains(&tile.y)
    }

    /// Fails with [`Error::TooManyTiles`] when the range has more than `limit` tiles.
    pub fn check_limit(&self, limit: u64) -> Result<()> {
        let needed = self.count();
        if needed > limit {
            return Err(Error::TooManyTiles { needed, limit, zoom: self.z, fits: None, bbox_only: false });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_id_displays_and_serializes() {
        let t = TileId { z: 18, x: 132742, y: 90182 };
        assert_eq!(t.to_string(), "18/132742/90182");
        let json = serde_json::to_value(t).unwrap();
        assert_eq!(json, serde_json::json!({"z": 18, "x": 132742, "y": 90182}));
        assert_eq!(serde_json::from_value::<TileId>(json).unwrap(), t);
    }

    #[test]
    fn tile_validity_follows_the_grid() {
        assert!(TileId { z: 0, x: 0, y: 0 }.is_valid());
        assert!(TileId { z: 3, x: 7, y: 7 }.is_valid());
        assert!(!TileId { z: 3, x: 8, y: 0 }.is_valid());
        assert!(!TileId { z: 3, x: 0, y: 8 }.is_valid());
        assert!(!TileId { z: 23, x: 0, y: 0 }.is_valid());
        assert!(!TileId { z: 255, x: 0, y: 0 }.is_valid());
        assert_eq!(tiles_per_side(22), 1 << 22);
        assert_eq!(tiles_per_side(200), u64::MAX);
    }

    #[test]
    fn zoom_and_tile_size_validation() {
        assert!(validate_zoom(22).is_ok());
        assert!(matches!(validate_zoom(23), Err(Error::ZoomOutOfRange { zoom: 23, min: 0, max: 22 })));
        for ok in [128, 256, 512, 4096] {
            assert!(validate_tile_size(ok).is_ok(), "{ok}");
        }
        for bad in [0, 64, 255, 300, 8192] {
            assert!(matches!(validate_tile_size(bad), Err(Error::InvalidOptions { .. })), "{bad}");
        }
    }

    #[test]
    fn covering_pixels_is_half_open_and_clamped() {
        // 256-px tiles at zoom 2 (4x4 tiles, 1024 px world).
        let r = TileRange::covering_pixels(2, 256, [256.0, 100.0], [512.0, 300.0]);
        assert_eq!(r, TileRange { z: 2, x_min: 1, x_max: 1, y_min: 0, y_max: 1 });
        let r = TileRange::covering_pixels(2, 256, [255.5, 0.0], [512.5, 0.0]);
        assert_eq!((r.x_min, r.x_max, r.y_min, r.y_max), (0, 2, 0, 0));
        // Outside the world is clamped to the edge tiles.
        let r = TileRange::covering_pixels(2, 256, [-50.0, -1.0], [5000.0, 1024.0]);
        assert_eq!((r.x_min, r.x_max, r.y_min, r.y_max), (0, 3, 0, 3));
        assert_eq!(r.count(), 16);
        // Garbage in gives tiles of the world, not a panic.
        let r = TileRange::covering_pixels(2, 256, [f64::NAN, f64::NEG_INFINITY], [f64::INFINITY, f64::NAN]);
        assert!(r.iter().all(|t| t.is_valid()) && r.count() > 0, "{r:?}");
    }

    #[test]
    fn range_count_iter_contains() {
        let r = TileRange { z: 5, x_min: 3, x_max: 5, y_min: 10, y_max: 11 };
        assert_eq!(r.count(), 6);
        let tiles: Vec<_> = r.iter().collect();
        assert_eq!(tiles.len(), 6);
        assert_eq!(tiles[0], TileId { z: 5, x: 3, y: 10 });
        assert_eq!(tiles[3], TileId { z: 5, x: 3, y: 11 });
        assert!(tiles.iter().all(|t| r.contains(t)));
        assert!(!r.contains(&TileId { z: 5, x: 6, y: 10 }));
        assert!(!r.contains(&TileId { z: 6, x: 3, y: 10 }));
        let empty = TileRange { z: 5, x_min: 4, x_max: 3, y_min: 0, y_max: 0 };
        assert_eq!(empty.count(), 0);
        assert_eq!(empty.iter().count(), 0);
        let everything = TileRange { z: 32, x_min: 0, x_max: u32::MAX, y_min: 0, y_max: u32::MAX };
        assert_eq!(everything.count(), u64::MAX);
    }

    #[test]
    fn tile_limit() {
        let r = TileRange { z: 9, x_min: 0, x_max: 9, y_min: 0, y_max: 9 };
        assert!(r.check_limit(100).is_ok());
        let err = r.check_limit(99).unwrap_err();
        assert!(matches!(err, Error::TooManyTiles { needed: 100, limit: 99, zoom: 9, .. }), "{err:?}");
        assert!(err.to_string().contains("lower the zoom"));
    }
}
