//! The caller's clock, progress sink and cancellation flag.

use serde::Serialize;

use crate::{Error, Result};

/// A stage of a run, as reported to `onProgress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, tsify::Tsify)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Loading the model: `done`/`total` count steps (of 2: weights fetched, network built;
    /// the browser's warm-up pass follows, in the background).
    Model,
    /// Downloading tiles (in the browser, each is also decoded into the raster as it
    /// arrives); `done`/`total` count tiles.
    Fetch,
    /// Decoding tiles into the raster; `done`/`total` count tiles (in the browser, where the
    /// tiles went into the raster as they arrived: none, then all at once).
    Stitch,
    /// Running the network; `done`/`total` count model windows.
    Inference,
    /// Mapping boxes to lon/lat and building GeoJSON.
    Postprocess,
    /// Finished.
    Done,
}

/// Where a whole run stands, beyond the current stage: reported to [`Hooks::status`]
/// whenever it changes, for hosts to put into their progress events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStatus {
    /// Chunks of the area finished, and in all.
    pub chunks_done: usize,
    pub chunks_total: usize,
    /// Model windows run, and in all (the unit of work that dominates a run's time).
    pub windows_done: usize,
    pub windows_total: usize,
    /// Tile downloads settled, and in all (a tile on a seam of two chunks counts twice).
    pub tiles_done: usize,
    pub tiles_total: usize,
    /// Detections released so far.
    pub detections: usize,
}

/// Time, progress, cancellation and streamed results, as the host provides them.
#[allow(async_fn_in_trait)]
pub trait Hooks {
    /// Milliseconds from an arbitrary origin.
    fn now_ms(&self) -> f64;
    /// Called as work advances.
    fn progress(&self, stage: Stage, done: usize, total: usize);
    /// Called when the run's overall status changes (after a chunk's tiles, windows or
    /// detections). Default: ignored.
    fn status(&self, _status: RunStatus) {}
    /// Detections that are final, as soon as they are (a GeoJSON FeatureCollection of the
    /// batch), while the run goes on; every batch is also in the final result. Default:
    /// ignored.
    fn detections(&self, _batch: &serde_json::Value) {}
    /// True once the caller has asked to stop.
    fn is_cancelled(&self) -> bool;
    /// Give the host a turn (the browser's event loop, so an abort message can arrive).
    async fn yield_now(&self) {}
    /// Waits until the engine may run a model pass: in the browser, until the engine's
    /// warm-up pass has ended (a run's first windows wait for it while their tiles download;
    /// waiting runs it if nothing has started it yet). Fails with that pass's error, or with
    /// [`Error::Aborted`]. Default: ready.
    async fn model_ready(&self) -> Result<()> {
        Ok(())
    }
    /// Called once a run's tile downloads are about to start (in the browser, its first
    /// requests are issued in the same turn of the event loop), so that the host can put work
    /// beside them: the browser's single-threaded engine runs its warm-up pass then, while
    /// they download. Default: nothing.
    fn downloads_starting(&self) {}
    /// Yield, then fail with [`Error::Aborted`] if cancelled.
    async fn checkpoint(&self) -> Result<()> {
        self.yield_now().await;
        if self.is_cancelled() { Err(Error::Aborted) } else { Ok(()) }
    }
}

/// Another run's hooks without its progress, status or detections: its clock and
/// cancellation only (a warm-up is not a detection; a chunk loaded ahead of its turn reports
/// when it runs).
#[derive(Debug)]
pub struct Quiet<'a, H>(pub &'a H);

impl<H: Hooks> Hooks for Quiet<'_, H> {
    fn now_ms(&self) -> f64 {
        self.0.now_ms()
    }

    fn progress(&self, _stage: Stage, _done: usize, _total: usize) {}

    fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }

    async fn yield_now(&self) {
        self.0.yield_now().await;
    }

    async fn model_ready(&self) -> Result<()> {
        self.0.model_ready().await
    }
}
