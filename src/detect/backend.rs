//! Which backend runs the network, as results and options name it.

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
