// geodetect: the worker half of the main <-> worker protocol (./protocol.js defines the
// messages). `startWorker(load)` serves requests with whatever engine module `load()`
// returns: ./worker.js passes the wasm build. Queued requests run one at a time, in order.
// After a wasm trap the engine is never used again: the request gets WORKER_CRASHED and the
// client a "fatal" message, on which it replaces the worker.
import { MSG, PROTOCOL, GeodetectError, describe, errorToWire, unsupportedBrowser } from "./protocol.js";

/** @typedef {import("./protocol.js").RequestType} RequestType */
/** @typedef {import("./protocol.js").Requests} Requests */
/** @typedef {import("./protocol.js").ToWorker} ToWorker */
/** @typedef {import("./protocol.js").FromWorker} FromWorker */
/** @typedef {import("./protocol.js").WireError} WireError */
/** @typedef {import("./types.js").EngineOptions} EngineOptions */
/** @typedef {import("./types.js").DetectOptions} DetectOptions */
/** @typedef {import("./types.js").DetectResult} DetectResult */
/** @typedef {import("./types.js").EngineInfo} EngineInfo */
/** @typedef {import("./types.js").ModelEntry} ModelEntry */
/** @typedef {import("./types.js").Progress} Progress */

/**
 * A loaded model, as the engine module's `Engine.create` resolves to it.
 * @typedef {object} Engine
 * @property {EngineInfo} info backend, adapter and model
 * @property {(aoi: unknown, options: DetectOptions, signal: AbortSignal, onProgress: (p: Progress) => void, onDetections: (batch: import("./protocol.js").DetectionBatch, p: Progress) => void) => Promise<import("./types.js").FinishedRun>} detect
 * @property {(ids: string[]) => Promise<unknown>} preload
 * @property {() => Promise<import("./types.js").WorkerHealth>} health the self-test and vital signs
 * @property {(run: number, aoi: unknown, options: DetectOptions) => Promise<import("./types.js").RunPlan>} startRun (for a COG source, opens the COG first)
 * @property {(run: number, aoi: unknown, options: DetectOptions, chunk: number, next: number | undefined, signal: AbortSignal, onProgress: (p: Progress) => void) => Promise<import("./types.js").ChunkOutput>} runChunk
 * @property {(run: number, output: import("./types.js").ChunkOutput) => import("./types.js").MergeUpdate | Promise<import("./types.js").MergeUpdate>} mergeChunk
 * @property {(run: number, failure: import("./types.js").ChunkFailure) => import("./types.js").MergeUpdate} failChunk
 * @property {(run: number, totalMs: number) => import("./types.js").FinishedRun} finishRun
 * @property {(run: number) => void} dropRun
 * @property {() => void} [free] releases the wasm memory
 */

/**
 * What `load()` returns: the exports of the wasm build (or of a test fake).
 * @typedef {object} EngineModule
 * @property {{ create(options: EngineOptions, onProgress: (p: Progress) => void): Promise<Engine> }} Engine
 * @property {(modelBaseUrl: string) => Promise<ModelEntry[]>} listModels
 * @property {() => number} [memoryBytes] the size of the wasm memory now
 */

/**
 * The parts of a DedicatedWorkerGlobalScope that the protocol uses.
 * @typedef {object} WorkerScope
 * @property {(msg: FromWorker) => void} postMessage
 * @property {(type: "message" | "messageerror" | "error", listener: (ev: MessageEvent) => void) => void} addEventListener
 * @property {() => void} [close]
 */

/** Set by the engine's panic hook (src/web/mod.rs) to the last panic's message. */
const PANIC_KEY = "__geodetectPanic";

/**
 * What a wasm trap means, as far as the engine lets us know: a Rust panic records its message
 * first (and is a bug); a trap with none before it is, in practice, an allocation that failed
 * (Rust aborts when the memory cannot grow: the browser's limit, or the device's).
 * @param {WebAssembly.RuntimeError} e
 * @param {number | undefined} memoryBytes
 */
function crashDescription(e, memoryBytes) {
  const panic = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (globalThis))[PANIC_KEY];
  const memory = memoryBytes ? ` at ${(memoryBytes / 2 ** 20).toFixed(1)} MiB of wasm memory` : "";
  if (typeof panic === "string") return `the wasm engine crashed (${e.message})${memory} after a panic: ${panic}`;
  return `the wasm engine crashed (${e.message})${memory} with no panic before it: most likely it ran out of memory (the browser let its memory grow no further)`;
}

/**
 * Serve the geodetect protocol on `scope` (a DedicatedWorkerGlobalScope).
 * @param {(options?: EngineOptions) => Promise<EngineModule>} load loads the engine module
 *   once, on first use (after checking that this browser can run it: UNSUPPORTED_BROWSER
 *   otherwise), given the options of `init` when that is the first request (they choose the
 *   single- or multi-threaded engine); a worker serves one Detector, whose `init` comes first
 * @param {WorkerScope} [scope] a DedicatedWorkerGlobalScope (default: the current one)
 */
export function startWorker(load, scope = globalThis) {
  /** @type {Promise<EngineModule> | null} */
  let modulePromise = null;
  /** @type {EngineModule | null} the module, once loaded */
  let loaded = null;
  /** @type {Engine | null} */
  let engine = null;
  /** @type {string | null} set after a wasm trap (Rust panic): the instance must not be used again */
  let crashed = null;
  /** @type {Promise<void>} */
  let queue = Promise.resolve();
  /** @type {Map<number, AbortController>} */
  const controllers = new Map();

  /** @param {FromWorker} msg */
  const post = (msg) => scope.postMessage(msg);

  /** @param {EngineOptions} [options] */
  function engineModule(options) {
    modulePromise ??= Promise.resolve().then(() => {
      // Before the wasm is compiled: without SIMD it would fail with an opaque CompileError.
      const unsupported = unsupportedBrowser();
      if (unsupported) throw unsupported;
      return load(options).then((mod) => (loaded = mod));
    });
    return modulePromise;
  }

  /**
   * @param {unknown} e
   * @returns {WireError}
   */
  function toWire(e) {
    if (isTrap(e)) {
      if (!crashed) {
        crashed = crashDescription(e, memoryBytes());
        // After this request's answer: the client replaces this worker.
        queueMicrotask(() => post({ type: MSG.FATAL, error: { code: "WORKER_CRASHED", message: crashed ?? "" } }));
      }
      return { code: "WORKER_CRASHED", message: crashed };
    }
    return errorToWire(e);
  }

  /**
   * @param {unknown} e
   * @returns {e is WebAssembly.RuntimeError}
   */
  function isTrap(e) {
    return typeof WebAssembly !== "undefined" && e instanceof WebAssembly.RuntimeError;
  }

  function memoryBytes() {
    try {
      return loaded?.memoryBytes?.();
    } catch {
      return undefined;
    }
  }

  function needEngine() {
    if (!engine) throw new GeodetectError("INTERNAL", "the engine is not initialised (send init first)");
    return engine;
  }

  /**
   * Run `task(signal, onProgress)` after everything queued before it; answer request `id`.
   * @template {RequestType} T
   * @param {T} _type the request's type (types the result)
   * @param {number} id
   * @param {(signal: AbortSignal, onProgress: (p: Progress) => void) => Promise<Requests[T]["result"]>} task
   */
  function enqueue(_type, id, task) {
    const controller = new AbortController();
    controllers.set(id, controller);
    /** @param {Progress} progress */
    const onProgress = (progress) => post({ type: MSG.PROGRESS, id, progress });
    const run = async () => {
      try {
        /** @type {Requests[T]["result"]} */
        let result;
        try {
          if (controller.signal.aborted) throw new GeodetectError("ABORTED", "the operation was aborted");
          if (crashed) throw new GeodetectError("WORKER_CRASHED", crashed);
          result = await task(controller.signal, onProgress);
        } catch (e) {
          post({ type: MSG.ERROR, id, error: toWire(e) });
          return;
        }
        try {
          /** @type {import("./protocol.js").ResultReply<T>} */
          const reply = { type: MSG.RESULT, id, result };
          post(reply);
        } catch (e) {
          post({ type: MSG.ERROR, id, error: { code: "INTERNAL", message: `the result could not be sent to the main thread: ${describe(e)}` } });
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

  /**
   * Answer request `id` with `task()` at once, beside whatever the queue is running.
   * @param {number} id
   * @param {() => unknown} task
   */
  function now(id, task) {
    Promise.resolve()
      .then(() => {
        if (crashed) throw new GeodetectError("WORKER_CRASHED", crashed);
        return task();
      })
      .then(
        (result) => post(/** @type {FromWorker} */ ({ type: MSG.RESULT, id, result })),
        (e) => post({ type: MSG.ERROR, id, error: toWire(e) }),
      );
  }

  scope.addEventListener("message", (ev) => {
    /** @type {unknown} */
    const data = ev.data;
    if (data === null || typeof data !== "object" || !("type" in data)) return;
    // From our own client; a client of another version is caught by the protocol check.
    const msg = /** @type {ToWorker} */ (data);
    switch (msg.type) {
      case MSG.ABORT:
        controllers.get(msg.id)?.abort();
        return;
      case MSG.DISPOSE:
        try {
          engine?.free?.();
        } finally {
          engine = null;
          scope.close?.();
        }
        return;
      case MSG.INIT:
        enqueue(MSG.INIT, msg.id, async (_signal, onProgress) => {
          const protocol = msg.payload?.protocol;
          if (protocol !== PROTOCOL) {
            throw new GeodetectError("WORKER_FAILED", `the client speaks protocol ${protocol}, this worker ${PROTOCOL}`);
          }
          if (engine) throw new GeodetectError("INTERNAL", "the engine is already initialised");
          const mod = await engineModule(msg.payload.options);
          engine = await mod.Engine.create(msg.payload.options, onProgress);
          const { info } = engine;
          return { protocol: PROTOCOL, backend: info.backend, info };
        });
        return;
      case MSG.DETECT:
        enqueue(MSG.DETECT, msg.id, (signal, onProgress) => {
          /** @type {(batch: import("./protocol.js").DetectionBatch, progress: Progress) => void} */
          const onDetections = (batch, progress) => post({ type: MSG.DETECTIONS, id: msg.id, batch, progress });
          return needEngine().detect(msg.payload.aoi, msg.payload.options, signal, onProgress, onDetections);
        });
        return;
      case MSG.PRELOAD:
        enqueue(MSG.PRELOAD, msg.id, async () => {
          await needEngine().preload(msg.payload.ids);
          return null;
        });
        return;
      case MSG.RUN_CHUNK: {
        const { run, aoi, options, chunk, next } = msg.payload;
        enqueue(MSG.RUN_CHUNK, msg.id, (signal, onProgress) => needEngine().runChunk(run, aoi, options, chunk, next, signal, onProgress));
        return;
      }
      // Not queued: a health check answers while a long detect() runs (the self-test
      // interleaves with it at its await points), and a pool's merge keeps up with the chunks
      // that other workers finish while this one runs its own.
      case MSG.HEALTH:
        now(msg.id, () => needEngine().health());
        return;
      case MSG.START_RUN: {
        const { run, aoi, options } = msg.payload;
        now(msg.id, () => needEngine().startRun(run, aoi, options));
        return;
      }
      case MSG.MERGE_CHUNK:
        now(msg.id, () => needEngine().mergeChunk(msg.payload.run, msg.payload.output));
        return;
      case MSG.FAIL_CHUNK:
        now(msg.id, () => needEngine().failChunk(msg.payload.run, msg.payload.failure));
        return;
      case MSG.FINISH_RUN:
        now(msg.id, () => needEngine().finishRun(msg.payload.run, msg.payload.totalMs));
        return;
      case MSG.DROP_RUN:
        try {
          engine?.dropRun(msg.run);
        } catch (e) {
          console.error("geodetect worker: dropRun:", e);
        }
        return;
      case MSG.MODELS:
        enqueue(MSG.MODELS, msg.id, async () => (await engineModule()).listModels(msg.payload.modelBaseUrl));
        return;
      default: {
        const { type, id } = /** @type {{ type?: unknown, id?: unknown }} */ (data);
        if (typeof id === "number") post({ type: MSG.ERROR, id, error: { code: "INTERNAL", message: `unknown request type ${JSON.stringify(type)}` } });
      }
    }
  });

  // A trap outside any request's promise chain (inside one of the engine's own futures, where
  // a failed allocation aborts): the engine is dead. Described like any other trap, instead of
  // reaching the page as an anonymous uncaught error.
  scope.addEventListener?.("error", (ev) => {
    const event = /** @type {ErrorEvent} */ (/** @type {unknown} */ (ev));
    if (!isTrap(event.error)) return;
    event.preventDefault?.();
    if (crashed) return;
    crashed = crashDescription(event.error, memoryBytes());
    post({ type: MSG.FATAL, error: { code: "WORKER_CRASHED", message: crashed } });
  });

  scope.addEventListener("messageerror", () => {
    post({ type: MSG.FATAL, error: { code: "WORKER_FAILED", message: "a request could not be deserialized in the worker" } });
  });
}
