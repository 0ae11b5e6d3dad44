// The classic-script build for CDNs: pkg/dist/geodetect.global.js defines `window.geodetect`
// with the ESM entry's API (index.js bundled with protocol.js by esbuild, as an IIFE).
//
//   node pkg/build-global.mjs        (pkg/build.sh runs it after the engines)
//
// `import.meta.url` does not exist in a classic script. The build replaces it with the URL
// that index.js has next to this file (`../index.js` from the script's own `src`, read from
// document.currentScript while the script runs), so the worker, the engines and the default
// model directory resolve exactly as they do from the ESM entry, on whatever origin the script
// is served from (jsDelivr, unpkg, a CloudFront domain). A worker of another origin starts
// through a same-origin blob bootstrap (index.js, startWorker).
//
// It prints the script tag with its Subresource Integrity hash (sha384), as the README shows.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const out = join(here, "dist", "geodetect.global.js");

const banner = `/*! geodetect ${pkg.version} | ${pkg.license} | classic-script build of index.js: defines window.geodetect */
(function () {
var __geodetect_module_url = (function () {
  var s = typeof document !== "undefined" ? document.currentScript : null;
  if (!s || !s.src) throw new Error("geodetect.global.js must be loaded by a <script src=...> tag (for modules: import 'geodetect')");
  return new URL("../index.js", s.src).href;
})();`;
// Only \`geodetect\` becomes a global; the URL stays inside the wrapper.
const footer = "globalThis.geodetect = geodetect;\n})();";

mkdirSync(dirname(out), { recursive: true });
const result = await build({
  entryPoints: [join(here, "index.js")],
  bundle: true,
  format: "iife",
  globalName: "geodetect",
  platform: "browser",
  target: ["chrome113", "firefox141", "safari26"],
  define: { "import.meta.url": "__geodetect_module_url" },
  banner: { js: banner },
  footer: { js: footer },
  legalComments: "inline",
  minify: true,
  write: false,
  logLevel: "warning",
});
const [file] = result.outputFiles;
// Byte-for-byte the same for the same sources: the README's integrity hash stays true.
writeFileSync(out, file.contents);

const integrity = `sha384-${createHash("sha384").update(file.contents).digest("base64")}`;
writeFileSync(`${out}.sri`, `${integrity}\n`);
console.error(`pkg/build-global.mjs: dist/geodetect.global.js (${file.contents.length} bytes)`);
console.error(`  <script src="https://cdn.jsdelivr.net/npm/geodetect@${pkg.version}/dist/geodetect.global.js"`);
console.error(`          integrity="${integrity}" crossorigin="anonymous"></script>`);
