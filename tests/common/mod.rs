//! Shared by the native (`tests/parity.rs`) and browser (`tests/web.rs`) parity tests: the
//! onnxruntime reference files of `models/reference/` and how our outputs are compared
//! with them.
//!
//! Tolerances (see models/reference/README.md):
//! - raw head outputs (DFL, class and angle logits): 1e-3 absolute;
//! - decoded class probabilities and angles: 1e-3 absolute;
//! - decoded box coordinates (pixels, up to ~1000): 1e-3 relative, i.e. 1e-3 * max(1, |v|),
//!   because onnxruntime and PyTorch already differ by 2.7e-3 px on the same weights;
//! - final detections: same count and classes, score within 1e-3, every corner within 0.5 px.
//!
//! A reference of an end-to-end model (YOLO26) holds both branches: the one-to-many outputs
//! and their NMS boxes, and the one-to-one outputs and their top-k boxes. An engine is
//! checked against the branch its manifest entry's `postprocess` runs.
#![allow(dead_code)]

use geodetect::detect::preprocess::{Window, to_chw};
use geodetect::detect::{Candidate, Compute, Engine, RotatedBox, nms};
use geodetect::model::{Manifest, Postprocess, sha256_hex};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The default model, the weights of the references without a model prefix.
pub const MODEL_ID: &str = "yolov8n-obb-dota";
/// YOLO11n-OBB, cars, trucks and parking lots.
pub const VEHICLES_ID: &str = "yolo11n-obb-vehicles";
/// YOLO26n-OBB, DOTA, end-to-end head.
pub const YOLO26_ID: &str = "yolo26n-obb-dota";

/// The repository.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file the setup generates, or a panic that says how to make it.
pub fn need(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!("{}: {e}. Generate the test data first: tests/setup.sh (or tests/data/prepare.sh, models/fetch.sh and `geodetect convert`)", path.display())
    })
}

/// [`MODEL_ID`] from `www/models`, verified and loaded on the CPU (natively).
pub fn engine() -> Engine {
    engine_for(MODEL_ID, None)
}

/// Model `id` from `www/models` on the CPU (natively), with `postprocess` instead of the
/// manifest's when given.
pub fn engine_for(id: &str, postprocess: Option<Postprocess>) -> Engine {
    let models = root().join("www/models");
    let manifest = Manifest::from_json(&String::from_utf8(need(&models.join("manifest.json"))).unwrap()).unwrap();
    let mut entry = manifest.get(id).unwrap().clone();
    if let Some(p) = postprocess {
        entry.postprocess = p;
    }
    let weights = entry.verify(need(&models.join(&entry.weights.file))).unwrap();
    Engine::load(entry, &weights, Compute::cpu()).unwrap()
}

#[derive(Debug, Deserialize)]
pub struct RefDetection {
    #[serde(rename = "classId")]
    pub class_id: usize,
    pub score: f64,
    pub cx: f64,
    pub cy: f64,
    pub w: f64,
    pub h: f64,
    pub angle: f64,
}

/// How a reference's input was made smaller than the source image, if it was.
#[derive(Debug, Deserialize)]
pub struct Downsample {
    /// Each output pixel is the mean of a `factor`x`factor` block, rounded half up.
    pub factor: u32,
}

#[derive(Debug, Deserialize)]
pub struct RefMeta {
    #[serde(default = "default_model")]
    pub model: String,
    #[serde(default = "default_classes")]
    pub num_classes: usize,
    #[serde(default = "default_reg_max")]
    pub reg_max: usize,
    #[serde(default)]
    pub end2end: bool,
    #[serde(default)]
    pub downsample: Option<Downsample>,
    pub crop: [u32; 4],
    pub rgb_sha256: String,
    pub num_anchors: usize,
    pub conf: f32,
    pub iou: f32,
    pub max_det: usize,
    pub anchors: Vec<usize>,
    pub detections: Vec<RefDetection>,
    /// End-to-end models: the one-to-one branch's top-k boxes.
    #[serde(default)]
    pub one2one_detections: Vec<RefDetection>,
}

fn default_model() -> String {
    MODEL_ID.into()
}
fn default_classes() -> usize {
    15
}
fn default_reg_max() -> usize {
    16
}

/// One branch's ORT outputs at the selected anchors.
pub struct Outputs {
    /// `[decoded rows, k]`.
    pub decoded: Vec<f32>,
    /// `[raw rows, k]`.
    pub raw: Vec<f32>,
}

/// One reference case: metadata and the selected anchors' ORT outputs.
pub struct Reference {
    pub meta: RefMeta,
    /// The one-to-many branch (every model's).
    pub one2many: Outputs,
    /// The one-to-one branch of an end-to-end model.
    pub one2one: Option<Outputs>,
}

impl RefMeta {
    /// Box, classes and angle (all references are OBB).
    pub fn decoded_rows(&self) -> usize {
        4 + self.num_classes + 1
    }

    /// Box bins, class logits and the angle logit.
    pub fn raw_rows(&self) -> usize {
        4 * self.reg_max + self.num_classes + 1
    }
}

impl Reference {
    pub fn parse(json: &str, f32_bytes: &[u8]) -> Reference {
        let meta: RefMeta = serde_json::from_str(json).expect("reference json");
        let k = meta.anchors.len();
        let values: Vec<f32> =
            f32_bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let (d, r) = (meta.decoded_rows() * k, meta.raw_rows() * k);
        let branches = if meta.end2end { 2 } else { 1 };
        assert_eq!(values.len(), branches * (d + r), "reference .f32 size");
        let outputs =
            |at: usize| Outputs { decoded: values[at..at + d].to_vec(), raw: values[at + d..at + d + r].to_vec() };
        let one2many = outputs(0);
        let one2one = meta.end2end.then(|| outputs(d + r));
        Reference { meta, one2many, one2one }
    }

    /// The model input cut out of the 1920x1080 source image (downsampled first if the
    /// reference was), checked against the reference's hash of the exact pixels.
    pub fn crop(&self, src_rgb: &[u8], src_w: u32) -> Vec<u8> {
        let (src_rgb, src_w) = match &self.meta.downsample {
            Some(d) => downsample(src_rgb, src_w, d.factor),
            None => (src_rgb.to_vec(), src_w),
        };
        let [x0, y0, w, h] = self.meta.crop.map(|v| v as usize);
        let mut out = Vec::with_capacity(w * h * 3);
        for y in y0..y0 + h {
            let row = (y * src_w as usize + x0) * 3;
            out.extend_from_slice(&src_rgb[row..row + w * 3]);
        }
        assert_eq!(
            sha256_hex(&out),
            self.meta.rgb_sha256,
            "the crop differs from the pixels the reference was made from; regenerate www/tiles with tests/data/prepare.sh"
        );
        out
    }
}

/// The mean of each `factor` x `factor` block of an RGB image, rounded half up, as the
/// reference generator computes it: `(sum + factor² / 2) / factor²` in integers.
fn downsample(rgb: &[u8], width: u32, factor: u32) -> (Vec<u8>, u32) {
    let (w, f) = (width as usize, factor as usize);
    let h = rgb.len() / 3 / w;
    let (ow, oh) = (w / f, h / f);
    let mut out = Vec::with_capacity(ow * oh * 3);
    for y in 0..oh {
        for x in 0..ow {
            for c in 0..3 {
                let sum: usize = (0..f)
                    .flat_map(|dy| (0..f).map(move |dx| (dy, dx)))
                    .map(|(dy, dx)| rgb[((y * f + dy) * w + x * f + dx) * 3 + c] as usize)
                    .sum();
                out.push(((sum + f * f / 2) / (f * f)) as u8);
            }
        }
    }
    (out, ow as u32)
}

/// Largest deviations found, for the test log.
#[derive(Debug, Default)]
pub struct Deviation {
    pub raw: f32,
    pub probs_and_angle: f32,
    pub box_relative: f32,
}

/// Compare our full `[rows, n]` outputs with the reference's `want` at its selected anchors.
pub fn compare_outputs(r: &Reference, want: &Outputs, raw: &[f32], decoded: &[f32]) -> Result<Deviation, String> {
    let n = r.meta.num_anchors;
    let (raw_rows, decoded_rows) = (r.meta.raw_rows(), r.meta.decoded_rows());
    if raw.len() != raw_rows * n || decoded.len() != decoded_rows * n {
        return Err(format!("output sizes {} / {} for {n} anchors", raw.len(), decoded.len()));
    }
    let k = r.meta.anchors.len();
    let mut dev = Deviation::default();
    let mut failures = Vec::new();
    for (j, &a) in r.meta.anchors.iter().enumerate() {
        for row in 0..raw_rows {
            let (ours, want) = (raw[row * n + a], want.raw[row * k + j]);
            let d = (ours - want).abs();
            dev.raw = dev.raw.max(d);
            if d.is_nan() || d > 1e-3 {
                failures.push(format!("raw row {row} anchor {a}: {ours} vs {want}"));
            }
        }
        for row in 0..decoded_rows {
            let (ours, want) = (decoded[row * n + a], want.decoded[row * k + j]);
            let d = (ours - want).abs();
            let ok = if row < 4 {
                let rel = d / want.abs().max(1.0);
                dev.box_relative = dev.box_relative.max(rel);
                rel <= 1e-3
            } else {
                dev.probs_and_angle = dev.probs_and_angle.max(d);
                d <= 1e-3
            };
            if !ok {
                failures.push(format!("decoded row {row} anchor {a}: {ours} vs {want}"));
            }
        }
    }
    if failures.is_empty() {
        Ok(dev)
    } else {
        Err(format!(
            "{} values out of tolerance, e.g. {:?} ({dev:?})",
            failures.len(),
            &failures[..failures.len().min(5)]
        ))
    }
}

/// Compare final detections (both sorted best first) with the reference's `want`.
pub fn compare_detections(want: &[RefDetection], ours: &[Candidate]) -> Result<(), String> {
    if ours.len() != want.len() {
        return Err(format!("{} detections, the reference has {}", ours.len(), want.len()));
    }
    for (i, (o, w)) in ours.iter().zip(want).enumerate() {
        let wb = RotatedBox { cx: w.cx, cy: w.cy, w: w.w, h: w.h, angle: w.angle };
        if o.class_id != w.class_id {
            return Err(format!("#{i}: class {} vs {}", o.class_id, w.class_id));
        }
        if (o.score as f64 - w.score).abs() > 1e-3 {
            return Err(format!("#{i}: score {} vs {}", o.score, w.score));
        }
        // Compare corners as sets: a box and its regularized twin have the same corners.
        for c in wb.corners() {
            let nearest =
                o.bbox.corners().iter().map(|p| (p[0] - c[0]).hypot(p[1] - c[1])).fold(f64::INFINITY, f64::min);
            if nearest > 0.5 {
                return Err(format!("#{i}: corner {c:?} is {nearest:.3} px from ours ({:?} vs {wb:?})", o.bbox));
            }
        }
    }
    Ok(())
}

/// The parity steps both hosts run: cut the reference's input out of the source image, run
/// `engine` on it, compare raw and decoded outputs of the branch the engine runs, then the
/// final detections (with the reference's thresholds and the engine's own selection: NMS, or
/// top-k for an end-to-end head's one-to-one branch). Returns a summary for the test log.
pub async fn check_parity(r: &Reference, engine: &Engine, src_rgb: &[u8], src_w: u32) -> Result<String, String> {
    let entry = engine.entry();
    if entry.id != r.meta.model {
        return Err(format!("the reference is {}'s, the engine runs {}", r.meta.model, entry.id));
    }
    let (want, want_boxes) = match entry.postprocess {
        Postprocess::Nms => (&r.one2many, &r.meta.detections),
        Postprocess::Topk => {
            (r.one2one.as_ref().ok_or("the reference has no one-to-one branch")?, &r.meta.one2one_detections)
        }
    };
    let crop = r.crop(src_rgb, src_w);
    let [_, _, cw, ch] = r.meta.crop;
    let window = Window { x: 0, y: 0, width: cw, height: ch };
    let input = to_chw(&crop, cw, &window).map_err(|e| e.to_string())?;
    let (raw, decoded) = engine.infer_with_raw(input, window.input_hw()).await.map_err(|e| e.to_string())?;
    let dev = compare_outputs(r, want, &raw, &decoded)?;
    let params =
        nms::NmsParams { confidence: r.meta.conf, iou: r.meta.iou, max_detections: r.meta.max_det, class_mask: None };
    let kept = engine.select(&decoded, r.meta.num_anchors, &params);
    compare_detections(want_boxes, &kept)?;
    Ok(format!(
        "max deviation from onnxruntime {dev:?} on {:?}; {} detections ({:?}) identical to the reference",
        engine.backend(),
        kept.len(),
        entry.postprocess
    ))
}
