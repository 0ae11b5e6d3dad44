//! [`Grid`]: the pixel grid a raster lies in, and where its pixels are on the Earth. Tile
//! sources give Web Mercator tiles at one zoom ([`Grid::Mercator`]); a Cloud-Optimized GeoTIFF
//! is read in its own grid, one of its levels in its own CRS, without resampling
//! ([`Grid::Image`]). Everything after the raster (windows, boxes, the seam merge) works in
//! the grid's pixels, and only a box's corners go through [`Grid::pixel_to_lonlat`].

use super::cog::{Affine, Crs, CrsKind, georef::pixel_ground_size};
use crate::geojson::Aoi;
use crate::tiles::{TileId, TileRange, mercator, tiles_per_side, validate_tile_size, validate_zoom};
use crate::{Error, Result};

/// Web Mercator tiles at one zoom, or one level of a COG.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Grid {
    /// Global Web Mercator pixels (see [`crate::tiles::mercator`]), in tiles of `tile_size`.
    Mercator { zoom: u8, tile_size: u32 },
    /// The pixels of one level of an image in its own CRS.
    Image(ImageGrid),
}

/// One level of a COG as a pixel grid: its size, its tiles, and pixel → CRS → lon/lat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageGrid {
    /// The zoom whose ground resolution chose this level (what the caller asked for).
    pub zoom: u8,
    /// The level: 0 is the full resolution, then the overviews, largest first. Tiles of
    /// this grid are [`TileId`]s with `z` = `level`.
    pub level: u8,
    /// The level's tiles are `tile_size` × `tile_size` pixels (cropped at the right and
    /// bottom edges).
    pub tile_size: u32,
    /// The level's width in pixels.
    pub width: u32,
    /// The level's height in pixels.
    pub height: u32,
    /// Pixel (corner-based) → CRS coordinates, for this level.
    pub affine: Affine,
    /// The CRS, by its EPSG code.
    pub epsg: u16,
    /// Projected or geographic.
    pub kind: CrsKind,
}

impl Grid {
    /// Web Mercator tiles of `tile_size` at `zoom`.
    pub const fn mercator(zoom: u8, tile_size: u32) -> Grid {
        Grid::Mercator { zoom, tile_size }
    }

    /// The `z` of the grid's tiles: the zoom, or the COG level.
    pub fn z(&self) -> u8 {
        match self {
            Grid::Mercator { zoom, .. } => *zoom,
            Grid::Image(g) => g.level,
        }
    }

    /// The edge of a (whole) tile in pixels.
    pub fn tile_size(&self) -> u32 {
        match self {
            Grid::Mercator { tile_size, .. } => *tile_size,
            Grid::Image(g) => g.tile_size,
        }
    }

    /// The grid's size in pixels: the world's at the zoom, or the image level's.
    pub fn size_px(&self) -> (i64, i64) {
        match self {
            Grid::Mercator { zoom, tile_size } => {
                let world = i64::try_from(tiles_per_side(*zoom).saturating_mul(u64::from(*tile_size)));
                let world = world.unwrap_or(i64::MAX);
                (world, world)
            }
            Grid::Image(g) => (g.width.into(), g.height.into()),
        }
    }

    /// Tiles across and down.
    pub fn tiles_across(&self) -> (u64, u64) {
        match self {
            Grid::Mercator { zoom, .. } => (tiles_per_side(*zoom), tiles_per_side(*zoom)),
            Grid::Image(g) => {
                let ts = u64::from(g.tile_size.max(1));
                (u64::from(g.width).div_ceil(ts), u64::from(g.height).div_ceil(ts))
            }
        }
    }

    /// Whether `tile` is a tile of this grid.
    pub fn has_tile(&self, tile: TileId) -> bool {
        let (across, down) = self.tiles_across();
        let inside = tile.z == self.z() && u64::from(tile.x) < across && u64::from(tile.y) < down;
        match self {
            Grid::Mercator { .. } => inside && tile.is_valid(),
            Grid::Image(_) => inside,
        }
    }

    /// The size of `tile`'s pixels: whole tiles, except an image's at its right and bottom
    /// edges, cropped to the image.
    pub fn tile_dims(&self, tile: TileId) -> (u32, u32) {
        let ts = self.tile_size();
        match self {
            Grid::Mercator { .. } => (ts, ts),
            Grid::Image(g) => {
                let edge = |at: u32, len: u32| len.saturating_sub(at.saturating_mul(ts)).min(ts);
                (edge(tile.x, g.width), edge(tile.y, g.height))
            }
        }
    }

    /// The tiles overlapping the grid-pixel rectangle from `min` to `max` (half-open), clamped
    /// to the grid.
    pub fn tiles_covering(&self, min: [f64; 2], max: [f64; 2]) -> TileRange {
        TileRange::covering_pixels_in(self.z(), self.tile_size(), self.tiles_across(), min, max)
    }

    /// Checks the zoom and tile size (Web Mercator), or that the level has pixels and tiles.
    pub fn validate(&self) -> Result<()> {
        match self {
            Grid::Mercator { zoom, tile_size } => {
                validate_zoom(*zoom)?;
                validate_tile_size(*tile_size)
            }
            Grid::Image(g) if g.width == 0 || g.height == 0 || g.tile_size == 0 || g.affine.inverse().is_none() => {
                Err(Error::Internal(format!("{g:?} is not a usable image grid")))
            }
            Grid::Image(_) => Ok(()),
        }
    }

    /// Grid pixel `(x, y)` (corner-based: `(0.5, 0.5)` is the first pixel's centre) to
    /// `[lon, lat]` degrees: inverse Mercator, or the level's affine to the CRS and the CRS to
    /// WGS 84. NaN where the CRS has no answer (far outside its area of use), which callers
    /// treat as "not in the area".
    pub fn pixel_to_lonlat(&self, x: f64, y: f64) -> [f64; 2] {
        match self {
            Grid::Mercator { zoom, tile_size } => mercator::pixel_to_lonlat(x, y, *zoom, *tile_size),
            Grid::Image(g) => {
                let (cx, cy) = g.affine.apply(x, y);
                let lonlat = Crs::shared(g.epsg, g.kind).and_then(|crs| crs.to_lonlat(cx, cy));
                lonlat.map_or([f64::NAN; 2], |(lon, lat)| [lon, lat])
            }
        }
    }

    /// `[lon, lat]` degrees to grid pixel `(x, y)`; NaN where the CRS has no answer.
    pub fn lonlat_to_pixel(&self, lon: f64, lat: f64) -> [f64; 2] {
        match self {
            Grid::Mercator { zoom, tile_size } => mercator::lonlat_to_pixel(lon, lat, *zoom, *tile_size),
            Grid::Image(g) => {
                let crs = Crs::shared(g.epsg, g.kind).and_then(|crs| crs.from_lonlat(lon, lat));
                match (crs, g.affine.inverse()) {
                    (Ok((cx, cy)), Some(inverse)) => {
                        let (x, y) = inverse.apply(cx, cy);
                        [x, y]
                    }
                    _ => [f64::NAN; 2],
                }
            }
        }
    }

    /// Metres on the ground per pixel at grid pixel `(x, y)`: the mean of a step across and
    /// one down, on the WGS 84 ellipsoid.
    pub fn ground_resolution_at(&self, x: f64, y: f64) -> f64 {
        let to_lonlat = |px: f64, py: f64| {
            let [lon, lat] = self.pixel_to_lonlat(px, py);
            Ok::<_, std::convert::Infallible>((lon, lat))
        };
        let Ok(size) = pixel_ground_size(x, y, to_lonlat);
        size
    }

    /// The grid's CRS, e.g. `"EPSG:3857"`.
    pub fn crs_name(&self) -> String {
        match self {
            Grid::Mercator { .. } => "EPSG:3857".into(),
            Grid::Image(g) => format!("EPSG:{}", g.epsg),
        }
    }

    /// The grid in words, for messages: `"zoom 19"`, `"level 1 of the COG"`.
    pub fn describe(&self) -> String {
        match self {
            Grid::Mercator { zoom, .. } => format!("zoom {zoom}"),
            Grid::Image(g) => format!("level {} of the COG ({} x {} px, zoom {})", g.level, g.width, g.height, g.zoom),
        }
    }
}

impl ImageGrid {
    /// The level of `levels` (one COG's, full resolution first) to run `zoom` on over `aoi`:
    /// the one whose ground resolution at the area's centre is closest (as a ratio) to that of
    /// Web Mercator zoom `zoom` in 256 px tiles there, so that a model meant for a zoom sees
    /// objects at the size it expects. `None` when there are no levels.
    pub fn for_zoom(levels: &[ImageGrid], zoom: u8, aoi: &Aoi) -> Option<ImageGrid> {
        let centre = aoi.bounds().center();
        let lat = mercator::clamp_lat(centre.y).to_radians();
        let wanted = 2.0 * mercator::HALF_CIRCUMFERENCE_M * lat.cos() / (256.0 * tiles_per_side(zoom) as f64);
        let off = |g: &ImageGrid| {
            let grid = Grid::Image(*g);
            let [x, y] = grid.lonlat_to_pixel(centre.x, centre.y);
            // An area off the image: measure at the image's centre instead.
            let (x, y) = match x.is_finite() && y.is_finite() {
                true => (x.clamp(0.0, f64::from(g.width)), y.clamp(0.0, f64::from(g.height))),
                false => (f64::from(g.width) / 2.0, f64::from(g.height) / 2.0),
            };
            let res = grid.ground_resolution_at(x, y);
            if res.is_finite() && res > 0.0 { (res / wanted).ln().abs() } else { f64::INFINITY }
        };
        levels.iter().min_by(|a, b| off(a).total_cmp(&off(b))).map(|g| ImageGrid { zoom, ..*g })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utm_grid(level: u8, scale: f64) -> ImageGrid {
        // The OSBS image: EPSG:32617, 0.1 m, 400 x 400 px.
        let affine = Affine { a: 0.1 * scale, b: 0.0, c: 404_211.9, d: 0.0, e: -0.1 * scale, f: 3_285_142.9 };
        let side = (400.0 / scale).round() as u32;
        ImageGrid {
            zoom: 0,
            level,
            tile_size: 128,
            width: side,
            height: side,
            affine,
            epsg: 32617,
            kind: CrsKind::Projected,
        }
    }

    #[test]
    fn image_tiles_are_cropped_at_the_edges() {
        let g = Grid::Image(ImageGrid { width: 300, height: 200, ..utm_grid(0, 1.0) });
        assert_eq!(g.tiles_across(), (3, 2));
        assert_eq!(g.tile_dims(TileId { z: 0, x: 0, y: 0 }), (128, 128));
        assert_eq!(g.tile_dims(TileId { z: 0, x: 2, y: 1 }), (44, 72));
        assert!(g.has_tile(TileId { z: 0, x: 2, y: 1 }));
        assert!(!g.has_tile(TileId { z: 0, x: 3, y: 0 }) && !g.has_tile(TileId { z: 1, x: 0, y: 0 }));
        let r = g.tiles_covering([-50.0, 10.0], [1e9, 130.0]);
        assert_eq!((r.x_min, r.x_max, r.y_min, r.y_max), (0, 2, 0, 1));
        g.validate().unwrap();
        assert!(Grid::Image(ImageGrid { width: 0, ..utm_grid(0, 1.0) }).validate().is_err());
    }

    #[test]
    fn image_pixels_round_trip_through_the_crs() {
        let g = Grid::Image(utm_grid(0, 1.0));
        for (x, y) in [(0.0, 0.0), (200.5, 17.25), (400.0, 400.0)] {
            let [lon, lat] = g.pixel_to_lonlat(x, y);
            assert!((-82.1..-81.9).contains(&lon) && (29.6..29.8).contains(&lat), "{lon} {lat}");
            let [x2, y2] = g.lonlat_to_pixel(lon, lat);
            assert!((x2 - x).abs() < 1e-6 && (y2 - y).abs() < 1e-6, "({x}, {y}) -> ({x2}, {y2})");
        }
        let res = g.ground_resolution_at(200.0, 200.0);
        // UTM's scale factor near the zone's edge (81.99° W, zone 17's centre is 81° W): ~0.1 m.
        assert!((res - 0.1).abs() < 1e-3, "{res}");
        assert_eq!(g.crs_name(), "EPSG:32617");
    }

    #[test]
    fn the_level_closest_to_the_zoom_is_chosen() {
        let levels = [utm_grid(0, 1.0), utm_grid(1, 2.0), utm_grid(2, 4.0)];
        let aoi = Aoi::from_json(&serde_json::json!({ "type": "Polygon", "coordinates": [[
            [-81.99, 29.692], [-81.9895, 29.692], [-81.9895, 29.6925], [-81.99, 29.6925], [-81.99, 29.692]
        ]] }))
        .unwrap();
        // Zoom z in 256 px tiles at 29.69° N: 156543.03 cos(29.69°) / 2^z m, so 0.065 m at
        // zoom 21, 0.130 at 20, 0.259 at 19, 0.519 at 18; the levels have 0.1, 0.2, 0.4 m.
        let chosen = |zoom| ImageGrid::for_zoom(&levels, zoom, &aoi).map(|g| (g.level, g.zoom));
        assert_eq!(chosen(22), Some((0, 22)));
        assert_eq!(chosen(21), Some((0, 21)));
        assert_eq!(chosen(20), Some((0, 20)), "0.130 m is nearer 0.1 than 0.2 (as a ratio)");
        assert_eq!(chosen(19), Some((1, 19)));
        assert_eq!(chosen(18), Some((2, 18)));
        assert_eq!(chosen(12), Some((2, 12)));
        assert_eq!(ImageGrid::for_zoom(&[], 19, &aoi), None);
    }
}
