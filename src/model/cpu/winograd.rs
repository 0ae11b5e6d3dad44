//! 3×3 stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3): each 2×2 block of
//! output pixels costs 16 multiplies per input/output channel pair instead of 36. The
//! weights are transformed once at load time (`U = G·g·Gᵀ`, 16 values per filter, packed
//! into the register tile's panels, one set per position); at run time, for a block of
//! tiles that fits in L2, the input is transformed (`V = Bᵀ·d·B` on 4×4 patches), the 16
//! products `U[ξ]·V[ξ]` run on the same register tile as every other convolution, and the
//! output transform (`Y = Aᵀ·M·A`) ends in the usual epilogue (bias, SiLU, residual).
//! Transforms are written over [`NR`] tiles at a time so that they vectorise.

use std::ops::Range;

use super::act::{self, Activation};
use super::gemm::{self, MR, NR, Tile};

/// Transformed positions (4×4).
const POS: usize = 16;
/// Floats of transformed input and products per block of tiles (512 KiB: L2).
const BLOCK_FLOATS: usize = 128 * 1024;

/// `G` of F(2×2, 3×3).
const G: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];

/// Weights of a 3×3 stride-1 convolution, transformed and packed.
#[derive(Clone)]
pub struct Winograd {
    cin: usize,
    cout: usize,
    /// `POS` sets of `cout.div_ceil(MR)` panels of `cin × MR` values.
    panels: Vec<f32>,
}

impl std::fmt::Debug for Winograd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Winograd({}→{})", self.cin, self.cout)
    }
}

/// Where the tiles of one strip are: tile row and column of each, and how many are real.
#[derive(Clone, Copy, Debug)]
struct Strip {
    ty: [usize; NR],
    tx: [usize; NR],
    count: usize,
}

impl Winograd {
    /// Transform OIHW 3×3 `weight` (`cout × cin × 9` values; checked by the caller).
    pub fn new(weight: &[f32], cout: usize, cin: usize) -> Self {
        let np = cout.div_ceil(MR);
        let mut panels = vec![0.0; POS * np * cin * MR];
        for (f, g) in weight.chunks_exact(9).enumerate().take(cout * cin) {
            let (co, ci) = (f / cin, f % cin);
            for xi in 0..POS {
                let (r, c) = (xi / 4, xi % 4);
                let mut u = 0.0f64;
                for a in 0..3 {
                    for b in 0..3 {
                        u += G[r][a] * g[a * 3 + b] as f64 * G[c][b];
                    }
                }
                panels[((xi * np + co / MR) * cin + ci) * MR + co % MR] = u as f32;
            }
        }
        Self { cin, cout, panels }
    }

    /// Tile rows `bands` of one image: `x` is `cin × h × w`, `residual` `cout × h × w`, and
    /// `out` holds, for each output channel, the output rows of those bands (`rows × w`).
    #[allow(clippy::too_many_arguments)] // one call site, in `PackedConv`
    pub fn run(
        &self,
        x: &[f32],
        (h, w): (usize, usize),
        bands: Range<usize>,
        bias: &[f32],
        act: Activation,
        residual: Option<&[f32]>,
        out: &mut [&mut [f32]],
    ) {
        let (cin, cout) = (self.cin, self.cout);
        let np = cout.div_ceil(MR);
        let tw = w.div_ceil(2);
        let first = 2 * bands.start * w;
        let (tiles, t_first) = (bands.len() * tw, bands.start * tw);
        let per_block = (BLOCK_FLOATS / (POS * (cin + np * MR)) / NR * NR).clamp(NR, 256 * NR);
        let strips_max = per_block / NR;
        let mut v = vec![0.0f32; POS * strips_max * cin * NR];
        let mut m = vec![0.0f32; POS * np * MR * per_block];
        for t0 in (t_first..t_first + tiles).step_by(per_block) {
            let count = per_block.min(t_first + tiles - t0);
            let strips: Vec<Strip> = (0..count.div_ceil(NR))
                .map(|s| {
                    let first = t0 + s * NR;
                    let mut strip = Strip { ty: [0; NR], tx: [0; NR], count: NR.min(t0 + count - first) };
                    for j in 0..strip.count {
                        strip.ty[j] = (first + j) / tw;
                        strip.tx[j] = (first + j) % tw;
                    }
                    strip
                })
                .collect();
            for (s, strip) in strips.iter().enumerate() {
                for ci in 0..cin {
                    let t = input_transform(&x[ci * h * w..][..h * w], (h, w), strip);
                    for (xi, row) in t.iter().enumerate() {
                        v[((xi * strips_max + s) * cin + ci) * NR..][..NR].copy_from_slice(row);
                    }
                }
            }
            for xi in 0..POS {
                for p in 0..np {
                    let a = &self.panels[(xi * np + p) * cin * MR..][..cin * MR];
                    for s in 0..strips.len() {
                        let b = &v[(xi * strips_max + s) * cin * NR..][..cin * NR];
                        let mut acc: Tile = [[0.0; NR]; MR];
                        gemm::accumulate(a, b, &mut acc);
                        for (i, row) in acc.iter().enumerate() {
                            m[((xi * np * MR) + p * MR + i) * per_block + s * NR..][..NR].copy_from_slice(row);
                        }
                    }
                }
            }
            for (co, out) in out.iter_mut().enumerate() {
                // This channel's rows in `out` start at pixel `first` of the plane; the
                // residual is the whole image.
                let res = residual.map(|r| &r[co * h * w..][..h * w]);
                for (s, strip) in strips.iter().enumerate() {
                    let mut mm = [[0.0f32; NR]; POS];
                    for (xi, row) in mm.iter_mut().enumerate() {
                        row.copy_from_slice(&m[(xi * np * MR + co) * per_block + s * NR..][..NR]);
                    }
                    let y = output_transform(&mm);
                    let (ty, tx0) = (strip.ty[0], strip.tx[0]);
                    let one_row = strip.count == NR && strip.ty[NR - 1] == ty;
                    if one_row && 2 * ty + 1 < h && 2 * (tx0 + NR) <= w {
                        // Whole strip inside the image on one tile row: two output row segments.
                        for dy in 0..2 {
                            let at = (2 * ty + dy) * w + 2 * tx0;
                            let r = res.map(|r| deinterleave(&r[at..][..2 * NR]));
                            let even = act::finish_row(&y[2 * dy], bias[co], act, r.as_ref().map(|r| &r[0]));
                            let odd = act::finish_row(&y[2 * dy + 1], bias[co], act, r.as_ref().map(|r| &r[1]));
                            let dst = &mut out[at - first..][..2 * NR];
                            for j in 0..NR {
                                dst[2 * j] = even[j];
                                dst[2 * j + 1] = odd[j];
                            }
                        }
                        continue;
                    }
                    for (q, yq) in y.iter().enumerate() {
                        let (dy, dx) = (q / 2, q % 2);
                        let inside = |j: usize| {
                            let (oy, ox) = (2 * strip.ty[j] + dy, 2 * strip.tx[j] + dx);
                            (oy < h && ox < w).then_some(oy * w + ox)
                        };
                        let r = res.map(|r| {
                            let mut v = [0.0; NR];
                            for (j, v) in v.iter_mut().enumerate().take(strip.count) {
                                *v = inside(j).map_or(0.0, |at| r[at]);
                            }
                            v
                        });
                        let v = act::finish_row(yq, bias[co], act, r.as_ref());
                        for (j, &v) in v.iter().enumerate().take(strip.count) {
                            if let Some(at) = inside(j) {
                                out[at - first] = v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Even and odd elements of a row segment.
#[inline(always)]
fn deinterleave(row: &[f32]) -> [[f32; NR]; 2] {
    let mut v = [[0.0; NR]; 2];
    for j in 0..NR {
        v[0][j] = row[2 * j];
        v[1][j] = row[2 * j + 1];
    }
    v
}

/// `Bᵀ·d·B` for the 4×4 input patch of each tile of `strip` (zeros outside the image):
/// `POS` rows of `NR` lanes, position `ξ = 4·row + column`.
#[inline(always)]
fn input_transform(plane: &[f32], (h, w): (usize, usize), strip: &Strip) -> [[f32; NR]; POS] {
    let mut d = [[0.0f32; NR]; POS];
    let (y0, x0) = (2 * strip.ty[0] as isize - 1, 2 * strip.tx[0] as isize - 1);
    let one_row = strip.count == NR && strip.ty[NR - 1] == strip.ty[0];
    if one_row && y0 >= 0 && y0 + 4 <= h as isize && x0 >= 0 && x0 as usize + 2 * NR + 2 <= w {
        // Every patch inside the image, side by side on the same rows.
        let (y0, x0) = (y0 as usize, x0 as usize);
        for r in 0..4 {
            let row = &plane[(y0 + r) * w + x0..][..2 * NR + 2];
            for c in 0..4 {
                for j in 0..NR {
                    d[r * 4 + c][j] = row[2 * j + c];
                }
            }
        }
    } else {
        for (j, (&ty, &tx)) in strip.ty.iter().zip(&strip.tx).enumerate().take(strip.count) {
            let (y0, x0) = (2 * ty as isize - 1, 2 * tx as isize - 1);
            for r in 0..4 {
                let iy = y0 + r as isize;
                if iy < 0 || iy >= h as isize {
                    continue;
                }
                let row = &plane[iy as usize * w..][..w];
                for c in 0..4 {
                    let ix = x0 + c as isize;
                    if ix >= 0 && ix < w as isize {
                        d[r * 4 + c][j] = row[ix as usize];
                    }
                }
            }
        }
    }
    // Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], on rows then columns.
    let mut t = [[0.0f32; NR]; POS];
    for c in 0..4 {
        for j in 0..NR {
            let (d0, d1, d2, d3) = (d[c][j], d[4 + c][j], d[8 + c][j], d[12 + c][j]);
            t[c][j] = d0 - d2;
            t[4 + c][j] = d1 + d2;
            t[8 + c][j] = d2 - d1;
            t[12 + c][j] = d1 - d3;
        }
    }
    let mut v = [[0.0f32; NR]; POS];
    for r in 0..4 {
        for j in 0..NR {
            let (t0, t1, t2, t3) = (t[4 * r][j], t[4 * r + 1][j], t[4 * r + 2][j], t[4 * r + 3][j]);
            v[4 * r][j] = t0 - t2;
            v[4 * r + 1][j] = t1 + t2;
            v[4 * r + 2][j] = t2 - t1;
            v[4 * r + 3][j] = t1 - t3;
        }
    }
    v
}

/// `Aᵀ·M·A`: the 2×2 outputs of each tile, `q = 2·row + column`.
#[inline(always)]
fn output_transform(m: &[[f32; NR]; POS]) -> [[f32; NR]; 4] {
    // Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]], on rows then columns.
    let mut s = [[0.0f32; NR]; 8];
    for c in 0..4 {
        for j in 0..NR {
            let (m0, m1, m2, m3) = (m[c][j], m[4 + c][j], m[8 + c][j], m[12 + c][j]);
            s[c][j] = m0 + m1 + m2;
            s[4 + c][j] = m1 - m2 - m3;
        }
    }
    let mut y = [[0.0f32; NR]; 4];
    for r in 0..2 {
        for j in 0..NR {
            let (s0, s1, s2, s3) = (s[4 * r][j], s[4 * r + 1][j], s[4 * r + 2][j], s[4 * r + 3][j]);
            y[2 * r][j] = s0 + s1 + s2;
            y[2 * r + 1][j] = s1 - s2 - s3;
        }
    }
    y
}
