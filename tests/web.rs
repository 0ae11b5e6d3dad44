//! Browser tests on the page's main thread (the worker tests are in web_worker.rs): the
//! engine also works from a window, errors cross as `GeodetectError`s with a code, and the
//! browser's tile decoding is bit-exact.
#![cfg(target_family = "wasm")]
// Tests fail by panicking: the no-panic lints are for library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use geodetect::web::global::Global;
use geodetect::web::{http, list_models, tiles};
use js_sys::Reflect;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SERVER: &str = match option_env!("GEODETECT_TEST_SERVER") {
    Some(s) => s,
    None => "http://127.0.0.1:8080",
};

#[wasm_bindgen_test]
fn errors_are_geodetect_errors_with_codes() {
    let js: js_sys::Error = wasm_bindgen::JsValue::from(geodetect::Error::Aborted).dyn_into().unwrap();
    assert_eq!(js.name(), "GeodetectError");
    assert_eq!(Reflect::get(&js, &"code".into()).unwrap().as_string().as_deref(), Some("ABORTED"));
    assert_eq!(String::from(js.message()), "the operation was aborted");
}

#[wasm_bindgen_test]
async fn lists_the_manifest_models_from_a_window() {
    assert!(matches!(Global::get().unwrap(), Global::Window(_)));
    let models = list_models(format!("{SERVER}/models/")).await.expect("manifest (is www/serve.sh running?)");
    let first = js_sys::Array::from(&models).get(0);
    let id = Reflect::get(&first, &"id".into()).unwrap().as_string();
    assert_eq!(id.as_deref(), Some("yolov8n-obb-dota"));
    let classes = js_sys::Array::from(&Reflect::get(&first, &"classes".into()).unwrap());
    assert_eq!(classes.length(), 15);
    let err = list_models(format!("{SERVER}/no-such-dir/")).await.unwrap_err();
    assert_eq!(Reflect::get(&err, &"code".into()).unwrap().as_string().as_deref(), Some("MODEL_LOAD_FAILED"));
}

/// A z19 marina tile decoded by Chromium equals the same pixels of the source image: the
/// nominal placement maps 1 image px to 1 z19 global px with origin (69876004, 48940892).
#[wasm_bindgen_test]
async fn browser_decoding_is_bit_exact() {
    let global = Global::get().unwrap();
    let get = |url: String| {
        let global = global.clone();
        async move { tiles::decode(&global, &http::get_bytes(&global, &url, 30_000, None).await.unwrap()).await.unwrap() }
    };
    let source = get(format!("{SERVER}/tiles/marina/source.png")).await;
    let (tx, ty) = (272954u32, 191176u32);
    let tile = get(format!("{SERVER}/tiles/marina/19/{tx}/{ty}.png")).await;
    assert_eq!((tile.width, tile.height), (256, 256));
    let (ox, oy) = (69876004i64, 48940892i64);
    for (i, j) in [(0u32, 0u32), (17, 200), (255, 255), (128, 3)] {
        let sx = (i64::from(tx) * 256 + i64::from(i) - ox) as usize;
        let sy = (i64::from(ty) * 256 + i64::from(j) - oy) as usize;
        let s = (sy * source.width as usize + sx) * 4;
        let t = (j as usize * 256 + i as usize) * 4;
        assert_eq!(&tile.rgba[t..t + 4], &source.rgba[s..s + 4], "pixel ({i}, {j})");
    }
}
