//! The whole path for one area: polygon -> the chunks that cover it -> for each chunk, its
//! tiles -> a stitched raster -> detections -> GeoJSON, streamed as they become final. Where
//! tiles come from ([`TileProvider`](crate::host::TileProvider)) and how time, progress,
//! cancellation and streamed results work ([`Hooks`](crate::host::Hooks)) are the host's
//! (see [`crate::host`]); this module only runs the stages in order, so the browser and
//! native runs can be compared result for result.
//!
//! - [`plan`]: [`AreaPlan`], an area of any size as chunks of bounded rasters, the model
//!   windows each runs and the tiles each fetches (only those near the area).
//! - [`raster`]: [`load_raster`], one extent's tiles downloaded, decoded and stitched.
//! - [`chunk`]: [`run_chunk`], one chunk's raster loaded and its windows run, giving its
//!   boxes before the merge (what a pool's worker returns).
//! - [`area`]: [`AreaRun`], the chunks' boxes merged across the seams as they finish, in any
//!   order, clipped to the area; the result.
//! - [`run`]: [`detect_area`], the chunks run one after the other on one worker in bounded
//!   memory, each fetched while the one before runs.
//! - [`stem`]: a chunk's first window's pass begun while its tiles arrive, where nothing
//!   else runs meanwhile.

pub mod area;
#[cfg(feature = "model")]
pub mod chunk;
pub mod plan;
pub mod raster;
#[cfg(feature = "model")]
pub mod run;
#[cfg(feature = "model")]
pub mod stem;

pub use area::{AreaRun, Finished};
#[cfg(feature = "model")]
pub use chunk::{LoadedChunk, detect_chunk, load_chunk, run_chunk};
pub use plan::{AreaPlan, CHUNK_WINDOWS, Chunk, PlanParams, PlannedWindow};
pub use raster::{LoadedRaster, load_raster};
#[cfg(feature = "model")]
pub use run::{detect_area, detect_area_in_chunks, detect_area_streamed};
