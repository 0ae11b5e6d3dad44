//! The bridge between burn tensors on its CPU backend (flex) and [`PackedConv`]: borrow the
//! input's storage (no copy when it is contiguous, as burn's own outputs are), run, and hand
//! the output back to burn without copying it.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::prelude::*;

use super::PackedConv;
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
    let data = TensorData::new(out, [batch, conv.out_channels(), ho, wo]);
    Ok(Tensor::from_primitive::<Flex>(FlexTensor::from_data(data)))
}

/// The flex tensor behind `t`, made contiguous if it is a strided view.
fn on_flex(t: Tensor<4>) -> Result<FlexTensor> {
    let t = t.try_into_primitive::<Flex>().map_err(|e| {
        Error::Internal(format!("the CPU convolution got a tensor that is not on burn's CPU backend: {e:?}"))
    })?;
    Ok(if t.as_slice::<f32>().is_some() { t } else { t.to_contiguous() })
}

fn values(t: &FlexTensor) -> Result<&[f32]> {
    t.as_slice::<f32>().ok_or_else(|| Error::Internal(format!("a {:?} tensor reached the CPU convolution", t.dtype())))
}
