//! [`Stitcher`]: decoded tiles -> one [`GeoRaster`], each tile cropped to the extent; and,
//! where someone watches ([`Stitcher::watch`]), the raster's rows as they become whole.

use std::collections::HashSet;
use std::ops::Range;

use super::decode::{DecodedTile, Layout};
use super::{GeoRaster, PixelExtent};
use crate::tiles::TileId;
use crate::{Error, Result};

/// Largest raster a [`Stitcher`] allocates (8192 x 8192 pixels, 192 MiB of RGB).
pub const MAX_RASTER_PIXELS: u64 = 1 << 26;

/// Builds a [`GeoRaster`] from decoded tiles, cropping each to the extent.
#[derive(Debug)]
pub struct Stitcher {
    extent: PixelExtent,
    rgb: Vec<u8>,
    watch: Option<Watch>,
}

/// Told of the raster's rows as they become whole, top to bottom, each row once: the raster
/// so far (rows below those may still change), its width in pixels, and the rows whole since
/// the last call.
pub type RowWatch = Box<dyn FnMut(&[u8], u32, Range<u32>)>;

/// A [`RowWatch`] and what it needs: the tiles settled, how many of each row's pixels they
/// cover, and the rows whole so far.
struct Watch {
    told: RowWatch,
    settled: HashSet<TileId>,
    covered: Vec<u32>,
    whole: u32,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Watch({} tiles settled, {} rows whole)", self.settled.len(), self.whole)
    }
}

/// Where a tile and the extent overlap: offsets into the tile and the raster, and size.
struct Overlap {
    tile_x: usize,
    tile_y: usize,
    raster_x: usize,
    raster_y: usize,
    width: usize,
    height: usize,
}

impl Stitcher {
    /// A raster for `extent`, black (0, 0, 0) until tiles are put in. Fails when the extent is
    /// invalid or larger than [`MAX_RASTER_PIXELS`].
    pub fn new(extent: PixelExtent) -> Result<Self> {
        extent.validate()?;
        let (w, h, at) = (extent.width, extent.height, extent.grid.describe());
        let pixels = u64::from(w) * u64::from(h);
        let too_large = |why: &str| {
            Error::invalid_option(
                "zoom",
                format!("the area needs a {w} x {h} pixel raster at {at}, {why}; lower the zoom or split the area"),
            )
        };
        if pixels > MAX_RASTER_PIXELS {
            return Err(too_large(&format!("more than the limit of {MAX_RASTER_PIXELS} pixels")));
        }
        let len = usize::try_from(pixels * 3).map_err(|_| too_large("more than this platform can address"))?;
        let mut rgb = super::buffers::take(len).map_err(|_| too_large("more than the memory available"))?;
        rgb.resize(len, 0);
        Ok(Stitcher { extent, rgb, watch: None })
    }

    /// From now on, tell `told` of the rows that become whole: those whose every pixel lies
    /// in a tile put in ([`Stitcher::put_tile`], [`Stitcher::fill_tile`]) or given up
    /// ([`Stitcher::skip_tile`]). [`Stitcher::finish`] tells it of the rows left, so it sees
    /// every row once, in order (a row that no tile covers is whole only then).
    pub fn watch(&mut self, told: RowWatch) {
        let covered = vec![0; self.extent.height as usize];
        self.watch = Some(Watch { told, settled: HashSet::new(), covered, whole: 0 });
    }

    /// `tile` will not be put in (it is empty, or could not be loaded): its pixels stay as
    /// they are, and the rows it covers may be whole without it.
    pub fn skip_tile(&mut self, tile: TileId) -> Result<()> {
        self.settled(tile)
    }

    /// `tile`'s pixels are final: count them into their rows, and tell the watch of the rows
    /// that became whole.
    fn settled(&mut self, tile: TileId) -> Result<()> {
        let Some(watch) = self.watch.as_mut() else { return Ok(()) };
        if !watch.settled.insert(tile) {
            return Ok(());
        }
        let Some(o) = self.overlap(tile)? else { return Ok(()) };
        let Some(watch) = self.watch.as_mut() else { return Ok(()) };
        for row in &mut watch.covered[o.raster_y..o.raster_y + o.height] {
            *row += o.width as u32;
        }
        let before = watch.whole;
        while watch.covered.get(watch.whole as usize).is_some_and(|&c| c >= self.extent.width) {
            watch.whole += 1;
        }
        if watch.whole > before {
            (watch.told)(&self.rgb, self.extent.width, before..watch.whole);
        }
        Ok(())
    }

    /// Fails unless a decoded tile is `width` x `height` = the extent's tile size (for an
    /// image's tiles at its right and bottom edges, cropped to the image).
    pub fn check_tile_size(extent: &PixelExtent, tile: TileId, width: u32, height: u32) -> Result<()> {
        let (expected_w, expected_h) = extent.grid.tile_dims(tile);
        if (width, height) != (expected_w, expected_h) {
            if let crate::imagery::Grid::Image(_) = extent.grid {
                return Err(Error::ImageDecode(format!(
                    "tile {tile} of the COG decoded to {width} x {height} pixels, expected {expected_w} x {expected_h}"
                )));
            }
            let size = extent.grid.tile_size();
            return Err(Error::ImageDecode(format!(
                "tile {tile} is {width} x {height} pixels but the tile source's tileSize is {size}; \
                 set tileSize to the size of the server's tiles"
            )));
        }
        Ok(())
    }

    /// Copies the part of a decoded tile that overlaps the extent: an RGB tile's rows as they
    /// are, an RGBA tile's without alpha. Tiles outside the extent are ignored.
    pub fn put_tile(&mut self, tile: TileId, decoded: &DecodedTile) -> Result<()> {
        let DecodedTile { pixels, layout, width, height } = decoded;
        Self::check_tile_size(&self.extent, tile, *width, *height)?;
        let channels = layout.channels();
        let expected = u64::from(*width) * u64::from(*height) * channels as u64;
        if pixels.len() as u64 != expected {
            return Err(Error::ImageDecode(format!(
                "tile {tile}: {} bytes of pixel data, expected {expected} ({layout:?}, {width} x {height})",
                pixels.len()
            )));
        }
        let stride = *width as usize * channels;
        self.blit_settled(tile, |tile_row, tile_col, dst| {
            let Some(src) = pixels.get(tile_row * stride..(tile_row + 1) * stride) else { return };
            match layout {
                Layout::Rgb => {
                    if let Some(src) = src.get(tile_col * 3..tile_col * 3 + dst.len()) {
                        dst.copy_from_slice(src);
                    }
                }
                Layout::Rgba => {
                    for (d, s) in dst.chunks_exact_mut(3).zip(src.chunks_exact(4).skip(tile_col)) {
                        d.copy_from_slice(&s[..3]);
                    }
                }
            }
        })
    }

    /// Paints the part of `tile` that overlaps the extent with `rgb`, for tiles that could
    /// not be loaded (they are black if neither this nor [`Stitcher::put_tile`] is called).
    pub fn fill_tile(&mut self, tile: TileId, rgb: [u8; 3]) -> Result<()> {
        self.blit_settled(tile, |_, _, dst| dst.chunks_exact_mut(3).for_each(|p| p.copy_from_slice(&rgb)))
    }

    /// The finished raster (the watch, if any, told of the rows it has not seen yet).
    pub fn finish(self) -> GeoRaster {
        let Stitcher { extent, rgb, watch } = self;
        if let Some(mut watch) = watch
            && watch.whole < extent.height
        {
            (watch.told)(&rgb, extent.width, watch.whole..extent.height);
        }
        GeoRaster { extent, width: extent.width, height: extent.height, rgb }
    }

    /// [`Stitcher::blit`], then `tile` is settled.
    fn blit_settled(&mut self, tile: TileId, write_row: impl FnMut(usize, usize, &mut [u8])) -> Result<()> {
        self.blit(tile, write_row)?;
        self.settled(tile)
    }

    /// Calls `write_row(tile_row, tile_col, raster_pixels)` for each raster row `tile`
    /// overlaps, with the overlapping RGB pixels of that row.
    fn blit(&mut self, tile: TileId, mut write_row: impl FnMut(usize, usize, &mut [u8])) -> Result<()> {
        let Some(o) = self.overlap(tile)? else {
            return Ok(());
        };
        let stride = self.extent.width as usize * 3;
        for (i, row) in self.rgb.chunks_exact_mut(stride).skip(o.raster_y).take(o.height).enumerate() {
            if let Some(dst) = row.get_mut(o.raster_x * 3..(o.raster_x + o.width) * 3) {
                write_row(o.tile_y + i, o.tile_x, dst);
            }
        }
        Ok(())
    }

    /// Where `tile` overlaps the extent, if it does.
    fn overlap(&self, tile: TileId) -> Result<Option<Overlap>> {
        let w = &self.extent;
        if !w.grid.has_tile(tile) {
            let (across, down) = w.grid.tiles_across();
            return Err(Error::Internal(format!(
                "tile {tile} is not a tile of this raster at {} (x in 0..{across}, y in 0..{down}); \
                 wrap x across the antimeridian before stitching",
                w.grid.describe()
            )));
        }
        let (tile_w, tile_h) = w.grid.tile_dims(tile);
        // In raster pixels: the tile's top-left corner, and its part inside the raster.
        let (tx, ty) = w.tile_offset(tile);
        let (left, right) = (tx.max(0), (tx + i64::from(tile_w)).min(i64::from(w.width)));
        let (top, bottom) = (ty.max(0), (ty + i64::from(tile_h)).min(i64::from(w.height)));
        if left >= right || top >= bottom {
            return Ok(None);
        }
        // All values are now non-negative and below the tile size or the extent size.
        Ok(Some(Overlap {
            tile_x: (left - tx) as usize,
            tile_y: (top - ty) as usize,
            raster_x: left as usize,
            raster_y: top as usize,
            width: (right - left) as usize,
            height: (bottom - top) as usize,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The same tile without its alpha.
    fn as_rgb(tile: &DecodedTile) -> DecodedTile {
        let rgb = tile.pixels.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        DecodedTile { pixels: rgb, layout: Layout::Rgb, ..*tile }
    }

    fn tile_code(tile: TileId) -> u8 {
        ((tile.x * 31 + tile.y * 7) % 251) as u8
    }

    #[test]
    fn stitches_cropped_tiles_exactly() {
        // Extents that start and end mid-tile, for two tile sizes.
        for (size, x0, y0, width, height) in
            [(256, 300, 700, 600, 300), (128, 1000, 65, 129, 513), (256, 0, 0, 256, 256)]
        {
            let extent = PixelExtent::mercator(4, size, x0, y0, width, height);
            let mut stitcher = Stitcher::new(extent).unwrap();
            let range = extent.tiles();
            let mut tiles: Vec<_> = range.iter().collect();
            tiles.reverse();
            // RGBA tiles (alpha dropped) and RGB ones (rows copied as they are) alternately.
            for (i, &t) in tiles.iter().enumerate() {
                let rgba = DecodedTile::from_rgba(tile_rgba(t, size), size, size);
                let tile = if i % 2 == 0 { rgba } else { as_rgb(&rgba) };
                stitcher.put_tile(t, &tile).unwrap();
            }
            // A tile outside the extent changes nothing.
            let outside = TileId { z: 4, x: 15, y: 15 };
            assert!(!range.contains(&outside));
            stitcher
                .put_tile(outside, &DecodedTile::from_rgba(vec![255; (size * size * 4) as usize], size, size))
                .unwrap();
            let raster = stitcher.finish();
            assert_eq!((raster.width, raster.height, raster.extent), (width, height, extent));
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
        let extent = PixelExtent::mercator(3, 256, 200, 10, 100, 50);
        let mut stitcher = Stitcher::new(extent).unwrap();
        let (left, right) = (TileId { z: 3, x: 0, y: 0 }, TileId { z: 3, x: 1, y: 0 });
        assert_eq!(extent.tiles().iter().collect::<Vec<_>>(), [left, right]);
        stitcher.fill_tile(left, [10, 20, 30]).unwrap();
        let raster = stitcher.finish();
        for c in 0..100 {
            let want = if c < 56 { [10, 20, 30] } else { [0, 0, 0] };
            assert_eq!(raster.pixel(c, 49), Some(want), "column {c}");
        }
    }

    /// The watch hears of each row once, in order, when every tile over it has settled (put,
    /// filled or skipped), and of the rest at the end; a failed put settles nothing.
    #[test]
    fn rows_are_told_as_they_become_whole() {
        use std::cell::RefCell;
        use std::rc::Rc;
        // Tile columns 0..3 and rows 0..3 of zoom 3, cropped: raster rows 0..246 in tile row 0,
        // 246..502 in row 1, 502..600 in row 2.
        let extent = PixelExtent::mercator(3, 256, 200, 10, 400, 600);
        let mut stitcher = Stitcher::new(extent).unwrap();
        let told = Rc::new(RefCell::new(Vec::new()));
        let log = told.clone();
        stitcher.watch(Box::new(move |rgb, width, rows| {
            assert_eq!((rgb.len(), width), (400 * 600 * 3, 400));
            // The rows told are in the raster already.
            let first = &rgb[rows.start as usize * 1200..][..3];
            log.borrow_mut().push((rows, first.to_vec()));
        }));
        let tile = |x, y| TileId { z: 3, x, y };
        let put = |s: &mut Stitcher, t: TileId| s.put_tile(t, &DecodedTile::from_rgba(tile_rgba(t, 256), 256, 256));
        put(&mut stitcher, tile(0, 0)).unwrap();
        put(&mut stitcher, tile(1, 0)).unwrap();
        put(&mut stitcher, tile(0, 2)).unwrap();
        assert!(told.borrow().is_empty(), "no row is whole yet");
        assert!(put(&mut stitcher, TileId { z: 3, x: 2, y: 9 }).is_err());
        assert!(told.borrow().is_empty(), "a failed put settles nothing");
        stitcher.skip_tile(tile(2, 0)).unwrap();
        assert_eq!(told.borrow().len(), 1);
        assert_eq!(told.borrow()[0], (0..246, vec![200, 10, tile_code(tile(0, 0))]));
        stitcher.fill_tile(tile(1, 1), [9, 9, 9]).unwrap();
        stitcher.fill_tile(tile(1, 1), [9, 9, 9]).unwrap(); // again: counted once
        put(&mut stitcher, tile(0, 1)).unwrap();
        assert_eq!(told.borrow().len(), 1, "tile (2, 1) is still out");
        stitcher.skip_tile(tile(2, 1)).unwrap();
        assert_eq!(told.borrow()[1].0, 246..502);
        let raster = stitcher.finish();
        assert_eq!(told.borrow()[2].0, 502..600, "the rest, at the end");
        assert_eq!(told.borrow().len(), 3);
        assert_eq!(raster.pixel(300, 300), Some([9, 9, 9]));
    }

    #[test]
    fn bad_tiles_are_errors() {
        let extent = PixelExtent::mercator(3, 256, 200, 10, 100, 50);
        let mut stitcher = Stitcher::new(extent).unwrap();
        let t = TileId { z: 3, x: 0, y: 0 };
        let good = DecodedTile::from_rgba(tile_rgba(t, 256), 256, 256);
        let with =
            |pixels: &[u8], layout, width, height| DecodedTile { pixels: pixels.to_vec(), layout, width, height };
        let bad_tiles = [
            DecodedTile::from_rgba(tile_rgba(t, 512), 512, 512),
            with(&good.pixels, Layout::Rgba, 256, 128),
            with(&good.pixels[..good.pixels.len() - 1], Layout::Rgba, 256, 256),
            with(&[], Layout::Rgba, 256, 256),
            with(&good.pixels, Layout::Rgb, 256, 256), // RGBA samples said to be RGB
        ];
        for tile in &bad_tiles {
            assert!(matches!(stitcher.put_tile(t, tile), Err(Error::ImageDecode(_))));
        }
        for bad in [TileId { z: 4, x: 0, y: 0 }, TileId { z: 3, x: 8, y: 0 }, TileId { z: 3, x: u32::MAX, y: 0 }] {
            assert!(matches!(stitcher.put_tile(bad, &good), Err(Error::Internal(_))), "{bad}");
            assert!(matches!(stitcher.fill_tile(bad, [1, 1, 1]), Err(Error::Internal(_))), "{bad}");
        }
        assert!(stitcher.finish().rgb.iter().all(|&v| v == 0), "failed puts must not write");
    }

    #[test]
    fn oversized_or_invalid_rasters_are_refused() {
        let huge = PixelExtent::mercator(18, 256, 0, 0, 8193, 8192);
        let err = Stitcher::new(huge).unwrap_err();
        assert!(matches!(err, Error::InvalidOptions { .. }) && err.to_string().contains("split the area"), "{err}");
        assert!(Stitcher::new(PixelExtent { width: 8192, ..huge }).is_ok());
        assert!(Stitcher::new(PixelExtent { x0: -5, ..huge }).is_err());
    }
}
