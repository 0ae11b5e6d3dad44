//! The `#[wasm_bindgen]` boundary: a thin layer that parses JS options into the core's
//! serde types, runs the [`crate::pipeline`] with browser tile fetching and hooks, and turns
//! every [`crate::Error`] into a JS `Error` with a `code` (see [`error`]). The JS worker
//! client in `pkg/` is the only intended caller of [`WebEngine`] and [`list_models`]; the
//! submodules are public building blocks (and what the browser tests drive directly).

pub mod backend;
pub mod error;
pub mod global;
pub mod hooks;
pub mod http;
pub mod models;
pub mod tiles;

use std::rc::Rc;

use js_sys::{Function, Promise};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::AbortSignal;

use self::backend::{AdapterInfo, Backend, BackendChoice};
use self::global::Global;
use self::hooks::WebHooks;
use crate::detect::Engine;
use crate::geojson::Aoi;
use crate::model::ModelEntry;
use crate::pipeline::{DetectOptions, Hooks, Stage, detect_area};
use crate::tiles::TileSource;
use crate::tiles::fetch::FetchPolicy;
use crate::{Error, Result};

pub use self::error::to_js;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// `Engine.create` options (JS `EngineOptions`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EngineOptions {
    source: TileSource,
    model: String,
    #[serde(default)]
    backend: BackendChoice,
    model_base_url: String,
    #[serde(default)]
    fetch: FetchPolicy,
    #[serde(default = "yes")]
    cache: bool,
}

fn yes() -> bool {
    true
}

/// What `engine.info` reports.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EngineInfo {
    backend: Backend,
    adapter: Option<AdapterInfo>,
    fallback_reason: Option<String>,
    model: ModelEntry,
    load_ms: f64,
    weights_from_cache: bool,
}

/// Everything `detect` returns, plus the backend that ran it.
#[derive(Serialize)]
struct DetectResult<'a> {
    #[serde(flatten)]
    result: &'a crate::pipeline::AreaResult,
    backend: Backend,
}

struct Inner {
    global: Global,
    engine: Engine,
    source: TileSource,
    fetch: FetchPolicy,
    model_base_url: String,
    cache: bool,
    info: EngineInfo,
}

/// A model loaded on a backend, bound to one tile source.
#[wasm_bindgen(js_name = Engine)]
pub struct WebEngine {
    inner: Rc<Inner>,
}

/// JS value -> serde type, through `serde_json::Value`: serde-wasm-bindgen only looks up the
/// keys a struct declares, so going through a map is what makes `deny_unknown_fields` catch
/// a misspelt option.
fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue, what: &str) -> Result<T> {
    let json: serde_json::Value =
        serde_wasm_bindgen::from_value(value).map_err(|e| Error::invalid_option(what, e.to_string()))?;
    serde_json::from_value(json).map_err(|e| Error::invalid_option(what, e.to_string()))
}

fn to_js_value<T: Serialize>(value: &T) -> Result<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| Error::Internal(format!("serialising the result: {e}")))
}

#[wasm_bindgen(js_class = Engine)]
impl WebEngine {
    /// Load a model from the manifest at `options.modelBaseUrl` onto the chosen backend.
    pub async fn create(options: JsValue, on_progress: Option<Function>) -> Result<WebEngine, JsValue> {
        Self::create_inner(options, on_progress).await.map_err(to_js)
    }

    async fn create_inner(options: JsValue, on_progress: Option<Function>) -> Result<WebEngine> {
        let options: EngineOptions = from_js(options, "options")?;
        options.source.validate()?;
        options.fetch.validate()?;
        let global = Global::get()?;
        let hooks = WebHooks::new(global.clone(), on_progress, None);
        let start = hooks.now_ms();
        hooks.progress(Stage::Model, 0, 2);
        let manifest = models::fetch_manifest(&global, &options.model_base_url).await?;
        let entry = manifest.get(&options.model)?.clone();
        let selected = backend::select(&global, options.backend).await?;
        let (bytes, from_cache) =
            models::fetch_weights(&global, &options.model_base_url, &entry, options.cache).await?;
        hooks.progress(Stage::Model, 1, 2);
        let engine = Engine::load(entry.clone(), &bytes, selected.device)?;
        hooks.progress(Stage::Model, 2, 2);
        let info = EngineInfo {
            backend: selected.backend,
            adapter: selected.adapter,
            fallback_reason: selected.fallback_reason,
            model: entry,
            load_ms: hooks.now_ms() - start,
            weights_from_cache: from_cache,
        };
        Ok(WebEngine {
            inner: Rc::new(Inner {
                global,
                engine,
                source: options.source,
                fetch: options.fetch,
                model_base_url: options.model_base_url,
                cache: options.cache,
                info,
            }),
        })
    }

    /// `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        match self.inner.info.backend {
            Backend::Webgpu => "webgpu".into(),
            Backend::Cpu => "cpu".into(),
        }
    }

    /// Backend, adapter, model and load details.
    #[wasm_bindgen(getter)]
    pub fn info(&self) -> Result<JsValue, JsValue> {
        to_js_value(&self.inner.info).map_err(to_js)
    }

    /// Detect objects inside `aoi` (a GeoJSON Polygon/MultiPolygon, Feature or
    /// FeatureCollection). Resolves to `{ detections, image, timings, missingTiles, backend }`.
    pub fn detect(
        &self,
        aoi: JsValue,
        options: JsValue,
        signal: Option<AbortSignal>,
        on_progress: Option<Function>,
    ) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let run = async {
                let aoi: serde_json::Value = serde_wasm_bindgen::from_value(aoi)
                    .map_err(|e| Error::InvalidPolygon(format!("the area is not a GeoJSON object: {e}")))?;
                let aoi = Aoi::from_json(&aoi)?;
                let options: DetectOptions = from_js(options, "options")?;
                let hooks = WebHooks::new(inner.global.clone(), on_progress, signal.clone());
                hooks.checkpoint().await?;
                let provider =
                    tiles::HttpTiles { global: &inner.global, policy: &inner.fetch, signal: signal.as_ref() };
                let result = detect_area(&inner.engine, &inner.source, &provider, &aoi, &options, &hooks).await?;
                to_js_value(&DetectResult { result: &result, backend: inner.info.backend })
            };
            run.await.map_err(to_js)
        })
    }

    /// Download and verify the weights of `ids` into the cache, without loading them.
    pub fn preload(&self, ids: Vec<String>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let run = async {
                let manifest = models::fetch_manifest(&inner.global, &inner.model_base_url).await?;
                for id in &ids {
                    let entry = manifest.get(id)?;
                    models::fetch_weights(&inner.global, &inner.model_base_url, entry, inner.cache).await?;
                }
                Ok(JsValue::UNDEFINED)
            };
            run.await.map_err(to_js)
        })
    }
}

/// The models listed in `<modelBaseUrl>/manifest.json`.
#[wasm_bindgen(js_name = listModels)]
pub async fn list_models(model_base_url: String) -> Result<JsValue, JsValue> {
    let run = async {
        let global = Global::get()?;
        let manifest = models::fetch_manifest(&global, &model_base_url).await?;
        to_js_value(&manifest.models)
    };
    run.await.map_err(to_js)
}
