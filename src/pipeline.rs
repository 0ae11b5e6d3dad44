//! The whole path for one area: polygon -> covering tiles -> stitched raster -> detections
//! -> GeoJSON. Where tiles come from ([`TileProvider`]) and how time, progress and
//! cancellation work ([`Hooks`]) are supplied by the caller: the browser worker fetches
//! over HTTP, the native CLI and tests read tiles from disk. Everything else is this one
//! code path, so the browser and native runs can be compared result for result.

use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use crate::detect::NmsParams;
use crate::detect::engine::Engine;
use crate::geojson::{Aoi, DetectionFeature, feature_collection};
use crate::imagery::{GeoRaster, PixelWindow, Stitcher};
use crate::tiles::fetch::TileFailure;
use crate::tiles::{TileId, TileSource};
use crate::{Error, Result};

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Fetching (and loading) model weights.
    Model,
    /// Downloading tiles; `done`/`total` count tiles.
    Fetch,
    /// Decoding tiles into the raster; `done`/`total` count tiles.
    Stitch,
    /// Running the network; `done`/`total` count windows.
    Inference,
    /// Mapping boxes to lon/lat and building GeoJSON.
    Postprocess,
    /// Finished.
    Done,
}

/// The caller's clock, progress sink and cancellation flag.
#[allow(async_fn_in_trait)]
pub trait Hooks {
    /// Milliseconds from an arbitrary origin.
    fn now_ms(&self) -> f64;
    /// Called as work advances.
    fn progress(&self, stage: Stage, done: usize, total: usize);
    /// True once the caller has asked to stop.
    fn is_cancelled(&self) -> bool;
    /// Give the host a turn (the browser's event loop, so an abort message can arrive).
    async fn yield_now(&self) {}
    /// Yield, then fail with [`Error::Aborted`] if cancelled.
    async fn checkpoint(&self) -> Result<()> {
        self.yield_now().await;
        if self.is_cancelled() { Err(Error::Aborted) } else { Ok(()) }
    }
}

/// A decoded tile.
#[derive(Debug, Clone)]
pub struct DecodedTile {
    /// RGBA8, row-major.
    pub rgba: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// One entry per requested tile, in request order: the encoded image or why it failed.
pub type FetchedTiles = Vec<(TileId, Result<Vec<u8>, TileFailure>)>;

/// Supplies tiles: downloads them, then decodes them. The two are separate stages so each
/// can be timed on its own.
#[allow(async_fn_in_trait)]
pub trait TileProvider {
    /// Download `tiles` from `source`, reporting [`Stage::Fetch`] progress through `hooks`
    /// and stopping with [`Error::Aborted`] when it is cancelled.
    async fn fetch<H: Hooks>(&self, source: &TileSource, tiles: Vec<TileId>, hooks: &H) -> Result<FetchedTiles>;
    /// Decode one encoded tile into RGBA8.
    async fn decode(&self, bytes: &[u8]) -> Result<DecodedTile, String>;
}

/// A class to keep, by name or id.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ClassRef {
    Id(u32),
    Name(String),
}

/// Options of one `detect` call (JS `DetectOptions` without `signal` and `onProgress`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DetectOptions {
    /// Zoom level of the tiles to run on.
    pub zoom: i64,
    /// Minimum class probability.
    #[serde(default = "defaults::confidence")]
    pub confidence: f32,
    /// IoU above which the weaker of two same-class boxes is dropped.
    #[serde(default = "defaults::iou")]
    pub iou: f32,
    /// Most detections returned.
    #[serde(default = "defaults::max_detections")]
    pub max_detections: usize,
    /// Fail with `TILE_FETCH_FAILED` instead of reporting tiles in `missingTiles`.
    #[serde(default)]
    pub fail_on_missing_tiles: bool,
    /// Refuse areas that need more tiles than this.
    #[serde(default = "defaults::max_tiles")]
    pub max_tiles: u64,
    /// Keep only these classes (names or ids).
    #[serde(default)]
    pub classes: Option<Vec<ClassRef>>,
    /// Overlap in pixels between neighbouring windows when the area is larger than the
    /// model input.
    #[serde(default = "defaults::window_overlap")]
    pub window_overlap: u32,
}

mod defaults {
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
        256
    }
    pub fn window_overlap() -> u32 {
        128
    }
}

impl DetectOptions {
    /// Options with defaults at `zoom`.
    pub fn at_zoom(zoom: i64) -> Self {
        serde_json::from_value(serde_json::json!({ "zoom": zoom })).expect("defaults deserialize")
    }

    /// Validate against the model and build NMS parameters.
    pub fn nms_params(&self, classes: &[String]) -> Result<NmsParams> {
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
        if self.max_tiles == 0 {
            return Err(Error::invalid_option("maxTiles", "must be at least 1"));
        }
        let class_mask = match &self.classes {
            None => None,
            Some(list) => {
                let mut mask = vec![false; classes.len()];
                for c in list {
                    let index = match c {
                        ClassRef::Id(id) => Some(*id as usize).filter(|&i| i < classes.len()),
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

/// The stitched raster the model ran on.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
    pub zoom: u8,
    pub tile_size: u32,
    /// `[west, south, east, north]` in degrees.
    pub bounds: [f64; 4],
    /// `[min x, min y, max x, max y]` in EPSG:3857 metres.
    #[serde(rename = "bounds3857")]
    pub bounds_3857: [f64; 4],
    /// Global pixel of the raster's top-left corner at `zoom`.
    pub origin: [i64; 2],
}

impl From<&PixelWindow> for ImageInfo {
    fn from(w: &PixelWindow) -> Self {
        ImageInfo {
            width: w.width,
            height: w.height,
            zoom: w.zoom,
            tile_size: w.tile_size,
            bounds: w.bounds_lonlat(),
            bounds_3857: w.bounds_3857(),
            origin: [w.x0, w.y0],
        }
    }
}

/// Milliseconds per stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Timings {
    pub fetch: f64,
    pub decode: f64,
    pub preprocess: f64,
    pub inference: f64,
    pub postprocess: f64,
    pub total: f64,
}

/// Everything `detect` returns.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AreaResult {
    /// RFC 7946 FeatureCollection, one Polygon per detection.
    pub detections: serde_json::Value,
    pub image: ImageInfo,
    pub timings: Timings,
    pub missing_tiles: Vec<TileFailure>,
}

/// Tiles decoded at once by [`load_raster`].
const DECODE_CONCURRENCY: usize = 8;

/// Fetch and decode the tiles under `window` and stitch them into one raster. Tiles that
/// cannot be loaded are painted black and returned as failures, or end the run when
/// `fail_on_missing` is set; if none can be loaded at all, that is an error either way.
/// Also returns the milliseconds spent downloading (the rest is decoding).
pub async fn load_raster<P: TileProvider, H: Hooks>(
    provider: &P,
    source: &TileSource,
    window: PixelWindow,
    fail_on_missing: bool,
    hooks: &H,
) -> Result<(GeoRaster, Vec<TileFailure>, f64)> {
    let start = hooks.now_ms();
    let range = window.tiles();
    hooks.progress(Stage::Fetch, 0, range.count() as usize);
    let fetched = provider.fetch(source, range.iter().collect(), hooks).await?;
    let fetch_ms = hooks.now_ms() - start;
    hooks.checkpoint().await?;

    let total = fetched.len();
    hooks.progress(Stage::Stitch, 0, total);
    let mut stitcher = Stitcher::new(window)?;
    let mut missing = Vec::new();
    // Decode a few tiles at a time (the browser decodes off-thread), stitch in order.
    let mut decoded = stream::iter(fetched)
        .map(|(tile, result)| async move {
            let decoded = match result {
                Ok(bytes) => provider.decode(&bytes).await.map_err(|reason| TileFailure {
                    tile,
                    reason: format!("not a decodable image: {reason}"),
                    attempts: 1,
                }),
                Err(failure) => Err(failure),
            };
            (tile, decoded)
        })
        .buffered(DECODE_CONCURRENCY);
    let mut done = 0;
    while let Some((tile, decoded)) = decoded.next().await {
        match decoded {
            Ok(t) => stitcher.put_tile(tile, &t.rgba, t.width, t.height)?,
            Err(failure) if fail_on_missing => return Err(failure.into()),
            Err(failure) => {
                stitcher.fill_tile(tile, [0, 0, 0])?;
                missing.push(failure);
            }
        }
        done += 1;
        hooks.progress(Stage::Stitch, done, total);
    }
    if missing.len() == total {
        let first = missing.swap_remove(0);
        return Err(Error::TileFetchFailed {
            z: first.tile.z,
            x: first.tile.x,
            y: first.tile.y,
            reason: format!("none of the {total} tiles could be loaded; the first failed with: {}", first.reason),
        });
    }
    Ok((stitcher.finish(), missing, fetch_ms))
}

/// Run detection over `aoi`.
pub async fn detect_area<P: TileProvider, H: Hooks>(
    engine: &Engine,
    source: &TileSource,
    provider: &P,
    aoi: &Aoi,
    options: &DetectOptions,
    hooks: &H,
) -> Result<AreaResult> {
    let start = hooks.now_ms();
    let entry = engine.entry();
    let params = options.nms_params(&entry.classes)?;
    let zoom = source.check_zoom(options.zoom)?;
    let window = PixelWindow::covering(aoi.bounds(), zoom, source.tile_size)?;
    let range = window.tiles();
    range.check_limit(options.max_tiles)?;

    let t_load = hooks.now_ms();
    let (raster, missing, fetch_ms) =
        load_raster(provider, source, window, options.fail_on_missing_tiles, hooks).await?;
    let stitched = hooks.now_ms();

    let (kept, model_ms) =
        engine.detect_raster(&raster.rgb, raster.width, raster.height, &params, options.window_overlap, hooks).await?;

    hooks.progress(Stage::Postprocess, 0, 1);
    let t_post = hooks.now_ms();
    let features: Vec<DetectionFeature> = kept
        .iter()
        .filter_map(|c| {
            let [lon, lat] = window.pixel_to_lonlat(c.bbox.cx, c.bbox.cy);
            aoi.contains_point(lon, lat).then(|| DetectionFeature {
                class_name: entry.classes.get(c.class_id).cloned().unwrap_or_else(|| c.class_id.to_string()),
                class_id: c.class_id as u32,
                score: c.score,
                ring: c.bbox.corners().iter().map(|p| window.pixel_to_lonlat(p[0], p[1])).collect(),
                properties: serde_json::Map::new(),
            })
        })
        .collect();
    let detections = feature_collection(&features);
    let end = hooks.now_ms();
    hooks.progress(Stage::Done, 1, 1);

    Ok(AreaResult {
        detections,
        image: ImageInfo::from(&window),
        timings: Timings {
            fetch: fetch_ms,
            decode: stitched - t_load - fetch_ms,
            preprocess: model_ms.preprocess,
            inference: model_ms.inference,
            postprocess: model_ms.postprocess + (end - t_post),
            total: end - start,
        },
        missing_tiles: missing,
    })
}
