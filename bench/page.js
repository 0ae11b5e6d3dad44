// The benchmark page: geodetect and onnxruntime-web on the same weights (the ONNX export of
// the same ultralytics .pt) and the same pixels, one measurement per call. bench/run.mjs
// drives it with playwright-core and alternates the two sides; nothing here decides
// anything. Served from the repository root by run.mjs (so /pkg, /www and /bench resolve).
import { Detector } from "/pkg/index.js";
import { AREAS, MODEL_ID, TILE, onnxFile } from "./cases.mjs";

export { AREAS };

/**
 * onnxruntime-web, imported by ortInit only: geodetect's cold start does not load it.
 * @type {any}
 */
let ort = null;

const ZOOM = 19;
/** Global z19 pixel of the marina image's top-left corner (tests/data/README.md). */
const IMAGE_ORIGIN = [69876004, 48940892];
const TILES = "/www/tiles/marina/{z}/{x}/{y}.png";
const MODELS = "/www/models/";

/** Global pixel -> [lon, lat] (spherical Web Mercator). */
function pixelToLonLat([x, y], zoom = ZOOM) {
  const world = TILE * 2 ** zoom;
  const lon = (x / world) * 360 - 180;
  const lat = (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / world))) * 180) / Math.PI;
  return [lon, lat];
}

/**
 * A polygon whose raster at ZOOM is exactly `w` x `h` pixels from global pixel (x, y):
 * corners 0.01 px inside the pixel edges, so covering it neither adds nor drops a column.
 */
function pixelRect(x, y, w, h) {
  const e = 0.01;
  const [west, north] = pixelToLonLat([x + e, y + e]);
  const [east, south] = pixelToLonLat([x + w - e, y + h - e]);
  return { type: "Polygon", coordinates: [[[west, south], [east, south], [east, north], [west, north], [west, south]]] };
}

/** Model input and window overlap: geodetect's defaults, which the onnxruntime-web page copies. */
const WINDOW = 1024;
const OVERLAP = 128;

function areaPolygon(area) {
  const gx = area.gx ?? IMAGE_ORIGIN[0] + area.sx;
  const gy = area.gy ?? IMAGE_ORIGIN[1] + area.sy;
  return pixelRect(gx, gy, area.w, area.h);
}

// ---------------------------------------------------------------------------------------
// geodetect
// ---------------------------------------------------------------------------------------

/** The detector of the last geodetectInit (the pool benchmark's). */
let detector = null;
/** Model id -> its detector on this page (geodetectDetect picks the case's model's). */
const detectors = new Map();

/**
 * Create the geodetect detector of `model` once per page (one worker with the wasm engine,
 * as the onnxruntime-web side has one session; more than one thread loads the threaded
 * engine, which this cross-origin-isolated page allows); a detector of the same model made
 * before is disposed. The pool benchmark sets `workers`; `fetch` adds to the fetch options
 * (for experiments with the tile scheduler).
 */
export async function geodetectInit({ backend = "cpu", threads = 1, workers = 1, fetch = {}, model = MODEL_ID } = {}) {
  const t0 = performance.now();
  detectors.get(model)?.dispose();
  detectors.delete(model);
  detector = await Detector.create({
    source: { url: TILES, maxZoom: 21 },
    model,
    backend,
    threads,
    workers,
    modelBaseUrl: MODELS,
    // No tile cache in the worker: each run fetches its tiles, as the onnxruntime-web page
    // does (with the default 64 MiB cache, repeated runs read them from memory: fetch 0 ms).
    fetch: { cacheBytes: 0, ...fetch },
  });
  detectors.set(model, detector);
  return { ms: performance.now() - t0, backend: detector.backend, info: detector.info };
}

/**
 * After a model-alone case of another model: dispose its detector and release its
 * onnxruntime-web session, so that the next cases run beside nothing but the default model's.
 */
export async function release(name) {
  const a = AREAS[name];
  const model = a.model ?? MODEL_ID;
  if (model === MODEL_ID) return; // the default model's detector and sessions stay
  detectors.get(model)?.dispose();
  detectors.delete(model);
  for (const [key, { s }] of sessions) {
    if (key.startsWith(`${onnxFile(a)}/`)) {
      await s.release();
      sessions.delete(key);
    }
  }
}

/**
 * One detect() over a named area: the caller's wall time, the engine's own timings and the
 * number of detections, on the detector of the area's model. For the model-alone cases
 * `timings.inference` is one forward pass (with the in-graph box decoding and the read-back
 * of its output), as session.run is; an end-to-end model's top-k (YOLO26, `postprocess:
 * "topk"`), like NMS, is in `timings.postprocess`.
 */
export async function geodetectDetect(name) {
  const d = detectors.get(AREAS[name].model ?? MODEL_ID);
  if (!d) throw new Error(`no detector of ${AREAS[name].model ?? MODEL_ID} on this page (geodetectInit first)`);
  const t0 = performance.now();
  const r = await d.detect(areaPolygon(AREAS[name]), { zoom: ZOOM, ...AREAS[name].options });
  const wall = performance.now() - t0;
  return { wall, timings: r.timings, image: [r.image.width, r.image.height], detections: r.detections.features.length };
}

/**
 * The pool benchmark: one detect() over a square of `tiles` tiles (the marina repeated), on
 * the detector of the last geodetectInit. Samples the page's memory as the browser measures
 * it (`performance.measureUserAgentSpecificMemory`; headless Chromium 156 reports the
 * page's own heap there, not its dedicated workers') every `sampleMs` while it runs, and reads each worker's wasm memory afterwards
 * (wasm memory never shrinks, so that is its peak).
 * @param {{ tiles: number, sampleMs?: number }} opts
 */
export async function geodetectPool({ tiles, sampleMs = 2000 }) {
  const side = Math.ceil(Math.sqrt(tiles));
  const rows = Math.ceil(tiles / side);
  // North-west of the marina, so that the area wraps its 8 x 5 tiles many times.
  const area = pixelRect((272953 - 40) * TILE + 4, (191175 - 40) * TILE + 4, side * TILE - 8, rows * TILE - 8);
  /** @type {number[]} */
  const samples = [];
  let running = true;
  const measure = /** @type {any} */ (performance).measureUserAgentSpecificMemory;
  const sampler = (async () => {
    if (typeof measure !== "function" || !globalThis.crossOriginIsolated) return;
    while (running) {
      const m = await measure.call(performance);
      samples.push(m.bytes);
      await new Promise((r) => setTimeout(r, sampleMs));
    }
  })();
  let last = null;
  const t0 = performance.now();
  const r = await detector.detect(area, { zoom: ZOOM, maxTiles: Math.max(10_000, 2 * tiles), onProgress: (p) => (last = p) });
  const wall = performance.now() - t0;
  running = false;
  await sampler;
  const health = await detector.health();
  return {
    wall,
    tiles: last.tilesTotal,
    chunks: last.chunksTotal,
    detections: r.detections.features.length,
    timings: r.timings,
    uaMemoryPeak: samples.length ? Math.max(...samples) : null,
    uaMemorySamples: samples.length,
    workerMemory: health.workers.map((w) => w.memoryBytes),
    workers: health.workersTotal,
  };
}

/**
 * The cold-start case as a page would run it on load: `geodetect` (Detector.create, then
 * detect() on tiles16; onnxruntime-web is never imported) or `ort` (import, session, the
 * tiles16 page work). `sinceNavigation` is the page's clock when the first result is in,
 * which counts from the start of the navigation that loaded the page.
 * @param {string} side
 * @param {number} threads
 */
export async function coldStart(side, threads) {
  if (side === "geodetect") {
    const init = await geodetectInit({ threads });
    const detect = await geodetectDetect("tiles16");
    return { sinceNavigation: performance.now(), init, detect };
  }
  if (side !== "ort") throw new Error(`unknown side ${side}`);
  await ortInit({ threads });
  const detect = await ortTiles("tiles16");
  return { sinceNavigation: performance.now(), detect };
}

// ---------------------------------------------------------------------------------------
// onnxruntime-web
// ---------------------------------------------------------------------------------------

const sessions = new Map();

/** Import onnxruntime-web and configure its wasm backend once (before the first session). */
export async function ortInit({ threads = 1 } = {}) {
  ort ??= await import("/bench/node_modules/onnxruntime-web/dist/ort.min.mjs");
  ort.env.wasm.wasmPaths = "/bench/node_modules/onnxruntime-web/dist/";
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  return { version: ort.env.versions?.web ?? ort.env.versions?.common, threads, crossOriginIsolated: globalThis.crossOriginIsolated };
}

/** A session on the ONNX export `file` (bench/setup.sh writes it in .cache/bench/). */
async function session(file, ep) {
  const key = `${file}/${ep}`;
  if (!sessions.has(key)) {
    const t0 = performance.now();
    const s = await ort.InferenceSession.create(`/.cache/bench/${file}`, {
      executionProviders: [ep],
      graphOptimizationLevel: "all",
    });
    sessions.set(key, { s, createMs: performance.now() - t0 });
  }
  return sessions.get(key).s;
}

/** The marina photo, decoded once. */
let source = null;
async function sourceImage() {
  if (!source) {
    const blob = await (await fetch("/www/tiles/marina/source.png")).blob();
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    source = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  }
  return source;
}

/** RGBA pixels -> the model's [1, 3, h, w] float input (value / 255), as geodetect does. */
function toChw(rgba, w, h) {
  const out = new Float32Array(3 * w * h);
  const plane = w * h;
  for (let i = 0; i < plane; i++) {
    out[i] = rgba[4 * i] / 255;
    out[plane + i] = rgba[4 * i + 1] / 255;
    out[2 * plane + i] = rgba[4 * i + 2] / 255;
  }
  return new ort.Tensor("float32", out, [1, 3, h, w]);
}

/** The same crop geodetect's model-alone case sees, as a model input. */
async function cropInput(name) {
  const a = AREAS[name];
  const img = await sourceImage();
  const rgba = new Uint8ClampedArray(a.w * a.h * 4);
  for (let y = 0; y < a.h; y++) {
    const from = ((a.sy + y) * img.width + a.sx) * 4;
    rgba.set(img.data.subarray(from, from + a.w * 4), y * a.w * 4);
  }
  return toChw(rgba, a.w, a.h);
}

/**
 * One session.run on the model-alone case `name` ("model640", "model1024", "yolo11-512",
 * "yolo26-1024", ...): its model's export at its size.
 */
export async function ortModel(name, { ep = "wasm" } = {}) {
  const a = AREAS[name];
  const s = await session(onnxFile(a), ep);
  const input = await cropInput(name);
  const t0 = performance.now();
  const out = await s.run({ [s.inputNames[0]]: input });
  const ms = performance.now() - t0;
  const dims = out[s.outputNames[0]].dims;
  return { ms, dims: Array.from(dims), file: onnxFile(a) };
}

/** Window starts along one axis, as geodetect plans them (src/detect/preprocess.rs). */
function starts(len, size, overlap) {
  if (len <= size) return [0];
  const out = [];
  for (let s = 0; s + size < len; s += size - overlap) out.push(s);
  out.push(len - size);
  return out;
}

/**
 * What an onnxruntime-web page does for a tile area (tiles16, tiles1024): fetch the tiles,
 * decode them with createImageBitmap and draw them onto one canvas, read it once, then run
 * the session on each 1024 px window (geodetect's windows and overlap). It stops at the raw
 * outputs: no box decoding, NMS, merging across windows or GeoJSON, so it is a lower bound
 * on that page's time (the ratio flatters onnxruntime-web).
 */
export async function ortTiles(name, { ep = "wasm" } = {}) {
  const a = AREAS[name];
  const s = await session(onnxFile({ w: WINDOW }), ep);
  const t0 = performance.now();
  const tiles = [];
  for (let ty = 0; ty < a.h / TILE; ty++) {
    for (let tx = 0; tx < a.w / TILE; tx++) tiles.push([a.gx / TILE + tx, a.gy / TILE + ty]);
  }
  const blobs = await Promise.all(tiles.map(async ([x, y]) => (await fetch(TILES.replace("{z}", ZOOM).replace("{x}", x).replace("{y}", y))).blob()));
  const t1 = performance.now();
  const canvas = new OffscreenCanvas(a.w, a.h);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const bitmaps = await Promise.all(blobs.map((b) => createImageBitmap(b, { colorSpaceConversion: "none", premultiplyAlpha: "none" })));
  bitmaps.forEach((bitmap, i) => {
    ctx.drawImage(bitmap, (tiles[i][0] * TILE) - a.gx, (tiles[i][1] * TILE) - a.gy);
    bitmap.close();
  });
  const rgba = ctx.getImageData(0, 0, a.w, a.h).data;
  const t2 = performance.now();
  let preprocess = 0;
  let inference = 0;
  for (const y of starts(a.h, WINDOW, OVERLAP)) {
    for (const x of starts(a.w, WINDOW, OVERLAP)) {
      const p0 = performance.now();
      const crop = new Uint8ClampedArray(WINDOW * WINDOW * 4);
      for (let row = 0; row < WINDOW; row++) {
        const from = ((y + row) * a.w + x) * 4;
        crop.set(rgba.subarray(from, from + WINDOW * 4), row * WINDOW * 4);
      }
      const input = toChw(crop, WINDOW, WINDOW);
      const p1 = performance.now();
      await s.run({ [s.inputNames[0]]: input });
      preprocess += p1 - p0;
      inference += performance.now() - p1;
    }
  }
  const t3 = performance.now();
  return { wall: t3 - t0, timings: { fetch: t1 - t0, decode: t2 - t1, preprocess, inference } };
}
