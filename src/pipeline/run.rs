//! One area, end to end: plan its chunks ([`super::plan`]), then for each chunk load its
//! raster ([`super::raster`]), run its model windows, release the raster, merge the boxes
//! across the seams ([`SeamMerge`]) and stream the detections that are final
//! ([`Hooks::detections`]); the result holds them all.

use std::cell::Cell;

use super::plan::{AreaPlan, PlanParams};
use super::raster::{LoadedRaster, load_raster};
use crate::api::{Clip, DetectOptions, DetectResult, ImageInfo, Timings};
use crate::detect::nms::best_first;
use crate::detect::{Candidate, Engine, RasterPlace, SeamMerge, Window};
use crate::geojson::{Aoi, DetectionFeature, DetectionProperties, feature_collection};
use crate::host::{Hooks, RunStatus, Stage, TileProvider};
use crate::imagery::PixelExtent;
use crate::model::ModelEntry;
use crate::tiles::TileSource;
use crate::tiles::fetch::TileFailure;
use crate::{Error, Result};

/// Run detection over `aoi`, chunk by chunk.
pub async fn detect_area<P: TileProvider, H: Hooks>(
    engine: &Engine,
    source: &TileSource,
    provider: &P,
    aoi: &Aoi,
    options: &DetectOptions,
    hooks: &H,
) -> Result<DetectResult> {
    detect_area_in_chunks(engine, source, provider, aoi, options, hooks, super::plan::CHUNK_WINDOWS).await
}

/// [`detect_area`] with chunks of `chunk_windows` × `chunk_windows` model windows (tests cut
/// areas finer or coarser to show that the result does not depend on it).
pub async fn detect_area_in_chunks<P: TileProvider, H: Hooks>(
    engine: &Engine,
    source: &TileSource,
    provider: &P,
    aoi: &Aoi,
    options: &DetectOptions,
    hooks: &H,
    chunk_windows: usize,
) -> Result<DetectResult> {
    let start = hooks.now_ms();
    let entry = engine.entry();
    let params = options.nms_params(&entry.classes)?;
    let zoom = source.check_zoom(options.zoom)?;
    let plan = AreaPlan::new(
        aoi,
        PlanParams {
            zoom,
            tile_size: source.tile_size,
            input_size: entry.input_size,
            overlap: options.window_overlap,
            margin: options.window_overlap,
            max_tiles: options.max_tiles,
            chunk_windows,
        },
    )?;
    let status = Cell::new(RunStatus {
        chunks_total: plan.chunks.len(),
        windows_total: plan.windows,
        tiles_total: plan.tile_fetches,
        ..RunStatus::default()
    });
    hooks.status(status.get());
    let area = (plan.extent.width, plan.extent.height);
    let features = Features { entry, extent: &plan.extent, aoi, clip: options.clip };

    let mut merge = SeamMerge::new(params.iou);
    // Every detection released so far, with its feature (built and clipped once).
    let mut kept: Vec<(Candidate, DetectionFeature)> = Vec::new();
    let mut missing: Vec<TileFailure> = Vec::new();
    let mut timings = Timings::default();
    // Chunk k + 1 is fetched and decoded while chunk k runs through the model: its downloads
    // and decoding proceed off the thread, and its tiles are drawn whenever the model yields
    // between windows. At most two chunks' rasters exist at once.
    let load = |k: usize, quiet: bool| {
        let chunk = &plan.chunks[k];
        let status = &status;
        async move {
            let t_load = hooks.now_ms();
            let chunk_hooks = ChunkHooks { inner: hooks, status, quiet };
            let loaded = load_raster(
                provider,
                source,
                chunk.extent,
                chunk.tiles.clone(),
                options.fail_on_missing_tiles,
                &chunk_hooks,
            )
            .await;
            loaded.map(|l| (l, hooks.now_ms() - t_load))
        }
    };
    let mut next = match plan.chunks.is_empty() {
        true => None,
        false => Some(load(0, false).await),
    };
    for (k, chunk) in plan.chunks.iter().enumerate() {
        hooks.checkpoint().await?;
        let loaded = next.take().ok_or_else(|| Error::Internal(format!("chunk {k} was not loaded")))?;
        let (LoadedRaster { raster, missing: lost, fetch_ms }, load_ms) = loaded?;
        timings.fetch += fetch_ms;
        timings.decode += load_ms - fetch_ms;
        missing.extend(lost);

        let windows: Vec<(usize, Window)> = chunk.windows.iter().map(|w| (w.index, w.window)).collect();
        let place = RasterPlace { offset: chunk.offset, area };
        let done = status.get().windows_done;
        let detect = engine.detect_windows(
            &raster.rgb,
            (raster.width, raster.height),
            place,
            &windows,
            &params,
            hooks,
            (done, plan.windows),
        );
        let prefetch = async {
            match k + 1 < plan.chunks.len() {
                true => Some(load(k + 1, true).await),
                false => None,
            }
        };
        let (detected, prefetched) = futures::join!(detect, prefetch);
        next = prefetched;
        let (boxes, model_ms) = detected?;
        // The chunk's raster goes before the one after next is fetched.
        drop(raster);
        timings.preprocess += model_ms.preprocess;
        timings.inference += model_ms.inference;
        timings.postprocess += model_ms.postprocess;

        let t_merge = hooks.now_ms();
        merge.add(boxes);
        let batch = features.keep(merge.settle(&plan.open_regions(k + 1)), &mut kept);
        timings.postprocess += hooks.now_ms() - t_merge;
        update(&status, hooks, |s| {
            s.chunks_done = k + 1;
            s.windows_done = done + windows.len();
            s.detections += batch.len();
        });
        if !batch.is_empty() {
            hooks.detections(&feature_collection(&batch));
        }
    }
    if plan.tile_fetches > 0 && missing.len() == plan.tile_fetches {
        let first = &missing[0];
        return Err(Error::TileFetchFailed {
            z: first.tile.z,
            x: first.tile.x,
            y: first.tile.y,
            reason: format!(
                "none of the {} tiles could be loaded; the first failed with: {}",
                plan.tile_fetches, first.reason
            ),
        });
    }

    hooks.progress(Stage::Postprocess, 0, 1);
    let t_post = hooks.now_ms();
    // Whatever waits is final now (there is no piece left); an area of no chunk has none.
    let batch = features.keep(merge.finish(), &mut kept);
    if !batch.is_empty() {
        update(&status, hooks, |s| s.detections += batch.len());
        hooks.detections(&feature_collection(&batch));
    }
    kept.sort_by(|a, b| best_first(&a.0, &b.0));
    let all: Vec<DetectionFeature> = kept.into_iter().map(|(_, f)| f).collect();
    let detections = feature_collection(&all);
    let end = hooks.now_ms();
    timings.postprocess += end - t_post;
    timings.total = end - start;
    hooks.progress(Stage::Done, 1, 1);
    missing.sort_by_key(|f| (f.tile.y, f.tile.x));
    missing.dedup_by_key(|f| f.tile);
    Ok(DetectResult {
        detections,
        image: ImageInfo::from(&plan.extent),
        timings,
        missing_tiles: missing,
        backend: engine.backend(),
    })
}

/// Change the run's status and tell the host.
fn update<H: Hooks>(status: &Cell<RunStatus>, hooks: &H, change: impl FnOnce(&mut RunStatus)) {
    let mut s = status.get();
    change(&mut s);
    status.set(s);
    hooks.status(s);
}

/// The run's hooks as one chunk's loading sees them: its tiles counted into the whole run's
/// status, and its `Fetch` and `Stitch` events counting the area's tiles, not the chunk's. A
/// `quiet` chunk (fetched ahead while the model runs on the one before) sends no progress
/// events of its own, so that the run's stage does not flip back and forth; its tiles still
/// count.
struct ChunkHooks<'a, H: Hooks> {
    inner: &'a H,
    status: &'a Cell<RunStatus>,
    quiet: bool,
}

impl<H: Hooks> Hooks for ChunkHooks<'_, H> {
    fn now_ms(&self) -> f64 {
        self.inner.now_ms()
    }

    fn progress(&self, stage: Stage, done: usize, total: usize) {
        match stage {
            Stage::Fetch => {
                // `done` counts this chunk's settled tiles; count each once into the run's.
                if done > 0 {
                    update(self.status, self.inner, |s| s.tiles_done += 1);
                }
                if !self.quiet {
                    let s = self.status.get();
                    self.inner.progress(stage, s.tiles_done, s.tiles_total.max(total));
                }
            }
            Stage::Stitch if self.quiet => {}
            Stage::Stitch => {
                let s = self.status.get();
                self.inner.progress(stage, s.tiles_done, s.tiles_total.max(total));
            }
            _ if self.quiet => {}
            _ => self.inner.progress(stage, done, total),
        }
    }

    fn is_cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }

    async fn yield_now(&self) {
        self.inner.yield_now().await;
    }
}

/// Boxes (area pixels) to GeoJSON features of the area, by the `clip` rule.
struct Features<'a> {
    entry: &'a ModelEntry,
    extent: &'a PixelExtent,
    aoi: &'a Aoi,
    clip: Clip,
}

impl Features<'_> {
    fn ring(&self, c: &Candidate) -> Vec<[f64; 2]> {
        c.bbox.corners().iter().map(|p| self.extent.pixel_to_lonlat(p[0], p[1])).collect()
    }

    /// The features of the boxes inside the area; each goes to `kept` with its box.
    fn keep(&self, settled: Vec<Candidate>, kept: &mut Vec<(Candidate, DetectionFeature)>) -> Vec<DetectionFeature> {
        let batch: Vec<(Candidate, DetectionFeature)> =
            settled.into_iter().filter_map(|c| self.of(&c).map(|f| (c, f))).collect();
        let features = batch.iter().map(|(_, f)| f.clone()).collect();
        kept.extend(batch);
        features
    }

    /// The feature of `c`, if it is inside the area (its outline is projected once).
    fn of(&self, c: &Candidate) -> Option<DetectionFeature> {
        let ring = self.ring(c);
        let inside = match self.clip {
            Clip::Centroid => {
                let [lon, lat] = self.extent.pixel_to_lonlat(c.bbox.cx, c.bbox.cy);
                self.aoi.contains_point(lon, lat)
            }
            Clip::Intersects => self.aoi.intersects_ring(&ring),
            Clip::Within => self.aoi.contains_ring(&ring),
        };
        inside.then(|| DetectionFeature {
            properties: DetectionProperties {
                class: self.entry.classes.get(c.class_id).cloned().unwrap_or_else(|| c.class_id.to_string()),
                class_id: c.class_id as u32,
                score: c.score,
            },
            ring,
        })
    }
}
