//! # geodetect
//!
//! Object detection on map imagery, in the browser. The modules follow the data path:
//!
//! 1. [`tiles`]: Web Mercator math, the XYZ tiles that cover an area, tile URL templates.
//! 2. [`imagery`]: stitching decoded tiles into one georeferenced raster.
//! 3. [`model`]: the YOLOv8-family networks in burn and their weights.
//! 5. [`geojson`]: the area of interest that goes in, the RFC 7946 FeatureCollection that
//!    comes out.

pub mod error;
pub mod tiles;
pub mod imagery;
pub mod model;
pub mod geojson;

pub use error::{Error, Result};
