//! [`Cog`]: an open Cloud-Optimized GeoTIFF. Opening reads the header (every IFD and the tag
//! values the reader needs) with as few range requests as the file allows, and keeps the
//! levels (the full resolution and its overviews), the georeferencing and the bytes it read;
//! tiles and windows are then read with one request per run of nearby tiles.

use futures::future::try_join_all;

use super::affine::Affine;
use super::decode;
use super::error::CogError;
use super::fetch::{ReadOptions, checked, coalesce};
use super::georef::Georef;
use super::ifd::{Parse, parse_chain};
use super::level::Level;
use super::raster::RgbaImage;
use super::sparse::SparseBytes;
use crate::tiles::fetch::RangeRead;

/// Reads of the header beyond the first, at most (each twice as long as the one before).
const MAX_HEADER_READS: usize = 16;
/// The longest single header read.
const MAX_HEADER_READ: usize = 16 * 1024 * 1024;
/// The most header bytes read in all (a BigTIFF COG with a million tiles per level has 16 MiB
/// of tile offsets and byte counts in its first IFD).
const MAX_HEADER_BYTES: usize = 64 * 1024 * 1024;
/// The most pixels one window may have (256 MiB of RGBA).
pub const MAX_WINDOW_PIXELS: u64 = 1 << 26;

/// An open COG over a [`RangeRead`].
pub struct Cog<R> {
    reader: R,
    options: ReadOptions,
    version: Option<String>,
    levels: Vec<Level>,
    georef: Result<Georef, CogError>,
    nodata: Option<String>,
    masks: usize,
    header: SparseBytes,
    header_reads: usize,
}

impl<R> std::fmt::Debug for Cog<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cog")
            .field("levels", &self.levels.iter().map(|l| (l.width(), l.height())).collect::<Vec<_>>())
            .field("georef", &self.georef.as_ref().map(|g| g.keys()))
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl<R: RangeRead> Cog<R> {
    /// Opens the COG with the default [`ReadOptions`].
    pub async fn open(reader: R) -> Result<Self, CogError> {
        Self::open_with(reader, ReadOptions::default()).await
    }

    /// Opens the COG: reads `options.header_bytes` from the start, then, only where the header
    /// goes on past what was read (an IFD or a tag value further on), from there: twice as
    /// much each time. Refuses, with the reason, files that are not TIFFs or that this reader
    /// does not read (see [`Level::from_ifd`]). A file without usable georeferencing opens;
    /// its georeferencing calls fail with the reason.
    pub async fn open_with(reader: R, options: ReadOptions) -> Result<Self, CogError> {
        let mut bytes = SparseBytes::new();
        let first_len = options.header_bytes.max(16);
        let first = reader.read(0, first_len).await?;
        let version = first.version.clone();
        bytes.insert(0, first.bytes, first_len);
        let mut reads = 1;
        let mut next_len = first_len;
        let ifds = loop {
            match parse_chain(&bytes) {
                Ok(ifds) => break ifds,
                Err(Parse::Invalid(e)) => return Err(e),
                Err(Parse::Need(offset)) => {
                    if reads > MAX_HEADER_READS
                        || bytes.held() + next_len > MAX_HEADER_BYTES
                        || bytes.contains(offset, 1)
                    {
                        return Err(CogError::NotTiff(format!(
                            "the header goes on past {reads} reads ({} bytes)",
                            bytes.held()
                        )));
                    }
                    let read = reader.read(offset, next_len).await?;
                    if let (Some(was), Some(now)) = (&version, &read.version)
                        && was != now
                    {
                        return Err(CogError::Changed { was: was.clone(), now: now.clone() });
                    }
                    bytes.insert(offset, read.bytes, next_len);
                    reads += 1;
                    next_len = next_len.saturating_mul(2).min(MAX_HEADER_READ);
                }
            }
        };
        let Some(main) = ifds.iter().find(|i| !i.is_mask() && !i.is_overview()) else {
            return Err(CogError::NotTiff("no full-resolution image (every IFD is an overview or a mask)".into()));
        };
        let full = Level::from_ifd(main)?;
        let mut overviews = Vec::new();
        for ifd in ifds.iter().filter(|i| i.is_overview()) {
            let level = Level::from_ifd(ifd)?;
            if level.width() < full.width() || level.height() < full.height() {
                overviews.push(level);
            }
        }
        overviews.sort_by_key(|l| std::cmp::Reverse((l.width(), l.height())));
        overviews.dedup_by_key(|l| (l.width(), l.height()));
        let mut levels = vec![full];
        levels.extend(overviews);
        let first_ifd = ifds.first();
        let georef =
            first_ifd.map_or_else(|| Err(CogError::Georef("no IFD".into())), |ifd| Georef::from_tags(&ifd.geo));
        Ok(Cog {
            reader,
            options,
            version,
            levels,
            georef,
            nodata: first_ifd.and_then(|i| i.nodata.clone()),
            masks: ifds.iter().filter(|i| i.is_mask()).count(),
            header: bytes,
            header_reads: reads,
        })
    }

    /// The levels: 0 is the full resolution, then the overviews, largest first.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// Level `level`, or an error naming the levels there are.
    pub fn level(&self, level: usize) -> Result<&Level, CogError> {
        self.levels.get(level).ok_or_else(|| {
            CogError::OutOfRange(format!("level {level}; the image has levels 0..={}", self.levels.len() - 1))
        })
    }

    /// Full-resolution width in pixels.
    pub fn width(&self) -> u32 {
        self.levels[0].width()
    }

    /// Full-resolution height in pixels.
    pub fn height(&self) -> u32 {
        self.levels[0].height()
    }

    /// The georeferencing, or why there is none usable.
    pub fn georef(&self) -> Result<&Georef, CogError> {
        self.georef.as_ref().map_err(Clone::clone)
    }

    /// GDAL's no-data value (`GDAL_NODATA`), as written. Not applied to the pixels.
    pub fn nodata(&self) -> Option<&str> {
        self.nodata.as_deref()
    }

    /// How many transparency masks the file has (not read).
    pub fn mask_count(&self) -> usize {
        self.masks
    }

    /// The file's version (ETag) when it was opened, if the host saw one.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// How many range requests opening took.
    pub fn header_reads(&self) -> usize {
        self.header_reads
    }

    /// The reader.
    pub fn reader(&self) -> &R {
        &self.reader
    }

    /// The affine of `level`: its pixel (corner-based) → CRS coordinates. Overviews scale the
    /// full resolution's by the ratio of the sizes, as GDAL does.
    pub fn level_affine(&self, level: usize) -> Result<Affine, CogError> {
        let l = self.level(level)?;
        let affine = self.georef()?.affine();
        let sx = f64::from(self.width()) / f64::from(l.width());
        let sy = f64::from(self.height()) / f64::from(l.height());
        Ok(affine.scaled(sx, sy))
    }

    /// WGS 84 `(lon, lat)` of pixel position `(x, y)` of `level` (corner-based: `(0.5, 0.5)`
    /// is the centre of the top-left pixel).
    pub fn pixel_to_lonlat(&self, level: usize, x: f64, y: f64) -> Result<(f64, f64), CogError> {
        self.georef()?.pixel_to_lonlat(&self.level_affine(level)?, x, y)
    }

    /// Pixel position `(x, y)` of `level` at WGS 84 `(lon, lat)`.
    pub fn lonlat_to_pixel(&self, level: usize, lon: f64, lat: f64) -> Result<(f64, f64), CogError> {
        self.georef()?.lonlat_to_pixel(&self.level_affine(level)?, lon, lat)
    }

    /// Metres on the ground per pixel of `level`, at the image's centre (measured on the WGS 84
    /// ellipsoid: true metres also for Web Mercator and lon/lat images).
    pub fn ground_resolution(&self, level: usize) -> Result<f64, CogError> {
        let l = self.level(level)?;
        let (cx, cy) = (f64::from(l.width()) / 2.0, f64::from(l.height()) / 2.0);
        self.georef()?.ground_resolution_at(&self.level_affine(level)?, cx, cy)
    }

    /// The level to read for `metres_per_pixel`: the coarsest level that is not coarser than
    /// asked (1 % tolerance, for overview sizes rounded to whole pixels); the full resolution
    /// when even that is coarser than asked.
    pub fn level_for_resolution(&self, metres_per_pixel: f64) -> Result<usize, CogError> {
        if !(metres_per_pixel.is_finite() && metres_per_pixel > 0.0) {
            return Err(CogError::OutOfRange(format!("resolution {metres_per_pixel} m/px")));
        }
        let mut best = 0;
        let mut best_res = self.ground_resolution(0)?;
        for level in 1..self.levels.len() {
            let res = self.ground_resolution(level)?;
            if res <= metres_per_pixel * 1.01 && res > best_res {
                best = level;
                best_res = res;
            }
        }
        Ok(best)
    }

    /// The byte range `(offset, length)` of tile `(tx, ty)` of `level`, to fetch with another
    /// scheduler and give to [`Cog::decode_tile`]; `None` outside the levels or the grid and
    /// for an absent tile (GDAL's sparse tiles: no data there).
    pub fn tile_range(&self, level: usize, tx: u32, ty: u32) -> Option<(u64, u64)> {
        self.levels.get(level)?.tile_range(tx, ty)
    }

    /// Decodes tile `(tx, ty)` of `level` from its bytes (those of [`Cog::tile_range`]):
    /// RGBA, cropped to the image at the right and bottom edges.
    pub fn decode_tile(&self, level: usize, tx: u32, ty: u32, bytes: &[u8]) -> Result<RgbaImage, CogError> {
        let l = self.level(level)?;
        let full = self.decode_full_tile(level, l, tx, ty, bytes)?;
        let (_, _, w, h) = l.tile_rect(tx, ty);
        Ok(full.crop(0, 0, w, h))
    }

    fn decode_full_tile(&self, level: usize, l: &Level, tx: u32, ty: u32, bytes: &[u8]) -> Result<RgbaImage, CogError> {
        let format = l.format();
        let data = decode::decode_tile(format, bytes).map_err(|reason| CogError::Decode { level, tx, ty, reason })?;
        Ok(RgbaImage { width: format.tile_width, height: format.tile_height, data })
    }

    /// Reads and decodes tile `(tx, ty)` of `level`: RGBA cropped to the image, `None` for an
    /// absent tile.
    pub async fn read_tile(&self, level: usize, tx: u32, ty: u32) -> Result<Option<RgbaImage>, CogError> {
        let l = self.level(level)?;
        if tx >= l.tiles_across() || ty >= l.tiles_down() {
            return Err(CogError::OutOfRange(format!(
                "tile ({tx}, {ty}) of level {level}, whose grid is {} x {}",
                l.tiles_across(),
                l.tiles_down()
            )));
        }
        let Some(range) = l.tile_range(tx, ty) else { return Ok(None) };
        let mut bytes = self.fetch(level, &[range]).await?;
        let bytes = bytes.pop().unwrap_or_default();
        self.decode_tile(level, tx, ty, &bytes).map(Some)
    }

    /// The tiles of `level` (column, row) that the window `(x0, y0, width, height)` touches,
    /// present or absent.
    pub fn tiles_in_window(
        &self,
        level: usize,
        x0: i64,
        y0: i64,
        width: u32,
        height: u32,
    ) -> Result<Vec<(u32, u32)>, CogError> {
        let l = self.level(level)?;
        let Some((ix0, iy0, ix1, iy1)) = clip(l, x0, y0, width, height) else { return Ok(Vec::new()) };
        let (tw, th) = (l.tile_width(), l.tile_height());
        let mut tiles = Vec::new();
        for ty in iy0 / th..=(iy1 - 1) / th {
            for tx in ix0 / tw..=(ix1 - 1) / tw {
                tiles.push((tx, ty));
            }
        }
        Ok(tiles)
    }

    /// The `width × height` pixels of `level` from `(x0, y0)` (which may lie outside the
    /// image) as RGBA: the tiles it touches are fetched (nearby ones in one request, those
    /// inside the bytes read at open not at all), decoded and copied in. Outside the image and
    /// where tiles are absent the window is transparent black.
    pub async fn read_window(
        &self,
        level: usize,
        x0: i64,
        y0: i64,
        width: u32,
        height: u32,
    ) -> Result<RgbaImage, CogError> {
        let l = self.level(level)?;
        if u64::from(width) * u64::from(height) > MAX_WINDOW_PIXELS {
            return Err(CogError::OutOfRange(format!(
                "a window of {width} x {height} pixels (at most {MAX_WINDOW_PIXELS} pixels)"
            )));
        }
        let mut out = RgbaImage::transparent(width, height);
        let tiles: Vec<(u32, u32, (u64, u64))> = self
            .tiles_in_window(level, x0, y0, width, height)?
            .into_iter()
            .filter_map(|(tx, ty)| l.tile_range(tx, ty).map(|r| (tx, ty, r)))
            .collect();
        let ranges: Vec<(u64, u64)> = tiles.iter().map(|t| t.2).collect();
        let bytes = self.fetch(level, &ranges).await?;
        for ((tx, ty, _), bytes) in tiles.iter().zip(bytes) {
            let tile = self.decode_full_tile(level, l, *tx, *ty, &bytes)?;
            let (x, y, w, h) = l.tile_rect(*tx, *ty);
            // The part of the tile inside both the image and the window.
            let left = i64::from(x).max(x0);
            let top = i64::from(y).max(y0);
            let right = (i64::from(x) + i64::from(w)).min(x0.saturating_add(i64::from(width)));
            let bottom = (i64::from(y) + i64::from(h)).min(y0.saturating_add(i64::from(height)));
            if left >= right || top >= bottom {
                continue;
            }
            out.copy_from(
                &tile,
                (left - i64::from(x)) as u32,
                (top - i64::from(y)) as u32,
                (left - x0) as u32,
                (top - y0) as u32,
                (right - left) as u32,
                (bottom - top) as u32,
            );
        }
        Ok(out)
    }

    /// The bytes of each range: from those read at open where they are inside, the rest in
    /// coalesced requests, all at once.
    async fn fetch(&self, level: usize, ranges: &[(u64, u64)]) -> Result<Vec<Vec<u8>>, CogError> {
        let l = self.level(level)?;
        let f = l.format();
        // A tile's bytes beyond 4 × its raw size (+ 64 KiB) is an index that lies.
        let plausible = u64::from(f.tile_width) * u64::from(f.tile_height) * u64::from(f.samples) * 4 + 65536;
        let mut out: Vec<Vec<u8>> = vec![Vec::new(); ranges.len()];
        let mut wanted: Vec<usize> = Vec::new();
        for (i, &(offset, length)) in ranges.iter().enumerate() {
            if length > plausible {
                return Err(CogError::NotTiff(format!(
                    "a tile of level {level} claims {length} bytes, more than a {}x{} tile can take",
                    f.tile_width, f.tile_height
                )));
            }
            match self.header.slice(offset, length) {
                Some(bytes) => out[i] = bytes.to_vec(),
                None => wanted.push(i),
            }
        }
        let wanted_ranges: Vec<(u64, u64)> = wanted.iter().map(|&i| ranges[i]).collect();
        let spans = coalesce(&wanted_ranges, self.options.max_gap, self.options.max_request);
        let reads = spans.iter().map(|span| async move {
            let length = usize::try_from(span.length)
                .map_err(|_| CogError::OutOfRange(format!("a read of {} bytes", span.length)))?;
            let read = self.reader.read(span.offset, length).await?;
            checked(read, span.offset, span.length, self.version.as_deref())
        });
        let results = try_join_all(reads).await?;
        for (span, bytes) in spans.iter().zip(results) {
            for &m in &span.members {
                let (offset, length) = wanted_ranges[m];
                let start = (offset - span.offset) as usize;
                out[wanted[m]] = bytes[start..start + length as usize].to_vec();
            }
        }
        Ok(out)
    }
}

/// The window `(x0, y0, width, height)` clipped to the level: `(x0, y0, x1, y1)` exclusive,
/// or `None` when nothing is left.
fn clip(l: &Level, x0: i64, y0: i64, width: u32, height: u32) -> Option<(u32, u32, u32, u32)> {
    let ix0 = x0.max(0);
    let iy0 = y0.max(0);
    let ix1 = (x0.saturating_add(i64::from(width))).min(i64::from(l.width()));
    let iy1 = (y0.saturating_add(i64::from(height))).min(i64::from(l.height()));
    if ix0 >= ix1 || iy0 >= iy1 {
        return None;
    }
    Some((ix0 as u32, iy0 as u32, ix1 as u32, iy1 as u32))
}
