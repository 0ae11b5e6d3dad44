//! Detection on a stitched raster:
//!
//! - [`compute`]: where the network runs ([`Backend`], [`Compute`]).
//! - [`preprocess`]: cutting the raster into model windows and converting them to input.
//! - [`engine`]: a loaded model on a device, and detection over a whole raster.
//! - [`nms`]: decoding outputs, thresholds and non-maximum suppression.
//! - [`boxes`]: rotated and axis-aligned boxes and their exact IoU.

pub mod boxes;
pub mod compute;
pub mod engine;
pub mod nms;
pub mod preprocess;

pub use boxes::RotatedBox;
pub use compute::{Backend, Compute};
pub use engine::Engine;
pub use nms::{Candidate, NmsParams};
pub use preprocess::Window;
