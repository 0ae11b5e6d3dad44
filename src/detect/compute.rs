//! Where the network runs: a burn [`Device`] and which [`Backend`] it is.

use burn::prelude::Device;

use super::Backend;

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
