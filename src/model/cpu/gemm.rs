//! The register tile: `MR` output channels × `NR` output pixels, accumulated over the
//! depth (input channel × kernel position) of one packed weight panel and one packed
//! input panel. `MR × NR / 4` = 8 vector accumulators, plus two for the input row and one
//! for the broadcast weight: it fits the 16 vector registers of x86-64 and wasm engines.
//! [`copy_exact`] moves rows of values in and out of such tiles (and the like) without a
//! `memcpy` call each.

/// Output channels per tile.
pub const MR: usize = 4;
/// Output pixels per tile.
pub const NR: usize = 8;

/// One tile of results.
pub type Tile = [[f32; NR]; MR];

/// `dst.copy_from_slice(src)`, with a fixed length when both hold exactly `N` values (the
/// usual case in the kernels' inner loops: a whole tile row, a whole row segment). Then it
/// compiles to vector moves; a length known only at run time is a call to `memcpy` (in wasm,
/// a `memory.copy`), which cost 7–9 % of a forward pass when every tile row paid it.
#[inline(always)]
pub fn copy_exact<const N: usize>(dst: &mut [f32], src: &[f32]) {
    match (<&mut [f32; N]>::try_from(&mut *dst), <&[f32; N]>::try_from(src)) {
        (Ok(dst), Ok(src)) => *dst = *src,
        _ => dst.copy_from_slice(src),
    }
}

/// `acc += a · b`: `a` holds `MR` weights per depth step, `b` holds `NR` input values per
/// depth step; both are walked to the shorter one's end.
#[cfg(not(all(target_family = "wasm", feature = "relaxed-simd")))]
#[inline(always)]
pub fn accumulate(a: &[f32], b: &[f32], acc: &mut Tile) {
    let (a, _) = a.as_chunks::<MR>();
    let (b, _) = b.as_chunks::<NR>();
    let mut c = *acc;
    for (ak, bk) in a.iter().zip(b) {
        for (row, &w) in c.iter_mut().zip(ak) {
            for (v, &x) in row.iter_mut().zip(bk) {
                *v += w * x;
            }
        }
    }
    *acc = c;
}

/// [`accumulate`] with wasm's relaxed-SIMD multiply-add (`f32x4.relaxed_madd`: one fused
/// instruction where the CPU has FMA, as x86-64 with FMA3 and ARM64 do; a multiply and an
/// add elsewhere). A module holding it only validates in browsers with relaxed SIMD, so it
/// is built into engines of its own.
#[cfg(all(target_family = "wasm", feature = "relaxed-simd"))]
#[target_feature(enable = "relaxed-simd")]
pub fn accumulate(a: &[f32], b: &[f32], acc: &mut Tile) {
    use core::arch::wasm32::{f32x4, f32x4_extract_lane, f32x4_relaxed_madd, f32x4_splat, v128};
    const HALF: usize = NR / 4;
    let lanes = |r: &[f32; NR], h: usize| f32x4(r[4 * h], r[4 * h + 1], r[4 * h + 2], r[4 * h + 3]);
    let (a, _) = a.as_chunks::<MR>();
    let (b, _) = b.as_chunks::<NR>();
    let mut c: [[v128; HALF]; MR] = [[f32x4_splat(0.0); HALF]; MR];
    for (row, r) in c.iter_mut().zip(acc.iter()) {
        for (h, v) in row.iter_mut().enumerate() {
            *v = lanes(r, h);
        }
    }
    for (ak, bk) in a.iter().zip(b) {
        let x: [v128; HALF] = std::array::from_fn(|h| lanes(bk, h));
        for (row, &w) in c.iter_mut().zip(ak) {
            let w = f32x4_splat(w);
            for (v, &x) in row.iter_mut().zip(&x) {
                *v = f32x4_relaxed_madd(w, x, *v);
            }
        }
    }
    for (r, row) in acc.iter_mut().zip(c) {
        for (h, v) in row.into_iter().enumerate() {
            r[4 * h] = f32x4_extract_lane::<0>(v);
            r[4 * h + 1] = f32x4_extract_lane::<1>(v);
            r[4 * h + 2] = f32x4_extract_lane::<2>(v);
            r[4 * h + 3] = f32x4_extract_lane::<3>(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tile_is_the_product_of_its_panels() {
        let depth = 5;
        let a: Vec<f32> = (0..depth * MR).map(|i| (i % 7) as f32 - 3.0).collect();
        let b: Vec<f32> = (0..depth * NR).map(|i| (i % 5) as f32 * 0.5).collect();
        let mut acc = [[1.0; NR]; MR];
        accumulate(&a, &b, &mut acc);
        for i in 0..MR {
            for j in 0..NR {
                let expected: f32 = 1.0 + (0..depth).map(|k| a[k * MR + i] * b[k * NR + j]).sum::<f32>();
                assert_eq!(acc[i][j], expected, "tile ({i}, {j})");
            }
        }
    }
}
