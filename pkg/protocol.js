// geodetect: the main <-> worker message protocol, in one place. Imported by index.js
// (main thread) and worker-core.js (worker): the protocol version, the message types and
// their shapes, the error codes, GeodetectError and how an error crosses postMessage, and
// the check that this browser can run the engine at all.
//
// Messages are structured clones; a Detector has a pool of workers (./pool.js), each of which
// loads the engine and the model once.
//   main -> worker  requests  { type: "init" | "detect" | "preload" | "models" | "health"
//                                 | "runChunk" | "startRun" | "mergeChunk" | "failChunk"
//                                 | "finishRun", id, payload }
//                             each answered by exactly one "result" or "error" with its id
//                             ("health" and the merge requests, startRun to finishRun, run at
//                             once, beside a detect or runChunk in progress)
//                   controls  { type: "abort", id }   abort request `id` (no answer)
//                             { type: "dropRun", run }   forget a pool run's merge and plan
//                             { type: "dispose" }     free the engine, close the worker
//   worker -> main  replies   { type: "progress", id, progress }   any number, before the answer
//                             { type: "detections", id, batch, progress }   detect only: final
//                                 detections (a FeatureCollection) as soon as they are final
//                             { type: "result", id, result }
//                             { type: "error", id, error: { code, message } }
//                             { type: "fatal", error: { code, message } }   the worker is unusable
// An area of several chunks runs on the whole pool: one worker plans it and keeps its merge
// (startRun), every worker runs chunks (runChunk), and each chunk's boxes go to the merging
// worker (mergeChunk, or failChunk when no worker could run it) until finishRun.
// Queued requests (init, detect, runChunk, preload, models) run one at a time, in order. Answers for ids that are no longer pending
// (aborted, disposed) are dropped by the client.

/**
 * Version of the message protocol. The client sends it with "init" and the worker answers
 * with its own; they must be equal (a `workerUrl` from another geodetect version is refused).
 */
export const PROTOCOL = 3;

/** Message type names: requests, controls, replies. */
export const MSG = Object.freeze(/** @type {const} */ ({
  // Requests (main -> worker), answered by RESULT or ERROR.
  INIT: "init",
  DETECT: "detect",
  PRELOAD: "preload",
  MODELS: "models",
  HEALTH: "health",
  RUN_CHUNK: "runChunk",
  START_RUN: "startRun",
  MERGE_CHUNK: "mergeChunk",
  FAIL_CHUNK: "failChunk",
  FINISH_RUN: "finishRun",
  // Controls (main -> worker), never answered.
  ABORT: "abort",
  DROP_RUN: "dropRun",
  DISPOSE: "dispose",
  // Replies (worker -> main).
  PROGRESS: "progress",
  DETECTIONS: "detections",
  RESULT: "result",
  ERROR: "error",
  FATAL: "fatal",
}));

// ---------------------------------------------------------------------------------------
// Message shapes. The engine's options and results are the types generated from the Rust
// serde structs (./types.d.ts).
// ---------------------------------------------------------------------------------------

/** @typedef {import("./types.js").EngineOptions} EngineOptions */
/** @typedef {import("./types.js").DetectOptions} EngineDetectOptions */
/** @typedef {import("./types.js").DetectResult} DetectResult */
/** @typedef {import("./types.js").EngineInfo} EngineInfo */
/** @typedef {import("./types.js").ModelEntry} ModelEntry */
/** @typedef {import("./types.js").Backend} Backend */
/** @typedef {import("./types.js").Progress} Progress */

/**
 * What each request carries and what its "result" reply carries.
 * @typedef {object} Requests
 * @property {{ payload: { protocol: number, options: EngineOptions }, result: InitResult }} init
 *   load the engine and the model; `protocol` is the client's {@link PROTOCOL}
 * @property {{ payload: { aoi: unknown, options: EngineDetectOptions }, result: import("./types.js").FinishedRun }} detect
 *   `aoi` is the caller's GeoJSON, checked by the engine; the detections come in "detections"
 *   replies, the result without them, with their order
 * @property {{ payload: { ids: string[] }, result: null }} preload
 * @property {{ payload: { modelBaseUrl: string }, result: ModelEntry[] }} models
 *   the manifest at an absolute directory URL (needs no "init")
 * @property {{ payload: Record<string, never>, result: import("./types.js").WorkerHealth }} health
 *   the engine's self-test and vital signs
 * @property {{ payload: { run: number, aoi: unknown, options: EngineDetectOptions }, result: import("./types.js").RunPlan }} startRun
 *   plan pool run `run` (an id unique per client) and keep its merge on this worker
 * @property {{ payload: { run: number, aoi: unknown, options: EngineDetectOptions, chunk: number, next?: number }, result: import("./types.js").ChunkOutput }} runChunk
 *   run one chunk of pool run `run` (any worker; the area and options as given to startRun),
 *   loading chunk `next` meanwhile for this worker's next runChunk
 * @property {{ payload: { run: number, output: import("./types.js").ChunkOutput }, result: import("./types.js").MergeUpdate }} mergeChunk
 *   merge a chunk's output into the run (on the worker that started it)
 * @property {{ payload: { run: number, failure: import("./types.js").ChunkFailure }, result: import("./types.js").MergeUpdate }} failChunk
 *   give up a chunk no worker could run
 * @property {{ payload: { run: number, totalMs: number }, result: import("./types.js").FinishedRun }} finishRun
 *   the run's result, once every chunk is merged or given up
 */

/**
 * The answer to "init".
 * @typedef {object} InitResult
 * @property {number} protocol the worker's {@link PROTOCOL}
 * @property {Backend} backend
 * @property {EngineInfo} info
 */

/** @typedef {keyof Requests} RequestType */

/**
 * A request of type `T`.
 * @template {RequestType} [T=RequestType]
 * @typedef {{ [K in T]: { type: K, id: number, payload: Requests[K]["payload"] } }[T]} Request
 */

/** @typedef {{ type: typeof MSG.ABORT, id: number }} AbortControl */
/** @typedef {{ type: typeof MSG.DROP_RUN, run: number }} DropRunControl */
/** @typedef {{ type: typeof MSG.DISPOSE }} DisposeControl */

/** Everything the main thread posts to the worker. @typedef {Request | AbortControl | DropRunControl | DisposeControl} ToWorker */

/**
 * An error as it crosses postMessage.
 * @typedef {object} WireError
 * @property {ErrorCode} code
 * @property {string} message
 */

/** @typedef {{ type: typeof MSG.PROGRESS, id: number, progress: Progress }} ProgressReply */
/** @typedef {import("geojson").FeatureCollection<import("geojson").Polygon, import("./types.js").DetectionProperties>} DetectionBatch */
/** @typedef {{ type: typeof MSG.DETECTIONS, id: number, batch: DetectionBatch, progress: Progress }} DetectionsReply */
/**
 * @template {RequestType} [T=RequestType]
 * @typedef {{ type: typeof MSG.RESULT, id: number, result: Requests[T]["result"] }} ResultReply
 */
/** @typedef {{ type: typeof MSG.ERROR, id: number, error: WireError }} ErrorReply */
/** @typedef {{ type: typeof MSG.FATAL, error: WireError }} FatalReply */

/** Everything the worker posts to the main thread. @typedef {ProgressReply | DetectionsReply | ResultReply | ErrorReply | FatalReply} FromWorker */

// ---------------------------------------------------------------------------------------
// Error codes
// ---------------------------------------------------------------------------------------

/**
 * The codes of the Rust engine's errors (`crate::Error::code`). The generated `ErrorCode`
 * of ./types.d.ts must be exactly these: types-test/codes.ts fails to compile otherwise.
 */
export const ENGINE_ERROR_CODES = Object.freeze(/** @type {const} */ ([
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
]));

/** The codes that only the JS client and worker runtime produce. */
export const CLIENT_ERROR_CODES = Object.freeze(/** @type {const} */ ([
  // The worker could not start, threw, or died; or it speaks another protocol version.
  "WORKER_FAILED",
  // The engine crashed (a wasm trap: a bug, or out of memory) or a chunk ran past
  // `chunkTimeoutMs`, on a fresh worker too (the first crash is retried on a new worker).
  "WORKER_CRASHED",
  // The detector was disposed.
  "DISPOSED",
  // This browser lacks something the engine needs (WebAssembly SIMD, workers).
  "UNSUPPORTED_BROWSER",
]));

/** @typedef {typeof ENGINE_ERROR_CODES[number]} EngineErrorCode */
/** @typedef {typeof CLIENT_ERROR_CODES[number]} ClientErrorCode */
/** @typedef {EngineErrorCode | ClientErrorCode} ErrorCode */

/** @type {ReadonlySet<string>} */
const ERROR_CODES = new Set([...ENGINE_ERROR_CODES, ...CLIENT_ERROR_CODES]);

/**
 * @param {unknown} code
 * @returns {code is ErrorCode}
 */
export function isErrorCode(code) {
  return typeof code === "string" && ERROR_CODES.has(code);
}

/** Every error geodetect rejects with. Branch on `code`, not on `message`. */
export class GeodetectError extends Error {
  /**
   * @param {ErrorCode} code
   * @param {string} message
   * @param {{ cause?: unknown }} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    /** @type {"GeodetectError"} */
    this.name = "GeodetectError";
    /** @type {ErrorCode} */
    this.code = code;
  }
}

/**
 * The message of an Error, else the string form of whatever was thrown.
 * @param {unknown} e
 * @returns {string}
 */
export function describe(e) {
  if (e !== null && typeof e === "object" && "message" in e && typeof e.message === "string" && e.message) return e.message;
  return String(e);
}

/**
 * Anything thrown -> `{ code, message }`, for postMessage. The engine's errors (JS Errors
 * with a `code` from the Rust side) and GeodetectErrors keep their code; a DOM AbortError
 * becomes ABORTED; anything else, or an unknown code, is INTERNAL.
 * @param {unknown} e
 * @returns {WireError}
 */
export function errorToWire(e) {
  const message = describe(e);
  if (e === null || typeof e !== "object") return { code: "INTERNAL", message };
  const code = "code" in e ? e.code : undefined;
  if (isErrorCode(code)) return { code, message };
  if ("name" in e && e.name === "AbortError") return { code: "ABORTED", message };
  return { code: "INTERNAL", message };
}

/**
 * Re-create an error that crossed postMessage as `{ code, message }` (the other side may
 * be a worker of another version, so nothing about its shape is trusted).
 * @param {unknown} error
 * @returns {GeodetectError}
 */
export function errorFromWire(error) {
  const obj = error !== null && typeof error === "object" ? /** @type {{ code?: unknown, message?: unknown }} */ (error) : {};
  const code = isErrorCode(obj.code) ? obj.code : "INTERNAL";
  const message = typeof obj.message === "string" && obj.message ? obj.message : `geodetect error ${code}`;
  return new GeodetectError(code, message);
}

// ---------------------------------------------------------------------------------------
// Browser support
// ---------------------------------------------------------------------------------------

// The smallest module that uses a v128 instruction: it validates only where WebAssembly
// SIMD (the final simd128 proposal, which the engine is compiled with) is supported.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, // magic: "\0asm"
  0x01, 0x00, 0x00, 0x00, // binary format version 1
  // Type section (id 1, 5 bytes): 1 type, a function () -> v128 (0x7b).
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
  // Function section (id 3, 2 bytes): 1 function, of type 0.
  0x03, 0x02, 0x01, 0x00,
  // Code section (id 10, 10 bytes): 1 body of 8 bytes, no locals:
  0x0a, 0x0a, 0x01, 0x08, 0x00,
  0x41, 0x00, //   i32.const 0
  0xfd, 0x0f, //   i8x16.splat    (SIMD prefix 0xfd, opcode 15)
  0xfd, 0x62, //   i8x16.popcnt   (opcode 98: only in the final SIMD opcode numbering)
  0x0b, //         end
]);

// A module that runs one `f32x4.relaxed_madd` (relaxed SIMD, opcode 0x105) on three splats: it
// validates only where the relaxed-SIMD engines (pkg/engines.mjs) can be compiled.
export const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
  0x03, 0x02, 0x01, 0x00, // functions: one, of type 0
  // Code section (id 10, 28 bytes): 1 body of 26 bytes, no locals:
  0x0a, 0x1c, 0x01, 0x1a, 0x00,
  ...[1, 2, 3].flatMap(() => [0x43, 0x00, 0x00, 0x80, 0x3f, 0xfd, 0x13]), //   (f32.const 1, f32x4.splat) x 3
  0xfd, 0x85, 0x02, //   f32x4.relaxed_madd (LEB128 of 0x105)
  0x0b, //             end
]);

/**
 * True when this environment can compile wasm relaxed SIMD (the worker then loads the
 * engines built with it: fused multiply-add in the convolutions).
 * @returns {boolean}
 */
export function hasRelaxedSimd() {
  try {
    return typeof WebAssembly === "object" && WebAssembly !== null && WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

/**
 * What this JS environment lacks to run the engine, as phrases for an error message
 * (empty when nothing is missing).
 * @param {{ workers?: boolean }} [need] `workers`: also needs to start a worker (the main thread)
 * @returns {string[]}
 */
export function missingFeatures({ workers = false } = {}) {
  const missing = [];
  if (typeof WebAssembly !== "object" || WebAssembly === null || typeof WebAssembly.validate !== "function") {
    missing.push("WebAssembly");
  } else {
    let simd = false;
    try {
      simd = WebAssembly.validate(SIMD_PROBE);
    } catch {
      // A broken validate() counts as no SIMD.
    }
    if (!simd) missing.push("WebAssembly SIMD (simd128)");
  }
  if (workers && typeof Worker !== "function") missing.push("Web Workers (module workers)");
  return missing;
}

/**
 * An UNSUPPORTED_BROWSER error naming what is missing, or null when the engine can run here.
 * @param {{ workers?: boolean }} [need] see {@link missingFeatures}
 * @returns {GeodetectError | null}
 */
export function unsupportedBrowser(need) {
  const missing = missingFeatures(need);
  if (!missing.length) return null;
  return new GeodetectError(
    "UNSUPPORTED_BROWSER",
    `this browser cannot run geodetect: it lacks ${missing.join(" and ")} (see "Browser support" in geodetect's README)`,
  );
}
