//! One area, end to end on one worker: plan its chunks ([`AreaRun`]), then for each chunk
//! load its raster while the one before runs ([`super::chunk`]), run its model windows,
//! release the raster, merge the boxes across the seams and stream the detections that are
//! final ([`Hooks::detections`]); the result holds them all (or, streamed, their order). (A pool of workers runs the same
//! chunks and merge, shared out by `pkg/pool.js`.)

use std::cell::Cell;

use super::area::{AreaRun, Finished};
use super::chunk::{detect_chunk, load_chunk};
use crate::api::{DetectOptions, DetectResult};
use crate::detect::Engine;
use crate::geojson::{Aoi, DetectionFeature, feature_collection};
use crate::host::{Hooks, RunStatus, Stage, TileProvider};
use crate::model::cpu::parallel;
use crate::tiles::TileSource;
use crate::{Error, Result};

/// Run detection over `aoi`, chunk by chunk.
pub async fn detect_area<P: TileProvider, H: Hooks>(
    engine: &Engine,
    source: &TileSource,
    provider: &P,
    aoi: &Aoi,
    options: &DetectOptions,
    hooks: &H,
) -> Result<DetectResult> {
    detect_area_in_chunks(engine, source, provider, aoi, options, hooks, super::plan::CHUNK_WINDOWS).await
}

/// [`detect_area`] with chunks of `chunk_windows` × `chunk_windows` model windows (tests cut
/// areas finer or coarser to show that the result does not depend on it).
pub async fn detect_area_in_chunks<P: TileProvider, H: Hooks>(
    engine: &Engine,
    source: &TileSource,
    provider: &P,
    aoi: &Aoi,
    options: &DetectOptions,
    hooks: &H,
    chunk_windows: usize,
) -> Result<DetectResult> {
    let mut released = Vec::new();
    let finished = run_area(engine, source, provider, aoi, options, hooks, chunk_windows, &mut |batch| {
        released.extend_from_slice(batch)
    })
    .await?;
    finished.with_detections(&released)
}

/// [`detect_area`] that keeps none of the detections: they leave in batches through
/// [`Hooks::detections`] only, and the result comes without them, with their order
/// ([`Finished::order`]), for the host to put together (the browser does, on the main
/// thread, so that the worker's memory does not grow with the area).
pub async fn detect_area_streamed<P: TileProvider, H: Hooks>(
    engine: &Engine,
    source: &TileSource,
    provider: &P,
    aoi: &Aoi,
    options: &DetectOptions,
    hooks: &H,
) -> Result<Finished> {
    run_area(engine, source, provider, aoi, options, hooks, super::plan::CHUNK_WINDOWS, &mut |_| {}).await
}

/// The chunks one after the other; each batch of released detections goes to
/// [`Hooks::detections`] and to `on_batch`.
#[allow(clippy::too_many_arguments)] // the two entry points above are the callers
async fn run_area<P: TileProvider, H: Hooks>(
    engine: &Engine,
    source: &TileSource,
    provider: &P,
    aoi: &Aoi,
    options: &DetectOptions,
    hooks: &H,
    chunk_windows: usize,
    on_batch: &mut dyn FnMut(&[DetectionFeature]),
) -> Result<Finished> {
    let start = hooks.now_ms();
    let levels = provider.image_levels(source).await?;
    let mut area = AreaRun::new(engine.entry(), source, aoi, options, chunk_windows, levels.as_deref())?;
    let status = Cell::new(area.status());
    hooks.status(status.get());
    let plan = area.plan().clone();
    let params = area.params().clone();
    // Chunk k + 1 is fetched and decoded while chunk k runs through the model: its downloads
    // and decoding proceed off the thread, and its tiles are drawn whenever the model yields
    // between windows. At most two chunks' rasters exist at once.
    // The first chunk, loaded while nothing else runs, begins its first window's pass as its
    // rows arrive (super::stem), in the single-threaded engine; the others are loaded while
    // the model runs.
    let load = |k: usize, quiet: bool| {
        let chunk_hooks = ChunkHooks { inner: hooks, status: &status, quiet };
        let plan = &plan;
        let stem_on = (k == 0 && !parallel::ON_POOL).then_some(engine);
        async move { load_chunk(provider, source, plan, k, options.fail_on_missing_tiles, &chunk_hooks, stem_on).await }
    };
    let mut next = match plan.chunks.is_empty() {
        true => None,
        false => Some(load(0, false).await),
    };
    for k in 0..plan.chunks.len() {
        hooks.checkpoint().await?;
        let loaded = next.take().ok_or_else(|| Error::Internal(format!("chunk {k} was not loaded")))??;
        let done = status.get().windows_done;
        let detect = detect_chunk(engine, &plan, loaded, &params, hooks, (done, plan.windows));
        let prefetch = async {
            match k + 1 < plan.chunks.len() {
                true => Some(load(k + 1, true).await),
                false => None,
            }
        };
        let (output, prefetched) = futures::join!(detect, prefetch);
        next = prefetched;
        let output = output?;
        let windows = output.windows;
        let batch = area.add(output, hooks)?;
        let merged = area.status();
        update(&status, hooks, |s| {
            s.chunks_done = merged.chunks_done;
            s.windows_done = done + windows;
            s.detections = merged.detections;
        });
        if !batch.is_empty() {
            hooks.detections(&feature_collection(&batch));
            on_batch(&batch);
        }
    }

    hooks.progress(Stage::Postprocess, 0, 1);
    let t_post = hooks.now_ms();
    let mut finished = area.finish(0.0, engine.backend(), engine.fallback_reason())?;
    if !finished.last.is_empty() {
        update(&status, hooks, |s| s.detections += finished.last.len());
        hooks.detections(&feature_collection(&finished.last));
        on_batch(&finished.last);
    }
    let end = hooks.now_ms();
    finished.result.timings.postprocess += end - t_post;
    finished.result.timings.total = end - start;
    hooks.progress(Stage::Done, 1, 1);
    Ok(finished)
}

/// Change the run's status and tell the host.
fn update<H: Hooks>(status: &Cell<RunStatus>, hooks: &H, change: impl FnOnce(&mut RunStatus)) {
    let mut s = status.get();
    change(&mut s);
    status.set(s);
    hooks.status(s);
}

/// The run's hooks as one chunk's loading sees them: its tiles counted into the whole run's
/// status, and its `Fetch` and `Stitch` events counting the area's tiles, not the chunk's. A
/// `quiet` chunk (fetched ahead while the model runs on the one before) sends no progress
/// events of its own, so that the run's stage does not flip back and forth; its tiles still
/// count.
struct ChunkHooks<'a, H: Hooks> {
    inner: &'a H,
    status: &'a Cell<RunStatus>,
    quiet: bool,
}

impl<H: Hooks> Hooks for ChunkHooks<'_, H> {
    fn now_ms(&self) -> f64 {
        self.inner.now_ms()
    }

    fn progress(&self, stage: Stage, done: usize, total: usize) {
        match stage {
            Stage::Fetch => {
                // `done` counts this chunk's settled tiles; count each once into the run's.
                if done > 0 {
                    update(self.status, self.inner, |s| s.tiles_done += 1);
                }
                if !self.quiet {
                    let s = self.status.get();
                    self.inner.progress(stage, s.tiles_done, s.tiles_total.max(total));
                }
            }
            Stage::Stitch if self.quiet => {}
            Stage::Stitch => {
                let s = self.status.get();
                self.inner.progress(stage, s.tiles_done, s.tiles_total.max(total));
            }
            _ if self.quiet => {}
            _ => self.inner.progress(stage, done, total),
        }
    }

    fn is_cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }

    async fn yield_now(&self) {
        self.inner.yield_now().await;
    }

    fn downloads_starting(&self) {
        self.inner.downloads_starting();
    }

    async fn model_ready(&self) -> Result<()> {
        self.inner.model_ready().await
    }
}
