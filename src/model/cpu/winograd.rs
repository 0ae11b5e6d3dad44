//! 3×3 stride-1 convolutions by Winograd's minimal filtering F(4×4, 3×3): each 4×4 block of
//! output pixels costs 36 multiplies per input/output channel pair instead of 144. The
//! weights are transformed once at load time (`U = G·g·Gᵀ`, 36 values per filter, packed
//! into the register tile's panels, one set per position); at run time, for a block of
//! tiles that fits in L2, the input is transformed (`V = Bᵀ·d·B` on 6×6 patches), the 36
//! products `U[ξ]·V[ξ]` run on the same register tile as every other convolution, and the
//! output transform (`Y = Aᵀ·M·A`) ends in the usual epilogue (bias, SiLU, residual).
//! Transforms are written over [`NR`] tiles at a time so that they vectorise. The matrices
//! are Lavin and Gray's (interpolation points 0, ±1, ±2 and ∞). They round about ten times
//! as much as a direct sum, relative to the magnitude of the terms (up to 2.3e-6 of
//! `Σ|w·x|` in `conv`'s tests); the networks' raw outputs stay within 3e-4 of
//! onnxruntime's (`tests/parity.rs`), as they did with F(2×2, 3×3).

use std::ops::Range;

use super::act::{self, Activation};
use super::gemm::{self, MR, NR, Tile};

/// Output pixels along each side of a tile.
pub const TILE: usize = 4;
/// Input pixels along each side of a tile's patch (`TILE + 2`).
const PATCH: usize = TILE + 2;
/// Transformed positions (6×6).
const POS: usize = PATCH * PATCH;
/// Floats of transformed input and products per block of tiles (512 KiB: L2).
const BLOCK_FLOATS: usize = 128 * 1024;

/// `G` of F(4×4, 3×3).
const G: [[f32; 3]; PATCH] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

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
        // Panel by panel and input channel by input channel, the panel's `MR` filters side by
        // side (they vectorise), so that each position's panel is written in order.
        for p in 0..np {
            for ci in 0..cin {
                let mut g = [[0.0f32; MR]; 9];
                for (k, co) in (p * MR..cout.min(p * MR + MR)).enumerate() {
                    for (t, v) in weight[(co * cin + ci) * 9..][..9].iter().enumerate() {
                        g[t][k] = *v;
                    }
                }
                // `G·g` (6×3), then `(G·g)·Gᵀ`.
                let mut gg = [[[0.0f32; MR]; 3]; PATCH];
                for (row, gr) in gg.iter_mut().zip(&G) {
                    for (b, v) in row.iter_mut().enumerate() {
                        for k in 0..MR {
                            v[k] = gr[0] * g[b][k] + gr[1] * g[3 + b][k] + gr[2] * g[6 + b][k];
                        }
                    }
                }
                for (r, row) in gg.iter().enumerate() {
                    for (c, gc) in G.iter().enumerate() {
                        let u = &mut panels[(((r * PATCH + c) * np + p) * cin + ci) * MR..][..MR];
                        for k in 0..MR {
                            u[k] = row[0][k] * gc[0] + row[1][k] * gc[1] + row[2][k] * gc[2];
                        }
                    }
                }
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
        let tw = w.div_ceil(TILE);
        let first = TILE * bands.start * w;
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
                    if one_row && TILE * ty + TILE <= h && TILE * (tx0 + NR) <= w {
                        // Whole strip inside the image on one tile row: `TILE` output row
                        // segments, each the strip's tiles side by side.
                        for dy in 0..TILE {
                            let at = (TILE * ty + dy) * w + TILE * tx0;
                            let r = res.map(|r| deinterleave(&r[at..][..TILE * NR]));
                            let dst = &mut out[at - first..][..TILE * NR];
                            for dx in 0..TILE {
                                let r = r.as_ref().map(|r| &r[dx]);
                                let v = act::finish_row(&y[TILE * dy + dx], bias[co], act, r);
                                for (j, &v) in v.iter().enumerate() {
                                    dst[TILE * j + dx] = v;
                                }
                            }
                        }
                        continue;
                    }
                    for (q, yq) in y.iter().enumerate() {
                        let (dy, dx) = (q / TILE, q % TILE);
                        let inside = |j: usize| {
                            let (oy, ox) = (TILE * strip.ty[j] + dy, TILE * strip.tx[j] + dx);
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

/// The `TILE` interleaved phases of a row segment: element `TILE·j + k` is `[k][j]`.
#[inline(always)]
fn deinterleave(row: &[f32]) -> [[f32; NR]; TILE] {
    let mut v = [[0.0; NR]; TILE];
    for j in 0..NR {
        for (k, v) in v.iter_mut().enumerate() {
            v[j] = row[TILE * j + k];
        }
    }
    v
}

/// `Bᵀ·d·B` for the 6×6 input patch of each tile of `strip` (zeros outside the image):
/// `POS` rows of `NR` lanes, position `ξ = 6·row + column`.
#[inline(always)]
fn input_transform(plane: &[f32], (h, w): (usize, usize), strip: &Strip) -> [[f32; NR]; POS] {
    let mut d = [[0.0f32; NR]; POS];
    if strip.count == NR && strip.ty[NR - 1] == strip.ty[0] {
        // The patches side by side on the same rows (the usual case).
        for r in 0..PATCH {
            if let Some(seg) = segment(plane, (h, w), (strip.ty[0], strip.tx[0]), NR, r) {
                for c in 0..PATCH {
                    for j in 0..NR {
                        d[r * PATCH + c][j] = seg[TILE * j + c];
                    }
                }
            }
        }
    } else {
        // A strip that wraps to the next tile row, or the last one: runs of tiles side by
        // side.
        let mut j = 0;
        while j < strip.count {
            let run = strip.ty[j..strip.count].iter().take_while(|&&ty| ty == strip.ty[j]).count();
            for r in 0..PATCH {
                if let Some(seg) = segment(plane, (h, w), (strip.ty[j], strip.tx[j]), run, r) {
                    for c in 0..PATCH {
                        for k in 0..run {
                            d[r * PATCH + c][j + k] = seg[TILE * k + c];
                        }
                    }
                }
            }
            j += run;
        }
    }
    // Bᵀ on the columns (`t = Bᵀ·d`), then on the rows (`v = t·B`).
    let mut t = [[0.0f32; NR]; POS];
    for c in 0..PATCH {
        for j in 0..NR {
            let d: [f32; PATCH] = std::array::from_fn(|r| d[r * PATCH + c][j]);
            for (k, v) in input_1d(d).into_iter().enumerate() {
                t[k * PATCH + c][j] = v;
            }
        }
    }
    let mut v = [[0.0f32; NR]; POS];
    for r in 0..PATCH {
        for j in 0..NR {
            let t: [f32; PATCH] = std::array::from_fn(|c| t[r * PATCH + c][j]);
            for (k, x) in input_1d(t).into_iter().enumerate() {
                v[r * PATCH + k][j] = x;
            }
        }
    }
    v
}

/// Row `r` of the patches of `tiles` tiles side by side from tile (`ty`, `tx`): the
/// `TILE · tiles + 2` input pixels they read, zeros past the image's edges; `None` for a
/// row above or below the image.
#[inline(always)]
fn segment(
    plane: &[f32],
    (h, w): (usize, usize),
    (ty, tx): (usize, usize),
    tiles: usize,
    r: usize,
) -> Option<[f32; TILE * NR + 2]> {
    let iy = (TILE * ty + r).checked_sub(1).filter(|&iy| iy < h)?;
    let x0 = (TILE * tx) as isize - 1;
    let cols = x0.max(0) as usize..(x0 + (TILE * tiles + 2) as isize).min(w as isize) as usize;
    let mut seg = [0.0f32; TILE * NR + 2];
    let row = &plane[iy * w..][cols];
    gemm::copy_exact::<{ TILE * NR + 2 }>(&mut seg[(-x0).max(0) as usize..][..row.len()], row);
    Some(seg)
}

/// `Bᵀ·d` for one column (or row) of a patch, with `Bᵀ` =
/// `[[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
/// [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]`, its common terms shared.
#[inline(always)]
fn input_1d([d0, d1, d2, d3, d4, d5]: [f32; PATCH]) -> [f32; PATCH] {
    let (a, b) = (d4 - 4.0 * d2, d3 - 4.0 * d1);
    let (c, e) = (d4 - d2, 2.0 * (d3 - d1));
    [4.0 * d0 - 5.0 * d2 + d4, a + b, a - b, c + e, c - e, 4.0 * d1 - 5.0 * d3 + d5]
}

/// `Aᵀ·m` for one column (or row) of products, with `Aᵀ` =
/// `[[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]`.
#[inline(always)]
fn output_1d([m0, m1, m2, m3, m4, m5]: [f32; PATCH]) -> [f32; TILE] {
    let (s12, d12, s34, d34) = (m1 + m2, m1 - m2, m3 + m4, m3 - m4);
    [m0 + s12 + s34, d12 + 2.0 * d34, s12 + 4.0 * s34, d12 + 8.0 * d34 + m5]
}

/// `Aᵀ·M·A`: the 4×4 outputs of each tile, `q = 4·row + column`.
#[inline(always)]
fn output_transform(m: &[[f32; NR]; POS]) -> [[f32; NR]; TILE * TILE] {
    let mut s = [[0.0f32; NR]; TILE * PATCH];
    for c in 0..PATCH {
        for j in 0..NR {
            let m: [f32; PATCH] = std::array::from_fn(|r| m[r * PATCH + c][j]);
            for (k, v) in output_1d(m).into_iter().enumerate() {
                s[k * PATCH + c][j] = v;
            }
        }
    }
    let mut y = [[0.0f32; NR]; TILE * TILE];
    for r in 0..TILE {
        for j in 0..NR {
            let s: [f32; PATCH] = std::array::from_fn(|c| s[r * PATCH + c][j]);
            for (k, v) in output_1d(s).into_iter().enumerate() {
                y[r * TILE + k][j] = v;
            }
        }
    }
    y
}
