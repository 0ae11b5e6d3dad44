// Type declarations for the public API of geodetect. The engine's options and results are
// generated from the Rust serde structs into ./types.d.ts (tsify; a Rust test fails when
// that file is stale) and re-exported here; this file hand-writes only what is JS-only:
// GeodetectError and the client's error codes, the Detector class, and the options that
// never reach the engine (signal, onProgress, workerUrl, a URL object as modelBaseUrl).
// GeoJSON types are @types/geojson's. Needs the "dom" (or "webworker") lib for
// AbortSignal and URL.

import type { Feature, FeatureCollection, MultiPolygon, Polygon } from "geojson";
import type * as engine from "./types.js";

// ---------------------------------------------------------------------------------------
// GeoJSON (RFC 7946), from @types/geojson
// ---------------------------------------------------------------------------------------

export type {
  BBox,
  Feature,
  FeatureCollection,
  GeoJsonProperties,
  Geometry,
  GeometryCollection,
  LineString,
  MultiLineString,
  MultiPoint,
  MultiPolygon,
  Point,
  Polygon,
  Position,
} from "geojson";

/**
 * The area to search: a Polygon or MultiPolygon in lon/lat, bare, as a Feature, or as a
 * FeatureCollection whose features are all (Multi)Polygons (their union is used).
 */
export type AreaOfInterest =
  | Polygon
  | MultiPolygon
  | Feature<Polygon | MultiPolygon, unknown>
  | FeatureCollection<Polygon | MultiPolygon, unknown>;

// ---------------------------------------------------------------------------------------
// The engine's types (generated from Rust), under their generated and their public names
// ---------------------------------------------------------------------------------------

export type {
  AdapterInfo,
  Architecture,
  Backend,
  BackendChoice,
  ClassRef,
  Clip,
  ConvAct,
  DetectionProperties,
  DetectResult,
  EngineInfo,
  FailedChunk,
  Family,
  FetchPolicy,
  ImageInfo,
  ModelEntry,
  ModelSource,
  Postprocess,
  Preset,
  Progress,
  Scale,
  Stage,
  Task,
  TileFailure,
  TileId,
  TileSource,
  TileStats,
  Timings,
  WeightsFile,
  WmsOptions,
  WmsVersion,
  WorkerHealth,
} from "./types.js";

/**
 * Which backend to use: `"auto"` takes WebGPU on a hardware adapter and the CPU otherwise
 * (a software fallback adapter is slower than the CPU); `"webgpu"` takes any adapter.
 */
export type BackendPreference = engine.BackendChoice;
/** How tiles and weights are fetched. */
export type FetchOptions = engine.FetchPolicy;
/** A stage of the pipeline, as reported to `onProgress`. */
export type ProgressStage = engine.Stage;
/** Network layout of a model. */
export type ModelArchitecture = engine.Architecture;
/** A model from the manifest (`manifest.json` in `modelBaseUrl`, format version 1). */
export type ModelInfo = engine.ModelEntry;
/** A tile address. */
export type TileCoord = engine.TileId;
/** A tile that could not be loaded; its area was treated as empty. */
export type MissingTile = engine.TileFailure;
/** One detection: its (possibly rotated) box as a closed, counter-clockwise Polygon in lon/lat. */
export type Detection = Feature<Polygon, engine.DetectionProperties>;
/** The detections of one call, as an RFC 7946 FeatureCollection. */
export type DetectionCollection = FeatureCollection<Polygon, engine.DetectionProperties>;

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/**
 * The codes the JS client adds to the engine's (`pkg/protocol.js` lists them at run time):
 * - `WORKER_FAILED`: no worker could be started (the script or its wasm could not be
 *   loaded, a CSP forbids it), or it threw or died; when no worker can be started any more
 *   the detector is unusable.
 * - `WORKER_CRASHED`: the engine crashed (a wasm trap: a bug, or out of memory) or ran past
 *   `chunkTimeoutMs`, on a fresh worker too (the first time, the pool replaces the worker
 *   and runs the work again). A chunk of a larger area that fails twice is listed in the
 *   result's `failedChunks` instead; the area fails only when none of its chunks ran.
 * - `DISPOSED`: the detector was disposed (pending requests, and any use afterwards).
 * - `UNSUPPORTED_BROWSER`: the browser lacks WebAssembly SIMD (or WebAssembly, or Web
 *   Workers); the message names what is missing. No worker is started.
 */
export type ClientErrorCode = "WORKER_FAILED" | "WORKER_CRASHED" | "DISPOSED" | "UNSUPPORTED_BROWSER";

/**
 * Stable, machine-readable error codes (`GeodetectError.code`): the engine's (generated
 * from the Rust `ErrorCode`; see pkg/README.md for when each happens) and the client's.
 */
export type ErrorCode = engine.ErrorCode | ClientErrorCode;

/** The error every geodetect promise rejects with. Branch on `code`, not on `message`. */
export declare class GeodetectError extends Error {
  /**
   * @param code one of {@link ErrorCode}
   * @param message human-readable description
   * @param options `cause`: the underlying error, if any
   */
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown });
  /** Always `"GeodetectError"`. */
  name: "GeodetectError";
  /** What went wrong, as a stable code. */
  code: ErrorCode;
}

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------

/**
 * Options of {@link Detector.create}: the engine's options, plus what only the client
 * uses. Types are checked on the main thread; ranges by the engine (`INVALID_OPTIONS`,
 * naming the option, e.g. `fetch.concurrency`).
 */
export interface DetectorOptions extends Omit<engine.EngineOptions, "modelBaseUrl"> {
  /**
   * Directory (URL) that holds `manifest.json` and the weight files. Relative URLs are
   * resolved against the page. Default: `./models/` next to the package's `index.js`
   * (`new URL("./models/", import.meta.url)`); with a bundler, set it explicitly.
   */
  modelBaseUrl?: string | URL;
  /**
   * Advanced: URL of the worker script to start instead of the package's `worker.js`
   * (e.g. a copy on your own origin for a strict CSP). It must be a module worker that
   * speaks the same protocol version, normally an unmodified copy of `worker.js` with its
   * `worker-core.js`, `protocol.js` and `wasm/` next to it.
   */
  workerUrl?: string | URL;
  /** Cancels the creation (terminates the worker); rejects with `ABORTED`. */
  signal?: AbortSignal;
  /** Progress while the engine and the model load (stage `"model"`). */
  onProgress?: (progress: engine.Progress) => void;
}

/** Options of {@link Detector.detect}: the engine's, plus a signal and a progress callback. */
export interface DetectOptions extends Omit<engine.DetectOptions, "classes"> {
  /** The engine's `classes`; a readonly array is fine too (the client copies it). */
  classes?: Readonly<engine.DetectOptions["classes"]>;
  /** Cancels the detection: the promise rejects with `ABORTED` at once. */
  signal?: AbortSignal;
  /** Called as tiles arrive and stages complete. */
  onProgress?: (progress: engine.Progress) => void;
  /**
   * Called with each batch of detections as soon as they are final (an area runs chunk by
   * chunk; a detection near a chunk's edge waits until its neighbours have run), with the
   * progress so far. Every batch is also in the final result.
   */
  onDetections?: (batch: DetectionBatch, progress: engine.Progress) => void;
}

/** Options of {@link Detector.detectMany}: detect()'s, for every area, and the batch's own. */
export interface DetectManyOptions extends Omit<DetectOptions, "onProgress" | "onDetections"> {
  /** Most areas in one call, 1..=10000 (more is `INVALID_OPTIONS`). Default 50. */
  maxAreas?: number;
  /** Areas run at once, 1..=10000 (each shares the pool). Default: the pool's `workers`. */
  concurrency?: number;
  /** Called as each area settles, with its index in `areas`. */
  onArea?: (settled: SettledDetection, index: number) => void;
  /** detect()'s `onProgress`, with the area's index. */
  onProgress?: (progress: engine.Progress, index: number) => void;
  /** detect()'s `onDetections`, with the area's index. */
  onDetections?: (batch: DetectionBatch, progress: engine.Progress, index: number) => void;
}

/** One area's outcome in {@link Detector.detectMany}, as `Promise.allSettled` gives it. */
export type SettledDetection =
  | { status: "fulfilled"; value: engine.DetectResult }
  | { status: "rejected"; reason: GeodetectError };

/** Detections that became final together: a FeatureCollection like the result's. */
export type DetectionBatch = DetectionCollection;

/** One item of {@link Detector.detectStream}. */
export interface DetectionBatchEvent {
  /** The batch's detections. */
  detections: DetectionBatch;
  /** Progress when the batch became final: chunks, tiles, detections so far, ETA. */
  progress: engine.Progress;
}

/** What {@link Detector.detectStream} returns: the batches, then the whole result. */
export interface DetectStream extends AsyncIterable<DetectionBatchEvent> {
  /** The whole result, as detect() resolves it; rejects when the run fails or is aborted. */
  readonly result: Promise<engine.DetectResult>;
}

/** What {@link Detector.health} reports. */
export interface Health {
  /**
   * `"healthy"`; `"degraded"` when a worker failed its self-test or the engine runs with less
   * than was asked for (the CPU instead of WebGPU, fewer threads); `"unhealthy"` when no
   * worker passes its self-test.
   */
  status: "healthy" | "degraded" | "unhealthy";
  /** Why the status is not `"healthy"` (empty when it is). */
  reasons: string[];
  /** Milliseconds the check took. */
  checkedMs: number;
  /** geodetect's version, as a worker reports it (null when none answered). */
  version: string | null;
  /** The backend in use. */
  backend: engine.Backend;
  /** The WebGPU adapter, if the backend is WebGPU. */
  adapter: engine.AdapterInfo | null;
  /** The loaded model and the SHA-256 its weights were verified against. */
  model: { id: string; weightsSha256: string };
  /** Workers that answered, and started so far. */
  workersAlive: number;
  workersTotal: number;
  /** Workers the pool grows to (the `workers` option): it starts one, and the rest with the
   * first area of several chunks. */
  workersWanted: number;
  /** Each worker's report; a worker that did not answer has only `alive`, `ok` and `error`. */
  workers: (({ alive: true } & engine.WorkerHealth) | { alive: boolean; ok: false; error: string })[];
}

/** A latency histogram of one stage (cumulative bucket counts, as Prometheus has them). */
export interface StageHistogram {
  /** Upper bounds of the buckets, in milliseconds (a last `+Inf` bucket is implied by `count`). */
  bucketsMs: number[];
  /** Calls that took at most each bound. */
  counts: number[];
  /** Milliseconds in all. */
  sumMs: number;
  /** Calls measured. */
  count: number;
}

/** What {@link Detector.metrics} returns (a copy; later calls do not change it). */
export interface MetricsSnapshot {
  /** Workers started (replacements included), and replaced after a crash, death or timeout. */
  workers: { started: number; replaced: number };
  /** Chunks (or whole areas of one chunk) that a lost worker left: run again, and given up. */
  chunks: { retried: number; failed: number };
  /** detect() calls that resolved (`ok`) and rejected (`failed`). */
  areas: { ok: number; failed: number };
  /** Detections returned in all. */
  detections: number;
  /** Rejections by error code. */
  errors: Partial<Record<ErrorCode, number>>;
  /**
   * Tiles of the calls that resolved: loads needed, downloaded, taken from the workers' tile
   * caches, failed, download retries, and bytes downloaded (a call that failed adds the
   * tiles it had loaded to `requested` only).
   */
  tiles: { requested: number; downloaded: number; fromCache: number; empty: number; failed: number; retries: number; bytes: number };
  /** Per stage of `DetectResult.timings`, over the calls that resolved. */
  stages: Record<keyof engine.Timings, StageHistogram>;
}

/** Options of {@link Detector.models} (static). */
export interface ModelsOptions {
  /** Model directory; same default as {@link DetectorOptions.modelBaseUrl}. */
  modelBaseUrl?: string | URL;
  /** See {@link DetectorOptions.workerUrl}. */
  workerUrl?: string | URL;
  /** Cancels the request. */
  signal?: AbortSignal;
}

/** Options that only carry an AbortSignal. */
export interface SignalOptions {
  /** Cancels the request; the promise rejects with `ABORTED`. */
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------------------
// The detector
// ---------------------------------------------------------------------------------------

/**
 * Detects objects on map imagery inside a polygon. Each detector owns a pool of dedicated
 * workers (option `workers`), each with the wasm engine and the loaded model: an area of
 * several chunks runs on all of them at once.
 *
 * @example
 * const detector = await Detector.create({
 *   source: { url: "https://tiles.example.com/{z}/{x}/{y}.png" },
 *   model: "yolov8n-obb-dota",
 * });
 * const { detections } = await detector.detect(polygon, { zoom: 18 });
 * detector.dispose();
 */
export declare class Detector {
  private constructor();

  /**
   * Start the first worker, load the wasm engine and the model, and pick the backend. The
   * rest of the pool starts with the first area of several chunks. Each engine's warm-up
   * pass (shader compilation; the JIT's first run of the CPU path) runs after this
   * resolves, in the background: on WebGPU and with threads while the first `detect()`
   * downloads its tiles, on one thread once its tile requests are out. That call's model
   * waits for it, and a failed pass rejects it (and every later call) with the pass's own
   * error code.
   * @throws {GeodetectError} `INVALID_OPTIONS`, `UNKNOWN_MODEL`, `MODEL_LOAD_FAILED`,
   * `MODEL_INTEGRITY`, `BACKEND_UNAVAILABLE`, `UNSUPPORTED_BROWSER`, `WORKER_FAILED`, `ABORTED`
   */
  static create(options: DetectorOptions): Promise<Detector>;

  /**
   * The models in a model directory's manifest. Starts a short-lived worker.
   * @throws {GeodetectError} `MODEL_LOAD_FAILED`, `UNSUPPORTED_BROWSER`, `WORKER_FAILED`, `ABORTED`
   */
  static models(options?: ModelsOptions): Promise<ModelInfo[]>;

  /** The backend in use, known once {@link Detector.create} has resolved. */
  readonly backend: engine.Backend;

  /** Backend, WebGPU adapter and loaded model. */
  readonly info: engine.EngineInfo;

  /** True after {@link Detector.dispose}, or once no worker can be started any more. */
  readonly disposed: boolean;

  /** Workers in the pool: the `workers` option or its default. */
  readonly workers: number;

  /**
   * Fetch the tiles that cover `aoi` at `options.zoom`, stitch them, run the model and
   * return the detections inside the AOI. An area of several chunks runs on every worker of
   * the pool; calls share the pool's workers in the order they were made.
   * @throws {GeodetectError} `INVALID_POLYGON`, `ZOOM_OUT_OF_RANGE`, `TOO_MANY_TILES`,
   * `INVALID_OPTIONS`, `TILE_FETCH_FAILED`, `IMAGE_DECODE_FAILED`, `INFERENCE_FAILED`,
   * `ABORTED`, `WORKER_CRASHED`, `WORKER_FAILED`, `DISPOSED`, `INTERNAL`
   */
  detect(aoi: AreaOfInterest, options: DetectOptions): Promise<engine.DetectResult>;

  /**
   * {@link Detector.detect} on each of `areas` with the same options, sharing the pool, and
   * one settled result per area in input order (an area that fails is a `rejected` entry
   * with its error; it never fails the batch).
   * @throws {GeodetectError} `INVALID_OPTIONS` (not an array, more than `maxAreas`, options
   * of the wrong shape), `ABORTED`, `DISPOSED`
   * @example
   * const settled = await detector.detectMany(parcels, { zoom: 18 });
   * settled.forEach((s, i) => s.status === "fulfilled" ? show(i, s.value) : warn(i, s.reason.code));
   */
  detectMany(areas: readonly AreaOfInterest[], options: DetectManyOptions): Promise<SettledDetection[]>;

  /**
   * {@link Detector.detect}, its detections delivered in batches as soon as they are final.
   * Leaving the `for await` loop early aborts the run; errors are thrown by the loop and
   * reject `result`.
   * @example
   * const stream = detector.detectStream(harbour, { zoom: 18 });
   * for await (const { detections, progress } of stream) map.addDetections(detections, progress.etaMs);
   * const { missingTiles } = await stream.result;
   */
  detectStream(aoi: AreaOfInterest, options: DetectOptions): DetectStream;

  /**
   * Download, verify and cache (Cache API) the weights of these models.
   * @throws {GeodetectError} `UNKNOWN_MODEL`, `MODEL_LOAD_FAILED`, `MODEL_INTEGRITY`, `ABORTED`
   */
  preload(ids: readonly string[], options?: SignalOptions): Promise<void>;

  /** The models of this detector's `modelBaseUrl`. */
  models(options?: SignalOptions): Promise<ModelInfo[]>;

  /**
   * Run the engine's self-test on every worker and report the detector's health. Answers
   * while a detect() runs.
   * @throws {GeodetectError} `DISPOSED`, `ABORTED`
   */
  health(options?: SignalOptions): Promise<Health>;

  /** Counters and stage latency histograms of this detector's detect() calls so far. */
  metrics(options?: { format?: "json" }): MetricsSnapshot;
  /** The same in the Prometheus text exposition format (version 0.0.4). */
  metrics(options: { format: "prometheus" }): string;

  /** Terminate every worker; pending calls reject with `DISPOSED`. Idempotent. */
  dispose(): void;
}
