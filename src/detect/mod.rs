//! Detection on a stitched raster:
//!
//! - [`compute`]: where the network runs ([`Backend`], [`Compute`]).
//! - [`preprocess`]: cutting the raster into model windows and converting them to input.
//! - [`engine`]: a loaded model on a device, and detection over a whole raster.
//! - [`nms`]: decoding outputs, thresholds and non-maximum suppression.
//! - [`merge`]: detections of an area run piece by piece, merged across the seams and
//!   released as soon as they are final.
//! - [`boxes`]: rotated and axis-aligned boxes and their exact IoU.

pub mod boxes;
pub mod compute;
pub mod engine;
pub mod merge;
pub mod nms;
pub mod preprocess;

pub use boxes::RotatedBox;
pub use compute::{Backend, Compute};
pub use engine::{Engine, RasterPlace};
pub use merge::SeamMerge;
pub use nms::{Candidate, NmsParams};
pub use preprocess::Window;
