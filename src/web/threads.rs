//! The CPU path's threads as the page sees them: how many were asked for (the option, or the
//! default that `pkg/worker.js` also uses to choose the threaded or the single-threaded
//! engine) and, when fewer run, why.

use js_sys::Reflect;

use crate::model::cpu::parallel;

/// Most threads the default asks for: beyond four, one 1024 px window gains little.
const DEFAULT_CAP: u32 = 4;

fn global_value(key: &str) -> Option<wasm_bindgen::JsValue> {
    Reflect::get(&js_sys::global(), &key.into()).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// The default of `EngineOptions.threads`: `min(navigator.hardwareConcurrency, 4)`.
pub fn default_threads() -> u32 {
    let cores = global_value("navigator")
        .and_then(|n| Reflect::get(&n, &"hardwareConcurrency".into()).ok())
        .and_then(|c| c.as_f64())
        .map_or(1, |c| c.max(1.0) as u32);
    cores.min(DEFAULT_CAP)
}

/// Threads running now, and why that is fewer than `requested` (the option; `None` for the
/// default).
pub fn running(requested: Option<u32>) -> (u32, Option<String>) {
    let running = parallel::threads() as u32;
    let wanted = requested.unwrap_or_else(default_threads);
    if running >= wanted {
        return (running, None);
    }
    let isolated = global_value("crossOriginIsolated").and_then(|v| v.as_bool()).unwrap_or(false);
    let note = if !isolated {
        format!(
            "{wanted} threads need a cross-origin-isolated page (serve it with `Cross-Origin-Opener-Policy: \
             same-origin` and `Cross-Origin-Embedder-Policy: require-corp` or `credentialless`); the \
             single-threaded engine runs"
        )
    } else if global_value("SharedArrayBuffer").is_none() {
        format!("{wanted} threads need SharedArrayBuffer, which this browser does not offer here")
    } else if running == 1 {
        format!("{wanted} threads were asked for but the single-threaded engine was loaded")
    } else {
        format!("{wanted} threads were asked for; the pool has {running}")
    };
    (running, Some(note))
}
