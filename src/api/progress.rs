//! The progress events sent to `onProgress`.

use serde::Serialize;

use crate::host::{RunStatus, Stage};

/// A progress report.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// What is happening now.
    pub stage: Stage,
    /// Units of this stage done: steps while the model loads (of 2), tiles while fetching
    /// and while decoding them into the raster (`stitch`), model windows during inference.
    /// See `Stage` for what the browser reports.
    pub done: usize,
    /// Units of this stage in all.
    pub total: usize,
    /// Tile downloads settled so far (a tile on the seam of two chunks counts twice).
    pub tiles_done: usize,
    /// Tile downloads the area needs at this zoom.
    pub tiles_total: usize,
    /// Chunks of the area finished (an area runs as chunks of at most 2 × 2 model windows,
    /// one after the other, so that memory does not grow with the area).
    pub chunks_done: usize,
    /// Chunks in all.
    pub chunks_total: usize,
    /// Detections released so far (`onDetections` batches).
    pub detections: usize,
    /// Milliseconds since the call started.
    pub elapsed_ms: f64,
    /// Estimated milliseconds left, from the model windows run so far (null until the first
    /// one has run).
    pub eta_ms: Option<f64>,
}

impl Progress {
    /// The event for `stage` at `done` of `total`, with the run's `status` and `elapsed_ms`;
    /// the ETA extrapolates the time per model window so far.
    pub fn new(stage: Stage, (done, total): (usize, usize), status: &RunStatus, elapsed_ms: f64) -> Self {
        let eta_ms = (status.windows_done > 0).then(|| {
            let left = status.windows_total.saturating_sub(status.windows_done) as f64;
            elapsed_ms / status.windows_done as f64 * left
        });
        Progress {
            stage,
            done,
            total,
            tiles_done: status.tiles_done,
            tiles_total: status.tiles_total,
            chunks_done: status.chunks_done,
            chunks_total: status.chunks_total,
            detections: status.detections,
            elapsed_ms,
            eta_ms,
        }
    }
}
