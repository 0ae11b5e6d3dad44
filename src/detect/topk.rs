//! From the decoded one-to-one output of an end-to-end head (YOLO26) to final boxes, with no
//! NMS: the selection ultralytics' end-to-end export does (`Detect.postprocess`), then the
//! score threshold its predictor applies.
//!
//! The specification, shared with `models/reference/make_reference.py`:
//! 1. per anchor, its highest class probability; the `k = min(max_detections, N)` anchors
//!    with the highest (ties: lower anchor first);
//! 2. over those anchors' class probabilities, every (anchor, class) pair, the `k` highest
//!    (ties: lower anchor, then lower class first): one anchor may give boxes of several
//!    classes;
//! 3. keep pairs whose probability is above the confidence threshold (and, with a class
//!    filter, in it); order by score descending, ties by anchor then class;
//! 4. OBB boxes are regularized (angle in `[0, π/2)`), as after NMS.

use super::nms::{Candidate, NmsParams, box_at};
use crate::model::Task;

/// The boxes an end-to-end head's one-to-one branch gives, from a decoded output laid out
/// `[rows, n]` (rows = 4 box + `num_classes` (+1 angle)).
pub fn postprocess(decoded: &[f32], n: usize, num_classes: usize, task: Task, params: &NmsParams) -> Vec<Candidate> {
    let row = |r: usize| &decoded[r * n..(r + 1) * n];
    let k = params.max_detections.min(n);
    // 1. Each anchor's best probability (NaN never wins), the top k anchors.
    let mut best = vec![f32::NEG_INFINITY; n];
    for c in 0..num_classes {
        for (b, p) in best.iter_mut().zip(row(4 + c)) {
            if *p > *b {
                *b = *p;
            }
        }
    }
    let mut anchors: Vec<usize> = (0..n).collect();
    let by_best = |a: &usize, b: &usize| best[*b].total_cmp(&best[*a]).then(a.cmp(b));
    if k < n {
        anchors.select_nth_unstable_by(k, by_best);
        anchors.truncate(k);
    }
    // 2. The top k of those anchors' (anchor, class) pairs.
    let mut pairs: Vec<(f32, usize, usize)> = anchors
        .iter()
        .flat_map(|&j| (0..num_classes).map(move |c| (row(4 + c)[j], j, c)))
        .filter(|(p, _, _)| !p.is_nan())
        .collect();
    let by_score =
        |a: &(f32, usize, usize), b: &(f32, usize, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2));
    if k < pairs.len() {
        pairs.select_nth_unstable_by(k, by_score);
        pairs.truncate(k);
    }
    pairs.sort_by(by_score);
    // 3. The threshold and the class filter; 4. the boxes.
    pairs
        .into_iter()
        .filter(|&(p, _, c)| {
            p > params.confidence && params.class_mask.as_ref().is_none_or(|m| m.get(c).copied().unwrap_or(false))
        })
        .map(|(score, j, class_id)| {
            let bbox = box_at(decoded, n, num_classes, task, j);
            let bbox = if task == Task::Obb { bbox.regularized() } else { bbox };
            Candidate { anchor: j, class_id, score, bbox }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::nms::tests::decoded;

    fn params(max_detections: usize) -> NmsParams {
        NmsParams { confidence: 0.25, iou: 0.45, max_detections, class_mask: None }
    }

    #[test]
    fn overlapping_boxes_all_stay_and_one_anchor_can_give_two_classes() {
        let d = decoded(&[
            [0.0, 0.0, 10.0, 10.0, 0.9, 0.0, 0.0],
            [1.0, 0.0, 10.0, 10.0, 0.8, 0.6, 0.0], // overlaps #0: no NMS, kept; both classes pass
            [50.0, 0.0, 10.0, 10.0, 0.2, 0.1, 0.0], // below the threshold
            [60.0, 0.0, 4.0, 2.0, 0.0, 0.5, 2.0],
        ]);
        let got = postprocess(&d, 4, 2, Task::Obb, &params(300));
        let ids: Vec<(usize, usize)> = got.iter().map(|c| (c.anchor, c.class_id)).collect();
        assert_eq!(ids, vec![(0, 0), (1, 0), (1, 1), (3, 1)]);
        // Regularized like NMS's output: angle 2 rad becomes 2 - pi/2 with w and h swapped.
        assert_eq!((got[3].bbox.w, got[3].bbox.h), (2.0, 4.0));
        let mask = NmsParams { class_mask: Some(vec![false, true]), ..params(300) };
        assert_eq!(postprocess(&d, 4, 2, Task::Obb, &mask).len(), 2);
    }

    #[test]
    fn k_limits_first_the_anchors_then_the_pairs() {
        let d = decoded(&[
            [0.0, 0.0, 1.0, 1.0, 0.9, 0.85, 0.0],
            [1.0, 0.0, 1.0, 1.0, 0.8, 0.0, 0.0],
            [2.0, 0.0, 1.0, 1.0, 0.7, 0.0, 0.0],
        ]);
        // k = 2: anchors 0 and 1; their pairs 0.9, 0.85, 0.8: the best two are both anchor 0's.
        let got = postprocess(&d, 3, 2, Task::Obb, &params(2));
        assert_eq!(got.iter().map(|c| (c.anchor, c.class_id)).collect::<Vec<_>>(), vec![(0, 0), (0, 1)]);
        // Ties: the lower anchor first.
        let tie = decoded(&[[0.0, 0.0, 1.0, 1.0, 0.5, 0.0, 0.0], [1.0, 0.0, 1.0, 1.0, 0.5, 0.0, 0.0]]);
        let got = postprocess(&tie, 2, 2, Task::Obb, &params(1));
        assert_eq!(got.iter().map(|c| c.anchor).collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn nan_scores_never_pass() {
        let d = decoded(&[[0.0, 0.0, 1.0, 1.0, f32::NAN, f32::NAN, 0.0], [0.0, 0.0, 1.0, 1.0, 0.3, f32::NAN, 0.0]]);
        let got = postprocess(&d, 2, 2, Task::Detect, &params(300));
        assert_eq!(got.iter().map(|c| (c.anchor, c.class_id)).collect::<Vec<_>>(), vec![(1, 0)]);
    }
}
