// geodetect: the dedicated module worker that Detector.create() starts with
// `new Worker(new URL("./worker.js", import.meta.url), { type: "module" })`.
// It loads the wasm engine (wasm/, built by build.sh) on the first request and serves
// the protocol of ./protocol.js through ./worker-core.js, which first checks that this
// browser can run the engine (WebAssembly SIMD), so that a browser without it gets
// UNSUPPORTED_BROWSER instead of the wasm's CompileError.
import init, { Engine, listModels } from "./wasm/geodetect.js";
import { startWorker } from "./worker-core.js";

startWorker(async () => {
  // wasm-bindgen's init() fetches ./wasm/geodetect_bg.wasm via new URL(…, import.meta.url).
  await init();
  return { Engine, listModels };
});
