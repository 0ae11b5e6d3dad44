// End-to-end tests of the geodetect npm package in headless Chromium, against the real
// wasm engine, real tiles and real weights.
//
// Prerequisites (the suite fails with the missing ones listed if any is absent):
//   bash tests/data/prepare.sh                          # www/tiles/{marina,osbs}
//   <models into www/models/: manifest.json + weights>  # the lead's model setup
//   bash pkg/build.sh                                   # pkg/wasm/
//   cargo build --features cli --bin geodetect          # target/debug/geodetect (native comparison)
//   www/serve.sh start                                  # http://127.0.0.1:8080/
//   cd tests/e2e && npm ci && npm run test:e2e
//
// Environment: GEODETECT_E2E_BASE (default http://127.0.0.1:8080), GEODETECT_CLI (default
// target/debug/geodetect), GEODETECT_E2E_MODEL (default yolov8n-obb-dota).
// One test only: node --test --test-reporter=tap --test-name-pattern=Vite e2e.test.mjs
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile as execFileCb } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ENGINES } from "../../pkg/engines.mjs";
import {
  REPO,
  centreOf,
  launchBrowser,
  lonLatToPixel,
  matchDetections,
  pixelToLonLat,
  pointInArea,
  startStaticServer,
  validateDetections,
  withPage,
} from "./helpers.mjs";
import { MODEL, environment, writeCorruptModelDir } from "./setup.mjs";

const execFile = promisify(execFileCb);
const MINUTE = 60_000;
const ZOOM = 19;
const CONFIDENCE = 0.25;
const IOU = 0.45;
const AOI = JSON.parse(await readFile(join(REPO, "tests/data/aoi/marina.geojson"), "utf8"));
const CLI = process.env.GEODETECT_CLI ?? join(REPO, "target/debug/geodetect");

let browser;

before(async () => {
  browser = await launchBrowser({ webgpu: true });
});

after(async () => {
  await browser?.close();
  const env = await environment().catch(() => null);
  await env?.close();
});

/** Detector options for the marina tiles on `base`. */
function detectorOptions(env, extra = {}) {
  return {
    source: { url: `${env.base}/tiles/marina/{z}/{x}/{y}.png`, tileSize: 256, maxZoom: 21 },
    model: MODEL,
    backend: "cpu",
    modelBaseUrl: `${env.base}/models/`,
    ...extra,
  };
}

/**
 * Run window.runDetect(params) on the e2e page (`page`: its path, default the
 * cross-origin-isolated /e2e.html) in a fresh context (fresh Cache API).
 */
async function runDetect(t, params, { context, page: path = "/e2e.html", prepare } = {}) {
  const env = await environment();
  const ctx = context ?? (await browser.newContext());
  try {
    return await withPage(t, ctx, async (page, watch) => {
      // Which engines the worker downloaded (its requests are the page's in Chromium).
      const wasm = [];
      const tiles = [];
      page.on("request", (r) => {
        const { pathname } = new URL(r.url());
        if (pathname.endsWith(".wasm")) wasm.push(pathname.replace(/^.*\/pkg\//, ""));
        if (pathname.startsWith("/tiles/")) tiles.push(pathname);
      });
      await page.goto(`${env.base}${path}`);
      await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
      const ready = prepare ? await page.evaluate(prepare, params) : params;
      const out = await page.evaluate((p) => window.runDetect(p), ready);
      out.log = watch.text();
      out.wasm = wasm;
      out.tiles = tiles;
      return out;
    });
  } finally {
    if (!context) await ctx.close();
  }
}

/**
 * In the page (a `prepare` of runDetect): start the package's worker from a `blob:` module in
 * which WebAssembly validates no relaxed-SIMD code (any module holding `f32x4.relaxed_madd`),
 * as in a browser without relaxed SIMD; Chromium has it and no flag turns it off.
 */
function withoutRelaxedSimd(params) {
  const worker = new URL("/pkg/worker.js", location.href).href;
  const source = `import ${JSON.stringify(worker)};
const validate = WebAssembly.validate;
WebAssembly.validate = (bytes) => {
  const b = ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
  for (let i = 0; i + 2 < b.length; i++) if (b[i] === 0xfd && b[i + 1] === 0x85 && b[i + 2] === 0x02) return false;
  return validate(bytes);
};`;
  const workerUrl = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  return { ...params, detector: { ...params.detector, workerUrl } };
}

function describeFailure(out) {
  const errs = [out.error, ...out.runs.map((r) => r.error)].filter(Boolean).map((e) => `${e.code}: ${e.message}`);
  return `${out.phase} failed: ${errs.join("; ")}\n--- page log ---\n${out.log}`;
}

/** A rectangular AOI of `width` x `height` global pixels at `zoom`, top-left at global pixel (x, y). */
function pixelRect(x, y, width, height, zoom = ZOOM) {
  const [w, n] = pixelToLonLat([x, y], zoom);
  const [e, s] = pixelToLonLat([x + width, y + height], zoom);
  return { type: "Feature", properties: { name: `${width}x${height} px at ${x},${y}` }, geometry: { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] } };
}

/** A square AOI of `size` global pixels. */
const pixelSquare = (x, y, size, zoom = ZOOM) => pixelRect(x, y, size, size, zoom);

// Results shared between tests (each computed once, on first use).
const once = (fn) => {
  let p = null;
  return () => (p ??= fn());
};

const cpuMarina = once(async () => {
  const env = await environment();
  const t = { diagnostic: (s) => console.log(s) };
  const out = await runDetect(t, {
    detector: detectorOptions(env),
    runs: [{ aoi: AOI, options: { zoom: ZOOM, confidence: CONFIDENCE, iou: IOU } }],
  });
  if (!out.ok) throw new Error(`CPU detection on the marina AOI: ${describeFailure(out)}`);
  return out;
});

/**
 * A 256x256 px square of the marina with many detections (from the CPU run on the whole
 * AOI; windows on a 32 px grid), for the slow WebGPU run and the bundler test.
 */
const smallSquare = once(async () => {
  const out = await cpuMarina();
  const r = out.runs[0].result;
  const centres = r.detections.features.map((f) => lonLatToPixel(centreOf(f), ZOOM));
  const [ox, oy] = r.image.origin;
  let best = { n: -1, x: ox, y: oy };
  for (let y = oy; y + 256 <= oy + r.image.height; y += 32) {
    for (let x = ox; x + 256 <= ox + r.image.width; x += 32) {
      const n = centres.filter(([cx, cy]) => cx >= x + 16 && cx < x + 240 && cy >= y + 16 && cy < y + 240).length;
      if (n > best.n) best = { n, x, y };
    }
  }
  return pixelSquare(best.x, best.y, 256);
});

const cpuSmall = once(async () => {
  const env = await environment();
  const aoi = await smallSquare();
  const out = await runDetect({ diagnostic: (s) => console.log(s) }, {
    detector: detectorOptions(env),
    runs: [{ aoi, options: { zoom: ZOOM, confidence: CONFIDENCE, iou: IOU } }],
  });
  if (!out.ok) throw new Error(`CPU detection on the small square: ${describeFailure(out)}`);
  return { aoi, out };
});

/** What `validateDetections` finds wrong with a result's FeatureCollection. */
const problemsOf = (result) => validateDetections(result.detections);

function summary(result) {
  const counts = {};
  for (const f of result.detections.features) counts[f.properties.class] = (counts[f.properties.class] ?? 0) + 1;
  return `${result.detections.features.length} detections ${JSON.stringify(counts)}, image ${result.image.width}x${result.image.height} origin ${result.image.origin}, timings ${JSON.stringify(result.timings)}`;
}

function assertMatch(t, a, b, labels, zoom = ZOOM) {
  const m = matchDetections(a.detections, b.detections, { zoom, tileSize: a.image.tileSize, confidence: CONFIDENCE, labels });
  t.diagnostic(`${labels.join(" vs ")}: ${m.counts.join(" vs ")} detections, ${m.matched} matched, ${m.problems.length} mismatches, ${m.borderline.length} borderline (score within 1e-3 of the threshold, allowed)`);
  for (const b of m.borderline) t.diagnostic(`borderline: ${b}`);
  assert.ok(m.ok, `${labels.join(" vs ")} differ:\n  ${m.problems.slice(0, 40).join("\n  ")}${m.problems.length > 40 ? `\n  … and ${m.problems.length - 40} more` : ""}`);
  return m;
}

describe("geodetect in Chromium", () => {
  test("1. CPU detection on the marina AOI returns valid GeoJSON inside the AOI", { timeout: 10 * MINUTE }, async (t) => {
    const out = await cpuMarina();
    const r = out.runs[0].result;
    t.diagnostic(`create ${out.createMs.toFixed(0)} ms, detect ${out.runs[0].ms.toFixed(0)} ms; ${summary(r)}`);
    assert.equal(out.backend, "cpu");
    assert.equal(r.backend, "cpu");
    const problems = validateDetections(r.detections);
    assert.deepEqual(problems.slice(0, 20), [], "the FeatureCollection is valid RFC 7946 output");
    const outside = r.detections.features.filter((f) => !pointInArea(centreOf(f), AOI));
    assert.equal(outside.length, 0, `detection centres outside the AOI: ${outside.slice(0, 5).map((f) => JSON.stringify(centreOf(f))).join(", ")}`);
    const boats = r.detections.features.filter((f) => /ship|boat/i.test(f.properties.class)).length;
    assert.ok(boats > 50, `expected more than 50 boats/ships (the image has ~170), got ${boats}: ${summary(r)}`);
    for (const k of ["fetch", "decode", "preprocess", "inference", "postprocess", "total"]) {
      assert.ok(Number.isFinite(r.timings[k]) && r.timings[k] >= 0, `timings.${k} = ${r.timings[k]}`);
    }
    assert.deepEqual(r.missingTiles, []);
    assert.equal(r.image.zoom, ZOOM);
    assert.equal(r.image.tileSize, 256);
    assert.ok(r.image.width > 0 && r.image.height > 0);
    assert.equal(r.image.bounds.length, 4);
    assert.equal(r.image.bounds3857.length, 4);
    const stages = new Set(out.runs[0].progress.map((p) => p.stage));
    assert.ok(stages.has("fetch"), `progress stages: ${[...stages]}`);
    const lastFetch = out.runs[0].progress.filter((p) => p.stage === "fetch").at(-1);
    assert.ok(lastFetch.tilesTotal > 0 && lastFetch.tilesDone === lastFetch.tilesTotal, `last fetch progress ${JSON.stringify(lastFetch)}`);
    assert.equal(out.info.model.id, MODEL);
  });

  test("2. browser CPU detections equal the native CLI's", { timeout: 20 * MINUTE }, async (t) => {
    assert.ok(existsSync(CLI), `the native CLI ${CLI} is missing: build it with \`cargo build --features cli --bin geodetect\` (or set GEODETECT_CLI)`);
    const env = await environment();
    const dir = await mkdtemp(join(tmpdir(), "geodetect-native-"));
    const outFile = join(dir, "native.json");
    const args = ["detect", "--tiles", join(REPO, "www/tiles/marina"), "--aoi", join(REPO, "tests/data/aoi/marina.geojson"), "--zoom", String(ZOOM),
      "--models", env.modelsDir, "--model", MODEL, "--confidence", String(CONFIDENCE), "--iou", String(IOU), "--out", outFile];
    const t0 = Date.now();
    try {
      await execFile(CLI, args, { cwd: REPO, timeout: 15 * MINUTE, maxBuffer: 64 << 20 });
    } catch (e) {
      assert.fail(`${CLI} ${args.join(" ")} failed (exit ${e.code}):\n${e.stderr || e.stdout || e.message}`);
    }
    t.diagnostic(`native CLI took ${Date.now() - t0} ms`);
    const native = JSON.parse(await readFile(outFile, "utf8"));
    await rm(dir, { recursive: true, force: true });
    const browserResult = (await cpuMarina()).runs[0].result;
    t.diagnostic(`native: ${summary(native)}`);
    t.diagnostic(`browser: ${summary(browserResult)}`);
    for (const k of ["width", "height", "zoom"]) assert.equal(browserResult.image[k], native.image[k], `image.${k}`);
    assert.deepEqual(browserResult.image.origin, native.image.origin, "image.origin");
    assertMatch(t, browserResult, native, ["browser", "native"]);
    assert.equal(browserResult.detections.features.length, native.detections.features.length, "same number of detections");
  });

  test("10. the other models of the manifest (YOLO11n-OBB vehicles at the zoom nearest its training resolution, YOLO26n-OBB end-to-end) give the native CLI's detections", { timeout: 20 * MINUTE }, async (t) => {
    assert.ok(existsSync(CLI), `the native CLI ${CLI} is missing: build it with \`cargo build --features cli --bin geodetect\``);
    const env = await environment();
    const tileset = JSON.parse(await readFile(join(REPO, "www/tiles/marina/tileset.json"), "utf8"));
    const lat = tileset.center[1];
    // Metres per pixel of 256 px Web Mercator tiles at `z`, at the marina's latitude.
    const metres = (z) => (40075016.686 * Math.cos((lat * Math.PI) / 180)) / (256 * 2 ** z);
    for (const id of ["yolo11n-obb-vehicles", "yolo26n-obb-dota"]) {
      const entry = env.manifest.models.find((m) => m.id === id);
      assert.ok(entry, `www/models/manifest.json has no ${id}`);
      const zooms = [];
      for (let z = tileset.minZoom; z <= tileset.maxZoom; z++) zooms.push(z);
      // The zoom nearest in scale (as the demo suggests it): 18 for the vehicles model's 0.6 m.
      const off = (z) => Math.abs(Math.log(metres(z) / entry.groundResolutionM));
      const zoom = entry.groundResolutionM ? zooms.reduce((a, b) => (off(b) < off(a) ? b : a)) : tileset.nativeZoom;
      if (id === "yolo11n-obb-vehicles") assert.equal(zoom, 18);
      const dir = await mkdtemp(join(tmpdir(), "geodetect-native-"));
      const outFile = join(dir, "native.json");
      const args = ["detect", "--tiles", join(REPO, "www/tiles/marina"), "--aoi", join(REPO, "tests/data/aoi/marina.geojson"), "--zoom", String(zoom),
        "--models", env.modelsDir, "--model", id, "--confidence", String(CONFIDENCE), "--iou", String(IOU), "--out", outFile];
      try {
        await execFile(CLI, args, { cwd: REPO, timeout: 15 * MINUTE, maxBuffer: 64 << 20 });
      } catch (e) {
        assert.fail(`${CLI} ${args.join(" ")} failed (exit ${e.code}):\n${e.stderr || e.stdout || e.message}`);
      }
      const native = JSON.parse(await readFile(outFile, "utf8"));
      await rm(dir, { recursive: true, force: true });
      const out = await runDetect(t, {
        detector: detectorOptions(env, { model: id }),
        runs: [{ aoi: AOI, options: { zoom, confidence: CONFIDENCE, iou: IOU } }],
      });
      assert.ok(out.ok, describeFailure(out));
      const r = out.runs[0].result;
      assert.equal(out.info.model.id, id);
      t.diagnostic(`${id} at zoom ${zoom} (${metres(zoom).toFixed(2)} m/px; trained on ${entry.groundResolutionM ?? "mixed"} m): browser ${summary(r)}`);
      t.diagnostic(`${id}: native ${summary(native)}`);
      for (const k of ["width", "height", "zoom"]) assert.equal(r.image[k], native.image[k], `${id}: image.${k}`);
      assertMatch(t, r, native, [`${id} browser`, "native"], zoom);
      assert.equal(r.detections.features.length, native.detections.features.length, `${id}: same number of detections`);
      const classes = new Set(r.detections.features.map((f) => f.properties.class));
      const expected = id.startsWith("yolo11") ? "car" : "ship";
      assert.ok(classes.has(expected), `${id} found no ${expected}: ${summary(r)}`);
      assert.ok(problemsOf(r).length === 0, `${id}: ${problemsOf(r).slice(0, 5).join("; ")}`);
    }
  });

  test("8. the threaded engine: two threads in an isolated page match one thread; the single-threaded fallback says why; without relaxed SIMD the plain engines run", { timeout: 20 * MINUTE }, async (t) => {
    const env = await environment();
    const { aoi } = await cpuSmall();
    const run = (extra, page, prepare) =>
      runDetect(t, { detector: detectorOptions(env, extra), runs: [{ aoi, options: { zoom: ZOOM, confidence: CONFIDENCE, iou: IOU } }] }, { page, prepare });
    const two = await run({ threads: 2 });
    assert.ok(two.ok, describeFailure(two));
    const one = await run({ threads: 1 });
    assert.ok(one.ok, describeFailure(one));
    t.diagnostic(`threads 2: ${summary(two.runs[0].result)}`);
    t.diagnostic(`threads 1: ${summary(one.runs[0].result)}`);
    assert.equal(two.info.threads, 2, `info.threads (note: ${two.info.threadsNote})`);
    assert.equal(two.info.threadsNote, null);
    assert.equal(one.info.threads, 1);
    assert.equal(one.info.threadsNote, null, "one thread asked for, one running: nothing to explain");
    // Only the engine that runs is downloaded (the threaded one's pool workers share its
    // module); Chromium has relaxed SIMD, so both are the relaxed builds.
    assert.deepEqual([...new Set(two.wasm)], ["wasm-threads-relaxed/geodetect_bg.wasm"], "threads: 2 downloads the threaded engine only");
    assert.deepEqual(one.wasm, ["wasm-relaxed/geodetect_bg.wasm"], "threads: 1 downloads the CPU engine only");
    assert.equal(two.info.relaxedSimd, true);
    assert.equal(one.info.relaxedSimd, true);
    assert.ok(one.runs[0].result.detections.features.length >= 1, "the small area has detections (else the comparison proves nothing)");
    assertMatch(t, two.runs[0].result, one.runs[0].result, ["2 threads", "1 thread"]);
    assert.equal(two.runs[0].result.detections.features.length, one.runs[0].result.detections.features.length);

    // The same page without COOP/COEP: the single-threaded engine, and a note naming the headers.
    const plain = await run({ threads: 2 }, "/not-isolated/e2e.html");
    assert.ok(plain.ok, describeFailure(plain));
    assert.equal(plain.info.threads, 1);
    assert.match(plain.info.threadsNote ?? "", /cross-origin-isolated.*Cross-Origin-Opener-Policy/s);
    assertMatch(t, plain.runs[0].result, one.runs[0].result, ["not isolated", "1 thread"]);

    // A browser without relaxed SIMD: the plain engines, one and two threads, same detections.
    for (const [threads, engine, relaxedRun] of [[1, "wasm", one], [2, "wasm-threads", two]]) {
      const plainSimd = await run({ threads }, undefined, withoutRelaxedSimd);
      assert.ok(plainSimd.ok, describeFailure(plainSimd));
      t.diagnostic(`no relaxed SIMD, threads ${threads}: ${summary(plainSimd.runs[0].result)}`);
      assert.deepEqual([...new Set(plainSimd.wasm)], [`${engine}/geodetect_bg.wasm`], `no relaxed SIMD, threads ${threads}: ${engine}/ only`);
      assert.equal(plainSimd.info.relaxedSimd, false);
      assert.equal(plainSimd.info.threads, threads);
      assertMatch(t, plainSimd.runs[0].result, relaxedRun.runs[0].result, [`SIMD128, ${threads} thread(s)`, "relaxed SIMD"]);
      assert.equal(plainSimd.runs[0].result.detections.features.length, relaxedRun.runs[0].result.detections.features.length);
    }
  });

  test("9. an area of several chunks streams its final detections (onDetections, detectStream) with chunk progress; clip rules; an L fetches only its tiles", { timeout: 20 * MINUTE }, async (t) => {
    const env = await environment();
    // Just inside the marina's 8 x 5 tiles: 3 x 2 model windows, 2 chunks of at most 2 x 2.
    const [tx, ty] = [272953 * 256, 191175 * 256];
    const rect = pixelRect(tx + 5, ty + 5, 8 * 256 - 10, 5 * 256 - 10);
    // An L of the west three tile columns and the south two tile rows.
    const [w, n] = pixelToLonLat([tx + 5, ty + 5], ZOOM);
    const [e, s] = pixelToLonLat([tx + 8 * 256 - 5, ty + 5 * 256 - 5], ZOOM);
    const [mx, my] = pixelToLonLat([tx + 3 * 256 - 20, ty + 3 * 256 + 20], ZOOM);
    const l = { type: "Polygon", coordinates: [[[w, s], [e, s], [e, my], [mx, my], [mx, n], [w, n], [w, s]]] };
    const options = { zoom: ZOOM, confidence: CONFIDENCE, iou: IOU };
    const small = await smallSquare();
    const out = await runDetect(t, {
      detector: detectorOptions(env),
      runs: [
        { aoi: rect, options },
        { aoi: rect, options, stream: true },
        { aoi: rect, options, stream: true, breakAfter: 1 },
        { aoi: small, options },
      ],
    });
    const clipped = await runDetect(t, {
      detector: detectorOptions(env),
      runs: ["centroid", "within", "intersects"].map((clip) => ({ aoi: l, options: { ...options, confidence: 0.1, clip } })),
    });
    const [callbacks, stream, broken, after] = out.runs;
    const [centroid, within, intersects] = clipped.runs;
    for (const [name, r] of Object.entries({ callbacks, stream, after, centroid, within, intersects })) assert.ok(r.ok, `${name}: ${JSON.stringify(r.error)}\n${out.log}\n${clipped.log}`);
    const key = (f) => JSON.stringify(f.geometry.coordinates);
    const all = callbacks.result.detections.features;
    t.diagnostic(`rect: ${summary(callbacks.result)}; ${callbacks.batches.length} batches of ${callbacks.batches.map((b) => b.features.length).join(", ")}`);
    assert.ok(all.length > 10, "the rectangle has detections");
    assert.deepEqual(validateDetections(callbacks.result.detections).slice(0, 20), [], "valid RFC 7946 output");

    // The batches hold exactly the result's detections; detectStream yields the same.
    for (const [name, r] of [["onDetections", callbacks], ["detectStream", stream]]) {
      const batched = r.batches.flatMap((b) => b.features).map(key).sort();
      assert.deepEqual(batched, all.map(key).sort(), `${name}: the batches are the result`);
      assert.ok(r.batches.length >= 1);
    }
    assert.deepEqual(stream.result.detections, callbacks.result.detections, "detectStream's result is detect()'s");

    // Progress: two chunks, every window, the detections so far, elapsed time and an ETA.
    const last = callbacks.progress.at(-1);
    assert.equal(last.stage, "done");
    assert.deepEqual([last.chunksDone, last.chunksTotal], [2, 2], JSON.stringify(last));
    assert.equal(last.detections, all.length);
    assert.equal(last.tilesDone, last.tilesTotal);
    assert.ok(callbacks.progress.some((p) => p.stage === "inference" && p.chunksDone === 1 && p.etaMs > 0), "an ETA once the first chunk has run");
    for (let i = 1; i < callbacks.progress.length; i++) assert.ok(callbacks.progress[i].elapsedMs >= callbacks.progress[i - 1].elapsedMs);
    const seen = callbacks.batches.map((b) => b.progress.detections);
    assert.deepEqual(seen, callbacks.batches.map((_, i) => callbacks.batches.slice(0, i + 1).reduce((n, b) => n + b.features.length, 0)), "each batch's progress counts the detections so far");

    // Leaving the loop early aborts the run; the detector goes on working.
    assert.equal(broken.batches.length, 1);
    assert.equal(broken.error?.code, "ABORTED", JSON.stringify(broken.error));
    assert.ok(after.result.detections.features.length >= 1);

    // clip: within ⊆ centroid ⊆ intersects; the L fetches only the tiles within the margin
    // (128 px) of it: 4 of the 8 columns and 3 of the 5 rows, 32 of its box's 40.
    const counts = [within, centroid, intersects].map((r) => r.result.detections.features.length);
    const distinct = new Set(clipped.tiles).size;
    t.diagnostic(`L: within ${counts[0]}, centroid ${counts[1]}, intersects ${counts[2]}; ${distinct} tiles, ${centroid.progress.at(-1).tilesTotal} fetches per run`);
    assert.ok(counts[0] <= counts[1] && counts[1] <= counts[2] && counts[0] < counts[2], `${counts}`);
    const keys = (r) => new Set(r.result.detections.features.map(key));
    for (const f of keys(within)) assert.ok(keys(centroid).has(f), "within ⊆ centroid");
    for (const f of keys(centroid)) assert.ok(keys(intersects).has(f), "centroid ⊆ intersects");
    assert.equal(distinct, 32, `the L's tiles: ${[...new Set(clipped.tiles)].sort().join(", ")}`);
  });

  test("3. WebGPU backend works and matches the CPU backend on a small area", { timeout: 20 * MINUTE }, async (t) => {
    const env = await environment();
    const { aoi, out: cpu } = await cpuSmall();
    const out = await runDetect(t, {
      detector: detectorOptions(env, { backend: "webgpu" }),
      runs: [{ aoi, options: { zoom: ZOOM, confidence: CONFIDENCE, iou: IOU } }],
    });
    assert.ok(out.ok, describeFailure(out));
    const gpu = out.runs[0].result;
    t.diagnostic(`adapter ${JSON.stringify(out.info.adapter)}; create ${out.createMs.toFixed(0)} ms, detect ${out.runs[0].ms.toFixed(0)} ms`);
    t.diagnostic(`webgpu: ${summary(gpu)}`);
    t.diagnostic(`cpu:    ${summary(cpu.runs[0].result)}`);
    assert.equal(out.backend, "webgpu", "detector.backend");
    assert.equal(gpu.backend, "webgpu", "result.backend");
    assert.equal(out.info.backend, "webgpu", "detector.info.backend");
    assert.ok(out.info.adapter, "detector.info.adapter is set for WebGPU");
    assert.deepEqual(out.wasm, ["wasm-webgpu/geodetect_bg.wasm"], "WebGPU downloads the WebGPU engine only");
    assert.ok(cpu.runs[0].result.detections.features.length >= 1, "the small area has detections (else the comparison proves nothing)");
    assert.deepEqual(validateDetections(gpu.detections), []);
    assertMatch(t, gpu, cpu.runs[0].result, ["webgpu", "cpu"]);
  });

  describe("4. errors", { timeout: 10 * MINUTE }, () => {
    test("invalid polygon -> INVALID_POLYGON; zoom 30 -> ZOOM_OUT_OF_RANGE", async (t) => {
      const env = await environment();
      const bad = { type: "Polygon", coordinates: [[[7.423, 43.734], [7.424, 43.734], [7.423, 43.734]]] };
      const out = await runDetect(t, {
        detector: detectorOptions(env),
        runs: [
          { aoi: bad, options: { zoom: ZOOM } },
          { aoi: { type: "Point", coordinates: [7.423, 43.734] }, options: { zoom: ZOOM } },
          { aoi: AOI, options: { zoom: 30 } },
        ],
      });
      assert.equal(out.phase, "detect", describeFailure(out));
      const [badRing, point, zoom30] = out.runs;
      assert.equal(badRing.error?.code, "INVALID_POLYGON", JSON.stringify(badRing.error));
      assert.equal(badRing.error.isGeodetectError, true);
      assert.equal(point.error?.code, "INVALID_POLYGON", JSON.stringify(point.error));
      assert.equal(zoom30.error?.code, "ZOOM_OUT_OF_RANGE", JSON.stringify(zoom30.error));
    });

    // The client only checks option types; every range is the engine's (Rust, serde), which
    // names the option by its JS path. The last cases are ones where the old JS checks and
    // the engine used to disagree.
    test("out-of-range options -> INVALID_OPTIONS from the engine, naming the option", async (t) => {
      const env = await environment();
      const base = detectorOptions(env);
      const creates = {
        backend: [{ ...base, backend: "webgl" }, /`backend`/],
        tileSize: [{ ...base, source: { ...base.source, tileSize: -1 } }, /`source\.tileSize`/],
        retries: [{ ...base, fetch: { retries: 1.5 } }, /`fetch\.retries`/],
        concurrency65: [{ ...base, fetch: { concurrency: 65 } }, /`fetch\.concurrency`/],
        timeoutMs0: [{ ...base, fetch: { timeoutMs: 0 } }, /`fetch\.timeoutMs`/],
        tileSize300: [{ ...base, source: { ...base.source, tileSize: 300 } }, /`source\.tileSize`/],
        misspelt: [{ ...base, bakend: "cpu" }, /`bakend`: unknown field/],
        threads0: [{ ...base, threads: 0 }, /`threads`: must be in 1\.\.=64, got 0/],
        threads65: [{ ...base, threads: 65 }, /`threads`/],
        threadsFraction: [{ ...base, threads: 1.5 }, /`threads`/],
        workers0: [{ ...base, workers: 0 }, /`workers`: must be in 1\.\.=16, got 0/],
        workers17: [{ ...base, workers: 17 }, /`workers`/],
        workersFraction: [{ ...base, workers: 1.5 }, /`workers`/],
        chunkTimeout: [{ ...base, chunkTimeoutMs: 10 }, /`chunkTimeoutMs`: must be in 1000\.\.=3600000, got 10/],
      };
      // Detector.create fails before the model loads, so all of them run in one page.
      const context = await browser.newContext();
      const weightRequests = [];
      context.on("request", (r) => {
        if (decodeURIComponent(new URL(r.url()).pathname).endsWith(`/${env.model.weights.file}`)) weightRequests.push(r.url());
      });
      try {
        const results = await withPage(t, context, async (page) => {
          await page.goto(`${env.base}/e2e.html`);
          await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
          const cases = Object.fromEntries(Object.entries(creates).map(([name, [options]]) => [name, options]));
          return page.evaluate(async (cases) => {
            const { Detector, GeodetectError } = window.geodetect;
            const out = {};
            for (const [name, options] of Object.entries(cases)) {
              try {
                (await Detector.create(options)).dispose();
                out[name] = { ok: true };
              } catch (e) {
                out[name] = { code: e?.code, message: e?.message, isGeodetectError: e instanceof GeodetectError };
              }
            }
            return out;
          }, cases);
        });
        for (const [name, [, field]] of Object.entries(creates)) {
          const r = results[name];
          assert.equal(r.code, "INVALID_OPTIONS", `create ${name}: ${JSON.stringify(r)}`);
          assert.equal(r.isGeodetectError, true, `create ${name}`);
          assert.match(r.message, field, `create ${name}`);
        }
        assert.deepEqual(weightRequests, [], "no create got as far as loading the weights");
      } finally {
        await context.close();
      }

      // detect(): one detector, one (cheap) call per case.
      const aoi = pixelSquare(69877924 - 300, 48940892 + 200, 64);
      const detects = {
        fractionalZoom: [{ zoom: 18.5 }, /`zoom`/],
        confidence: [{ zoom: ZOOM, confidence: 1.5 }, /`confidence`/],
        iou: [{ zoom: ZOOM, iou: -0.1 }, /`iou`/],
        maxTiles: [{ zoom: ZOOM, maxTiles: 0 }, /`maxTiles`/],
        maxDetections0: [{ zoom: ZOOM, maxDetections: 0 }, /`maxDetections`/],
        maxDetections20000: [{ zoom: ZOOM, maxDetections: 20000 }, /`maxDetections`/],
      };
      const out = await runDetect(t, {
        detector: base,
        runs: Object.values(detects).map(([options]) => ({ aoi, options })),
      });
      assert.equal(out.phase, "detect", describeFailure(out));
      Object.entries(detects).forEach(([name, [, field]], i) => {
        const r = out.runs[i];
        assert.equal(r.error?.code, "INVALID_OPTIONS", `detect ${name}: ${JSON.stringify(r.error ?? "it resolved")}`);
        assert.equal(r.error.isGeodetectError, true, `detect ${name}`);
        assert.match(r.error.message, field, `detect ${name}`);
      });
    });

    test("tiles that 404 are reported in missingTiles, or reject with TILE_FETCH_FAILED", async (t) => {
      const env = await environment();
      // 600 x 256 px across the east edge of the marina image: the tile set has no tiles
      // east of it (x 272961 at z19), so 2 of the 6 tiles answer 404.
      const eastEdge = 69877924;
      const aoi = pixelRect(eastEdge - 300, 48940892 + 200, 600, 256);
      const allMissing = await smallSquare();
      const out = await runDetect(t, {
        detector: detectorOptions(env, { fetch: { retries: 1, retryDelayMs: 10 } }),
        runs: [
          { aoi, options: { zoom: ZOOM } },
          { aoi, options: { zoom: ZOOM, failOnMissingTiles: true } },
        ],
      });
      assert.equal(out.phase, "detect", describeFailure(out));
      const [lenient, strict] = out.runs;
      assert.ok(lenient.ok, `without failOnMissingTiles the call resolves: ${JSON.stringify(lenient.error)}`);
      const missing = lenient.result.missingTiles;
      t.diagnostic(`missingTiles: ${JSON.stringify(missing)}`);
      assert.deepEqual(missing.map((m) => `${m.tile.z}/${m.tile.x}/${m.tile.y}`).sort(), ["19/272961/191176", "19/272961/191177"]);
      for (const m of missing) {
        assert.match(m.reason, /404/);
        assert.ok(m.attempts >= 1, `attempts ${m.attempts}`);
      }
      assert.deepEqual(validateDetections(lenient.result.detections), []);
      assert.equal(strict.error?.code, "TILE_FETCH_FAILED", JSON.stringify(strict.error));
      assert.match(strict.error.message, /z19\/x272961/);

      // A URL template where every tile is missing: the engine refuses an empty raster
      // even without failOnMissingTiles (almost always a wrong URL or zoom).
      const wrong = await runDetect(t, {
        detector: detectorOptions(env, { source: { url: `${env.base}/tiles/no-such-tileset/{z}/{x}/{y}.png`, maxZoom: 21 }, fetch: { retries: 0 } }),
        runs: [{ aoi: allMissing, options: { zoom: ZOOM } }],
      });
      assert.equal(wrong.runs[0]?.error?.code, "TILE_FETCH_FAILED", JSON.stringify(wrong.runs[0]?.error ?? wrong.error));
      assert.match(wrong.runs[0].error.message, /404/);
    });

    test("abort right after starting -> ABORTED at once; the detector keeps working", async (t) => {
      const env = await environment();
      const aoi = await smallSquare();
      const out = await runDetect(t, {
        detector: detectorOptions(env),
        runs: [
          { aoi: AOI, options: { zoom: ZOOM }, abortAfterMs: 30 },
          { aoi, options: { zoom: ZOOM } },
        ],
      });
      assert.equal(out.phase, "detect", describeFailure(out));
      const [aborted, next] = out.runs;
      assert.equal(aborted.error?.code, "ABORTED", JSON.stringify(aborted.error ?? "it resolved"));
      assert.ok(aborted.msAfterAbort < 500, `rejected ${aborted.msAfterAbort} ms after abort()`);
      assert.ok(next.ok, `a detect after the abort works: ${JSON.stringify(next.error)}`);
      t.diagnostic(`the detect after the abort took ${next.ms.toFixed(0)} ms (it waits for the aborted one to stop in the worker)`);
    });

    test("unknown model -> UNKNOWN_MODEL", async (t) => {
      const env = await environment();
      const out = await runDetect(t, { detector: detectorOptions(env, { model: "no-such-model" }) });
      assert.equal(out.phase, "create");
      assert.equal(out.error?.code, "UNKNOWN_MODEL", JSON.stringify(out.error));
      assert.match(out.error.message, /no-such-model/);
    });

    test("corrupted weights -> MODEL_INTEGRITY", async (t) => {
      const env = await environment();
      const path = await writeCorruptModelDir(env);
      const out = await runDetect(t, { detector: detectorOptions(env, { modelBaseUrl: `${env.base}${path}` }) });
      assert.equal(out.phase, "create");
      assert.equal(out.error?.code, "MODEL_INTEGRITY", `${JSON.stringify(out.error)}\n${out.log}`);
    });
  });

  test("5. a second page load takes the weights from the Cache API", { timeout: 10 * MINUTE }, async (t) => {
    const env = await environment();
    const context = await browser.newContext();
    const weightsFile = env.model.weights.file;
    const weightRequests = [];
    context.on("request", (r) => {
      if (decodeURIComponent(new URL(r.url()).pathname).endsWith(`/${weightsFile}`)) weightRequests.push(r.url());
    });
    try {
      const first = await runDetect(t, { detector: detectorOptions(env) }, { context });
      assert.ok(first.ok, describeFailure(first));
      const firstCount = weightRequests.length;
      assert.ok(firstCount >= 1, "the first load fetched the weights");
      const cached = await withPage(t, context, async (page) => {
        await page.goto(`${env.base}/e2e.html`);
        return page.evaluate(async () => {
          const out = {};
          for (const name of await caches.keys()) out[name] = (await (await caches.open(name)).keys()).map((r) => r.url);
          return out;
        });
      });
      t.diagnostic(`Cache API after the first load: ${JSON.stringify(cached)}`);
      const entries = Object.values(cached).flat();
      assert.ok(entries.some((u) => u.includes(weightsFile) || u.includes(env.model.weights.sha256)), `no cache entry for ${weightsFile}`);
      const second = await runDetect(t, { detector: detectorOptions(env) }, { context });
      assert.ok(second.ok, describeFailure(second));
      t.diagnostic(`create: first ${first.createMs.toFixed(0)} ms, second ${second.createMs.toFixed(0)} ms`);
      assert.deepEqual(weightRequests.slice(firstCount), [], "the second load made no network request for the weights");
      assert.equal(first.info.weightsFromCache, false, "info.weightsFromCache on the first load");
      assert.equal(second.info.weightsFromCache, true, "info.weightsFromCache on the second load");
    } finally {
      await context.close();
    }
  });

  test("7. the demo page (README's first command) detects the marina's boats", { timeout: 10 * MINUTE }, async (t) => {
    const env = await environment();
    const context = await browser.newContext();
    try {
      const out = await withPage(t, context, async (page) => {
        await page.goto(`${env.base}/`);
        // The map demo starts on the marina with the committed AOI (/aoi/marina.geojson) drawn,
        // at the tile set's native zoom 19.
        await page.waitForFunction(() => window.demo?.ready === true && window.demo.currentArea() !== null);
        assert.equal(await page.inputValue("#zoom"), String(ZOOM));
        // Headless Chromium's only WebGPU adapter is SwiftShader, which "auto" rightly skips.
        await page.click("#run");
        await page.waitForFunction(() => /^(Done|Failed)/.test(document.querySelector("#stage").textContent), null, { timeout: 8 * MINUTE });
        return page.evaluate(async () => ({
          stage: document.querySelector("#stage").textContent,
          error: document.querySelector("#error").textContent,
          classes: [...document.querySelectorAll("#detections tbody tr")].map((tr) => tr.cells[1].textContent.trim()),
          facts: document.querySelector("#facts").textContent,
          onMap: (await window.demo.map.getSource("detections").getData()).features.length,
          area: window.demo.run?.area ?? null,
        }));
      });
      t.diagnostic(`demo: ${out.stage} ${out.facts}`);
      assert.match(out.stage, /^Done: \d+ detections/, out.error);
      const ships = out.classes.filter((c) => c === "ship").length;
      assert.ok(ships > 50, `the demo lists ${ships} ships`);
      assert.equal(out.onMap, out.classes.length, "the map shows every detection listed");
      assert.deepEqual(out.area?.geometry, AOI.geometry, "the run's area is the committed AOI");
      assert.match(out.facts, /backend\s*cpu/, "auto chose the CPU over the software adapter");
    } finally {
      await context.close();
    }
  });

  test("6. the packed package works in a Vite app built with no config", { timeout: 25 * MINUTE }, async (t) => {
    const env = await environment();
    const work = await mkdtemp(join(tmpdir(), "geodetect-vite-"));
    let server = null;
    try {
      // 1. npm pack.
      const packDir = join(REPO, "pkg");
      assert.ok(existsSync(join(packDir, "wasm/geodetect_bg.wasm")), "pkg/wasm is not built: bash pkg/build.sh");
      const { stdout: packJson } = await execFile("npm", ["pack", "--json", "--pack-destination", work], { cwd: packDir, maxBuffer: 16 << 20 });
      const [pack] = JSON.parse(packJson);
      const files = pack.files.map((f) => f.path).sort();
      t.diagnostic(`npm pack: ${pack.filename}, ${(pack.size / 1e6).toFixed(1)} MB packed, files ${files.join(", ")}`);
      const engineFiles = ENGINES.flatMap((e) => [`${e.dir}/geodetect.js`, `${e.dir}/geodetect_bg.wasm`]);
      for (const f of ["package.json", "index.js", "index.d.ts", "types.d.ts", "protocol.js", "client.js", "pool.js", "metrics.js", "worker.js", "worker-core.js", "README.md", ...engineFiles]) {
        assert.ok(files.includes(f), `the tarball contains ${f}`);
      }
      assert.ok(!files.some((f) => f.startsWith("types-test/") || f === "build.sh" || f.startsWith("node_modules/")), "no dev files in the tarball");

      // 2. A fresh Vite app that imports "geodetect", with no vite.config.
      const app = join(work, "app");
      await mkdir(app);
      await writeFile(join(app, "package.json"), JSON.stringify({
        name: "geodetect-vite-e2e",
        private: true,
        type: "module",
        scripts: { build: "vite build" },
        dependencies: { geodetect: `file:../${pack.filename}` },
        devDependencies: { vite: "8.3.8" },
      }, null, 2));
      await writeFile(join(app, "index.html"), `<!doctype html>\n<html><head><meta charset="utf-8"><title>loading</title></head>\n<body><script type="module" src="/main.js"></script></body></html>\n`);
      await writeFile(join(app, "main.js"), `import { Detector, GeodetectError } from "geodetect";

window.runViteDetect = async ({ aoi, zoom, model }) => {
  const detector = await Detector.create({
    source: { url: location.origin + "/tiles/marina/{z}/{x}/{y}.png", maxZoom: 21 },
    model,
    backend: "cpu",
    modelBaseUrl: location.origin + "/models/",
  });
  try {
    return { backend: detector.backend, result: await detector.detect(aoi, { zoom, confidence: ${CONFIDENCE}, iou: ${IOU} }) };
  } catch (e) {
    return { error: { code: e.code, message: e.message, isGeodetectError: e instanceof GeodetectError } };
  } finally {
    detector.dispose();
  }
};
document.title = "ready";
`);
      const npmEnv = { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };
      const t0 = Date.now();
      try {
        await execFile("npm", ["install", "--no-audit", "--no-fund"], { cwd: app, env: npmEnv, timeout: 10 * MINUTE, maxBuffer: 64 << 20 });
      } catch (e) {
        assert.fail(`npm install in the Vite app failed:\n${e.stderr || e.message}`);
      }
      t.diagnostic(`npm install: ${Date.now() - t0} ms`);
      let build;
      try {
        build = await execFile(join(app, "node_modules/.bin/vite"), ["build"], { cwd: app, env: npmEnv, timeout: 10 * MINUTE, maxBuffer: 64 << 20 });
      } catch (e) {
        assert.fail(`vite build failed:\n${e.stdout}\n${e.stderr || e.message}`);
      }
      for (const line of `${build.stdout}${build.stderr}`.split("\n")) if (line.trim()) t.diagnostic(`vite build: ${line}`);

      // 3. Serve dist/ (tiles and models proxied from the test server: same origin).
      server = await startStaticServer({ mounts: { "/": join(app, "dist") }, proxy: { "/tiles/": env.base, "/models/": env.base } });
      const aoi = await smallSquare();
      const context = await browser.newContext();
      try {
        const out = await withPage(t, context, async (page, watch) => {
          await page.goto(`${server.url}/`);
          await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
          const r = await page.evaluate((p) => window.runViteDetect(p), { aoi, zoom: ZOOM, model: MODEL });
          r.log = watch.text();
          return r;
        });
        assert.ok(!out.error, `detect in the Vite build failed: ${JSON.stringify(out.error)}\n${out.log}`);
        t.diagnostic(`vite app: ${summary(out.result)}`);
        assert.equal(out.backend, "cpu");
        assert.deepEqual(validateDetections(out.result.detections), []);
        const served = server.requests;
        assert.ok(served.some((p) => p.endsWith(".wasm")), `the bundled worker loaded the wasm from dist/ (served: ${served.join(", ")})`);
        const direct = (await cpuSmall()).out.runs[0].result;
        assertMatch(t, out.result, direct, ["vite", "direct"]);
      } finally {
        await context.close();
      }
    } finally {
      await server?.close();
      await rm(work, { recursive: true, force: true });
    }
  });
});
