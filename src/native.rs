//! The native host (not wasm): tiles read from a directory of `{z}/{x}/{y}.png` files and a
//! wall-clock [`Hooks`]. The CLI and the native tests run the same [`crate::pipeline`] as
//! the browser through these.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::host::{DecodedTile, FetchedTiles, Hooks, Stage, TileProvider};
use crate::tiles::fetch::{FetchAttemptError, FetchPolicy, fetch_tiles};
use crate::tiles::{TileId, TileSource};
use crate::{Error, Result};

/// Decode a PNG (or any format the `image` crate was built with) into RGBA8.
pub fn decode_rgba(bytes: &[u8]) -> Result<DecodedTile> {
    let img = image::load_from_memory(bytes).map_err(|e| Error::ImageDecode(e.to_string()))?.into_rgba8();
    Ok(DecodedTile { width: img.width(), height: img.height(), rgba: img.into_raw() })
}

/// Decode an image file into RGB8 `(width, height, bytes)`.
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

    async fn decode(&self, bytes: &[u8]) -> Result<DecodedTile, String> {
        decode_rgba(bytes).map_err(|e| e.to_string())
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
