// geodetect's pool of workers: throughput (tiles/s) with 1, 2 and 4 workers of one thread,
// and peak memory for areas of growing size, in headless Chromium on the marina tiles
// repeated (a loopback server, as bench/run.mjs). Prints a markdown table and writes
// bench/results/pool.{json,md}. Run by hand, after bench/setup.sh:
//
//   node bench/pool.mjs [--workers 1,2,4] [--tiles 2000] [--runs 1] [--memory 500,2000,8000]
//                       [--memory-workers 2] [--out DIR]
//
//   --workers     pool sizes for the throughput case (each a fresh page; one thread each)
//   --tiles       tiles of the throughput case's area (a square of the marina repeated)
//   --runs        measured runs per pool size (the median is reported)
//   --memory      areas (tiles) of the memory case, each on a fresh page; "" skips it
//   --memory-workers  the pool size of the memory case
//
// Memory is measured two ways: each worker's wasm memory after the run (it never shrinks, so
// that is its peak), and the peak of performance.measureUserAgentSpecificMemory() sampled
// every 2 s during the run (the page is cross-origin isolated, and Chromium measures eagerly
// with ForceEagerMeasureMemory; Chromium 156 reports the page's own heap, not its workers').
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { launchBrowser, repeatMarinaTiles, startStaticServer } from "../tests/e2e/helpers.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));

const { values: opts } = parseArgs({
  options: {
    workers: { type: "string", default: "1,2,4" },
    tiles: { type: "string", default: "2000" },
    runs: { type: "string", default: "1" },
    memory: { type: "string", default: "500,2000,8000" },
    "memory-workers": { type: "string", default: "2" },
    out: { type: "string", default: join(HERE, "results") },
  },
});
const list = (s) => s.split(",").filter(Boolean).map(Number);
const WORKERS = list(opts.workers);
const TILES = Number(opts.tiles);
const RUNS = Number(opts.runs);
const MEMORY = list(opts.memory);
const MEMORY_WORKERS = Number(opts["memory-workers"]);
for (const n of [...WORKERS, ...MEMORY, TILES, RUNS, MEMORY_WORKERS]) {
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`bad option value ${n}`);
}

const server = await startStaticServer({
  headers: { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" },
  rewrite: repeatMarinaTiles("/www/tiles/marina/19/"),
  headersFor: (path) => (path.startsWith("/www/tiles/") ? {} : { "cache-control": "public, max-age=600" }),
});
const browser = await launchBrowser({ webgpu: false, extraArgs: ["--enable-blink-features=ForceEagerMeasureMemory"] });
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mib = (b) => (b === null ? "n/a" : `${(b / 2 ** 20).toFixed(0)} MiB`);

/** A fresh page with a detector of `workers` workers of one thread, its pool grown and warm. */
async function openPool(workers) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = [];
  page.on("console", (m) => log.push(m.text()));
  page.on("pageerror", (e) => log.push(String(e)));
  await page.goto(`${server.url}/bench/index.html`);
  await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
  try {
    const init = await page.evaluate((w) => window.bench.geodetectInit({ backend: "cpu", threads: 1, workers: w }), workers);
    // An area of several chunks starts the rest of the pool; each worker warms up in its init.
    await page.evaluate(() => window.bench.geodetectPool({ tiles: 200 }));
    return { context, page, init };
  } catch (e) {
    throw new Error(`${e.message}\n${log.join("\n")}`);
  }
}

const results = { throughput: [], memory: [] };
try {
  for (const workers of WORKERS) {
    const { context, page } = await openPool(workers);
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await page.evaluate((tiles) => window.bench.geodetectPool({ tiles }), TILES));
    await context.close();
    const wall = median(runs.map((r) => r.wall));
    const row = { workers, tiles: runs[0].tiles, chunks: runs[0].chunks, wallMs: wall, tilesPerSecond: runs[0].tiles / (wall / 1000), detections: runs[0].detections, workersRunning: runs[0].workers, runs };
    results.throughput.push(row);
    console.error(`workers ${workers}: ${row.tiles} tile fetches, ${row.chunks} chunks in ${(wall / 1000).toFixed(1)} s: ${row.tilesPerSecond.toFixed(1)} tiles/s`);
  }
  for (const tiles of MEMORY) {
    const { context, page } = await openPool(MEMORY_WORKERS);
    const r = await page.evaluate((t) => window.bench.geodetectPool({ tiles: t }), tiles);
    await context.close();
    results.memory.push({ tiles, workers: MEMORY_WORKERS, ...r });
    console.error(`memory, ${r.tiles} tile fetches on ${MEMORY_WORKERS} workers: workers' wasm ${r.workerMemory.map(mib).join(" + ")}, page peak ${mib(r.uaMemoryPeak)} (${r.uaMemorySamples} samples), ${(r.wall / 1000).toFixed(0)} s`);
  }
} finally {
  await browser.close();
  await server.close();
}

const env = {
  chromium: browser.version(),
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? "?",
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  date: new Date().toISOString(),
};
const base = results.throughput.find((r) => r.workers === 1);
const lines = [
  `Chromium ${env.chromium}, ${env.cores} × ${env.cpu}, ${env.memoryGiB} GiB; CPU path, one thread per worker; ${env.date}`,
  "",
];
if (results.throughput.length) {
  lines.push("| workers | tile fetches | chunks | wall s | tiles/s | vs 1 worker |", "| --- | --- | --- | --- | --- | --- |");
  for (const r of results.throughput) {
    lines.push(`| ${r.workers} | ${r.tiles} | ${r.chunks} | ${(r.wallMs / 1000).toFixed(1)} | ${r.tilesPerSecond.toFixed(1)} | ${base ? `${(r.tilesPerSecond / base.tilesPerSecond).toFixed(2)}×` : "—"} |`);
  }
  lines.push("");
}
if (results.memory.length) {
  lines.push(`| area (tile fetches) | chunks | each worker's wasm memory | page peak (measureUserAgentSpecificMemory) | wall s |`, "| --- | --- | --- | --- | --- |");
  for (const r of results.memory) {
    lines.push(`| ${r.tiles} | ${r.chunks} | ${r.workerMemory.map(mib).join(", ")} | ${mib(r.uaMemoryPeak)} | ${(r.wall / 1000).toFixed(0)} |`);
  }
  lines.push("");
}
const md = lines.join("\n");
console.log(md);
await mkdir(opts.out, { recursive: true });
await writeFile(join(opts.out, "pool.json"), `${JSON.stringify({ env, options: opts, results }, null, 2)}\n`);
await writeFile(join(opts.out, "pool.md"), `${md}\n`);
console.error(`wrote ${join(opts.out, "pool.json")} and pool.md`);
