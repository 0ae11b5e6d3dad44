//! The YOLOv8 family in burn: one network definition, configured at run time by scale
//! (n/s/m/l/x width and depth multipliers), number of classes and head (`detect` for
//! axis-aligned boxes, `obb` for rotated boxes).
//!
//! The layer graph follows ultralytics' `yolov8.yaml` / `yolov8-obb.yaml`; tensor names are
//! ultralytics' `state_dict()` names, so weights load without renaming. Convolution +
//! BatchNorm pairs are fused at load time (eps 1e-3, as ultralytics trains them), which is
//! what ultralytics' own exports do.
//!
//! [`YoloV8::forward`] returns the head's raw outputs; [`YoloV8::decode`] turns them into
//! what ultralytics' ONNX export returns (`[B, 4 + nc (+1 angle), N]`, boxes in input pixels),
//! so our outputs can be compared with onnxruntime's one to one.

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, silu, softmax};
use burn::tensor::module::{conv2d, interpolate, max_pool2d};
use burn::tensor::ops::{ConvOptions, InterpolateMode, InterpolateOptions, MaxPoolOptions};

use super::config::{Task, YoloConfig, anchor_grid};
use super::cpu::{self, Activation, PackedConv};
use crate::{Error, Result};

/// BatchNorm epsilon used by every ultralytics `Conv` block.
const BN_EPS: f32 = 1e-3;
// ---------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------

/// A convolution (BatchNorm folded in) and its activation: ultralytics' `Conv` block with
/// SiLU, or the plain `nn.Conv2d` that ends each head branch. On burn's CPU backend it runs
/// as one fused kernel ([`cpu::PackedConv`]); on WebGPU as burn's `conv2d` and `silu`.
#[derive(Debug)]
pub struct ConvBlock {
    act: Activation,
    imp: ConvImpl,
}

#[derive(Debug)]
// A few dozen per network, built once: not worth a box per convolution.
#[allow(clippy::large_enum_variant)]
enum ConvImpl {
    Burn { weight: Tensor<4>, bias: Tensor<1>, options: ConvOptions<2> },
    Cpu(PackedConv),
}

impl ConvBlock {
    /// The packed convolution, on the CPU path.
    fn packed(&self) -> Option<&PackedConv> {
        match &self.imp {
            ConvImpl::Cpu(packed) => Some(packed),
            ConvImpl::Burn { .. } => None,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        self.forward_add(x, None)
    }

    /// `act(conv(x)) + residual`.
    fn forward_add(&self, x: Tensor<4>, residual: Option<Tensor<4>>) -> Result<Tensor<4>> {
        match &self.imp {
            ConvImpl::Cpu(packed) => cpu::flex::conv2d(packed, x, residual),
            ConvImpl::Burn { weight, bias, options } => {
                let y = conv2d(x, weight.clone(), Some(bias.clone()), options.clone());
                let y = match self.act {
                    Activation::Silu => silu(y),
                    Activation::Identity => y,
                };
                Ok(match residual {
                    Some(r) => y + r,
                    None => y,
                })
            }
        }
    }
}

/// Two 3x3 convolutions with an optional residual: ultralytics' `Bottleneck`.
#[derive(Debug)]
pub struct Bottleneck {
    cv1: ConvBlock,
    cv2: ConvBlock,
    residual: bool,
}

impl Bottleneck {
    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        let y = self.cv1.forward(x.clone())?;
        self.cv2.forward_add(y, self.residual.then_some(x))
    }
}

/// CSP bottleneck with two convolutions: ultralytics' `C2f`.
#[derive(Debug)]
pub struct C2f {
    cv1: ConvBlock,
    cv2: ConvBlock,
    m: Vec<Bottleneck>,
}

impl C2f {
    /// The block's convolutions on the CPU path, which runs it on slices
    /// ([`cpu::C2fConvs`]).
    fn packed(&self) -> Option<cpu::C2fConvs<'_>> {
        let blocks = self.m.iter().map(|b| Some((b.cv1.packed()?, b.cv2.packed()?, b.residual)));
        Some(cpu::C2fConvs { cv1: self.cv1.packed()?, blocks: blocks.collect::<Option<_>>()?, cv2: self.cv2.packed()? })
    }

    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        if let Some(convs) = self.packed() {
            return cpu::flex::c2f(&convs, x);
        }
        // ultralytics splits cv1's output in two halves and feeds the second one on; the
        // concatenation starts with both halves, i.e. with cv1's output itself.
        let y = self.cv1.forward(x)?;
        let half = y.dims()[1] / 2;
        let mut last = y.clone().narrow(1, half, half);
        let mut ys = vec![y];
        for block in &self.m {
            last = block.forward(last)?;
            ys.push(last.clone());
        }
        self.cv2.forward(Tensor::cat(ys, 1))
    }
}

/// Spatial pyramid pooling, fast: ultralytics' `SPPF` (k = 5).
#[derive(Debug)]
pub struct Sppf {
    cv1: ConvBlock,
    cv2: ConvBlock,
}

impl Sppf {
    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        let x = self.cv1.forward(x)?;
        // On the CPU path (packed convolutions): the pools and the concatenation in one pass.
        if self.cv1.packed().is_some() {
            return self.cv2.forward(cpu::flex::sppf_concat(x)?);
        }
        let pool = MaxPoolOptions::new([5, 5]).with_stride([1, 1]).with_padding([2, 2]);
        let y1 = max_pool2d(x.clone(), pool.clone());
        let y2 = max_pool2d(y1.clone(), pool.clone());
        let y3 = max_pool2d(y2.clone(), pool);
        self.cv2.forward(Tensor::cat(vec![x, y1, y2, y3], 1))
    }
}

/// One head branch per level: Conv 3x3, Conv 3x3, plain Conv2d 1x1.
#[derive(Debug)]
pub struct Branch {
    a: ConvBlock,
    b: ConvBlock,
    out: ConvBlock,
}

impl Branch {
    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        self.out.forward(self.b.forward(self.a.forward(x)?)?)
    }
}

/// The detection head: box (DFL) and class branches, plus the angle branch for OBB.
#[derive(Debug)]
pub struct Head {
    cv2: Vec<Branch>,
    cv3: Vec<Branch>,
    cv4: Vec<Branch>,
}

/// The whole network.
#[derive(Debug)]
pub struct YoloV8 {
    b0: ConvBlock,
    b1: ConvBlock,
    b2: C2f,
    b3: ConvBlock,
    b4: C2f,
    b5: ConvBlock,
    b6: C2f,
    b7: ConvBlock,
    b8: C2f,
    b9: Sppf,
    h12: C2f,
    h15: C2f,
    h16: ConvBlock,
    h18: C2f,
    h19: ConvBlock,
    h21: C2f,
    head: Head,
}

// ---------------------------------------------------------------------------------------
// Construction from named weights
// ---------------------------------------------------------------------------------------

/// Supplies a tensor's values given its ultralytics name and expected shape.
pub type WeightSource<'a> = dyn FnMut(&str, &[usize]) -> Result<Vec<f32>> + 'a;

struct Builder<'a, 'b> {
    device: &'a Device,
    get: &'a mut WeightSource<'b>,
    /// Convolutions as [`PackedConv`] (burn's CPU backend) rather than burn tensors.
    fused: bool,
}

impl Builder<'_, '_> {
    /// A convolution on the builder's device: packed for the fused CPU kernel on burn's
    /// CPU backend, burn tensors elsewhere.
    fn conv2d(
        &self,
        weight: Vec<f32>,
        bias: Vec<f32>,
        shape: [usize; 4],
        stride: usize,
        act: Activation,
    ) -> Result<ConvBlock> {
        let imp = if self.fused {
            ConvImpl::Cpu(PackedConv::new(&weight, &bias, shape, stride, act)?)
        } else {
            let [c2, _, k, _] = shape;
            let p = k / 2;
            ConvImpl::Burn {
                weight: Tensor::from_data(TensorData::new(weight, shape), self.device),
                bias: Tensor::from_data(TensorData::new(bias, [c2]), self.device),
                options: ConvOptions::new([stride, stride], [p, p], [1, 1], 1),
            }
        };
        Ok(ConvBlock { act, imp })
    }

    /// `Conv` block `prefix` (conv + bn), with BatchNorm folded into the convolution.
    fn conv(&mut self, prefix: &str, c1: usize, c2: usize, k: usize, stride: usize) -> Result<ConvBlock> {
        let shape = [c2, c1, k, k];
        let mut w = (self.get)(&format!("{prefix}.conv.weight"), &shape)?;
        let gamma = (self.get)(&format!("{prefix}.bn.weight"), &[c2])?;
        let beta = (self.get)(&format!("{prefix}.bn.bias"), &[c2])?;
        let mean = (self.get)(&format!("{prefix}.bn.running_mean"), &[c2])?;
        let var = (self.get)(&format!("{prefix}.bn.running_var"), &[c2])?;
        let per_out = c1 * k * k;
        let mut bias = Vec::with_capacity(c2);
        for o in 0..c2 {
            let scale = gamma[o] / (var[o] + BN_EPS).sqrt();
            w[o * per_out..(o + 1) * per_out].iter_mut().for_each(|v| *v *= scale);
            bias.push(beta[o] - mean[o] * scale);
        }
        self.conv2d(w, bias, shape, stride, Activation::Silu)
    }

    /// Plain `nn.Conv2d` with bias (the last 1x1 of each head branch).
    fn plain(&mut self, prefix: &str, c1: usize, c2: usize) -> Result<ConvBlock> {
        let shape = [c2, c1, 1, 1];
        let w = (self.get)(&format!("{prefix}.weight"), &shape)?;
        let b = (self.get)(&format!("{prefix}.bias"), &[c2])?;
        self.conv2d(w, b, shape, 1, Activation::Identity)
    }

    fn c2f(&mut self, prefix: &str, c1: usize, c2: usize, n: usize, shortcut: bool) -> Result<C2f> {
        let c = c2 / 2;
        let cv1 = self.conv(&format!("{prefix}.cv1"), c1, 2 * c, 1, 1)?;
        let m = (0..n)
            .map(|i| {
                Ok(Bottleneck {
                    cv1: self.conv(&format!("{prefix}.m.{i}.cv1"), c, c, 3, 1)?,
                    cv2: self.conv(&format!("{prefix}.m.{i}.cv2"), c, c, 3, 1)?,
                    residual: shortcut,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let cv2 = self.conv(&format!("{prefix}.cv2"), (2 + n) * c, c2, 1, 1)?;
        Ok(C2f { cv1, cv2, m })
    }

    fn branch(&mut self, prefix: &str, c1: usize, mid: usize, out: usize) -> Result<Branch> {
        Ok(Branch {
            a: self.conv(&format!("{prefix}.0"), c1, mid, 3, 1)?,
            b: self.conv(&format!("{prefix}.1"), mid, mid, 3, 1)?,
            out: self.plain(&format!("{prefix}.2"), mid, out)?,
        })
    }
}

impl YoloV8 {
    /// Build the network, asking `source` for every tensor by ultralytics name and shape.
    pub fn build(config: &YoloConfig, device: &Device, source: &mut WeightSource<'_>) -> Result<Self> {
        let fused = matches!(device.as_dispatch(), burn::backend::DispatchDevice::Flex(_));
        Self::build_with(config, device, source, fused)
    }

    /// [`YoloV8::build`], choosing whether convolutions use the fused CPU kernel.
    fn build_with(config: &YoloConfig, device: &Device, source: &mut WeightSource<'_>, fused: bool) -> Result<Self> {
        config.validate()?;
        let d = config.dims();
        let mut b = Builder { device, get: source, fused };
        let (nc, reg_max) = (config.num_classes, config.reg_max);
        let net = YoloV8 {
            b0: b.conv("model.0", 3, d.c64, 3, 2)?,
            b1: b.conv("model.1", d.c64, d.c128, 3, 2)?,
            b2: b.c2f("model.2", d.c128, d.c128, d.n3, true)?,
            b3: b.conv("model.3", d.c128, d.c256, 3, 2)?,
            b4: b.c2f("model.4", d.c256, d.c256, d.n6, true)?,
            b5: b.conv("model.5", d.c256, d.c512, 3, 2)?,
            b6: b.c2f("model.6", d.c512, d.c512, d.n6, true)?,
            b7: b.conv("model.7", d.c512, d.c1024, 3, 2)?,
            b8: b.c2f("model.8", d.c1024, d.c1024, d.n3, true)?,
            b9: Sppf {
                cv1: b.conv("model.9.cv1", d.c1024, d.c1024 / 2, 1, 1)?,
                cv2: b.conv("model.9.cv2", d.c1024 / 2 * 4, d.c1024, 1, 1)?,
            },
            h12: b.c2f("model.12", d.c1024 + d.c512, d.c512, d.n3, false)?,
            h15: b.c2f("model.15", d.c512 + d.c256, d.c256, d.n3, false)?,
            h16: b.conv("model.16", d.c256, d.c256, 3, 2)?,
            h18: b.c2f("model.18", d.c256 + d.c512, d.c512, d.n3, false)?,
            h19: b.conv("model.19", d.c512, d.c512, 3, 2)?,
            h21: b.c2f("model.21", d.c512 + d.c1024, d.c1024, d.n3, false)?,
            head: {
                let ch = [d.c256, d.c512, d.c1024];
                let c2 = 16.max(ch[0] / 4).max(4 * reg_max);
                let c3 = ch[0].max(nc.min(100));
                let c4 = (ch[0] / 4).max(config.num_extra());
                let levels = |b: &mut Builder, name: &str, mid: usize, out: usize| {
                    (0..3)
                        .map(|i| b.branch(&format!("model.22.{name}.{i}"), ch[i], mid, out))
                        .collect::<Result<Vec<_>>>()
                };
                Head {
                    cv2: levels(&mut b, "cv2", c2, 4 * reg_max)?,
                    cv3: levels(&mut b, "cv3", c3, nc)?,
                    cv4: match config.task {
                        Task::Detect => Vec::new(),
                        Task::Obb => levels(&mut b, "cv4", c4, config.num_extra())?,
                    },
                }
            },
        };
        // The DFL convolution has fixed weights 0..reg_max; check them rather than trust.
        let dfl = (b.get)("model.22.dfl.conv.weight", &[1, reg_max, 1, 1])?;
        if dfl.iter().enumerate().any(|(i, &v)| (v - i as f32).abs() > 1e-3) {
            return Err(Error::ModelLoad(
                "model.22.dfl.conv.weight is not 0..reg_max; not a standard YOLOv8 head".into(),
            ));
        }
        Ok(net)
    }

    /// Build from named weights, consuming them. Tensors left over afterwards mean the
    /// weights belong to a different architecture, which is reported as an error.
    pub fn from_weights(config: &YoloConfig, mut weights: super::Weights, device: &Device) -> Result<Self> {
        let net = Self::build(config, device, &mut |name, shape| Ok(weights.take(name, shape)?.data))?;
        if !weights.is_empty() {
            let extra: Vec<&str> = weights.names().take(5).collect();
            return Err(Error::ModelLoad(format!(
                "{} tensors are not part of a yolov8{} {:?} model (e.g. {}); check the manifest's \
                 architecture",
                weights.len(),
                config.scale.letter(),
                config.task,
                extra.join(", ")
            )));
        }
        Ok(net)
    }

    /// Run the network. `x` is `[B, 3, H, W]` RGB in 0..1 with H and W multiples of 32.
    /// Returns the head's raw outputs `[B, 4*reg_max + nc (+1), N]`, levels P3, P4, P5 in
    /// order, each flattened row-major (y, then x).
    pub fn forward(&self, x: Tensor<4>) -> Result<Tensor<3>> {
        let x = self.b1.forward(self.b0.forward(x)?)?;
        let x = self.b3.forward(self.b2.forward(x)?)?;
        let p3 = self.b4.forward(x)?;
        let p4 = self.b6.forward(self.b5.forward(p3.clone())?)?;
        let p5 = self.b9.forward(self.b8.forward(self.b7.forward(p4.clone())?)?)?;

        let h12 = self.h12.forward(Tensor::cat(vec![upsample2(p5.clone()), p4], 1))?;
        let out3 = self.h15.forward(Tensor::cat(vec![upsample2(h12.clone()), p3], 1))?;
        let out4 = self.h18.forward(Tensor::cat(vec![self.h16.forward(out3.clone())?, h12], 1))?;
        let out5 = self.h21.forward(Tensor::cat(vec![self.h19.forward(out4.clone())?, p5], 1))?;

        let levels = [out3, out4, out5]
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let mut parts = vec![self.head.cv2[i].forward(f.clone())?, self.head.cv3[i].forward(f.clone())?];
                if let Some(angle) = self.head.cv4.get(i) {
                    parts.push(angle.forward(f)?);
                }
                let level = Tensor::cat(parts, 1);
                let [b, c, h, w] = level.dims();
                Ok(level.reshape([b, c, h * w]))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::cat(levels, 2))
    }

    /// Decode raw head outputs into ultralytics' export layout `[B, 4 + nc (+1), N]`:
    /// box centre x, y, width, height in input pixels, class probabilities, and for OBB the
    /// angle in radians.
    pub fn decode(config: &YoloConfig, raw: Tensor<3>, input_hw: [usize; 2]) -> Result<Tensor<3>> {
        let on_cpu = matches!(raw.device().as_dispatch(), burn::backend::DispatchDevice::Flex(_));
        Self::decode_with(config, raw, input_hw, on_cpu)
    }

    /// [`YoloV8::decode`], on burn's CPU backend in one vectorised pass
    /// ([`cpu::flex::decode`]) when `on_cpu`, otherwise in burn's ops (one graph on WebGPU).
    fn decode_with(config: &YoloConfig, raw: Tensor<3>, input_hw: [usize; 2], on_cpu: bool) -> Result<Tensor<3>> {
        let [batch, rows, n] = raw.dims();
        let device = raw.device();
        let (anchors, strides) = anchor_grid(input_hw)?;
        if rows != config.raw_rows() || n != strides.len() {
            return Err(Error::Internal(format!(
                "raw output [{batch}, {rows}, {n}] does not match {} rows x {} anchors",
                config.raw_rows(),
                strides.len()
            )));
        }
        if on_cpu {
            return cpu::flex::decode(config, raw, &anchors, &strides);
        }
        let r = config.reg_max;
        let nc = config.num_classes;
        let anchors = Tensor::<2>::from_data(TensorData::new(anchors, [2, n]), &device).unsqueeze::<3>();
        let strides = Tensor::<1>::from_data(TensorData::new(strides, [n]), &device).reshape([1, 1, n]);
        let bins = Tensor::<1>::from_data(TensorData::new((0..r).map(|i| i as f32).collect::<Vec<_>>(), [r]), &device)
            .reshape([1, 1, r, 1]);

        // DFL: softmax over the bins of each side, expectation of the bin index.
        let dist = softmax(raw.clone().narrow(1, 0, 4 * r).reshape([batch, 4, r, n]), 2)
            .mul(bins)
            .sum_dim(2)
            .reshape([batch, 4, n]);
        let lt = dist.clone().narrow(1, 0, 2);
        let rb = dist.narrow(1, 2, 2);
        let cls = sigmoid(raw.clone().narrow(1, 4 * r, nc));

        let boxes = match config.task {
            Task::Detect => {
                let x1y1 = anchors.clone() - lt;
                let x2y2 = anchors + rb;
                let centre = (x1y1.clone() + x2y2.clone()).div_scalar(2.0);
                Tensor::cat(vec![centre, x2y2 - x1y1], 1).mul(strides)
            }
            Task::Obb => {
                let angle = sigmoid(raw.narrow(1, 4 * r + nc, 1)).sub_scalar(0.25).mul_scalar(std::f32::consts::PI);
                let half = (rb.clone() - lt.clone()).div_scalar(2.0);
                let (xf, yf) = (half.clone().narrow(1, 0, 1), half.narrow(1, 1, 1));
                let (cos, sin) = (angle.clone().cos(), angle.clone().sin());
                let x = xf.clone() * cos.clone() - yf.clone() * sin.clone();
                let y = xf * sin + yf * cos;
                let centre = Tensor::cat(vec![x, y], 1) + anchors;
                let boxes = Tensor::cat(vec![centre, lt + rb], 1).mul(strides);
                return Ok(Tensor::cat(vec![boxes, cls, angle], 1));
            }
        };
        Ok(Tensor::cat(vec![boxes, cls], 1))
    }
}

/// Nearest-neighbour 2x upsampling (`nn.Upsample(scale_factor=2, mode="nearest")`).
fn upsample2(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    interpolate(x, InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([2 * h, 2 * w]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Weights;
    use crate::model::config::Scale;
    use crate::model::weights::HostTensor;

    /// Deterministic pseudo-random weights for every tensor the network asks for, recorded
    /// so tests can check names and shapes.
    pub(crate) fn synthetic(config: &YoloConfig) -> Weights {
        let mut weights = Weights::default();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let device = Device::flex();
        let mut record = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let numel: usize = shape.iter().product();
            let data: Vec<f32> = if name.ends_with("dfl.conv.weight") {
                (0..numel).map(|i| i as f32).collect()
            } else if name.ends_with("running_var") {
                (0..numel).map(|_| 1.0).collect()
            } else {
                (0..numel)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
                    })
                    .collect()
            };
            weights.insert(name, HostTensor::new(shape.to_vec(), data.clone())?);
            Ok(data)
        };
        YoloV8::build(config, &device, &mut record).unwrap();
        weights
    }

    fn config(scale: Scale, task: Task) -> YoloConfig {
        YoloConfig { family: "yolov8".into(), scale, task, num_classes: 15, reg_max: 16 }
    }

    #[test]
    fn dims_match_ultralytics_yolov8n() {
        let d = config(Scale::N, Task::Obb).dims();
        assert_eq!((d.c64, d.c128, d.c256, d.c512, d.c1024), (16, 32, 64, 128, 256));
        assert_eq!((d.n3, d.n6), (1, 2));
        let d = config(Scale::M, Task::Detect).dims();
        assert_eq!((d.c64, d.c256, d.c1024, d.n3, d.n6), (48, 192, 576, 2, 4));
        let d = config(Scale::X, Task::Detect).dims();
        assert_eq!((d.c64, d.c1024, d.n3, d.n6), (80, 640, 3, 6));
    }

    #[test]
    fn the_yolov8n_obb_tensor_list_matches_the_checkpoint() {
        // The released yolov8n-obb.pt has 397 tensors, 63 of them num_batches_tracked.
        let w = synthetic(&config(Scale::N, Task::Obb));
        assert_eq!(w.len(), 397 - 63);
        assert_eq!(w.get("model.12.cv1.conv.weight").unwrap().shape, vec![128, 384, 1, 1]);
        assert_eq!(w.get("model.22.cv4.2.0.conv.weight").unwrap().shape, vec![16, 256, 3, 3]);
        assert_eq!(w.get("model.22.cv3.1.2.weight").unwrap().shape, vec![15, 64, 1, 1]);
    }

    #[test]
    fn config_is_inferred_from_weights_for_every_scale_and_head() {
        for scale in [Scale::N, Scale::S] {
            for task in [Task::Detect, Task::Obb] {
                let want = config(scale, task);
                assert_eq!(YoloConfig::infer(&synthetic(&want)).unwrap(), want);
            }
        }
    }

    #[test]
    fn wrong_architecture_is_reported() {
        let w = synthetic(&config(Scale::N, Task::Obb));
        let err = YoloV8::from_weights(&config(Scale::S, Task::Obb), w.clone(), &Device::flex()).unwrap_err();
        assert!(err.to_string().contains("expects"), "{err}");
        let err = YoloV8::from_weights(&config(Scale::N, Task::Detect), w, &Device::flex()).unwrap_err();
        assert!(err.to_string().contains("not part of a yolov8n"), "{err}");
        let mut bad = YoloConfig { family: "yolov5".into(), ..config(Scale::N, Task::Detect) };
        assert!(bad.validate().is_err());
        bad.family = "yolov8".into();
        bad.num_classes = 0;
        assert!(bad.validate().is_err());
    }

    #[test]
    fn anchors_follow_ultralytics_order() {
        let (a, s) = anchor_grid([64, 96]).unwrap();
        let n = 8 * 12 + 4 * 6 + 2 * 3;
        assert_eq!(s.len(), n);
        assert_eq!(a.len(), 2 * n);
        // First anchor of P3, second (x advances first), first of P4, last of P5.
        assert_eq!((a[0], a[n]), (0.5, 0.5));
        assert_eq!((a[1], a[n + 1]), (1.5, 0.5));
        assert_eq!((a[96], a[n + 96], s[96]), (0.5, 0.5, 16.0));
        assert_eq!((a[n - 1], a[2 * n - 1], s[n - 1]), (2.5, 1.5, 32.0));
        assert!(anchor_grid([100, 64]).is_err());
    }

    /// The decode, on the CPU path and in burn's ops (as WebGPU runs it), must agree with a
    /// straightforward host implementation of ultralytics' DFL + dist2rbox / dist2bbox, and
    /// the two with each other.
    #[test]
    fn decode_matches_a_host_reference() {
        for task in [Task::Detect, Task::Obb] {
            let cfg = YoloConfig { num_classes: 3, ..config(Scale::N, task) };
            let (hw, rows) = ([64usize, 32usize], cfg.raw_rows());
            let (anchors, strides) = anchor_grid(hw).unwrap();
            let n = strides.len();
            let raw: Vec<f32> = (0..rows * n).map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0).collect();
            let device = Device::flex();
            let t = Tensor::<3>::from_data(TensorData::new(raw.clone(), [1, rows, n]), &device);
            let decoded = |on_cpu| -> Vec<f32> {
                let out = YoloV8::decode_with(&cfg, t.clone(), hw, on_cpu).unwrap();
                out.into_data().try_into_vec::<f32>().unwrap()
            };
            let (out, in_graph) = (decoded(true), decoded(false));
            assert_eq!(YoloV8::decode(&cfg, t.clone(), hw).unwrap().into_data().try_into_vec::<f32>().unwrap(), out);
            assert_eq!(out.len(), cfg.decoded_rows() * n);
            assert_eq!(in_graph.len(), out.len());
            for (i, (a, b)) in out.iter().zip(&in_graph).enumerate() {
                assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "value {i}: CPU {a} vs in-graph {b} ({task:?})");
            }
            let at = |row: usize, j: usize| raw[row * n + j];
            for j in 0..n {
                let side = |s: usize| {
                    let logits: Vec<f32> = (0..16).map(|b| at(s * 16 + b, j)).collect();
                    let max = logits.iter().cloned().fold(f32::MIN, f32::max);
                    let e: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
                    let sum: f32 = e.iter().sum();
                    e.iter().enumerate().map(|(b, v)| b as f32 * v / sum).sum::<f32>()
                };
                let (l, t_, r, b) = (side(0), side(1), side(2), side(3));
                let (ax, ay, st) = (anchors[j], anchors[n + j], strides[j]);
                let want: [f32; 4] = match task {
                    Task::Detect => {
                        [(ax + (r - l) / 2.0) * st, (ay + (b - t_) / 2.0) * st, (l + r) * st, (t_ + b) * st]
                    }
                    Task::Obb => {
                        let a = (1.0 / (1.0 + (-at(64 + 3, j)).exp()) - 0.25) * std::f32::consts::PI;
                        let (xf, yf) = ((r - l) / 2.0, (b - t_) / 2.0);
                        let (x, y) = (xf * a.cos() - yf * a.sin(), xf * a.sin() + yf * a.cos());
                        assert!((out[(4 + 3) * n + j] - a).abs() < 1e-5);
                        [(ax + x) * st, (ay + y) * st, (l + r) * st, (t_ + b) * st]
                    }
                };
                for (k, w) in want.iter().enumerate() {
                    assert!((out[k * n + j] - w).abs() < 1e-3, "row {k} anchor {j}: {} vs {w}", out[k * n + j]);
                }
                for c in 0..3 {
                    let p = 1.0 / (1.0 + (-at(64 + c, j)).exp());
                    assert!((out[(4 + c) * n + j] - p).abs() < 1e-6);
                }
            }
        }
    }

    #[test]
    fn forward_produces_one_column_per_anchor() {
        let cfg = config(Scale::N, Task::Obb);
        let net = YoloV8::from_weights(&cfg, synthetic(&cfg), &Device::flex()).unwrap();
        let x = Tensor::<4>::zeros([1, 3, 64, 96], &Device::flex());
        let raw = net.forward(x).unwrap();
        assert_eq!(raw.dims(), [1, cfg.raw_rows(), 8 * 12 + 4 * 6 + 2 * 3]);
        let decoded = YoloV8::decode(&cfg, raw, [64, 96]).unwrap();
        assert_eq!(decoded.dims(), [1, 20, 126]);
    }

    #[test]
    fn the_fused_cpu_convolutions_match_burns_own() {
        let cfg = config(Scale::N, Task::Obb);
        let device = Device::flex();
        let build = |fused| {
            let mut weights = synthetic(&cfg);
            YoloV8::build_with(&cfg, &device, &mut |name, shape| Ok(weights.take(name, shape)?.data), fused).unwrap()
        };
        let (fused, plain) = (build(true), build(false));
        let values: Vec<f32> = (0..3 * 64 * 96).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, 3, 64, 96]), &device);
        let a = fused.forward(x.clone()).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let b = plain.forward(x).unwrap().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(a.len(), b.len());
        let worst = a.iter().zip(&b).map(|(a, b)| (a - b).abs() / (1.0 + b.abs())).fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "worst relative difference {worst}");
    }
}
