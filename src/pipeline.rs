//! The whole path for one area: polygon -> covering tiles -> stitched raster -> detections
//! -> GeoJSON. Where tiles come from ([`TileProvider`]) and how time, progress and
//! cancellation work ([`Hooks`]) are the host's (see [`crate::host`]); this module only runs
//! the stages in order, so the browser and native runs can be compared result for result.

use futures::stream::{self, StreamExt};

use crate::api::{DetectOptions, DetectResult, ImageInfo, Timings};
use crate::detect::Engine;
use crate::geojson::{Aoi, DetectionFeature, DetectionProperties, feature_collection};
use crate::host::{FetchedTiles, Hooks, Stage, TileProvider};
use crate::imagery::{GeoRaster, PixelExtent, Stitcher};
use crate::tiles::TileSource;
use crate::tiles::fetch::TileFailure;
use crate::{Error, Result};

/// Tiles decoded at once by [`load_raster`].
const DECODE_CONCURRENCY: usize = 8;

/// What [`load_raster`] returns.
#[derive(Debug)]
pub struct LoadedRaster {
    /// The stitched raster; tiles that could not be loaded are black.
    pub raster: GeoRaster,
    /// The tiles that could not be loaded, and why.
    pub missing: Vec<TileFailure>,
    /// Milliseconds spent downloading (the rest of the call was decoding and stitching).
    pub fetch_ms: f64,
}

/// Fetch and decode the tiles under `extent` and stitch them into one raster. Tiles that
/// cannot be loaded are painted black and returned as failures, or end the run when
/// `fail_on_missing` is set; if none can be loaded at all, that is an error either way.
pub async fn load_raster<P: TileProvider, H: Hooks>(
    provider: &P,
    source: &TileSource,
    extent: PixelExtent,
    fail_on_missing: bool,
    hooks: &H,
) -> Result<LoadedRaster> {
    let start = hooks.now_ms();
    let range = extent.tiles();
    let total = range.count() as usize;
    hooks.progress(Stage::Fetch, 0, total);
    let mut stitcher = Stitcher::new(extent)?;

    // In one pass, where the host can (the browser: each tile decoded as it arrives, onto one
    // canvas read back once).
    let streamed = provider
        .fetch_composite(source, &extent, range.iter().collect(), fail_on_missing, hooks, &mut |row, rgba| {
            stitcher.put_rows(row, rgba)
        })
        .await
        .transpose()?;
    let (mut missing, fetch_ms) = match streamed {
        Some(composited) => (composited.missing, composited.fetch_ms),
        None => {
            let fetched = provider.fetch(source, range.iter().collect(), hooks).await?;
            let fetch_ms = hooks.now_ms() - start;
            hooks.checkpoint().await?;
            (decode_all(provider, fetched, &mut stitcher, fail_on_missing, hooks).await?, fetch_ms)
        }
    };
    if missing.len() == total {
        let first = missing.swap_remove(0);
        return Err(Error::TileFetchFailed {
            z: first.tile.z,
            x: first.tile.x,
            y: first.tile.y,
            reason: format!("none of the {total} tiles could be loaded; the first failed with: {}", first.reason),
        });
    }
    Ok(LoadedRaster { raster: stitcher.finish(), missing, fetch_ms })
}

/// Decode downloaded tiles a few at a time (concurrently where the host can) and stitch them
/// in order; progress counts every tile, those painted black included. Returns the tiles
/// that could not be loaded, in request order.
async fn decode_all<P: TileProvider, H: Hooks>(
    provider: &P,
    fetched: FetchedTiles,
    stitcher: &mut Stitcher,
    fail_on_missing: bool,
    hooks: &H,
) -> Result<Vec<TileFailure>> {
    let total = fetched.len();
    let mut missing = Vec::new();
    hooks.progress(Stage::Stitch, 0, total);
    let mut decoded = stream::iter(fetched)
        .map(|(tile, result)| async move {
            let decoded = match result {
                Ok(bytes) => provider.decode(&bytes).await.map_err(|reason| TileFailure::undecodable(tile, &reason)),
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
    Ok(missing)
}

/// Run detection over `aoi`.
pub async fn detect_area<P: TileProvider, H: Hooks>(
    engine: &Engine,
    source: &TileSource,
    provider: &P,
    aoi: &Aoi,
    options: &DetectOptions,
    hooks: &H,
) -> Result<DetectResult> {
    let start = hooks.now_ms();
    let entry = engine.entry();
    let params = options.nms_params(&entry.classes)?;
    let zoom = source.check_zoom(options.zoom)?;
    let extent = PixelExtent::covering(aoi.bounds(), zoom, source.tile_size)?;
    extent.tiles().check_limit(options.max_tiles)?;

    let t_load = hooks.now_ms();
    let loaded = load_raster(provider, source, extent, options.fail_on_missing_tiles, hooks).await?;
    let stitched = hooks.now_ms();
    let raster = &loaded.raster;

    let (kept, model_ms) =
        engine.detect_raster(&raster.rgb, raster.width, raster.height, &params, options.window_overlap, hooks).await?;

    hooks.progress(Stage::Postprocess, 0, 1);
    let t_post = hooks.now_ms();
    let features: Vec<DetectionFeature> = kept
        .iter()
        .filter_map(|c| {
            let [lon, lat] = extent.pixel_to_lonlat(c.bbox.cx, c.bbox.cy);
            aoi.contains_point(lon, lat).then(|| DetectionFeature {
                properties: DetectionProperties {
                    class: entry.classes.get(c.class_id).cloned().unwrap_or_else(|| c.class_id.to_string()),
                    class_id: c.class_id as u32,
                    score: c.score,
                },
                ring: c.bbox.corners().iter().map(|p| extent.pixel_to_lonlat(p[0], p[1])).collect(),
            })
        })
        .collect();
    let detections = feature_collection(&features);
    let end = hooks.now_ms();
    hooks.progress(Stage::Done, 1, 1);

    Ok(DetectResult {
        detections,
        image: ImageInfo::from(&extent),
        timings: Timings {
            fetch: loaded.fetch_ms,
            decode: stitched - t_load - loaded.fetch_ms,
            preprocess: model_ms.preprocess,
            inference: model_ms.inference,
            postprocess: model_ms.postprocess + (end - t_post),
            total: end - start,
        },
        missing_tiles: loaded.missing,
        backend: engine.backend(),
    })
}
