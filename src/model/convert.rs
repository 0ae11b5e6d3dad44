//! Ultralytics `.pt` checkpoint -> geodetect safetensors, natively and without PyTorch.
//!
//! An ultralytics checkpoint pickles the whole model object (`{"model": DetectionModel,
//! "train_args": {...}, ...}`); burn's `pytorch-reader` turns that module into its
//! `state_dict()`, so the tensor names are ultralytics' own. We keep those names (the
//! documented weights format), drop training-only bookkeeping, read what the tensors cannot
//! tell from the pickled module objects ([`super::pickle`]: the activation of SPPF's first
//! convolution, its shortcut, an `OBB26` head's raw angle, the class names), check that the
//! layers are the family's and that the tensors build the network, and write F16 safetensors
//! (lossless: ultralytics saves half precision).

use std::collections::BTreeMap;
use std::path::Path;

use pytorch_reader::{DType, PickleValue, PytorchReader};

use super::config::{ConvAct, Task, YoloConfig};
use super::pickle::Modules;
use super::weights::{FloatFormat, HostTensor, Weights};
use super::yolo::Yolo;
use crate::{Error, Result};

/// A converted checkpoint.
#[derive(Debug)]
pub struct Converted {
    /// The safetensors file.
    pub bytes: Vec<u8>,
    /// The architecture recognised from the tensors.
    pub config: YoloConfig,
    /// Training image size, from the checkpoint's `train_args.imgsz` when present.
    pub train_imgsz: Option<u32>,
    /// Class names, from the model's `names` when the checkpoint has them.
    pub classes: Option<Vec<String>>,
    /// Number of tensors written.
    pub tensors: usize,
}

fn load_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::ModelLoad(format!("{}: {e}", path.display()))
}

/// Read the model tensors of an ultralytics checkpoint.
pub fn read_checkpoint(path: &Path) -> Result<Weights> {
    // Final checkpoints keep the weights under "model" ("ema" is None); training
    // checkpoints may only have a usable "ema".
    let reader = ["model", "ema"]
        .iter()
        .find_map(|key| PytorchReader::with_top_level_key(path, key).ok().filter(|r| !r.is_empty()))
        .ok_or_else(|| load_err(path, "no `model` or `ema` entry with tensors; not an ultralytics checkpoint"))?;
    let mut weights = Weights::default();
    for tensor in reader.tensors().values() {
        if tensor.name.ends_with(".num_batches_tracked") {
            continue;
        }
        let bytes = tensor.read().map_err(|e| load_err(path, e))?;
        let format = match tensor.dtype() {
            DType::F32 => FloatFormat::F32,
            DType::F16 => FloatFormat::F16,
            DType::BF16 => FloatFormat::BF16,
            DType::F64 => FloatFormat::F64,
            other => return Err(load_err(path, format!("tensor `{}` has unsupported dtype {other:?}", tensor.name))),
        };
        let data = format.decode(&bytes);
        weights.insert(tensor.name.clone(), HostTensor::new(tensor.shape().to_vec(), data)?);
    }
    Ok(weights)
}

/// `train_args.task` and `train_args.imgsz` of a checkpoint, when it records them.
fn train_args(path: &Path) -> (Option<String>, Option<u32>) {
    let Ok(PickleValue::Dict(args)) = PytorchReader::read_pickle_data(path, Some("train_args")) else {
        return (None, None);
    };
    let task = match args.get("task") {
        Some(PickleValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let imgsz = match args.get("imgsz") {
        Some(PickleValue::Int(v)) => u32::try_from(*v).ok(),
        Some(PickleValue::List(v)) => match v.first() {
            Some(PickleValue::Int(v)) => u32::try_from(*v).ok(),
            _ => None,
        },
        _ => None,
    };
    (task, imgsz)
}

/// Convert a checkpoint. `metadata` is stored in the safetensors header.
pub fn convert_checkpoint(path: &Path, metadata: BTreeMap<String, String>) -> Result<Converted> {
    let weights = read_checkpoint(path)?;
    let mut config = YoloConfig::infer(&weights)?;
    let modules = Modules::read(path)?;
    let classes = module_details(&modules, &mut config).map_err(|e| load_err(path, e))?;
    let (task, train_imgsz) = train_args(path);
    let expected = match config.task {
        Task::Detect => "detect",
        Task::Obb => "obb",
    };
    if let Some(task) = task.filter(|t| t != expected) {
        return Err(load_err(path, format!("train_args.task is `{task}` but the head is `{expected}`")));
    }
    // Building the network proves every tensor is used with the right shape.
    Yolo::from_weights(&config, weights.clone(), &burn::prelude::Device::flex())?;
    let bytes = weights.to_safetensors(true, metadata)?;
    Ok(Converted { bytes, config, train_imgsz, classes, tensors: weights.len() })
}

/// Complete `config` from the checkpoint's module objects (the model under `model`, or
/// `ema` in a training checkpoint): check each layer is the family's, read SPPF's first
/// activation, pool count and shortcut and the head's class. Returns the class names.
fn module_details(modules: &Modules, config: &mut YoloConfig) -> std::result::Result<Option<Vec<String>>, String> {
    let root = ["model", "ema"].into_iter().find(|k| modules.class(k).is_some()).ok_or("no model object")?;
    let layer = |i: usize| format!("{root}.model.{i}");
    for (i, want) in super::yolo::layer_classes(config.family).into_iter().enumerate() {
        let got = modules.class_name(&layer(i)).unwrap_or_else(|| "nothing".into());
        if got != want {
            return Err(format!(
                "layer {i} is {got}, the {} graph has {want} there; only the standard ultralytics {0} \
                 model yamls are supported",
                config.family.name()
            ));
        }
    }
    let sppf = layer(9);
    config.sppf_act = match modules.class_name(&format!("{sppf}.cv1.act")).as_deref() {
        Some("SiLU") => ConvAct::Silu,
        Some("Identity") => ConvAct::None,
        other => return Err(format!("SPPF's first activation is {other:?}; only SiLU and Identity are supported")),
    };
    if let Some(n) = modules.int(&sppf, "n").filter(|&n| n != 3) {
        return Err(format!("SPPF pools {n} times; only 3 is supported"));
    }
    config.sppf_shortcut = modules.int(&sppf, "add").is_some_and(|add| add != 0);
    let head = modules.class_name(&layer(config.family.head_index())).unwrap_or_else(|| "nothing".into());
    config.raw_angle = match (head.as_str(), config.task) {
        ("Detect", Task::Detect) | ("OBB", Task::Obb) => false,
        ("OBB26", Task::Obb) => true,
        _ => return Err(format!("the head is {head}; only Detect, OBB and OBB26 heads are supported")),
    };
    config.validate().map_err(|e| e.to_string())?;
    Ok(modules.names(root, "names"))
}
