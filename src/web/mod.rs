//! The `#[wasm_bindgen]` boundary: a thin layer that parses JS options into the core's
//! serde types ([`crate::api`]), runs the [`crate::pipeline`] with browser tile fetching
//! and hooks, and turns every [`crate::Error`] into a JS `Error` with a `code` (one
//! conversion, in [`error`]). The JS worker in `pkg/` is the only intended caller of
//! [`WebEngine`] and [`list_models`]; the submodules are public building blocks (and what
//! the browser tests drive directly).

pub mod backend;
pub mod encoded;
pub mod error;
pub mod global;
pub mod hooks;
pub mod http;
pub mod models;
pub mod net;
pub mod threads;
pub mod tile_cache;
pub mod tiles;
pub mod timer;
pub mod warm_up;

/// The threaded build's `initThreadPool(n)`: starts `n` web workers that share this module's
/// memory and serve as rayon's pool for the CPU path ([`crate::model::cpu::parallel`]).
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::AbortSignal;

use self::global::Global;
use self::hooks::WebHooks;
use self::net::TileNet;
use self::warm_up::WarmUp;
use crate::api::{ChunkFailure, ChunkOutput, DetectOptions, EngineInfo, EngineOptions, FinishedRun, MergeUpdate};
use crate::api::{RunPlan, WorkerHealth, parse};
use crate::detect::Backend;
use crate::detect::{Engine, NmsParams};
use crate::geojson::{Aoi, DetectionFeature, feature_collection};
use crate::host::{Hooks, Stage, TileProvider};
use crate::model::cpu::parallel;
use crate::pipeline::{AreaPlan, AreaRun, CHUNK_WINDOWS, LoadedChunk, detect_area_streamed, run_chunk};
use crate::{Error, Result};

#[allow(unsafe_code)]
unsafe extern "C" {
    /// wasm-ld's function that runs the module's static constructors (`.init_array`: the
    /// `inventory` registrations of `pliron`, which cubecl depends on).
    fn __wasm_call_ctors();
}

/// Runs the module's static constructors, once per instance.
///
/// A module with static constructors that never calls `__wasm_call_ctors` itself is linked
/// by wasm-ld as a "command": every export gets a wrapper that runs all the constructors
/// before it. Every call from JS into the module (an externref slot, a promise callback, a
/// closure) then cost ~0.7 ms in Chromium: a `js_sys::Object::new()` took 0.7 ms, fetching
/// 16 tiles 400 ms. Calling them ourselves makes it a "reactor" whose constructors run once:
/// from [`start`] when the module is instantiated, and from [`Global::get`], which every
/// entry point calls first (test binaries do not run a library's start function).
pub fn run_constructors_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the linker-provided constructor runner, run once per instance (the Once),
        // before any code that uses what the constructors register.
        #[allow(unsafe_code)]
        unsafe {
            __wasm_call_ctors();
        }
    });
}

#[wasm_bindgen(start)]
fn start() {
    run_constructors_once();
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        // For pkg/worker-core.js, which tells a panic (a bug) from a failed allocation (no
        // panic before the trap) when the instance traps.
        let _ = js_sys::Reflect::set(&js_sys::global(), &"__geodetectPanic".into(), &info.to_string().into());
    }));
}

#[derive(Debug)]
struct Inner {
    global: Global,
    engine: Engine,
    options: EngineOptions,
    info: EngineInfo,
    /// The runs this worker merges for a pool (`startRun` .. `finishRun`), by run id.
    merging: RefCell<HashMap<u32, AreaRun>>,
    /// The plans of the runs whose chunks this worker ran lately, newest last.
    plans: RefCell<Vec<(u32, Rc<RunContext>)>>,
    /// The tile network: caches, shared downloads, per-host limits, PMTiles archives.
    tiles: TileNet,
    /// The chunk loaded ahead by the last `runChunk` (its run's id), for the next one.
    ahead: RefCell<Option<(u32, LoadedChunk)>>,
    /// The engine's warm-up pass (started by `create` off the worker's thread; on it, as the
    /// first run's downloads start or after a moment without runs): runs wait for it before
    /// their first model pass.
    warm_up: WarmUp,
}

/// What running any chunk of a run needs: its plan and thresholds.
#[derive(Debug)]
struct RunContext {
    plan: AreaPlan,
    params: NmsParams,
    fail_on_missing: bool,
}

/// Plans kept for `runChunk` (a pool's worker may take chunks of a few runs in turn).
const PLANS_KEPT: usize = 8;

/// A model loaded on a backend, bound to one tile source.
#[derive(Debug)]
#[wasm_bindgen(js_name = Engine)]
pub struct WebEngine {
    inner: Rc<Inner>,
}

/// JS value -> serde type, through `serde_json::Value`: serde-wasm-bindgen only looks up the
/// keys a struct declares, so going through a map is what makes `deny_unknown_fields` catch
/// a misspelt option; [`parse`] names the offending field.
fn from_js<T: serde::de::DeserializeOwned>(value: JsValue, what: &str) -> Result<T> {
    let json: serde_json::Value =
        serde_wasm_bindgen::from_value(value).map_err(|e| Error::invalid_option(what, e.to_string()))?;
    parse(json, what)
}

/// Serde type -> JS value, through JSON text and `JSON.parse`: one call across the boundary
/// instead of one per key and value. For 200 detection Features, measured in a worker:
/// 0.9 ms, against 9.6 ms with serde-wasm-bindgen's object building (2.6 s while every call
/// into the module also reran the static constructors; see [`run_constructors_once`]).
/// Everything geodetect returns is JSON data (finite numbers only).
fn to_js_value<T: Serialize>(value: &T) -> Result<JsValue> {
    let text = serde_json::to_string(value).map_err(|e| Error::Internal(format!("serialising the result: {e}")))?;
    js_sys::JSON::parse(&text)
        .map_err(|e| Error::Internal(format!("reading back the serialised result: {}", error::describe(&e))))
}

/// The caller's area, checked.
fn aoi_from_js(aoi: JsValue) -> Result<Aoi> {
    let aoi: serde_json::Value = serde_wasm_bindgen::from_value(aoi)
        .map_err(|e| Error::InvalidPolygon(format!("the area is not a GeoJSON object: {e}")))?;
    Aoi::from_json(&aoi)
}

#[wasm_bindgen(js_class = Engine)]
impl WebEngine {
    /// Load a model from the manifest at `options.modelBaseUrl` onto the chosen backend.
    pub async fn create(options: JsValue, on_progress: Option<Function>) -> Result<WebEngine, JsValue> {
        let options: EngineOptions = from_js(options, "options")?;
        options.validate()?;
        let global = Global::get()?;
        let hooks = WebHooks::new(global.clone(), on_progress, None);
        let start = hooks.now_ms();
        hooks.progress(Stage::Model, 0, 2);
        let manifest = models::fetch_manifest(&global, &options.model_base_url).await?;
        let entry = manifest.get(&options.model)?.clone();
        let selected = backend::select(&global, options.backend).await?;
        let (weights, from_cache) =
            models::fetch_weights(&global, &options.model_base_url, &entry, options.cache).await?;
        hooks.progress(Stage::Model, 1, 2);
        let backend = selected.compute.backend;
        let engine = Engine::load(entry.clone(), &weights, selected.compute)?;
        hooks.progress(Stage::Model, 2, 2);
        // The first detect() would otherwise pay for shader compilation (WebGPU) or run
        // unoptimised wasm until the JIT tiers it up (CPU: 200 ms slower at 1024 px). The pass
        // runs in the background (`warm_up`): off this thread (the GPU, the threaded engine's
        // pool) from now on, while the first detect() plans its area and downloads its tiles;
        // on this thread (the single-threaded engine) once that call's tile requests are out.
        let off_this_thread = backend == Backend::Webgpu || parallel::ON_POOL;
        let (threads, threads_note) = threads::running(options.threads);
        let info = EngineInfo {
            backend,
            adapter: selected.adapter,
            fallback_reason: selected.fallback_reason,
            model: entry,
            load_ms: hooks.now_ms() - start,
            weights_from_cache: from_cache,
            threads,
            threads_note,
            relaxed_simd: cfg!(feature = "relaxed-simd"),
            chunk_timeout_ms: options.chunk_timeout_ms,
        };
        let (merging, plans) = (RefCell::default(), RefCell::default());
        let (tiles, ahead) = (TileNet::new(options.fetch.cache_bytes), RefCell::default());
        let inner = Rc::new_cyclic(|owner: &Weak<Inner>| {
            let warm_up = WarmUp::new(owner.clone());
            Inner { global, engine, options, info, merging, plans, tiles, ahead, warm_up }
        });
        if off_this_thread {
            inner.warm_up.start();
        } else {
            inner.warm_up.start_when_idle(warm_up::IDLE_START_MS);
        }
        Ok(WebEngine { inner })
    }

    /// `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.inner.info.backend.as_str().into()
    }

    /// Backend, adapter, model and load details.
    #[wasm_bindgen(getter)]
    pub fn info(&self) -> Result<JsValue, JsValue> {
        Ok(to_js_value(&self.inner.info)?)
    }

    /// Detect objects inside `aoi` (a GeoJSON Polygon/MultiPolygon, Feature or
    /// FeatureCollection). `on_detections(featureCollection, progress)` receives the
    /// detections in batches as they become final, and only there: this worker keeps none of
    /// them. Resolves to a `FinishedRun` (the result without its detections, and their order
    /// among the batches), which the client puts together.
    pub fn detect(
        &self,
        aoi: JsValue,
        options: JsValue,
        signal: Option<AbortSignal>,
        on_progress: Option<Function>,
        on_detections: Option<Function>,
    ) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let aoi = aoi_from_js(aoi)?;
            let options: DetectOptions = from_js(options, "options")?;
            let hooks = WebHooks::new(inner.global.clone(), on_progress, signal.clone())
                .with_detections(on_detections)
                .after(&inner.warm_up);
            hooks.checkpoint().await?;
            let provider = inner.provider(signal.as_ref());
            let finished =
                detect_area_streamed(&inner.engine, &inner.options.source, &provider, &aoi, &options, &hooks).await?;
            let batch = feature_collection(&[]);
            Ok(to_js_value(&FinishedRun { result: finished.result, batch, order: finished.order })?)
        })
    }

    /// Start merging run `run` of a pool (an id unique per client): plan `aoi` with
    /// `options` (every check `detect` makes; for a COG source, the COG opened first) and keep
    /// the merge here; `runChunk` on any worker then runs its chunks, `mergeChunk` /
    /// `failChunk` here take their outcomes and `finishRun` makes the result. Resolves to the
    /// plan's size (`RunPlan`).
    #[wasm_bindgen(js_name = startRun)]
    pub fn start_run(&self, run: u32, aoi: JsValue, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let aoi = aoi_from_js(aoi)?;
            let options: DetectOptions = from_js(options, "options")?;
            let source = &inner.options.source;
            let levels = inner.provider(None).image_levels(source).await?;
            let area = AreaRun::new(inner.engine.entry(), source, &aoi, &options, CHUNK_WINDOWS, levels.as_deref())?;
            let plan = area.plan();
            let summary = RunPlan {
                chunks: plan.chunks.len(),
                windows: plan.windows,
                tiles: plan.tile_fetches,
                image: (&plan.extent).into(),
            };
            inner.merging.borrow_mut().insert(run, area);
            Ok(to_js_value(&summary)?)
        })
    }

    /// Run chunk `chunk` of run `run` (the area and options as given to `startRun`, planned
    /// again here unless this worker planned them lately), and meanwhile load chunk `next`
    /// (if any: the one this worker will likely run next) for the next call. Resolves to a
    /// `ChunkOutput`; progress events count this chunk's tiles and windows.
    #[wasm_bindgen(js_name = runChunk)]
    #[allow(clippy::too_many_arguments)] // the protocol's payload, spread
    pub fn run_chunk(
        &self,
        run: u32,
        aoi: JsValue,
        options: JsValue,
        chunk: u32,
        next: Option<u32>,
        signal: Option<AbortSignal>,
        on_progress: Option<Function>,
    ) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let hooks = WebHooks::new(inner.global.clone(), on_progress, signal.clone()).after(&inner.warm_up);
            hooks.checkpoint().await?;
            let provider = inner.provider(signal.as_ref());
            let context = inner.context(run, aoi, options, &provider).await?;
            // What the call before loaded ahead, if it was for this run (run_chunk checks
            // the chunk); anything else is dropped here.
            let ready = inner.ahead.borrow_mut().take().and_then(|(r, loaded)| (r == run).then_some(loaded));
            let (output, ahead) = run_chunk(
                &inner.engine,
                &inner.options.source,
                &provider,
                &context.plan,
                (chunk as usize, next.map(|n| n as usize)),
                &context.params,
                context.fail_on_missing,
                &hooks,
                ready,
            )
            .await?;
            *inner.ahead.borrow_mut() = ahead.map(|loaded| (run, loaded));
            Ok(to_js_value(&output)?)
        })
    }

    /// Merge a chunk's output (a `ChunkOutput` from any worker's `runChunk`) into run `run`;
    /// returns a `MergeUpdate` with the detections that became final.
    #[wasm_bindgen(js_name = mergeChunk)]
    pub fn merge_chunk(&self, run: u32, output: JsValue) -> Result<JsValue, JsValue> {
        let output: ChunkOutput = from_js(output, "output")?;
        let hooks = WebHooks::new(self.inner.global.clone(), None, None);
        Ok(self.inner.update(run, |area| area.add(output, &hooks))?)
    }

    /// Give up a chunk of run `run` (a `ChunkFailure`: no worker could run it); returns a
    /// `MergeUpdate`.
    #[wasm_bindgen(js_name = failChunk)]
    pub fn fail_chunk(&self, run: u32, failure: JsValue) -> Result<JsValue, JsValue> {
        let failure: ChunkFailure = from_js(failure, "failure")?;
        Ok(self.inner.update(run, |area| area.fail(failure))?)
    }

    /// Finish run `run` once every chunk is merged or given up (`total_ms`: the whole call, as
    /// the client measured it); returns a `FinishedRun` and forgets the run.
    #[wasm_bindgen(js_name = finishRun)]
    pub fn finish_run(&self, run: u32, total_ms: f64) -> Result<JsValue, JsValue> {
        let area = self.inner.merging.borrow_mut().remove(&run).ok_or_else(|| unknown_run(run))?;
        let engine = &self.inner.engine;
        let finished = area.finish(total_ms, engine.backend(), engine.fallback_reason())?;
        let batch = feature_collection(&finished.last);
        Ok(to_js_value(&FinishedRun { result: finished.result, batch, order: finished.order })?)
    }

    /// Forget run `run` (aborted or failed): its merge and its plan.
    #[wasm_bindgen(js_name = dropRun)]
    pub fn drop_run(&self, run: u32) {
        self.inner.merging.borrow_mut().remove(&run);
        self.inner.plans.borrow_mut().retain(|(id, _)| *id != run);
        let mut ahead = self.inner.ahead.borrow_mut();
        if ahead.as_ref().is_some_and(|(id, _)| *id == run) {
            *ahead = None;
        }
    }

    /// The engine's self-test ([`Engine::self_test`]) and its vital signs: resolves to a
    /// `WorkerHealth`, whether the test passed or not (a failure is in its `error`).
    pub fn health(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let hooks = WebHooks::new(inner.global.clone(), None, None);
            let start = hooks.now_ms();
            let test = inner.engine.self_test(&hooks).await;
            let entry = inner.engine.entry();
            let report = WorkerHealth {
                ok: test.is_ok(),
                self_test_ms: test.as_ref().map_or_else(|_| hooks.now_ms() - start, |ms| *ms),
                error: test.err().map(|e| format!("{}: {e}", e.code())),
                memory_bytes: memory_bytes(),
                backend: inner.engine.backend(),
                fallback_reason: inner.engine.fallback_reason(),
                model_id: entry.id.clone(),
                weights_sha256: entry.weights.sha256.clone(),
                version: env!("CARGO_PKG_VERSION").into(),
            };
            Ok(to_js_value(&report)?)
        })
    }

    /// Download and verify the weights of `ids` into the cache, without loading them.
    pub fn preload(&self, ids: Vec<String>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let base = &inner.options.model_base_url;
            let manifest = models::fetch_manifest(&inner.global, base).await?;
            for id in &ids {
                models::fetch_weights(&inner.global, base, manifest.get(id)?, inner.options.cache).await?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}

impl Inner {
    /// Tiles over HTTP with this engine's fetch policy and tile network.
    fn provider<'a>(&'a self, signal: Option<&'a AbortSignal>) -> tiles::HttpTiles<'a> {
        tiles::HttpTiles { global: &self.global, policy: &self.options.fetch, signal, net: &self.tiles }
    }

    /// Run `run`'s plan, from the merge or the plans kept here, else planned now (for a COG
    /// source, with the COG as `provider` opened it).
    async fn context(
        &self,
        run: u32,
        aoi: JsValue,
        options: JsValue,
        provider: &tiles::HttpTiles<'_>,
    ) -> Result<Rc<RunContext>> {
        {
            let mut plans = self.plans.borrow_mut();
            if let Some(i) = plans.iter().position(|(id, _)| *id == run) {
                let kept = plans.remove(i);
                let context = kept.1.clone();
                plans.push(kept);
                return Ok(context);
            }
        }
        let options: DetectOptions = from_js(options, "options")?;
        let merged = self.merging.borrow().get(&run).map(|area| (area.plan().clone(), area.params().clone()));
        let area = match merged {
            Some(area) => area,
            None => {
                let (aoi, source) = (aoi_from_js(aoi)?, &self.options.source);
                let levels = provider.image_levels(source).await?;
                let area = AreaRun::new(self.engine.entry(), source, &aoi, &options, CHUNK_WINDOWS, levels.as_deref())?;
                (area.plan().clone(), area.params().clone())
            }
        };
        let context =
            Rc::new(RunContext { plan: area.0, params: area.1, fail_on_missing: options.fail_on_missing_tiles });
        let mut plans = self.plans.borrow_mut();
        if plans.len() >= PLANS_KEPT {
            plans.remove(0);
        }
        plans.push((run, context.clone()));
        Ok(context)
    }

    /// Change run `run`'s merge; the `MergeUpdate` after it.
    fn update(&self, run: u32, change: impl FnOnce(&mut AreaRun) -> Result<Vec<DetectionFeature>>) -> Result<JsValue> {
        let mut merging = self.merging.borrow_mut();
        let area = merging.get_mut(&run).ok_or_else(|| unknown_run(run))?;
        let batch = change(area)?;
        let status = area.status();
        to_js_value(&MergeUpdate {
            batch: feature_collection(&batch),
            chunks_done: status.chunks_done,
            windows_done: status.windows_done,
            detections: status.detections,
        })
    }
}

fn unknown_run(run: u32) -> Error {
    Error::Internal(format!("run {run} is not merged by this worker (startRun first)"))
}

/// Bytes of this module's wasm memory (a `SharedArrayBuffer` in the threaded engine).
fn memory_bytes() -> f64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    js_sys::Reflect::get(&memory.buffer(), &"byteLength".into()).ok().and_then(|v| v.as_f64()).unwrap_or(0.0)
}

/// The models listed in `<modelBaseUrl>/manifest.json`.
#[wasm_bindgen(js_name = listModels)]
pub async fn list_models(model_base_url: String) -> Result<JsValue, JsValue> {
    let global = Global::get()?;
    let manifest = models::fetch_manifest(&global, &model_base_url).await?;
    Ok(to_js_value(&manifest.models)?)
}
