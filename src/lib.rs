//! # geodetect
//!
//! Object detection on map imagery, in the browser. The modules follow the data path:
//!
//! 1. [`tiles`]: Web Mercator math, the XYZ tiles that cover an area, tile URL templates,
//!    the download scheduler.
//! 2. [`imagery`]: stitching decoded tiles into one georeferenced raster.
//! 3. [`model`]: the YOLOv8-family networks in burn and their weights.
//! 4. [`detect`]: model windows, inference, decoding, NMS.
//! 5. [`geojson`]: the area of interest that goes in, the RFC 7946 FeatureCollection that
//!    comes out.
//!
//! [`pipeline`] runs them in order for one area. What it needs from its host (tiles, a
//! clock, progress, cancellation) is the contract in [`host`], which depends on nothing
//! above it. [`api`] holds the option and result types that cross the wasm boundary (their
//! TypeScript declarations are generated from them); [`error`] the one error type and its
//! stable codes.
//!
//! Hosts: [`native`] (not wasm: tiles from disk, the CLI and tests) and `web` (wasm32 only:
//! the thin `#[wasm_bindgen]` boundary the JS worker calls). Both need the `model` feature (on
//! by default): without it the crate is its parsing, planning, georeferencing and decoding
//! code alone, which is what the fuzz targets in `fuzz/` build.

// The unit tests run natively (`cargo test`). For wasm32 the library's own test harness is
// empty: `wasm-pack test` builds every test target (`cargo build --tests`) before it runs the
// browser ones, and this one, a fat-LTO link of the whole model stack, was never run there
// (in a cold CI run the browser step compiled for 6 min 14 s with one core idle; 0.7 s now).
#![cfg(not(all(test, target_family = "wasm")))]

pub mod api;
pub mod detect;
pub mod error;
pub mod geojson;
pub mod host;
pub mod imagery;
pub mod model;
pub mod pipeline;
pub mod tiles;

#[cfg(all(feature = "model", not(target_family = "wasm")))]
pub mod native;

#[cfg(all(feature = "model", target_family = "wasm"))]
pub mod web;

pub use error::{Error, ErrorCode, Result};
