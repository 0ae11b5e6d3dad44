// geodetect: one worker and its pending requests (the main-thread half of ./protocol.js).
// ./pool.js keeps several of these; Detector (./index.js) talks to the engine only through
// the pool.
import { MSG, GeodetectError, describe, errorFromWire, unsupportedBrowser } from "./protocol.js";

/** @typedef {import("./protocol.js").RequestType} RequestType */
/** @typedef {import("./protocol.js").Requests} Requests */
/** @typedef {import("./protocol.js").ErrorCode} ErrorCode */
/** @typedef {import("./protocol.js").DetectionBatch} DetectionBatch */
/** @typedef {import("./types.js").Progress} Progress */

/** @param {string} message */
function invalid(message) {
  return new GeodetectError("INVALID_OPTIONS", message);
}

/** @param {AbortSignal | undefined} signal */
export function abortError(signal) {
  return new GeodetectError("ABORTED", "the operation was aborted", { cause: signal?.reason });
}


/**
 * Call a caller's callback; an exception in it is the caller's bug: report it (as an
 * uncaught error) without breaking geodetect's own flow.
 * @template {unknown[]} A
 * @param {(...args: A) => void} fn
 * @param {A} args
 */
export function callSafely(fn, ...args) {
  try {
    fn(...args);
  } catch (e) {
    if (typeof globalThis.reportError === "function") globalThis.reportError(e);
    else setTimeout(() => { throw e; });
  }
}


/** @returns {string | undefined} */
export function baseUrl() {
  return globalThis.document?.baseURI ?? globalThis.location?.href;
}

/**
 * Resolve a URL given by the caller against the page, not against the worker script
 * (a relative URL inside the worker would resolve against ./worker.js).
 * @param {string | URL} url
 * @param {string} what the option, for the error message
 * @returns {string}
 */
export function resolveUrl(url, what) {
  try {
    return new URL(url instanceof URL ? url.href : String(url), baseUrl()).href;
  } catch {
    throw invalid(`\`${what}\` is not a valid URL: ${String(url)}`);
  }
}


/**
 * A request waiting for its answer.
 * @typedef {object} Pending
 * @property {(result: unknown) => void} resolve
 * @property {(error: GeodetectError) => void} reject
 * @property {((p: Progress) => void) | undefined} onProgress
 * @property {((batch: DetectionBatch, p: Progress) => void) | undefined} [onDetections]
 * @property {() => void} cleanup
 */

/**
 * @param {string} url
 * @returns {boolean} whether `url` has the page's origin (true outside a page or worker)
 */
export function isSameOrigin(url) {
  const origin = globalThis.location?.origin;
  return origin === undefined || new URL(url).origin === origin;
}

/**
 * Start the module worker at `url` (absolute). Browsers refuse `new Worker()` for a script of
 * another origin, as with the package on jsDelivr, unpkg or a CloudFront domain of its own;
 * such a worker starts from a same-origin blob module that imports the real one. Module
 * scripts are fetched with CORS, so that host must send `Access-Control-Allow-Origin` (the
 * public CDNs and www/deploy's configs do), and a page with a CSP needs `worker-src blob:`.
 * Inside, `import.meta.url` is the real worker's URL, so the engines and their wasm still
 * load from that host.
 * @param {string} url
 * @returns {Worker}
 */
function startWorker(url) {
  if (isSameOrigin(url)) return new Worker(url, { type: "module" });
  const bootstrap = URL.createObjectURL(new Blob([`import ${JSON.stringify(url)};\n`], { type: "text/javascript" }));
  const worker = new Worker(bootstrap, { type: "module" });
  const revoke = () => URL.revokeObjectURL(bootstrap);
  worker.addEventListener("message", revoke, { once: true });
  worker.addEventListener("error", revoke, { once: true });
  return worker;
}

/**
 * One worker and its pending requests. Once it fails (the worker could not start, threw,
 * died, crashed, or was terminated) every pending and later request rejects with the
 * failure's code, and `onFailure` is told once.
 */
export class WorkerClient {
  /** @type {Worker} */
  #worker;
  /** @type {Map<number, Pending>} */
  #pending = new Map();
  #nextId = 1;
  /** @type {GeodetectError | null} set once the worker is unusable (failed or disposed) */
  #failure = null;

  /** @type {((error: GeodetectError) => void) | undefined} */
  #onFailure;

  /**
   * @param {string | URL | undefined} workerUrl
   * @param {(error: GeodetectError) => void} [onFailure] called once when the worker fails
   */
  constructor(workerUrl, onFailure) {
    this.#onFailure = onFailure;
    // Before any worker exists: a browser without wasm SIMD would only fail inside it.
    const unsupported = unsupportedBrowser({ workers: true });
    if (unsupported) throw unsupported;
    try {
      // Keep this expression literal: bundlers (Vite, webpack 5, Parcel) recognise
      // `new Worker(new URL("./worker.js", import.meta.url), { type: "module" })`
      // and emit the worker and the wasm it imports.
      // From another origin (a CDN), the worker starts through a same-origin bootstrap.
      const file = "./worker.js";
      this.#worker = workerUrl !== undefined
        ? startWorker(resolveUrl(workerUrl, "workerUrl"))
        : isSameOrigin(import.meta.url)
          ? new Worker(new URL("./worker.js", import.meta.url), { type: "module" })
          : startWorker(new URL(file, import.meta.url).href);
    } catch (e) {
      if (e instanceof GeodetectError) throw e;
      throw new GeodetectError("WORKER_FAILED", `could not start the geodetect worker: ${describe(e)}`, { cause: e });
    }
    this.#worker.addEventListener("message", (ev) => this.#onMessage(ev.data));
    this.#worker.addEventListener("error", (ev) => {
      ev.preventDefault?.();
      const detail = ev.message ? `: ${ev.message}${ev.filename ? ` (${ev.filename}:${ev.lineno})` : ""}` : " (the worker script or one of its imports, e.g. wasm/geodetect.js, could not be loaded, or it threw an uncaught error)";
      this.#fail("WORKER_FAILED", `the geodetect worker failed${detail}`);
    });
    this.#worker.addEventListener("messageerror", () => {
      this.#fail("WORKER_FAILED", "a message from the geodetect worker could not be deserialized");
    });
  }

  get failed() {
    return this.#failure !== null;
  }

  /** Requests sent and not yet answered. */
  get pending() {
    return this.#pending.size;
  }

  /**
   * Send a request and wait for its result.
   * @template {RequestType} T
   * @param {T} type
   * @param {Requests[T]["payload"]} payload
   * @param {{ signal?: AbortSignal, onProgress?: (p: Progress) => void, onDetections?: (batch: DetectionBatch, p: Progress) => void }} [opts]
   * @returns {Promise<Requests[T]["result"]>}
   */
  request(type, payload, { signal, onProgress, onDetections } = {}) {
    if (this.#failure) return Promise.reject(new GeodetectError(this.#failure.code, this.#failure.message));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      /** @type {Pending} */
      const entry = {
        // The worker answers request `id` with the result of a `type` request.
        resolve: /** @type {(result: unknown) => void} */ (resolve),
        reject,
        onProgress,
        onDetections,
        cleanup: () => {},
      };
      if (signal) {
        const onAbort = () => {
          if (this.#pending.get(id) !== entry) return;
          this.#pending.delete(id);
          entry.cleanup();
          reject(abortError(signal));
          this.post({ type: MSG.ABORT, id });
        };
        signal.addEventListener("abort", onAbort, { once: true });
        entry.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
      this.#pending.set(id, entry);
      try {
        /** @type {import("./protocol.js").Request<T>} */
        const msg = { type, id, payload };
        this.#worker.postMessage(msg);
      } catch (e) {
        this.#pending.delete(id);
        entry.cleanup();
        reject(new GeodetectError("INVALID_OPTIONS", `the ${type} request could not be sent to the worker (not structured-cloneable?): ${describe(e)}`, { cause: e }));
      }
    });
  }

  /**
   * Terminate the worker and reject everything pending with `code`. Idempotent.
   * @param {ErrorCode} [code]
   * @param {string} [message]
   */
  terminate(code = "DISPOSED", message = "the detector was disposed") {
    this.#fail(code, message);
  }

  /**
   * Post a control message (never answered); dropped once the worker has failed.
   * @param {import("./protocol.js").AbortControl | import("./protocol.js").DropRunControl | import("./protocol.js").DisposeControl} msg
   */
  post(msg) {
    if (this.#failure) return;
    try {
      this.#worker.postMessage(msg);
    } catch {
      // The worker is going away; nothing to tell it.
    }
  }

  /** @param {unknown} data */
  #onMessage(data) {
    if (data === null || typeof data !== "object" || !("type" in data)) return;
    // From our own worker (errors are still re-checked: errorFromWire trusts nothing).
    const msg = /** @type {import("./protocol.js").FromWorker} */ (data);
    if (msg.type === MSG.FATAL) {
      const err = errorFromWire(msg.error);
      if (err.code === "WORKER_CRASHED") this.#fail("WORKER_CRASHED", err.message);
      else this.#fail("WORKER_FAILED", `the geodetect worker failed: ${err.message}`);
      return;
    }
    const entry = this.#pending.get(msg.id);
    if (!entry) return; // aborted or unknown: a late answer, dropped
    switch (msg.type) {
      case MSG.PROGRESS:
        if (entry.onProgress) callSafely(entry.onProgress, msg.progress);
        break;
      case MSG.DETECTIONS:
        if (entry.onDetections) callSafely(entry.onDetections, msg.batch, msg.progress);
        break;
      case MSG.RESULT:
        this.#pending.delete(msg.id);
        entry.cleanup();
        entry.resolve(msg.result);
        break;
      case MSG.ERROR: {
        this.#pending.delete(msg.id);
        entry.cleanup();
        const error = errorFromWire(msg.error);
        entry.reject(error);
        // The engine trapped: this worker must not take another request (its "fatal"
        // follows, but a retry could be handed to it before that arrives).
        if (error.code === "WORKER_CRASHED") this.#fail(error.code, error.message);
        break;
      }
      default:
        break;
    }
  }

  /**
   * @param {ErrorCode} code
   * @param {string} message
   */
  #fail(code, message) {
    if (this.#failure) return;
    this.#failure = new GeodetectError(code, message);
    try {
      this.#worker.terminate();
    } catch {
      // already gone
    }
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of pending) {
      entry.cleanup();
      entry.reject(new GeodetectError(code, message));
    }
    if (this.#onFailure) callSafely(this.#onFailure, this.#failure);
  }
}

