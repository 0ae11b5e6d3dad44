// geodetect: main-thread client.
//
// Everything heavy (tile fetching, decoding, the burn/wasm network, WebGPU) happens in a
// dedicated module worker (./worker.js). This module only validates options, posts
// messages and turns the worker's answers back into promises.
//
// Wire protocol (structured clone, one worker per Detector):
//   main -> worker  { type: "init" | "detect" | "preload" | "models", id, payload }
//                   { type: "abort", id }          abort request `id` (no answer)
//                   { type: "dispose" }            free the engine, close the worker
//   worker -> main  { type: "progress", id, progress }
//                   { type: "result", id, result }
//                   { type: "error", id, error: { code, message } }
//                   { type: "fatal", error: { code, message } }   the worker is unusable
// Answers for ids that are no longer pending (aborted, disposed) are dropped.

/** Version of the main <-> worker message protocol; ./worker-core.js has the same number. */
const PROTOCOL = 1;

/** Error codes that the wasm engine and this client produce. */
const ERROR_CODES = new Set([
  "INVALID_POLYGON",
  "ZOOM_OUT_OF_RANGE",
  "TOO_MANY_TILES",
  "INVALID_OPTIONS",
  "TILE_FETCH_FAILED",
  "IMAGE_DECODE_FAILED",
  "MODEL_LOAD_FAILED",
  "MODEL_INTEGRITY",
  "UNKNOWN_MODEL",
  "BACKEND_UNAVAILABLE",
  "INFERENCE_FAILED",
  "ABORTED",
  "INTERNAL",
  "WORKER_FAILED",
  "DISPOSED",
]);

const BACKENDS = new Set(["auto", "webgpu", "cpu"]);

/** Every error geodetect rejects with. Branch on `code`, not on `message`. */
export class GeodetectError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{ cause?: unknown }} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = "GeodetectError";
    this.code = code;
  }
}

function abortError(signal) {
  return new GeodetectError("ABORTED", "the operation was aborted", { cause: signal?.reason });
}

function invalid(message) {
  return new GeodetectError("INVALID_OPTIONS", message);
}

/** Re-create an error that crossed postMessage as `{ code, message }`. */
function fromWire(error) {
  const code = typeof error?.code === "string" && ERROR_CODES.has(error.code) ? error.code : "INTERNAL";
  const message = typeof error?.message === "string" && error.message ? error.message : `geodetect error ${code}`;
  return new GeodetectError(code, message);
}

/** Call a user callback without letting its exceptions break the client. */
function callSafely(fn, value) {
  try {
    fn(value);
  } catch (e) {
    if (typeof globalThis.reportError === "function") globalThis.reportError(e);
    else setTimeout(() => { throw e; });
  }
}

function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function isSignal(v) {
  return v !== null && typeof v === "object" && typeof v.aborted === "boolean" && typeof v.addEventListener === "function";
}

function baseUrl() {
  return globalThis.document?.baseURI ?? globalThis.location?.href;
}

/**
 * Resolve a URL given by the caller against the page, not against the worker script
 * (a relative URL inside the worker would resolve against ./worker.js).
 */
function resolveUrl(url, what) {
  try {
    return new URL(url instanceof URL ? url.href : String(url), baseUrl()).href;
  } catch (e) {
    throw invalid(`\`${what}\` is not a valid URL: ${String(url)}`);
  }
}

/** Like resolveUrl, for a directory: always ends with "/". */
function resolveDirUrl(url, what) {
  const u = new URL(resolveUrl(url, what));
  if (!u.search && !u.hash && !u.pathname.endsWith("/")) u.pathname += "/";
  return u.href;
}

/**
 * Resolve a tile URL template ({z}/{x}/{y}/{-y}/{s}) against the page, keeping the
 * placeholders intact (URL parsing would percent-encode the braces).
 */
function resolveTemplate(template) {
  if (/^[a-z][a-z0-9+.-]*:/i.test(template)) return template; // already absolute
  const base = baseUrl();
  if (template.startsWith("//")) return `${new URL(base).protocol}${template}`;
  const resolved = resolveUrl(template, "source.url");
  return resolved.replace(/%7B(-?[a-z]+)%7D/gi, "{$1}");
}

/** The default `modelBaseUrl`: `./models/` next to this file (see README: bundlers). */
function defaultModelBaseUrl() {
  // A variable, not a literal: bundlers must not try to resolve this directory at build time.
  const dir = "./models/";
  return new URL(dir, import.meta.url).href;
}

function checkOptionalNumber(obj, key, prefix, { integer = false, min = -Infinity, max = Infinity } = {}) {
  const v = obj[key];
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    const kind = integer ? "an integer" : "a number";
    const range = min > -Infinity && max < Infinity ? ` in [${min}, ${max}]` : min > -Infinity ? ` >= ${min}` : "";
    throw invalid(`\`${prefix}${key}\` must be ${kind}${range}, got ${JSON.stringify(v)}`);
  }
}

function checkCallbacks(opts) {
  if (opts.signal !== undefined && !isSignal(opts.signal)) throw invalid("`signal` must be an AbortSignal");
  if (opts.onProgress !== undefined && typeof opts.onProgress !== "function") throw invalid("`onProgress` must be a function");
}

/** Drop keys whose value is undefined (so the Rust side sees "absent", not "null"). */
function compact(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}

/** Validate Detector.create options and build the EngineOptions the worker receives. */
function engineOptions(options) {
  if (!isPlainObject(options)) throw invalid("Detector.create(options): `options` must be an object");
  const { source, model, backend, modelBaseUrl, fetch, cache } = options;
  if (!isPlainObject(source)) throw invalid("`source` must be an object like { url: \"https://…/{z}/{x}/{y}.png\" }");
  if (typeof source.url !== "string" || !source.url) throw invalid("`source.url` must be a non-empty URL template with {z}, {x} and {y} (or {-y})");
  checkOptionalNumber(source, "tileSize", "source.", { integer: true, min: 1 });
  checkOptionalNumber(source, "minZoom", "source.", { integer: true, min: 0 });
  checkOptionalNumber(source, "maxZoom", "source.", { integer: true, min: 0 });
  if (source.subdomains !== undefined && !(Array.isArray(source.subdomains) && source.subdomains.every((s) => typeof s === "string")))
    throw invalid("`source.subdomains` must be an array of strings");
  if (typeof model !== "string" || !model) throw invalid("`model` must be a model id from the manifest, e.g. \"yolov8n-obb-dota\"");
  if (backend !== undefined && !BACKENDS.has(backend)) throw invalid(`\`backend\` must be "auto", "webgpu" or "cpu", got ${JSON.stringify(backend)}`);
  if (modelBaseUrl !== undefined && typeof modelBaseUrl !== "string" && !(modelBaseUrl instanceof URL))
    throw invalid("`modelBaseUrl` must be a string or a URL");
  if (fetch !== undefined) {
    if (!isPlainObject(fetch)) throw invalid("`fetch` must be an object");
    checkOptionalNumber(fetch, "concurrency", "fetch.", { integer: true, min: 1 });
    checkOptionalNumber(fetch, "timeoutMs", "fetch.", { min: 0 });
    checkOptionalNumber(fetch, "retries", "fetch.", { integer: true, min: 0 });
    checkOptionalNumber(fetch, "retryDelayMs", "fetch.", { min: 0 });
  }
  if (cache !== undefined && typeof cache !== "boolean") throw invalid("`cache` must be a boolean");
  if (options.workerUrl !== undefined && typeof options.workerUrl !== "string" && !(options.workerUrl instanceof URL))
    throw invalid("`workerUrl` must be a string or a URL");
  checkCallbacks(options);
  return compact({
    source: compact({ ...source, url: resolveTemplate(source.url) }),
    model,
    backend: backend ?? "auto",
    modelBaseUrl: modelBaseUrl === undefined ? defaultModelBaseUrl() : resolveDirUrl(modelBaseUrl, "modelBaseUrl"),
    fetch: fetch === undefined ? undefined : compact({ ...fetch }),
    cache,
  });
}

/** Validate detect() options and build the DetectOptions the worker receives. */
function detectOptions(options) {
  if (!isPlainObject(options)) throw invalid("detect(aoi, options): `options` must be an object with at least { zoom }");
  const { signal, onProgress, ...rest } = options;
  if (rest.zoom === undefined) throw invalid("`zoom` is required");
  if (typeof rest.zoom !== "number" || !Number.isInteger(rest.zoom)) throw invalid(`\`zoom\` must be an integer, got ${JSON.stringify(rest.zoom)}`);
  checkOptionalNumber(rest, "confidence", "", { min: 0, max: 1 });
  checkOptionalNumber(rest, "iou", "", { min: 0, max: 1 });
  checkOptionalNumber(rest, "maxDetections", "", { integer: true, min: 1 });
  checkOptionalNumber(rest, "maxTiles", "", { integer: true, min: 1 });
  if (rest.failOnMissingTiles !== undefined && typeof rest.failOnMissingTiles !== "boolean") throw invalid("`failOnMissingTiles` must be a boolean");
  if (rest.classes !== undefined && !(Array.isArray(rest.classes) && rest.classes.every((c) => typeof c === "string" || (typeof c === "number" && Number.isInteger(c)))))
    throw invalid("`classes` must be an array of class names or class ids");
  checkCallbacks(options);
  return compact(rest);
}

/**
 * One worker and its pending requests. Detector talks to the engine only through
 * `request()`, so a pool of these can later sit behind the same Detector API.
 */
class WorkerClient {
  #worker;
  #pending = new Map();
  #nextId = 1;
  /** @type {GeodetectError | null} set once the worker is unusable (failed or disposed) */
  #failure = null;

  /** @param {string | URL | undefined} workerUrl */
  constructor(workerUrl) {
    if (typeof Worker === "undefined") {
      throw new GeodetectError("WORKER_FAILED", "Web Workers are not available here: geodetect runs in browsers (main thread or a worker that can start workers)");
    }
    try {
      // Keep this expression literal: bundlers (Vite, webpack 5, Parcel) recognise
      // `new Worker(new URL("./worker.js", import.meta.url), { type: "module" })`
      // and emit the worker and the wasm it imports.
      this.#worker = workerUrl === undefined
        ? new Worker(new URL("./worker.js", import.meta.url), { type: "module" })
        : new Worker(resolveUrl(workerUrl, "workerUrl"), { type: "module" });
    } catch (e) {
      throw new GeodetectError("WORKER_FAILED", `could not start the geodetect worker: ${e?.message ?? e}`, { cause: e });
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

  /**
   * Send a request and wait for its result.
   * @param {string} type
   * @param {unknown} payload
   * @param {{ signal?: AbortSignal, onProgress?: (p: unknown) => void }} [opts]
   */
  request(type, payload, { signal, onProgress } = {}) {
    if (this.#failure) return Promise.reject(new GeodetectError(this.#failure.code, this.#failure.message));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, onProgress, cleanup: () => {} };
      if (signal) {
        const onAbort = () => {
          if (this.#pending.get(id) !== entry) return;
          this.#pending.delete(id);
          entry.cleanup();
          reject(abortError(signal));
          this.#post({ type: "abort", id });
        };
        signal.addEventListener("abort", onAbort, { once: true });
        entry.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
      this.#pending.set(id, entry);
      try {
        this.#worker.postMessage({ type, id, payload });
      } catch (e) {
        this.#pending.delete(id);
        entry.cleanup();
        reject(new GeodetectError("INVALID_OPTIONS", `the ${type} request could not be sent to the worker (not structured-cloneable?): ${e?.message ?? e}`, { cause: e }));
      }
    });
  }

  /** Terminate the worker and reject everything pending with `code`. Idempotent. */
  terminate(code = "DISPOSED", message = "the detector was disposed") {
    this.#fail(code, message);
  }

  #post(msg) {
    if (this.#failure) return;
    try {
      this.#worker.postMessage(msg);
    } catch {
      // The worker is going away; nothing to tell it.
    }
  }

  #onMessage(msg) {
    if (msg === null || typeof msg !== "object") return;
    if (msg.type === "fatal") {
      const err = fromWire(msg.error);
      this.#fail("WORKER_FAILED", `the geodetect worker failed: ${err.message}`);
      return;
    }
    const entry = this.#pending.get(msg.id);
    if (!entry) return; // aborted or unknown: a late answer, dropped
    switch (msg.type) {
      case "progress":
        if (entry.onProgress) callSafely(entry.onProgress, msg.progress);
        break;
      case "result":
        this.#pending.delete(msg.id);
        entry.cleanup();
        entry.resolve(msg.result);
        break;
      case "error":
        this.#pending.delete(msg.id);
        entry.cleanup();
        entry.reject(fromWire(msg.error));
        break;
      default:
        break;
    }
  }

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
  }
}

/** Lets the constructor refuse calls that do not come from Detector.create(). */
const CREATE = Symbol("geodetect.create");

/**
 * Detects objects on map imagery inside a polygon. Create one with `Detector.create()`;
 * it owns one dedicated worker with the wasm engine and the loaded model.
 */
export class Detector {
  #client;
  #backend;
  #info;
  #modelBaseUrl;
  #disposed = false;

  /** @private Use `Detector.create()`. */
  constructor(token, client, init, modelBaseUrl) {
    if (token !== CREATE) throw new TypeError("use `await Detector.create(options)` to make a Detector");
    this.#client = client;
    this.#backend = init.backend;
    this.#info = init.info;
    this.#modelBaseUrl = modelBaseUrl;
  }

  /**
   * Start a worker, load the wasm engine and the model, pick the backend.
   * @param {import("./index.js").DetectorOptions} options
   * @returns {Promise<Detector>}
   */
  static async create(options) {
    const engine = engineOptions(options);
    const { signal, onProgress, workerUrl } = options;
    if (signal?.aborted) throw abortError(signal);
    const client = new WorkerClient(workerUrl);
    try {
      const init = await client.request("init", { protocol: PROTOCOL, options: engine }, { signal, onProgress });
      if (!init || init.protocol !== PROTOCOL) {
        throw new GeodetectError("WORKER_FAILED", `the worker speaks protocol ${init?.protocol}, this client ${PROTOCOL}: workerUrl points at a different geodetect version`);
      }
      return new Detector(CREATE, client, init, engine.modelBaseUrl);
    } catch (e) {
      // Aborting or failing create() must not leave a worker (and a loaded model) behind.
      client.terminate("DISPOSED", "Detector.create() did not complete");
      throw e;
    }
  }

  /**
   * The models that a model directory offers (its manifest.json). Starts a short-lived
   * worker to read it with the engine's own manifest parser.
   * @param {{ modelBaseUrl?: string | URL, workerUrl?: string | URL, signal?: AbortSignal }} [options]
   */
  static async models(options = {}) {
    if (!isPlainObject(options)) throw invalid("Detector.models(options): `options` must be an object");
    if (options.signal !== undefined && !isSignal(options.signal)) throw invalid("`signal` must be an AbortSignal");
    if (options.signal?.aborted) throw abortError(options.signal);
    const modelBaseUrl = options.modelBaseUrl === undefined ? defaultModelBaseUrl() : resolveDirUrl(options.modelBaseUrl, "modelBaseUrl");
    const client = new WorkerClient(options.workerUrl);
    try {
      return await client.request("models", { modelBaseUrl }, { signal: options.signal });
    } finally {
      client.terminate();
    }
  }

  /** The backend in use: "webgpu" or "cpu". */
  get backend() {
    return this.#backend;
  }

  /** Backend, WebGPU adapter (if any) and the loaded model. */
  get info() {
    return this.#info;
  }

  /** True after dispose() or after the worker failed. */
  get disposed() {
    return this.#disposed || this.#client.failed;
  }

  #checkUsable() {
    if (this.#disposed) throw new GeodetectError("DISPOSED", "this detector was disposed; create a new one");
  }

  /**
   * Fetch the tiles covering `aoi` at `options.zoom`, run the model, return GeoJSON.
   * @param {unknown} aoi GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection of those
   * @param {import("./index.js").DetectOptions} options
   */
  async detect(aoi, options) {
    this.#checkUsable();
    if (aoi === null || typeof aoi !== "object") {
      throw new GeodetectError("INVALID_POLYGON", "`aoi` must be a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection object");
    }
    const opts = detectOptions(options);
    return this.#client.request("detect", { aoi, options: opts }, { signal: options.signal, onProgress: options.onProgress });
  }

  /**
   * Download, verify and cache the weights of these models, for later detectors.
   * @param {string[]} ids
   * @param {{ signal?: AbortSignal }} [options]
   */
  async preload(ids, options = {}) {
    this.#checkUsable();
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === "string" && id)) throw invalid("preload(ids): `ids` must be an array of model ids");
    if (!isPlainObject(options)) throw invalid("preload(ids, options): `options` must be an object");
    checkCallbacks(options);
    await this.#client.request("preload", { ids: [...ids] }, { signal: options.signal });
  }

  /**
   * The models of this detector's `modelBaseUrl`, read by its own worker.
   * @param {{ signal?: AbortSignal }} [options]
   */
  async models(options = {}) {
    this.#checkUsable();
    if (!isPlainObject(options)) throw invalid("models(options): `options` must be an object");
    checkCallbacks(options);
    return this.#client.request("models", { modelBaseUrl: this.#modelBaseUrl }, { signal: options.signal });
  }

  /** Terminate the worker; pending requests reject with DISPOSED. Safe to call twice. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#client.terminate("DISPOSED", "the detector was disposed");
  }
}
