//! Any bytes as a weights file (what a caller's own weights, checked only against the hash the
//! caller gives, can be): `Weights::from_safetensors`, then the architecture read off the
//! tensor names and shapes (`YoloConfig::infer`). Weights that parse hold finite values only,
//! each tensor as many as its shape says, and survive a write and re-read unchanged.
#![no_main]

use std::collections::BTreeMap;

use geodetect::model::{Weights, YoloConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(weights) = Weights::from_safetensors(data) else { return };
    for name in weights.names() {
        let Some(t) = weights.get(name) else { panic!("`{name}` listed but not found") };
        assert_eq!(t.data.len(), t.shape.iter().product::<usize>(), "`{name}`");
        assert!(t.data.iter().all(|v| v.is_finite()), "`{name}`");
    }
    if let Ok(config) = YoloConfig::infer(&weights) {
        assert!(config.validate().is_ok(), "{config:?}");
    }
    let Ok(bytes) = weights.to_safetensors(false, BTreeMap::new()) else { return };
    let Ok(again) = Weights::from_safetensors(&bytes) else { panic!("written weights do not parse") };
    assert_eq!(again.len(), weights.len());
    for name in weights.names() {
        assert_eq!(again.get(name).map(|t| (&t.shape, &t.data)), weights.get(name).map(|t| (&t.shape, &t.data)));
    }
});
