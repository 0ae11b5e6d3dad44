//! Detection on a stitched raster: windows and pre-processing ([`preprocess`]), the model
//! run ([`engine`]), and decoding, thresholds and NMS ([`nms`]) on rotated or axis-aligned
//! boxes ([`boxes`]).

pub mod boxes;
pub mod nms;
pub mod preprocess;

pub use boxes::RotatedBox;
pub use nms::{Candidate, NmsParams};
pub use preprocess::Window;
pub mod engine;

pub use engine::Engine;
