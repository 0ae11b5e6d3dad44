//! The native host (not wasm): tiles read from a directory of `{z}/{x}/{y}.png` files, a
//! local PMTiles archive or a local COG, and a wall-clock [`Hooks`]. The CLI and the native tests run the
//! same [`crate::pipeline`] as the browser through these.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::host::{DecodedTile, FetchedTiles, Hooks, Stage, TileProvider};
use crate::imagery::ImageGrid;
use crate::imagery::cog::CogSource;
use crate::imagery::decode::decode_image;
use crate::tiles::fetch::{FetchAttemptError, FetchPolicy, RangeBytes, RangeRead, fetch_tiles};
use crate::tiles::pmtiles::Archive;
use crate::tiles::{TileId, TileSource};
use crate::{Error, Result};

/// Decode a map tile (PNG, JPEG or WebP) into RGB8 or RGBA8 with the code the browser worker
/// uses, [`decode_image`].
pub fn decode_tile(bytes: &[u8]) -> Result<DecodedTile> {
    decode_image(bytes)
        .map_err(Error::ImageDecode)?
        .ok_or_else(|| Error::ImageDecode("the bytes are not a PNG, JPEG or WebP image".to_owned()))
}

/// Decode a whole image file (any format the `image` crate was built with: PNG) into RGB8
/// `(width, height, bytes)`.
pub fn read_rgb(path: &Path) -> Result<(u32, u32, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::ImageDecode(format!("{}: {e}", path.display())))?;
    let img = image::load_from_memory(&bytes).map_err(|e| Error::ImageDecode(format!("{}: {e}", path.display())))?;
    let rgb = img.into_rgb8();
    Ok((rgb.width(), rgb.height(), rgb.into_raw()))
}

/// Tiles from a local directory laid out `{z}/{x}/{y}.png`; a missing file is a missing tile.
#[derive(Debug, Clone)]
pub struct DirTiles {
    root: PathBuf,
}

impl DirTiles {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, tile: TileId) -> PathBuf {
        self.root.join(tile.z.to_string()).join(tile.x.to_string()).join(format!("{}.png", tile.y))
    }
}

impl TileProvider for DirTiles {
    async fn fetch<H: Hooks>(&self, _source: &TileSource, tiles: Vec<TileId>, hooks: &H) -> Result<FetchedTiles> {
        let read = |tile: TileId, _attempt: u32| {
            let path = self.path(tile);
            async move { std::fs::read(&path).map_err(|e| FetchAttemptError::Permanent(format!("{}: {e}", path.display()))) }
        };
        read_one_by_one(tiles, read, hooks).await
    }

    async fn decode(&self, _source: &TileSource, _tile: TileId, bytes: &[u8]) -> Result<DecodedTile, String> {
        decode_tile(bytes).map_err(|e| e.to_string())
    }
}

/// Local tiles through the scheduler: one at a time, no waits between retries (a file read
/// that failed fails again), progress and cancellation through `hooks`.
async fn read_one_by_one<H, F, Fut>(tiles: Vec<TileId>, read: F, hooks: &H) -> Result<FetchedTiles>
where
    H: Hooks,
    F: Fn(TileId, u32) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, FetchAttemptError>>,
{
    let policy = FetchPolicy { concurrency: 1, ..FetchPolicy::default() };
    fetch_tiles(
        tiles,
        &policy,
        read,
        |_| async {},
        &mut |done, total| hooks.progress(Stage::Fetch, done, total),
        &|| hooks.is_cancelled(),
    )
    .await
}

/// Byte ranges of a local file: the [`RangeRead`] of a PMTiles archive or a COG on disk.
#[derive(Debug, Clone)]
pub struct FileRange {
    path: PathBuf,
}

impl RangeRead for FileRange {
    async fn read(&self, offset: u64, length: usize) -> Result<RangeBytes, FetchAttemptError> {
        let failed = |e: std::io::Error| FetchAttemptError::Permanent(format!("{}: {e}", self.path.display()));
        let mut file = std::fs::File::open(&self.path).map_err(failed)?;
        file.seek(SeekFrom::Start(offset)).map_err(failed)?;
        let mut bytes = Vec::with_capacity(length);
        file.take(length as u64).read_to_end(&mut bytes).map_err(failed)?;
        Ok(RangeBytes { bytes, version: None })
    }
}

/// Tiles from a local PMTiles archive, read by the same reader as the browser's (over file
/// reads instead of range requests); a tile the archive lacks is empty.
#[derive(Debug)]
pub struct ArchiveTiles {
    archive: Archive<FileRange>,
}

impl ArchiveTiles {
    /// Opens the archive at `path` (header and root directory), checking it holds raster tiles.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let shown = path.display().to_string();
        let archive = Archive::open(FileRange { path })
            .await
            .map_err(|e| Error::invalid_option("pmtiles", format!("{shown}: {}", e.reason())))?;
        Ok(ArchiveTiles { archive })
    }

    /// The archive's zoom range.
    pub fn zoom_range(&self) -> (u8, u8) {
        self.archive.zoom_range()
    }
}

impl TileProvider for ArchiveTiles {
    async fn fetch<H: Hooks>(&self, _source: &TileSource, tiles: Vec<TileId>, hooks: &H) -> Result<FetchedTiles> {
        let read = |tile: TileId, _attempt: u32| async move { Ok(self.archive.tile(tile).await?.unwrap_or_default()) };
        read_one_by_one(tiles, read, hooks).await
    }

    async fn decode(&self, _source: &TileSource, _tile: TileId, bytes: &[u8]) -> Result<DecodedTile, String> {
        decode_tile(bytes).map_err(|e| e.to_string())
    }
}

/// A local Cloud-Optimized GeoTIFF, read by the same reader as the browser's (over file reads
/// instead of range requests) and run in its own pixel grid: give it with a `{ cog }` source.
#[derive(Debug)]
pub struct CogFile {
    cog: CogSource<FileRange>,
}

impl CogFile {
    /// Opens the COG at `path` (its header), checking that geodetect can run on it.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let shown = path.display().to_string();
        let cog = CogSource::open(FileRange { path })
            .await
            .map_err(|e| Error::invalid_option("cog", format!("{shown}: {}", e.reason())))?;
        Ok(CogFile { cog })
    }

    /// The open COG.
    pub fn cog(&self) -> &CogSource<FileRange> {
        &self.cog
    }
}

impl TileProvider for CogFile {
    async fn fetch<H: Hooks>(&self, _source: &TileSource, tiles: Vec<TileId>, hooks: &H) -> Result<FetchedTiles> {
        read_one_by_one(tiles, |tile: TileId, _attempt: u32| self.cog.tile(tile), hooks).await
    }

    async fn decode(&self, _source: &TileSource, tile: TileId, bytes: &[u8]) -> Result<DecodedTile, String> {
        let image = self.cog.decode(tile, bytes)?;
        Ok(DecodedTile::from_rgba(image.data, image.width, image.height))
    }

    async fn image_levels(&self, _source: &TileSource) -> Result<Option<Vec<ImageGrid>>> {
        Ok(Some(self.cog.levels().to_vec()))
    }
}

/// Wall-clock hooks; progress goes to stderr when `verbose`.
#[derive(Debug)]
pub struct NativeHooks {
    start: Instant,
    verbose: bool,
}

impl NativeHooks {
    pub fn new(verbose: bool) -> Self {
        Self { start: Instant::now(), verbose }
    }
}

impl Hooks for NativeHooks {
    fn now_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }
    fn progress(&self, stage: Stage, done: usize, total: usize) {
        if self.verbose {
            eprintln!("{stage:?} {done}/{total}");
        }
    }
    fn is_cancelled(&self) -> bool {
        false
    }
}
