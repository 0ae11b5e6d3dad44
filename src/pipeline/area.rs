//! One area's run as its chunks finish, in any order and on any worker: each chunk's boxes
//! ([`ChunkOutput`]) are merged across the seams ([`SeamMerge`]), the detections that became
//! final are clipped to the area and returned at once (to be streamed), and
//! [`AreaRun::finish`] makes the result. The run keeps no detection once it is released,
//! only its place in the result's order: the result's detections are the released batches,
//! reordered ([`Finished::order`]), wherever they were collected (the browser collects them
//! on the main thread, so that a worker's memory does not grow with the area). A single worker feeds it its chunks in order
//! ([`super::run`]); a pool of workers runs the chunks where it can and feeds their outputs to
//! the one worker that holds the area's [`AreaRun`]. Either way the detections are those of
//! one NMS over every chunk's boxes (see [`crate::detect::merge`]).

use super::plan::{AreaPlan, PlanParams};
use crate::api::{ChunkFailure, ChunkOutput, Clip, DetectOptions, DetectResult, FailedChunk, ImageInfo, Timings};
use crate::detect::{Backend, Candidate, NmsParams, SeamMerge};
use crate::geojson::{Aoi, DetectionFeature, DetectionProperties};
use crate::host::{Hooks, RunStatus};
use crate::imagery::{Grid, ImageGrid, PixelExtent};
use crate::model::ModelEntry;
use crate::tiles::TileSource;
use crate::tiles::fetch::{TileFailure, TileStats};
use crate::{Error, Result};

/// An area planned, and what its finished chunks have given so far.
#[derive(Debug)]
pub struct AreaRun {
    plan: AreaPlan,
    params: NmsParams,
    features: Features,
    merge: SeamMerge,
    /// What orders every detection released so far (score, anchor), in release order.
    kept: Vec<(f32, usize)>,
    done: Vec<bool>,
    failed: Vec<FailedChunk>,
    missing: Vec<TileFailure>,
    tiles: TileStats,
    timings: Timings,
    status: RunStatus,
    attribution: Option<String>,
    /// Why a chunk ran on the CPU on a WebGPU worker (the first such chunk's reason).
    fallback_reason: Option<String>,
}

impl AreaRun {
    /// Plan `aoi` for `entry` on `source` with `options` (their every check: the options'
    /// ranges, the zoom, `maxTiles`), in chunks of `chunk_windows` × `chunk_windows` windows.
    /// `image_levels`: the levels of a source read in its own grid (a COG, from
    /// [`crate::host::TileProvider::image_levels`]), `None` for Web Mercator tiles.
    pub fn new(
        entry: &ModelEntry,
        source: &TileSource,
        aoi: &Aoi,
        options: &DetectOptions,
        chunk_windows: usize,
        image_levels: Option<&[ImageGrid]>,
    ) -> Result<AreaRun> {
        let params = options.nms_params(&entry.classes)?;
        let zoom = source.check_zoom(options.zoom)?;
        let levels = match (source.cog_url(), image_levels) {
            (None, _) => None,
            (Some(_), Some(levels)) => Some(levels),
            (Some(_), None) => return Err(Error::Internal("a COG source planned before the COG was opened".into())),
        };
        let grid_at = |zoom: u8| match levels {
            None => Some(Grid::mercator(zoom, source.tile_size())),
            Some(levels) => ImageGrid::for_zoom(levels, zoom, aoi).map(Grid::Image),
        };
        let plan_params = |grid: Grid| PlanParams {
            grid,
            input_size: entry.input_size,
            overlap: options.window_overlap,
            margin: options.window_overlap,
            max_tiles: options.max_tiles,
            chunk_windows,
        };
        let grid = grid_at(zoom).ok_or_else(|| Error::Internal("the COG has no levels".into()))?;
        let plan = match AreaPlan::new(aoi, plan_params(grid)) {
            // On a COG, a lower zoom picks a coarser level: the highest zoom whose level fits.
            Err(Error::TooManyTiles { needed, limit, zoom, fits: None, bbox_only }) if levels.is_some() => {
                let fits =
                    (0..zoom).rev().find(|&z| grid_at(z).is_some_and(|g| AreaPlan::new(aoi, plan_params(g)).is_ok()));
                return Err(Error::TooManyTiles { needed, limit, zoom, fits, bbox_only });
            }
            planned => planned?,
        };
        let status = RunStatus {
            chunks_total: plan.chunks.len(),
            windows_total: plan.windows,
            tiles_total: plan.tile_fetches,
            ..RunStatus::default()
        };
        let features =
            Features { classes: entry.classes.clone(), extent: plan.extent, aoi: aoi.clone(), clip: options.clip };
        Ok(AreaRun {
            done: vec![false; plan.chunks.len()],
            merge: SeamMerge::new(params.iou),
            plan,
            params,
            features,
            kept: Vec::new(),
            failed: Vec::new(),
            missing: Vec::new(),
            tiles: TileStats::default(),
            timings: Timings::default(),
            status,
            attribution: source.attribution().map(str::to_owned),
            fallback_reason: None,
        })
    }

    /// The area's plan.
    pub fn plan(&self) -> &AreaPlan {
        &self.plan
    }

    /// The NMS thresholds every chunk runs with.
    pub fn params(&self) -> &NmsParams {
        &self.params
    }

    /// Where the run stands (chunks merged, detections released; tiles and windows as the
    /// merged chunks report them).
    pub fn status(&self) -> RunStatus {
        self.status
    }

    /// Merge a finished chunk's boxes; returns the detections that became final, best first.
    /// A chunk given twice, or one the plan does not have, is refused.
    pub fn add<H: Hooks>(&mut self, out: ChunkOutput, hooks: &H) -> Result<Vec<DetectionFeature>> {
        self.take(out.chunk)?;
        let t0 = hooks.now_ms();
        self.missing.extend(out.missing_tiles);
        self.tiles.add(&out.tiles);
        if self.fallback_reason.is_none() {
            self.fallback_reason = out.fallback_reason;
        }
        let t = out.timings;
        self.timings.fetch += t.fetch;
        self.timings.decode += t.decode;
        self.timings.preprocess += t.preprocess;
        self.timings.inference += t.inference;
        self.timings.postprocess += t.postprocess;
        self.merge.add(out.boxes);
        let batch = self.settle();
        self.timings.postprocess += hooks.now_ms() - t0;
        self.status.windows_done += out.windows;
        self.status.tiles_done += self.plan.chunks[out.chunk].tiles.len();
        Ok(batch)
    }

    /// A chunk that could not be run: its area is treated as empty and it is listed in the
    /// result's `failedChunks`. Returns the detections that became final without it.
    pub fn fail(&mut self, failure: ChunkFailure) -> Result<Vec<DetectionFeature>> {
        self.take(failure.chunk)?;
        let chunk = &self.plan.chunks[failure.chunk];
        self.failed.push(FailedChunk {
            chunk: failure.chunk,
            bounds: chunk.extent.bounds_lonlat(),
            reason: failure.reason,
            attempts: failure.attempts,
        });
        self.status.windows_done += chunk.windows.len();
        self.status.tiles_done += chunk.tiles.len();
        Ok(self.settle())
    }

    /// Mark chunk `k` done (once).
    fn take(&mut self, k: usize) -> Result<()> {
        match self.done.get_mut(k) {
            Some(done) if !*done => {
                *done = true;
                self.status.chunks_done += 1;
                Ok(())
            }
            Some(_) => Err(Error::Internal(format!("chunk {k} was merged twice"))),
            None => Err(Error::Internal(format!("chunk {k} is not in the plan of {} chunks", self.done.len()))),
        }
    }

    /// Release the groups of boxes that no chunk still to come can reach.
    fn settle(&mut self) -> Vec<DetectionFeature> {
        let open = self.plan.open_regions(&self.done);
        let batch = self.features.keep(self.merge.settle(&open), &mut self.kept);
        self.status.detections += batch.len();
        batch
    }

    /// The end, once every chunk is merged or failed: the last batch and the result without
    /// its detections. `total_ms` is the whole call as the caller waited for it; `backend`
    /// ran the network (`fallback_reason`: why it is the CPU on a WebGPU engine, see
    /// [`crate::api::DetectResult::fallback_reason`]); a chunk that another worker ran on the
    /// CPU after losing its WebGPU device makes the result's backend the CPU, with that
    /// chunk's reason. Fails when no tile of the area could be loaded.
    pub fn finish(mut self, total_ms: f64, backend: Backend, fallback_reason: Option<String>) -> Result<Finished> {
        let fallback_reason = fallback_reason.or(self.fallback_reason.take());
        let backend = if fallback_reason.is_some() { Backend::Cpu } else { backend };
        if let Some(k) = self.done.iter().position(|d| !d) {
            return Err(Error::Internal(format!("the run finished before chunk {k} was merged")));
        }
        if self.plan.tile_fetches > 0 && self.failed.is_empty() && self.missing.len() == self.plan.tile_fetches {
            let first = &self.missing[0];
            return Err(Error::TileFetchFailed {
                z: first.tile.z,
                x: first.tile.x,
                y: first.tile.y,
                reason: format!(
                    "none of the {} tiles could be loaded; the first failed with: {}",
                    self.plan.tile_fetches, first.reason
                ),
            });
        }
        // Whatever waits is final now (no chunk is left).
        let last = self.features.keep(std::mem::take(&mut self.merge).finish(), &mut self.kept);
        // Best first, as one NMS over the whole area orders them: score, then anchor.
        let mut order: Vec<u32> = (0..self.kept.len() as u32).collect();
        let kept = &self.kept;
        order.sort_by(|&a, &b| {
            let ((sa, aa), (sb, ab)) = (kept[a as usize], kept[b as usize]);
            sb.total_cmp(&sa).then(aa.cmp(&ab))
        });
        self.missing.sort_by_key(|f| (f.tile.y, f.tile.x));
        self.missing.dedup_by_key(|f| f.tile);
        self.failed.sort_by_key(|f| f.chunk);
        self.timings.total = total_ms;
        let result = DetectResult {
            detections: crate::geojson::feature_collection(&[]),
            image: ImageInfo::from(&self.plan.extent),
            timings: self.timings,
            missing_tiles: self.missing,
            tiles: self.tiles,
            failed_chunks: self.failed,
            backend,
            fallback_reason,
            attribution: self.attribution,
        };
        Ok(Finished { result, last, order })
    }
}

/// The end of an area's run ([`AreaRun::finish`]).
#[derive(Debug)]
pub struct Finished {
    /// The result, its `detections` empty: they are the released batches, in `order`.
    pub result: DetectResult,
    /// The batch released by the end (the detections that waited for it).
    pub last: Vec<DetectionFeature>,
    /// The result's detections, best first, as indices into every released detection in the
    /// order they were released (the batches concatenated, `last` included).
    pub order: Vec<u32>,
}

impl Finished {
    /// The result with its detections, from every released detection in release order.
    pub fn with_detections(self, released: &[DetectionFeature]) -> Result<DetectResult> {
        let ordered = self
            .order
            .iter()
            .map(|&i| released.get(i as usize).cloned())
            .collect::<Option<Vec<DetectionFeature>>>()
            .ok_or_else(|| Error::Internal(format!("{} detections released, the order names more", released.len())))?;
        Ok(DetectResult { detections: crate::geojson::feature_collection(&ordered), ..self.result })
    }
}

/// Boxes (area pixels) to GeoJSON features of the area, by the `clip` rule.
#[derive(Debug)]
struct Features {
    classes: Vec<String>,
    extent: PixelExtent,
    aoi: Aoi,
    clip: Clip,
}

impl Features {
    fn ring(&self, c: &Candidate) -> Vec<[f64; 2]> {
        c.bbox.corners().iter().map(|p| self.extent.pixel_to_lonlat(p[0], p[1])).collect()
    }

    /// The features of the boxes inside the area; what orders each goes to `kept`.
    fn keep(&self, settled: Vec<Candidate>, kept: &mut Vec<(f32, usize)>) -> Vec<DetectionFeature> {
        settled
            .into_iter()
            .filter_map(|c| {
                let f = self.of(&c)?;
                kept.push((c.score, c.anchor));
                Some(f)
            })
            .collect()
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
        // A box with a non-finite corner or score would be dropped from the GeoJSON, which
        // would shift every later detection's place in the order.
        let finite = c.score.is_finite() && ring.iter().flatten().all(|v| v.is_finite());
        (inside && finite).then(|| DetectionFeature {
            properties: DetectionProperties {
                class: self.classes.get(c.class_id).cloned().unwrap_or_else(|| c.class_id.to_string()),
                class_id: c.class_id as u32,
                score: c.score,
            },
            ring,
        })
    }
}
