//! Networks and their weights: the YOLOv8 family in burn ([`yolo`]), weights read from
//! safetensors bytes with ultralytics tensor names ([`weights`]), the model manifest that
//! names, describes and pins them ([`manifest`]), the CPU path's fused convolutions
//! ([`cpu`]), and (native only) the converter from ultralytics `.pt` checkpoints
//! ([`convert`]).

pub mod cpu;
pub mod manifest;
pub mod weights;
pub mod yolo;

#[cfg(not(target_family = "wasm"))]
pub mod convert;

pub use manifest::{Manifest, ModelEntry, VerifiedWeights, sha256_hex};
pub use weights::{HostTensor, Weights};
pub use yolo::{Scale, Task, YoloConfig, YoloV8};
