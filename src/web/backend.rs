//! Choosing where the network runs: burn's wgpu backend on WebGPU when the browser offers
//! an adapter (in this worker), otherwise burn's CPU backend (flex, wasm SIMD).

use std::cell::RefCell;

use burn::prelude::*;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::error::describe;
use super::global::Global;
use crate::api::{AdapterInfo, BackendChoice};
use crate::detect::Compute;
use crate::{Error, Result};

/// The chosen backend and its device.
#[derive(Debug)]
pub struct Selected {
    /// The backend and its device.
    pub compute: Compute,
    /// The WebGPU adapter, when the backend is WebGPU.
    pub adapter: Option<AdapterInfo>,
    /// Why `auto` fell back to the CPU.
    pub fallback_reason: Option<String>,
}

thread_local! {
    /// burn registers one wgpu runtime per process; later engines reuse it.
    static WGPU: RefCell<Option<(Device, AdapterInfo)>> = const { RefCell::new(None) };
}

/// Select a backend. `Auto` takes WebGPU only on a hardware adapter: a software fallback
/// adapter (e.g. SwiftShader) is far slower than the CPU backend.
pub async fn select(global: &Global, choice: BackendChoice) -> Result<Selected> {
    let cpu = |fallback_reason| Selected { compute: Compute::cpu(), adapter: None, fallback_reason };
    if choice == BackendChoice::Cpu {
        return Ok(cpu(None));
    }
    let webgpu = match request_adapter(global).await {
        Ok(adapter) if choice == BackendChoice::Auto && adapter.is_fallback_adapter => {
            return Ok(cpu(Some(format!(
                "the only WebGPU adapter ({} {}) is a software fallback, slower than the CPU backend",
                adapter.vendor, adapter.architecture
            ))));
        }
        Ok(adapter) => init_wgpu(adapter).await,
        Err(e) => Err(e),
    };
    match webgpu {
        Ok((device, adapter)) => {
            Ok(Selected { compute: Compute::webgpu(device), adapter: Some(adapter), fallback_reason: None })
        }
        Err(e) if choice == BackendChoice::Auto => Ok(cpu(Some(e.to_string()))),
        Err(e) => Err(e),
    }
}

fn get_str(obj: &JsValue, key: &str) -> String {
    Reflect::get(obj, &key.into()).ok().and_then(|v| v.as_string()).unwrap_or_default()
}

fn get_bool(obj: &JsValue, key: &str) -> Option<bool> {
    Reflect::get(obj, &key.into()).ok().and_then(|v| v.as_bool())
}

fn unavailable(why: impl std::fmt::Display) -> Error {
    Error::BackendUnavailable(format!("WebGPU: {why}"))
}

/// Ask the browser for an adapter ourselves: it tells whether one exists, without letting the
/// runtime fail on its own, and how the browser describes it.
async fn request_adapter(global: &Global) -> Result<AdapterInfo> {
    if let Some((_, adapter)) = WGPU.with(|w| w.borrow().clone()) {
        return Ok(adapter);
    }
    let gpu = global.gpu().ok_or_else(|| unavailable("navigator.gpu is not available in this browser or context"))?;
    let request: Function = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| unavailable("navigator.gpu.requestAdapter is missing"))?;
    let promise: Promise = request.call0(&gpu).map_err(|e| unavailable(describe(&e)))?.unchecked_into();
    let adapter = JsFuture::from(promise).await.map_err(|e| unavailable(describe(&e)))?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err(unavailable("the browser offers no WebGPU adapter"));
    }
    let info = Reflect::get(&adapter, &"info".into()).unwrap_or(JsValue::UNDEFINED);
    Ok(AdapterInfo {
        vendor: get_str(&info, "vendor"),
        architecture: get_str(&info, "architecture"),
        device: get_str(&info, "device"),
        description: get_str(&info, "description"),
        is_fallback_adapter: get_bool(&info, "isFallbackAdapter")
            .or_else(|| get_bool(&adapter, "isFallbackAdapter"))
            .unwrap_or(false),
    })
}

/// The CPU engines are built without WebGPU (the `webgpu` feature): `pkg/worker.js` loads the
/// WebGPU engine when the browser offers an adapter and WebGPU is asked for or, with `auto`,
/// the adapter is a hardware one. The threaded engine cannot have it: wgpu's browser objects
/// are not `Send`, so it does not build with wasm atomics.
#[cfg(not(feature = "webgpu"))]
async fn init_wgpu(_adapter: AdapterInfo) -> Result<(Device, AdapterInfo)> {
    Err(unavailable(if cfg!(feature = "threads") {
        "the threaded engine (CPU only) is running; create the Detector with `threads: 1` or \
         `backend: \"webgpu\"` to use WebGPU"
    } else {
        "this engine is the CPU-only one; create the Detector with `backend: \"webgpu\"` (or \
         \"auto\" on a hardware adapter) to load the WebGPU engine"
    }))
}

/// burn's wgpu runtime on WebGPU (once per worker), checked with a first computation.
#[cfg(feature = "webgpu")]
async fn init_wgpu(adapter: AdapterInfo) -> Result<(Device, AdapterInfo)> {
    if let Some(ready) = WGPU.with(|w| w.borrow().clone()) {
        return Ok(ready);
    }
    let device = Device::wgpu_options().init_async().await.map_err(unavailable)?;
    crate::detect::engine::probe(&device).await.map_err(unavailable)?;
    WGPU.with(|w| *w.borrow_mut() = Some((device.clone(), adapter.clone())));
    Ok((device, adapter))
}
