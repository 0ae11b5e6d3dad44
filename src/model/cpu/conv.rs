//! A convolution whose weights are packed once, at load time, into the panels the register
//! tile reads, and the driver that runs it: for each block of output pixels and of depth,
//! the input is packed (im2col, with the padding as zeros) into a block that stays in the
//! L2 cache, every weight panel walks it tile by tile, and the last depth block finishes
//! each tile (bias, SiLU, residual) on its way to the output. Layouts are burn's: NCHW
//! input and output, OIHW weights.

use std::ops::Range;

use super::act::{self, Activation};
use super::gemm::{self, MR, NR, Tile};
use super::parallel;
use super::winograd::{self, Winograd};
use crate::{Error, Result};

/// Depth (input channel × kernel position) per packed block.
const KC: usize = 256;
/// Floats in one packed input block (128 KiB: it stays in L2 while every panel walks it).
const BLOCK_FLOATS: usize = 32 * 1024;

/// How a convolution computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// im2col blocks × packed weights (any kernel and stride).
    Im2col,
    /// Winograd F(4×4, 3×3) ([`super::winograd`]): 3×3, stride 1 only.
    Winograd,
}

impl Method {
    /// The faster method for a shape: Winograd wherever it applies (see `benches/conv.rs`).
    pub fn best(kernel: usize, stride: usize) -> Self {
        if kernel == 3 && stride == 1 { Method::Winograd } else { Method::Im2col }
    }
}

/// A square convolution with "same" padding (`kernel / 2`), its BatchNorm folded in.
#[derive(Clone)]
pub struct PackedConv {
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    act: Activation,
    /// For im2col: `cout.div_ceil(MR)` panels of `depth × MR` weights (depth-major, zeros past
    /// `cout`); empty for Winograd.
    panels: Vec<f32>,
    winograd: Option<Winograd>,
    bias: Vec<f32>,
}

impl std::fmt::Debug for PackedConv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (k, s) = (self.kernel, self.stride);
        write!(f, "PackedConv({}→{}, {k}×{k}/{s}, {:?}, {:?})", self.cin, self.cout, self.act, self.method())
    }
}

/// One depth step of the im2col matrix: which input channel plane, and the kernel offset.
#[derive(Clone, Copy, Debug)]
struct Tap {
    plane: usize,
    dy: isize,
    dx: isize,
}

/// Input and output extents of one run.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    h: usize,
    w: usize,
    wo: usize,
}

impl PackedConv {
    /// Pack OIHW `weight` (`shape = [cout, cin, k, k]`) and `bias` (`cout` values) for the
    /// best [`Method`].
    pub fn new(weight: &[f32], bias: &[f32], shape: [usize; 4], stride: usize, act: Activation) -> Result<Self> {
        Self::with_method(weight, bias, shape, stride, act, Method::best(shape[2], stride))
    }

    /// [`PackedConv::new`] with the method chosen by the caller.
    pub fn with_method(
        weight: &[f32],
        bias: &[f32],
        shape: [usize; 4],
        stride: usize,
        act: Activation,
        method: Method,
    ) -> Result<Self> {
        let [cout, cin, kh, kw] = shape;
        if cout == 0 || cin == 0 || kh == 0 || kh != kw || kh % 2 == 0 || stride == 0 {
            return Err(Error::ModelLoad(format!("unsupported convolution {shape:?} with stride {stride}")));
        }
        let depth = cin * kh * kw;
        if weight.len() != cout * depth || bias.len() != cout {
            return Err(Error::ModelLoad(format!(
                "convolution {shape:?} got {} weights and {} biases",
                weight.len(),
                bias.len()
            )));
        }
        let bias = bias.to_vec();
        if method == Method::Winograd {
            if kh != 3 || stride != 1 {
                return Err(Error::ModelLoad(format!(
                    "Winograd F(4x4, 3x3) cannot run {shape:?} with stride {stride}"
                )));
            }
            let winograd = Some(Winograd::new(weight, cout, cin));
            return Ok(Self { cin, cout, kernel: kh, stride, act, panels: Vec::new(), winograd, bias });
        }
        let mut panels = vec![0.0; cout.div_ceil(MR) * depth * MR];
        for (co, filter) in weight.chunks_exact(depth).enumerate() {
            let (panel, row) = (co / MR, co % MR);
            for (d, &v) in filter.iter().enumerate() {
                panels[(panel * depth + d) * MR + row] = v;
            }
        }
        Ok(Self { cin, cout, kernel: kh, stride, act, panels, winograd: None, bias })
    }

    /// How this convolution computes.
    pub fn method(&self) -> Method {
        if self.winograd.is_some() { Method::Winograd } else { Method::Im2col }
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.cin
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.cout
    }

    fn depth(&self) -> usize {
        self.cin * self.kernel * self.kernel
    }

    /// Output `[height, width]` for an input of `h × w`.
    pub fn output_hw(&self, h: usize, w: usize) -> Result<[usize; 2]> {
        if h == 0 || w == 0 {
            return Err(Error::Internal(format!("convolution input {w}x{h} is empty")));
        }
        Ok([self.out_len(h), self.out_len(w)])
    }

    /// Output length along an input side of `len` values ("same" padding, the stride).
    fn out_len(&self, len: usize) -> usize {
        (len + 2 * (self.kernel / 2) - self.kernel) / self.stride + 1
    }

    /// Run on `batch` NCHW images `x` of `h × w`, adding `residual` (shaped like the output)
    /// after the activation. Returns the NCHW output.
    pub fn run(&self, x: &[f32], batch: usize, h: usize, w: usize, residual: Option<&[f32]>) -> Result<Vec<f32>> {
        let [ho, wo] = self.output_hw(h, w)?;
        let mut out = vec![0.0; batch * self.cout * ho * wo];
        self.run_into(x, batch, h, w, residual, &mut out)?;
        Ok(out)
    }

    /// [`PackedConv::run`], writing the NCHW output into `out` (every value is overwritten).
    pub fn run_into(
        &self,
        x: &[f32],
        batch: usize,
        h: usize,
        w: usize,
        residual: Option<&[f32]>,
        out: &mut [f32],
    ) -> Result<()> {
        let [ho, wo] = self.output_hw(h, w)?;
        let (plane, n) = (h * w, ho * wo);
        if x.len() != batch * self.cin * plane {
            return Err(Error::Internal(format!(
                "convolution input holds {} values, not {batch}x{}x{h}x{w}",
                x.len(),
                self.cin
            )));
        }
        if residual.is_some_and(|r| r.len() != batch * self.cout * n) {
            return Err(Error::Internal(format!("residual does not match the output {batch}x{}x{ho}x{wo}", self.cout)));
        }
        if out.len() != batch * self.cout * n {
            return Err(Error::Internal(format!(
                "convolution output holds {} values, not {batch}x{}x{ho}x{wo}",
                out.len(),
                self.cout
            )));
        }
        for (b, out) in out.chunks_exact_mut(self.cout * n).enumerate() {
            let x = &x[b * self.cin * plane..][..self.cin * plane];
            let residual = residual.map(|r| &r[b * self.cout * n..][..self.cout * n]);
            self.image(x, (h, w), residual, out);
        }
        Ok(())
    }

    /// Output rows `rows` of one image (batch 1, no residual) into `out`, which holds the whole
    /// NCHW output: the other rows are left as they are. Each value comes out exactly as
    /// [`PackedConv::run_into`] computes it (a pixel's sum runs over the depth in the same
    /// order however the plane is cut), so an image can be run a band of rows at a time as its
    /// input rows arrive ([`crate::model::StemStream`]). im2col only: Winograd's tiles span
    /// several rows. Cut for the pool's threads as [`PackedConv::run_into`] is.
    pub fn run_rows(&self, x: &[f32], (h, w): (usize, usize), rows: Range<usize>, out: &mut [f32]) -> Result<()> {
        let [ho, wo] = self.output_hw(h, w)?;
        if self.winograd.is_some() {
            return Err(Error::Internal("a Winograd convolution runs whole planes, not bands of rows".into()));
        }
        if x.len() != self.cin * h * w || out.len() != self.cout * ho * wo || rows.start > rows.end || rows.end > ho {
            return Err(Error::Internal(format!(
                "rows {rows:?} of a {}x{h}x{w} -> {}x{ho}x{wo} convolution with {} input and {} output values",
                self.cin,
                self.cout,
                x.len(),
                out.len()
            )));
        }
        if rows.is_empty() {
            return Ok(());
        }
        let band = rows.start * wo..rows.end * wo;
        let pieces: Vec<Range<usize>> = parallel::pieces(band.len(), NR, band.len() * self.cout * self.depth())
            .into_iter()
            .map(|p| p.start + band.start..p.end + band.start)
            .collect();
        self.in_pieces(x, (h, w), None, &pieces, out);
        Ok(())
    }

    /// Multiply-adds of one output row of an image `w` pixels wide.
    pub fn row_work(&self, w: usize) -> usize {
        self.out_len(w) * self.cout * self.depth()
    }

    /// Kernel side.
    pub fn kernel(&self) -> usize {
        self.kernel
    }

    /// Stride.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// One image, cut into one piece of output pixels per thread (whole bands of
    /// `winograd::TILE` rows for Winograd's tiles).
    fn image(&self, x: &[f32], (h, w): (usize, usize), residual: Option<&[f32]>, out: &mut [f32]) {
        let wo = self.out_len(w);
        let n = out.len() / self.cout;
        let unit = if self.winograd.is_some() { winograd::TILE * wo } else { NR };
        let pieces = parallel::pieces(n, unit, n * self.cout * self.depth());
        self.in_pieces(x, (h, w), residual, &pieces, out);
    }

    /// Compute `pieces` (consecutive, covering the plane, of whole units), each straight into
    /// its pixel range of every output channel.
    fn in_pieces(
        &self,
        x: &[f32],
        (h, w): (usize, usize),
        residual: Option<&[f32]>,
        pieces: &[Range<usize>],
        out: &mut [f32],
    ) {
        let jobs = parallel::share_rows(out, out.len() / self.cout, pieces, 1);
        parallel::each(jobs, |(range, mut rows)| self.piece(x, (h, w), residual, range, &mut rows));
    }

    /// Output pixels `range` of every channel into `out`: one row of `range.len()` values per
    /// output channel.
    fn piece(
        &self,
        x: &[f32],
        (h, w): (usize, usize),
        residual: Option<&[f32]>,
        range: Range<usize>,
        out: &mut [&mut [f32]],
    ) {
        let wo = self.out_len(w);
        if let Some(winograd) = &self.winograd {
            let band = winograd::TILE * wo;
            let bands = range.start / band..range.end.div_ceil(band);
            return winograd.run(x, (h, w), bands, &self.bias, self.act, residual, out);
        }
        let (depth, k, pad) = (self.depth(), self.kernel, (self.kernel / 2) as isize);
        let taps: Vec<Tap> = (0..depth)
            .map(|d| Tap { plane: (d / (k * k)) * h * w, dy: ((d / k) % k) as isize - pad, dx: (d % k) as isize - pad })
            .collect();
        let geometry = Geometry { h, w, wo };
        let block_pixels = (BLOCK_FLOATS / depth.min(KC) / NR * NR).clamp(8 * NR, 512 * NR);
        let mut block = vec![0.0; depth.min(KC) * block_pixels];
        let n = residual.map_or(0, |r| r.len() / self.cout);
        for n0 in range.clone().step_by(block_pixels) {
            let pixels = block_pixels.min(range.end - n0);
            for k0 in (0..depth).step_by(KC) {
                let kc = KC.min(depth - k0);
                let block = &mut block[..pixels.div_ceil(NR) * kc * NR];
                self.pack(x, &taps[k0..k0 + kc], geometry, n0, pixels, block);
                let (first, last) = (k0 == 0, k0 + kc == depth);
                for panel in 0..self.cout.div_ceil(MR) {
                    let a = &self.panels[(panel * depth + k0) * MR..][..kc * MR];
                    for (s, b) in block.chunks_exact(kc * NR).enumerate() {
                        let pix = n0 + s * NR;
                        let tile = TileAt {
                            c0: panel * MR,
                            pix,
                            local: pix - range.start,
                            cols: NR.min(n0 + pixels - pix),
                            n,
                        };
                        let mut acc: Tile = [[0.0; NR]; MR];
                        if !first {
                            self.load(out, tile, &mut acc);
                        }
                        gemm::accumulate(a, b, &mut acc);
                        self.store(out, residual.filter(|_| last), tile, &acc, last);
                    }
                }
            }
        }
    }

    /// Pack output pixels `n0 .. n0 + pixels` × `taps` of the im2col matrix into `block`:
    /// strips of `NR` pixels, each `taps.len() × NR` values, zeros for padding and past the end.
    fn pack(&self, x: &[f32], taps: &[Tap], g: Geometry, n0: usize, pixels: usize, block: &mut [f32]) {
        let s = self.stride;
        let (h, w) = (g.h as isize, g.w as isize);
        for (i, strip) in block.chunks_exact_mut(taps.len() * NR).enumerate() {
            let pix = n0 + i * NR;
            let cols = NR.min(n0 + pixels - pix);
            let (strip, _) = strip.as_chunks_mut::<NR>();
            if self.kernel == 1 && s == 1 {
                // Pointwise: the im2col matrix is the input itself.
                for (t, d) in taps.iter().zip(strip) {
                    gemm::copy_exact::<NR>(&mut d[..cols], &x[t.plane + pix..][..cols]);
                    if cols < NR {
                        d[cols..].fill(0.0);
                    }
                }
                continue;
            }
            let (oy, ox) = (pix / g.wo, pix % g.wo);
            if cols == NR && ox + NR <= g.wo {
                // The strip lies on one output row: one input row segment per tap.
                let (iy0, ix0) = ((oy * s) as isize, (ox * s) as isize);
                for (t, d) in taps.iter().zip(strip) {
                    let (iy, ix) = (iy0 + t.dy, ix0 + t.dx);
                    if iy < 0 || iy >= h {
                        *d = [0.0; NR];
                        continue;
                    }
                    let row = &x[t.plane + iy as usize * g.w..][..g.w];
                    if ix >= 0 && ix + (((NR - 1) * s) as isize) < w {
                        let ix = ix as usize;
                        match s {
                            1 => d.copy_from_slice(&row[ix..ix + NR]),
                            2 => {
                                // A fixed-length segment and a constant stride: a shuffle, not
                                // eight loads.
                                let seg = &row[ix..][..2 * NR - 1];
                                for (j, v) in d.iter_mut().enumerate() {
                                    *v = seg[2 * j];
                                }
                            }
                            _ => {
                                for (j, v) in d.iter_mut().enumerate() {
                                    *v = row[ix + j * s];
                                }
                            }
                        }
                    } else {
                        for (j, v) in d.iter_mut().enumerate() {
                            let xx = ix + (j * s) as isize;
                            *v = if (0..w).contains(&xx) { row[xx as usize] } else { 0.0 };
                        }
                    }
                }
                continue;
            }
            // The strip wraps to the next row or ends early: pixel by pixel.
            let mut at = [(isize::MIN, 0isize); NR];
            for (j, a) in at.iter_mut().enumerate().take(cols) {
                let p = pix + j;
                *a = (((p / g.wo) * s) as isize, ((p % g.wo) * s) as isize);
            }
            for (t, d) in taps.iter().zip(strip) {
                for (v, &(y, xx)) in d.iter_mut().zip(&at) {
                    let (iy, ix) = (y.saturating_add(t.dy), xx + t.dx);
                    *v = if (0..h).contains(&iy) && (0..w).contains(&ix) {
                        x[t.plane + iy as usize * g.w + ix as usize]
                    } else {
                        0.0
                    };
                }
            }
        }
    }

    fn load(&self, out: &[&mut [f32]], t: TileAt, acc: &mut Tile) {
        for (row, src) in acc.iter_mut().zip(&out[t.c0..]) {
            gemm::copy_exact::<NR>(&mut row[..t.cols], &src[t.local..][..t.cols]);
        }
    }

    fn store(&self, out: &mut [&mut [f32]], residual: Option<&[f32]>, t: TileAt, acc: &Tile, last: bool) {
        for (i, (row, dst)) in acc.iter().zip(&mut out[t.c0..]).enumerate() {
            let dst = &mut dst[t.local..][..t.cols];
            if !last {
                gemm::copy_exact::<NR>(dst, &row[..t.cols]);
                continue;
            }
            let res = residual.map(|r| {
                let mut v = [0.0; NR];
                gemm::copy_exact::<NR>(&mut v[..t.cols], &r[(t.c0 + i) * t.n + t.pix..][..t.cols]);
                v
            });
            let v = act::finish_row(row, self.bias[t.c0 + i], self.act, res.as_ref());
            gemm::copy_exact::<NR>(dst, &v[..t.cols]);
        }
    }
}

/// Where a tile lands: first channel, first pixel in the plane and in the piece's rows, valid
/// pixels, and the row length of the residual's plane.
#[derive(Clone, Copy, Debug)]
struct TileAt {
    c0: usize,
    pix: usize,
    local: usize,
    cols: usize,
    n: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution, the definition, and for each output the magnitude of what it
    /// sums (`Σ|w·x| + |bias|`), which bounds the rounding of any way of summing it.
    fn reference(
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        [cout, cin, k, _]: [usize; 4],
        (h, wd, stride): (usize, usize, usize),
        act: Activation,
        residual: Option<&[f32]>,
    ) -> (Vec<f32>, Vec<f32>) {
        let pad = k / 2;
        let (ho, wo) = ((h + 2 * pad - k) / stride + 1, (wd + 2 * pad - k) / stride + 1);
        let mut out = vec![0.0f32; cout * ho * wo];
        let mut scale = vec![0.0f32; cout * ho * wo];
        for co in 0..cout {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = bias[co] as f64;
                    let mut magnitude = (bias[co] as f64).abs();
                    for ci in 0..cin {
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (oy * stride + ky) as isize - pad as isize;
                                let ix = (ox * stride + kx) as isize - pad as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                                    let term = (w[((co * cin + ci) * k + ky) * k + kx]
                                        * x[(ci * h + iy as usize) * wd + ix as usize])
                                        as f64;
                                    acc += term;
                                    magnitude += term.abs();
                                }
                            }
                        }
                    }
                    let mut v = acc as f32;
                    if act == Activation::Silu {
                        v = (v as f64 / (1.0 + (-(v as f64)).exp())) as f32;
                    }
                    let at = (co * ho + oy) * wo + ox;
                    out[at] = v + residual.map_or(0.0, |r| r[at]);
                    scale[at] = magnitude as f32;
                }
            }
        }
        (out, scale)
    }

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn matches_the_direct_convolution_on_every_shape_the_network_uses() {
        // (cout, cin, k, stride, h, w): pointwise, 3x3, strided, widths that are not a multiple
        // of the tile, channel counts that are not a multiple of the panel, depth over one block.
        let cases = [
            (16, 3, 3, 2, 32, 32),
            (8, 4, 1, 1, 5, 7),
            (6, 5, 3, 1, 9, 13),
            (5, 7, 3, 2, 11, 6),
            (64, 64, 3, 1, 20, 20),
            (15, 64, 1, 1, 10, 10),
            (1, 40, 3, 1, 4, 4),
            (32, 48, 1, 1, 24, 40),
            (4, 1, 3, 2, 1, 1),
            (4, 1, 3, 1, 1, 1),
            (20, 12, 3, 1, 37, 5),
            (8, 300, 3, 1, 6, 6),
            // Winograd strips of whole tile rows, touching both edges / one edge / none.
            (16, 24, 3, 1, 32, 32),
            (8, 8, 3, 1, 12, 96),
        ];
        for (i, &(cout, cin, k, stride, h, w)) in cases.iter().enumerate() {
            let shape = [cout, cin, k, k];
            let weight = values(cout * cin * k * k, 3 * i as u64 + 1);
            let bias = values(cout, 3 * i as u64 + 2);
            let x = values(2 * cin * h * w, 3 * i as u64 + 3);
            let methods =
                if k == 3 && stride == 1 { vec![Method::Im2col, Method::Winograd] } else { vec![Method::Im2col] };
            for (act, method) in
                [Activation::Identity, Activation::Silu].into_iter().flat_map(|a| methods.iter().map(move |&m| (a, m)))
            {
                let conv = PackedConv::with_method(&weight, &bias, shape, stride, act, method).expect("valid shape");
                let [ho, wo] = conv.output_hw(h, w).expect("non-empty");
                let residual = values(2 * cout * ho * wo, 99);
                for res in [None, Some(residual.as_slice())] {
                    let got = conv.run(&x, 2, h, w, res).expect("consistent sizes");
                    for b in 0..2 {
                        let xb = &x[b * cin * h * w..][..cin * h * w];
                        let rb = res.map(|r| &r[b * cout * ho * wo..][..cout * ho * wo]);
                        let (want, scale) = reference(xb, &weight, &bias, shape, (h, w, stride), act, rb);
                        let gb = &got[b * cout * ho * wo..][..cout * ho * wo];
                        for (j, (g, e)) in gb.iter().zip(&want).enumerate() {
                            // F(4×4, 3×3)'s transforms scale its rounding with the magnitude of
                            // the terms (up to 2.3e-6 of it measured on these cases, about ten
                            // times a direct sum's), not with the result's.
                            let bound = match method {
                                Method::Im2col => 1e-4 * (1.0 + e.abs()),
                                Method::Winograd => 1e-5 * (1.0 + scale[j] + e.abs()),
                            };
                            assert!(
                                (g - e).abs() <= bound,
                                "case {i} {act:?} {method:?} residual {} batch {b} value {j}: {g} vs {e}",
                                res.is_some()
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn pieces_put_together_equal_the_whole() {
        // (cout, cin, k, stride, h, w, unit): Winograd's unit is a band of output rows.
        for (cout, cin, k, stride, h, w, unit) in
            [(6, 5, 3, 1, 13, 9, winograd::TILE * 9), (5, 7, 3, 2, 17, 11, 8), (7, 9, 1, 1, 6, 10, 8)]
        {
            let conv = PackedConv::new(
                &values(cout * cin * k * k, 1),
                &values(cout, 2),
                [cout, cin, k, k],
                stride,
                Activation::Silu,
            )
            .expect("valid shape");
            let [ho, wo] = conv.output_hw(h, w).expect("non-empty");
            let n = ho * wo;
            let (x, residual) = (values(cin * h * w, 3), values(cout * n, 4));
            let mut whole = vec![0.0; cout * n];
            let all = std::iter::once(0..n).collect::<Vec<_>>();
            conv.in_pieces(&x, (h, w), Some(&residual), &all, &mut whole);
            let units = n.div_ceil(unit);
            let cuts = [0, unit, (units / 2) * unit, n];
            let pieces: Vec<Range<usize>> = cuts.windows(2).map(|c| c[0]..c[1]).collect();
            let mut joined = vec![0.0; cout * n];
            conv.in_pieces(&x, (h, w), Some(&residual), &pieces, &mut joined);
            assert_eq!(whole, joined, "{:?} in pieces {pieces:?}", conv);
        }
    }

    #[test]
    fn inconsistent_shapes_are_errors_not_panics() {
        let conv = PackedConv::new(&[0.0; 2 * 3 * 9], &[0.0; 2], [2, 3, 3, 3], 1, Activation::Silu).expect("valid");
        assert!(conv.run(&[0.0; 10], 1, 4, 4, None).is_err());
        assert!(conv.run(&[0.0; 48], 1, 4, 4, Some(&[0.0; 3])).is_err());
        assert!(conv.output_hw(0, 4).is_err());
        assert!(PackedConv::new(&[0.0; 4], &[0.0; 2], [2, 1, 2, 2], 1, Activation::Silu).is_err());
        assert!(PackedConv::new(&[0.0; 5], &[0.0; 2], [2, 1, 1, 1], 1, Activation::Silu).is_err());
        let strided =
            PackedConv::with_method(&[0.0; 18], &[0.0; 2], [2, 1, 3, 3], 2, Activation::Silu, Method::Winograd);
        assert!(strided.is_err());
    }
}
