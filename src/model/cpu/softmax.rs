//! The softmax over the last axis, on the CPU path: the attention of YOLO11's `C2PSA` and
//! YOLO26's (`softmax_j(q_i · k_j)`, `[B, heads, N, N]`: two million values per 1024 px window
//! and attention block). burn's CPU softmax calls libm's scalar `expf` on one thread: 21 ms an
//! attention block at 1024 px in the browser, about a tenth of YOLO26's forward pass with 2
//! threads. Here the rows go to the threads and the exponential is [`super::act::exp`], in
//! lanes that LLVM vectorises.

use std::ops::Range;

use super::act::exp;
use super::parallel;

/// Lanes of the row loops (the maximum and the sum are kept per lane, then folded).
const LANES: usize = 8;

/// Operations per value (an exponential, its sum and scaling), the work [`parallel::pieces`]
/// weighs.
const WORK_PER_VALUE: usize = 16;

/// `softmax` over each row of `row` consecutive values of `x` (`x.len()` a multiple of
/// `row`): `e^(x − max) / Σ e^(x − max)`, as burn and onnxruntime compute it.
pub fn softmax_rows(x: &[f32], row: usize) -> Vec<f32> {
    if row == 0 {
        return Vec::new();
    }
    let pieces = parallel::pieces(x.len() / row, 1, x.len() * WORK_PER_VALUE);
    softmax_in(x, row, &pieces)
}

/// [`softmax_rows`] with the rows cut into `pieces` (consecutive, covering every row).
fn softmax_in(x: &[f32], row: usize, pieces: &[Range<usize>]) -> Vec<f32> {
    debug_assert_eq!(x.len() % row, 0);
    let mut out = vec![0.0; x.len()];
    let mut jobs = Vec::with_capacity(pieces.len());
    let mut rest = out.as_mut_slice();
    for range in pieces {
        let (head, tail) = rest.split_at_mut(range.len() * row);
        jobs.push((range.clone(), head));
        rest = tail;
    }
    parallel::each(jobs, |(range, out)| {
        for (src, dst) in x[range.start * row..range.end * row].chunks_exact(row).zip(out.chunks_exact_mut(row)) {
            one_row(src, dst);
        }
    });
    out
}

/// The softmax of `src` into `dst`.
fn one_row(src: &[f32], dst: &mut [f32]) {
    let (chunks, tail) = src.as_chunks::<LANES>();
    let mut max = [f32::NEG_INFINITY; LANES];
    for chunk in chunks {
        for (m, v) in max.iter_mut().zip(chunk) {
            *m = m.max(*v);
        }
    }
    let max = tail.iter().chain(&max).copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = [0.0f32; LANES];
    let (dst_chunks, dst_tail) = dst.as_chunks_mut::<LANES>();
    for (d, s) in dst_chunks.iter_mut().zip(chunks) {
        for ((d, s), acc) in d.iter_mut().zip(s).zip(&mut sum) {
            *d = exp(s - max);
            *acc += *d;
        }
    }
    let mut total: f32 = sum.iter().sum();
    for (d, s) in dst_tail.iter_mut().zip(tail) {
        *d = exp(s - max);
        total += *d;
    }
    let inv = 1.0 / total;
    dst.iter_mut().for_each(|d| *d *= inv);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The softmax by definition, in f64.
    fn reference(row: &[f32]) -> Vec<f64> {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let e: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        e.iter().map(|v| v / sum).collect()
    }

    #[test]
    fn rows_sum_to_one_and_match_the_definition_in_any_pieces() {
        for (rows, row) in [(1, 1), (3, 7), (5, 8), (4, 1024), (9, 61)] {
            // Scores from -60 to +60, as attention logits can be, and equal maxima.
            let x: Vec<f32> = (0..rows * row).map(|i| ((i * 7919 + 13) % 1201) as f32 / 10.0 - 60.0).collect();
            let got = softmax_rows(&x, row);
            for (r, (src, out)) in x.chunks_exact(row).zip(got.chunks_exact(row)).enumerate() {
                let sum: f32 = out.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "row {r} of {row}: sums to {sum}");
                for (j, (g, w)) in out.iter().zip(reference(src)).enumerate() {
                    assert!((*g as f64 - w).abs() <= 1e-6 * w.max(1e-30) + 1e-12, "row {r}, {j}: {g} vs {w}");
                }
            }
            let cut = [0, rows / 3, rows / 3, rows];
            let pieces: Vec<_> = cut.windows(2).map(|c| c[0]..c[1]).collect();
            assert_eq!(softmax_in(&x, row, &pieces), got, "{rows} rows of {row} in pieces");
        }
        assert!(softmax_rows(&[], 0).is_empty());
    }
}
