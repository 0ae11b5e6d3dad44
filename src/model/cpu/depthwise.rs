//! Depthwise 3×3 convolutions (stride 1, padding 1; ultralytics' `DWConv` in YOLO11's and
//! YOLO26's class branch, and the positional convolution of their attention), with bias,
//! activation and residual in the same pass. burn's grouped convolution is fast enough, but
//! its separate SiLU calls a scalar `exp` per value and took three times as long as the
//! convolution itself.
//!
//! Each output row is the sum of nine shifted input rows times one weight each, written as
//! slice-wide multiply-adds that LLVM vectorises; channels are split between threads.

use super::act::{Activation, silu};
use super::parallel;
use crate::{Error, Result};

/// A depthwise 3×3 convolution with its bias and activation.
#[derive(Clone, Debug)]
pub struct DepthwiseConv {
    /// `[channels, 3, 3]`.
    weight: Vec<f32>,
    bias: Vec<f32>,
    act: Activation,
}

impl DepthwiseConv {
    /// From ultralytics' `[channels, 1, 3, 3]` weight (BatchNorm folded in) and bias.
    pub fn new(weight: &[f32], bias: &[f32], act: Activation) -> Result<Self> {
        if weight.len() != 9 * bias.len() || bias.is_empty() {
            return Err(Error::Internal(format!(
                "a depthwise 3x3 convolution of {} channels got {} weights",
                bias.len(),
                weight.len()
            )));
        }
        Ok(DepthwiseConv { weight: weight.to_vec(), bias: bias.to_vec(), act })
    }

    /// Channels in and out.
    pub fn channels(&self) -> usize {
        self.bias.len()
    }

    /// Run on `batch` NCHW images `x` of `h × w`, adding `residual` (shaped like `x`) after the
    /// activation.
    pub fn run(&self, x: &[f32], batch: usize, (h, w): (usize, usize), residual: Option<&[f32]>) -> Result<Vec<f32>> {
        let (c, plane) = (self.channels(), h * w);
        if x.len() != batch * c * plane || residual.is_some_and(|r| r.len() != x.len()) {
            return Err(Error::Internal(format!("{} values are not {batch}x{c}x{h}x{w}", x.len())));
        }
        let mut out = vec![0.0; x.len()];
        let planes = batch * c;
        let pieces = parallel::pieces(planes, 1, planes * plane * 9);
        let mut jobs = Vec::with_capacity(pieces.len());
        let mut rest = out.as_mut_slice();
        for range in pieces {
            let (mine, tail) = rest.split_at_mut(range.len() * plane);
            rest = tail;
            jobs.push((range, mine));
        }
        parallel::each(jobs, |(range, out)| {
            for (p, out) in range.zip(out.chunks_exact_mut(plane)) {
                let ch = p % c;
                let input = &x[p * plane..][..plane];
                self.plane(ch, input, (h, w), out);
                if let Some(r) = residual {
                    out.iter_mut().zip(&r[p * plane..][..plane]).for_each(|(o, r)| *o += r);
                }
            }
        });
        Ok(out)
    }

    /// One channel's plane.
    fn plane(&self, ch: usize, x: &[f32], (h, w): (usize, usize), out: &mut [f32]) {
        let k = &self.weight[ch * 9..][..9];
        for (y, row) in out.chunks_exact_mut(w).enumerate() {
            row.fill(self.bias[ch]);
            for dy in 0..3 {
                let Some(iy) = (y + dy).checked_sub(1).filter(|&iy| iy < h) else { continue };
                let src = &x[iy * w..][..w];
                let [left, mid, right] = [k[dy * 3], k[dy * 3 + 1], k[dy * 3 + 2]];
                // Output column j reads input columns j - 1, j and j + 1.
                row.iter_mut().zip(src).for_each(|(o, s)| *o += mid * s);
                row[1..].iter_mut().zip(&src[..w - 1]).for_each(|(o, s)| *o += left * s);
                row[..w - 1].iter_mut().zip(&src[1..]).for_each(|(o, s)| *o += right * s);
            }
            if self.act == Activation::Silu {
                row.iter_mut().for_each(|v| *v = silu(*v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_direct_convolution_with_padding_bias_silu_and_residual() {
        let (batch, c, h, w) = (2, 3, 5, 7);
        let weight: Vec<f32> = (0..c * 9).map(|i| ((i * 37) % 17) as f32 / 17.0 - 0.5).collect();
        let bias: Vec<f32> = (0..c).map(|i| i as f32 * 0.1 - 0.1).collect();
        let x: Vec<f32> = (0..batch * c * h * w).map(|i| ((i * 7919) % 101) as f32 / 101.0 - 0.3).collect();
        let residual: Vec<f32> = x.iter().map(|v| v * 0.5).collect();
        for act in [Activation::Identity, Activation::Silu] {
            let conv = DepthwiseConv::new(&weight, &bias, act).unwrap();
            let got = conv.run(&x, batch, (h, w), Some(&residual)).unwrap();
            for b in 0..batch {
                for ch in 0..c {
                    for y in 0..h {
                        for xo in 0..w {
                            let mut s = bias[ch];
                            for dy in 0..3 {
                                for dx in 0..3 {
                                    let (iy, ix) = (y as isize + dy as isize - 1, xo as isize + dx as isize - 1);
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                        let v = x[((b * c + ch) * h + iy as usize) * w + ix as usize];
                                        s += weight[ch * 9 + dy * 3 + dx] * v;
                                    }
                                }
                            }
                            let i = ((b * c + ch) * h + y) * w + xo;
                            let s = if act == Activation::Silu { s / (1.0 + (-s).exp()) } else { s };
                            let want = s + residual[i];
                            assert!((got[i] - want).abs() < 1e-5, "{act:?} {b} {ch} {y} {xo}: {} vs {want}", got[i]);
                        }
                    }
                }
            }
        }
        assert!(DepthwiseConv::new(&weight[..9], &bias, Activation::Silu).is_err());
        let conv = DepthwiseConv::new(&weight, &bias, Activation::Silu).unwrap();
        assert!(conv.run(&x[1..], batch, (h, w), None).is_err());
    }
}
