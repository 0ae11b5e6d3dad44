//! What `Detector.create` and `detector.detect` resolve to.

use serde::{Deserialize, Serialize};

use crate::detect::{Backend, Candidate};
use crate::imagery::{Grid, PixelExtent};
use crate::model::ModelEntry;
use crate::tiles::fetch::{TileFailure, TileStats};

/// The WebGPU adapter in use, as the browser describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct AdapterInfo {
    /// `GPUAdapterInfo.vendor`.
    pub vendor: String,
    /// `GPUAdapterInfo.architecture`.
    pub architecture: String,
    /// `GPUAdapterInfo.device`.
    pub device: String,
    /// `GPUAdapterInfo.description`.
    pub description: String,
    /// True for software adapters such as SwiftShader: correct, but slow.
    pub is_fallback_adapter: bool,
}

/// What a detector runs on (`detector.info`).
#[derive(Clone, Debug, PartialEq, Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct EngineInfo {
    /// The backend in use.
    pub backend: Backend,
    /// The WebGPU adapter, when `backend` is `"webgpu"` (else null).
    pub adapter: Option<AdapterInfo>,
    /// Why `backend: "auto"` fell back to the CPU (else null).
    pub fallback_reason: Option<String>,
    /// The loaded model.
    pub model: ModelEntry,
    /// Milliseconds that create() spent loading the engine and the model (the warm-up pass
    /// runs after, in the background).
    pub load_ms: f64,
    /// True when the weights came from the Cache API instead of the network.
    pub weights_from_cache: bool,
    /// Threads the CPU path runs on (1: the single-threaded engine).
    pub threads: u32,
    /// Why fewer threads run than `threads` asked for (else null).
    pub threads_note: Option<String>,
    /// True when this engine's CPU path was built with wasm relaxed SIMD (fused multiply-add
    /// in the convolutions), which the worker loads where the browser validates it.
    pub relaxed_simd: bool,
    /// The `chunkTimeoutMs` in force.
    pub chunk_timeout_ms: u32,
}

/// One worker's answer to `detector.health()`.
#[derive(Clone, Debug, PartialEq, Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct WorkerHealth {
    /// True when the engine's self-test passed.
    pub ok: bool,
    /// Why the self-test failed (else null).
    pub error: Option<String>,
    /// Milliseconds the self-test took (two forward passes over a small synthetic image).
    pub self_test_ms: f64,
    /// Bytes of the engine's wasm memory (shared by the threads of the threaded engine).
    pub memory_bytes: f64,
    /// The backend in use: the CPU once a WebGPU device was lost.
    pub backend: Backend,
    /// Why this worker's network runs on the CPU although it was loaded on WebGPU (its
    /// device was lost), else null.
    pub fallback_reason: Option<String>,
    /// The loaded model's id.
    pub model_id: String,
    /// SHA-256 of its weights, as verified when they were loaded.
    pub weights_sha256: String,
    /// The engine's version (geodetect's).
    pub version: String,
}

/// The stitched raster the model saw.
#[derive(Clone, Debug, PartialEq, Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ImageInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Tile zoom level (for a COG: the zoom asked for, whose ground resolution chose `level`).
    pub zoom: u8,
    /// Tile edge in pixels.
    pub tile_size: u32,
    /// The CRS of the raster's pixel grid: `"EPSG:3857"` for map tiles, the image's own
    /// (e.g. `"EPSG:32617"`) for a COG.
    pub crs: String,
    /// For a COG, the level the model ran on: 0 is the full resolution, then the overviews,
    /// largest first (null for map tiles).
    pub level: Option<u8>,
    /// `[west, south, east, north]` in lon/lat degrees (for a COG, the box around the
    /// raster's edges).
    pub bounds: [f64; 4],
    /// `[minX, minY, maxX, maxY]` in EPSG:3857 metres (for a COG, of `bounds`).
    #[serde(rename = "bounds3857")]
    pub bounds_3857: [f64; 4],
    /// Pixel `[x, y]` of the raster's top-left corner in its grid: global pixels at `zoom`,
    /// or pixels of the COG's `level`.
    pub origin: [i64; 2],
}

impl From<&PixelExtent> for ImageInfo {
    fn from(e: &PixelExtent) -> Self {
        ImageInfo {
            width: e.width,
            height: e.height,
            zoom: match e.grid {
                Grid::Mercator { zoom, .. } => zoom,
                Grid::Image(g) => g.zoom,
            },
            tile_size: e.grid.tile_size(),
            crs: e.grid.crs_name(),
            level: match e.grid {
                Grid::Mercator { .. } => None,
                Grid::Image(g) => Some(g.level),
            },
            bounds: e.bounds_lonlat(),
            bounds_3857: e.bounds_3857(),
            origin: [e.x0, e.y0],
        }
    }
}

/// Milliseconds spent per stage. An area of several chunks fetches and decodes the next chunk
/// while the model runs on the current one, and the single-threaded CPU engine runs the first
/// window's first layers while its tiles arrive, so `fetch` and `decode` overlap `inference`
/// and the stages can add up to more than `total`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, tsify::Tsify)]
pub struct Timings {
    /// Downloading tiles: until the last download settled. In the browser each tile is
    /// decoded as soon as it arrives, so this includes the decoding that overlapped it.
    pub fetch: f64,
    /// Decoding tiles and stitching them into the raster, after the downloads (in the
    /// browser: the last tiles' decoding).
    pub decode: f64,
    /// Cutting model windows and converting them to model input.
    pub preprocess: f64,
    /// Running the network (the bands of a first window's first layers that ran while its
    /// tiles arrived included).
    pub inference: f64,
    /// Decoding boxes, NMS, mapping to lon/lat and building GeoJSON.
    pub postprocess: f64,
    /// The whole call.
    pub total: f64,
}

/// A chunk of an area that was not run (see `DetectResult.failedChunks`).
#[derive(Clone, Debug, PartialEq, Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct FailedChunk {
    /// The chunk's number in the area's plan.
    pub chunk: usize,
    /// `[west, south, east, north]` of the chunk's raster, in lon/lat degrees.
    pub bounds: [f64; 4],
    /// Why its last attempt failed.
    pub reason: String,
    /// Attempts made, including the first.
    pub attempts: u32,
}

/// A chunk that no worker could run, as the pool reports it to the run's merge.
#[derive(Clone, Debug, PartialEq, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChunkFailure {
    /// The chunk's number in the area's plan.
    pub chunk: usize,
    /// Why its last attempt failed.
    pub reason: String,
    /// Attempts made, including the first.
    pub attempts: u32,
}

/// An area's plan as the pool needs it (`startRun`): what to share out among the workers.
#[derive(Clone, Debug, PartialEq, Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct RunPlan {
    /// Chunks in the plan (numbered from 0, in the order a single worker runs them).
    pub chunks: usize,
    /// Model windows in all chunks.
    pub windows: usize,
    /// Tile fetches in all chunks (a tile on the seam of two chunks counts twice).
    pub tiles: usize,
    /// The raster of the whole area.
    pub image: ImageInfo,
}

/// One chunk run by a worker (`runChunk`): its boxes before the seam merge, which the
/// worker that merges the area's chunks takes as they are (`mergeChunk`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChunkOutput {
    /// The chunk's number in the area's plan.
    pub chunk: usize,
    /// Its boxes, in the area's pixels, after NMS within each window (opaque to JS: only
    /// passed on to the merge).
    #[tsify(type = "unknown[]")]
    pub boxes: Vec<Candidate>,
    /// Its tiles that failed.
    pub missing_tiles: Vec<TileFailure>,
    /// What loading its tiles took.
    pub tiles: TileStats,
    /// Time per stage on the worker that ran it (`total`: the whole chunk).
    pub timings: Timings,
    /// Model windows run.
    pub windows: usize,
    /// Why its windows ran on the CPU on a WebGPU worker (the device was lost), else null.
    #[serde(default)]
    pub fallback_reason: Option<String>,
}

/// What merging a chunk (or giving one up) releases: the detections that became final, and
/// where the area's merge stands.
#[derive(Clone, Debug, Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct MergeUpdate {
    /// The detections that became final (possibly none).
    #[tsify(type = "import(\"geojson\").FeatureCollection<import(\"geojson\").Polygon, DetectionProperties>")]
    pub batch: serde_json::Value,
    /// Chunks merged or given up, of the area's.
    pub chunks_done: usize,
    /// Model windows of those chunks.
    pub windows_done: usize,
    /// Detections released so far.
    pub detections: usize,
}

/// The end of an area's run in a worker (`detect`, `finishRun`): its result without the
/// detections, which left the worker in batches, and their order in the result.
#[derive(Clone, Debug, Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct FinishedRun {
    /// The result; its `detections` are empty here.
    pub result: DetectResult,
    /// Detections released by the end (`finishRun`; empty for `detect`, which streamed them).
    #[tsify(type = "import(\"geojson\").FeatureCollection<import(\"geojson\").Polygon, DetectionProperties>")]
    pub batch: serde_json::Value,
    /// The result's detections, best first, as indices into every detection released (the
    /// batches in the order they were released, `batch` last).
    pub order: Vec<u32>,
}

/// What `detect` resolves to.
#[derive(Clone, Debug, Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct DetectResult {
    /// The detections inside the area, in lon/lat: an RFC 7946 FeatureCollection with one
    /// closed, counter-clockwise Polygon per detection.
    #[tsify(type = "import(\"geojson\").FeatureCollection<import(\"geojson\").Polygon, DetectionProperties>")]
    pub detections: serde_json::Value,
    /// The raster that was analysed.
    pub image: ImageInfo,
    /// Time per stage.
    pub timings: Timings,
    /// Tiles that failed (empty when all loaded); their area was treated as empty.
    pub missing_tiles: Vec<TileFailure>,
    /// What loading the tiles took: loads, downloads, tiles from the cache, retries, bytes.
    pub tiles: TileStats,
    /// Chunks of the area that no worker could run (empty when all ran): with a pool of
    /// workers, a chunk whose worker crashed or timed out is retried once on a fresh worker,
    /// and reported here if that fails too. Their area was treated as empty.
    pub failed_chunks: Vec<FailedChunk>,
    /// The backend that ran the network: `"cpu"` when any of it ran on the CPU after a WebGPU
    /// device was lost.
    pub backend: Backend,
    /// Why the network ran on the CPU although the detector chose WebGPU: the WebGPU device
    /// (of the worker that ran it, or of one that ran a chunk) was lost (a GPU reset, a driver
    /// crash, the browser reclaiming it) during this run or an earlier one. The model window
    /// that failed ran again on the CPU, as did every one after it, so the result is whole.
    /// Null otherwise.
    pub fallback_reason: Option<String>,
    /// Credit for the imagery (`source.attribution`, or its preset's), to show with the
    /// detections; null when the source names none.
    pub attribution: Option<String>,
}
