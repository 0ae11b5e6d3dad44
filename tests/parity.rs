//! Native parity with onnxruntime on the CPU backend (flex), and the real-imagery check.
//! Needs the setup's generated files: www/models (converted weights) and
//! www/tiles/marina/source.png (`tests/setup.sh` makes both).
#![cfg(not(target_family = "wasm"))]
// Tests fail by panicking: the no-panic lints are for library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Reference, VEHICLES_ID, YOLO26_ID, check_parity, engine, engine_for, need, root};
use geodetect::detect::Engine;
use geodetect::detect::nms;
use geodetect::model::Postprocess;
use geodetect::native::{NativeHooks, read_rgb};

fn source_image() -> (u32, u32, Vec<u8>) {
    let path = root().join("www/tiles/marina/source.png");
    need(&path);
    read_rgb(&path).unwrap()
}

/// The self-test behind `detector.health()` passes on a sound engine, quickly.
#[test]
fn self_test_passes() {
    let engine = engine();
    let ms = futures::executor::block_on(engine.self_test(&NativeHooks::new(false))).unwrap();
    assert!(ms > 0.0 && ms < 10_000.0, "{ms} ms");
}

/// The load-time warm-up runs the whole per-window path on a blank raster, reports no
/// progress, and leaves the engine computing exactly what it did before.
#[test]
fn warm_up_changes_nothing() {
    use geodetect::host::{Hooks, Stage};
    struct Counting(NativeHooks, std::cell::Cell<usize>);
    impl Hooks for Counting {
        fn now_ms(&self) -> f64 {
            self.0.now_ms()
        }
        fn progress(&self, _: Stage, _: usize, _: usize) {
            self.1.set(self.1.get() + 1);
        }
        fn is_cancelled(&self) -> bool {
            false
        }
    }
    let engine = engine();
    let chw: Vec<f32> = (0..3 * 64 * 96).map(|i| (i % 251) as f32 / 251.0).collect();
    let before = futures::executor::block_on(engine.infer(chw.clone(), [64, 96])).unwrap();
    let hooks = Counting(NativeHooks::new(false), std::cell::Cell::new(0));
    let ms = futures::executor::block_on(engine.warm_up(&hooks)).unwrap();
    assert!(ms >= 0.0);
    assert_eq!(hooks.1.get(), 0, "the warm-up reported progress");
    let after = futures::executor::block_on(engine.infer(chw, [64, 96])).unwrap();
    assert_eq!(before, after);
}

fn check_case(name: &str) {
    check_case_on(name, &engine());
}

fn check_case_on(name: &str, engine: &Engine) {
    let dir = root().join("models/reference");
    let r = Reference::parse(
        &String::from_utf8(need(&dir.join(format!("{name}.json")))).unwrap(),
        &need(&dir.join(format!("{name}.f32"))),
    );
    let (w, _, rgb) = source_image();
    let summary = futures::executor::block_on(check_parity(&r, engine, &rgb, w));
    println!("{name}: {}", summary.unwrap_or_else(|e| panic!("{name}: {e}")));
}

#[test]
fn marina_256_matches_onnxruntime() {
    check_case("marina_256");
}

#[test]
fn marina_1024_matches_onnxruntime() {
    check_case("marina_1024");
}

/// YOLO11n-OBB (C3k2, C2PSA, depthwise class branch) at the marina's 0.22 m pixels, and
/// on the image averaged down 2x (0.43 m, nearer the 0.6 m it was trained on).
#[test]
fn yolo11_vehicles_matches_onnxruntime() {
    let engine = engine_for(VEHICLES_ID, None);
    check_case_on("yolo11n-obb-vehicles_marina_512", &engine);
    check_case_on("yolo11n-obb-vehicles_marina_ds2_512", &engine);
}

/// YOLO26n-OBB's one-to-many branch (plain box distances, raw angle) through NMS.
#[test]
fn yolo26_one_to_many_matches_onnxruntime() {
    let engine = engine_for(YOLO26_ID, Some(Postprocess::Nms));
    check_case_on("yolo26n-obb-dota_marina_256", &engine);
    check_case_on("yolo26n-obb-dota_marina_1024", &engine);
}

/// YOLO26n-OBB's one-to-one branch through top-k, with no NMS.
#[test]
fn yolo26_one_to_one_matches_onnxruntime() {
    let engine = engine_for(YOLO26_ID, Some(Postprocess::Topk));
    check_case_on("yolo26n-obb-dota_marina_256", &engine);
    check_case_on("yolo26n-obb-dota_marina_1024", &engine);
}

/// The whole 1920x1080 marina photo (~170 boats) through the same windows and NMS as the
/// browser; writes tests/out/marina_overlay.png with the boxes drawn.
#[test]
fn finds_the_boats_in_the_marina_image() {
    let (w, h, rgb) = source_image();
    let engine = engine();
    let params = nms::NmsParams { confidence: 0.25, iou: 0.45, max_detections: 300, class_mask: None };
    let (kept, _) =
        futures::executor::block_on(engine.detect_raster(&rgb, w, h, &params, 128, &NativeHooks::new(false))).unwrap();
    let ships = kept.iter().filter(|c| c.class_id == 1).count();
    println!("marina: {} detections, {ships} ships", kept.len());
    assert!(ships >= 150, "only {ships} ships found in an image with ~170 boats");

    let mut img = image::RgbImage::from_raw(w, h, rgb).unwrap();
    for c in &kept {
        let colour = if c.class_id == 1 { [0, 255, 0] } else { [255, 0, 255] };
        let p = c.bbox.corners();
        for i in 0..4 {
            let (a, b) = (p[i], p[(i + 1) % 4]);
            let steps = ((b[0] - a[0]).abs().max((b[1] - a[1]).abs()).ceil() as usize).max(1);
            for s in 0..=steps {
                let t = s as f64 / steps as f64;
                let (x, y) = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t);
                if x >= 0.0 && y >= 0.0 && (x as u32) < w && (y as u32) < h {
                    img.put_pixel(x as u32, y as u32, image::Rgb(colour));
                }
            }
        }
    }
    let out = root().join("tests/out");
    std::fs::create_dir_all(&out).unwrap();
    img.save(out.join("marina_overlay.png")).unwrap();
    println!("overlay: {}", out.join("marina_overlay.png").display());
}
