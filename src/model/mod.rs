//! Networks and their weights: a network's configuration and anchors ([`config`]), the
//! YOLOv8 family in burn (`yolo`), weights read from safetensors bytes with ultralytics
//! tensor names ([`weights`]), the model manifest that names, describes and pins them
//! ([`manifest`]), the CPU path's fused convolutions (`cpu`), and (native only) the
//! converter from ultralytics `.pt` checkpoints (`convert`), and a pass's first layers run
//! band by band as the input's rows arrive (`stream`).
//!
//! `yolo`, `cpu` and `convert` need burn (the `model` feature, on by default); the rest does
//! not, so the fuzz targets (`fuzz/`) build without the model stack.

pub mod config;
pub mod manifest;
pub mod weights;

#[cfg(feature = "model")]
pub mod cpu;
#[cfg(feature = "model")]
pub mod stream;
#[cfg(feature = "model")]
pub mod yolo;

#[cfg(all(feature = "model", not(target_family = "wasm")))]
pub mod convert;
#[cfg(all(feature = "model", not(target_family = "wasm")))]
pub mod pickle;

pub use config::{ConvAct, Family, Postprocess, Scale, Task, YoloConfig};
pub use manifest::{Manifest, ModelEntry, VerifiedWeights, sha256_hex};
#[cfg(feature = "model")]
pub use stream::{StemOutput, StemStream};
pub use weights::{HostTensor, Weights};
#[cfg(feature = "model")]
pub use yolo::Yolo;
