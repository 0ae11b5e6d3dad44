// Soak: many sequential detections in one worker, sampling the worker's wasm memory and the
// page's JS heap; after warm-up neither may grow. Run by hand (1,000 runs take about a quarter
// of an hour here), not by tests/run.sh:
//
//   cd tests/e2e && node soak.mjs [--runs 1000] [--every 50] [--warmup 100]
//
// Needs what the e2e tests need (tests/setup.sh: the engines, www/models, the marina tiles).
// Each run detects on a small area (one tile's middle, cycling over 20 tiles of the marina at
// zoom 19, so tiles come from the network, the memory cache and its evictions alike); every
// tenth on a 600 px one (nine tiles, one full model window). Every
// `--every` runs it records the worker's wasm memory (detector.health()) and the page's JS
// heap after a forced garbage collection. Writes tests/out/soak.json and prints the curve
// as a markdown table; exits 1 when, after `--warmup` runs, the wasm memory grew at all or
// the JS heap grew by more than 2 MiB.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { MARINA_TILES, REPO, launchBrowser, pixelToLonLat, startStaticServer } from "./helpers.mjs";
import { MODEL } from "./setup.mjs";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "1000" }, every: { type: "string", default: "50" }, warmup: { type: "string", default: "100" } },
});
const [RUNS, EVERY, WARMUP] = [values.runs, values.every, values.warmup].map(Number);
const ZOOM = 19;
const HEAP_SLACK = 2 << 20;

/** A 48 px square in the middle of marina tile (x0 + 1 + i % 5, y0 + floor(i / 5) % 4); every
 * tenth run a 600 px one there (nine tiles, a full-size model window). */
function area(i) {
  const [tx, ty] = [MARINA_TILES.x0 + 1 + (i % 5), MARINA_TILES.y0 + (Math.floor(i / 5) % 4)];
  const [cx, cy] = [tx * 256 + 128, ty * 256 + 128];
  const r = i % 10 === 0 ? 300 : 24;
  const ring = [[-r, -r], [r, -r], [r, r], [-r, r], [-r, -r]].map(([x, y]) => pixelToLonLat([cx + x, cy + y], ZOOM));
  return { type: "Polygon", coordinates: [ring] };
}

const server = await startStaticServer({ mounts: { "/": join(REPO, "www"), "/pkg/": join(REPO, "pkg") } });
const browser = await launchBrowser({ webgpu: false, extraArgs: ["--js-flags=--expose-gc", "--enable-precise-memory-info"] });
const samples = [];
let failed = null;
try {
  const page = await (await browser.newContext()).newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${server.url}/e2e.html`);
  await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
  await page.evaluate(async ({ model }) => {
    // A small memory cache (1 MiB, about 12 tiles) so that it fills and evicts during the soak.
    window.soakDetector = await window.geodetect.Detector.create({
      source: { url: "/tiles/marina/{z}/{x}/{y}.png", maxZoom: 21 }, model, backend: "cpu", workers: 1, threads: 1,
      modelBaseUrl: "/models/", fetch: { cacheBytes: 1 << 20 },
    });
  }, { model: MODEL });
  const start = Date.now();
  for (let done = 0; done < RUNS; done += EVERY) {
    const areas = Array.from({ length: Math.min(EVERY, RUNS - done) }, (_, k) => area(done + k));
    const batch = await page.evaluate(async ({ areas, zoom }) => {
      const t0 = performance.now();
      let detections = 0;
      for (const aoi of areas) detections += (await window.soakDetector.detect(aoi, { zoom })).detections.features.length;
      const ms = (performance.now() - t0) / areas.length;
      const health = await window.soakDetector.health();
      window.gc?.();
      await new Promise((ok) => setTimeout(ok, 50));
      // @ts-ignore Chromium's performance.memory
      return { detections, ms, wasm: health.workers[0]?.memoryBytes ?? null, heap: performance.memory?.usedJSHeapSize ?? null };
    }, { areas, zoom: ZOOM });
    const sample = { runs: done + areas.length, seconds: (Date.now() - start) / 1000, ...batch };
    samples.push(sample);
    console.log(`${String(sample.runs).padStart(5)} runs  ${sample.ms.toFixed(0)} ms/run  wasm ${(sample.wasm / 2 ** 20).toFixed(1)} MiB  heap ${(sample.heap / 2 ** 20).toFixed(2)} MiB`);
  }
  await page.evaluate(() => window.soakDetector.dispose());
} catch (e) {
  failed = e;
} finally {
  await browser.close();
  await server.close();
}

const base = samples.find((s) => s.runs >= WARMUP);
const last = samples.at(-1);
const problems = [];
if (failed) problems.push(`the soak stopped: ${failed.message}`);
if (base && last && last.wasm > base.wasm) problems.push(`wasm memory grew after warm-up: ${base.wasm} -> ${last.wasm} bytes`);
if (base && last && last.heap - base.heap > HEAP_SLACK) problems.push(`JS heap grew after warm-up: ${base.heap} -> ${last.heap} bytes`);
const table = ["| runs | ms per run | wasm memory (MiB) | JS heap (MiB) |", "|---:|---:|---:|---:|"]
  .concat(samples.map((s) => `| ${s.runs} | ${s.ms.toFixed(0)} | ${(s.wasm / 2 ** 20).toFixed(1)} | ${(s.heap / 2 ** 20).toFixed(2)} |`));
await mkdir(join(REPO, "tests/out"), { recursive: true });
await writeFile(join(REPO, "tests/out/soak.json"), JSON.stringify({ runs: RUNS, every: EVERY, warmup: WARMUP, samples, problems }, null, 1));
console.log(`\n${table.join("\n")}\n`);
console.log(problems.length ? `soak: FAILED\n- ${problems.join("\n- ")}` : `soak: ${RUNS} runs, no growth after ${WARMUP}`);
process.exit(problems.length ? 1 : 0);
