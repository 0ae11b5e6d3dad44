// geodetect: main-thread client.
//
// Everything heavy (tile fetching, decoding, the burn/wasm network, WebGPU) happens in a
// pool of dedicated module workers (./worker.js; the pool: ./pool.js, one worker's requests:
// ./client.js). This module only checks the shape of the options and hands the work to the
// pool. The messages, the protocol version and the error codes are defined in ./protocol.js;
// the engine checks every option's range and names the field when one is wrong.
import { MSG, GeodetectError, describe } from "./protocol.js";
import { WorkerClient, abortError, baseUrl, callSafely, resolveUrl } from "./client.js";
import { Metrics, prometheus } from "./metrics.js";
import { Pool, runArea } from "./pool.js";

export { GeodetectError };

/** @typedef {import("./protocol.js").RequestType} RequestType */
/** @typedef {import("./protocol.js").Requests} Requests */
/** @typedef {import("./protocol.js").InitResult} InitResult */
/** @typedef {import("./protocol.js").ErrorCode} ErrorCode */
/** @typedef {import("./types.js").EngineOptions} EngineOptions */
/** @typedef {import("./types.js").DetectOptions} EngineDetectOptions */
/** @typedef {import("./types.js").BackendChoice} BackendChoice */
/** @typedef {import("./index.js").DetectorOptions} DetectorOptions */
/** @typedef {import("./index.js").DetectOptions} DetectOptions */
/** @typedef {import("./index.js").ModelsOptions} ModelsOptions */
/** @typedef {import("./index.js").SignalOptions} SignalOptions */
/** @typedef {import("./index.js").Progress} Progress */
/** @typedef {import("./index.js").DetectResult} DetectResult */
/** @typedef {import("./index.js").ModelInfo} ModelInfo */
/** @typedef {import("./index.js").EngineInfo} EngineInfo */
/** @typedef {import("./index.js").Backend} Backend */
/** @typedef {import("./index.js").DetectionBatch} DetectionBatch */
/** @typedef {import("./index.js").DetectionBatchEvent} DetectionBatchEvent */
/** @typedef {import("./index.js").DetectStream} DetectStream */
/** @typedef {import("./index.js").Health} Health */
/** @typedef {import("./index.js").MetricsSnapshot} MetricsSnapshot */
/** @typedef {import("./index.js").DetectManyOptions} DetectManyOptions */
/** @typedef {import("./index.js").SettledDetection} SettledDetection */

/** @param {string} message */
function invalid(message) {
  return new GeodetectError("INVALID_OPTIONS", message);
}

/**
 * A value for an error message: JSON where possible (strings quoted), else its string form.
 * @param {unknown} v
 */
function show(v) {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * @param {unknown} v
 * @returns {v is AbortSignal}
 */
function isSignal(v) {
  return isPlainObject(v) && typeof v.aborted === "boolean" && typeof v.addEventListener === "function";
}

/**
 * @template T
 * @param {unknown} v
 * @param {(item: unknown) => item is T} is
 * @returns {v is T[]}
 */
function isArrayOf(v, is) {
  return Array.isArray(v) && v.every((item) => is(item));
}

/**
 * @param {unknown} v
 * @returns {v is string}
 */
function isString(v) {
  return typeof v === "string";
}

/**
 * A class name or id (which ids and names exist is the engine's to check).
 * @param {unknown} v
 * @returns {v is string | number}
 */
function isClassRef(v) {
  return typeof v === "string" || typeof v === "number";
}

/**
 * @param {unknown} v
 * @returns {v is string | URL}
 */
function isUrlLike(v) {
  return typeof v === "string" || v instanceof URL;
}

/**
 * Like resolveUrl, for a directory: always ends with "/".
 * @param {string | URL} url
 * @param {string} what
 */
function resolveDirUrl(url, what) {
  const u = new URL(resolveUrl(url, what));
  if (!u.search && !u.hash && !u.pathname.endsWith("/")) u.pathname += "/";
  return u.href;
}

/**
 * Resolve a tile URL template ({z}/{x}/{y}/{-y}/{s}) against the page, keeping the
 * placeholders intact (URL parsing would percent-encode the braces).
 * @param {string} template
 */
function resolveTemplate(template) {
  if (/^[a-z][a-z0-9+.-]*:/i.test(template)) return template; // already absolute
  const base = baseUrl();
  if (template.startsWith("//")) return `${new URL(base ?? "").protocol}${template}`;
  const resolved = resolveUrl(template, "source.url");
  return resolved.replace(/%7B(-?[a-z]+)%7D/gi, "{$1}");
}

/** The default `modelBaseUrl`: `./models/` next to this file (see README: bundlers). */
function defaultModelBaseUrl() {
  // A variable, not a literal: bundlers must not try to resolve this directory at build time.
  const dir = "./models/";
  return new URL(dir, import.meta.url).href;
}

/** @typedef {{ string: string, number: number, boolean: boolean }} JsTypes */

/**
 * `obj[key]` if it is absent or of JS type `type`; else INVALID_OPTIONS. Only the type:
 * ranges, integers and allowed values are the engine's to check.
 * @template {keyof JsTypes} K
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {K} type
 * @param {string} [prefix] path of `obj` in the options, e.g. "source."
 * @returns {JsTypes[K] | undefined}
 */
function optional(obj, key, type, prefix = "") {
  const v = obj[key];
  if (v !== undefined && typeof v !== type) throw invalid(`\`${prefix}${key}\` must be a ${type}, got ${show(v)}`);
  return /** @type {JsTypes[K] | undefined} */ (v);
}

/**
 * `obj[key]` if it is absent or an object; else INVALID_OPTIONS.
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @returns {Record<string, unknown> | undefined}
 */
function optionalObject(obj, key) {
  const v = obj[key];
  if (v !== undefined && !isPlainObject(v)) throw invalid(`\`${key}\` must be an object, got ${show(v)}`);
  return v;
}

/**
 * @param {Record<string, unknown>} opts
 * @returns {{ signal?: AbortSignal, onProgress?: (p: Progress) => void, onDetections?: (batch: DetectionBatch, p: Progress) => void }}
 */
function callbacks(opts) {
  const { signal, onProgress, onDetections } = opts;
  if (signal !== undefined && !isSignal(signal)) throw invalid("`signal` must be an AbortSignal");
  if (onProgress !== undefined && typeof onProgress !== "function") throw invalid("`onProgress` must be a function");
  if (onDetections !== undefined && typeof onDetections !== "function") throw invalid("`onDetections` must be a function");
  return {
    signal,
    onProgress: /** @type {((p: Progress) => void) | undefined} */ (onProgress),
    onDetections: /** @type {((batch: DetectionBatch, p: Progress) => void) | undefined} */ (onDetections),
  };
}

/**
 * Drop keys whose value is undefined (so the Rust side sees "absent", not "null").
 * @template {Record<string, unknown>} T
 * @param {T} obj
 * @returns {T}
 */
function compact(obj) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return /** @type {T} */ (out);
}

/**
 * Check the shape of Detector.create options and build the EngineOptions the worker
 * receives. Unknown keys of `source` and `fetch` are passed on, for the engine to refuse.
 * @param {unknown} options
 * @returns {EngineOptions}
 */
function engineOptions(options) {
  if (!isPlainObject(options)) throw invalid("Detector.create(options): `options` must be an object");
  // Keys the client does not know go on to the engine, which refuses them by name (a
  // misspelt `bakend` must not be ignored); signal, onProgress and workerUrl stay here.
  const { source, model, modelBaseUrl, workerUrl, signal: _signal, onProgress: _onProgress, ...rest } = options;
  if (!isPlainObject(source)) throw invalid("`source` must be an object like { url: \"https://…/{z}/{x}/{y}.png\" } or { preset: \"esri-world-imagery\" }");
  const preset = optional(source, "preset", "string", "source.");
  const pmtiles = source.pmtiles;
  if (pmtiles !== undefined && (!isUrlLike(pmtiles) || !String(pmtiles)))
    throw invalid("`source.pmtiles` must be the URL of a PMTiles archive (a string or a URL)");
  const cog = source.cog;
  if (cog !== undefined && (!isUrlLike(cog) || !String(cog)))
    throw invalid("`source.cog` must be the URL of a Cloud-Optimized GeoTIFF (a string or a URL)");
  // Without a preset, an archive or a COG, `url` is required; which presets take one is the engine's to say.
  if (source.url !== undefined || (preset === undefined && pmtiles === undefined && cog === undefined)) {
    if (typeof source.url !== "string" || !source.url)
      throw invalid("`source.url` must be a non-empty URL template with {z}, {x} and {y} (or {-y}, or {q}), a WMS endpoint with `source.wms`, or left out with a `source.preset`, a `source.pmtiles` archive or a `source.cog`");
  }
  const { subdomains, wms } = source;
  if (subdomains !== undefined && !isArrayOf(subdomains, isString))
    throw invalid("`source.subdomains` must be an array of strings");
  if (wms !== undefined) {
    if (!isPlainObject(wms)) throw invalid("`source.wms` must be an object like { layers: [\"ortho\"] }");
    for (const key of ["layers", "styles"]) {
      if (wms[key] !== undefined && !isArrayOf(wms[key], isString)) throw invalid(`\`source.wms.${key}\` must be an array of strings`);
    }
    optional(wms, "version", "string", "source.wms.");
    optional(wms, "format", "string", "source.wms.");
    optional(wms, "transparent", "boolean", "source.wms.");
    const { params } = wms;
    if (params !== undefined && !(isPlainObject(params) && Object.values(params).every(isString)))
      throw invalid("`source.wms.params` must be an object of string values");
  }
  if (typeof model !== "string" || !model) throw invalid("`model` must be a model id from the manifest, e.g. \"yolov8n-obb-dota\"");
  if (modelBaseUrl !== undefined && !isUrlLike(modelBaseUrl)) throw invalid("`modelBaseUrl` must be a string or a URL");
  if (workerUrl !== undefined && !isUrlLike(workerUrl)) throw invalid("`workerUrl` must be a string or a URL");
  const fetch = optionalObject(options, "fetch");
  const workers = optional(options, "workers", "number");
  callbacks(options);
  return compact({
    ...rest,
    source: compact({
      ...source,
      url: typeof source.url === "string" ? resolveTemplate(source.url) : undefined,
      preset: /** @type {import("./types.js").Preset | undefined} */ (preset),
      accessToken: optional(source, "accessToken", "string", "source."),
      // Read by the worker: resolved against the page. Through preset "titiler": as given.
      cog: cog === undefined ? undefined : preset === undefined ? resolveUrl(String(cog), "source.cog") : String(cog),
      wms: /** @type {import("./types.js").WmsOptions | undefined} */ (wms),
      pmtiles: pmtiles === undefined ? undefined : resolveUrl(String(pmtiles), "source.pmtiles"),
      tileSize: optional(source, "tileSize", "number", "source."),
      minZoom: optional(source, "minZoom", "number", "source."),
      maxZoom: optional(source, "maxZoom", "number", "source."),
      subdomains,
      retina: optional(source, "retina", "boolean", "source."),
      attribution: optional(source, "attribution", "string", "source."),
      notFoundIsEmpty: optional(source, "notFoundIsEmpty", "boolean", "source."),
    }),
    model,
    // Which backends exist is the engine's to say (INVALID_OPTIONS naming `backend`).
    backend: /** @type {BackendChoice | undefined} */ (optional(options, "backend", "string")) ?? "auto",
    modelBaseUrl: modelBaseUrl === undefined ? defaultModelBaseUrl() : resolveDirUrl(modelBaseUrl, "modelBaseUrl"),
    fetch: fetch === undefined ? undefined : compact({
      ...fetch,
      concurrency: optional(fetch, "concurrency", "number", "fetch."),
      timeoutMs: optional(fetch, "timeoutMs", "number", "fetch."),
      retries: optional(fetch, "retries", "number", "fetch."),
      retryDelayMs: optional(fetch, "retryDelayMs", "number", "fetch."),
      perHost: optional(fetch, "perHost", "number", "fetch."),
      maxRetryAfterMs: optional(fetch, "maxRetryAfterMs", "number", "fetch."),
      cacheBytes: optional(fetch, "cacheBytes", "number", "fetch."),
      cacheName: fetch.cacheName === null ? null : optional(fetch, "cacheName", "string", "fetch."),
    }),
    cache: optional(options, "cache", "boolean"),
    // Their ranges are the engine's to check (the first worker's init refuses them).
    workers,
    // The worker reads it to pick an engine.
    threads: optional(options, "threads", "number") ?? defaultThreads(workers),
    chunkTimeoutMs: optional(options, "chunkTimeoutMs", "number"),
  });
}

/** `min(navigator.hardwareConcurrency, 4)`: the default of `workers` on the CPU path. */
function cores() {
  return Math.min(globalThis.navigator?.hardwareConcurrency || 1, 4);
}

/**
 * The default of `threads`: the cores shared among the workers (every worker runs at once on
 * a large area). Undefined for a `workers` the engine will refuse.
 * @param {number | undefined} workers
 */
function defaultThreads(workers) {
  const n = workers ?? cores();
  return Number.isInteger(n) && n >= 1 ? Math.max(1, Math.floor(cores() / n)) : undefined;
}

/**
 * Check the shape of detect() options and build the DetectOptions the worker receives.
 * Unknown keys are passed on, for the engine to refuse.
 * @param {unknown} options
 * @returns {EngineDetectOptions}
 */
function detectOptions(options) {
  if (!isPlainObject(options)) throw invalid("detect(aoi, options): `options` must be an object with at least { zoom }");
  const { signal, onProgress, onDetections, ...rest } = options;
  const zoom = optional(rest, "zoom", "number");
  if (zoom === undefined) throw invalid("`zoom` is required");
  const { classes } = rest;
  if (classes !== undefined && !isArrayOf(classes, isClassRef))
    throw invalid("`classes` must be an array of class names or class ids");
  callbacks(options);
  return compact({
    ...rest,
    zoom,
    confidence: optional(rest, "confidence", "number"),
    iou: optional(rest, "iou", "number"),
    maxDetections: optional(rest, "maxDetections", "number"),
    failOnMissingTiles: optional(rest, "failOnMissingTiles", "boolean"),
    maxTiles: optional(rest, "maxTiles", "number"),
    classes,
    windowOverlap: optional(rest, "windowOverlap", "number"),
    // Its allowed values are the engine's to check.
    clip: /** @type {EngineDetectOptions["clip"]} */ (optional(rest, "clip", "string")),
  });
}

/** `maxAreas` of detectMany(): its default and its largest value. */
const DEFAULT_MAX_AREAS = 50;
const MAX_AREAS = 10_000;

/** Lets the constructor refuse calls that do not come from Detector.create(). */
const CREATE = Symbol("geodetect.create");

/**
 * Detects objects on map imagery inside a polygon. Create one with `Detector.create()`;
 * it owns a pool of dedicated workers (`workers`), each with the wasm engine and the loaded
 * model.
 */
export class Detector {
  /** @type {Pool} */
  #pool;
  /** @type {Backend} */
  #backend;
  /** @type {EngineInfo} */
  #info;
  /** @type {string} */
  #modelBaseUrl;
  #disposed = false;
  #metrics = new Metrics();

  /**
   * Use `Detector.create()`.
   * @param {symbol} token
   * @param {Pool} pool
   * @param {InitResult} init
   * @param {string} modelBaseUrl
   */
  constructor(token, pool, init, modelBaseUrl) {
    if (token !== CREATE) throw new TypeError("use `await Detector.create(options)` to make a Detector");
    this.#pool = pool;
    this.#backend = init.backend;
    this.#info = init.info;
    this.#modelBaseUrl = modelBaseUrl;
  }

  /**
   * Start the first worker, load the wasm engine and the model, pick the backend. The rest
   * of the pool starts with the first area of several chunks. Each engine's warm-up pass
   * (shader compilation; the JIT's first run of the CPU path) runs after this resolves, in
   * the background: on WebGPU and with threads while the first `detect()` downloads its
   * tiles, on one thread once its tile requests are out. That call's model waits for it,
   * and a failed pass rejects it (and every later call) with the pass's own error code.
   * @param {DetectorOptions} options
   * @returns {Promise<Detector>}
   */
  static async create(options) {
    const engine = engineOptions(options);
    const { signal, onProgress, workerUrl } = options;
    if (signal?.aborted) throw abortError(signal);
    const pool = new Pool(workerUrl, engine, engine.workers ?? cores());
    try {
      const init = await pool.start({ signal, onProgress });
      return new Detector(CREATE, pool, init, engine.modelBaseUrl);
    } catch (e) {
      // Aborting or failing create() must not leave a worker (and a loaded model) behind.
      pool.dispose();
      throw e;
    }
  }

  /**
   * The models that a model directory offers (its manifest.json). Starts a short-lived
   * worker to read it with the engine's own manifest parser.
   * @param {ModelsOptions} [options]
   * @returns {Promise<ModelInfo[]>}
   */
  static async models(options = {}) {
    if (!isPlainObject(/** @type {unknown} */ (options))) throw invalid("Detector.models(options): `options` must be an object");
    const { signal, modelBaseUrl, workerUrl } = options;
    if (signal !== undefined && !isSignal(signal)) throw invalid("`signal` must be an AbortSignal");
    if (signal?.aborted) throw abortError(signal);
    const base = modelBaseUrl === undefined ? defaultModelBaseUrl() : resolveDirUrl(modelBaseUrl, "modelBaseUrl");
    const client = new WorkerClient(workerUrl);
    try {
      return await client.request(MSG.MODELS, { modelBaseUrl: base }, { signal });
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

  /** True after dispose(), or once no worker can be started any more. */
  get disposed() {
    return this.#disposed || this.#pool.broken !== null;
  }

  /** Workers in the pool (the `workers` option, or its default). */
  get workers() {
    return this.#pool.size;
  }

  #checkUsable() {
    if (this.#disposed) throw new GeodetectError("DISPOSED", "this detector was disposed; create a new one");
  }

  /**
   * Fetch the tiles covering `aoi` at `options.zoom`, run the model, return GeoJSON.
   * @param {unknown} aoi GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection of those
   * @param {DetectOptions} options
   * @returns {Promise<DetectResult>}
   */
  async detect(aoi, options) {
    this.#checkUsable();
    if (aoi === null || typeof aoi !== "object") {
      throw new GeodetectError("INVALID_POLYGON", "`aoi` must be a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection object");
    }
    const opts = detectOptions(options);
    const { signal, onProgress, onDetections } = callbacks(/** @type {Record<string, unknown>} */ (/** @type {unknown} */ (options)));
    /** @type {Progress | null} */
    let last = null;
    const track = (/** @type {Progress} */ p) => {
      last = p;
      if (onProgress) callSafely(onProgress, p);
    };
    try {
      const result = await runArea(this.#pool, aoi, opts, this.#info.chunkTimeoutMs, { signal, onProgress: track, onDetections });
      this.#metrics.succeeded(result, last);
      return result;
    } catch (e) {
      this.#metrics.failed(e, last);
      throw e;
    }
  }

  /**
   * detect() on each of `areas` with the same options, sharing the pool (up to
   * `concurrency` areas at once, default: the pool's size), and one settled result per area
   * in input order, as `Promise.allSettled` gives them: an area that fails (an invalid
   * polygon, every tile missing, ...) is a `rejected` entry with its GeodetectError, and never
   * fails the batch. The call itself rejects only for a batch it cannot start (`areas` not an
   * array, more than `maxAreas`, options of the wrong shape), an abort, or a disposed detector.
   * @param {readonly unknown[]} areas GeoJSON areas, as detect() takes them
   * @param {DetectManyOptions} options detect()'s options, plus `maxAreas`, `concurrency` and
   *   `onArea`; `onProgress` and `onDetections` also receive the area's index
   * @returns {Promise<SettledDetection[]>}
   */
  async detectMany(areas, options) {
    this.#checkUsable();
    if (!Array.isArray(areas)) throw invalid("detectMany(areas, options): `areas` must be an array of GeoJSON areas");
    if (!isPlainObject(options)) throw invalid("detectMany(areas, options): `options` must be an object with at least { zoom }");
    const { maxAreas, concurrency, onArea, onProgress, onDetections, signal, ...rest } = options;
    // These never reach the engine: their ranges are checked here.
    const limit = optional(options, "maxAreas", "number") ?? DEFAULT_MAX_AREAS;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AREAS) throw invalid(`\`maxAreas\` must be an integer in 1..=${MAX_AREAS}, got ${show(maxAreas)}`);
    if (areas.length > limit) throw invalid(`${areas.length} areas are more than \`maxAreas\` (${limit}): raise it, or split the batch`);
    const lanes = optional(options, "concurrency", "number") ?? this.#pool.size;
    if (!Number.isInteger(lanes) || lanes < 1 || lanes > MAX_AREAS) throw invalid(`\`concurrency\` must be an integer in 1..=${MAX_AREAS}, got ${show(concurrency)}`);
    if (onArea !== undefined && typeof onArea !== "function") throw invalid("`onArea` must be a function");
    // The shared options' shape, once for the batch (their ranges: each area's engine call).
    detectOptions({ ...rest, signal, onProgress, onDetections });
    if (isSignal(signal) && signal.aborted) throw abortError(signal);
    /** @type {SettledDetection[]} */
    const settled = new Array(areas.length);
    let next = 0;
    const lane = async () => {
      while (next < areas.length && !(isSignal(signal) && signal.aborted)) {
        const i = next++;
        /** @type {DetectOptions} */
        const opts = /** @type {DetectOptions} */ ({
          ...rest,
          signal,
          onProgress: typeof onProgress === "function" ? (/** @type {Progress} */ p) => onProgress(p, i) : undefined,
          onDetections: typeof onDetections === "function" ? (/** @type {DetectionBatch} */ b, /** @type {Progress} */ p) => onDetections(b, p, i) : undefined,
        });
        /** @type {SettledDetection} */
        let entry;
        try {
          entry = { status: "fulfilled", value: await this.detect(areas[i], opts) };
        } catch (e) {
          entry = { status: "rejected", reason: e instanceof GeodetectError ? e : new GeodetectError("INTERNAL", describe(e), { cause: e }) };
          // A disposed detector ends the batch (the call rejects below).
          if (this.#disposed) throw entry.reason;
        }
        settled[i] = entry;
        if (typeof onArea === "function") callSafely(/** @type {(s: SettledDetection, i: number) => void} */ (onArea), entry, i);
      }
    };
    await Promise.all(Array.from({ length: Math.min(lanes, areas.length) }, lane));
    if (isSignal(signal) && signal.aborted) throw abortError(signal);
    return settled;
  }

  /**
   * detect(), its detections delivered in batches as soon as they are final (an area runs
   * chunk by chunk): `for await (const { detections, progress } of detector.detectStream(aoi,
   * options))`. Leaving the loop early (break, return, throw) aborts the run. The whole
   * result (every batch's detections, missing tiles, timings) is `stream.result`; an error
   * of the run rejects it and is thrown by the loop.
   * @param {unknown} aoi GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection of those
   * @param {DetectOptions} options as for detect(); its `onDetections` is called too
   * @returns {DetectStream}
   */
  detectStream(aoi, options) {
    /** @type {({ batch: DetectionBatchEvent } | { end: true } | { error: unknown })[]} */
    const queue = [];
    /** @type {(() => void) | null} */
    let wake = null;
    const controller = new AbortController();
    const outer = isPlainObject(options) ? options.signal : undefined;
    const forward = () => controller.abort(isSignal(outer) ? outer.reason : undefined);
    if (isSignal(outer)) {
      if (outer.aborted) forward();
      else outer.addEventListener("abort", forward, { once: true });
    }
    const push = (/** @type {(typeof queue)[number]} */ item) => {
      queue.push(item);
      wake?.();
    };
    const own = isPlainObject(options) ? options.onDetections : undefined;
    const result = (async () => {
      // Options that are not an object go to detect() as they are, for its error.
      if (!isPlainObject(options)) return this.detect(aoi, options);
      return this.detect(aoi, {
        ...options,
        signal: controller.signal,
        onDetections: (batch, progress) => {
          if (typeof own === "function") callSafely(/** @type {(b: DetectionBatch, p: Progress) => void} */ (own), batch, progress);
          push({ batch: { detections: batch, progress } });
        },
      });
    })();
    result.then(() => push({ end: true }), (error) => push({ error }));
    result.finally(() => (isSignal(outer) ? outer.removeEventListener("abort", forward) : undefined)).catch(() => {});
    // `result` may be left unread by a caller who only iterates: not an unhandled rejection.
    result.catch(() => {});
    return {
      result,
      [Symbol.asyncIterator]() {
        return {
          async next() {
            while (!queue.length) await new Promise((resolve) => (wake = /** @type {() => void} */ (resolve)));
            wake = null;
            const item = /** @type {(typeof queue)[number]} */ (queue.shift());
            if ("batch" in item) return { done: false, value: item.batch };
            queue.unshift({ end: true }); // the end stays the end
            if ("error" in item) throw item.error;
            return { done: true, value: undefined };
          },
          async return() {
            controller.abort();
            return { done: true, value: undefined };
          },
        };
      },
    };
  }

  /**
   * Download, verify and cache the weights of these models, for later detectors.
   * @param {readonly string[]} ids
   * @param {SignalOptions} [options]
   * @returns {Promise<void>}
   */
  async preload(ids, options = {}) {
    this.#checkUsable();
    if (!isArrayOf(ids, isString) || !ids.every((id) => id)) throw invalid("preload(ids): `ids` must be an array of model ids");
    if (!isPlainObject(options)) throw invalid("preload(ids, options): `options` must be an object");
    const { signal } = callbacks(options);
    const w = await this.#pool.merger(signal);
    await w.client.request(MSG.PRELOAD, { ids: [...ids] }, { signal });
  }

  /**
   * The models of this detector's `modelBaseUrl`, read by its own worker.
   * @param {SignalOptions} [options]
   * @returns {Promise<ModelInfo[]>}
   */
  async models(options = {}) {
    this.#checkUsable();
    if (!isPlainObject(options)) throw invalid("models(options): `options` must be an object");
    const { signal } = callbacks(options);
    const w = await this.#pool.merger(signal);
    return w.client.request(MSG.MODELS, { modelBaseUrl: this.#modelBaseUrl }, { signal });
  }

  /**
   * Run the engine's self-test (two forward passes over a small synthetic image, checked for
   * shape, finite values and determinism) on every worker started so far (the pool grows to
   * `workersWanted` with the first area of several chunks), and report the detector's
   * health: `healthy`, `degraded` (a worker failed, or the engine runs with less than was
   * asked for: a CPU fallback from WebGPU, fewer threads) or `unhealthy` (no worker passes).
   * Answers while a detect() is running.
   * @param {SignalOptions} [options]
   * @returns {Promise<Health>}
   */
  async health(options = {}) {
    this.#checkUsable();
    if (!isPlainObject(options)) throw invalid("health(options): `options` must be an object");
    const { signal } = callbacks(options);
    const t0 = performance.now();
    // Every worker started so far, once it is up (or its start failed).
    const started = this.#pool.workers;
    await Promise.all(started.map((w) => w.ready));
    /** @type {Health["workers"]} */
    const workers = await Promise.all(started.map(async (w) => {
      try {
        return { alive: true, ...(await w.client.request(MSG.HEALTH, {}, { signal })) };
      } catch (e) {
        if (e instanceof GeodetectError && e.code === "ABORTED") throw e;
        const err = e instanceof GeodetectError ? e : new GeodetectError("INTERNAL", describe(e));
        return { alive: !w.client.failed, ok: false, error: `${err.code}: ${err.message}` };
      }
    }));
    const passing = workers.filter((w) => w.ok).length;
    const info = this.#info;
    const reasons = [
      ...workers.filter((w) => !w.ok).map((w) => `a worker failed its self-test: ${w.error}`),
      ...(info.fallbackReason ? [`the CPU runs instead of WebGPU: ${info.fallbackReason}`] : []),
      ...workers.flatMap((w) => ("fallbackReason" in w && w.fallbackReason ? [`a worker runs on the CPU instead of WebGPU: ${w.fallbackReason}`] : [])),
      ...(info.threadsNote ? [`fewer threads than asked for: ${info.threadsNote}`] : []),
    ];
    const report = workers.find((w) => w.ok);
    return {
      status: passing === 0 ? "unhealthy" : reasons.length ? "degraded" : "healthy",
      reasons,
      checkedMs: performance.now() - t0,
      version: report && "version" in report ? report.version : null,
      backend: this.#backend,
      adapter: info.adapter,
      model: { id: info.model.id, weightsSha256: info.model.weights.sha256 },
      workersAlive: workers.filter((w) => w.alive).length,
      workersTotal: workers.length,
      workersWanted: this.#pool.size,
      workers,
    };
  }

  /**
   * What this detector has done so far: counters (areas run, detections, errors by code,
   * tiles loaded, downloaded, from the cache, failed, retried and bytes; the pool's workers
   * and chunks) and latency histograms of each stage
   * of the detect() calls that completed; `{ format: "prometheus" }` gives the Prometheus text
   * exposition format instead, for apps that forward it to their monitoring.
   * @overload
   * @param {{ format?: "json" }} [options]
   * @returns {MetricsSnapshot}
   */
  /**
   * @overload
   * @param {{ format: "prometheus" }} options
   * @returns {string}
   */
  /**
   * @param {{ format?: "json" | "prometheus" }} [options]
   * @returns {MetricsSnapshot | string}
   */
  metrics(options = {}) {
    if (!isPlainObject(options)) throw invalid("metrics(options): `options` must be an object");
    const format = options.format ?? "json";
    if (format !== "json" && format !== "prometheus") throw invalid(`\`format\` must be "json" or "prometheus", got ${show(format)}`);
    const snapshot = this.#metrics.snapshot(this.#pool.stats);
    if (format === "json") return snapshot;
    return prometheus(snapshot, { model: this.#info.model.id, backend: this.#backend });
  }

  /** Terminate the worker; pending requests reject with DISPOSED. Safe to call twice. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#pool.dispose();
  }
}
