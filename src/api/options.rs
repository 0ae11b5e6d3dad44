//! Options of `Detector.create` ([`EngineOptions`]) and `detector.detect`
//! ([`DetectOptions`]), without the JS-only `signal`, `onProgress` and `workerUrl`.
//! Every range is checked here; [`parse`] names the offending field by its JS path.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::detect::NmsParams;
use crate::tiles::TileSource;
use crate::tiles::fetch::FetchPolicy;
use crate::{Error, Result};

/// Which backend to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, tsify::Tsify)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// WebGPU on a hardware adapter, the CPU otherwise (a software fallback adapter such
    /// as SwiftShader is slower than the CPU backend).
    #[default]
    Auto,
    /// WebGPU on any adapter; `BACKEND_UNAVAILABLE` when there is none.
    Webgpu,
    /// burn's CPU backend (wasm SIMD).
    Cpu,
}

/// Options of `Detector.create`, as the worker receives them.
#[derive(Clone, Debug, PartialEq, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineOptions {
    /// Where the imagery comes from.
    pub source: TileSource,
    /// Model id from the model manifest, e.g. `"yolov8n-obb-dota"`.
    pub model: String,
    /// Compute backend. Default `"auto"`.
    #[serde(default)]
    pub backend: BackendChoice,
    /// Directory (absolute URL) that holds `manifest.json` and the weight files.
    pub model_base_url: String,
    /// Network settings for tiles and weights.
    #[serde(default)]
    pub fetch: FetchPolicy,
    /// Keep verified weights in the Cache API for the next visit. Default true.
    #[serde(default = "defaults::cache")]
    pub cache: bool,
    /// Threads for the CPU path of each worker, 1..=64: more than 1 runs the threaded
    /// engine (a pool of web workers sharing its memory), which needs a cross-origin-isolated
    /// page; elsewhere the single-threaded engine runs and `info.threadsNote` says why.
    /// Default (null): the cores shared among the workers,
    /// `max(1, floor(min(navigator.hardwareConcurrency, 4) / workers))`.
    #[serde(default)]
    pub threads: Option<u32>,
    /// Workers in the detector's pool, 1..=16. Each loads the engine and the model once (the
    /// weights are downloaded once and read from the Cache API by the others) and runs chunks
    /// of an area; more workers run more chunks at once, and hold more memory (about 100 MiB
    /// each on the CPU path). Default (null): `min(navigator.hardwareConcurrency, 4)` on the
    /// CPU path, 1 on WebGPU (one GPU gains nothing from several workers).
    #[serde(default)]
    pub workers: Option<u32>,
    /// Milliseconds one chunk of an area may run on a pool's worker, 1000..=3600000: a worker
    /// past it (stuck, or far too slow) is replaced and the chunk retried once on a fresh
    /// one. Default 120000. (A `workers: 1` detector runs an area of several chunks as one
    /// request, without this limit.)
    #[serde(default = "defaults::chunk_timeout_ms")]
    pub chunk_timeout_ms: u32,
}

impl EngineOptions {
    /// Checks the tile source, the fetch policy and the thread count.
    pub fn validate(&self) -> Result<()> {
        self.source.validate().map_err(|e| e.in_field("source"))?;
        self.fetch.validate().map_err(|e| e.in_field("fetch"))?;
        if let Some(t) = self.threads.filter(|t| !(1..=MAX_THREADS).contains(t)) {
            return Err(Error::invalid_option("threads", format!("must be in 1..={MAX_THREADS}, got {t}")));
        }
        if let Some(w) = self.workers.filter(|w| !(1..=MAX_WORKERS).contains(w)) {
            return Err(Error::invalid_option("workers", format!("must be in 1..={MAX_WORKERS}, got {w}")));
        }
        if !(1_000..=3_600_000).contains(&self.chunk_timeout_ms) {
            return Err(Error::invalid_option(
                "chunkTimeoutMs",
                format!("must be in 1000..=3600000, got {}", self.chunk_timeout_ms),
            ));
        }
        Ok(())
    }
}

/// The largest `maxTiles`: a million tiles (a 256-gigapixel area) runs for days on a laptop;
/// the bound keeps planning an area (one test per tile of its box) from hanging the worker.
pub const MAX_TILES_LIMIT: u64 = 1_000_000;

/// The most threads `EngineOptions.threads` may ask for.
pub const MAX_THREADS: u32 = 64;

/// The most workers `EngineOptions.workers` may ask for.
pub const MAX_WORKERS: u32 = 16;

/// A class to keep, by id or by name.
#[derive(Clone, Debug, PartialEq, Deserialize, tsify::Tsify)]
#[serde(untagged)]
pub enum ClassRef {
    /// Index in the model's class list.
    Id(u32),
    /// Name from the model's class list.
    Name(String),
}

/// Which detections count as inside the area.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, tsify::Tsify)]
#[serde(rename_all = "lowercase")]
pub enum Clip {
    /// The box's centre is inside the area (on its edge counts as inside).
    #[default]
    Centroid,
    /// Any part of the box is inside the area.
    Intersects,
    /// The whole box is inside the area.
    Within,
}

/// Options of one `detect` call.
#[derive(Clone, Debug, PartialEq, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DetectOptions {
    /// Tile zoom level to fetch (an integer, within the source's minZoom..=maxZoom).
    pub zoom: i64,
    /// Minimum score of a detection, in [0, 1]. Default 0.25.
    #[serde(default = "defaults::confidence")]
    pub confidence: f32,
    /// IoU threshold of non-maximum suppression, in [0, 1]. Default 0.45.
    #[serde(default = "defaults::iou")]
    pub iou: f32,
    /// At most this many detections per model window (ultralytics' `max_det`; an area of many
    /// windows can return more), 1..=10000. Default 300.
    #[serde(default = "defaults::max_detections")]
    pub max_detections: usize,
    /// Reject with `TILE_FETCH_FAILED` instead of reporting `missingTiles`. Default false.
    /// When no tile at all can be loaded, detect() rejects with `TILE_FETCH_FAILED` anyway.
    #[serde(default)]
    pub fail_on_missing_tiles: bool,
    /// Reject with `TOO_MANY_TILES` if the area needs more tiles than this (tiles that come
    /// near the area, not its whole bounding box; at least 1): a guard against a zoom typed
    /// by accident, since areas of any size run in chunks of bounded memory. The error names
    /// the count and the zoom at which the area would fit. At most 1000000. Default 10000.
    #[serde(default = "defaults::max_tiles")]
    pub max_tiles: u64,
    /// Keep only these classes (names or ids of the model's classes). Default: all.
    #[serde(default)]
    pub classes: Option<Vec<ClassRef>>,
    /// Overlap in pixels between neighbouring windows when the raster is larger than the
    /// model input (it is cut into `inputSize` windows); below half the input size.
    /// Default 128.
    #[serde(default = "defaults::window_overlap")]
    pub window_overlap: u32,
    /// Which detections are kept: `"centroid"` (the box's centre is in the area),
    /// `"intersects"` (any part of it) or `"within"` (all of it). Default `"centroid"`.
    #[serde(default)]
    pub clip: Clip,
}

mod defaults {
    pub fn cache() -> bool {
        true
    }
    pub fn chunk_timeout_ms() -> u32 {
        120_000
    }
    pub fn confidence() -> f32 {
        0.25
    }
    pub fn iou() -> f32 {
        0.45
    }
    pub fn max_detections() -> usize {
        300
    }
    pub fn max_tiles() -> u64 {
        10_000
    }
    pub fn window_overlap() -> u32 {
        128
    }
}

impl DetectOptions {
    /// Options with defaults at `zoom`.
    pub fn at_zoom(zoom: i64) -> Self {
        DetectOptions {
            zoom,
            confidence: defaults::confidence(),
            iou: defaults::iou(),
            max_detections: defaults::max_detections(),
            fail_on_missing_tiles: false,
            max_tiles: defaults::max_tiles(),
            classes: None,
            window_overlap: defaults::window_overlap(),
            clip: Clip::default(),
        }
    }

    /// Checks the ranges that do not depend on the model or the tile source.
    pub fn validate(&self) -> Result<()> {
        let unit = |v: f32, field: &str| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::invalid_option(field, format!("must be in 0..=1, got {v}")))
            }
        };
        unit(self.confidence, "confidence")?;
        unit(self.iou, "iou")?;
        if !(1..=10_000).contains(&self.max_detections) {
            return Err(Error::invalid_option(
                "maxDetections",
                format!("must be in 1..=10000, got {}", self.max_detections),
            ));
        }
        if !(1..=MAX_TILES_LIMIT).contains(&self.max_tiles) {
            return Err(Error::invalid_option(
                "maxTiles",
                format!("must be in 1..={MAX_TILES_LIMIT}, got {}", self.max_tiles),
            ));
        }
        Ok(())
    }

    /// Validate against the model's `classes` and build NMS parameters.
    pub fn nms_params(&self, classes: &[String]) -> Result<NmsParams> {
        self.validate()?;
        let class_mask = match &self.classes {
            None => None,
            Some(list) => {
                let mut mask = vec![false; classes.len()];
                for c in list {
                    let index = match c {
                        ClassRef::Id(id) => usize::try_from(*id).ok().filter(|&i| i < classes.len()),
                        ClassRef::Name(name) => classes.iter().position(|n| n == name),
                    };
                    let index = index.ok_or_else(|| {
                        Error::invalid_option(
                            "classes",
                            format!("{c:?} is not a class of this model; it has: {}", classes.join(", ")),
                        )
                    })?;
                    mask[index] = true;
                }
                Some(mask)
            }
        };
        Ok(NmsParams { confidence: self.confidence, iou: self.iou, max_detections: self.max_detections, class_mask })
    }
}

/// Deserialize options from JSON. A value of the wrong type, a missing or an unknown field
/// is [`Error::InvalidOptions`] naming the field by its JS path (`source.tileSize`,
/// `fetch.retries`); `what` names the whole value when the problem is at its top level.
///
/// ```
/// use geodetect::api::{DetectOptions, parse};
///
/// let options: DetectOptions = parse(serde_json::json!({ "zoom": 18, "iou": 0.5 }), "options").unwrap();
/// assert_eq!((options.zoom, options.iou, options.confidence), (18, 0.5, 0.25));
///
/// let err = parse::<DetectOptions>(serde_json::json!({ "zoom": 18.5 }), "options").unwrap_err();
/// assert_eq!(err.code().as_str(), "INVALID_OPTIONS");
/// assert!(err.to_string().starts_with("invalid option `zoom`:"), "{err}");
/// ```
pub fn parse<T: DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path.is_empty() || path == "." { what.to_owned() } else { path };
        Error::invalid_option(field, e.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(err: Error) -> String {
        match err {
            Error::InvalidOptions { field, .. } => field,
            other => panic!("not INVALID_OPTIONS: {other}"),
        }
    }

    fn engine(extra: serde_json::Value) -> Result<EngineOptions> {
        let mut v = json!({ "source": { "url": "https://t/{z}/{x}/{y}.png" }, "model": "m", "modelBaseUrl": "/m/" });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        let options: EngineOptions = parse(v, "options")?;
        options.validate()?;
        Ok(options)
    }

    #[test]
    fn engine_defaults() {
        let o = engine(json!({})).unwrap();
        assert_eq!((o.backend, o.cache, o.fetch), (BackendChoice::Auto, true, FetchPolicy::default()));
        assert_eq!(o.source.tile_size(), 256);
        assert_eq!(o.threads, None, "the default is the browser's: min(hardwareConcurrency, 4)");
        assert_eq!(engine(json!({ "threads": 64 })).unwrap().threads, Some(64));
    }

    #[test]
    fn engine_option_errors_name_the_js_path() {
        let cases = [
            (json!({ "source": { "url": "https://t/{z}/{x}/{y}.png", "tileSize": -1 } }), "source.tileSize", "-1"),
            (json!({ "source": { "url": "https://t/{z}/{x}/{y}.png", "tileSize": 300 } }), "source.tileSize", "300"),
            (json!({ "source": { "url": "https://t/{z}/{x}.png" } }), "source.url", "{y}"),
            (json!({ "source": { "url": "https://t/{z}/{x}/{y}", "token": "x" } }), "source.token", "unknown field"),
            (
                json!({ "source": { "url": "https://h/wms", "wms": { "layers": ["a"], "version": "1.2" } } }),
                "source.wms.version",
                "unknown variant",
            ),
            (
                json!({ "source": { "url": "https://h/wms", "wms": { "layers": [] } } }),
                "source.wms.layers",
                "at least one",
            ),
            (json!({ "source": { "preset": "mapbox-satellite" } }), "source.accessToken", "required"),
            (json!({ "fetch": { "concurrency": 65 } }), "fetch.concurrency", "65"),
            (json!({ "fetch": { "timeoutMs": 0 } }), "fetch.timeoutMs", "got 0"),
            (json!({ "fetch": { "retries": 1.5 } }), "fetch.retries", "1.5"),
            (json!({ "backend": "webgl" }), "backend", "webgl"),
            (json!({ "cache": "yes" }), "cache", "yes"),
            (json!({ "modle": "m" }), "modle", "unknown field"),
            (json!({ "threads": 0 }), "threads", "must be in 1..=64, got 0"),
            (json!({ "threads": 65 }), "threads", "got 65"),
            (json!({ "threads": 1.5 }), "threads", "1.5"),
        ];
        for (extra, field, fragment) in cases {
            let err = engine(extra.clone()).unwrap_err();
            assert_eq!(err.code().as_str(), "INVALID_OPTIONS", "{extra}");
            let message = err.to_string();
            assert!(message.contains(fragment), "{extra}: {message}");
            assert_eq!(field_of(err), field, "{extra}: {message}");
        }
    }

    #[test]
    fn detect_option_ranges() {
        let o: DetectOptions = parse(json!({ "zoom": 19 }), "options").unwrap();
        assert_eq!(o, DetectOptions::at_zoom(19));
        let cases = [
            (json!({ "zoom": 18.5 }), "zoom", "18.5"),
            (json!({ "zoom": "18" }), "zoom", "\"18\""),
            (json!({ "zoom": 3, "confidence": 1.5 }), "confidence", "got 1.5"),
            (json!({ "zoom": 3, "iou": -0.1 }), "iou", "got -0.1"),
            (json!({ "zoom": 3, "maxDetections": 0 }), "maxDetections", "got 0"),
            (json!({ "zoom": 3, "maxDetections": 20000 }), "maxDetections", "got 20000"),
            (json!({ "zoom": 3, "maxTiles": 0 }), "maxTiles", "got 0"),
            (json!({ "zoom": 3, "maxTiles": 2_000_000 }), "maxTiles", "1..=1000000, got 2000000"),
            (json!({ "zoom": 3, "classes": "ship" }), "classes", "ship"),
            (json!({ "zoom": 3, "confidance": 0.5 }), "confidance", "unknown field"),
            (json!({}), "options", "missing field `zoom`"),
        ];
        for (v, field, fragment) in cases {
            let err = parse::<DetectOptions>(v.clone(), "options").and_then(|o| o.validate()).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(fragment), "{v}: {message}");
            assert_eq!(field_of(err), field, "{v}: {message}");
        }
    }

    #[test]
    fn classes_by_name_or_id() {
        let names = ["plane".to_string(), "ship".to_string()];
        let o: DetectOptions = parse(json!({ "zoom": 3, "classes": ["ship", 0] }), "options").unwrap();
        assert_eq!(o.nms_params(&names).unwrap().class_mask, Some(vec![true, true]));
        for bad in [json!(["car"]), json!([2])] {
            let o: DetectOptions = parse(json!({ "zoom": 3, "classes": bad }), "options").unwrap();
            let err = o.nms_params(&names).unwrap_err();
            assert!(err.to_string().contains("it has: plane, ship"), "{err}");
            assert_eq!(field_of(err), "classes");
        }
    }
}
