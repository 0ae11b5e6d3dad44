//! Decoded tiles -> one georeferenced RGB raster.
//!
//! A [`PixelWindow`] is a rectangle of global Web Mercator pixels at one zoom; it maps
//! raster pixels to lon/lat and back (exactly, through inverse Mercator). A [`Stitcher`]
//! fills a window's RGB buffer tile by tile and yields a [`GeoRaster`].

use crate::tiles::mercator;
use crate::tiles::{TileId, TileRange, tiles_per_side, validate_tile_size, validate_zoom};
use crate::{Error, Result};

/// Largest raster a [`Stitcher`] allocates (8192 x 8192 pixels, 192 MiB of RGB).
pub const MAX_RASTER_PIXELS: u64 = 1 << 26;
/// Projected bounds closer than this to a pixel edge are snapped to it, so that floating
/// point noise does not add a row or column (and a tile) of pixels.
const SNAP_PX: f64 = 1e-6;

/// A rectangle of global pixels (see [`crate::tiles::mercator`]) at one zoom and tile
/// size. Raster pixel `(0, 0)` is global pixel `(x0, y0)`; coordinates are those of pixel
/// corners, so the centre of raster pixel `(c, r)` is `(c + 0.5, r + 0.5)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelWindow {
    /// Zoom level.
    pub zoom: u8,
    /// Tile edge in pixels.
    pub tile_size: u32,
    /// Global x of the left edge.
    pub x0: i64,
    /// Global y of the top edge.
    pub y0: i64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl PixelWindow {
    /// The smallest whole-pixel window containing `bounds` (lon/lat degrees), at least
    /// 1 x 1 pixel. Latitudes are clamped to ±[`mercator::MAX_LAT`], longitudes to ±180.
    pub fn covering(bounds: geo::Rect<f64>, zoom: u8, tile_size: u32) -> Result<Self> {
        validate_zoom(zoom)?;
        validate_tile_size(tile_size)?;
        let (min, max) = (bounds.min(), bounds.max());
        if ![min.x, min.y, max.x, max.y].iter().all(|v| v.is_finite()) {
            return Err(Error::InvalidPolygon(format!(
                "the area's bounds {bounds:?} are not finite numbers; check the coordinates"
            )));
        }
        let lon = |v: f64| v.clamp(-180.0, 180.0);
        let nw = mercator::lonlat_to_pixel(lon(min.x), max.y, zoom, tile_size);
        let se = mercator::lonlat_to_pixel(lon(max.x), min.y, zoom, tile_size);
        let world = world_px(zoom, tile_size);
        let snap = |v: f64| if (v - v.round()).abs() < SNAP_PX { v.round() } else { v };
        // `as` saturates; the values are within the world (at most 2^34) anyway.
        let start = |v: f64| (snap(v).floor() as i64).clamp(0, world - 1);
        let end = |v: f64, start: i64| (snap(v).ceil() as i64).clamp(start + 1, world);
        let (x0, y0) = (start(nw[0]), start(nw[1]));
        let (x1, y1) = (end(se[0], x0), end(se[1], y0));
        let (Ok(width), Ok(height)) = (u32::try_from(x1 - x0), u32::try_from(y1 - y0)) else {
            return Err(Error::invalid_option(
                "zoom",
                format!(
                    "the area is {} x {} pixels at zoom {zoom}; lower the zoom or split the area",
                    x1 - x0,
                    y1 - y0
                ),
            ));
        };
        Ok(PixelWindow { zoom, tile_size, x0, y0, width, height })
    }

    /// Checks zoom and tile size, and that the window is at least 1 x 1 pixel and lies
    /// inside the world.
    pub fn validate(&self) -> Result<()> {
        validate_zoom(self.zoom)?;
        validate_tile_size(self.tile_size)?;
        let world = world_px(self.zoom, self.tile_size);
        let inside = |start: i64, len: u32| {
            len > 0 && start >= 0 && start.checked_add(len.into()).is_some_and(|end| end <= world)
        };
        if !(inside(self.x0, self.width) && inside(self.y0, self.height)) {
            return Err(Error::Internal(format!(
                "{self:?} is empty or outside the {world} x {world} pixel world; \
                 build windows with PixelWindow::covering or sub_window"
            )));
        }
        Ok(())
    }

    /// The part of this window starting at raster pixel `(x, y)`, `width` x `height`
    /// pixels; it must lie inside this window, which must be valid.
    pub fn sub_window(&self, x: u32, y: u32, width: u32, height: u32) -> Result<Self> {
        self.validate()?;
        let fits = |start: u32, len: u32, total: u32| len > 0 && u64::from(start) + u64::from(len) <= u64::from(total);
        if !(fits(x, width, self.width) && fits(y, height, self.height)) {
            return Err(Error::Internal(format!(
                "sub-window {width} x {height} at ({x}, {y}) is empty or does not fit in {self:?}"
            )));
        }
        Ok(PixelWindow { x0: self.x0 + i64::from(x), y0: self.y0 + i64::from(y), width, height, ..*self })
    }

    /// The tiles overlapping the window.
    pub fn tiles(&self) -> TileRange {
        let (x0, y0) = (self.x0 as f64, self.y0 as f64);
        let end = [x0 + f64::from(self.width), y0 + f64::from(self.height)];
        TileRange::covering_pixels(self.zoom, self.tile_size, [x0, y0], end)
    }

    /// Raster pixel coordinates to `[lon, lat]` degrees (inverse Mercator: rows are not
    /// evenly spaced in latitude).
    pub fn pixel_to_lonlat(&self, x: f64, y: f64) -> [f64; 2] {
        mercator::pixel_to_lonlat(self.x0 as f64 + x, self.y0 as f64 + y, self.zoom, self.tile_size)
    }

    /// `[lon, lat]` degrees to raster pixel coordinates (outside the raster when the
    /// point is outside the window).
    pub fn lonlat_to_pixel(&self, lon: f64, lat: f64) -> [f64; 2] {
        let [x, y] = mercator::lonlat_to_pixel(lon, lat, self.zoom, self.tile_size);
        [x - self.x0 as f64, y - self.y0 as f64]
    }

    /// `[west, south, east, north]` of the window's outer edges, in degrees.
    pub fn bounds_lonlat(&self) -> [f64; 4] {
        let [west, north] = self.pixel_to_lonlat(0.0, 0.0);
        let [east, south] = self.pixel_to_lonlat(self.width.into(), self.height.into());
        [west, south, east, north]
    }

    /// `[min x, min y, max x, max y]` of the window's outer edges, in EPSG:3857 metres.
    pub fn bounds_3857(&self) -> [f64; 4] {
        let (x0, y0) = (self.x0 as f64, self.y0 as f64);
        let [min_x, max_y] = mercator::pixel_to_3857(x0, y0, self.zoom, self.tile_size);
        let [max_x, min_y] =
            mercator::pixel_to_3857(x0 + f64::from(self.width), y0 + f64::from(self.height), self.zoom, self.tile_size);
        [min_x, min_y, max_x, max_y]
    }
}

/// Edge of the world in pixels (at most 2^22 * 4096 = 2^34 for valid inputs).
fn world_px(zoom: u8, tile_size: u32) -> i64 {
    i64::try_from(tiles_per_side(zoom).saturating_mul(tile_size.into())).unwrap_or(i64::MAX)
}

/// A stitched raster and the window it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoRaster {
    /// Where the raster lies; use it to georeference pixels.
    pub window: PixelWindow,
    /// Width in pixels (`window.width`).
    pub width: u32,
    /// Height in pixels (`window.height`).
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

/// Builds a [`GeoRaster`] from decoded tiles, cropping each to the window.
#[derive(Debug)]
pub struct Stitcher {
    window: PixelWindow,
    rgb: Vec<u8>,
}

/// Where a tile and the window overlap: offsets into the tile and the raster, and size.
struct Overlap {
    tile_x: usize,
    tile_y: usize,
    raster_x: usize,
    raster_y: usize,
    width: usize,
    height: usize,
}

impl Stitcher {
    /// A raster for `window`, black (0, 0, 0) until tiles are put in. Fails when the window is
    /// invalid or larger than [`MAX_RASTER_PIXELS`].
    pub fn new(window: PixelWindow) -> Result<Self> {
        window.validate()?;
        let (w, h, z) = (window.width, window.height, window.zoom);
        let pixels = u64::from(w) * u64::from(h);
        let too_large = |why: &str| {
            Error::invalid_option(
                "zoom",
                format!("the area needs a {w} x {h} pixel raster at zoom {z}, {why}; lower the zoom or split the area"),
            )
        };
        if pixels > MAX_RASTER_PIXELS {
            return Err(too_large(&format!("more than the limit of {MAX_RASTER_PIXELS} pixels")));
        }
        let len = usize::try_from(pixels * 3).map_err(|_| too_large("more than this platform can address"))?;
        let mut rgb = Vec::new();
        rgb.try_reserve_exact(len).map_err(|_| too_large("more than the memory available"))?;
        rgb.resize(len, 0);
        Ok(Stitcher { window, rgb })
    }

    /// Copies the part of a decoded `width` x `height` RGBA tile that overlaps the window
    /// (alpha is dropped). Tiles outside the window are ignored.
    pub fn put_tile(&mut self, tile: TileId, rgba: &[u8], width: u32, height: u32) -> Result<()> {
        let size = self.window.tile_size;
        if (width, height) != (size, size) {
            return Err(Error::ImageDecode(format!(
                "tile {tile} is {width} x {height} pixels but the tile source's tileSize is {size}; \
                 set tileSize to the size of the server's tiles"
            )));
        }
        let expected = u64::from(width) * u64::from(height) * 4;
        if rgba.len() as u64 != expected {
            return Err(Error::ImageDecode(format!(
                "tile {tile}: {} bytes of pixel data, expected {expected} (RGBA, {width} x {height})",
                rgba.len()
            )));
        }
        let stride = size as usize * 4;
        self.blit(tile, |tile_row, tile_col, dst| {
            if let Some(src) = rgba.chunks_exact(stride).nth(tile_row) {
                for (d, s) in dst.chunks_exact_mut(3).zip(src.chunks_exact(4).skip(tile_col)) {
                    d.copy_from_slice(&s[..3]);
                }
            }
        })
    }

    /// Paints the part of `tile` that overlaps the window with `rgb`, for tiles that could
    /// not be loaded (they are black if neither this nor [`Stitcher::put_tile`] is called).
    pub fn fill_tile(&mut self, tile: TileId, rgb: [u8; 3]) -> Result<()> {
        self.blit(tile, |_, _, dst| dst.chunks_exact_mut(3).for_each(|p| p.copy_from_slice(&rgb)))
    }

    /// The finished raster.
    pub fn finish(self) -> GeoRaster {
        let Stitcher { window, rgb } = self;
        GeoRaster { window, width: window.width, height: window.height, rgb }
    }

    /// Calls `write_row(tile_row, tile_col, raster_pixels)` for each raster row `tile`
    /// overlaps, with the overlapping RGB pixels of that row.
    fn blit(&mut self, tile: TileId, mut write_row: impl FnMut(usize, usize, &mut [u8])) -> Result<()> {
        let Some(o) = self.overlap(tile)? else {
            return Ok(());
        };
        let stride = self.window.width as usize * 3;
        for (i, row) in self.rgb.chunks_exact_mut(stride).skip(o.raster_y).take(o.height).enumerate() {
            if let Some(dst) = row.get_mut(o.raster_x * 3..(o.raster_x + o.width) * 3) {
                write_row(o.tile_y + i, o.tile_x, dst);
            }
        }
        Ok(())
    }

    /// Where `tile` overlaps the window, if it does.
    fn overlap(&self, tile: TileId) -> Result<Option<Overlap>> {
        let w = &self.window;
        if tile.z != w.zoom || !tile.is_valid() {
            return Err(Error::Internal(format!(
                "tile {tile} is not a tile of this zoom-{} raster (x and y must be in 0..{}); \
                 wrap x across the antimeridian before stitching",
                w.zoom,
                tiles_per_side(w.zoom)
            )));
        }
        let size = i64::from(w.tile_size);
        let (tx, ty) = (i64::from(tile.x) * size, i64::from(tile.y) * size);
        let (left, right) = (tx.max(w.x0), (tx + size).min(w.x0 + i64::from(w.width)));
        let (top, bottom) = (ty.max(w.y0), (ty + size).min(w.y0 + i64::from(w.height)));
        if left >= right || top >= bottom {
            return Ok(None);
        }
        // All values are now non-negative and below the tile size or the window size.
        Ok(Some(Overlap {
            tile_x: (left - tx) as usize,
            tile_y: (top - ty) as usize,
            raster_x: (left - w.x0) as usize,
            raster_y: (top - w.y0) as usize,
            width: (right - left) as usize,
            height: (bottom - top) as usize,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Rect, coord};

    fn rect(west: f64, south: f64, east: f64, north: f64) -> Rect<f64> {
        Rect::new(coord! { x: west, y: south }, coord! { x: east, y: north })
    }

    /// A synthetic tile whose pixels encode their global position and the tile.
    fn tile_rgba(tile: TileId, size: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for j in 0..size {
            for i in 0..size {
                let (gx, gy) = (tile.x * size + i, tile.y * size + j);
                out.extend([(gx % 256) as u8, (gy % 256) as u8, tile_code(tile), 7]);
            }
        }
        out
    }

    fn tile_code(tile: TileId) -> u8 {
        ((tile.x * 31 + tile.y * 7) % 251) as u8
    }

    #[test]
    fn covering_floors_and_ceils() {
        let b = rect(2.29, 48.85, 2.30, 48.86);
        let w = PixelWindow::covering(b, 16, 256).unwrap();
        let nw = mercator::lonlat_to_pixel(2.29, 48.86, 16, 256);
        let se = mercator::lonlat_to_pixel(2.30, 48.85, 16, 256);
        assert_eq!((w.x0, w.y0), (nw[0].floor() as i64, nw[1].floor() as i64));
        assert_eq!(w.x0 + i64::from(w.width), se[0].ceil() as i64);
        assert_eq!(w.y0 + i64::from(w.height), se[1].ceil() as i64);
        w.validate().unwrap();
        // The window contains the bounds.
        let [west, south, east, north] = w.bounds_lonlat();
        assert!(west <= 2.29 && south <= 48.85 && east >= 2.30 && north >= 48.86);
        // A point is still one pixel; the whole world at zoom 0 is one tile.
        let p = PixelWindow::covering(rect(10.0, 10.0, 10.0, 10.0), 12, 512).unwrap();
        assert_eq!((p.width, p.height), (1, 1));
        let world = PixelWindow::covering(rect(-180.0, -90.0, 180.0, 90.0), 0, 256).unwrap();
        assert_eq!(world, PixelWindow { zoom: 0, tile_size: 256, x0: 0, y0: 0, width: 256, height: 256 });
        let east_edge = PixelWindow::covering(rect(180.0, 0.0, 180.0, 0.0), 1, 256).unwrap();
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
        let w = PixelWindow::covering(b, 5, 256).unwrap();
        assert_eq!(w, PixelWindow { zoom: 5, tile_size: 256, x0: 17 * 256, y0: 9 * 256, width: 512, height: 512 });
        assert_eq!(w.tiles(), TileRange { z: 5, x_min: 17, x_max: 18, y_min: 9, y_max: 10 });
        // Just past the edge pulls in the next column.
        let w = PixelWindow::covering(rect(b.min().x, b.min().y, b.max().x + 1e-4, b.max().y), 5, 256).unwrap();
        assert_eq!((w.tiles().x_max, w.tiles().count()), (19, 6));
        // Latitudes of tile edges carry floating point noise from the inverse projection;
        // it must not add a row of tiles anywhere.
        for z in [8, 13, 18] {
            for y in (0..(1u32 << z) - 3).step_by(1 << (z - 6)).chain([(1 << z) - 3]) {
                let w = PixelWindow::covering(edges(z, 3, y, 3), z, 256).unwrap();
                let want = TileRange { z, x_min: 3, x_max: 5, y_min: y, y_max: y + 2 };
                assert_eq!(w.tiles(), want, "z{z} y{y}");
            }
        }
    }

    #[test]
    fn covering_rejects_bad_input() {
        let b = rect(0.0, 0.0, 1.0, 1.0);
        assert!(matches!(PixelWindow::covering(b, 23, 256), Err(Error::ZoomOutOfRange { zoom: 23, .. })));
        assert!(matches!(PixelWindow::covering(b, 10, 200), Err(Error::InvalidOptions { .. })));
        let nan = rect(f64::NAN, 0.0, 1.0, 1.0);
        assert!(matches!(PixelWindow::covering(nan, 10, 256), Err(Error::InvalidPolygon(_))));
        // 2^34 pixels wide does not fit a raster.
        let world = rect(-180.0, -80.0, 180.0, 80.0);
        assert!(matches!(PixelWindow::covering(world, 22, 4096), Err(Error::InvalidOptions { .. })));
    }

    #[test]
    fn validate_and_sub_window() {
        let w = PixelWindow { zoom: 2, tile_size: 256, x0: 100, y0: 200, width: 300, height: 400 };
        w.validate().unwrap();
        for bad in [
            PixelWindow { width: 0, ..w },
            PixelWindow { x0: -1, ..w },
            PixelWindow { x0: 1024 - 299, ..w },
            PixelWindow { y0: 1024 - 399, ..w },
            PixelWindow { zoom: 30, ..w },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let s = w.sub_window(10, 20, 290, 380).unwrap();
        assert_eq!(s, PixelWindow { zoom: 2, tile_size: 256, x0: 110, y0: 220, width: 290, height: 380 });
        assert_eq!(s.pixel_to_lonlat(0.0, 0.0), w.pixel_to_lonlat(10.0, 20.0));
        assert!(w.sub_window(10, 20, 291, 380).is_err());
        assert!(w.sub_window(0, 0, 0, 1).is_err());
        assert!(w.sub_window(u32::MAX, 0, 1, 1).is_err());
        // Absurd hand-made windows are errors, never overflows.
        let absurd = PixelWindow { x0: i64::MAX, y0: i64::MIN, width: u32::MAX, ..w };
        assert!(absurd.validate().is_err() && absurd.sub_window(0, 0, 1, 1).is_err());
        assert!(absurd.tiles().iter().all(|t| t.is_valid()));
        assert!(absurd.bounds_3857().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn georef_round_trip_and_bounds() {
        let w = PixelWindow::covering(rect(24.90, 60.15, 24.99, 60.20), 17, 512).unwrap();
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
        let [ex_min_x, ex_min_y] = mercator::lonlat_to_3857(west, south);
        let [ex_max_x, ex_max_y] = mercator::lonlat_to_3857(east, north);
        for (got, want) in [(min_x, ex_min_x), (min_y, ex_min_y), (max_x, ex_max_x), (max_y, ex_max_y)] {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        // One pixel at zoom 17 / 512 is about 0.6 m at the equator, cos(60°) of that here.
        let px_m = (max_x - min_x) / f64::from(w.width);
        assert!((px_m - mercator::meters_per_pixel_at_equator(17, 512)).abs() < 1e-9);
    }

    /// Largest row error (in pixels) of mapping row centres to latitudes linearly between
    /// the raster's north and south edges, and of the inverse Mercator mapping.
    fn row_errors(zoom: u8, tiles_high: u32, lat: f64) -> (f64, f64) {
        let [x, y] = mercator::lonlat_to_pixel(10.0, lat, zoom, 256);
        let w = PixelWindow { zoom, tile_size: 256, x0: x as i64, y0: y as i64, width: 256, height: tiles_high * 256 };
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

    #[test]
    fn stitches_cropped_tiles_exactly() {
        // Windows that start and end mid-tile, for two tile sizes.
        for (size, x0, y0, width, height) in
            [(256, 300, 700, 600, 300), (128, 1000, 65, 129, 513), (256, 0, 0, 256, 256)]
        {
            let window = PixelWindow { zoom: 4, tile_size: size, x0, y0, width, height };
            let mut stitcher = Stitcher::new(window).unwrap();
            let range = window.tiles();
            let mut tiles: Vec<_> = range.iter().collect();
            tiles.reverse();
            for &t in &tiles {
                stitcher.put_tile(t, &tile_rgba(t, size), size, size).unwrap();
            }
            // A tile outside the window changes nothing.
            let outside = TileId { z: 4, x: 15, y: 15 };
            assert!(!range.contains(&outside));
            stitcher.put_tile(outside, &vec![255; (size * size * 4) as usize], size, size).unwrap();
            let raster = stitcher.finish();
            assert_eq!((raster.width, raster.height, raster.window), (width, height, window));
            assert_eq!(raster.rgb.len(), (width * height * 3) as usize);
            for r in 0..height {
                for c in 0..width {
                    let (gx, gy) = (x0 as u32 + c, y0 as u32 + r);
                    let tile = TileId { z: 4, x: gx / size, y: gy / size };
                    let want = [(gx % 256) as u8, (gy % 256) as u8, tile_code(tile)];
                    assert_eq!(raster.pixel(c, r), Some(want), "size {size}, pixel ({c}, {r})");
                }
            }
            assert_eq!(raster.pixel(width, 0), None);
            assert_eq!(raster.pixel(0, height), None);
        }
    }

    #[test]
    fn missing_tiles_are_filled() {
        let window = PixelWindow { zoom: 3, tile_size: 256, x0: 200, y0: 10, width: 100, height: 50 };
        let mut stitcher = Stitcher::new(window).unwrap();
        let (left, right) = (TileId { z: 3, x: 0, y: 0 }, TileId { z: 3, x: 1, y: 0 });
        assert_eq!(window.tiles().iter().collect::<Vec<_>>(), [left, right]);
        stitcher.fill_tile(left, [10, 20, 30]).unwrap();
        let raster = stitcher.finish();
        for c in 0..100 {
            let want = if c < 56 { [10, 20, 30] } else { [0, 0, 0] };
            assert_eq!(raster.pixel(c, 49), Some(want), "column {c}");
        }
    }

    #[test]
    fn bad_tiles_are_errors() {
        let window = PixelWindow { zoom: 3, tile_size: 256, x0: 200, y0: 10, width: 100, height: 50 };
        let mut stitcher = Stitcher::new(window).unwrap();
        let t = TileId { z: 3, x: 0, y: 0 };
        let good = tile_rgba(t, 256);
        assert!(matches!(stitcher.put_tile(t, &tile_rgba(t, 512), 512, 512), Err(Error::ImageDecode(_))));
        assert!(matches!(stitcher.put_tile(t, &good, 256, 128), Err(Error::ImageDecode(_))));
        assert!(matches!(stitcher.put_tile(t, &good[..good.len() - 1], 256, 256), Err(Error::ImageDecode(_))));
        assert!(matches!(stitcher.put_tile(t, &[], 256, 256), Err(Error::ImageDecode(_))));
        for bad in [TileId { z: 4, x: 0, y: 0 }, TileId { z: 3, x: 8, y: 0 }, TileId { z: 3, x: u32::MAX, y: 0 }] {
            assert!(matches!(stitcher.put_tile(bad, &good, 256, 256), Err(Error::Internal(_))), "{bad}");
            assert!(matches!(stitcher.fill_tile(bad, [1, 1, 1]), Err(Error::Internal(_))), "{bad}");
        }
        assert!(stitcher.finish().rgb.iter().all(|&v| v == 0), "failed puts must not write");
    }

    #[test]
    fn oversized_or_invalid_rasters_are_refused() {
        let huge = PixelWindow { zoom: 18, tile_size: 256, x0: 0, y0: 0, width: 8193, height: 8192 };
        let err = Stitcher::new(huge).unwrap_err();
        assert!(matches!(err, Error::InvalidOptions { .. }) && err.to_string().contains("split the area"), "{err}");
        assert!(Stitcher::new(PixelWindow { width: 8192, ..huge }).is_ok());
        assert!(Stitcher::new(PixelWindow { x0: -5, ..huge }).is_err());
    }
}
