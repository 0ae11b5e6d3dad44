//! From the decoded head output to final boxes: score threshold, class-aware greedy NMS.
//!
//! The specification, shared with `models/reference/make_reference.py`:
//! 1. per anchor, score = highest class probability, class = its index (lowest on ties);
//!    keep anchors with score > confidence (and, if a class filter is set, in it);
//! 2. sort by score descending, ties by anchor index ascending; keep at most
//!    [`MAX_CANDIDATES`];
//! 3. walk that list and keep a box unless its IoU with an already kept box of the same
//!    class is above the IoU threshold (exact rotated IoU for OBB); stop at `max_detections`;
//! 4. OBB boxes are then regularized (angle in `[0, π/2)`).

use serde::{Deserialize, Serialize};

use super::boxes::{Outline, RotatedBox};
use crate::model::Task;

/// Most candidates considered by NMS (ultralytics' `max_nms`).
pub const MAX_CANDIDATES: usize = 30_000;

/// A scored box before or after NMS, in model-input pixels until mapped. It crosses between
/// workers as JSON (a chunk's boxes, run on one worker and merged on another); `f32` and
/// `f64` round-trip exactly through serde_json's shortest representation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// Anchor index in the head output (used for stable ordering).
    pub anchor: usize,
    pub class_id: usize,
    pub score: f32,
    pub bbox: RotatedBox,
}

/// Thresholds for [`candidates`] and [`nms`].
#[derive(Clone, Debug)]
pub struct NmsParams {
    pub confidence: f32,
    pub iou: f32,
    pub max_detections: usize,
    /// `Some(mask)`: only classes whose entry is true are kept.
    pub class_mask: Option<Vec<bool>>,
}

/// Candidates above the confidence threshold from a decoded output laid out `[rows, n]`
/// (rows = 4 box + `num_classes` (+1 angle)), sorted by score descending.
pub fn candidates(decoded: &[f32], n: usize, num_classes: usize, task: Task, params: &NmsParams) -> Vec<Candidate> {
    let row = |r: usize| &decoded[r * n..(r + 1) * n];
    // Each anchor's best class, a class row at a time (the rows are contiguous).
    let (mut best, mut class) = (vec![f32::NEG_INFINITY; n], vec![0usize; n]);
    for c in 0..num_classes {
        for ((p, best), class) in row(4 + c).iter().zip(&mut best).zip(&mut class) {
            if *p > *best {
                (*class, *best) = (c, *p);
            }
        }
    }
    let mut out = Vec::new();
    for (j, (&score, &class_id)) in best.iter().zip(&class).enumerate() {
        // `score` starts at -inf and only grows, so it is never NaN here.
        if score <= params.confidence {
            continue;
        }
        if params.class_mask.as_ref().is_some_and(|m| !m.get(class_id).copied().unwrap_or(false)) {
            continue;
        }
        out.push(Candidate { anchor: j, class_id, score, bbox: box_at(decoded, n, num_classes, task, j) });
    }
    sort_by_score(&mut out);
    out.truncate(MAX_CANDIDATES);
    out
}

/// Anchor `j`'s box in a decoded output laid out `[rows, n]`: centre, size and (OBB) angle
/// as the head gives them, not yet regularized.
pub fn box_at(decoded: &[f32], n: usize, num_classes: usize, task: Task, j: usize) -> RotatedBox {
    let at = |r: usize| decoded[r * n + j] as f64;
    let angle = match task {
        Task::Obb => at(4 + num_classes),
        Task::Detect => 0.0,
    };
    RotatedBox { cx: at(0), cy: at(1), w: at(2), h: at(3), angle }
}

/// Score descending, then anchor ascending.
pub fn sort_by_score(c: &mut [Candidate]) {
    c.sort_by(best_first);
}

/// The order of [`sort_by_score`]: score descending, then anchor ascending.
pub fn best_first(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    b.score.total_cmp(&a.score).then(a.anchor.cmp(&b.anchor))
}

/// Greedy class-aware NMS over candidates already sorted by [`sort_by_score`].
pub fn nms(sorted: Vec<Candidate>, iou: f32, max_detections: usize) -> Vec<Candidate> {
    // Each kept box's outline, computed once for its IoUs with every later candidate.
    let mut kept: Vec<(Candidate, Outline)> = Vec::new();
    for c in sorted {
        if kept.len() >= max_detections {
            break;
        }
        let outline = c.bbox.outline();
        let suppressed = kept.iter().any(|(k, o)| k.class_id == c.class_id && o.iou(&outline) > iou as f64);
        if !suppressed {
            kept.push((c, outline));
        }
    }
    kept.into_iter().map(|(c, _)| c).collect()
}

/// [`candidates`] then [`nms`], with OBB boxes regularized.
pub fn postprocess(decoded: &[f32], n: usize, num_classes: usize, task: Task, params: &NmsParams) -> Vec<Candidate> {
    let mut kept = nms(candidates(decoded, n, num_classes, task, params), params.iou, params.max_detections);
    if task == Task::Obb {
        kept.iter_mut().for_each(|c| c.bbox = c.bbox.regularized());
    }
    kept
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn params() -> NmsParams {
        NmsParams { confidence: 0.25, iou: 0.45, max_detections: 300, class_mask: None }
    }

    /// Decoded layout for 2 classes + angle, one column per (cx, cy, w, h, p0, p1, angle).
    pub(crate) fn decoded(cols: &[[f32; 7]]) -> Vec<f32> {
        (0..7).flat_map(|r| cols.iter().map(move |c| c[r])).collect()
    }

    #[test]
    fn threshold_is_strict_and_ties_keep_anchor_order() {
        let d = decoded(&[
            [0.0, 0.0, 2.0, 2.0, 0.25, 0.1, 0.0],
            [10.0, 0.0, 2.0, 2.0, 0.6, 0.1, 0.0],
            [20.0, 0.0, 2.0, 2.0, 0.1, 0.6, 0.0],
            [30.0, 0.0, 2.0, 2.0, 0.7, 0.7, 0.0],
        ]);
        let c = candidates(&d, 4, 2, Task::Obb, &params());
        assert_eq!(c.iter().map(|c| c.anchor).collect::<Vec<_>>(), vec![3, 1, 2]);
        // Equal class scores: the lower class index wins.
        assert_eq!(c[0].class_id, 0);
    }

    #[test]
    fn nms_is_class_aware_and_greedy() {
        let d = decoded(&[
            [0.0, 0.0, 10.0, 10.0, 0.9, 0.0, 0.0],
            [1.0, 0.0, 10.0, 10.0, 0.8, 0.0, 0.0], // IoU 0.82 with #0: suppressed
            [1.0, 0.0, 10.0, 10.0, 0.0, 0.7, 0.0], // other class: kept
            [7.0, 0.0, 10.0, 10.0, 0.6, 0.0, 0.0], // IoU 0.18 with #0: kept
        ]);
        let kept = postprocess(&d, 4, 2, Task::Obb, &params());
        assert_eq!(kept.iter().map(|c| c.anchor).collect::<Vec<_>>(), vec![0, 2, 3]);
        let one = postprocess(&d, 4, 2, Task::Obb, &NmsParams { max_detections: 1, ..params() });
        assert_eq!(one.len(), 1);
        let mask = NmsParams { class_mask: Some(vec![false, true]), ..params() };
        assert_eq!(postprocess(&d, 4, 2, Task::Obb, &mask).iter().map(|c| c.anchor).collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn obb_output_is_regularized_and_detect_has_no_angle() {
        let d = decoded(&[[5.0, 5.0, 4.0, 2.0, 0.9, 0.0, 2.0]]);
        let obb = postprocess(&d, 1, 2, Task::Obb, &params());
        assert_eq!((obb[0].bbox.w, obb[0].bbox.h), (2.0, 4.0));
        // For a detect head the 7th row would not exist; with 2 classes rows 0..6 are read.
        let det = postprocess(&d[..6], 1, 2, Task::Detect, &params());
        assert_eq!(det[0].bbox.angle, 0.0);
    }

    #[test]
    fn nan_scores_never_pass() {
        let d = decoded(&[[0.0, 0.0, 1.0, 1.0, f32::NAN, f32::NAN, 0.0]]);
        assert!(candidates(&d, 1, 2, Task::Obb, &params()).is_empty());
    }
}
