// geodetect: the dedicated module worker that Detector.create() starts with
// `new Worker(new URL("./worker.js", import.meta.url), { type: "module" })`.
// It loads a wasm engine on the first request and serves the protocol of ./protocol.js
// through ./worker-core.js, which first checks that this browser can run the engine
// (WebAssembly SIMD), so that a browser without it gets UNSUPPORTED_BROWSER instead of the
// wasm's CompileError.
//
// Five builds of the engine (pkg/engines.mjs, pkg/build.sh); this worker loads one, so the
// browser downloads only that one:
//   wasm/                  the CPU path on one thread: the fallback everywhere, and the smallest;
//   wasm-relaxed/          the same with wasm relaxed SIMD (fused multiply-add in the
//                          convolutions): loaded instead of wasm/ when the browser
//                          validates relaxed-SIMD code;
//   wasm-webgpu/           WebGPU (burn's wgpu backend), with the CPU path as its fallback: loaded
//                          when WebGPU is asked for and the browser offers an adapter, or with
//                          `backend: "auto"` when that adapter is a hardware one;
//   wasm-threads/          the CPU path on a pool of `threads` workers sharing its memory, which
//   wasm-threads-relaxed/  needs a cross-origin-isolated page (COOP + COEP headers) and
//                          SharedArrayBuffer: loaded when both hold and more than one thread is
//                          asked for (option `threads`, default
//                          min(navigator.hardwareConcurrency, 4), the same rule as
//                          src/web/threads.rs); the relaxed one where relaxed SIMD validates. If
//                          it fails to start, the single-threaded engine runs and
//                          `info.threadsNote` says why.
import { hasRelaxedSimd } from "./protocol.js";
import { startWorker } from "./worker-core.js";

/** @typedef {import("./worker-core.js").EngineModule} EngineModule */

/**
 * The WebGPU adapter the browser offers here: "hardware", "fallback" (a software one, e.g.
 * SwiftShader) or null.
 * @returns {Promise<"hardware" | "fallback" | null>}
 */
async function adapterKind() {
  /** @type {{ requestAdapter(): Promise<any> } | undefined} */
  const gpu = /** @type {any} */ (globalThis.navigator)?.gpu;
  if (!gpu) return null;
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return null;
    return (adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false) ? "fallback" : "hardware";
  } catch {
    return null;
  }
}

/**
 * Which engine to load, and with how many threads.
 * @param {import("./types.js").EngineOptions} [options]
 * @returns {Promise<{ engine: "webgpu" | "threads" | "cpu", threads: number }>}
 */
async function choose(options) {
  const backend = options?.backend ?? "auto";
  if (backend !== "cpu") {
    const kind = await adapterKind();
    // Without an adapter, "webgpu" fails in the CPU engine with the same error, and "auto"
    // falls back to the CPU there, without downloading the WebGPU engine.
    if ((backend === "webgpu" && kind) || (backend === "auto" && kind === "hardware")) {
      return { engine: "webgpu", threads: 1 };
    }
  }
  const asked = options?.threads ?? Math.min(globalThis.navigator?.hardwareConcurrency || 1, 4);
  const possible = globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === "function";
  // Out-of-range values go to the engine, which refuses them by name (INVALID_OPTIONS).
  if (possible && Number.isInteger(asked) && asked > 1 && asked <= 64) return { engine: "threads", threads: asked };
  return { engine: "cpu", threads: 1 };
}

startWorker(async (options) => {
  const { engine, threads } = await choose(options);
  const relaxed = hasRelaxedSimd();
  if (engine === "threads") {
    try {
      const wasm = relaxed
        ? await import("./wasm-threads-relaxed/geodetect.js")
        : await import("./wasm-threads/geodetect.js");
      const exports = await wasm.default();
      await wasm.initThreadPool(threads);
      return /** @type {EngineModule} */ ({ Engine: wasm.Engine, listModels: wasm.listModels, memoryBytes: () => exports.memory.buffer.byteLength });
    } catch (e) {
      console.warn(`geodetect: the threaded engine did not start (${e}); running on one thread`);
    }
  }
  // wasm-bindgen's init() fetches its geodetect_bg.wasm via new URL(…, import.meta.url).
  const wasm =
    engine === "webgpu"
      ? await import("./wasm-webgpu/geodetect.js")
      : relaxed
        ? await import("./wasm-relaxed/geodetect.js")
        : await import("./wasm/geodetect.js");
  const exports = await wasm.default();
  return /** @type {EngineModule} */ ({ Engine: wasm.Engine, listModels: wasm.listModels, memoryBytes: () => exports.memory.buffer.byteLength });
});
