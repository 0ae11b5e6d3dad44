// geodetect: the worker half of the main <-> worker protocol (see index.js for the wire
// format). `startWorker(load)` serves requests with whatever engine module `load()`
// returns: ./worker.js passes the wasm build. Requests run one at a time, in order.

/** Version of the main <-> worker message protocol; index.js has the same number. */
export const PROTOCOL = 1;

/**
 * @typedef {object} EngineModule
 * @property {{ create(options: object, onProgress?: (p: object) => void): Promise<any> }} Engine
 * @property {(modelBaseUrl: string) => Promise<object[]>} listModels
 */

/**
 * Serve the geodetect protocol on `scope` (a DedicatedWorkerGlobalScope).
 * @param {() => Promise<EngineModule>} load loads the engine module once, on first use
 * @param {{ postMessage(msg: unknown): void, addEventListener(type: string, fn: (ev: any) => void): void, close?: () => void }} [scope]
 *   a DedicatedWorkerGlobalScope (default: the current one)
 */
export function startWorker(load, scope = globalThis) {
  /** @type {Promise<EngineModule> | null} */
  let modulePromise = null;
  let engine = null;
  /** Set after a wasm trap (Rust panic): the instance must not be used again. */
  let crashed = null;
  let queue = Promise.resolve();
  /** @type {Map<number, AbortController>} */
  const controllers = new Map();

  const post = (msg) => scope.postMessage(msg);

  function engineModule() {
    modulePromise ??= Promise.resolve().then(load);
    return modulePromise;
  }

  function toWire(e) {
    if (typeof WebAssembly !== "undefined" && e instanceof WebAssembly.RuntimeError) {
      crashed = `the wasm engine crashed (${e.message}); create a new Detector`;
      return { code: "INTERNAL", message: crashed };
    }
    if (e !== null && typeof e === "object") {
      let code = typeof e.code === "string" && e.code ? e.code : "INTERNAL";
      if (code === "INTERNAL" && e.name === "AbortError") code = "ABORTED";
      const message = typeof e.message === "string" && e.message ? e.message : String(e);
      return { code, message };
    }
    return { code: "INTERNAL", message: String(e) };
  }

  function needEngine() {
    if (!engine) throw { code: "INTERNAL", message: "the engine is not initialised (send init first)" };
    return engine;
  }

  /** Run `task(signal, onProgress)` after everything queued before it; answer `id`. */
  function enqueue(id, task) {
    const controller = new AbortController();
    controllers.set(id, controller);
    const onProgress = (progress) => post({ type: "progress", id, progress });
    const run = async () => {
      try {
        let result;
        try {
          if (controller.signal.aborted) throw { code: "ABORTED", message: "the operation was aborted" };
          if (crashed) throw { code: "INTERNAL", message: crashed };
          result = await task(controller.signal, onProgress);
        } catch (e) {
          post({ type: "error", id, error: toWire(e) });
          return;
        }
        try {
          post({ type: "result", id, result });
        } catch (e) {
          post({ type: "error", id, error: { code: "INTERNAL", message: `the result could not be sent to the main thread: ${e?.message ?? e}` } });
        }
      } catch (e) {
        // Even posting the error failed; nothing sensible left to do but log.
        console.error("geodetect worker:", e);
      } finally {
        controllers.delete(id);
      }
    };
    queue = queue.then(run, run);
  }

  scope.addEventListener("message", (ev) => {
    const msg = ev.data;
    if (msg === null || typeof msg !== "object") return;
    const { type, id, payload } = msg;
    switch (type) {
      case "abort":
        controllers.get(id)?.abort();
        return;
      case "dispose":
        try {
          engine?.free?.();
        } finally {
          engine = null;
          scope.close?.();
        }
        return;
      case "init":
        enqueue(id, async (_signal, onProgress) => {
          if (payload?.protocol !== PROTOCOL) {
            throw { code: "WORKER_FAILED", message: `the client speaks protocol ${payload?.protocol}, this worker ${PROTOCOL}` };
          }
          if (engine) throw { code: "INTERNAL", message: "the engine is already initialised" };
          const mod = await engineModule();
          engine = await mod.Engine.create(payload.options, onProgress);
          return { protocol: PROTOCOL, backend: engine.backend, info: engine.info };
        });
        return;
      case "detect":
        enqueue(id, (signal, onProgress) => needEngine().detect(payload.aoi, payload.options, signal, onProgress));
        return;
      case "preload":
        enqueue(id, async () => {
          await needEngine().preload(payload.ids);
          return null;
        });
        return;
      case "models":
        enqueue(id, async () => (await engineModule()).listModels(payload.modelBaseUrl));
        return;
      default:
        if (id !== undefined) post({ type: "error", id, error: { code: "INTERNAL", message: `unknown request type ${JSON.stringify(type)}` } });
    }
  });

  scope.addEventListener("messageerror", () => {
    post({ type: "fatal", error: { code: "WORKER_FAILED", message: "a request could not be deserialized in the worker" } });
  });
}
