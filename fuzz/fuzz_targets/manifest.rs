//! Any bytes as `manifest.json`: `Manifest::from_json` (version, every entry's id, input
//! size, weights file and sha256, architecture). Every entry of a manifest that parses must
//! describe a network that can be built, and hold weights only under a relative file name.
#![no_main]

use geodetect::model::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(manifest) = Manifest::from_json(text) else { return };
    for entry in &manifest.models {
        assert!(entry.config().validate().is_ok(), "{entry:?}");
        assert!(!entry.weights.file.contains("..") && !entry.weights.file.starts_with('/'), "{entry:?}");
        assert!(entry.input_size % 32 == 0 && entry.input_size > 0, "{entry:?}");
        assert!(manifest.get(&entry.id).is_ok());
        // Bytes that are not the file fail their check, with its name.
        let err = entry.verify(b"not the weights".to_vec());
        assert!(err.is_err() || entry.weights.size == 15, "{entry:?}");
    }
});
