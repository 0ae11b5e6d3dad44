//! `pkg/types.d.ts`: the TypeScript declarations of every type that crosses the wasm
//! boundary, generated from the serde structs with `tsify` (their doc comments become
//! JSDoc). The test fails when the committed file differs from what the structs generate;
//! `GEODETECT_BLESS=1 cargo test --lib api::typescript` rewrites it.

use std::path::PathBuf;

use tsify::Tsify;

use crate::api::{AdapterInfo, BackendChoice, ClassRef, Clip, DetectOptions, DetectResult, EngineInfo, EngineOptions};
use crate::api::{ChunkFailure, ChunkOutput, FailedChunk, FinishedRun, ImageInfo, MergeUpdate, Progress, RunPlan};
use crate::api::{Timings, WorkerHealth};
use crate::detect::Backend;
use crate::error::ErrorCode;
use crate::geojson::DetectionProperties;
use crate::host::Stage;
use crate::model::manifest::{Architecture, ModelEntry, ModelSource, WeightsFile};
use crate::model::{ConvAct, Family, Postprocess, Scale, Task};
use crate::tiles::TileId;
use crate::tiles::TileSource;
use crate::tiles::fetch::{FetchPolicy, TileFailure, TileStats};
use crate::tiles::source::{Preset, WmsOptions, WmsVersion};

const HEADER: &str = "\
// Generated from the Rust serde structs (src/api, src/tiles, src/model, ...) by
// `cargo test --lib api::typescript`: do not edit. Regenerate with
// `GEODETECT_BLESS=1 cargo test --lib api::typescript`. Public names are re-exported (some
// under friendlier aliases) by index.d.ts.
";

/// The whole file, in a fixed order: options, progress, results, errors.
fn generate() -> String {
    let declarations = [
        // Options.
        EngineOptions::DECL,
        TileSource::DECL,
        Preset::DECL,
        WmsOptions::DECL,
        WmsVersion::DECL,
        FetchPolicy::DECL,
        BackendChoice::DECL,
        DetectOptions::DECL,
        ClassRef::DECL,
        Clip::DECL,
        // Progress.
        Progress::DECL,
        Stage::DECL,
        // Results.
        EngineInfo::DECL,
        Backend::DECL,
        AdapterInfo::DECL,
        ModelEntry::DECL,
        Task::DECL,
        Postprocess::DECL,
        Architecture::DECL,
        Family::DECL,
        Scale::DECL,
        ConvAct::DECL,
        WeightsFile::DECL,
        ModelSource::DECL,
        DetectResult::DECL,
        DetectionProperties::DECL,
        ImageInfo::DECL,
        Timings::DECL,
        TileFailure::DECL,
        TileStats::DECL,
        TileId::DECL,
        FailedChunk::DECL,
        WorkerHealth::DECL,
        // The pool's messages.
        RunPlan::DECL,
        ChunkOutput::DECL,
        ChunkFailure::DECL,
        MergeUpdate::DECL,
        FinishedRun::DECL,
        // Errors.
        ErrorCode::DECL,
    ];
    let mut out = String::from(HEADER);
    for declaration in declarations {
        out.push('\n');
        out.push_str(declaration);
        out.push('\n');
    }
    out
}

#[test]
fn types_d_ts_is_generated_from_the_structs() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pkg/types.d.ts");
    let generated = generate();
    if std::env::var_os("GEODETECT_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: a serde struct that crosses the wasm boundary changed. Regenerate it with \
         `GEODETECT_BLESS=1 cargo test --lib api::typescript` and review the diff (index.d.ts, \
         pkg/README.md and the JS client may need the same change).",
        path.display()
    );
}

#[test]
fn every_error_variant_has_its_code_in_the_typescript_union() {
    let union = ErrorCode::DECL;
    for (error, code, _) in crate::error::tests::every_variant() {
        assert!(union.contains(&format!("\"{code}\"")), "{error:?}: {code} is missing from {union}");
    }
    // And nothing else: one code per variant, no stale extra member.
    assert_eq!(union.matches('"').count() / 2, crate::error::tests::every_variant().len(), "{union}");
}
