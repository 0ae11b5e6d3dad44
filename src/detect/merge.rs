//! Detections merged across the seams of an area run piece by piece (windows, chunks), and
//! released as soon as they are final.
//!
//! Non-maximum suppression over the whole area is greedy by score, but whether a box
//! survives depends only on the boxes it overlaps, and on theirs in turn: on its group of
//! boxes connected by overlap. So a group can be settled (NMS within it) as soon as no
//! later piece can add a box to it: when none of its boxes reaches into a region where later
//! pieces' boxes may lie. Settling group by group gives exactly the boxes that one NMS over
//! every piece's boxes would keep, whatever the order and the cut of the pieces.

use super::nms::{self, Candidate};

/// Boxes with the group each belongs to.
type Grouped = Vec<(usize, Candidate)>;

/// Boxes waiting for their group to be complete.
#[derive(Debug, Default)]
pub struct SeamMerge {
    iou: f32,
    pending: Vec<Candidate>,
}

impl SeamMerge {
    /// NMS at IoU `iou` (class-aware, as [`nms::nms`]).
    pub fn new(iou: f32) -> Self {
        SeamMerge { iou, pending: Vec::new() }
    }

    /// Boxes of a piece just run (in area pixels).
    pub fn add(&mut self, boxes: impl IntoIterator<Item = Candidate>) {
        self.pending.extend(boxes);
    }

    /// Boxes waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The boxes of every group that none of `open` (`[x0, y0, x1, y1]`, where later pieces'
    /// boxes may lie) touches, after NMS within each group; best first (score, then anchor).
    pub fn settle(&mut self, open: &[[f64; 4]]) -> Vec<Candidate> {
        let bounds: Vec<[f64; 4]> = self.pending.iter().map(|c| c.bbox.bounds()).collect();
        let groups = groups(&bounds);
        let mut blocked = vec![false; self.pending.len()];
        for (i, b) in bounds.iter().enumerate() {
            if open.iter().any(|o| overlaps(b, o)) {
                blocked[groups[i]] = true;
            }
        }
        let (mut ready, waiting): (Grouped, Grouped) =
            self.pending.drain(..).enumerate().map(|(i, c)| (groups[i], c)).partition(|(g, _)| !blocked[*g]);
        self.pending = waiting.into_iter().map(|(_, c)| c).collect();
        ready.sort_by_key(|(g, _)| *g);
        let mut kept = Vec::new();
        for group in ready.chunk_by(|a, b| a.0 == b.0) {
            let mut boxes: Vec<Candidate> = group.iter().map(|(_, c)| c.clone()).collect();
            nms::sort_by_score(&mut boxes);
            kept.extend(nms::nms(boxes, self.iou, usize::MAX));
        }
        nms::sort_by_score(&mut kept);
        kept
    }

    /// Everything still waiting (no piece is left), as [`SeamMerge::settle`].
    pub fn finish(mut self) -> Vec<Candidate> {
        self.settle(&[])
    }
}

/// Whether two `[x0, y0, x1, y1]` rectangles share area (touching edges do not: boxes that
/// only touch have an IoU of 0).
fn overlaps(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// The group of each rectangle (the smallest index in it): rectangles are linked when they
/// overlap, and groups are the connected sets. A sweep along x keeps it near-linear for boxes
/// spread over an area.
fn groups(bounds: &[[f64; 4]]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..bounds.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut order: Vec<usize> = (0..bounds.len()).collect();
    order.sort_by(|&a, &b| bounds[a][0].total_cmp(&bounds[b][0]));
    for (k, &i) in order.iter().enumerate() {
        for &j in &order[k + 1..] {
            if bounds[j][0] >= bounds[i][2] {
                break;
            }
            if overlaps(&bounds[i], &bounds[j]) {
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                parent[ri.max(rj)] = ri.min(rj);
            }
        }
    }
    (0..bounds.len()).map(|i| root(&mut parent, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::RotatedBox;

    fn cand(anchor: usize, class_id: usize, score: f32, cx: f64, cy: f64, w: f64) -> Candidate {
        Candidate { anchor, class_id, score, bbox: RotatedBox { cx, cy, w, h: w * 0.6, angle: 0.3 } }
    }

    /// Boxes scattered so that some overlap in chains, of two classes.
    fn scattered() -> Vec<Candidate> {
        let mut state = 7u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 10_000) as f64 / 10_000.0
        };
        (0..400)
            .map(|i| {
                let (x, y, s, w) = (next() * 3000.0, next() * 2000.0, next() as f32, 10.0 + next() * 60.0);
                cand(i, i % 2, s, x, y, w)
            })
            .collect()
    }

    fn global_nms(mut all: Vec<Candidate>, iou: f32) -> Vec<Candidate> {
        nms::sort_by_score(&mut all);
        nms::nms(all, iou, usize::MAX)
    }

    #[test]
    fn settling_piece_by_piece_equals_one_nms_over_everything() {
        let all = scattered();
        let want = global_nms(all.clone(), 0.45);
        assert!(want.len() < all.len() && want.len() > 100, "the fixture suppresses some boxes: {}", want.len());
        // Pieces: vertical strips of 500 px, run left to right; a box belongs to the strip
        // of its centre, and later strips may hold boxes anywhere right of their left edge.
        for strip in [250.0, 500.0, 1000.0, 5000.0] {
            let mut merge = SeamMerge::new(0.45);
            let mut got = Vec::new();
            let mut x = 0.0;
            while x < 3000.0 {
                merge.add(all.iter().filter(|c| c.bbox.cx >= x && c.bbox.cx < x + strip).cloned());
                x += strip;
                // Boxes of later strips reach at most 60 px left of the strip's edge.
                got.extend(merge.settle(&[[x - 60.0, f64::NEG_INFINITY, f64::INFINITY, f64::INFINITY]]));
            }
            got.extend(merge.finish());
            nms::sort_by_score(&mut got);
            assert_eq!(got, want, "strips of {strip} px");
        }
    }

    #[test]
    fn a_box_near_an_open_region_waits_and_its_group_with_it() {
        let mut merge = SeamMerge::new(0.45);
        // A chain: a overlaps b, b overlaps c; c reaches into the open region.
        let (a, b, c) = (
            cand(0, 0, 0.9, 100.0, 100.0, 40.0),
            cand(1, 0, 0.8, 130.0, 100.0, 40.0),
            cand(2, 0, 0.7, 160.0, 100.0, 40.0),
        );
        let far = cand(3, 0, 0.6, 500.0, 500.0, 40.0);
        merge.add([a.clone(), b, c, far.clone()]);
        let settled = merge.settle(&[[170.0, 0.0, 300.0, 300.0]]);
        assert_eq!(settled, vec![far]);
        assert_eq!(merge.pending(), 3);
        let rest = merge.finish();
        assert_eq!(rest.first(), Some(&a));
    }
}
