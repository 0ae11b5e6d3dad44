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
#![allow(dead_code)]

use geodetect::detect::preprocess::{Window, to_chw};
use geodetect::detect::{Candidate, Compute, Engine, RotatedBox, nms};
use geodetect::model::{Manifest, sha256_hex};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The weights every reference was made with.
pub const MODEL_ID: &str = "yolov8n-obb-dota";

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
    let models = root().join("www/models");
    let manifest = Manifest::from_json(&String::from_utf8(need(&models.join("manifest.json"))).unwrap()).unwrap();
    let entry = manifest.get(MODEL_ID).unwrap().clone();
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

#[derive(Debug, Deserialize)]
pub struct RefMeta {
    pub crop: [u32; 4],
    pub rgb_sha256: String,
    pub num_anchors: usize,
    pub conf: f32,
    pub iou: f32,
    pub max_det: usize,
    pub anchors: Vec<usize>,
    pub detections: Vec<RefDetection>,
}

/// One reference case: metadata and the selected anchors' ORT outputs.
pub struct Reference {
    pub meta: RefMeta,
    /// `[20, k]`: decoded rows of the selected anchors.
    pub decoded: Vec<f32>,
    /// `[80, k]`: raw rows of the selected anchors.
    pub raw: Vec<f32>,
}

pub const DECODED_ROWS: usize = 20;
pub const RAW_ROWS: usize = 80;

impl Reference {
    pub fn parse(json: &str, f32_bytes: &[u8]) -> Reference {
        let meta: RefMeta = serde_json::from_str(json).expect("reference json");
        let k = meta.anchors.len();
        let values: Vec<f32> =
            f32_bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        assert_eq!(values.len(), (DECODED_ROWS + RAW_ROWS) * k, "reference .f32 size");
        let (decoded, raw) = values.split_at(DECODED_ROWS * k);
        Reference { meta, decoded: decoded.to_vec(), raw: raw.to_vec() }
    }

    /// The crop of the 1920x1080 source image that is the model input, checked against the
    /// reference's hash of the exact pixels.
    pub fn crop(&self, src_rgb: &[u8], src_w: u32) -> Vec<u8> {
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

/// Largest deviations found, for the test log.
#[derive(Debug, Default)]
pub struct Deviation {
    pub raw: f32,
    pub probs_and_angle: f32,
    pub box_relative: f32,
}

/// Compare our full `[rows, n]` outputs with the reference's selected anchors.
pub fn compare_outputs(r: &Reference, raw: &[f32], decoded: &[f32]) -> Result<Deviation, String> {
    let n = r.meta.num_anchors;
    if raw.len() != RAW_ROWS * n || decoded.len() != DECODED_ROWS * n {
        return Err(format!("output sizes {} / {} for {n} anchors", raw.len(), decoded.len()));
    }
    let k = r.meta.anchors.len();
    let mut dev = Deviation::default();
    let mut failures = Vec::new();
    for (j, &a) in r.meta.anchors.iter().enumerate() {
        for row in 0..RAW_ROWS {
            let (ours, want) = (raw[row * n + a], r.raw[row * k + j]);
            let d = (ours - want).abs();
            dev.raw = dev.raw.max(d);
            if d.is_nan() || d > 1e-3 {
                failures.push(format!("raw row {row} anchor {a}: {ours} vs {want}"));
            }
        }
        for row in 0..DECODED_ROWS {
            let (ours, want) = (decoded[row * n + a], r.decoded[row * k + j]);
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

/// Compare final detections (both sorted best first) with the reference's.
pub fn compare_detections(r: &Reference, ours: &[Candidate]) -> Result<(), String> {
    let want = &r.meta.detections;
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
/// `engine` on it, compare raw and decoded outputs, then the final detections (with the
/// reference's thresholds and the model's own class count and task). Returns a summary for
/// the test log.
pub async fn check_parity(r: &Reference, engine: &Engine, src_rgb: &[u8], src_w: u32) -> Result<String, String> {
    let crop = r.crop(src_rgb, src_w);
    let [_, _, cw, ch] = r.meta.crop;
    let window = Window { x: 0, y: 0, width: cw, height: ch };
    let input = to_chw(&crop, cw, &window).map_err(|e| e.to_string())?;
    let (raw, decoded) = engine.infer_with_raw(input, window.input_hw()).await.map_err(|e| e.to_string())?;
    let dev = compare_outputs(r, &raw, &decoded)?;
    let entry = engine.entry();
    let params =
        nms::NmsParams { confidence: r.meta.conf, iou: r.meta.iou, max_detections: r.meta.max_det, class_mask: None };
    let kept = nms::postprocess(&decoded, r.meta.num_anchors, entry.classes.len(), entry.task, &params);
    compare_detections(r, &kept)?;
    Ok(format!(
        "max deviation from onnxruntime {dev:?} on {:?}; {} detections identical to the reference",
        engine.backend(),
        kept.len()
    ))
}
