// Build the demo site into a static folder ready to upload (nginx, S3 + CloudFront):
//
//   node www/deploy/build-site.mjs [--out DIR] [--no-compress]
//
// writes DIR/site/ (default DIR: www/dist) and DIR/site.json, the plan that the nginx test and
// www/deploy/cloudfront/publish.mjs read. Needs the built engines (pkg/build.sh), the model
// weights (www/models), the imagery (www/tiles) and the demo's node dependencies (www/node_modules,
// for www/build.mjs, which this runs): tests/setup.sh makes all four.
//
// What the site holds (paths are the dev server's: www/ at /, pkg/ at /pkg/, tests/data/aoi/
// at /aoi/):
//   index.html, 404.html, 50x.html   unhashed HTML (no-cache); error pages from www/deploy/pages
//   healthz                          static JSON {status, name, version, build} (no-store)
//   assets/<name>.<hash>.js|css|mjs  the demo's bundle (www/build.mjs: script, style, MapLibre's
//                                    worker), rebuilt first; the error pages' style
//   pkg/**/<name>.<hash>.js|wasm     the package: client, worker, every engine (pkg/engines.mjs)
//   models/manifest.json             unhashed entry (no-cache); it names the hashed weights
//   models/<id>.<hash>.safetensors   weights (immutable)
//   tiles/**, aoi/*.geojson          imagery and areas as they are (tiles cached for a day)
// <hash> is the first 10 hex digits of the SHA-256 of the file as written, after the
// references inside it were rewritten to their own hashed names (leaves first), so a hashed
// name changes exactly when its bytes do and every hashed file can be cached forever.
// References are found as quoted strings, HTML attribute values and CSS url()s that resolve
// to another file of the site (relative to the referring file, or to the root when they start
// with "/"); the engines load their wasm with `new URL('geodetect_bg.wasm', import.meta.url)`
// and the worker imports its engine by a literal path, so all of them are found.
//
// Every compressible file gets precompressed siblings, <file>.br (brotli 11) and <file>.gz
// (gzip 9), kept where they save at least 5 %: nginx serves them with brotli_static /
// gzip_static, and CloudFront compresses neither application/wasm nor objects over 10 MB.
// Compressed bytes are cached in .cache/compress/ by content hash (pkg/compress.mjs, shared
// with pkg/sizes.mjs, which compresses the same engines during pkg/build.sh).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { compressed } from "../../pkg/compress.mjs";
import { ENGINES } from "../../pkg/engines.mjs";
import { COMPRESSIBLE as COMPRESSIBLE_EXTENSIONS, CONTENT_TYPES } from "./files.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const headers = JSON.parse(readFileSync(join(root, "www/deploy/headers.json"), "utf8"));

const args = process.argv.slice(2);
const outAt = args.indexOf("--out");
const outDir = outAt >= 0 ? args[outAt + 1] : join(root, "www/dist");
if (!outDir || outDir.startsWith("--")) die("--out needs a directory");
const compress = !args.includes("--no-compress");
for (const a of args) {
  if (a.startsWith("--") && !["--out", "--no-compress"].includes(a)) die(`unknown option ${a}`);
}

/** Run www/build.mjs (esbuild, from www/node_modules: `npm ci --prefix www`). */
function bundleDemo() {
  if (!existsSync(join(root, "www/node_modules/esbuild"))) die("www/node_modules is missing: npm ci --prefix www (tests/setup.sh does), then run this again");
  const r = spawnSync(process.execPath, [join(root, "www/build.mjs")], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) die(`www/build.mjs failed (${r.error?.message ?? `exit status ${r.status}`})`);
}

function die(msg) {
  console.error(`build-site: error: ${msg}`);
  process.exit(1);
}

const COMPRESSIBLE = new Set(COMPRESSIBLE_EXTENSIONS);
const TEXT = new Set(["html", "js", "mjs", "css", "json"]);
const ext = (p) => (posix.basename(p).includes(".") ? posix.extname(p).slice(1).toLowerCase() : "");

// ---------------------------------------------------------------------------------------
// 1. The sources, by the URL path the dev server gives them.
// ---------------------------------------------------------------------------------------

/** @type {Map<string, {src: string, site: string, hashed: boolean, kind: string}>} url path -> source */
const sources = new Map();
function add(urlPath, src, { hashed, kind, site = urlPath.slice(1) }) {
  if (!existsSync(src)) die(`${relative(root, src)} is missing (run tests/setup.sh, which builds the engines, the weights and the tiles)`);
  sources.set(urlPath, { src, site, hashed, kind });
}
function walk(dir) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => statSync(join(dir, f)).isFile())
    .map((f) => f.split("\\").join("/"))
    .sort();
}

add("/index.html", join(root, "www/index.html"), { hashed: false, kind: "html" });
// The map demo's bundle (www/build.mjs -> www/dist/demo/, rebuilt here so that the site never
// ships a stale one): its script, its stylesheet and MapLibre's module worker, which the
// script names ("./maplibre-gl-worker.mjs", rewritten like any other reference).
bundleDemo();
for (const f of ["app.js", "app.css", "maplibre-gl-worker.mjs"]) {
  add(`/dist/demo/${f}`, join(root, "www/dist/demo", f), { hashed: true, kind: "asset", site: `assets/${f}` });
}
const pages = join(root, "www/deploy/pages");
for (const f of walk(pages)) {
  const kind = ext(f) === "html" ? "html" : "asset";
  add(`/${f}`, join(pages, f), { hashed: kind !== "html", kind, site: kind === "html" ? f : `assets/${f}` });
}
const pkgJson = JSON.parse(readFileSync(join(root, "pkg/package.json"), "utf8"));
const engines = ENGINES.map((e) => e.dir);
// The client's modules: the package's top-level .js files.
for (const f of pkgJson.files.filter((f) => f.endsWith(".js") && !f.includes("/"))) {
  add(`/pkg/${f}`, join(root, "pkg", f), { hashed: true, kind: "asset" });
}
for (const e of engines) {
  if (!existsSync(join(root, "pkg", e, "geodetect_bg.wasm"))) die(`pkg/${e}/ is not built (bash pkg/build.sh)`);
  for (const f of walk(join(root, "pkg", e))) {
    if ((f.endsWith(".js") && !f.endsWith(".d.ts")) || f.endsWith(".wasm")) {
      add(`/pkg/${e}/${f}`, join(root, "pkg", e, f), { hashed: true, kind: "asset" });
    }
  }
}
const manifestSrc = join(root, "www/models/manifest.json");
add("/models/manifest.json", manifestSrc, { hashed: false, kind: "entry" });
for (const m of JSON.parse(readFileSync(manifestSrc, "utf8")).models ?? []) {
  add(`/models/${m.weights.file}`, join(root, "www/models", m.weights.file), { hashed: true, kind: "weights" });
}
for (const f of walk(join(root, "www/tiles"))) {
  // Tile images and PMTiles archives (read with range requests: never precompressed).
  const kind = ["png", "jpg", "jpeg", "webp", "pmtiles"].includes(ext(f)) ? "tile" : "entry";
  if (kind === "entry" && !["json", "geojson"].includes(ext(f))) continue; // only what the demo reads
  add(`/tiles/${f}`, join(root, "www/tiles", f), { hashed: false, kind });
}
for (const f of walk(join(root, "tests/data/aoi"))) {
  if (ext(f) === "geojson") add(`/aoi/${f}`, join(root, "tests/data/aoi", f), { hashed: false, kind: "entry" });
}

// ---------------------------------------------------------------------------------------
// 2. Rewrite references (leaves first) and hash.
// ---------------------------------------------------------------------------------------

/** Quoted strings, HTML attribute values, CSS url(): every candidate reference in a text file. */
const REFERENCE = /(["'`])([^"'`\s<>(){}$]+?)\1|url\(\s*([^"'()\s]+)\s*\)/g;

/** The URL path that `ref`, written in the file at URL path `from`, points to (or null). */
function resolveRef(ref, from) {
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref) || ref.startsWith("//") || ref.startsWith("#")) return null;
  const [path] = ref.split(/[?#]/);
  const target = path.startsWith("/") ? posix.normalize(path) : posix.join(posix.dirname(from), path);
  return sources.has(target) && target !== from ? target : null;
}

/** @type {Map<string, {site: string, bytes: Buffer}>} url path -> what is written */
const done = new Map();
const visiting = new Set();
function emit(urlPath) {
  const got = done.get(urlPath);
  if (got) return got;
  if (visiting.has(urlPath)) die(`files refer to each other in a cycle through ${urlPath}: it cannot be content-hashed`);
  visiting.add(urlPath);
  const s = sources.get(urlPath);
  let bytes = readFileSync(s.src);
  if (TEXT.has(ext(urlPath))) {
    const text = bytes.toString("utf8");
    const rewritten = text.replace(REFERENCE, (whole, quote, quoted, cssRef) => {
      const ref = quoted ?? cssRef;
      const target = resolveRef(ref, urlPath);
      if (!target) return whole;
      const t = emit(target);
      let to;
      if (ref.startsWith("/")) to = `/${t.site}`;
      else {
        to = posix.relative(posix.dirname(s.site), t.site);
        if (ref.startsWith("./") && !to.startsWith(".")) to = `./${to}`;
      }
      return quoted !== undefined ? `${quote}${to}${quote}` : `url(${to})`;
    });
    bytes = Buffer.from(rewritten, "utf8");
  }
  let site = s.site;
  if (s.hashed) {
    const hash = createHash("sha256").update(bytes).digest("hex").slice(0, 10);
    const e = posix.extname(site);
    site = `${site.slice(0, -e.length)}.${hash}${e}`;
  }
  const out = { site, bytes };
  visiting.delete(urlPath);
  done.set(urlPath, out);
  return out;
}
for (const urlPath of sources.keys()) emit(urlPath);

// healthz: what is deployed, from the hashes of everything hashed.
const build = createHash("sha256")
  .update([...done.values()].map((d) => d.site).sort().join("\n"))
  .digest("hex")
  .slice(0, 12);
const health = Buffer.from(`${JSON.stringify({ status: "ok", name: pkgJson.name, version: pkgJson.version, build })}\n`);

// ---------------------------------------------------------------------------------------
// 3. Write the site, its precompressed siblings and the plan.
// ---------------------------------------------------------------------------------------

const siteDir = join(outDir, "site");
rmSync(siteDir, { recursive: true, force: true });
const files = [];
// Every file's compression runs at once (pkg/compress.mjs: on the thread pool, cached by
// content); the plan is written when all of them are done.
const compressing = [];
function write(site, bytes, kind, hashed, contentType) {
  const path = join(siteDir, site);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  const encodings = {};
  if (compress && COMPRESSIBLE.has(ext(site))) {
    const kinds = [["br", "br"], ["gzip", "gz"]];
    compressing.push(
      Promise.all(kinds.map(([, suffix]) => compressed(bytes, suffix))).then((zs) => {
        // In this order whichever finishes first, so that the plan is the same every time.
        kinds.forEach(([enc, suffix], i) => {
          if (zs[i].length <= bytes.length * 0.95) {
            writeFileSync(`${path}.${suffix}`, zs[i]);
            encodings[enc] = `${site}.${suffix}`;
          }
        });
      }),
    );
  }
  files.push({ path: site, kind, hashed, contentType, cacheControl: headers.cacheControl[kind], size: bytes.length, encodings });
}

for (const [urlPath, s] of sources) {
  const d = done.get(urlPath);
  const type = CONTENT_TYPES[ext(urlPath)];
  if (!type) die(`no content type for ${urlPath}`);
  if (s.kind === "tile") {
    // Tiles are many and never rewritten: copy them.
    const path = join(siteDir, d.site);
    mkdirSync(dirname(path), { recursive: true });
    copyFileSync(s.src, path);
    files.push({ path: d.site, kind: s.kind, hashed: false, contentType: type, cacheControl: headers.cacheControl[s.kind], size: d.bytes.length, encodings: {} });
  } else {
    write(d.site, d.bytes, s.kind, s.hashed, type);
  }
}
write("healthz", health, "health", false, "application/json");
await Promise.all(compressing);

files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
const plan = { version: 1, name: pkgJson.name, packageVersion: pkgJson.version, build, files };
writeFileSync(join(outDir, "site.json"), `${JSON.stringify(plan, null, 1)}\n`);

const total = files.reduce((n, f) => n + f.size, 0);
const byKind = {};
for (const f of files) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
console.error(`build-site: ${files.length} files (${Object.entries(byKind).map(([k, n]) => `${n} ${k}`).join(", ")}), ${(total / 1024 / 1024).toFixed(1)} MiB, in ${relative(process.cwd(), siteDir) || "."}; plan: ${relative(process.cwd(), join(outDir, "site.json"))}; build ${build}`);
