//! [`PixelExtent`]: a rectangle of a [`Grid`]'s pixels (Web Mercator pixels at one zoom, or
//! a COG level's), and its georeferencing (raster pixel <-> lon/lat, exactly: inverse
//! Mercator, or the image's affine and CRS).

use super::grid::Grid;
use crate::tiles::mercator;
use crate::tiles::{TileId, TileRange};
use crate::{Error, Result};

/// Projected bounds closer than this to a pixel edge are snapped to it, so that floating
/// point noise does not add a row or column (and a tile) of pixels.
const SNAP_PX: f64 = 1e-6;

/// Points per edge sampled for the lon/lat bounds of an image grid's extent (its edges are
/// not lines of constant longitude or latitude).
const EDGE_SAMPLES: u32 = 16;

/// A rectangle of a grid's pixels (for Web Mercator, global pixels: see
/// [`crate::tiles::mercator`]). Raster pixel `(0, 0)` is grid pixel `(x0, y0)`; coordinates
/// are those of pixel corners, so the centre of raster pixel `(c, r)` is `(c + 0.5, r + 0.5)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelExtent {
    /// The pixel grid.
    pub grid: Grid,
    /// Grid x of the left edge.
    pub x0: i64,
    /// Grid y of the top edge.
    pub y0: i64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl PixelExtent {
    /// A Web Mercator extent at `zoom` in tiles of `tile_size`.
    pub const fn mercator(zoom: u8, tile_size: u32, x0: i64, y0: i64, width: u32, height: u32) -> Self {
        PixelExtent { grid: Grid::mercator(zoom, tile_size), x0, y0, width, height }
    }

    /// The smallest whole-pixel Web Mercator extent containing `bounds` (lon/lat degrees), at
    /// least 1 x 1 pixel. Latitudes are clamped to ±[`mercator::MAX_LAT`], longitudes to ±180.
    pub fn covering(bounds: geo::Rect<f64>, zoom: u8, tile_size: u32) -> Result<Self> {
        let grid = Grid::mercator(zoom, tile_size);
        grid.validate()?;
        let (min, max) = (bounds.min(), bounds.max());
        if ![min.x, min.y, max.x, max.y].iter().all(|v| v.is_finite()) {
            return Err(Error::InvalidPolygon(format!(
                "the area's bounds {bounds:?} are not finite numbers; check the coordinates"
            )));
        }
        let lon = |v: f64| v.clamp(-180.0, 180.0);
        let nw = mercator::lonlat_to_pixel(lon(min.x), max.y, zoom, tile_size);
        let se = mercator::lonlat_to_pixel(lon(max.x), min.y, zoom, tile_size);
        Self::covering_pixels(grid, nw, se)
    }

    /// The smallest whole-pixel extent of `grid` containing the grid-pixel rectangle from
    /// `min` to `max`, clamped to the grid, at least 1 x 1 pixel.
    pub fn covering_pixels(grid: Grid, min: [f64; 2], max: [f64; 2]) -> Result<Self> {
        let (world_x, world_y) = grid.size_px();
        let snap = |v: f64| if (v - v.round()).abs() < SNAP_PX { v.round() } else { v };
        // `as` saturates; the values are within the grid (at most 2^34) anyway.
        let start = |v: f64, world: i64| (snap(v).floor() as i64).clamp(0, world - 1);
        let end = |v: f64, start: i64, world: i64| (snap(v).ceil() as i64).clamp(start + 1, world);
        let (x0, y0) = (start(min[0], world_x), start(min[1], world_y));
        let (x1, y1) = (end(max[0], x0, world_x), end(max[1], y0, world_y));
        let (Ok(width), Ok(height)) = (u32::try_from(x1 - x0), u32::try_from(y1 - y0)) else {
            return Err(Error::invalid_option(
                "zoom",
                format!(
                    "the area is {} x {} pixels at {}; lower the zoom or split the area",
                    x1 - x0,
                    y1 - y0,
                    grid.describe()
                ),
            ));
        };
        Ok(PixelExtent { grid, x0, y0, width, height })
    }

    /// Checks the grid, and that the extent is at least 1 x 1 pixel and lies inside it.
    pub fn validate(&self) -> Result<()> {
        self.grid.validate()?;
        let (world_x, world_y) = self.grid.size_px();
        let inside = |start: i64, len: u32, world: i64| {
            len > 0 && start >= 0 && start.checked_add(len.into()).is_some_and(|end| end <= world)
        };
        if !(inside(self.x0, self.width, world_x) && inside(self.y0, self.height, world_y)) {
            return Err(Error::Internal(format!(
                "{self:?} is empty or outside the {world_x} x {world_y} pixel grid; \
                 build extents with PixelExtent::covering"
            )));
        }
        Ok(())
    }

    /// The tiles overlapping the extent.
    pub fn tiles(&self) -> TileRange {
        let (x0, y0) = (self.x0 as f64, self.y0 as f64);
        self.grid.tiles_covering([x0, y0], [x0 + f64::from(self.width), y0 + f64::from(self.height)])
    }

    /// Where `tile`'s top-left pixel falls in the raster (negative, or past the size, for a
    /// tile that starts outside it).
    pub fn tile_offset(&self, tile: TileId) -> (i64, i64) {
        let size = i64::from(self.grid.tile_size());
        (i64::from(tile.x) * size - self.x0, i64::from(tile.y) * size - self.y0)
    }

    /// Raster pixel coordinates to `[lon, lat]` degrees (inverse Mercator: rows are not
    /// evenly spaced in latitude; or the image's affine and CRS). NaN where the image's CRS
    /// has no answer.
    pub fn pixel_to_lonlat(&self, x: f64, y: f64) -> [f64; 2] {
        self.grid.pixel_to_lonlat(self.x0 as f64 + x, self.y0 as f64 + y)
    }

    /// `[lon, lat]` degrees to raster pixel coordinates (outside the raster when the
    /// point is outside the extent).
    pub fn lonlat_to_pixel(&self, lon: f64, lat: f64) -> [f64; 2] {
        let [x, y] = self.grid.lonlat_to_pixel(lon, lat);
        [x - self.x0 as f64, y - self.y0 as f64]
    }

    /// `[west, south, east, north]` of the extent's outer edges, in degrees (for an image
    /// grid, whose edges need not follow meridians and parallels, the box around them).
    pub fn bounds_lonlat(&self) -> [f64; 4] {
        let (w, h) = (f64::from(self.width), f64::from(self.height));
        if let Grid::Mercator { .. } = self.grid {
            let [west, north] = self.pixel_to_lonlat(0.0, 0.0);
            let [east, south] = self.pixel_to_lonlat(w, h);
            return [west, south, east, north];
        }
        let mut b = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
        for i in 0..=EDGE_SAMPLES {
            let t = f64::from(i) / f64::from(EDGE_SAMPLES);
            for (x, y) in [(t * w, 0.0), (t * w, h), (0.0, t * h), (w, t * h)] {
                let [lon, lat] = self.pixel_to_lonlat(x, y);
                b = [b[0].min(lon), b[1].min(lat), b[2].max(lon), b[3].max(lat)];
            }
        }
        b
    }

    /// `[min x, min y, max x, max y]` of the extent's outer edges, in EPSG:3857 metres (for an
    /// image grid, of its lon/lat bounds).
    pub fn bounds_3857(&self) -> [f64; 4] {
        match self.grid {
            Grid::Mercator { zoom, tile_size } => {
                let (x0, y0) = (self.x0 as f64, self.y0 as f64);
                let [min_x, max_y] = mercator::pixel_to_3857(x0, y0, zoom, tile_size);
                let [max_x, min_y] =
                    mercator::pixel_to_3857(x0 + f64::from(self.width), y0 + f64::from(self.height), zoom, tile_size);
                [min_x, min_y, max_x, max_y]
            }
            Grid::Image(_) => {
                let [west, south, east, north] = self.bounds_lonlat();
                let to_3857 = |lon: f64, lat: f64| {
                    let [x, y] = mercator::lonlat_to_pixel(lon, lat, 0, 256);
                    mercator::pixel_to_3857(x, y, 0, 256)
                };
                let [min_x, min_y] = to_3857(west, south);
                let [max_x, max_y] = to_3857(east, north);
                [min_x, min_y, max_x, max_y]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Rect, coord};

    fn rect(west: f64, south: f64, east: f64, north: f64) -> Rect<f64> {
        Rect::new(coord! { x: west, y: south }, coord! { x: east, y: north })
    }

    #[test]
    fn covering_floors_and_ceils() {
        let b = rect(2.29, 48.85, 2.30, 48.86);
        let w = PixelExtent::covering(b, 16, 256).unwrap();
        let nw = mercator::lonlat_to_pixel(2.29, 48.86, 16, 256);
        let se = mercator::lonlat_to_pixel(2.30, 48.85, 16, 256);
        assert_eq!((w.x0, w.y0), (nw[0].floor() as i64, nw[1].floor() as i64));
        assert_eq!(w.x0 + i64::from(w.width), se[0].ceil() as i64);
        assert_eq!(w.y0 + i64::from(w.height), se[1].ceil() as i64);
        w.validate().unwrap();
        // The extent contains the bounds.
        let [west, south, east, north] = w.bounds_lonlat();
        assert!(west <= 2.29 && south <= 48.85 && east >= 2.30 && north >= 48.86);
        // A point is still one pixel; the whole world at zoom 0 is one tile.
        let p = PixelExtent::covering(rect(10.0, 10.0, 10.0, 10.0), 12, 512).unwrap();
        assert_eq!((p.width, p.height), (1, 1));
        let world = PixelExtent::covering(rect(-180.0, -90.0, 180.0, 90.0), 0, 256).unwrap();
        assert_eq!(world, PixelExtent::mercator(0, 256, 0, 0, 256, 256));
        let east_edge = PixelExtent::covering(rect(180.0, 0.0, 180.0, 0.0), 1, 256).unwrap();
        assert_eq!((east_edge.x0, east_edge.width), (511, 1));
    }

    #[test]
    fn covering_bounds_on_tile_edges() {
        // Tiles x 17..=18, y 9..=10 at zoom 5: the bounds are exactly their outer edges.
        let edges = |z: u8, x: u32, y: u32, n: u32| {
            let [west, north] = mercator::pixel_to_lonlat(f64::from(x * 256), f64::from(y * 256), z, 256);
            let [east, south] = mercator::pixel_to_lonlat(f64::from((x + n) * 256), f64::from((y + n) * 256), z, 256);
            rect(west, south, east, north)
        };
        let b = edges(5, 17, 9, 2);
        assert_eq!((b.min().x, b.max().x), (11.25, 33.75));
        let w = PixelExtent::covering(b, 5, 256).unwrap();
        assert_eq!(w, PixelExtent::mercator(5, 256, 17 * 256, 9 * 256, 512, 512));
        assert_eq!(w.tiles(), TileRange { z: 5, x_min: 17, x_max: 18, y_min: 9, y_max: 10 });
        // Just past the edge pulls in the next column.
        let w = PixelExtent::covering(rect(b.min().x, b.min().y, b.max().x + 1e-4, b.max().y), 5, 256).unwrap();
        assert_eq!((w.tiles().x_max, w.tiles().count()), (19, 6));
        // Latitudes of tile edges carry floating point noise from the inverse projection;
        // it must not add a row of tiles anywhere.
        for z in [8, 13, 18] {
            for y in (0..(1u32 << z) - 3).step_by(1 << (z - 6)).chain([(1 << z) - 3]) {
                let w = PixelExtent::covering(edges(z, 3, y, 3), z, 256).unwrap();
                let want = TileRange { z, x_min: 3, x_max: 5, y_min: y, y_max: y + 2 };
                assert_eq!(w.tiles(), want, "z{z} y{y}");
            }
        }
    }

    #[test]
    fn covering_rejects_bad_input() {
        let b = rect(0.0, 0.0, 1.0, 1.0);
        assert!(matches!(PixelExtent::covering(b, 23, 256), Err(Error::ZoomOutOfRange { zoom: 23, .. })));
        assert!(matches!(PixelExtent::covering(b, 10, 200), Err(Error::InvalidOptions { .. })));
        let nan = rect(f64::NAN, 0.0, 1.0, 1.0);
        assert!(matches!(PixelExtent::covering(nan, 10, 256), Err(Error::InvalidPolygon(_))));
        // 2^34 pixels wide does not fit a raster.
        let world = rect(-180.0, -80.0, 180.0, 80.0);
        assert!(matches!(PixelExtent::covering(world, 22, 4096), Err(Error::InvalidOptions { .. })));
    }

    #[test]
    fn validate_rejects_empty_or_outside_extents() {
        let w = PixelExtent::mercator(2, 256, 100, 200, 300, 400);
        w.validate().unwrap();
        for bad in [
            PixelExtent { width: 0, ..w },
            PixelExtent { x0: -1, ..w },
            PixelExtent { x0: 1024 - 299, ..w },
            PixelExtent { y0: 1024 - 399, ..w },
            PixelExtent { grid: Grid::mercator(30, 256), ..w },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        // Absurd hand-made extents are errors, never overflows.
        let absurd = PixelExtent { x0: i64::MAX, y0: i64::MIN, width: u32::MAX, ..w };
        assert!(absurd.validate().is_err());
        assert!(absurd.tiles().iter().all(|t| t.is_valid()));
        assert!(absurd.bounds_3857().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn georef_round_trip_and_bounds() {
        let w = PixelExtent::covering(rect(24.90, 60.15, 24.99, 60.20), 17, 512).unwrap();
        for r in (0..w.height).step_by(97) {
            for c in (0..w.width).step_by(89) {
                let (x, y) = (f64::from(c) + 0.5, f64::from(r) + 0.5);
                let [lon, lat] = w.pixel_to_lonlat(x, y);
                let [x2, y2] = w.lonlat_to_pixel(lon, lat);
                assert!((x2 - x).abs() < 1e-6 && (y2 - y).abs() < 1e-6, "({c}, {r})");
            }
        }
        let [west, south, east, north] = w.bounds_lonlat();
        let gx1 = (w.x0 + i64::from(w.width)) as f64;
        let gy1 = (w.y0 + i64::from(w.height)) as f64;
        assert_eq!([west, north], mercator::pixel_to_lonlat(w.x0 as f64, w.y0 as f64, 17, 512));
        assert_eq!([east, south], mercator::pixel_to_lonlat(gx1, gy1, 17, 512));
        let [min_x, min_y, max_x, max_y] = w.bounds_3857();
        let [ex_min_x, ex_min_y] = mercator::tests::lonlat_to_3857(west, south);
        let [ex_max_x, ex_max_y] = mercator::tests::lonlat_to_3857(east, north);
        for (got, want) in [(min_x, ex_min_x), (min_y, ex_min_y), (max_x, ex_max_x), (max_y, ex_max_y)] {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        // One pixel at zoom 17 / 512 is 156543.03 m / 2^18 (about 0.6 m) in projected metres.
        let px_m = (max_x - min_x) / f64::from(w.width);
        assert!((px_m - 156_543.033_928_041 / 2f64.powi(18)).abs() < 1e-9, "{px_m}");
    }

    /// Largest row error (in pixels) of mapping row centres to latitudes linearly between
    /// the raster's north and south edges, and of the inverse Mercator mapping.
    fn row_errors(zoom: u8, tiles_high: u32, lat: f64) -> (f64, f64) {
        let [x, y] = mercator::lonlat_to_pixel(10.0, lat, zoom, 256);
        let w = PixelExtent::mercator(zoom, 256, x as i64, y as i64, 256, tiles_high * 256);
        w.validate().unwrap();
        let [_, south, _, north] = w.bounds_lonlat();
        let (mut linear, mut exact) = (0f64, 0f64);
        for r in 0..w.height {
            let y = f64::from(r) + 0.5;
            let lat_linear = north + (south - north) * y / f64::from(w.height);
            linear = linear.max((w.lonlat_to_pixel(10.0, lat_linear)[1] - y).abs());
            let [lon, lat] = w.pixel_to_lonlat(0.5, y);
            exact = exact.max((w.lonlat_to_pixel(lon, lat)[1] - y).abs());
        }
        (linear, exact)
    }

    #[test]
    fn rows_are_not_linear_in_latitude() {
        // The linear error grows with the square of the height and inversely with the
        // world size: at zoom 18 a 16-tile-high area is still sub-pixel (~0.17 px at
        // 60°N), 48 tiles are not; at zoom 15, 16 tiles are already off by > 1 px.
        for (zoom, tiles_high, lat) in [(18, 48, 60.0), (15, 16, 60.0), (14, 16, 50.0), (18, 48, -60.0)] {
            let (linear, exact) = row_errors(zoom, tiles_high, lat);
            assert!(linear > 1.0, "z{zoom} {tiles_high} tiles at {lat}: linear error only {linear} px");
            assert!(exact < 1e-6, "z{zoom} {tiles_high} tiles at {lat}: Mercator error {exact} px");
        }
        let (linear, exact) = row_errors(18, 16, 60.0);
        assert!((0.1..1.0).contains(&linear), "{linear}");
        assert!(exact < 1e-6);
    }
}
