//! The head's box decoding on the CPU path: what [`crate::model::yolo::Yolo::decode`]
//! computes with burn's ops (DFL: a softmax over each side's bins and its expectation, or
//! the distances themselves when there is one bin;
//! `dist2bbox` / `dist2rbox`; the sigmoid of the class and angle logits), in loops over
//! blocks of anchors that LLVM vectorises, with the polynomial [`super::act::exp`]. burn's
//! CPU softmax and sigmoid call libm's scalar `expf` 1.7 million times per 1024 px window,
//! 4 % of the forward pass in the browser, and its narrow / reshape / cat steps copy the
//! output several times.

use std::ops::Range;

use super::act::exp;
use super::parallel;
use crate::model::config::{Task, YoloConfig};

/// Anchors per block: the loops below run over a block's anchors, contiguous in each row.
const BLOCK: usize = 16;

/// Operations per raw value (an exponential and what surrounds it), the work
/// [`parallel::pieces`] weighs: at 1024 px the decoding of one window took 7–9 ms on one
/// thread in the browser, worth cutting for the threads.
const WORK_PER_VALUE: usize = 16;

/// Decode `raw` (`batch` × [`YoloConfig::raw_rows`] rows of `n` anchors) into
/// `batch` × [`YoloConfig::decoded_rows`] rows: box centre x, y, width, height in input
/// pixels, then the class probabilities, then (OBB) the angle in radians. `anchors` holds the
/// anchor x row then the y row (`2 × n`, in grid cells), `strides` each anchor's stride.
/// The threads take ranges of anchors.
pub fn decode(config: &YoloConfig, raw: &[f32], batch: usize, n: usize, anchors: &[f32], strides: &[f32]) -> Vec<f32> {
    let pieces = parallel::pieces(n, BLOCK, n * config.raw_rows() * WORK_PER_VALUE);
    decode_in(config, raw, batch, n, anchors, strides, &pieces)
}

/// [`decode`] with the anchors cut into `pieces` (consecutive, covering `0..n`).
fn decode_in(
    config: &YoloConfig,
    raw: &[f32],
    batch: usize,
    n: usize,
    anchors: &[f32],
    strides: &[f32],
    pieces: &[Range<usize>],
) -> Vec<f32> {
    let (rows, out_rows) = (config.raw_rows(), config.decoded_rows());
    debug_assert_eq!(raw.len(), batch * rows * n);
    let mut out = vec![0.0; batch * out_rows * n];
    for (raw, out) in raw.chunks_exact(rows * n).zip(out.chunks_exact_mut(out_rows * n)) {
        // Each piece's anchors in every output row.
        let jobs = parallel::share_rows(out, n, pieces, 1);
        parallel::each(jobs, |(range, mut out)| anchors_into(config, raw, n, (anchors, strides), range, &mut out));
    }
    out
}

/// Anchors `range` of one image's `raw` output into `out`: one slice of `range.len()` values
/// per decoded row.
fn anchors_into(
    config: &YoloConfig,
    raw: &[f32],
    n: usize,
    (anchors, strides): (&[f32], &[f32]),
    range: Range<usize>,
    out: &mut [&mut [f32]],
) {
    let (r, nc) = (config.reg_max, config.num_classes);
    let at = |row: usize, j: usize| raw[row * n + j];
    for j0 in range.clone().step_by(BLOCK) {
        let len = BLOCK.min(range.end - j0);
        // l, t, r, b: the expected bin of each side.
        let mut dist = [[0.0f32; BLOCK]; 4];
        for (side, dist) in dist.iter_mut().enumerate() {
            let bins = |bin: usize| &raw[(side * r + bin) * n + j0..][..len];
            if r == 1 {
                // No DFL (YOLO26): the row is the distance itself.
                dist[..len].copy_from_slice(bins(0));
                continue;
            }
            let mut max = [f32::NEG_INFINITY; BLOCK];
            for bin in 0..r {
                for (m, v) in max.iter_mut().zip(bins(bin)) {
                    *m = m.max(*v);
                }
            }
            let (mut sum, mut weighted) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
            for bin in 0..r {
                for (((s, w), m), v) in sum.iter_mut().zip(&mut weighted).zip(&max).zip(bins(bin)) {
                    let e = exp(v - m);
                    *s += e;
                    *w += bin as f32 * e;
                }
            }
            for ((d, w), s) in dist.iter_mut().zip(&weighted).zip(&sum).take(len) {
                *d = w / s;
            }
        }
        let [l, t, rr, b] = dist;
        // The block's rows first (the output rows are slices behind a vector: writing them
        // one value at a time re-reads where each row is, after every store).
        let (mut rows, mut angles) = ([[0.0f32; BLOCK]; 4], [0.0f32; BLOCK]);
        for k in 0..len {
            let j = j0 + k;
            let (ax, ay, stride) = (anchors[j], anchors[n + j], strides[j]);
            let (cx, cy) = match config.task {
                Task::Detect => (ax + (rr[k] - l[k]) / 2.0, ay + (b[k] - t[k]) / 2.0),
                Task::Obb => {
                    let logit = at(4 * r + nc, j);
                    let angle = if config.raw_angle { logit } else { angle(logit) };
                    angles[k] = angle;
                    let (xf, yf) = ((rr[k] - l[k]) / 2.0, (b[k] - t[k]) / 2.0);
                    let (sin, cos) = angle.sin_cos();
                    (ax + xf * cos - yf * sin, ay + xf * sin + yf * cos)
                }
            };
            rows[0][k] = cx * stride;
            rows[1][k] = cy * stride;
            rows[2][k] = (l[k] + rr[k]) * stride;
            rows[3][k] = (t[k] + b[k]) * stride;
        }
        let o = j0 - range.start;
        for (out, row) in out.iter_mut().zip(&rows) {
            out[o..o + len].copy_from_slice(&row[..len]);
        }
        if config.task == Task::Obb {
            out[4 + nc][o..o + len].copy_from_slice(&angles[..len]);
        }
    }
    for c in 0..nc {
        for (o, v) in out[4 + c].iter_mut().zip(&raw[(4 * r + c) * n + range.start..][..range.len()]) {
            *o = sigmoid(*v);
        }
    }
}

/// ultralytics' `OBB` angle: `(sigmoid(logit) − 1/4) · π`, in −π/4..3π/4 (`OBB26` uses the
/// logit as it is).
fn angle(logit: f32) -> f32 {
    (sigmoid(logit) - 0.25) * std::f32::consts::PI
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{Family, Scale};

    #[test]
    fn anchors_cut_into_pieces_decode_as_one_range() {
        for (family, task) in [(Family::Yolov8, Task::Obb), (Family::Yolov8, Task::Detect), (Family::Yolo26, Task::Obb)]
        {
            let config = YoloConfig::standard(family, Scale::N, task, 3);
            let (batch, n) = (2, 77);
            let raw: Vec<f32> =
                (0..batch * config.raw_rows() * n).map(|i| ((i * 7919 + 13) % 1009) as f32 / 100.0 - 5.0).collect();
            let anchors: Vec<f32> = (0..2 * n).map(|i| (i % 11) as f32 + 0.5).collect();
            let strides: Vec<f32> = (0..n).map(|j| [8.0, 16.0, 32.0][j % 3]).collect();
            let all = 0..n;
            let whole = decode_in(&config, &raw, batch, n, &anchors, &strides, std::slice::from_ref(&all));
            assert_eq!(whole.len(), batch * config.decoded_rows() * n);
            assert!(whole.iter().all(|v| v.is_finite()), "{family:?} {task:?}");
            // Uneven pieces, not on block boundaries, one of them empty.
            let pieces = [0..5, 5..5, 5..40, 40..n];
            assert_eq!(decode_in(&config, &raw, batch, n, &anchors, &strides, &pieces), whole, "{family:?} {task:?}");
            assert_eq!(decode(&config, &raw, batch, n, &anchors, &strides), whole, "{family:?} {task:?}");
        }
    }
}
