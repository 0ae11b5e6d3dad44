//! Areas run in chunks, natively on the marina tiles: the result does not depend on how the
//! area is cut, detections stream as they become final, clipping follows the `clip` rule,
//! and an L-shaped area fetches only the tiles near it. Needs the setup's generated files
//! (www/models, www/tiles/marina: `tests/setup.sh`).
#![cfg(not(target_family = "wasm"))]
// Tests fail by panicking: the no-panic lints are for library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use common::{engine, root};
use geodetect::api::{ChunkFailure, ChunkOutput};
use geodetect::api::{Clip, DetectOptions, DetectResult};
use geodetect::detect::{Backend, Engine};
use geodetect::geojson::Aoi;
use geodetect::host::{DecodedTile, FetchedTiles, Hooks, RunStatus, Stage, TileProvider};
use geodetect::native::{DirTiles, NativeHooks};
use geodetect::pipeline::{AreaRun, detect_area_in_chunks, detect_chunk, load_chunk, run_chunk};
use geodetect::tiles::{TileId, TileSource};
use serde_json::{Value, json};

/// Hooks that record the streamed batches, the run status and the tile progress.
#[derive(Default)]
struct Recording {
    clock: Option<NativeHooks>,
    batches: RefCell<Vec<Value>>,
    status: Cell<RunStatus>,
    statuses: Cell<usize>,
    fetch_totals: RefCell<Vec<usize>>,
}

impl Hooks for Recording {
    fn now_ms(&self) -> f64 {
        self.clock.as_ref().map_or(0.0, NativeHooks::now_ms)
    }
    fn progress(&self, stage: Stage, _done: usize, total: usize) {
        if stage == Stage::Fetch {
            self.fetch_totals.borrow_mut().push(total);
        }
    }
    fn is_cancelled(&self) -> bool {
        false
    }
    fn status(&self, status: RunStatus) {
        self.status.set(status);
        self.statuses.set(self.statuses.get() + 1);
    }
    fn detections(&self, batch: &Value) {
        self.batches.borrow_mut().push(batch.clone());
    }
}

/// Just inside the marina's tiles at zoom 19: 8 x 5 tiles (x 272953..=272960,
/// y 191175..=191179), about 2040 x 1270 px: 3 x 2 model windows.
const WEST: f64 = 7.421_965;
const EAST: f64 = 7.427_430;
const NORTH: f64 = 43.735_869;
const SOUTH: f64 = 43.733_409;

fn polygon(rings: Value) -> Aoi {
    Aoi::from_json(&json!({ "type": "Polygon", "coordinates": rings })).unwrap()
}

/// The marina's tile directory, remembering which tiles were asked for.
struct Counting {
    dir: DirTiles,
    asked: RefCell<HashSet<TileId>>,
}

impl TileProvider for Counting {
    async fn fetch<H: Hooks>(
        &self,
        source: &TileSource,
        tiles: Vec<TileId>,
        hooks: &H,
    ) -> geodetect::Result<FetchedTiles> {
        self.asked.borrow_mut().extend(tiles.iter().copied());
        self.dir.fetch(source, tiles, hooks).await
    }
    async fn decode(&self, source: &TileSource, tile: TileId, bytes: &[u8]) -> Result<DecodedTile, String> {
        self.dir.decode(source, tile, bytes).await
    }
}

/// Run `aoi`; also returns how many distinct tiles were asked for.
fn run(engine: &Engine, aoi: &Aoi, options: &DetectOptions, chunk_windows: usize) -> (DetectResult, Recording, usize) {
    let source: TileSource =
        serde_json::from_value(json!({ "url": "file:///{z}/{x}/{y}.png", "maxZoom": 21 })).unwrap();
    let tiles = Counting { dir: DirTiles::new(root().join("www/tiles/marina")), asked: RefCell::default() };
    let hooks = Recording { clock: Some(NativeHooks::new(false)), ..Recording::default() };
    let result = futures::executor::block_on(detect_area_in_chunks(
        engine,
        &source,
        &tiles,
        aoi,
        options,
        &hooks,
        chunk_windows,
    ))
    .unwrap();
    let distinct = tiles.asked.borrow().len();
    (result, hooks, distinct)
}

fn features(v: &Value) -> Vec<Value> {
    v["features"].as_array().unwrap().clone()
}

#[test]
fn the_result_does_not_depend_on_how_the_area_is_cut() {
    let engine = engine();
    let aoi = polygon(json!([[[WEST, SOUTH], [EAST, SOUTH], [EAST, NORTH], [WEST, NORTH], [WEST, SOUTH]]]));
    let options = DetectOptions { max_tiles: 100, ..DetectOptions::at_zoom(19) };
    // One chunk holding every window (one raster of the whole area), then one window per
    // chunk: the same FeatureCollection, feature for feature.
    let (whole, whole_hooks, _) = run(&engine, &aoi, &options, 100);
    let (cut, hooks, _) = run(&engine, &aoi, &options, 1);
    let (w, h) = (whole.image.width, whole.image.height);
    assert!(w > 1024 && h > 1024, "the area spans several windows: {w} x {h}");
    assert_eq!(whole_hooks.status.get().chunks_total, 1);
    let status = hooks.status.get();
    assert!(status.chunks_total >= 4, "{status:?}");
    assert_eq!((status.chunks_done, status.windows_done), (status.chunks_total, status.windows_total));
    assert!(!features(&whole.detections).is_empty());
    assert_eq!(cut.detections, whole.detections, "chunked and whole runs differ");

    // The streamed batches hold exactly the result's features, and arrive as chunks finish.
    let streamed: Vec<Value> = hooks.batches.borrow().iter().flat_map(features).collect();
    assert_eq!(streamed.len(), features(&cut.detections).len());
    assert_eq!(status.detections, streamed.len());
    for f in features(&cut.detections) {
        assert!(streamed.contains(&f), "{f} was never streamed");
    }
    assert!(hooks.batches.borrow().len() > 1, "several batches: {}", hooks.batches.borrow().len());
    // Tile progress counts the whole run's tile fetches, not one chunk's.
    assert!(hooks.fetch_totals.borrow().iter().all(|&t| t == status.tiles_total));
}

/// As a pool of workers runs an area: every chunk on its own (`run_chunk`), its output
/// crossing to the merging worker as JSON, merged in whatever order the chunks finish.
#[test]
fn chunks_merged_in_any_order_give_the_one_raster_result() {
    let engine = engine();
    let aoi = polygon(json!([[[WEST, SOUTH], [EAST, SOUTH], [EAST, NORTH], [WEST, NORTH], [WEST, SOUTH]]]));
    let options = DetectOptions { max_tiles: 100, ..DetectOptions::at_zoom(19) };
    let (whole, _, _) = run(&engine, &aoi, &options, 100);
    let source: TileSource =
        serde_json::from_value(json!({ "url": "file:///{z}/{x}/{y}.png", "maxZoom": 21 })).unwrap();
    let tiles = DirTiles::new(root().join("www/tiles/marina"));
    let hooks = Recording { clock: Some(NativeHooks::new(false)), ..Recording::default() };
    let planned = AreaRun::new(engine.entry(), &source, &aoi, &options, 1, None).unwrap();
    let plan = planned.plan().clone();
    let n = plan.chunks.len();
    assert!(n >= 4, "{n} chunks");
    // Each chunk once, through JSON, as runChunk answers and mergeChunk reads it; each loads
    // the one after it ahead, and the next call runs on that raster.
    let mut ahead = None;
    let outputs: Vec<String> = (0..n)
        .map(|k| {
            let (out, next) = futures::executor::block_on(run_chunk(
                &engine,
                &source,
                &tiles,
                &plan,
                (k, Some(k + 1)),
                planned.params(),
                false,
                &hooks,
                ahead.take(),
            ))
            .unwrap();
            assert_eq!(next.as_ref().map(|l| l.chunk), (k + 1 < n).then_some(k + 1));
            ahead = next;
            serde_json::to_string(&out).unwrap()
        })
        .collect();
    // The same chunk loaded on its own gives the same boxes.
    let (alone, _) = futures::executor::block_on(run_chunk(
        &engine,
        &source,
        &tiles,
        &plan,
        (2, None),
        planned.params(),
        false,
        &hooks,
        None,
    ))
    .unwrap();
    // Both through JSON: serde_json's float parser may be one ulp off (no `float_roundtrip`).
    let alone: ChunkOutput = serde_json::from_str(&serde_json::to_string(&alone).unwrap()).unwrap();
    let ahead_two: ChunkOutput = serde_json::from_str(&outputs[2]).unwrap();
    assert_eq!(
        (alone.boxes, alone.missing_tiles, alone.windows),
        (ahead_two.boxes, ahead_two.missing_tiles, ahead_two.windows)
    );
    let orders: [Vec<usize>; 3] =
        [(0..n).rev().collect(), (0..n).filter(|k| k % 2 == 1).chain((0..n).filter(|k| k % 2 == 0)).collect(), {
            let mut middle_out: Vec<usize> = (0..n).collect();
            middle_out.rotate_left(n / 2);
            middle_out
        }];
    for order in orders {
        let mut area = AreaRun::new(engine.entry(), &source, &aoi, &options, 1, None).unwrap();
        let mut streamed = Vec::new();
        for &k in &order {
            let out: ChunkOutput = serde_json::from_str(&outputs[k]).unwrap();
            streamed.extend(area.add(out, &hooks).unwrap());
        }
        // A chunk merged twice is refused, and so is one the plan does not have.
        let again: ChunkOutput = serde_json::from_str(&outputs[order[0]]).unwrap();
        assert!(area.add(again, &hooks).is_err());
        let finished = area.finish(1.0, engine.backend(), None).unwrap();
        assert_eq!(features(&finished.result.detections), Vec::<Value>::new(), "the end keeps no detection");
        streamed.extend(finished.last.iter().cloned());
        assert_eq!(finished.order.len(), streamed.len(), "{order:?}");
        let result = finished.with_detections(&streamed).unwrap();
        assert_eq!(result.detections, whole.detections, "merged in the order {order:?}");
        assert!(result.failed_chunks.is_empty());
    }

    // A chunk loaded while nothing else runs begins its first window's pass as its rows
    // arrive: the stem comes with the raster, for that window, and the chunk's boxes are
    // exactly those of the chunk loaded without it.
    let load = |stem_on| futures::executor::block_on(load_chunk(&tiles, &source, &plan, 2, false, &hooks, stem_on));
    let (streamed, plain) = (load(Some(&engine)).unwrap(), load(None).unwrap());
    let stem = streamed.stem.as_ref().expect("the chunk's first window's stem ran");
    assert_eq!(stem.window, plan.chunks[2].windows[0].window);
    assert!(stem.ms > 0.0, "its bands are timed");
    assert!(plain.stem.is_none());
    let detect =
        |loaded| futures::executor::block_on(detect_chunk(&engine, &plan, loaded, planned.params(), &hooks, (0, 1)));
    let (streamed, plain) = (detect(streamed).unwrap(), detect(plain).unwrap());
    assert!(!plain.boxes.is_empty());
    assert_eq!(streamed.boxes, plain.boxes, "with and without the stem run as the rows arrived");
    assert!(streamed.timings.inference > 0.0);

    // A chunk given up (its worker crashed twice): listed with its bounds; the detections of
    // the others that do not reach into it are kept.
    let mut area = AreaRun::new(engine.entry(), &source, &aoi, &options, 1, None).unwrap();
    let mut released = Vec::new();
    for (k, out) in outputs.iter().enumerate() {
        released.extend(match k {
            1 => area.fail(ChunkFailure { chunk: 1, reason: "the wasm engine crashed".into(), attempts: 2 }).unwrap(),
            _ => area.add(serde_json::from_str(out).unwrap(), &hooks).unwrap(),
        });
    }
    let finished = area.finish(1.0, engine.backend(), None).unwrap();
    assert_eq!((finished.result.backend, &finished.result.fallback_reason), (Backend::Cpu, &None));
    released.extend(finished.last.iter().cloned());
    let partial = finished.with_detections(&released).unwrap();
    assert_eq!(partial.failed_chunks.len(), 1);
    let failed = &partial.failed_chunks[0];
    assert_eq!((failed.chunk, failed.attempts), (1, 2));
    let [w, s, e, n] = failed.bounds;
    assert!(WEST - 0.01 < w && w < e && e < EAST + 0.01 && SOUTH - 0.01 < s && s < n && n < NORTH + 0.01, "{failed:?}");
    let (all, some) = (features(&whole.detections), features(&partial.detections));
    assert!(some.len() < all.len() && !some.is_empty(), "{} of {}", some.len(), all.len());

    // A chunk that a worker ran on the CPU after its WebGPU device was lost: the merging
    // worker, on WebGPU, reports the CPU and that chunk's reason.
    let mut area = AreaRun::new(engine.entry(), &source, &aoi, &options, 1, None).unwrap();
    let lost = "the WebGPU device was lost (Destroyed: Device was destroyed.); the network runs on the CPU since";
    for (k, out) in outputs.iter().enumerate() {
        let mut out: ChunkOutput = serde_json::from_str(out).unwrap();
        assert_eq!(out.fallback_reason, None);
        if k == 2 {
            out.fallback_reason = Some(lost.into());
        }
        area.add(out, &hooks).unwrap();
    }
    let finished = area.finish(1.0, Backend::Webgpu, None).unwrap();
    assert_eq!((finished.result.backend, finished.result.fallback_reason.as_deref()), (Backend::Cpu, Some(lost)));
}

#[test]
fn clip_rules_nest_and_an_l_shape_fetches_only_its_tiles() {
    let engine = engine();
    // An L: the west column and the south row of the marina's tiles, about 2 tiles wide.
    let (mx, my) = (WEST + 0.0018, SOUTH + 0.0012);
    let l = polygon(json!([[
        [WEST, SOUTH],
        [EAST, SOUTH],
        [EAST, my],
        [mx, my],
        [mx, NORTH],
        [WEST, NORTH],
        [WEST, SOUTH]
    ]]));
    let mut options = DetectOptions { max_tiles: 100, confidence: 0.1, ..DetectOptions::at_zoom(19) };
    let count = |clip: Clip, options: &mut DetectOptions| {
        options.clip = clip;
        let (result, _, distinct) = run(&engine, &l, options, 2);
        (features(&result.detections).len(), distinct)
    };
    let (centroid, distinct) = count(Clip::Centroid, &mut options);
    let (within, _) = count(Clip::Within, &mut options);
    let (intersects, _) = count(Clip::Intersects, &mut options);
    assert!(within <= centroid && centroid <= intersects, "{within} <= {centroid} <= {intersects}");
    assert!(within < intersects, "the L's edges cut some boxes: {within} vs {intersects}");
    // The L's bounding box is the marina's 8 x 5 tiles; it needs those within the margin
    // (128 px) of the L: 4 columns and 3 rows, 32 tiles.
    assert_eq!(distinct, 32);
}

#[test]
fn too_many_tiles_says_which_zoom_fits() {
    let engine = engine();
    let aoi = polygon(json!([[[WEST, SOUTH], [EAST, SOUTH], [EAST, NORTH], [WEST, NORTH], [WEST, SOUTH]]]));
    let options = DetectOptions { max_tiles: 20, ..DetectOptions::at_zoom(19) };
    let source: TileSource =
        serde_json::from_value(json!({ "url": "file:///{z}/{x}/{y}.png", "maxZoom": 21 })).unwrap();
    let tiles = DirTiles::new(root().join("www/tiles/marina"));
    let err = futures::executor::block_on(geodetect::pipeline::detect_area(
        &engine,
        &source,
        &tiles,
        &aoi,
        &options,
        &NativeHooks::new(false),
    ))
    .unwrap_err();
    assert_eq!(err.code().as_str(), "TOO_MANY_TILES");
    let text = err.to_string();
    assert!(text.contains("at zoom 18 it fits"), "{text}");
}
