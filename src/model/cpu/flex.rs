//! The bridge between burn tensors on its CPU backend (flex) and this module's kernels
//! ([`PackedConv`], `C2f` blocks, SPPF's pools, the attention's softmax, the box decoding):
//! borrow the input's storage (no copy when it is contiguous, as burn's own outputs are), run,
//! and hand the output back to burn without copying it.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::prelude::*;

use super::{C2fConvs, DepthwiseConv, PackedConv};
use crate::model::config::YoloConfig;
use crate::{Error, Result};

/// Run `conv` on `x` (`[B, C, H, W]`), adding `residual` after the activation.
pub fn conv2d(conv: &PackedConv, x: Tensor<4>, residual: Option<Tensor<4>>) -> Result<Tensor<4>> {
    let [batch, channels, h, w] = x.dims();
    if channels != conv.in_channels() {
        return Err(Error::Internal(format!("{conv:?} got {channels} input channels")));
    }
    let x = on_flex(x)?;
    let residual = residual.map(on_flex).transpose()?;
    let out = conv.run(values(&x)?, batch, h, w, residual.as_ref().map(values).transpose()?)?;
    let [ho, wo] = conv.output_hw(h, w)?;
    Ok(from_vec(out, [batch, conv.out_channels(), ho, wo]))
}

/// A depthwise convolution ([`DepthwiseConv`]) on `x` (`[B, C, H, W]`), adding `residual`
/// after the activation.
pub fn depthwise(conv: &DepthwiseConv, x: Tensor<4>, residual: Option<Tensor<4>>) -> Result<Tensor<4>> {
    let dims @ [batch, channels, h, w] = x.dims();
    if channels != conv.channels() {
        return Err(Error::Internal(format!("{conv:?} got {channels} input channels")));
    }
    let x = on_flex(x)?;
    let residual = residual.map(on_flex).transpose()?;
    let out = conv.run(values(&x)?, batch, (h, w), residual.as_ref().map(values).transpose()?)?;
    Ok(from_vec(out, dims))
}

/// A `C2f` block ([`super::csp::C2fConvs`]) on `x` (`[B, C, H, W]`).
pub fn c2f(convs: &C2fConvs<'_>, x: Tensor<4>) -> Result<Tensor<4>> {
    let [batch, _, h, w] = x.dims();
    let x = on_flex(x)?;
    let out = convs.run(values(&x)?, batch, (h, w))?;
    Ok(from_vec(out, [batch, convs.cv2.out_channels(), h, w]))
}

/// SPPF's pools and concatenation ([`super::pool::sppf_concat`]) on `x` (`[B, C, H, W]`):
/// `[B, 4C, H, W]`.
pub fn sppf_concat(x: Tensor<4>) -> Result<Tensor<4>> {
    let [batch, channels, h, w] = x.dims();
    let x = on_flex(x)?;
    let out = super::pool::sppf_concat(values(&x)?, batch, channels, (h, w));
    Ok(from_vec(out, [batch, 4 * channels, h, w]))
}

/// The softmax over the last axis of `x` ([`super::softmax::softmax_rows`]).
pub fn softmax_last<const D: usize>(x: Tensor<D>) -> Result<Tensor<D>> {
    let dims = x.dims();
    let x = on_flex(x)?;
    let out = super::softmax::softmax_rows(values(&x)?, dims[D - 1]);
    Ok(from_vec(out, dims))
}

/// The head's box decoding ([`super::decode::decode`]) on `raw` (`[B, raw rows, N]`).
pub fn decode(config: &YoloConfig, raw: Tensor<3>, anchors: &[f32], strides: &[f32]) -> Result<Tensor<3>> {
    let [batch, _, n] = raw.dims();
    let raw = on_flex(raw)?;
    let out = super::decode::decode(config, values(&raw)?, batch, n, anchors, strides);
    Ok(from_vec(out, [batch, config.decoded_rows(), n]))
}

/// A flex tensor of `values` (no copy).
pub fn from_vec<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(FlexTensor::from_data(TensorData::new(values, shape)))
}

/// The flex tensor behind `t`, made contiguous if it is a strided view.
fn on_flex<const D: usize>(t: Tensor<D>) -> Result<FlexTensor> {
    let t = t
        .try_into_primitive::<Flex>()
        .map_err(|e| Error::Internal(format!("the CPU path got a tensor that is not on burn's CPU backend: {e:?}")))?;
    Ok(if t.as_slice::<f32>().is_some() { t } else { t.to_contiguous() })
}

fn values(t: &FlexTensor) -> Result<&[f32]> {
    t.as_slice::<f32>().ok_or_else(|| Error::Internal(format!("a {:?} tensor reached the CPU convolution", t.dtype())))
}
