//! # geodetect
//!
//! Object detection on map imagery, in the browser. The modules follow the data path:
//!
//! 1. [`tiles`]: Web Mercator math, the XYZ tiles that cover an area, tile URL templates.
//! 2. [`imagery`]: stitching decoded tiles into one georeferenced raster.
//! 3. [`model`]: the YOLOv8-family networks in burn and their weights.
//! 4. [`detect`]: pre-processing, inference, decoding, NMS, clipping to the area.
//! 5. [`geojson`]: the area of interest that goes in, the RFC 7946 FeatureCollection that
//!    comes out.
//!
//! [`pipeline`] runs them in order for one area, given a tile provider and hooks for time,
//! progress and cancellation.
//!
//! `web` (wasm32 only) is the thin `#[wasm_bindgen]` boundary the JS worker calls.

pub mod detect;
pub mod error;
pub mod geojson;
pub mod imagery;
pub mod model;
pub mod pipeline;
pub mod tiles;

#[cfg(not(target_family = "wasm"))]
pub mod native;

#[cfg(target_family = "wasm")]
pub mod web;

pub use error::{Error, Result};
