// Bundle the map demo: www/app.js (+ sources.js, style.css) with MapLibre GL, terra-draw and
// pmtiles from www/node_modules into www/dist/demo/ (gitignored):
//
//   npm ci --prefix www && node www/build.mjs       (tests/setup.sh does both)
//
// writes dist/demo/app.js (ESM), dist/demo/app.css (MapLibre's stylesheet + style.css) and
// dist/demo/maplibre-gl-worker.mjs (MapLibre's module worker, which app.js points MapLibre at
// with setWorkerUrl). www/index.html loads the first two. geodetect is not bundled: app.js
// imports "/pkg/index.js" as it is served (the package finds its worker and engines next to
// its index.js, which a bundle would move). No eval, no inline code: the output runs under the
// production CSP (www/deploy/headers.json), and www/deploy/build-site.mjs hashes all three.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const www = dirname(fileURLToPath(import.meta.url));
const out = join(www, "dist/demo");
const require = createRequire(join(www, "package.json"));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  absWorkingDir: www,
  entryPoints: { app: "app.js" },
  outdir: out,
  bundle: true,
  format: "esm",
  target: ["chrome111", "firefox114", "safari16.4"],
  minify: true,
  // geodetect, as the page's origin serves it (www/serve.sh: /pkg/ is the repository's pkg/).
  external: ["/pkg/*"],
  // The CSS's data: URIs (MapLibre's control icons) stay inline; the CSP allows data: images.
  loader: { ".svg": "dataurl", ".png": "dataurl" },
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
});

// MapLibre's worker is self-contained (its package builds it with the shared code inlined).
const worker = join(dirname(require.resolve("maplibre-gl/package.json")), "dist/maplibre-gl-worker.mjs");
copyFileSync(worker, join(out, "maplibre-gl-worker.mjs"));

const sizes = Object.entries(result.metafile.outputs).map(([f, o]) => `${relative(www, join(www, f))} ${(o.bytes / 1024).toFixed(0)} KiB`);
console.error(`www/build.mjs: ${sizes.join(", ")}, dist/demo/maplibre-gl-worker.mjs`);
