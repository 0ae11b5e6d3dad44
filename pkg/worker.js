// geodetect: the dedicated module worker that Detector.create() starts with
// `new Worker(new URL("./worker.js", import.meta.url), { type: "module" })`.
// It loads a wasm engine on the first request and serves the protocol of ./protocol.js
// through ./worker-core.js, which first checks that this browser can run the engine
// (WebAssembly SIMD), so that a browser without it gets UNSUPPORTED_BROWSER instead of the
// wasm's CompileError.
//
// Two builds of the engine (pkg/build.sh): wasm/ runs on one thread; wasm-threads/ runs the
// CPU path on a pool of `threads` workers sharing its memory, which needs a
// cross-origin-isolated page (COOP + COEP headers) and SharedArrayBuffer. The threaded one
// loads when both hold and more than one thread is asked for (option `threads`, default
// min(navigator.hardwareConcurrency, 4), the same rule as src/web/threads.rs); otherwise,
// or if it fails to start, the single-threaded one, and `info.threadsNote` says why.
import { startWorker } from "./worker-core.js";

/** @typedef {import("./worker-core.js").EngineModule} EngineModule */

/**
 * Whether the browser offers a hardware WebGPU adapter here (what `backend: "auto"` takes).
 * @returns {Promise<boolean>}
 */
async function hardwareAdapter() {
  /** @type {{ requestAdapter(): Promise<any> } | undefined} */
  const gpu = /** @type {any} */ (globalThis.navigator)?.gpu;
  if (!gpu) return false;
  try {
    const adapter = await gpu.requestAdapter();
    return Boolean(adapter) && !(adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false);
  } catch {
    return false;
  }
}

/**
 * Threads to start the threaded engine with, or 1 for the single-threaded engine. The
 * threaded engine is CPU only (wgpu does not build with wasm atomics), so WebGPU, asked for
 * or taken by "auto" on a hardware adapter, keeps the single-threaded one.
 * @param {import("./types.js").EngineOptions} [options]
 */
async function threadsFor(options) {
  const asked = options?.threads ?? Math.min(globalThis.navigator?.hardwareConcurrency || 1, 4);
  const possible = globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === "function";
  // Out-of-range values go to the engine, which refuses them by name (INVALID_OPTIONS).
  if (!possible || !Number.isInteger(asked) || asked <= 1 || asked > 64) return 1;
  const backend = options?.backend ?? "auto";
  if (backend === "webgpu" || (backend === "auto" && (await hardwareAdapter()))) return 1;
  return asked;
}

startWorker(async (options) => {
  const threads = await threadsFor(options);
  if (threads > 1) {
    try {
      const wasm = await import("./wasm-threads/geodetect.js");
      await wasm.default();
      await wasm.initThreadPool(threads);
      return /** @type {EngineModule} */ ({ Engine: wasm.Engine, listModels: wasm.listModels });
    } catch (e) {
      console.warn(`geodetect: the threaded engine did not start (${e}); running on one thread`);
    }
  }
  // wasm-bindgen's init() fetches ./wasm/geodetect_bg.wasm via new URL(…, import.meta.url).
  const wasm = await import("./wasm/geodetect.js");
  await wasm.default();
  return /** @type {EngineModule} */ ({ Engine: wasm.Engine, listModels: wasm.listModels });
});
