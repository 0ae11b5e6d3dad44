//! SPPF's three chained 5×5 max pools (stride 1, padding 2) and the concatenation after them,
//! written straight into one output: `[x, pool(x), pool(pool(x)), pool(pool(pool(x)))]`
//! along the channels. A 5×5 maximum is the maximum of five row maxima (padding never wins a
//! max, so the window is clipped at the edges), so each pool is two passes of 5 instead of one
//! of 25. burn's CPU max pool computed each window in full through its 3-D pooling with
//! indices: 3.4 % of a 1024 px forward pass in the browser, serial on every thread count.

use std::ops::Range;

use super::parallel;

/// Side of SPPF's pooling window.
const K: usize = 5;

/// Comparisons per input value, all three pools (two passes of five each): the work
/// [`parallel::pieces`] weighs.
const WORK_PER_VALUE: usize = 3 * 2 * K;

/// `[x, p(x), p²(x), p³(x)]` along channels for each image of `x` (`batch` images of
/// `channels` planes of `h` × `w`), where `p` is a 5×5 max pool with stride 1 and padding 2.
/// Each channel's chain of pools is its own, so the threads take ranges of channels.
pub fn sppf_concat(x: &[f32], batch: usize, channels: usize, (h, w): (usize, usize)) -> Vec<f32> {
    let pieces = parallel::pieces(channels, 1, channels * h * w * WORK_PER_VALUE);
    sppf_concat_in(x, batch, channels, (h, w), &pieces)
}

/// [`sppf_concat`] with the channels cut into `pieces` (consecutive, covering `0..channels`).
fn sppf_concat_in(
    x: &[f32],
    batch: usize,
    channels: usize,
    (h, w): (usize, usize),
    pieces: &[Range<usize>],
) -> Vec<f32> {
    let plane = h * w;
    let image = channels * plane;
    debug_assert_eq!(x.len(), batch * image);
    let mut out = vec![0.0; 4 * x.len()];
    for (x, out) in x.chunks_exact(image).zip(out.chunks_exact_mut(4 * image)) {
        // Each piece's channels in each of the four levels.
        let jobs = parallel::share_rows(out, image, pieces, plane);
        parallel::each(jobs, |(range, mut levels)| {
            let mut rows = vec![0.0; plane];
            levels[0].copy_from_slice(&x[range.start * plane..range.end * plane]);
            for level in 1..4 {
                let (done, rest) = levels.split_at_mut(level);
                let (src, dst) = (&*done[level - 1], &mut *rest[0]);
                for (src, dst) in src.chunks_exact(plane).zip(dst.chunks_exact_mut(plane)) {
                    pool(src, dst, (h, w), &mut rows);
                }
            }
        });
    }
    out
}

/// One plane's 5×5 max pool: row maxima into `rows`, then the maxima of five rows of them.
fn pool(src: &[f32], dst: &mut [f32], (h, w): (usize, usize), rows: &mut [f32]) {
    let r = K / 2;
    for (src, rows) in src.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
        for (x, m) in rows.iter_mut().enumerate() {
            *m = src[x.saturating_sub(r)..(x + r + 1).min(w)].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        }
    }
    for (y, dst) in dst.chunks_exact_mut(w).enumerate() {
        dst.copy_from_slice(&rows[y * w..][..w]);
        for y2 in y.saturating_sub(r)..(y + r + 1).min(h) {
            for (d, m) in dst.iter_mut().zip(&rows[y2 * w..][..w]) {
                *d = d.max(*m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 5×5 max pool by definition: every window position, padding ignored.
    fn naive(src: &[f32], (h, w): (usize, usize)) -> Vec<f32> {
        let mut out = vec![0.0; h * w];
        for y in 0..h {
            for x in 0..w {
                let mut m = f32::NEG_INFINITY;
                for dy in -2i64..=2 {
                    for dx in -2i64..=2 {
                        let (yy, xx) = (y as i64 + dy, x as i64 + dx);
                        if (0..h as i64).contains(&yy) && (0..w as i64).contains(&xx) {
                            m = m.max(src[yy as usize * w + xx as usize]);
                        }
                    }
                }
                out[y * w + x] = m;
            }
        }
        out
    }

    #[test]
    fn the_separable_pools_equal_the_full_windows_and_concatenate_in_order() {
        for (batch, channels, h, w) in
            [(1, 3, 7, 9), (2, 2, 1, 4), (1, 1, 5, 5), (1, 2, 2, 1), (1, 4, 32, 32), (2, 7, 6, 5)]
        {
            let plane = h * w;
            let x: Vec<f32> = (0..batch * channels * plane).map(|i| ((i * 7919 + 13) % 1009) as f32 - 500.0).collect();
            let out = sppf_concat(&x, batch, channels, (h, w));
            assert_eq!(out.len(), 4 * x.len());
            // The same, cut into pieces of channels as threads would take them.
            let cuts = [0, channels / 3, channels / 2, channels];
            let pieces: Vec<_> = cuts.windows(2).map(|c| c[0]..c[1]).collect();
            assert_eq!(sppf_concat_in(&x, batch, channels, (h, w), &pieces), out, "in pieces, {channels} channels");
            for b in 0..batch {
                for c in 0..channels {
                    let mut want = x[(b * channels + c) * plane..][..plane].to_vec();
                    for level in 0..4 {
                        let got = &out[(b * 4 * channels + level * channels + c) * plane..][..plane];
                        assert_eq!(got, &want[..], "image {b}, channel {c}, level {level}, {h}x{w}");
                        want = naive(&want, (h, w));
                    }
                }
            }
        }
    }
}
