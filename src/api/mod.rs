//! What crosses the wasm boundary, as serde structs: the options callers pass
//! ([`options`]), what they get back ([`results`]) and the progress they are sent
//! ([`progress`]). Field names are the JS ones (`camelCase`); the TypeScript declarations
//! in `pkg/types.d.ts` are generated from these structs and their doc comments (`tsify`),
//! and a test fails when that file is stale, so the two cannot drift apart.
//!
//! Ranges are checked here, once, in Rust (`validate`); the JS client only checks shapes.

pub mod options;
pub mod progress;
pub mod results;
#[cfg(test)]
mod typescript;

pub use options::{BackendChoice, ClassRef, Clip, DetectOptions, EngineOptions, parse};
pub use progress::Progress;
pub use results::{
    AdapterInfo, ChunkFailure, ChunkOutput, DetectResult, EngineInfo, FailedChunk, FinishedRun, ImageInfo, MergeUpdate,
    RunPlan, Timings, WorkerHealth,
};
