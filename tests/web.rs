//! Browser tests on the page's main thread (the worker tests are in web_worker.rs): the
//! engine also works from a window, errors cross as `GeodetectError`s with a code, and tile
//! decoding (in Rust, and the browser's for other formats) is bit-exact.
#![cfg(target_family = "wasm")]
// Tests fail by panicking: the no-panic lints are for library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use geodetect::web::encoded::Encoded;
use geodetect::web::global::Global;
use geodetect::web::tile_cache::TileCache;
use geodetect::web::{http, list_models, tiles};
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SERVER: &str = match option_env!("GEODETECT_TEST_SERVER") {
    Some(s) => s,
    None => "http://127.0.0.1:8080",
};

#[wasm_bindgen_test]
fn errors_are_geodetect_errors_with_codes() {
    let js: js_sys::Error = JsValue::from(geodetect::Error::Aborted).dyn_into().unwrap();
    assert_eq!(js.name(), "GeodetectError");
    assert_eq!(Reflect::get(&js, &"code".into()).unwrap().as_string().as_deref(), Some("ABORTED"));
    assert_eq!(String::from(js.message()), "the operation was aborted");
}

/// A tile body of `n` bytes.
fn body(n: usize) -> Encoded {
    Encoded::copy_of(&vec![7u8; n], "image/png")
}

#[wasm_bindgen_test]
async fn an_encoded_body_keeps_its_bytes_and_type_as_a_blob() {
    let image = Encoded::copy_of(&[1, 2, 3, 250], " Image/PNG ");
    assert_eq!((image.size(), image.kind.as_str(), image.to_vec()), (4, "image/png", vec![1, 2, 3, 250]));
    let blob = image.blob().unwrap();
    assert_eq!((blob.size(), blob.type_()), (4.0, "image/png".to_owned()));
    let read = wasm_bindgen_futures::JsFuture::from(blob.array_buffer()).await.unwrap();
    assert_eq!(js_sys::Uint8Array::new(&read).to_vec(), vec![1, 2, 3, 250]);
    assert_eq!(geodetect::web::encoded::blob_of(&[9]).unwrap().type_(), "");
}

#[wasm_bindgen_test]
fn the_tile_cache_keeps_the_most_recently_used_bodies_within_its_bytes() {
    let cache = TileCache::new(300);
    cache.put("a".into(), &body(100));
    cache.put("b".into(), &body(100));
    cache.put("c".into(), &body(100));
    assert_eq!(cache.bytes(), 300);
    // "a" becomes the most recently used; "d" then pushes out the least recently used, "b".
    assert_eq!(cache.get("a").unwrap().size(), 100);
    cache.put("d".into(), &body(50));
    assert!(cache.get("b").is_none());
    assert!(cache.get("a").is_some() && cache.get("c").is_some() && cache.get("d").is_some());
    assert_eq!(cache.bytes(), 250);
    // The same URL again replaces its body; a body larger than the whole cache is not kept.
    cache.put("d".into(), &body(80));
    assert_eq!(cache.bytes(), 280);
    cache.put("huge".into(), &body(301));
    assert!(cache.get("huge").is_none());
    assert_eq!(cache.bytes(), 280);
    // Nothing is kept by a cache of 0 bytes.
    let none = TileCache::new(0);
    none.put("a".into(), &body(1));
    assert!(none.get("a").is_none());
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

/// The browser's decode (`createImageBitmap`) of the marina's source image, a JPEG.
async fn source_image(global: &Global) -> geodetect::host::DecodedTile {
    let bytes =
        http::get_body(global, &format!("{SERVER}/tiles/marina/source.png"), 30_000, None).await.unwrap().to_vec();
    tiles::browser_decode(global, &geodetect::web::encoded::blob_of(&bytes).unwrap()).await.unwrap()
}

/// A z19 marina tile (PNG) decoded in Rust equals Chromium's decode of it, every pixel, and the
/// same pixels of the source image as Chromium decodes it (the tiles were cut from it): the
/// nominal placement maps 1 image px to 1 z19 global px with origin (69876004, 48940892).
#[wasm_bindgen_test]
async fn tile_decoding_is_bit_exact() {
    let global = Global::get().unwrap();
    let source = source_image(&global).await;
    let (tx, ty) = (272954u32, 191176u32);
    let bytes = http::get_body(&global, &format!("{SERVER}/tiles/marina/19/{tx}/{ty}.png"), 30_000, None)
        .await
        .unwrap()
        .to_vec();
    let tile = tiles::decode(&global, bytes.clone()).await.unwrap();
    let by_browser = tiles::browser_decode(&global, &geodetect::web::encoded::blob_of(&bytes).unwrap()).await.unwrap();
    assert_eq!((tile.width, tile.height), (256, 256));
    assert_eq!((by_browser.width, by_browser.height), (256, 256));
    assert!(tile.rgba() == by_browser.rgba(), "the Rust and the browser decode of a PNG tile differ");
    let (ox, oy) = (69876004i64, 48940892i64);
    for (i, j) in [(0u32, 0u32), (17, 200), (255, 255), (128, 3)] {
        let sx = (i64::from(tx) * 256 + i64::from(i) - ox) as usize;
        let sy = (i64::from(ty) * 256 + i64::from(j) - oy) as usize;
        let s = (sy * source.width as usize + sx) * 4;
        let t = (j as usize * 256 + i as usize) * 4;
        assert_eq!(&tile.rgba()[t..t + 4], &source.pixels[s..s + 4], "pixel ({i}, {j})");
    }
    // Bytes that are none of PNG, JPEG or WebP go to the browser, and fail there as not an image.
    let text = b"<html>not a tile</html>".to_vec();
    assert!(tiles::decode(&global, text).await.is_err());
}

/// The browser's compositing (`TileProvider::fetch_composite`, each tile decoded as it
/// arrives) gives the source's exact pixels over an extent that starts and ends mid-tile, and black where a tile is missing
/// (x 272961 is beyond the marina's tiles: HTTP 404, listed as missing).
#[wasm_bindgen_test]
async fn composited_raster_is_exact_and_missing_tiles_are_black() {
    use geodetect::host::Hooks;
    use geodetect::imagery::PixelExtent;
    use geodetect::tiles::TileSource;
    use geodetect::tiles::fetch::FetchPolicy;
    use geodetect::web::hooks::WebHooks;

    let global = Global::get().unwrap();
    let source = source_image(&global).await;
    let (ox, oy) = (69876004i64, 48940892i64);
    let extent = PixelExtent::mercator(19, 256, 69877700, 191176 * 256 + 30, 400, 300);
    let tile_source: TileSource = serde_json::from_value(
        serde_json::json!({ "url": format!("{SERVER}/tiles/marina/{{z}}/{{x}}/{{y}}.png"), "maxZoom": 19 }),
    )
    .unwrap();
    let policy = FetchPolicy { retries: 0, ..FetchPolicy::default() };
    let net = geodetect::web::net::TileNet::new(0);
    let provider = tiles::HttpTiles { global: &global, policy: &policy, signal: None, net: &net };
    let hooks = WebHooks::new(global.clone(), None, None);
    assert!(!hooks.is_cancelled());
    let loaded = geodetect::pipeline::load_raster(
        &provider,
        &tile_source,
        extent,
        extent.tiles().iter().collect(),
        false,
        &hooks,
        None,
    )
    .await
    .unwrap();
    let mut missing: Vec<_> = loaded.missing.iter().map(|f| (f.tile.x, f.tile.y)).collect();
    missing.sort();
    assert_eq!(missing, [(272961, 191176), (272961, 191177)]);
    let raster = &loaded.raster;
    let (image_end, missing_start) = (ox + i64::from(source.width), 272961 * 256);
    for r in 0..extent.height {
        for c in 0..extent.width {
            let (gx, gy) = (extent.x0 + i64::from(c), extent.y0 + i64::from(r));
            let got = raster.pixel(c, r).unwrap();
            if gx < image_end {
                let s = (((gy - oy) * i64::from(source.width) + gx - ox) * 4) as usize;
                assert_eq!(got[..], source.pixels[s..s + 3], "pixel ({c}, {r})");
            } else if gx >= missing_start {
                assert_eq!(got, [0, 0, 0], "pixel ({c}, {r}) of a missing tile");
            }
        }
    }
}

#[wasm_bindgen_test]
async fn runs_wait_for_the_warm_up_pass_and_an_abort_ends_the_wait() {
    use geodetect::web::warm_up::WarmUp;
    use gloo_timers::future::TimeoutFuture;
    let controller = web_sys::AbortController::new().unwrap();
    let signal = controller.signal();

    // A pass that ends a little later: every run waiting sees it end, and a later one at once.
    let (end, ended) = futures::channel::oneshot::channel::<()>();
    let warm = WarmUp::of(async move { ended.await.map_err(|e| geodetect::Error::Internal(e.to_string())) });
    warm.start();
    let finish = async {
        TimeoutFuture::new(20).await;
        end.send(()).unwrap();
    };
    let (a, b, ()) = futures::join!(warm.ready(None), warm.ready(Some(&signal)), finish);
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    assert!(warm.ready(Some(&signal)).await.is_ok());

    // A pass that never ends: an abort ends the wait, then and after.
    let never = WarmUp::of(futures::future::pending());
    let abort = async {
        TimeoutFuture::new(20).await;
        controller.abort();
    };
    let (waited, ()) = futures::join!(never.ready(Some(&signal)), abort);
    assert!(matches!(waited, Err(geodetect::Error::Aborted)), "{waited:?}");
    assert!(matches!(never.ready(Some(&signal)).await, Err(geodetect::Error::Aborted)));

    // A pass that failed: every run fails with its error, its code kept.
    let failed = WarmUp::of(async { Err(geodetect::Error::Inference("the device was lost".to_owned())) });
    for _ in 0..2 {
        let e = failed.ready(None).await.unwrap_err();
        assert!(
            matches!(&e, geodetect::Error::Inference(m) if m == "the engine's warm-up pass failed: the device was lost"),
            "{e}"
        );
    }
    let unavailable = WarmUp::of(async { Err(geodetect::Error::BackendUnavailable("no adapter".to_owned())) });
    let e = unavailable.ready(Some(&web_sys::AbortController::new().unwrap().signal())).await.unwrap_err();
    assert_eq!(e.code(), geodetect::ErrorCode::BackendUnavailable, "{e}");
    assert!(e.to_string().contains("no adapter"), "{e}");
}

#[wasm_bindgen_test]
async fn the_warm_up_runs_once_after_the_current_task_when_idle_or_when_a_run_waits() {
    use geodetect::web::warm_up::WarmUp;
    use gloo_timers::future::TimeoutFuture;
    use std::cell::Cell;
    use std::rc::Rc;
    let counted = |runs: &Rc<Cell<u32>>| {
        let runs = runs.clone();
        WarmUp::of(async move {
            runs.set(runs.get() + 1);
            Ok(())
        })
    };
    let microtasks = || wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&JsValue::NULL));

    // Asked for as a run's downloads start: not in this task (the run's requests go out
    // first) but from the next one, and once however often it is asked for.
    let runs = Rc::new(Cell::new(0));
    let warm = counted(&runs);
    warm.start_next_task();
    warm.start_next_task();
    warm.start();
    microtasks().await.unwrap();
    assert_eq!(runs.get(), 0, "the pass ran in the task that asked for it");
    geodetect::web::timer::next_task().await;
    assert_eq!(runs.get(), 1);
    warm.start();
    assert!(warm.ready(None).await.is_ok());
    assert_eq!(runs.get(), 1, "the pass ran again");

    // Left alone, it starts after the idle delay; one started before is not run again.
    let idle_runs = Rc::new(Cell::new(0));
    let idle = counted(&idle_runs);
    idle.start_when_idle(30);
    TimeoutFuture::new(5).await;
    assert_eq!(idle_runs.get(), 0, "the pass ran before its idle delay");
    TimeoutFuture::new(60).await;
    assert_eq!(idle_runs.get(), 1);
    let early_runs = Rc::new(Cell::new(0));
    let early = counted(&early_runs);
    early.start_when_idle(1);
    early.start();
    TimeoutFuture::new(20).await;
    assert_eq!(early_runs.get(), 1);

    // Never started: the first run to wait for it runs it.
    let lazy_runs = Rc::new(Cell::new(0));
    let lazy = counted(&lazy_runs);
    let signal = web_sys::AbortController::new().unwrap().signal();
    assert!(lazy.ready(Some(&signal)).await.is_ok());
    assert!(lazy.ready(None).await.is_ok());
    assert_eq!(lazy_runs.get(), 1);
}
