//! The head's box decoding on the CPU path: what [`crate::model::yolo::Yolo::decode`]
//! computes with burn's ops (DFL: a softmax over each side's bins and its expectation, or
//! the distances themselves when there is one bin;
//! `dist2bbox` / `dist2rbox`; the sigmoid of the class and angle logits), in loops over
//! blocks of anchors that LLVM vectorises, with the polynomial [`super::act::exp`]. burn's
//! CPU softmax and sigmoid call libm's scalar `expf` 1.7 million times per 1024 px window,
//! 4 % of the forward pass in the browser, and its narrow / reshape / cat steps copy the
//! output several times.

use super::act::exp;
use crate::model::config::{Task, YoloConfig};

/// Anchors per block: the loops below run over a block's anchors, contiguous in each row.
const BLOCK: usize = 16;

/// Decode `raw` (`batch` × [`YoloConfig::raw_rows`] rows of `n` anchors) into
/// `batch` × [`YoloConfig::decoded_rows`] rows: box centre x, y, width, height in input
/// pixels, then the class probabilities, then (OBB) the angle in radians. `anchors` holds the
/// anchor x row then the y row (`2 × n`, in grid cells), `strides` each anchor's stride.
pub fn decode(config: &YoloConfig, raw: &[f32], batch: usize, n: usize, anchors: &[f32], strides: &[f32]) -> Vec<f32> {
    let (rows, out_rows, r, nc) = (config.raw_rows(), config.decoded_rows(), config.reg_max, config.num_classes);
    debug_assert_eq!(raw.len(), batch * rows * n);
    let mut out = vec![0.0; batch * out_rows * n];
    for (raw, out) in raw.chunks_exact(rows * n).zip(out.chunks_exact_mut(out_rows * n)) {
        let at = |row: usize, j: usize| raw[row * n + j];
        for j0 in (0..n).step_by(BLOCK) {
            let len = BLOCK.min(n - j0);
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
            for k in 0..len {
                let j = j0 + k;
                let (ax, ay, stride) = (anchors[j], anchors[n + j], strides[j]);
                let (cx, cy) = match config.task {
                    Task::Detect => (ax + (rr[k] - l[k]) / 2.0, ay + (b[k] - t[k]) / 2.0),
                    Task::Obb => {
                        let logit = at(4 * r + nc, j);
                        let angle = if config.raw_angle { logit } else { angle(logit) };
                        out[(4 + nc) * n + j] = angle;
                        let (xf, yf) = ((rr[k] - l[k]) / 2.0, (b[k] - t[k]) / 2.0);
                        let (sin, cos) = angle.sin_cos();
                        (ax + xf * cos - yf * sin, ay + xf * sin + yf * cos)
                    }
                };
                out[j] = cx * stride;
                out[n + j] = cy * stride;
                out[2 * n + j] = (l[k] + rr[k]) * stride;
                out[3 * n + j] = (t[k] + b[k]) * stride;
            }
        }
        for c in 0..nc {
            for (o, v) in out[(4 + c) * n..][..n].iter_mut().zip(&raw[(4 * r + c) * n..][..n]) {
                *o = sigmoid(*v);
            }
        }
    }
    out
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
