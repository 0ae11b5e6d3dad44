//! Weights as named host tensors, read from safetensors bytes.
//!
//! The format is documented in `models/README.md`: a safetensors file whose tensor names are
//! the ultralytics `state_dict()` names (`model.0.conv.weight`, `model.0.bn.running_var`,
//! `model.22.cv2.0.2.bias`, ...), in F32, F16 or BF16. That is exactly what
//! `safetensors.torch.save_file(model.state_dict(), path)` writes for an ultralytics model,
//! so users can bring their own YOLOv8 weights; our converter writes the same from a `.pt`.

use std::collections::BTreeMap;

use safetensors::{Dtype, SafeTensors};

use crate::{Error, Result};

/// One tensor on the host, always f32.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// A tensor from a shape and matching data.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let numel: usize = shape.iter().product();
        if numel != data.len() {
            return Err(Error::Internal(format!("tensor shape {shape:?} holds {numel} values, got {}", data.len())));
        }
        Ok(Self { shape, data })
    }
}

/// A little-endian floating-point element type that weights are stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatFormat {
    /// IEEE 754 binary64.
    F64,
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary16.
    F16,
    /// bfloat16.
    BF16,
}

impl FloatFormat {
    /// Little-endian `bytes` of this format as f32 (a trailing partial value is ignored).
    pub fn decode(self, bytes: &[u8]) -> Vec<f32> {
        match self {
            FloatFormat::F64 => bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
                .collect(),
            FloatFormat::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            FloatFormat::F16 => bytes.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
            FloatFormat::BF16 => {
                bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
            }
        }
    }
}

/// The binary16 value with bits `h`, exactly (every one of the 65,536 is tested against
/// `half`). `half::f16::to_f32` converts in hardware where the CPU has an instruction for it
/// and otherwise branches on the kind of value, which keeps the loop over a model's 3 million
/// weights from vectorising: in wasm, where no such instruction exists, that loop took about
/// 25 ms of a cold start. Here every value takes the same path: the exponent and mantissa
/// bits moved into binary32's places read as a binary32 2^112 times too small (subnormals
/// included, as binary32 subnormals), so one multiplication rescales them; an exponent of
/// all ones (infinity, NaN) maps to binary32's.
fn f16_to_f32(h: u16) -> f32 {
    const RESCALE: f32 = f32::from_bits((127 + 112) << 23); // 2^112
    let h = u32::from(h);
    let magnitude = h & 0x7fff;
    let unsigned = if magnitude >= 0x7c00 {
        f32::from_bits(0x7f80_0000 | ((magnitude & 0x03ff) << 13))
    } else {
        f32::from_bits(magnitude << 13) * RESCALE
    };
    f32::from_bits(unsigned.to_bits() | ((h & 0x8000) << 16))
}

/// Named weights, consumed one by one while a network is built so that leftovers (a sign of
/// a different architecture) can be reported.
#[derive(Debug, Default, Clone)]
pub struct Weights {
    tensors: BTreeMap<String, HostTensor>,
}

/// The safetensors `__metadata__` key holding our provenance (a JSON object as a string).
pub const METADATA_KEY: &str = "geodetect";

/// Tensors that ultralytics keeps in its state dict but inference never reads.
fn is_training_only(name: &str) -> bool {
    name.ends_with(".num_batches_tracked")
}

impl Weights {
    /// Parse a safetensors file. Floating-point tensors (F32/F16/BF16/F64) are converted to
    /// f32; integer bookkeeping tensors such as BatchNorm's `num_batches_tracked` are dropped.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::ModelLoad(format!("not a valid safetensors file: {e}")))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if is_training_only(&name) {
                continue;
            }
            let format = match view.dtype() {
                Dtype::F32 => FloatFormat::F32,
                Dtype::F16 => FloatFormat::F16,
                Dtype::BF16 => FloatFormat::BF16,
                Dtype::F64 => FloatFormat::F64,
                other => {
                    return Err(Error::ModelLoad(format!(
                        "tensor `{name}` has dtype {other:?}; weights must be F32, F16 or BF16"
                    )));
                }
            };
            let data = format.decode(view.data());
            // A fold over every value vectorises; the index is looked for only on failure.
            if data.iter().fold(false, |bad, v| bad | !v.is_finite())
                && let Some(bad) = data.iter().position(|v| !v.is_finite())
            {
                return Err(Error::ModelLoad(format!("tensor `{name}` holds a non-finite value at index {bad}")));
            }
            tensors.insert(name, HostTensor::new(view.shape().to_vec(), data)?);
        }
        Ok(Self { tensors })
    }

    /// Add or replace a tensor (used by the converter and by tests).
    pub fn insert(&mut self, name: impl Into<String>, tensor: HostTensor) {
        self.tensors.insert(name.into(), tensor);
    }

    /// Look a tensor up without consuming it.
    pub fn get(&self, name: &str) -> Option<&HostTensor> {
        self.tensors.get(name)
    }

    /// Remove a tensor, checking its shape.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        let tensor = self.tensors.remove(name).ok_or_else(|| {
            Error::ModelLoad(format!(
                "tensor `{name}` is missing; the weights do not match the configured architecture"
            ))
        })?;
        if tensor.shape != shape {
            return Err(Error::ModelLoad(format!(
                "tensor `{name}` has shape {:?}, the configured architecture expects {shape:?}",
                tensor.shape
            )));
        }
        Ok(tensor)
    }

    /// Names still present, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Number of tensors still present.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// True when every tensor was consumed.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Serialise as safetensors with every tensor stored as F16 (when `half` is true and the
    /// values survive the round trip exactly) or F32. Keys are written in sorted order, so the
    /// same weights always give the same bytes (and the same SHA-256).
    pub fn to_safetensors(&self, half: bool, metadata: BTreeMap<String, String>) -> Result<Vec<u8>> {
        let mut buffers = Vec::with_capacity(self.tensors.len());
        for (name, t) in &self.tensors {
            let as_f16: Option<Vec<u8>> = half
                .then(|| {
                    let mut out = Vec::with_capacity(t.data.len() * 2);
                    for &v in &t.data {
                        let h = half::f16::from_f32(v);
                        if h.to_f32() != v {
                            return None;
                        }
                        out.extend_from_slice(&h.to_le_bytes());
                    }
                    Some(out)
                })
                .flatten();
            let (dtype, bytes) = match as_f16 {
                Some(bytes) => (Dtype::F16, bytes),
                None => (Dtype::F32, t.data.iter().flat_map(|v| v.to_le_bytes()).collect()),
            };
            buffers.push((name.clone(), dtype, t.shape.clone(), bytes));
        }
        let views = buffers
            .iter()
            .map(|(name, dtype, shape, bytes)| {
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                    .map(|view| (name.clone(), view))
                    .map_err(|e| Error::Internal(format!("safetensors view for `{name}`: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        // safetensors keeps metadata in a HashMap, whose order varies run to run: store ours
        // as one JSON-encoded entry so the bytes stay reproducible.
        let metadata = (!metadata.is_empty())
            .then(|| serde_json::to_string(&metadata).map(|json| [(METADATA_KEY.to_string(), json)].into()))
            .transpose()
            .map_err(|e| Error::Internal(format!("metadata: {e}")))?;
        safetensors::tensor::serialize(views, metadata)
            .map_err(|e| Error::Internal(format!("safetensors serialisation failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Weights {
        let mut w = Weights::default();
        w.insert("a.weight", HostTensor::new(vec![2, 2], vec![1.0, -2.5, 0.125, 3.0]).unwrap());
        w.insert("b.bias", HostTensor::new(vec![1], vec![0.1]).unwrap());
        w
    }

    #[test]
    fn safetensors_round_trip_keeps_f16_exact_values_and_falls_back_to_f32() {
        let w = sample();
        let bytes = w.to_safetensors(true, BTreeMap::new()).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("a.weight").unwrap().dtype(), Dtype::F16);
        // 0.1 is not representable in f16, so it must be stored as F32.
        assert_eq!(st.tensor("b.bias").unwrap().dtype(), Dtype::F32);
        let mut back = Weights::from_safetensors(&bytes).unwrap();
        assert_eq!(back.take("a.weight", &[2, 2]).unwrap().data, vec![1.0, -2.5, 0.125, 3.0]);
        assert_eq!(back.take("b.bias", &[1]).unwrap().data, vec![0.1]);
        assert!(back.is_empty());
    }

    #[test]
    fn f16_conversion_is_exact_for_every_bit_pattern() {
        for h in 0..=u16::MAX {
            let (ours, theirs) = (f16_to_f32(h), half::f16::from_bits(h).to_f32());
            if theirs.is_nan() {
                assert!(ours.is_nan(), "{h:#06x}");
                assert_eq!(ours.to_bits() & 0x8000_0000, theirs.to_bits() & 0x8000_0000, "{h:#06x}: sign");
            } else {
                assert_eq!(ours.to_bits(), theirs.to_bits(), "{h:#06x}: {ours} against {theirs}");
            }
        }
        let bytes: Vec<u8> = [0x3c00u16, 0x0001, 0x8400, 0x7bff].iter().flat_map(|h| h.to_le_bytes()).collect();
        assert_eq!(FloatFormat::F16.decode(&bytes), vec![1.0, 5.960_464_5e-8, -6.103_515_6e-5, 65504.0]);
    }

    #[test]
    fn non_finite_weights_are_refused_with_their_index_in_every_format() {
        // (to_safetensors keeps a NaN in F32: it compares each value with its f16 round trip.)
        let f16_nan: Vec<u8> =
            [0x3c00u16, 0x4000, 0x3800, 0x7e00, 0x4400].iter().flat_map(|h| h.to_le_bytes()).collect();
        let f16_nan = safetensors::serialize(
            [("a.weight", safetensors::tensor::TensorView::new(Dtype::F16, vec![5], &f16_nan).unwrap())],
            None,
        )
        .unwrap();
        let written = [(Dtype::F16, f32::INFINITY), (Dtype::F32, f32::NEG_INFINITY), (Dtype::F32, f32::NAN)].map(
            |(dtype, bad)| {
                let mut w = Weights::default();
                w.insert("a.weight", HostTensor::new(vec![5], vec![1.0, 2.0, 0.5, bad, 4.0]).unwrap());
                (dtype, w.to_safetensors(dtype == Dtype::F16, BTreeMap::new()).unwrap())
            },
        );
        for (dtype, bytes) in written.into_iter().chain([(Dtype::F16, f16_nan)]) {
            assert_eq!(SafeTensors::deserialize(&bytes).unwrap().tensor("a.weight").unwrap().dtype(), dtype);
            let e = Weights::from_safetensors(&bytes).unwrap_err();
            assert_eq!(e.code().as_str(), "MODEL_LOAD_FAILED", "{e}");
            assert!(e.to_string().contains("`a.weight` holds a non-finite value at index 3"), "{e}");
        }
    }

    #[test]
    fn serialisation_is_deterministic_with_metadata() {
        let meta: BTreeMap<String, String> = (0..16).map(|i| (format!("key{i}"), format!("value{i}"))).collect();
        let a = sample().to_safetensors(true, meta.clone()).unwrap();
        for _ in 0..8 {
            assert_eq!(a, sample().to_safetensors(true, meta.clone()).unwrap());
        }
        let (_, header) = SafeTensors::read_metadata(&a).unwrap();
        let json = &header.metadata().as_ref().unwrap()[METADATA_KEY];
        assert_eq!(serde_json::from_str::<BTreeMap<String, String>>(json).unwrap(), meta);
    }

    #[test]
    fn take_reports_missing_and_misshapen_tensors() {
        let mut w = sample();
        let err = w.take("a.weight", &[4]).unwrap_err();
        assert_eq!(err.code(), "MODEL_LOAD_FAILED");
        assert!(err.to_string().contains("[2, 2]"), "{err}");
        let err = w.take("nope", &[1]).unwrap_err();
        assert!(err.to_string().contains("`nope` is missing"), "{err}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], b"12345678", &[0xff; 64], &[8, 0, 0, 0, 0, 0, 0, 0, b'{', b'}']] {
            let err = Weights::from_safetensors(bytes).unwrap_err();
            assert_eq!(err.code(), "MODEL_LOAD_FAILED");
        }
    }

    #[test]
    fn integer_tensors_other_than_bookkeeping_are_rejected() {
        let data = [1u8, 0, 0, 0, 0, 0, 0, 0];
        let view = safetensors::tensor::TensorView::new(Dtype::I64, vec![1], &data).unwrap();
        let ok = safetensors::tensor::serialize([("m.bn.num_batches_tracked", view.clone())], None).unwrap();
        assert!(Weights::from_safetensors(&ok).unwrap().is_empty());
        let bad = safetensors::tensor::serialize([("m.conv.weight", view)], None).unwrap();
        assert!(Weights::from_safetensors(&bad).unwrap_err().to_string().contains("I64"));
    }
}
