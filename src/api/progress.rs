//! The progress events sent to `onProgress`.

use serde::Serialize;

use crate::host::Stage;

/// A progress report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// What is happening now.
    pub stage: Stage,
    /// Units of this stage done: steps while the model loads (of 3), tiles while fetching
    /// and while decoding them into the raster (`stitch`), model windows during inference.
    /// See `Stage` for what the browser reports.
    pub done: usize,
    /// Units of this stage in all.
    pub total: usize,
    /// Tiles fetched so far.
    pub tiles_done: usize,
    /// Tiles needed for the area at this zoom.
    pub tiles_total: usize,
}
