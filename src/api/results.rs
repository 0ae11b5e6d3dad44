//! What `Detector.create` and `detector.detect` resolve to.

use serde::Serialize;

use crate::detect::Backend;
use crate::imagery::PixelExtent;
use crate::model::ModelEntry;
use crate::tiles::fetch::TileFailure;

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
    /// Milliseconds that create() spent loading the engine and the model.
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
    /// The backend in use.
    pub backend: Backend,
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
    /// Tile zoom level.
    pub zoom: u8,
    /// Tile edge in pixels.
    pub tile_size: u32,
    /// `[west, south, east, north]` in lon/lat degrees.
    pub bounds: [f64; 4],
    /// `[minX, minY, maxX, maxY]` in EPSG:3857 metres.
    #[serde(rename = "bounds3857")]
    pub bounds_3857: [f64; 4],
    /// Global pixel `[x, y]` of the raster's top-left corner at `zoom`.
    pub origin: [i64; 2],
}

impl From<&PixelExtent> for ImageInfo {
    fn from(e: &PixelExtent) -> Self {
        ImageInfo {
            width: e.width,
            height: e.height,
            zoom: e.zoom,
            tile_size: e.tile_size,
            bounds: e.bounds_lonlat(),
            bounds_3857: e.bounds_3857(),
            origin: [e.x0, e.y0],
        }
    }
}

/// Milliseconds spent per stage. An area of several chunks fetches and decodes the next chunk
/// while the model runs on the current one, so `fetch` and `decode` then overlap
/// `inference` and the stages add up to more than `total`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, tsify::Tsify)]
pub struct Timings {
    /// Downloading tiles: until the last download settled. In the browser each tile is
    /// decoded as soon as it arrives, so this includes the decoding that overlapped it.
    pub fetch: f64,
    /// Decoding tiles and stitching them into the raster, after the downloads (in the
    /// browser: the last tiles' decoding and the read-back of the raster).
    pub decode: f64,
    /// Cutting model windows and converting them to model input.
    pub preprocess: f64,
    /// Running the network.
    pub inference: f64,
    /// Decoding boxes, NMS, mapping to lon/lat and building GeoJSON.
    pub postprocess: f64,
    /// The whole call.
    pub total: f64,
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
    /// The backend that ran the network.
    pub backend: Backend,
}
