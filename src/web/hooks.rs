//! [`Hooks`] in the browser: `performance.now()`, JS callbacks for progress and for
//! detections as they become final, an AbortSignal, a zero-delay timer to let the event
//! loop deliver an abort between stages, and the engine's warm-up to wait for.

use std::cell::Cell;

use js_sys::Function;
use wasm_bindgen::JsValue;
use web_sys::AbortSignal;

use super::error::describe;
use super::global::Global;
use super::warm_up::WarmUp;
use crate::Result;
use crate::api::Progress;
use crate::host::{Hooks, RunStatus, Stage};

/// [`Hooks`] for the browser: `performance.now()`, `onProgress(progress)`,
/// `onDetections(featureCollection, progress)`, an `AbortSignal`, the engine's [`WarmUp`].
#[derive(Debug)]
pub struct WebHooks {
    global: Global,
    on_progress: Option<Function>,
    on_detections: Option<Function>,
    signal: Option<AbortSignal>,
    start: f64,
    status: Cell<RunStatus>,
    last: Cell<(Stage, usize, usize)>,
    warm_up: Option<WarmUp>,
}

impl WebHooks {
    pub fn new(global: Global, on_progress: Option<Function>, signal: Option<AbortSignal>) -> Self {
        let start = global.now_ms();
        Self {
            global,
            on_progress,
            on_detections: None,
            signal,
            start,
            status: Cell::new(RunStatus::default()),
            last: Cell::new((Stage::Model, 0, 0)),
            warm_up: None,
        }
    }

    /// Also call `on_detections` with each batch of final detections.
    pub fn with_detections(mut self, on_detections: Option<Function>) -> Self {
        self.on_detections = on_detections;
        self
    }

    /// Run no model pass before `warm_up` has ended ([`Hooks::model_ready`]).
    pub fn after(mut self, warm_up: &WarmUp) -> Self {
        self.warm_up = Some(warm_up.clone());
        self
    }

    fn event(&self, (stage, done, total): (Stage, usize, usize)) -> JsValue {
        let event = Progress::new(stage, (done, total), &self.status.get(), self.global.now_ms() - self.start);
        serde_wasm_bindgen::to_value(&event).unwrap_or(JsValue::UNDEFINED)
    }
}

/// Call a caller's callback; a throwing callback is the caller's bug: report it, don't abort
/// the run.
fn call(callback: &Function, name: &str, args: &[&JsValue]) {
    let result = match args {
        [a] => callback.call1(&JsValue::NULL, a),
        [a, b] => callback.call2(&JsValue::NULL, a, b),
        _ => callback.call0(&JsValue::NULL),
    };
    if let Err(e) = result {
        web_sys::console::error_1(&format!("geodetect: {name} threw: {}", describe(&e)).into());
    }
}

impl Hooks for WebHooks {
    fn now_ms(&self) -> f64 {
        self.global.now_ms()
    }

    fn progress(&self, stage: Stage, done: usize, total: usize) {
        self.last.set((stage, done, total));
        if let Some(callback) = &self.on_progress {
            call(callback, "onProgress", &[&self.event((stage, done, total))]);
        }
    }

    fn status(&self, status: RunStatus) {
        self.status.set(status);
    }

    fn detections(&self, batch: &serde_json::Value) {
        let Some(callback) = &self.on_detections else { return };
        // Through JSON text, as results are (serde-wasm-bindgen builds objects one call at a
        // time, which is slower for GeoJSON).
        let value = js_sys::JSON::parse(&batch.to_string()).unwrap_or(JsValue::UNDEFINED);
        call(callback, "onDetections", &[&value, &self.event(self.last.get())]);
    }

    fn is_cancelled(&self) -> bool {
        self.signal.as_ref().is_some_and(AbortSignal::aborted)
    }

    async fn yield_now(&self) {
        super::timer::next_task().await;
    }

    fn downloads_starting(&self) {
        if let Some(warm_up) = &self.warm_up {
            warm_up.start_next_task();
        }
    }

    async fn model_ready(&self) -> Result<()> {
        match &self.warm_up {
            Some(warm_up) => warm_up.ready(self.signal.as_ref()).await,
            None => Ok(()),
        }
    }
}
