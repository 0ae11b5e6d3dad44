// The wasm engines of the package: the one list that pkg/build.sh, pkg/prepack.mjs,
// pkg/sizes.mjs, the site builder (www/deploy/build-site.mjs) and the tests read. pkg/worker.js
// picks one at run time with literal `import("./<dir>/geodetect.js")` calls (bundlers must see
// them), and a test checks that it names every dir here and no other; package.json's "files"
// is checked against this list the same way.
//
// Run as a script, it prints one line per engine for pkg/build.sh:
//   <name> <dir> <toolchain: stable | nightly> <cargo features, comma-separated or ->

import { pathToFileURL } from "node:url";

/**
 * @typedef {object} EngineBuild
 * @property {string} name what GEODETECT_ENGINES calls it
 * @property {string} dir its folder under pkg/
 * @property {string[]} features the geodetect cargo features it is built with
 * @property {boolean} threads wasm threads (a pinned nightly with -Z build-std, shared memory)
 * @property {boolean} relaxedSimd wasm relaxed SIMD: only browsers that validate it can load it
 * @property {string} what when pkg/worker.js loads it
 */

/** @type {EngineBuild[]} */
export const ENGINES = [
  {
    name: "cpu",
    dir: "wasm",
    features: [],
    threads: false,
    relaxedSimd: false,
    what: "the CPU path on one thread, SIMD128 only: every browser with wasm SIMD",
  },
  {
    name: "cpu-relaxed",
    dir: "wasm-relaxed",
    features: ["relaxed-simd"],
    threads: false,
    relaxedSimd: true,
    what: "the CPU path on one thread with relaxed-SIMD multiply-add: browsers that have it",
  },
  {
    name: "threads",
    dir: "wasm-threads",
    features: ["threads"],
    threads: true,
    relaxedSimd: false,
    what: "the CPU path on a pool of workers, SIMD128 only: cross-origin-isolated pages",
  },
  {
    name: "threads-relaxed",
    dir: "wasm-threads-relaxed",
    features: ["threads", "relaxed-simd"],
    threads: true,
    relaxedSimd: true,
    what: "the CPU path on a pool of workers with relaxed-SIMD multiply-add",
  },
  {
    name: "webgpu",
    dir: "wasm-webgpu",
    features: ["webgpu"],
    threads: false,
    relaxedSimd: false,
    what: "WebGPU (burn's wgpu backend), the CPU path as its fallback: a WebGPU adapter",
  },
];

/**
 * Files of an engine's folder that the package ships (snippets/ only for threaded ones).
 * @param {EngineBuild} engine
 */
export function packageFiles(engine) {
  const files = ["geodetect.js", "geodetect.d.ts", "geodetect_bg.wasm", "geodetect_bg.wasm.d.ts"];
  if (engine.threads) files.push("snippets/");
  return files.map((f) => `${engine.dir}/${f}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const e of ENGINES) {
    console.log(`${e.name} ${e.dir} ${e.threads ? "nightly" : "stable"} ${e.features.join(",") || "-"}`);
  }
}
