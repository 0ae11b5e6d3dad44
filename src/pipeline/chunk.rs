//! One chunk of an area's plan, run: its tiles loaded into a raster ([`load_chunk`]), its
//! model windows run and the raster released ([`detect_chunk`]). What comes out
//! ([`ChunkOutput`]) is the chunk's boxes in the area's pixels, before the seam merge, so a
//! chunk can run on any worker and be merged wherever the area's
//! [`AreaRun`](super::AreaRun) lives.

use std::cell::Cell;

use super::plan::AreaPlan;
use super::raster::{LoadedRaster, load_raster};
use super::stem::StemFeed;
use crate::api::{ChunkOutput, Timings};
use crate::detect::{Engine, NmsParams, RasterPlace, Window, WindowStem};
use crate::host::{Hooks, Quiet, Stage, TileProvider};
use crate::tiles::TileSource;
use crate::{Error, Result};

/// A chunk's raster, loaded, and the milliseconds that took; and the stem of its first
/// window's pass, where it ran while the tiles arrived.
#[derive(Debug)]
pub struct LoadedChunk {
    pub chunk: usize,
    pub loaded: LoadedRaster,
    /// Until the raster was whole.
    pub stitched_ms: f64,
    /// Until the stem, if any, had run its last bands too (they wait for the last tile).
    pub load_ms: f64,
    pub stem: Option<WindowStem>,
}

/// Fetch, decode and stitch chunk `k`'s tiles. With `stem_on`, the first layers of the
/// chunk's first window run on that engine as its rows arrive ([`super::stem`]): for a chunk
/// loaded while no model pass runs.
#[allow(clippy::too_many_arguments)] // the chunk's whole context
pub async fn load_chunk<P: TileProvider, H: Hooks>(
    provider: &P,
    source: &TileSource,
    plan: &AreaPlan,
    k: usize,
    fail_on_missing: bool,
    hooks: &H,
    stem_on: Option<&Engine>,
) -> Result<LoadedChunk> {
    let chunk = plan.chunks.get(k).ok_or_else(|| out_of_plan(k, plan))?;
    let start = hooks.now_ms();
    let feed = match (stem_on, chunk.windows.first()) {
        (Some(engine), Some(first)) => {
            StemFeed::new(engine, first.window, first.window.in_raster_at(chunk.offset), chunk.extent.height)?
        }
        _ => None,
    };
    let stitched = Cell::new(start);
    let load = |watch| async {
        let loaded =
            load_raster(provider, source, chunk.extent, chunk.tiles.clone(), fail_on_missing, hooks, watch).await;
        stitched.set(hooks.now_ms());
        loaded
    };
    let (loaded, stem) = match feed {
        Some((feed, watch)) => {
            let (loaded, stem) = futures::join!(load(Some(watch)), feed.run(hooks));
            (loaded?, stem?)
        }
        None => (load(None).await?, None),
    };
    let (stitched_ms, load_ms) = (stitched.get() - start, hooks.now_ms() - start);
    Ok(LoadedChunk { chunk: k, loaded, stitched_ms, load_ms, stem })
}

/// Run a loaded chunk's windows (`progress`: windows done before them, and in the run) and
/// release its raster.
pub async fn detect_chunk<H: Hooks>(
    engine: &Engine,
    plan: &AreaPlan,
    chunk: LoadedChunk,
    params: &NmsParams,
    hooks: &H,
    progress: (usize, usize),
) -> Result<ChunkOutput> {
    let LoadedChunk { chunk: k, loaded: LoadedRaster { raster, missing, fetch_ms, stats }, stitched_ms, load_ms, stem } =
        chunk;
    let planned = plan.chunks.get(k).ok_or_else(|| out_of_plan(k, plan))?;
    let windows: Vec<(usize, Window)> = planned.windows.iter().map(|w| (w.index, w.window)).collect();
    let place = RasterPlace { offset: planned.offset, area: (plan.extent.width, plan.extent.height) };
    let t0 = hooks.now_ms();
    let (boxes, model) = engine
        .detect_windows(&raster.rgb, (raster.width, raster.height), place, &windows, params, hooks, progress, stem)
        .await?;
    crate::imagery::buffers::recycle(raster.rgb);
    let timings = Timings {
        fetch: fetch_ms,
        decode: stitched_ms - fetch_ms,
        preprocess: model.preprocess,
        inference: model.inference,
        postprocess: model.postprocess,
        total: load_ms + hooks.now_ms() - t0,
    };
    let fallback_reason = engine.fallback_reason();
    Ok(ChunkOutput {
        chunk: k,
        boxes,
        missing_tiles: missing,
        tiles: stats,
        timings,
        windows: windows.len(),
        fallback_reason,
    })
}

/// Chunk `k` as a pool's worker runs it: its raster from `ready` (loaded ahead by the call
/// before, if that was chunk `k`) or [`load_chunk`] now, then [`detect_chunk`] (its progress
/// counts this chunk's tiles and windows only). Meanwhile chunk `next`, if any, is loaded
/// without progress events and returned for the next call, as a single worker's run does
/// ([`super::run`]); if that fails it is left to the next call to load it again and report
/// why.
#[allow(clippy::too_many_arguments)] // the chunk's whole context: a pool's worker has no more
pub async fn run_chunk<P: TileProvider, H: Hooks>(
    engine: &Engine,
    source: &TileSource,
    provider: &P,
    plan: &AreaPlan,
    (k, next): (usize, Option<usize>),
    params: &NmsParams,
    fail_on_missing: bool,
    hooks: &H,
    ready: Option<LoadedChunk>,
) -> Result<(ChunkOutput, Option<LoadedChunk>)> {
    let loaded = match ready.filter(|r| r.chunk == k) {
        Some(ready) => {
            let tiles = ready.loaded.stats.requested;
            hooks.progress(Stage::Fetch, tiles, tiles);
            ready
        }
        // No stem while loading: in a pool, the worker's own next chunk loads beside this one
        // and the other workers share the cores (and a stem's buffers beside two chunks'
        // rasters would raise the worker's peak memory).
        None => load_chunk(provider, source, plan, k, fail_on_missing, hooks, None).await?,
    };
    hooks.checkpoint().await?;
    let windows = plan.chunks[k].windows.len();
    let detect = detect_chunk(engine, plan, loaded, params, hooks, (0, windows));
    let prefetch = async {
        match next.filter(|&n| n < plan.chunks.len() && n != k) {
            Some(n) => load_chunk(provider, source, plan, n, fail_on_missing, &Quiet(hooks), None).await.ok(),
            None => None,
        }
    };
    let (output, prefetched) = futures::join!(detect, prefetch);
    Ok((output?, prefetched))
}

fn out_of_plan(k: usize, plan: &AreaPlan) -> Error {
    Error::InvalidOptions {
        field: "chunk".into(),
        reason: format!("chunk {k} is not in the area's plan of {} chunks", plan.chunks.len()),
    }
}
