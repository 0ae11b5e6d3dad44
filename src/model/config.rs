//! A network's configuration, independent of burn: the head type, the scale, the class count
//! and DFL bins ([`YoloConfig`], as a manifest states it or as read off a checkpoint's
//! tensor names and shapes), and the anchor grid those imply.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Strides of the three detection levels (P3, P4, P5).
pub const STRIDES: [usize; 3] = [8, 16, 32];
/// Inputs must be a multiple of the largest stride.
pub const STRIDE_MULTIPLE: usize = 32;

/// What the head predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Axis-aligned boxes (ultralytics `Detect`).
    Detect,
    /// Rotated boxes (ultralytics `OBB`, one angle per box).
    Obb,
}

/// Model scale: the standard ultralytics depth/width multipliers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    N,
    S,
    M,
    L,
    X,
}

impl Scale {
    /// `(depth multiple, width multiple, max channels)` from `yolov8.yaml`.
    pub fn multipliers(self) -> (f64, f64, usize) {
        match self {
            Scale::N => (0.33, 0.25, 1024),
            Scale::S => (0.33, 0.50, 1024),
            Scale::M => (0.67, 0.75, 768),
            Scale::L => (1.00, 1.00, 512),
            Scale::X => (1.00, 1.25, 512),
        }
    }

    /// All scales, smallest first.
    pub const ALL: [Scale; 5] = [Scale::N, Scale::S, Scale::M, Scale::L, Scale::X];

    /// The one-letter name used in model ids (`yolov8n`).
    pub fn letter(self) -> char {
        match self {
            Scale::N => 'n',
            Scale::S => 's',
            Scale::M => 'm',
            Scale::L => 'l',
            Scale::X => 'x',
        }
    }
}

/// Architecture family: the ultralytics model yaml the network follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `yolov8.yaml` / `yolov8-obb.yaml`: C2f blocks, SPPF, the legacy class branch.
    Yolov8,
    /// `yolo11.yaml` / `yolo11-obb.yaml`: C3k2 blocks, SPPF, C2PSA, depthwise class branch.
    Yolo11,
    /// `yolo26.yaml` / `yolo26-obb.yaml`: YOLO11's blocks with C3k inside every head C3k2, an
    /// attention C3k2 at P5, SPPF with a shortcut, and an end-to-end head.
    Yolo26,
}

impl Family {
    /// The name in model ids and manifests.
    pub fn name(self) -> &'static str {
        match self {
            Family::Yolov8 => "yolov8",
            Family::Yolo11 => "yolo11",
            Family::Yolo26 => "yolo26",
        }
    }

    /// The index of the head in the layer list (`model.<i>.`): the length of the family's
    /// backbone and neck.
    pub fn head_index(self) -> usize {
        match self {
            Family::Yolov8 => 22,
            Family::Yolo11 | Family::Yolo26 => 23,
        }
    }
}

/// Activation of SPPF's first convolution: SiLU in checkpoints from ultralytics before 8.3
/// (the released YOLOv8 weights), none in later ones. The module object in the checkpoint
/// says which; the tensors cannot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "lowercase")]
pub enum ConvAct {
    #[default]
    Silu,
    None,
}

/// How boxes are chosen from the head's outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "lowercase")]
pub enum Postprocess {
    /// The one-to-many branch, then class-aware NMS (every YOLOv8/YOLO11 model).
    #[default]
    Nms,
    /// The one-to-one branch of an end-to-end head (YOLO26), then the top-k selection that
    /// ultralytics' end-to-end export does, with no NMS.
    Topk,
}

/// Run-time configuration of a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct YoloConfig {
    /// Architecture family.
    pub family: Family,
    /// Width/depth scale.
    pub scale: Scale,
    /// Head type.
    pub task: Task,
    /// Number of classes.
    pub num_classes: usize,
    /// DFL bins per box side (16 for YOLOv8 and YOLO11; 1, i.e. no DFL, for YOLO26).
    #[serde(default = "default_reg_max")]
    pub reg_max: usize,
    /// OBB heads: the angle channel is the angle in radians itself (ultralytics' `OBB26`),
    /// not `(sigmoid(logit) - 1/4) * pi` (`OBB`).
    #[serde(default)]
    pub raw_angle: bool,
    /// The head also has the one-to-one branch (`one2one_cv2`, ...) of an end-to-end model.
    #[serde(default)]
    pub end_to_end: bool,
    /// Activation of SPPF's first convolution.
    #[serde(default)]
    pub sppf_act: ConvAct,
    /// SPPF adds its input to its output (YOLO26).
    #[serde(default)]
    pub sppf_shortcut: bool,
    /// Which branch runs and how its boxes are chosen.
    #[serde(default)]
    pub postprocess: Postprocess,
}

/// DFL bins per box side of every released YOLOv8 (`regMax` when a manifest omits it).
pub fn default_reg_max() -> usize {
    16
}

/// A family's scale multipliers, applied as ultralytics' `parse_model` applies them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Scaling {
    depth: f64,
    width: f64,
    max_channels: usize,
}

impl Scaling {
    /// Output channels for the yaml's `c`: `make_divisible(min(c, max) * width, 8)`.
    pub(crate) fn ch(&self, c: usize) -> usize {
        ((c.min(self.max_channels) as f64 * self.width / 8.0).ceil() as usize) * 8
    }

    /// Repeats for the yaml's `n`: `max(round(n * depth), 1)` when `n > 1` (Python's
    /// `round`, halves to even).
    pub(crate) fn n(&self, n: usize) -> usize {
        if n <= 1 {
            return n;
        }
        let x = n as f64 * self.depth;
        let r = x.round();
        let r = if (x - x.trunc() - 0.5).abs() < 1e-12 && r % 2.0 != 0.0 { r - 1.0 } else { r };
        (r as usize).max(1)
    }
}

impl YoloConfig {
    /// A configuration with what the family's released checkpoints have: YOLOv8 with 16 DFL
    /// bins and SiLU in SPPF (ultralytics before 8.3); YOLO11 with 16 bins and no SPPF
    /// activation; YOLO26 with plain box distances, the raw OBB angle, SPPF's shortcut and an
    /// end-to-end head (its one-to-many branch and NMS).
    pub fn standard(family: Family, scale: Scale, task: Task, num_classes: usize) -> Self {
        let yolo26 = family == Family::Yolo26;
        YoloConfig {
            family,
            scale,
            task,
            num_classes,
            reg_max: if yolo26 { 1 } else { 16 },
            raw_angle: yolo26 && task == Task::Obb,
            end_to_end: yolo26,
            sppf_act: if family == Family::Yolov8 { ConvAct::Silu } else { ConvAct::None },
            sppf_shortcut: yolo26,
            postprocess: Postprocess::Nms,
        }
    }

    /// Check the configuration describes a network we can build.
    pub fn validate(&self) -> Result<()> {
        if !(1..=4096).contains(&self.num_classes) {
            return Err(Error::ModelLoad(format!("numClasses must be in 1..=4096, got {}", self.num_classes)));
        }
        if !(1..=64).contains(&self.reg_max) {
            return Err(Error::ModelLoad(format!("regMax must be in 1..=64, got {}", self.reg_max)));
        }
        if self.raw_angle && self.task != Task::Obb {
            return Err(Error::ModelLoad("rawAngle applies to obb heads only".into()));
        }
        if self.postprocess == Postprocess::Topk && !self.end_to_end {
            return Err(Error::ModelLoad(
                "postprocess `topk` needs an end-to-end head (endToEnd: true); use `nms`".into(),
            ));
        }
        Ok(())
    }

    /// The family's multipliers for this scale (the `scales:` table of its yaml).
    pub(crate) fn scaling(&self) -> Scaling {
        let (depth, width, max_channels) = match self.family {
            Family::Yolov8 => self.scale.multipliers(),
            Family::Yolo11 | Family::Yolo26 => match self.scale {
                Scale::N => (0.50, 0.25, 1024),
                Scale::S => (0.50, 0.50, 1024),
                Scale::M => (0.50, 1.00, 512),
                Scale::L => (1.00, 1.00, 512),
                Scale::X => (1.00, 1.50, 512),
            },
        };
        Scaling { depth, width, max_channels }
    }

    /// Angle channels of the head (1 for OBB).
    pub fn num_extra(&self) -> usize {
        match self.task {
            Task::Detect => 0,
            Task::Obb => 1,
        }
    }

    /// Rows of [`Yolo::decode`](super::Yolo::decode)'s output: box (4) + classes (+ angle).
    pub fn decoded_rows(&self) -> usize {
        4 + self.num_classes + self.num_extra()
    }

    /// Rows of [`Yolo::forward`](super::Yolo::forward)'s output: box distances (DFL logits
    /// when `regMax > 1`) + class logits (+ angle logit).
    pub fn raw_rows(&self) -> usize {
        4 * self.reg_max + self.num_classes + self.num_extra()
    }

    /// Recognise the configuration from ultralytics-named weights: the family from the
    /// blocks present (C2PSA at layer 10 from YOLO11 on, the attention C3k2 at layer 22 in
    /// YOLO26), the head type from the angle branch, the class count and box bins from the
    /// head's last convolutions, an end-to-end head from its one-to-one branch, and the scale
    /// from the stem and SPPF widths and the repeats of layer 4. What the tensors cannot tell
    /// (SPPF's first activation and shortcut, the OBB26 angle) is the family's
    /// [`YoloConfig::standard`]; the converter reads those from the checkpoint's module
    /// objects instead.
    pub fn infer(weights: &super::Weights) -> Result<Self> {
        let has = |prefix: &str| weights.names().any(|n| n.starts_with(prefix));
        let family = if has("model.22.m.0.1.attn.") {
            Family::Yolo26
        } else if has("model.10.m.0.attn.") {
            Family::Yolo11
        } else {
            Family::Yolov8
        };
        let head = family.head_index();
        let shape = |name: &str| {
            weights.get(name).map(|t| t.shape.clone()).ok_or_else(|| {
                Error::ModelLoad(format!(
                    "tensor `{name}` is missing; these do not look like ultralytics {} weights",
                    family.name()
                ))
            })
        };
        if has(&format!("model.{head}.proto.")) {
            return Err(Error::ModelLoad("segmentation models are not supported; use a detect or obb model".into()));
        }
        if has(&format!("model.{head}.cv4.0.0.conv.weight")) && !has(&format!("model.{head}.cv4.0.2.weight")) {
            return Err(Error::ModelLoad("pose models are not supported; use a detect or obb model".into()));
        }
        let task =
            if weights.get(&format!("model.{head}.cv4.0.2.weight")).is_some() { Task::Obb } else { Task::Detect };
        let num_classes = shape(&format!("model.{head}.cv3.0.2.weight"))?[0];
        let reg_max = shape(&format!("model.{head}.cv2.0.2.weight"))?[0] / 4;
        let end_to_end = has(&format!("model.{head}.one2one_cv2."));
        let stem = shape("model.0.conv.weight")?[0];
        let sppf = shape("model.9.cv2.conv.weight")?[0];
        let repeats = weights
            .names()
            .filter_map(|n| n.strip_prefix("model.4.m.")?.split('.').next()?.parse::<usize>().ok())
            .max()
            .map_or(0, |i| i + 1);
        for scale in Scale::ALL {
            let config = YoloConfig { reg_max, end_to_end, ..YoloConfig::standard(family, scale, task, num_classes) };
            let s = config.scaling();
            let layer4 = match family {
                Family::Yolov8 => s.n(6),
                Family::Yolo11 | Family::Yolo26 => s.n(2),
            };
            if s.ch(64) == stem && s.ch(1024) == sppf && layer4 == repeats {
                config.validate()?;
                return Ok(config);
            }
        }
        Err(Error::ModelLoad(format!(
            "no {} scale has stem width {stem}, SPPF width {sppf} and {repeats} repeats in layer 4; \
             these weights are not a standard {0} n/s/m/l/x model",
            family.name()
        )))
    }
}

/// Anchors (grid cells of the three levels) of an input of `[height, width]` pixels, each a
/// multiple of [`STRIDE_MULTIPLE`].
pub fn anchor_count([h, w]: [usize; 2]) -> usize {
    STRIDES.iter().map(|s| (h / s) * (w / s)).sum()
}

/// Anchor points (grid cell centres, in grid units) as `[2, N]` row-major (x row, y row) and
/// the stride of each anchor, for an input of `[height, width]` pixels.
pub fn anchor_grid(input_hw: [usize; 2]) -> Result<(Vec<f32>, Vec<f32>)> {
    let [h, w] = input_hw;
    if h == 0 || w == 0 || h % STRIDE_MULTIPLE != 0 || w % STRIDE_MULTIPLE != 0 {
        return Err(Error::Internal(format!("model input {w}x{h} is not a positive multiple of {STRIDE_MULTIPLE}")));
    }
    let n = anchor_count(input_hw);
    let (mut xs, mut ys, mut strides) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for s in STRIDES {
        for gy in 0..h / s {
            for gx in 0..w / s {
                xs.push(gx as f32 + 0.5);
                ys.push(gy as f32 + 0.5);
                strides.push(s as f32);
            }
        }
    }
    xs.extend(ys);
    Ok((xs, strides))
}
