//! What the fuzz targets share: a file in memory read by ranges, the shipped model's manifest
//! entry, and a bound on the work one input may ask for.
//!
//! The targets call geodetect's own entry points, the ones the worker calls with what a page
//! or a server hands it. Besides "no panic", each checks what its result promises (a plan's
//! tiles lie in its grid, a decoded tile has its size, a redacted URL holds no secret).

use geodetect::model::{Manifest, ModelEntry};
use geodetect::tiles::fetch::{FetchAttemptError, RangeBytes, RangeRead};

/// The shipped manifest (`models/manifest.json`): real class names, input size, weights entry.
pub const MANIFEST: &str = include_str!("../../models/manifest.json");

/// `maxTiles` at most this in the targets: geodetect allows 1,000,000 (planning that many
/// tiles takes seconds by design), which would only make the fuzzer report slow inputs.
pub const MAX_TILES: u64 = 20_000;

/// The shipped model's manifest entry.
pub fn entry() -> ModelEntry {
    match Manifest::from_json(MANIFEST).and_then(|m| m.get("yolov8n-obb-dota").cloned()) {
        Ok(entry) => entry,
        Err(e) => panic!("models/manifest.json does not parse: {e}"),
    }
}

/// A file in memory, read by ranges (what an HTTP server with `Range` support gives).
#[derive(Debug)]
pub struct Memory(pub Vec<u8>);

impl RangeRead for Memory {
    async fn read(&self, offset: u64, length: usize) -> Result<RangeBytes, FetchAttemptError> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.0.len());
        let end = start.saturating_add(length).min(self.0.len());
        Ok(RangeBytes { bytes: self.0[start..end].to_vec(), version: None })
    }
}

/// Whether `text` shows `secret`, for a secret that no message could hold by chance: at least
/// six characters, one of them not ASCII prose (a message's own words, such as "preset", can
/// contain a short token; the caller's values in a message are redacted like any other text).
pub fn shows_secret(text: &str, secret: &str) -> bool {
    const PROSE: &str = " .,:;'\"`()[]{}=_/-<>!?*+|\\#%&@$^~…→";
    let unusual = secret.chars().any(|c| !c.is_ascii_alphanumeric() && !PROSE.contains(c));
    secret.chars().count() >= 6 && unusual && text.contains(secret)
}
