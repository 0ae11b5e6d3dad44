//! Detection on a stitched raster:
//!
//! - [`backend`]: which backend runs the network ([`Backend`]).
//! - `compute` (the `model` feature): a burn device and its backend (`Compute`).
//! - [`preprocess`]: cutting the raster into model windows and converting them to input.
//! - `engine` (the `model` feature): a loaded model on a device, and detection over a whole
//!   raster.
//! - [`nms`]: decoding outputs, thresholds and non-maximum suppression.
//! - [`topk`]: an end-to-end head's boxes, chosen by top-k without NMS.
//! - [`merge`]: detections of an area run piece by piece, merged across the seams and
//!   released as soon as they are final.
//! - [`boxes`]: rotated and axis-aligned boxes and their exact IoU.

pub mod backend;
pub mod boxes;
#[cfg(feature = "model")]
pub mod compute;
#[cfg(feature = "model")]
pub mod engine;
pub mod merge;
pub mod nms;
pub mod preprocess;
pub mod topk;

pub use backend::Backend;
pub use boxes::{Outline, RotatedBox};
#[cfg(feature = "model")]
pub use compute::Compute;
#[cfg(feature = "model")]
pub use engine::{Engine, RasterPlace, WindowStem};
pub use merge::SeamMerge;
pub use nms::{Candidate, NmsParams};
pub use preprocess::Window;
