//! The epilogue of a convolution tile: bias, activation, residual. Written over fixed-size
//! rows so that LLVM turns each step into vector instructions; `exp` is a polynomial for
//! the same reason (the libm call would be scalar, and was 15 % of the network).

use super::gemm::NR;

/// What follows a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Nothing (the last 1×1 convolution of each head branch).
    Identity,
    /// `x · sigmoid(x)` (ultralytics' `Conv` block).
    Silu,
}

/// `e^x` for `x` in the range SiLU needs, within a few ulp of the true value (Cephes'
/// `expf`: a degree-5 polynomial on `x − n·ln 2`, scaled by `2^n` through the exponent bits).
/// `n` is rounded with the `1.5·2²³` trick rather than `floor`, which has no SSE2 instruction
/// and would keep the loop scalar natively.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    // t = 1.5·2²³ + n exactly, so its low mantissa bits hold n (no float→int conversion,
    // which SSE2 cannot do saturating in vector registers).
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 0.166_666_65;
    let p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    // n is in -126..=127 after the clamp, so the biased exponent n + 127 is a normal one.
    y * f32::from_bits(t.to_bits().wrapping_sub(ROUND.to_bits() - 127) << 23)
}

/// `x · sigmoid(x)`.
#[inline(always)]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// Bias, activation and residual for one row of a tile (`NR` pixels of one channel).
#[inline(always)]
pub fn finish_row(acc: &[f32; NR], bias: f32, act: Activation, residual: Option<&[f32; NR]>) -> [f32; NR] {
    let mut v = [0.0; NR];
    for (v, a) in v.iter_mut().zip(acc) {
        *v = a + bias;
    }
    if act == Activation::Silu {
        for v in &mut v {
            *v = silu(*v);
        }
    }
    if let Some(r) = residual {
        for (v, r) in v.iter_mut().zip(r) {
            *v += r;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulp_over_the_range_silu_uses() {
        let mut worst = 0.0f64;
        for i in -86_999..=87_999 {
            let x = i as f32 * 1e-3;
            let want = (x as f64).exp();
            let rel = ((exp(x) as f64 - want) / want).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
    }

    #[test]
    fn silu_matches_its_definition_and_saturates_cleanly() {
        for x in [-100.0f32, -20.0, -3.5, -1.0, -1e-3, 0.0, 1e-3, 0.7, 2.0, 9.0, 50.0, 1e4] {
            let want = x as f64 / (1.0 + (-x as f64).exp());
            let got = silu(x) as f64;
            assert!((got - want).abs() <= 1e-6 * (1.0 + want.abs()), "silu({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn rows_get_bias_then_activation_then_residual() {
        let acc = [0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 0.5];
        let res = [10.0; NR];
        let plain = finish_row(&acc, 0.5, Activation::Identity, None);
        assert_eq!(plain, acc.map(|a| a + 0.5));
        let full = finish_row(&acc, 0.5, Activation::Silu, Some(&res));
        for j in 0..NR {
            assert!((full[j] - (silu(acc[j] + 0.5) + 10.0)).abs() < 1e-6);
        }
    }
}
