//! The host contract: what the code running geodetect (a browser worker, the native CLI, a
//! test) supplies to the pipeline. Everything that needs a clock, progress, cancellation or
//! tiles depends on these traits; this module depends on nothing above it (only on tile ids,
//! the raster's pixel extent and the error type), so hosts and the pipeline can both import
//! it.
//!
//! - [`hooks`]: [`Hooks`] (clock, progress, cancellation, streamed detections), the
//!   [`Stage`]s progress names and the [`RunStatus`] of a whole run.
//! - [`provider`]: [`TileProvider`] (download, then decode, or composite all at once) and
//!   what it returns.
//!
//! The hosts themselves live with their platform: `crate::native` (files on disk, wall
//! clock) and `crate::web` (HTTP, a thread pool or `createImageBitmap` to decode, `performance.now()`,
//! AbortSignal).

pub mod hooks;
pub mod provider;

pub use hooks::{Hooks, Quiet, RunStatus, Stage};
pub use provider::{Composited, DecodedTile, FetchedTiles, TileProvider};
