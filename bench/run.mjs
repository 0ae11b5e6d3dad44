// geodetect vs onnxruntime-web, side by side in headless Chromium: same weights (the ONNX
// export of the same ultralytics .pt), same pixels, alternating A B A B after a warm-up.
// Prints a markdown table and writes bench/results/latest.{json,md}. Run by hand (never in
// tests/run.sh): bash bench/run.sh [options], or node bench/run.mjs [options] after
// bench/setup.sh.
//
//   --runs N          measured pairs per case (default 7)
//   --warmup N        unmeasured pairs first (default 1)
//   --settle MS       an idle pause before every run of either side (default 300): each
//                     starts on a quiet machine, not beside the other side's thread pool
//                     still spinning after its run (onnxruntime-web's intra-op threads spin
//                     before they sleep); back to back, geodetect's tiles16 fetch with 2
//                     threads measured 56 ms instead of 44
//   --cases a,b       model640, model1024, tiles16, tiles1024, cold (default all five);
//                     yolo11-512, yolo26-1024, yolo26-1024-e2e (not in the default list):
//                     the model alone for the manifest's other models (MODEL_CASES), each
//                     with a detector of its own on the page for that case;
//                     tiles1024: the whole detect() over 1,024 tiles (81 windows), a minute
//                     or more per side, so at most --runs-large pairs and no warm-up;
//                     cold: page load to the first tiles16 result (the page's clock, from
//                     its navigation's start; the page starts the work as it loads) in a
//                     browser with a fresh profile on disk (nothing cached), then in the same profile
//                     after one visit (geodetect's weights in the Cache API; both sides'
//                     wasm and scripts in the HTTP cache), as a returning visitor's
//                     browser keeps them;
//                     cold-incognito (not in the default list): the same in off-the-record
//                     contexts of one browser, which keep their caches in memory only (a
//                     private window)
//   --runs-large N    measured pairs of tiles1024 (default 2)
//   --threads 1,2,4   threads on both sides (geodetect's `threads` option, onnxruntime-web's
//                     numThreads); each count is its own cross-origin-isolated page
//   --webgpu          also geodetect's WebGPU backend vs onnxruntime-web's WebGPU EP on the
//                     256 px model (headless Chromium has only SwiftShader: ratio only)
//   --tile-latency MS every z19 tile response held back this long (playwright's request
//                     routing, for both sides, on the pages of every case, cold starts
//                     included; default 0): a tile server across a real network rather than on loopback
//                     (the routing itself adds a few ms per request)
//   --server S        the loopback server of pages, scripts, weights and tiles: nginx
//                     (default; bench/nginx.mjs) or node (tests/e2e/helpers.mjs's, in this
//                     process)
//   --out DIR         where latest.json / latest.md go (default bench/results)
import { mkdir, stat, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { launchBrowser, launchProfile, repeatMarinaTiles, startStaticServer, watchPage } from "../tests/e2e/helpers.mjs";
import { ENGINES } from "../pkg/engines.mjs";
import { haveNginx, startNginx } from "./nginx.mjs";
import { AREAS, MODEL_CASES as MODEL_CASE_NAMES, MODEL_ID as DEFAULT_MODEL, onnxFile } from "./cases.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..");

const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "7" },
    warmup: { type: "string", default: "1" },
    settle: { type: "string", default: "300" },
    "tile-latency": { type: "string", default: "0" },
    cases: { type: "string", default: "model640,model1024,tiles16,tiles1024,cold" },
    "runs-large": { type: "string", default: "2" },
    threads: { type: "string", default: "1" },
    webgpu: { type: "boolean", default: false },
    server: { type: "string", default: "nginx" },
    out: { type: "string", default: join(HERE, "results") },
  },
});
const RUNS = Number(opts.runs);
const WARMUP = Number(opts.warmup);
const SETTLE_MS = Number(opts.settle);
const TILE_LATENCY_MS = Number(opts["tile-latency"]);
const CASES = opts.cases.split(",").filter(Boolean);
const THREADS = opts.threads.split(",").map(Number);
const RUNS_LARGE = Number(opts["runs-large"]);
/**
 * The model-alone cases (bench/cases.mjs): model id and input size, and the ONNX export
 * onnxruntime-web runs (bench/export_onnx.py's names in .cache/bench/).
 */
const MODEL_CASES = Object.fromEntries(
  MODEL_CASE_NAMES.map((name) => {
    const a = AREAS[name];
    const model = a.model ?? DEFAULT_MODEL;
    // The end-to-end export is made only when asked for.
    const fix = a.onnx === "e2e" ? `.venv-ref/bin/python bench/export_onnx.py --model ${model} --e2e` : undefined;
    return [name, { model, size: a.w, onnx: onnxFile(a), fix }];
  }),
);
const KNOWN = new Set([...Object.keys(MODEL_CASES), "tiles16", "tiles1024", "cold", "cold-incognito"]);
if (!["nginx", "node"].includes(opts.server)) throw new Error(`--server is nginx or node, not ${opts.server}`);
if (opts.server === "nginx" && !(await haveNginx())) throw new Error("nginx is missing (apt-get install nginx, as tests/setup.sh does), or use --server node");
for (const c of CASES) if (!KNOWN.has(c)) throw new Error(`unknown case ${c}; known: ${[...KNOWN].join(", ")}`);
if (!(RUNS >= 1 && RUNS_LARGE >= 1 && WARMUP >= 0 && SETTLE_MS >= 0 && TILE_LATENCY_MS >= 0 && THREADS.every((t) => Number.isInteger(t) && t >= 1))) throw new Error("bad --runs/--warmup/--settle/--tile-latency/--threads");

/** Fail early, and say which setup step is missing. */
async function need(path, fix) {
  try {
    await stat(join(REPO, path));
  } catch {
    throw new Error(`${path} is missing: ${fix}`);
  }
}
await need("pkg/wasm/geodetect_bg.wasm", "bash pkg/build.sh (or bench/setup.sh)");
await need("www/models/manifest.json", "bash tests/setup.sh --demo (or bench/setup.sh)");
await need("www/tiles/marina/source.png", "bash tests/data/prepare.sh (or bench/setup.sh)");
await need("bench/node_modules/onnxruntime-web/package.json", "npm ci --prefix bench (or bench/setup.sh)");
const onnxFiles = new Map(CASES.map((c) => [MODEL_CASES[c]?.onnx ?? `${DEFAULT_MODEL}_1024.onnx`, MODEL_CASES[c]?.fix]));
if (opts.webgpu) onnxFiles.set(`${DEFAULT_MODEL}_256.onnx`, undefined);
for (const [file, fix] of onnxFiles) await need(`.cache/bench/${file}`, fix ?? "bash bench/setup.sh (exports the ONNX files once)");
for (const c of CASES.filter((n) => MODEL_CASES[n] && MODEL_CASES[n].model !== DEFAULT_MODEL)) {
  await need(`www/models/${MODEL_CASES[c].model}.safetensors`, "bash tests/setup.sh --demo (converts every model of the manifest)");
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1], n: s.length };
};

/** `--settle` milliseconds of nothing. */
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

/**
 * Run `a` and `b` alternately: `warmup` unmeasured pairs, then `runs` measured ones, each
 * run after `--settle`. Each returns { value, extra }; the ratio is taken pair by pair
 * (a_i / b_i).
 */
async function alternate(a, b, { warmup = WARMUP, runs = RUNS } = {}) {
  for (let i = 0; i < warmup; i++) {
    await settle();
    await a();
    await settle();
    await b();
  }
  const as = [];
  const bs = [];
  const extras = [];
  for (let i = 0; i < runs; i++) {
    await settle();
    const ra = await a();
    await settle();
    const rb = await b();
    as.push(ra.value);
    bs.push(rb.value);
    extras.push({ a: ra.extra, b: rb.extra });
  }
  return { a: stats(as), b: stats(bs), ratio: stats(as.map((v, i) => v / bs[i])), samples: { a: as, b: bs }, extras };
}

/** Median of each timing key over the runs. */
function medianTimings(list) {
  const keys = Object.keys(list[0] ?? {});
  return Object.fromEntries(keys.map((k) => [k, stats(list.map((t) => t[k])).median]));
}

const crossOriginIsolation = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
};
// Everything but the tiles may stay in the HTTP cache, as production hosting allows (the
// cold-start case with weights cached then also finds both sides' wasm there); tiles are
// fetched from the server every time.
// tiles1024 repeats the marina's 8 x 5 tiles at z19.
const rewriteTile = repeatMarinaTiles("/www/tiles/marina/19/");
/** The zoom-19 tiles of the square `side` tiles wide from tile (x0, y0). */
const square = (x0, y0, side) => Array.from({ length: side * side }, (_, i) => [x0 + (i % side), y0 + Math.floor(i / side)]);
const server =
  opts.server === "nginx"
    ? await startNginx({
        root: REPO,
        headers: crossOriginIsolation,
        // tiles16 and tiles1024 (bench/cases.mjs's AREAS).
        tiles: [...square(272955, 191175, 4), ...square(272944, 191168, 32)],
        tileFile: (x, y) => join(REPO, rewriteTile(`/www/tiles/marina/19/${x}/${y}.png`)),
        extraTiles: { "www/tiles/marina/source.png": join(REPO, "www/tiles/marina/source.png") },
      })
    : await startStaticServer({
        headers: crossOriginIsolation,
        rewrite: rewriteTile,
        headersFor: (path) => (path.startsWith("/www/tiles/") ? {} : { "cache-control": "public, max-age=600" }),
      });
const browser = await launchBrowser({ webgpu: opts.webgpu });
const results = [];
let env = {};

/** `--tile-latency`: every z19 tile response of `context` held back that long. */
async function holdTilesBack(context) {
  if (TILE_LATENCY_MS > 0) {
    await context.route(/\/19\/\d+\/\d+\.png$/, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, TILE_LATENCY_MS));
      await route.continue();
    });
  }
}

/**
 * A bench page in `context` (default: a new one): onnxruntime-web imported and set to
 * `threads` unless `ort` is false, and geodetect's Detector created on `backend` unless
 * that is null.
 */
async function openPage({ threads, backend, context: given, ort = true }) {
  const context = given ?? (await browser.newContext());
  await holdTilesBack(context);
  const page = await context.newPage();
  const watch = watchPage(page);
  await page.goto(`${server.url}/bench/index.html`);
  try {
    await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
  } catch (e) {
    throw new Error(`the bench page did not load: ${e.message}\n${watch.text()}`);
  }
  const ortInfo = ort ? await page.evaluate((t) => window.bench.ortInit({ threads: t }), threads) : null;
  const geo = backend ? await page.evaluate((o) => window.bench.geodetectInit(o), { backend, threads }) : null;
  if (geo && backend === "cpu" && geo.info.threads !== threads) {
    throw new Error(`geodetect runs ${geo.info.threads} threads, not ${threads}: ${geo.info.threadsNote}\n${watch.text()}`);
  }
  return { context, page, ortInfo, geo };
}

/**
 * Page load to the first tiles16 result, in `context`, for one side with `threads`:
 * geodetect (worker, wasm, weights, detect; onnxruntime-web is not even imported) or
 * onnxruntime-web (its module and wasm, the ONNX file, session, the tiles16 page work). The
 * page starts the work itself as it loads (bench/index.html `?cold=`); the value is the
 * page's own clock at the first result, counted from the start of its navigation. The
 * node-side wall time (`nodeMs`: new tab, navigation, harness round trips) is kept beside it.
 */
async function coldStart(side, context, threads) {
  const t0 = performance.now();
  const page = await context.newPage();
  const watch = watchPage(page);
  await page.goto(`${server.url}/bench/index.html?cold=${side}&threads=${threads}`);
  let r;
  try {
    await page.waitForFunction(() => window.cold, null, { timeout: 30_000 });
    r = await page.evaluate(() => window.cold);
  } catch (e) {
    throw new Error(`the cold start of ${side} failed: ${e.message}\n${watch.text()}`);
  }
  const nodeMs = performance.now() - t0;
  await page.close();
  if (side !== "geodetect") return { value: r.sinceNavigation, extra: { nodeMs, detectMs: r.detect.wall } };
  if (r.init.info.threads !== threads) throw new Error(`geodetect runs ${r.init.info.threads} threads, not ${threads}: ${r.init.info.threadsNote}`);
  const extra = { nodeMs, createMs: r.init.ms, loadMs: r.init.info.loadMs, detectMs: r.detect.wall, timings: r.detect.timings };
  return { value: r.sinceNavigation, extra };
}

/**
 * The cold-start cases for `threads`: nothing cached, then weights and engine cached; each
 * run in a browser of its own with a fresh profile on disk, or (`incognito`) in a fresh
 * off-the-record context of the bench's browser.
 */
async function coldCases(threads, incognito) {
  for (const cached of [false, true]) {
    const label = `cold start, navigation to the first tiles16 result, ${cached ? "weights cached" : "nothing cached"}${incognito ? ", off-the-record context" : ""}, ${threads} thread${threads > 1 ? "s" : ""} each`;
    process.stderr.write(`${label}: `);
    const inContext = async (side) => {
      const profile = incognito ? null : await launchProfile({ webgpu: false });
      const context = profile ? profile.context : await browser.newContext();
      await holdTilesBack(context);
      try {
        if (cached) await coldStart(side, context, threads);
        return await coldStart(side, context, threads);
      } finally {
        await (profile ? profile.close() : context.close());
      }
    };
    const r = await alternate(() => inContext("geodetect"), () => inContext("ort"));
    const g = r.extras.map((e) => e.a);
    r.geodetect = {
      medianCreateMs: stats(g.map((e) => e.createMs)).median,
      medianLoadMs: stats(g.map((e) => e.loadMs)).median,
      medianDetectMs: stats(g.map((e) => e.detectMs)).median,
      medianNodeMs: stats(g.map((e) => e.nodeMs)).median,
      medianTimings: medianTimings(g.map((e) => e.timings)),
    };
    r.ort = { medianDetectMs: stats(r.extras.map((e) => e.b.detectMs)).median, medianNodeMs: stats(r.extras.map((e) => e.b.nodeMs)).median };
    delete r.extras;
    r.what = `the page's clock (performance.now(), from the start of its navigation) when the first result is in, the page starting the work as it loads (geodetect: Detector.create + detect; onnxruntime-web: its import, session create + the tiles16 page work); medianNodeMs: the node-side wall time from opening the tab to the result; every response may be kept in the HTTP cache for 10 minutes, as production hosting would allow; ${incognito ? "an off-the-record context (caches in memory only)" : "a browser profile on disk, as a returning visitor's browser has"}`;
    results.push({ case: `${cached ? "cold-cached" : "cold"}${incognito ? "-incognito" : ""}`, backend: "cpu", ortThreads: threads, geodetectThreads: threads, label, ...r });
    process.stderr.write(`geodetect ${r.a.median.toFixed(0)} ms, onnxruntime-web ${r.b.median.toFixed(0)} ms, ratio ${r.ratio.median.toFixed(2)}\n`);
  }
}

try {
  for (const threads of THREADS) {
    const { context, page, ortInfo, geo } = await openPage({ threads, backend: "cpu" });
    env = { ...env, ort: ortInfo.version, crossOriginIsolated: ortInfo.crossOriginIsolated };
    if (threads > 1 && !ortInfo.crossOriginIsolated) throw new Error("the page is not cross-origin isolated: onnxruntime-web cannot use threads");
    for (const name of CASES.filter((c) => !c.startsWith("cold"))) {
      const label = `${name}${MODEL_CASES[name] && MODEL_CASES[name].model !== DEFAULT_MODEL ? ` (${MODEL_CASES[name].model})` : ""}, CPU, ${threads} thread${threads > 1 ? "s" : ""} each`;
      process.stderr.write(`${label}: `);
      const mc = MODEL_CASES[name];
      // Another model than the default: a detector of its own, made for this case only.
      const own = mc && mc.model !== DEFAULT_MODEL;
      const caseGeo = own ? await page.evaluate((o) => window.bench.geodetectInit(o), { backend: "cpu", threads, model: mc.model }) : geo;
      if (caseGeo.info.threads !== threads) throw new Error(`geodetect runs ${caseGeo.info.threads} threads, not ${threads}: ${caseGeo.info.threadsNote}`);
      if (mc && caseGeo.info.model.id !== mc.model) throw new Error(`geodetect loaded ${caseGeo.info.model.id}, not ${mc.model}`);
      let r;
      if (name.startsWith("tiles")) {
        r = await alternate(
          async () => {
            const g = await page.evaluate((n) => window.bench.geodetectDetect(n), name);
            return { value: g.wall, extra: g };
          },
          async () => {
            const o = await page.evaluate((n) => window.bench.ortTiles(n), name);
            return { value: o.wall, extra: o };
          },
          name === "tiles1024" ? { warmup: 0, runs: RUNS_LARGE } : {},
        );
        const gt = medianTimings(r.extras.map((e) => ({ ...e.a.timings, wall: e.a.wall })));
        const ot = medianTimings(r.extras.map((e) => ({ ...e.b.timings, wall: e.b.wall })));
        r.geodetect = { medianTimings: gt, outsideModelShare: (gt.wall - gt.inference) / gt.wall, detections: r.extras[0].a.detections };
        r.ort = { medianTimings: ot };
        r.what = "whole detect() as the caller waits for it vs fetch + decode + one canvas + session.run on each window (no box decoding, NMS, merging or GeoJSON on the onnxruntime-web side)";
      } else {
        r = await alternate(
          async () => {
            const g = await page.evaluate((n) => window.bench.geodetectDetect(n), name);
            return { value: g.timings.inference, extra: g };
          },
          async () => {
            const o = await page.evaluate((n) => window.bench.ortModel(n), name);
            return { value: o.ms, extra: o };
          },
        );
        r.what = "the model alone: geodetect timings.inference of a one-window detect() vs session.run, same crop";
        const first = r.extras[0];
        if (first.a.image[0] !== mc.size || first.a.image[1] !== mc.size) throw new Error(`geodetect's raster is ${first.a.image}, not one ${mc.size} px window`);
        const entry = caseGeo.info.model;
        Object.assign(r, {
          model: mc.model,
          size: mc.size,
          onnx: first.b.file,
          ortOutput: first.b.dims,
          geodetectDecodedRows: 4 + entry.classes.length + 1, // box, classes, angle (OBB)
          geodetectPostprocess: entry.postprocess ?? "nms",
          geodetectMedianPostprocessMs: stats(r.extras.map((e) => e.a.timings.postprocess)).median,
          geodetectDetections: first.a.detections,
        });
        if (own) {
          r.what += `; geodetect: ${mc.model}, ${r.geodetectPostprocess === "topk" ? "the one-to-one branch" : "the one-to-many branch"}: forward + box decoding + read-back of [${r.geodetectDecodedRows}, N], its ${r.geodetectPostprocess === "topk" ? "top-k" : "NMS"} after, in timings.postprocess (not timed here); onnxruntime-web: ${first.b.file}, output [${first.b.dims}]${name.endsWith("e2e") ? " (top-k in the graph)" : ""}`;
        }
      }
      delete r.extras;
      if (own) {
        await page.evaluate((n) => window.bench.release(n), name);
        r.geodetectLoadMs = caseGeo.ms;
      }
      results.push({ case: name, backend: "cpu", ortThreads: threads, geodetectThreads: caseGeo.info.threads, relaxedSimd: caseGeo.info.relaxedSimd, label, ...r });
      process.stderr.write(`geodetect ${r.a.median.toFixed(0)} ms, onnxruntime-web ${r.b.median.toFixed(0)} ms, ratio ${r.ratio.median.toFixed(2)}\n`);
    }
    env.geodetectLoadMs = geo.ms;
    await context.close();
    if (CASES.includes("cold")) await coldCases(threads, false);
    if (CASES.includes("cold-incognito")) await coldCases(threads, true);
  }
  if (opts.webgpu) {
    const { context, page, geo } = await openPage({ threads: 1, backend: "webgpu" });
    const label = "model256, WebGPU (both)";
    process.stderr.write(`${label} (adapter ${JSON.stringify(geo.info.adapter)}): `);
    // A 256 px crop: SwiftShader takes seconds per pass.
    const r = await alternate(
      async () => {
        const g = await page.evaluate(() => window.bench.geodetectDetect("model256"));
        return { value: g.timings.inference, extra: g };
      },
      async () => {
        const o = await page.evaluate(() => window.bench.ortModel("model256", { ep: "webgpu" }));
        return { value: o.ms, extra: o };
      },
    );
    delete r.extras;
    results.push({ case: "model256", backend: "webgpu", adapter: geo.info.adapter, label, ...r });
    process.stderr.write(`geodetect ${r.a.median.toFixed(0)} ms, onnxruntime-web ${r.b.median.toFixed(0)} ms, ratio ${r.ratio.median.toFixed(2)}\n`);
    await context.close();
  }
  env = {
    ...env,
    date: new Date().toISOString(),
    chromium: browser.version(),
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    engineBytes: Object.fromEntries(
      await Promise.all(ENGINES.map(async (e) => [e.dir, (await stat(join(REPO, "pkg", e.dir, "geodetect_bg.wasm")).catch(() => ({ size: 0 }))).size])),
    ),
    relaxedSimd: results.some((r) => r.relaxedSimd),
    server: opts.server,
    runs: RUNS,
    warmup: WARMUP,
    settleMs: SETTLE_MS,
    tileLatencyMs: TILE_LATENCY_MS,
  };
} finally {
  await browser.close();
  await server.close();
}

const ms = (s) => `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
const lines = [
  `Chromium ${env.chromium}, onnxruntime-web ${env.ort}, ${env.cores} × ${env.cpu}, ${env.memoryGiB} GiB; geodetect engines${env.relaxedSimd ? " (the CPU path with relaxed SIMD)" : ""}: ${Object.entries(env.engineBytes).map(([dir, bytes]) => `${dir} ${(bytes / 2 ** 20).toFixed(1)} MiB`).join(", ")}; ${env.runs} alternating pairs after ${env.warmup} warm-up (tiles1024: ${RUNS_LARGE}, none), ${env.settleMs} ms idle before each run${env.tileLatencyMs ? `, every tile held back ${env.tileLatencyMs} ms` : ""}; loopback server ${env.server}; ${env.date}`,
  "",
  "| case | geodetect ms | onnxruntime-web ms | ratio geodetect / ort (median, min–max) |",
  "| --- | --- | --- | --- |",
  ...results.map((r) => `| ${r.label} | ${ms(r.a)} | ${ms(r.b)} | ${r.ratio.median.toFixed(2)} (${r.ratio.min.toFixed(2)}–${r.ratio.max.toFixed(2)}) |`),
];
for (const r of results.filter((x) => x.ortOutput && x.model !== DEFAULT_MODEL)) {
  lines.push("", `${r.label}: geodetect ${r.model} (postprocess ${r.geodetectPostprocess}), timings.inference = forward + box decoding + read-back of [${r.geodetectDecodedRows}, N]; its ${r.geodetectPostprocess === "topk" ? "top-k" : "NMS"} (timings.postprocess, median ${r.geodetectMedianPostprocessMs.toFixed(1)} ms) is not in the table; ${r.geodetectDetections} detections. onnxruntime-web: session.run of .cache/bench/${r.onnx}, output [${r.ortOutput.join(", ")}]${r.case.endsWith("e2e") ? " (ultralytics' end-to-end export: its top-k is in the graph, so in the time)" : ""}.`);
}
for (const r of results.filter((x) => x.geodetect)) {
  const t = r.geodetect.medianTimings;
  if (r.case.startsWith("cold")) {
    const g = r.geodetect;
    lines.push("", `${r.label}: geodetect median Detector.create ${g.medianCreateMs.toFixed(0)} ms (engine load ${g.medianLoadMs.toFixed(0)}), first detect() ${g.medianDetectMs.toFixed(0)} ms (fetch ${t.fetch.toFixed(0)}, decode ${t.decode.toFixed(0)}, inference ${t.inference.toFixed(0)}, postprocess ${t.postprocess.toFixed(0)}); onnxruntime-web page's first tiles16 ${r.ort.medianDetectMs.toFixed(0)} ms. From opening the tab, as the harness sees it: geodetect ${g.medianNodeMs.toFixed(0)} ms, onnxruntime-web ${r.ort.medianNodeMs.toFixed(0)} ms.`);
    continue;
  }
  lines.push("", `${r.label}: geodetect median stages (ms) fetch ${t.fetch.toFixed(0)}, decode ${t.decode.toFixed(0)}, preprocess ${t.preprocess.toFixed(0)}, inference ${t.inference.toFixed(0)}, postprocess ${t.postprocess.toFixed(0)}, total ${t.total.toFixed(0)}, caller's wall ${t.wall.toFixed(0)}; outside the model ${(100 * r.geodetect.outsideModelShare).toFixed(0)} %; ${r.geodetect.detections} detections.`);
  const o = r.ort.medianTimings;
  lines.push(`${r.label}: onnxruntime-web page median stages (ms) fetch ${o.fetch.toFixed(0)}, decode ${o.decode.toFixed(0)}, preprocess ${o.preprocess.toFixed(0)}, inference ${o.inference.toFixed(0)}.`);
}
const md = lines.join("\n") + "\n";
await mkdir(opts.out, { recursive: true });
await writeFile(join(opts.out, "latest.json"), JSON.stringify({ env, results }, null, 2) + "\n");
await writeFile(join(opts.out, "latest.md"), md);
process.stdout.write(md);
