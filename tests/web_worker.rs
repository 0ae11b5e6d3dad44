//! Browser tests inside a dedicated worker, where the library runs: parity with
//! onnxruntime on the wasm CPU path and on WebGPU, and the `Engine` boundary end to end.
//!
//! Run as tests/run.sh does (`wasm-pack test --headless --chrome --release ...`, see
//! README); they fetch imagery and weights from the local server (`www/serve.sh start`,
//! http://127.0.0.1:8080 unless GEODETECT_TEST_SERVER was set at build time).
#![cfg(target_family = "wasm")]
// Tests fail by panicking: the no-panic lints are for library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{MODEL_ID, Reference, VEHICLES_ID, YOLO26_ID, check_parity};
use geodetect::api::BackendChoice;
use geodetect::detect::{Backend, Compute, Engine};
use geodetect::model::Postprocess;
use geodetect::web::backend;
use geodetect::web::global::Global;
use geodetect::web::{WebEngine, models, tiles};
use js_sys::Reflect;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

const SERVER: &str = match option_env!("GEODETECT_TEST_SERVER") {
    Some(s) => s,
    None => "http://127.0.0.1:8080",
};

fn models_url() -> String {
    format!("{SERVER}/models/")
}

async fn engine(compute: Compute) -> Engine {
    engine_for(MODEL_ID, None, compute).await
}

/// Model `id` on `compute`, with `postprocess` instead of the manifest's when given.
async fn engine_for(id: &str, postprocess: Option<Postprocess>, compute: Compute) -> Engine {
    let global = Global::get().unwrap();
    let manifest = models::fetch_manifest(&global, &models_url()).await.expect("manifest (is www/serve.sh running?)");
    let mut entry = manifest.get(id).unwrap().clone();
    if let Some(p) = postprocess {
        entry.postprocess = p;
    }
    let (weights, _) = models::fetch_weights(&global, &models_url(), &entry, false).await.unwrap();
    Engine::load(entry, &weights, compute).unwrap()
}

/// The marina photo decoded by the browser, as RGB.
async fn source_rgb() -> (u32, Vec<u8>) {
    let global = Global::get().unwrap();
    let url = format!("{SERVER}/tiles/marina/source.png");
    let bytes = geodetect::web::http::get_body(&global, &url, 60_000, None).await.expect("source.png").to_vec();
    let img = tiles::browser_decode(&global, &geodetect::web::encoded::blob_of(&bytes).unwrap()).await.unwrap();
    let rgb = img.rgba().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    (img.width, rgb)
}

fn reference(name: &str) -> Reference {
    macro_rules! case {
        ($file:literal) => {
            Reference::parse(
                include_str!(concat!("../models/reference/", $file, ".json")),
                include_bytes!(concat!("../models/reference/", $file, ".f32")),
            )
        };
    }
    match name {
        "yolo11n-obb-vehicles_marina_512" => case!("yolo11n-obb-vehicles_marina_512"),
        "yolo11n-obb-vehicles_marina_ds2_512" => case!("yolo11n-obb-vehicles_marina_ds2_512"),
        "yolo26n-obb-dota_marina_256" => case!("yolo26n-obb-dota_marina_256"),
        "yolo26n-obb-dota_marina_1024" => case!("yolo26n-obb-dota_marina_1024"),
        "marina_256" => Reference::parse(
            include_str!("../models/reference/marina_256.json"),
            include_bytes!("../models/reference/marina_256.f32"),
        ),
        "marina_1024" => Reference::parse(
            include_str!("../models/reference/marina_1024.json"),
            include_bytes!("../models/reference/marina_1024.f32"),
        ),
        other => panic!("no reference {other}"),
    }
}

async fn parity(name: &str, engine: &Engine) {
    let (w, rgb) = source_rgb().await;
    let summary = check_parity(&reference(name), engine, &rgb, w).await;
    console_log!("{name}: {}", summary.unwrap_or_else(|e| panic!("{name}: {e}")));
}

#[wasm_bindgen_test]
async fn cpu_parity_marina_256() {
    parity("marina_256", &engine(Compute::cpu()).await).await;
}

#[wasm_bindgen_test]
async fn cpu_parity_marina_1024() {
    parity("marina_1024", &engine(Compute::cpu()).await).await;
}

async fn webgpu_compute() -> Compute {
    let global = Global::get().unwrap();
    let selected = backend::select(&global, BackendChoice::Webgpu).await.expect("WebGPU adapter in this worker");
    assert_eq!(selected.compute.backend, Backend::Webgpu);
    console_log!("adapter: {:?}", selected.adapter);
    selected.compute
}

async fn webgpu_engine() -> Engine {
    engine(webgpu_compute().await).await
}

/// Headless Chromium offers only SwiftShader: `auto` must not pick a software adapter.
#[wasm_bindgen_test]
async fn auto_skips_a_software_fallback_adapter() {
    let global = Global::get().unwrap();
    let selected = backend::select(&global, BackendChoice::Auto).await.unwrap();
    assert_eq!(selected.compute.backend, Backend::Cpu);
    let reason = selected.fallback_reason.expect("auto records why it chose the CPU");
    assert!(reason.contains("software fallback"), "{reason}");
}

#[wasm_bindgen_test]
async fn webgpu_parity_marina_256() {
    parity("marina_256", &webgpu_engine().await).await;
}

#[wasm_bindgen_test]
async fn webgpu_parity_marina_1024() {
    parity("marina_1024", &webgpu_engine().await).await;
}

/// YOLO11n-OBB on the CPU path: C3k2 on the fused C2f kernel, C2PSA's attention and the
/// depthwise class branch in burn's ops.
#[wasm_bindgen_test]
async fn cpu_parity_yolo11_vehicles() {
    let engine = engine_for(VEHICLES_ID, None, Compute::cpu()).await;
    parity("yolo11n-obb-vehicles_marina_512", &engine).await;
    parity("yolo11n-obb-vehicles_marina_ds2_512", &engine).await;
}

/// YOLO26n-OBB on the CPU path: both branches at 256 px, the default (one-to-one, top-k)
/// at 1024 px.
#[wasm_bindgen_test]
async fn cpu_parity_yolo26() {
    let nms = engine_for(YOLO26_ID, Some(Postprocess::Nms), Compute::cpu()).await;
    parity("yolo26n-obb-dota_marina_256", &nms).await;
    let topk = engine_for(YOLO26_ID, None, Compute::cpu()).await;
    assert_eq!(topk.entry().postprocess, Postprocess::Topk, "the manifest's default for YOLO26");
    parity("yolo26n-obb-dota_marina_256", &topk).await;
    parity("yolo26n-obb-dota_marina_1024", &topk).await;
}

#[wasm_bindgen_test]
async fn webgpu_parity_yolo11_vehicles() {
    let engine = engine_for(VEHICLES_ID, None, webgpu_compute().await).await;
    parity("yolo11n-obb-vehicles_marina_512", &engine).await;
}

#[wasm_bindgen_test]
async fn webgpu_parity_yolo26() {
    let nms = engine_for(YOLO26_ID, Some(Postprocess::Nms), webgpu_compute().await).await;
    parity("yolo26n-obb-dota_marina_256", &nms).await;
    let topk = engine_for(YOLO26_ID, None, webgpu_compute().await).await;
    parity("yolo26n-obb-dota_marina_256", &topk).await;
    parity("yolo26n-obb-dota_marina_1024", &topk).await;
}

fn obj(json: serde_json::Value) -> JsValue {
    json.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap()
}

use serde::Serialize;

fn get(v: &JsValue, path: &[&str]) -> JsValue {
    path.iter().fold(v.clone(), |v, k| Reflect::get(&v, &(*k).into()).unwrap())
}

async fn create(backend: &str, tile_url: &str) -> Result<WebEngine, JsValue> {
    WebEngine::create(
        obj(serde_json::json!({
            "source": { "url": tile_url, "maxZoom": 21 },
            "model": MODEL_ID,
            "backend": backend,
            "modelBaseUrl": models_url(),
        })),
        None,
    )
    .await
}

fn marina_aoi() -> JsValue {
    obj(serde_json::from_str(include_str!("data/aoi/marina.geojson")).unwrap())
}

/// `engine.detect`, its detections (streamed in batches: the engine keeps none) put in the
/// result's order as `pkg/pool.js` does: the result (its `detections` empty) and them.
async fn detect_all(engine: &WebEngine, aoi: JsValue, options: JsValue) -> Result<(JsValue, js_sys::Array), JsValue> {
    let released = js_sys::Array::new();
    let collect = {
        let released = released.clone();
        Closure::<dyn FnMut(JsValue, JsValue)>::new(move |batch: JsValue, _progress: JsValue| {
            for f in js_sys::Array::from(&get(&batch, &["features"])).iter() {
                released.push(&f);
            }
        })
    };
    let on_detections: js_sys::Function = collect.as_ref().unchecked_ref::<js_sys::Function>().clone();
    let finished = JsFuture::from(engine.detect(aoi, options, None, None, Some(on_detections))).await?;
    for f in js_sys::Array::from(&get(&finished, &["batch", "features"])).iter() {
        released.push(&f);
    }
    let order = js_sys::Array::from(&get(&finished, &["order"]));
    let features: js_sys::Array = order.iter().map(|i| released.get(i.as_f64().unwrap() as u32)).collect();
    assert!(features.iter().all(|f| !f.is_undefined()), "the order names only released detections");
    assert_eq!(js_sys::Array::from(&get(&finished, &["result", "detections", "features"])).length(), 0);
    Ok((get(&finished, &["result"]), features))
}

/// Errors cross as JS `Error`s with `name` and a stable `code`.
async fn expect_code(result: Result<JsValue, JsValue>, code: &str) {
    let err = result.expect_err(&format!("expected {code}"));
    let err: js_sys::Error = err.dyn_into().expect("a JS Error");
    assert_eq!(err.name(), "GeodetectError");
    assert_eq!(get(&err, &["code"]).as_string().as_deref(), Some(code), "{}", String::from(err.message()));
}

#[wasm_bindgen_test]
async fn engine_detects_boats_and_reports_errors_with_codes() {
    let engine = create("cpu", &format!("{SERVER}/tiles/marina/{{z}}/{{x}}/{{y}}.png")).await.unwrap();
    assert_eq!(engine.backend(), "cpu");
    let small = obj(serde_json::json!({ "type": "Polygon", "coordinates": [[
        [7.4236, 43.7350], [7.4246, 43.7350], [7.4246, 43.7356], [7.4236, 43.7356], [7.4236, 43.7350]
    ]]}));
    let (result, features) = detect_all(&engine, small.clone(), obj(serde_json::json!({ "zoom": 19 }))).await.unwrap();
    assert!(features.length() > 5, "only {} detections", features.length());
    assert_eq!(get(&result, &["backend"]).as_string().as_deref(), Some("cpu"));
    assert_eq!(js_sys::Array::from(&get(&result, &["missingTiles"])).length(), 0);

    let bad_polygon = obj(serde_json::json!({ "type": "Polygon", "coordinates": [[[0, 0], [1, 1]]] }));
    expect_code(
        JsFuture::from(engine.detect(bad_polygon, obj(serde_json::json!({ "zoom": 19 })), None, None, None)).await,
        "INVALID_POLYGON",
    )
    .await;
    expect_code(
        JsFuture::from(engine.detect(small.clone(), obj(serde_json::json!({ "zoom": 30 })), None, None, None)).await,
        "ZOOM_OUT_OF_RANGE",
    )
    .await;
    expect_code(
        JsFuture::from(engine.detect(
            small.clone(),
            obj(serde_json::json!({ "zoom": 19, "confidance": 0.5 })),
            None,
            None,
            None,
        ))
        .await,
        "INVALID_OPTIONS",
    )
    .await;
    expect_code(
        JsFuture::from(engine.detect(
            marina_aoi(),
            obj(serde_json::json!({ "zoom": 19, "maxTiles": 4 })),
            None,
            None,
            None,
        ))
        .await,
        "TOO_MANY_TILES",
    )
    .await;
    let aborted = web_sys::AbortController::new().unwrap();
    aborted.abort();
    expect_code(
        JsFuture::from(engine.detect(
            small,
            obj(serde_json::json!({ "zoom": 19 })),
            Some(aborted.signal()),
            None,
            None,
        ))
        .await,
        "ABORTED",
    )
    .await;
}

#[wasm_bindgen_test]
async fn missing_tiles_are_reported_or_fatal_on_request() {
    // Half of this area lies east of the marina image, where the server has no tiles (404).
    let engine = create("cpu", &format!("{SERVER}/tiles/marina/{{z}}/{{x}}/{{y}}.png")).await.unwrap();
    let straddling = obj(serde_json::json!({ "type": "Polygon", "coordinates": [[
        [7.4262, 43.7345], [7.4290, 43.7345], [7.4290, 43.7352], [7.4262, 43.7352], [7.4262, 43.7345]
    ]]}));
    let (result, _) = detect_all(&engine, straddling.clone(), obj(serde_json::json!({ "zoom": 19 }))).await.unwrap();
    let missing = js_sys::Array::from(&get(&result, &["missingTiles"]));
    assert!(missing.length() > 0, "tiles east of the image must be reported missing");
    assert!(get(&missing.get(0), &["reason"]).as_string().unwrap().contains("404"));
    assert_eq!(get(&missing.get(0), &["attempts"]).as_f64(), Some(1.0), "a 404 is not retried");
    expect_code(
        JsFuture::from(engine.detect(
            straddling,
            obj(serde_json::json!({ "zoom": 19, "failOnMissingTiles": true })),
            None,
            None,
            None,
        ))
        .await,
        "TILE_FETCH_FAILED",
    )
    .await;

    let engine = create("cpu", &format!("{SERVER}/tiles/nowhere/{{z}}/{{x}}/{{y}}.png")).await.unwrap();
    let small = obj(serde_json::json!({ "type": "Polygon", "coordinates": [[
        [7.4236, 43.7350], [7.4246, 43.7350], [7.4246, 43.7356], [7.4236, 43.7356], [7.4236, 43.7350]
    ]]}));
    // All tiles missing is an error even without failOnMissingTiles.
    expect_code(
        JsFuture::from(engine.detect(small.clone(), obj(serde_json::json!({ "zoom": 19 })), None, None, None)).await,
        "TILE_FETCH_FAILED",
    )
    .await;
    expect_code(
        JsFuture::from(engine.detect(
            small,
            obj(serde_json::json!({ "zoom": 19, "failOnMissingTiles": true })),
            None,
            None,
            None,
        ))
        .await,
        "TILE_FETCH_FAILED",
    )
    .await;
}

#[wasm_bindgen_test]
async fn unknown_model_and_bad_options_fail_with_codes() {
    let tiles = format!("{SERVER}/tiles/marina/{{z}}/{{x}}/{{y}}.png");
    let unknown = WebEngine::create(
        obj(serde_json::json!({ "source": { "url": tiles }, "model": "nope", "modelBaseUrl": models_url() })),
        None,
    )
    .await
    .map(|_| JsValue::NULL);
    expect_code(unknown, "UNKNOWN_MODEL").await;
    let bad_url = WebEngine::create(
        obj(serde_json::json!({ "source": { "url": "http://x/{z}/{x}.png" }, "model": MODEL_ID, "modelBaseUrl": models_url() })),
        None,
    )
    .await
    .map(|_| JsValue::NULL);
    expect_code(bad_url, "INVALID_OPTIONS").await;
}
