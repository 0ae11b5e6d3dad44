// geodetect: main-thread client.
//
// Everything heavy (tile fetching, decoding, the burn/wasm network, WebGPU) happens in a
// dedicated module worker (./worker.js). This module only checks the shape of the options,
// posts messages and turns the worker's answers back into promises. The messages, the
// protocol version and the error codes are defined in ./protocol.js; the engine checks
// every option's range and names the field when one is wrong.
import { MSG, PROTOCOL, GeodetectError, describe, errorFromWire, unsupportedBrowser } from "./protocol.js";

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

/** @param {AbortSignal | undefined} signal */
function abortError(signal) {
  return new GeodetectError("ABORTED", "the operation was aborted", { cause: signal?.reason });
}

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
 * Call a caller's callback; an exception in it is the caller's bug: report it (as an
 * uncaught error) without breaking geodetect's own flow.
 * @template {unknown[]} A
 * @param {(...args: A) => void} fn
 * @param {A} args
 */
function callSafely(fn, ...args) {
  try {
    fn(...args);
  } catch (e) {
    if (typeof globalThis.reportError === "function") globalThis.reportError(e);
    else setTimeout(() => { throw e; });
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

/** @returns {string | undefined} */
function baseUrl() {
  return globalThis.document?.baseURI ?? globalThis.location?.href;
}

/**
 * Resolve a URL given by the caller against the page, not against the worker script
 * (a relative URL inside the worker would resolve against ./worker.js).
 * @param {string | URL} url
 * @param {string} what the option, for the error message
 * @returns {string}
 */
function resolveUrl(url, what) {
  try {
    return new URL(url instanceof URL ? url.href : String(url), baseUrl()).href;
  } catch {
    throw invalid(`\`${what}\` is not a valid URL: ${String(url)}`);
  }
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
  if (!isPlainObject(source)) throw invalid("`source` must be an object like { url: \"https://…/{z}/{x}/{y}.png\" }");
  if (typeof source.url !== "string" || !source.url) throw invalid("`source.url` must be a non-empty URL template with {z}, {x} and {y} (or {-y})");
  const { subdomains } = source;
  if (subdomains !== undefined && !isArrayOf(subdomains, isString))
    throw invalid("`source.subdomains` must be an array of strings");
  if (typeof model !== "string" || !model) throw invalid("`model` must be a model id from the manifest, e.g. \"yolov8n-obb-dota\"");
  if (modelBaseUrl !== undefined && !isUrlLike(modelBaseUrl)) throw invalid("`modelBaseUrl` must be a string or a URL");
  if (workerUrl !== undefined && !isUrlLike(workerUrl)) throw invalid("`workerUrl` must be a string or a URL");
  const fetch = optionalObject(options, "fetch");
  callbacks(options);
  return compact({
    ...rest,
    source: compact({
      ...source,
      url: resolveTemplate(source.url),
      tileSize: optional(source, "tileSize", "number", "source."),
      minZoom: optional(source, "minZoom", "number", "source."),
      maxZoom: optional(source, "maxZoom", "number", "source."),
      subdomains,
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
    }),
    cache: optional(options, "cache", "boolean"),
    // Its range (1..=64) is the engine's to check; the worker reads it to pick an engine.
    threads: optional(options, "threads", "number"),
  });
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
function isSameOrigin(url) {
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
 * One worker and its pending requests. Detector talks to the engine only through
 * `request()`, so a pool of these can later sit behind the same Detector API.
 */
class WorkerClient {
  /** @type {Worker} */
  #worker;
  /** @type {Map<number, Pending>} */
  #pending = new Map();
  #nextId = 1;
  /** @type {GeodetectError | null} set once the worker is unusable (failed or disposed) */
  #failure = null;

  /** @param {string | URL | undefined} workerUrl */
  constructor(workerUrl) {
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
          this.#post({ type: MSG.ABORT, id });
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

  /** @param {import("./protocol.js").AbortControl | import("./protocol.js").DisposeControl} msg */
  #post(msg) {
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
      this.#fail("WORKER_FAILED", `the geodetect worker failed: ${err.message}`);
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
      case MSG.ERROR:
        this.#pending.delete(msg.id);
        entry.cleanup();
        entry.reject(errorFromWire(msg.error));
        break;
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
  }
}

/** Upper bounds (ms) of the stage latency histograms' buckets (and +Inf). */
const BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000];
/** The stages of `DetectResult.timings`, in order. */
const STAGES = /** @type {const} */ (["fetch", "decode", "preprocess", "inference", "postprocess", "total"]);

/** A detector's counters and histograms (see {@link Detector.metrics}). */
class Metrics {
  areas = { ok: 0, failed: 0 };
  detections = 0;
  /** @type {Record<string, number>} */
  errors = {};
  tiles = { fetched: 0, failed: 0, retriesOfFailed: 0 };
  /** @type {Record<string, { buckets: number[], sum: number, count: number }>} */
  stages = Object.fromEntries(STAGES.map((s) => [s, { buckets: BUCKETS_MS.map(() => 0), sum: 0, count: 0 }]));

  /**
   * @param {DetectResult} result
   * @param {Progress | null} last the run's last progress event
   */
  succeeded(result, last) {
    this.areas.ok++;
    // Counting must never fail the call it counts: every field is read defensively.
    const features = result?.detections?.features;
    this.detections += Array.isArray(features) ? features.length : 0;
    const missing = Array.isArray(result?.missingTiles) ? result.missingTiles : [];
    this.tiles.failed += missing.length;
    this.tiles.fetched += Math.max(0, (last?.tilesTotal ?? 0) - missing.length);
    this.tiles.retriesOfFailed += missing.reduce((n, t) => n + Math.max(0, (t?.attempts ?? 1) - 1), 0);
    for (const stage of STAGES) {
      const ms = result?.timings?.[stage];
      if (typeof ms !== "number" || !Number.isFinite(ms)) continue;
      const h = this.stages[stage];
      h.sum += ms;
      h.count++;
      BUCKETS_MS.forEach((le, i) => {
        if (ms <= le) h.buckets[i]++;
      });
    }
  }

  /**
   * @param {unknown} error
   * @param {Progress | null} last
   */
  failed(error, last) {
    this.areas.failed++;
    const code = error instanceof GeodetectError ? error.code : "INTERNAL";
    this.errors[code] = (this.errors[code] ?? 0) + 1;
    this.tiles.fetched += last?.tilesDone ?? 0;
  }

  /** @returns {MetricsSnapshot} */
  snapshot() {
    const copy = structuredClone({
      areas: this.areas,
      detections: this.detections,
      errors: this.errors,
      tiles: this.tiles,
      stages: Object.fromEntries(
        STAGES.map((s) => [s, { bucketsMs: BUCKETS_MS, counts: this.stages[s].buckets, sumMs: this.stages[s].sum, count: this.stages[s].count }]),
      ),
    });
    return /** @type {MetricsSnapshot} */ (/** @type {unknown} */ (copy));
  }
}

/**
 * A metrics snapshot in the Prometheus text exposition format (version 0.0.4).
 * @param {MetricsSnapshot} m
 * @param {Record<string, string>} labels constant labels of every sample
 */
function prometheus(m, labels) {
  const esc = (/** @type {string} */ v) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  const lbl = (/** @type {Record<string, string>} */ extra = {}) => {
    const all = { ...labels, ...extra };
    return `{${Object.entries(all).map(([k, v]) => `${k}="${esc(v)}"`).join(",")}}`;
  };
  /** @type {string[]} */
  const out = [];
  const metric = (/** @type {string} */ name, /** @type {string} */ type, /** @type {string} */ help, /** @type {[Record<string, string>, number][]} */ samples) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [extra, v] of samples) out.push(`${name}${lbl(extra)} ${v}`);
  };
  metric("geodetect_areas_total", "counter", "Areas run by detect(), by outcome.", [[{ outcome: "ok" }, m.areas.ok], [{ outcome: "error" }, m.areas.failed]]);
  metric("geodetect_detections_total", "counter", "Detections returned.", [[{}, m.detections]]);
  metric("geodetect_errors_total", "counter", "detect() errors, by code.", Object.entries(m.errors).map(([code, n]) => [{ code }, n]));
  metric("geodetect_tiles_total", "counter", "Tile downloads, by result.", [[{ result: "fetched" }, m.tiles.fetched], [{ result: "failed" }, m.tiles.failed]]);
  metric("geodetect_tile_retries_total", "counter", "Retries spent on tiles that failed in the end.", [[{}, m.tiles.retriesOfFailed]]);
  out.push("# HELP geodetect_stage_duration_seconds Time per stage of completed detect() calls.", "# TYPE geodetect_stage_duration_seconds histogram");
  for (const [stage, h] of Object.entries(m.stages)) {
    h.bucketsMs.forEach((le, i) => out.push(`geodetect_stage_duration_seconds_bucket${lbl({ stage, le: String(le / 1000) })} ${h.counts[i]}`));
    out.push(`geodetect_stage_duration_seconds_bucket${lbl({ stage, le: "+Inf" })} ${h.count}`);
    out.push(`geodetect_stage_duration_seconds_sum${lbl({ stage })} ${h.sumMs / 1000}`);
    out.push(`geodetect_stage_duration_seconds_count${lbl({ stage })} ${h.count}`);
  }
  return `${out.join("\n")}\n`;
}

/** Lets the constructor refuse calls that do not come from Detector.create(). */
const CREATE = Symbol("geodetect.create");

/**
 * Detects objects on map imagery inside a polygon. Create one with `Detector.create()`;
 * it owns one dedicated worker with the wasm engine and the loaded model.
 */
export class Detector {
  /** @type {WorkerClient} */
  #client;
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
   * @param {WorkerClient} client
   * @param {InitResult} init
   * @param {string} modelBaseUrl
   */
  constructor(token, client, init, modelBaseUrl) {
    if (token !== CREATE) throw new TypeError("use `await Detector.create(options)` to make a Detector");
    this.#client = client;
    this.#backend = init.backend;
    this.#info = init.info;
    this.#modelBaseUrl = modelBaseUrl;
  }

  /**
   * Start a worker, load the wasm engine and the model, pick the backend.
   * @param {DetectorOptions} options
   * @returns {Promise<Detector>}
   */
  static async create(options) {
    const engine = engineOptions(options);
    const { signal, onProgress, workerUrl } = options;
    if (signal?.aborted) throw abortError(signal);
    const client = new WorkerClient(workerUrl);
    try {
      const init = await client.request(MSG.INIT, { protocol: PROTOCOL, options: engine }, { signal, onProgress });
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
      const result = await this.#client.request(MSG.DETECT, { aoi, options: opts }, { signal, onProgress: track, onDetections });
      this.#metrics.succeeded(result, last);
      return result;
    } catch (e) {
      this.#metrics.failed(e, last);
      throw e;
    }
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
    await this.#client.request(MSG.PRELOAD, { ids: [...ids] }, { signal });
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
    return this.#client.request(MSG.MODELS, { modelBaseUrl: this.#modelBaseUrl }, { signal });
  }

  /**
   * Run the engine's self-test (two forward passes over a small synthetic image, checked for
   * shape, finite values and determinism) on every worker, and report the detector's
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
    /** @type {Health["workers"]} */
    const workers = [];
    try {
      workers.push({ alive: true, ...(await this.#client.request(MSG.HEALTH, {}, { signal })) });
    } catch (e) {
      if (e instanceof GeodetectError && e.code === "ABORTED") throw e;
      const err = e instanceof GeodetectError ? e : new GeodetectError("INTERNAL", describe(e));
      workers.push({ alive: !this.#client.failed, ok: false, error: `${err.code}: ${err.message}` });
    }
    const passing = workers.filter((w) => w.ok).length;
    const info = this.#info;
    const reasons = [
      ...workers.filter((w) => !w.ok).map((w) => `a worker failed its self-test: ${w.error}`),
      ...(info.fallbackReason ? [`the CPU runs instead of WebGPU: ${info.fallbackReason}`] : []),
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
      workers,
    };
  }

  /**
   * What this detector has done so far: counters (areas run, detections, errors by code,
   * tiles fetched and failed, retries of failed tiles) and latency histograms of each stage
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
    const snapshot = this.#metrics.snapshot();
    if (format === "json") return snapshot;
    return prometheus(snapshot, { model: this.#info.model.id, backend: this.#backend });
  }

  /** Terminate the worker; pending requests reject with DISPOSED. Safe to call twice. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#client.terminate("DISPOSED", "the detector was disposed");
  }
}
