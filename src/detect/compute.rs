//! Where the network runs: a burn [`Device`] and which [`Backend`] it is.

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

/// What runs the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn's wgpu backend on a WebGPU adapter.
    Webgpu,
    /// burn's CPU backend (flex; wasm SIMD in the browser, rayon natively).
    Cpu,
}

impl Backend {
    /// `"webgpu"` or `"cpu"`, as JS sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Webgpu => "webgpu",
            Backend::Cpu => "cpu",
        }
    }
}

/// A device and the backend it belongs to, chosen together so they cannot disagree.
#[derive(Clone, Debug)]
pub struct Compute {
    /// Which backend.
    pub backend: Backend,
    /// The burn device of that backend.
    pub device: Device,
}

impl Compute {
    /// burn's CPU backend (flex).
    pub fn cpu() -> Self {
        Compute { backend: Backend::Cpu, device: Device::flex() }
    }

    /// A WebGPU device that the host has initialised (asynchronously, in the browser).
    pub fn webgpu(device: Device) -> Self {
        Compute { backend: Backend::Webgpu, device }
    }
}
