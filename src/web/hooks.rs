//! [`Hooks`] in the browser: `performance.now()`, a JS progress callback, an AbortSignal,
//! and a zero-delay timer to let the event loop deliver an abort between stages.

use std::cell::Cell;

use js_sys::Function;
use wasm_bindgen::JsValue;
use web_sys::AbortSignal;

use super::error::describe;
use super::global::Global;
use crate::api::Progress;
use crate::host::{Hooks, Stage};

/// [`Hooks`] for the browser: `performance.now()`, `onProgress`, an `AbortSignal`.
#[derive(Debug)]
pub struct WebHooks {
    global: Global,
    on_progress: Option<Function>,
    signal: Option<AbortSignal>,
    tiles: Cell<(usize, usize)>,
}

impl WebHooks {
    pub fn new(global: Global, on_progress: Option<Function>, signal: Option<AbortSignal>) -> Self {
        Self { global, on_progress, signal, tiles: Cell::new((0, 0)) }
    }
}

impl Hooks for WebHooks {
    fn now_ms(&self) -> f64 {
        self.global.now_ms()
    }

    fn progress(&self, stage: Stage, done: usize, total: usize) {
        if stage == Stage::Fetch {
            self.tiles.set((done, total));
        }
        let Some(callback) = &self.on_progress else { return };
        let (tiles_done, tiles_total) = self.tiles.get();
        let event = Progress { stage, done, total, tiles_done, tiles_total };
        let value = serde_wasm_bindgen::to_value(&event).unwrap_or(JsValue::UNDEFINED);
        // A throwing callback is the caller's bug; report it, don't abort the run.
        if let Err(e) = callback.call1(&JsValue::NULL, &value) {
            web_sys::console::error_1(&format!("geodetect: onProgress threw: {}", describe(&e)).into());
        }
    }

    fn is_cancelled(&self) -> bool {
        self.signal.as_ref().is_some_and(AbortSignal::aborted)
    }

    async fn yield_now(&self) {
        gloo_timers::future::TimeoutFuture::new(0).await;
    }
}
