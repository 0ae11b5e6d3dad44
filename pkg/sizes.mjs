// What a browser downloads: raw, gzip (level 9) and brotli (quality 11) bytes of every wasm,
// every JS file of the package and every model's weights, then the sum per download path
// (a browser fetches the client, the worker and exactly one engine), each against its budget.
//
//   node pkg/sizes.mjs [--check] [--json FILE] [--markdown]
//
//   --check      exit 1 when a path is over its budget (pkg/build.sh passes it)
//   --json FILE  also write the table as JSON
//   --markdown   print a markdown table instead of the plain one
//
// The budgets are ceilings with room, to catch a regression (a feature that drags in a
// backend, a debug build in the package), not speed targets: the CPU and threaded paths must
// stay within the goal of 1.75 MB gzip, the WebGPU path (burn's wgpu backend with
// cubecl and wgpu, which cubecl-wgpu builds with wgpu's default features) within 4 MB.
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { compressed } from "./compress.mjs";
import { ENGINES } from "./engines.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const args = process.argv.slice(2);
const check = args.includes("--check");
const markdown = args.includes("--markdown");
const jsonAt = args.indexOf("--json");
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
if (jsonAt >= 0 && !jsonFile) {
  console.error("pkg/sizes.mjs: --json needs a file name");
  process.exit(2);
}

const MB = 1_000_000;
// The main thread's modules (the script tag bundles them but protocol.js, which the worker imports).
const CLIENT = ["index.js", "client.js", "pool.js", "metrics.js", "protocol.js"];
const WORKER = ["worker.js", "worker-core.js"];
const LABELS = {
  cpu: "CPU",
  "cpu-relaxed": "CPU, relaxed SIMD",
  threads: "threads",
  "threads-relaxed": "threads, relaxed SIMD",
  webgpu: "WebGPU",
};
/** name -> [files (relative to pkg/), gzip budget in bytes]: one path per engine, and the script tag. */
const PATHS = Object.fromEntries([
  ...ENGINES.map((e) => [
    `${LABELS[e.name] ?? e.name} (ESM)`,
    [[...CLIENT, ...WORKER, ...engine(e.dir)], (e.name === "webgpu" ? 4 : 1.75) * MB],
  ]),
  ["CPU (script tag)", [["dist/geodetect.global.js", "protocol.js", ...WORKER, ...engine("wasm")], 1.75 * MB]],
]);

/** The engine's JS glue, its wasm and (threaded engine) the pool worker's helper. */
function engine(dir) {
  const files = [`${dir}/geodetect.js`, `${dir}/geodetect_bg.wasm`];
  const snippets = join(here, dir, "snippets");
  if (existsSync(snippets)) {
    for (const f of readdirSync(snippets, { recursive: true })) {
      if (String(f).endsWith(".js")) files.push(relative(here, join(snippets, String(f))));
    }
  }
  return files;
}

/** @type {Map<string, {raw: number, gzip: number, br: number}>} */
const sizes = new Map();
/** Raw, gzip and brotli bytes of each of `paths`, all compressed at once (pkg/compress.mjs). */
async function measureAll(paths) {
  await Promise.all(
    [...new Set(paths)].map(async (path) => {
      const bytes = readFileSync(path);
      const [gz, br] = await Promise.all([compressed(bytes, "gz"), compressed(bytes, "br")]);
      sizes.set(path, { raw: bytes.length, gzip: gz.length, br: br.length });
    }),
  );
}
/** The sizes of `path`, measured by measureAll. */
function measure(path) {
  const s = sizes.get(path);
  if (!s) throw new Error(`pkg/sizes.mjs: ${path} was not measured`);
  return s;
}

const missing = [];
const files = [...new Set(Object.values(PATHS).flatMap(([f]) => f))].filter((f) => {
  const there = existsSync(join(here, f));
  if (!there) missing.push(`pkg/${f}`);
  return there;
});
// Each model's weights, as listed in the served manifest (www/models, written by tests/setup.sh).
const weights = [];
const manifestPath = join(root, "www", "models", "manifest.json");
if (existsSync(manifestPath)) {
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  for (const m of manifest.models ?? []) {
    const p = join(root, "www", "models", m.weights.file);
    if (existsSync(p)) weights.push(p);
    else missing.push(relative(root, p));
  }
}
await measureAll([...files.map((f) => join(here, f)), ...weights]);

const rows = [];
for (const f of files) {
  // The snippet directory's name is a hash: shortened in the table.
  const file = `pkg/${f}`.replace(/\/snippets\/.*\//, "/snippets/…/");
  rows.push({ kind: f.endsWith(".wasm") ? "wasm" : "js", file, ...measure(join(here, f)) });
}
for (const p of weights) rows.push({ kind: "weights", file: relative(root, p), ...measure(p) });

const paths = [];
let over = false;
for (const [name, [list, budget]] of Object.entries(PATHS)) {
  if (list.some((f) => !existsSync(join(here, f)))) continue;
  const sum = { raw: 0, gzip: 0, br: 0 };
  for (const f of list) {
    const s = measure(join(here, f));
    sum.raw += s.raw;
    sum.gzip += s.gzip;
    sum.br += s.br;
  }
  const ok = sum.gzip <= budget;
  over ||= !ok;
  paths.push({ path: name, files: list.length, ...sum, budgetGzip: budget, ok });
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const fmt = (n) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : kib(n));
const out = [];
if (markdown) {
  out.push("| file | raw | gzip | brotli |", "|---|---:|---:|---:|");
  for (const r of rows) out.push(`| ${r.file} | ${fmt(r.raw)} | ${fmt(r.gzip)} | ${fmt(r.br)} |`);
  out.push("", "| download path (client + worker + one engine) | raw | gzip | brotli | gzip budget |", "|---|---:|---:|---:|---:|");
  for (const p of paths) out.push(`| ${p.path} | ${fmt(p.raw)} | ${fmt(p.gzip)} | ${fmt(p.br)} | ${(p.budgetGzip / MB).toFixed(2)} MB ${p.ok ? "ok" : "OVER"} |`);
} else {
  const w = Math.max(...rows.map((r) => r.file.length), ...paths.map((p) => p.path.length)) + 2;
  const line = (a, b, c, d, e = "") => out.push(`${a.padEnd(w)}${b.padStart(12)}${c.padStart(12)}${d.padStart(12)}${e}`);
  line("file", "raw", "gzip", "brotli");
  for (const r of rows) line(r.file, fmt(r.raw), fmt(r.gzip), fmt(r.br));
  out.push("");
  line("download path", "raw", "gzip", "brotli", "   gzip budget");
  for (const p of paths) line(p.path, fmt(p.raw), fmt(p.gzip), fmt(p.br), `   ${(p.budgetGzip / MB).toFixed(2)} MB ${p.ok ? "ok" : "OVER"}`);
}
console.log(out.join("\n"));
if (missing.length) console.error(`pkg/sizes.mjs: not built, left out: ${missing.join(", ")}`);
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify({ files: rows, paths }, null, 2)}\n`);
if (check && over) {
  console.error("pkg/sizes.mjs: a download path is over its gzip budget (see the table)");
  process.exit(1);
}
