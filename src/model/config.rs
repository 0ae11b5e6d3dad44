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

/// Run-time configuration of a YOLOv8 network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct YoloConfig {
    /// Architecture family; only `"yolov8"` is implemented.
    pub family: String,
    /// Width/depth scale.
    pub scale: Scale,
    /// Head type.
    pub task: Task,
    /// Number of classes.
    pub num_classes: usize,
    /// DFL bins per box side (16 for every released YOLOv8).
    #[serde(default = "default_reg_max")]
    pub reg_max: usize,
}

/// DFL bins per box side of every released YOLOv8 (`regMax` when a manifest omits it).
pub fn default_reg_max() -> usize {
    16
}

/// Channel widths and repeat counts derived from a [`YoloConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dims {
    /// Scaled channels for the yaml's 64, 128, 256, 512, 1024.
    pub(crate) c64: usize,
    pub(crate) c128: usize,
    pub(crate) c256: usize,
    pub(crate) c512: usize,
    pub(crate) c1024: usize,
    /// Scaled repeats for the yaml's 3 and 6.
    pub(crate) n3: usize,
    pub(crate) n6: usize,
}

impl YoloConfig {
    /// Check the configuration describes a network we can build.
    pub fn validate(&self) -> Result<()> {
        if self.family != "yolov8" {
            return Err(Error::ModelLoad(format!(
                "architecture family `{}` is not supported; only `yolov8` is implemented",
                self.family
            )));
        }
        if !(1..=4096).contains(&self.num_classes) {
            return Err(Error::ModelLoad(format!("numClasses must be in 1..=4096, got {}", self.num_classes)));
        }
        if !(1..=64).contains(&self.reg_max) {
            return Err(Error::ModelLoad(format!("regMax must be in 1..=64, got {}", self.reg_max)));
        }
        Ok(())
    }

    pub(crate) fn dims(&self) -> Dims {
        let (depth, width, max_channels) = self.scale.multipliers();
        let ch = |c: usize| ((c.min(max_channels) as f64 * width / 8.0).ceil() as usize) * 8;
        let n = |n: usize| ((n as f64 * depth).round() as usize).max(1);
        Dims { c64: ch(64), c128: ch(128), c256: ch(256), c512: ch(512), c1024: ch(1024), n3: n(3), n6: n(6) }
    }

    /// Angle channels of the head (1 for OBB).
    pub fn num_extra(&self) -> usize {
        match self.task {
            Task::Detect => 0,
            Task::Obb => 1,
        }
    }

    /// Rows of [`YoloV8::decode`](super::YoloV8::decode)'s output: box (4) + classes (+ angle).
    pub fn decoded_rows(&self) -> usize {
        4 + self.num_classes + self.num_extra()
    }

    /// Rows of [`YoloV8::forward`](super::YoloV8::forward)'s output: DFL logits + class logits (+ angle logit).
    pub fn raw_rows(&self) -> usize {
        4 * self.reg_max + self.num_classes + self.num_extra()
    }

    /// Recognise the configuration from ultralytics-named weights: the head type from the
    /// presence of the angle branch, the class count and DFL bins from the head's last
    /// convolutions, and the scale from the stem and SPPF widths and the C2f repeats.
    pub fn infer(weights: &super::Weights) -> Result<Self> {
        let shape = |name: &str| {
            weights.get(name).map(|t| t.shape.clone()).ok_or_else(|| {
                Error::ModelLoad(format!(
                    "tensor `{name}` is missing; these do not look like ultralytics YOLOv8 weights"
                ))
            })
        };
        if weights.names().any(|n| n.starts_with("model.22.proto.")) {
            return Err(Error::ModelLoad("segmentation models are not supported; use a detect or obb model".into()));
        }
        let task = if weights.get("model.22.cv4.0.2.weight").is_some() { Task::Obb } else { Task::Detect };
        let num_classes = shape("model.22.cv3.0.2.weight")?[0];
        let reg_max = shape("model.22.cv2.0.2.weight")?[0] / 4;
        let stem = shape("model.0.conv.weight")?[0];
        let sppf = shape("model.9.cv2.conv.weight")?[0];
        let repeats = weights
            .names()
            .filter_map(|n| n.strip_prefix("model.4.m.")?.split('.').next()?.parse::<usize>().ok())
            .max()
            .map_or(0, |i| i + 1);
        for scale in Scale::ALL {
            let config = YoloConfig { family: "yolov8".into(), scale, task, num_classes, reg_max };
            let d = config.dims();
            if d.c64 == stem && d.c1024 == sppf && d.n6 == repeats {
                config.validate()?;
                return Ok(config);
            }
        }
        Err(Error::ModelLoad(format!(
            "no YOLOv8 scale has stem width {stem}, SPPF width {sppf} and {repeats} C2f repeats; \
             these weights are not a standard yolov8 n/s/m/l/x model"
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
