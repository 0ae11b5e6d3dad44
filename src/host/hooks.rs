//! The caller's clock, progress sink and cancellation flag.

use serde::Serialize;

use crate::{Error, Result};

/// A stage of a run, as reported to `onProgress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, tsify::Tsify)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Loading the model: `done`/`total` count steps (of 3: weights fetched, network built,
    /// warmed up).
    Model,
    /// Downloading tiles (in the browser, each is also decoded and drawn as it arrives);
    /// `done`/`total` count tiles.
    Fetch,
    /// Decoding tiles into the raster; `done`/`total` count tiles (in the browser, where the
    /// tiles were drawn as they arrived: none before the raster is read back, all after).
    Stitch,
    /// Running the network; `done`/`total` count model windows.
    Inference,
    /// Mapping boxes to lon/lat and building GeoJSON.
    Postprocess,
    /// Finished.
    Done,
}

/// Time, progress and cancellation, as the host provides them.
#[allow(async_fn_in_trait)]
pub trait Hooks {
    /// Milliseconds from an arbitrary origin.
    fn now_ms(&self) -> f64;
    /// Called as work advances.
    fn progress(&self, stage: Stage, done: usize, total: usize);
    /// True once the caller has asked to stop.
    fn is_cancelled(&self) -> bool;
    /// Give the host a turn (the browser's event loop, so an abort message can arrive).
    async fn yield_now(&self) {}
    /// Yield, then fail with [`Error::Aborted`] if cancelled.
    async fn checkpoint(&self) -> Result<()> {
        self.yield_now().await;
        if self.is_cancelled() { Err(Error::Aborted) } else { Ok(()) }
    }
}
