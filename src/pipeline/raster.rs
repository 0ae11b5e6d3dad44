//! Tiles -> one raster: download, decode and stitch the tiles of one extent (a chunk of an
//! area), through the host's [`TileProvider`].

use futures::stream::{self, StreamExt};

use crate::Result;
use crate::host::{FetchedTiles, Hooks, Stage, TileProvider};
use crate::imagery::{GeoRaster, PixelExtent, RowWatch, Stitcher};
use crate::tiles::fetch::{TileFailure, TileStats};
use crate::tiles::{TileId, TileSource};

/// Tiles decoded at once by [`load_raster`].
const DECODE_CONCURRENCY: usize = 8;

/// What [`load_raster`] returns.
#[derive(Debug)]
pub struct LoadedRaster {
    /// The stitched raster; tiles that could not be loaded are black.
    pub raster: GeoRaster,
    /// The tiles that could not be loaded, and why.
    pub missing: Vec<TileFailure>,
    /// Milliseconds spent downloading (the rest of the call was decoding and stitching).
    pub fetch_ms: f64,
    /// What loading the tiles took.
    pub stats: TileStats,
}

/// Fetch and decode `tiles` (of `extent`; pixels of no tile stay black) and stitch them
/// into one raster. Tiles that cannot be loaded are painted black and returned as failures,
/// or end the run when `fail_on_missing` is set. `watch`, if any, is told of the raster's rows
/// as they become whole ([`Stitcher::watch`]).
pub async fn load_raster<P: TileProvider, H: Hooks>(
    provider: &P,
    source: &TileSource,
    extent: PixelExtent,
    tiles: Vec<TileId>,
    fail_on_missing: bool,
    hooks: &H,
    watch: Option<RowWatch>,
) -> Result<LoadedRaster> {
    let start = hooks.now_ms();
    let total = tiles.len();
    hooks.progress(Stage::Fetch, 0, total);
    let mut stitcher = Stitcher::new(extent)?;
    if let Some(watch) = watch {
        stitcher.watch(watch);
    }
    if tiles.is_empty() {
        return Ok(LoadedRaster {
            raster: stitcher.finish(),
            missing: Vec::new(),
            fetch_ms: 0.0,
            stats: TileStats::default(),
        });
    }

    // In one pass, where the host can (the browser: each tile decoded as it arrives, while
    // others download).
    let streamed =
        provider.fetch_composite(source, tiles.clone(), fail_on_missing, hooks, &mut stitcher).await.transpose()?;
    let (missing, fetch_ms, stats) = match streamed {
        Some(composited) => (composited.missing, composited.fetch_ms, composited.stats),
        None => {
            let fetched = provider.fetch(source, tiles, hooks).await?;
            let fetch_ms = hooks.now_ms() - start;
            let mut stats = TileStats { requested: total, ..TileStats::default() };
            for (_, result) in &fetched {
                match result {
                    Ok(bytes) => {
                        stats.downloaded += 1;
                        stats.empty += usize::from(bytes.is_empty());
                        stats.bytes += bytes.len() as f64;
                    }
                    Err(failure) => stats.retries += failure.attempts.saturating_sub(1) as usize,
                }
            }
            hooks.checkpoint().await?;
            let missing = decode_all(provider, source, fetched, &mut stitcher, fail_on_missing, hooks).await?;
            stats.failed = missing.len();
            (missing, fetch_ms, stats)
        }
    };
    Ok(LoadedRaster { raster: stitcher.finish(), missing, fetch_ms, stats })
}

/// Decode downloaded tiles a few at a time (concurrently where the host can) and stitch them
/// in order; progress counts every tile, those painted black included. Returns the tiles
/// that could not be loaded, in request order.
async fn decode_all<P: TileProvider, H: Hooks>(
    provider: &P,
    source: &TileSource,
    fetched: FetchedTiles,
    stitcher: &mut Stitcher,
    fail_on_missing: bool,
    hooks: &H,
) -> Result<Vec<TileFailure>> {
    let total = fetched.len();
    let mut missing = Vec::new();
    hooks.progress(Stage::Stitch, 0, total);
    let mut decoded = stream::iter(fetched)
        .map(|(tile, result)| async move {
            let decoded = match result {
                // No imagery there: stays black, not missing.
                Ok(bytes) if bytes.is_empty() => Ok(None),
                Ok(bytes) => provider
                    .decode(source, tile, &bytes)
                    .await
                    .map(Some)
                    .map_err(|reason| TileFailure::undecodable(tile, &reason)),
                Err(failure) => Err(failure),
            };
            (tile, decoded)
        })
        .buffered(DECODE_CONCURRENCY);
    let mut done = 0;
    while let Some((tile, decoded)) = decoded.next().await {
        match decoded {
            Ok(Some(t)) => stitcher.put_tile(tile, &t)?,
            Ok(None) => stitcher.fill_tile(tile, [0, 0, 0])?,
            Err(failure) if fail_on_missing => return Err(failure.into()),
            Err(failure) => {
                stitcher.fill_tile(tile, [0, 0, 0])?;
                missing.push(failure);
            }
        }
        done += 1;
        hooks.progress(Stage::Stitch, done, total);
    }
    Ok(missing)
}
