//! The JS global scope: a dedicated worker (the library's normal home) or a window (tests,
//! and callers that run the engine on the main thread).

use js_sys::{Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, CacheStorage, ImageBitmapOptions, Request, SubtleCrypto, WorkerGlobalScope};

use crate::{Error, Result};

/// `self` in a worker or `window` in a page.
#[derive(Clone, Debug)]
pub enum Global {
    Window(web_sys::Window),
    Worker(WorkerGlobalScope),
}

impl Global {
    /// The current global scope. Every entry point calls this first, so it also makes sure
    /// the module's static constructors have run ([`super::run_constructors_once`]).
    pub fn get() -> Result<Self> {
        super::run_constructors_once();
        let global = js_sys::global();
        if let Some(w) = global.dyn_ref::<WorkerGlobalScope>() {
            return Ok(Global::Worker(w.clone()));
        }
        global
            .dyn_into::<web_sys::Window>()
            .map(Global::Window)
            .map_err(|_| Error::Internal("geodetect runs in a window or a web worker".into()))
    }

    /// `fetch(request)`.
    pub fn fetch(&self, request: &Request) -> Promise {
        match self {
            Global::Window(w) => w.fetch_with_request(request),
            Global::Worker(w) => w.fetch_with_request(request),
        }
    }

    /// `performance.now()` in milliseconds (0 if the scope has no `performance`).
    pub fn now_ms(&self) -> f64 {
        let performance = match self {
            Global::Window(w) => w.performance(),
            Global::Worker(w) => w.performance(),
        };
        performance.map_or(0.0, |p| p.now())
    }

    /// `createImageBitmap(blob, options)`.
    pub fn create_image_bitmap(&self, blob: &Blob, options: &ImageBitmapOptions) -> Result<Promise, JsValue> {
        match self {
            Global::Window(w) => w.create_image_bitmap_with_blob_and_image_bitmap_options(blob, options),
            Global::Worker(w) => w.create_image_bitmap_with_blob_and_image_bitmap_options(blob, options),
        }
    }

    /// `caches`, when the Cache API is available (secure contexts only).
    pub fn caches(&self) -> Option<CacheStorage> {
        match self {
            Global::Window(w) => w.caches().ok(),
            Global::Worker(w) => w.caches().ok(),
        }
    }

    /// `crypto.subtle`, when the browser offers it here (secure contexts only).
    pub fn subtle_crypto(&self) -> Option<SubtleCrypto> {
        let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok()?;
        Reflect::get(&crypto, &"subtle".into()).ok()?.dyn_into().ok()
    }

    /// `navigator.gpu`, when the browser exposes WebGPU here.
    pub fn gpu(&self) -> Option<JsValue> {
        let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
        Reflect::get(&navigator, &"gpu".into()).ok().filter(|g| !g.is_undefined() && !g.is_null())
    }
}
