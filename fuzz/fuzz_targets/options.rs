//! Any JSON as the options of `Detector.create` and of `detect()`, parsed and checked as the
//! worker does (`parse` + `validate`), then, for a valid pair, planned over a small fixed area
//! with the shipped model (`AreaRun::new`: the zoom against the source, `maxTiles`, classes,
//! thresholds). Any tile URL the source makes must hold none of its secrets once redacted.
#![no_main]

use geodetect::api::{DetectOptions, EngineOptions, parse};
use geodetect::geojson::Aoi;
use geodetect::pipeline::AreaRun;
use geodetect::pipeline::CHUNK_WINDOWS;
use geodetect::tiles::TileId;
use geodetect_fuzz::{MAX_TILES, entry, shows_secret};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(mut both)) = serde_json::from_slice::<Value>(data) else { return };
    let engine = both.remove("engine").and_then(|v| parse::<EngineOptions>(v, "options").ok());
    let engine = engine.filter(|e| e.validate().is_ok());
    let detect = both.remove("detect").and_then(|v| parse::<DetectOptions>(v, "options").ok());
    let detect = detect.filter(|d| d.validate().is_ok() && d.max_tiles <= MAX_TILES);
    let entry = entry();
    if let Some(detect) = &detect {
        let _ = detect.nms_params(&entry.classes);
    }
    let Some(engine) = engine else { return };
    let secrets = engine.source.secrets();
    for tile in [TileId { z: 0, x: 0, y: 0 }, TileId { z: 19, x: 274_000, y: 182_000 }] {
        let url = engine.source.tile_url(&tile);
        let shown = engine.source.redact(&url);
        for secret in &secrets {
            assert!(!shows_secret(&shown, secret), "secret {secret:?} left in {shown:?}");
        }
    }
    let (Some(detect), None) = (detect, engine.source.cog_url()) else { return };
    let area = json!({ "type": "Polygon", "coordinates": [[
        [8.1725, 46.0058], [8.1745, 46.0058], [8.1745, 46.0072], [8.1725, 46.0072], [8.1725, 46.0058]
    ]] });
    let Ok(aoi) = Aoi::from_json(&area) else { panic!("the fixed area does not parse") };
    if let Ok(run) = AreaRun::new(&entry, &engine.source, &aoi, &detect, CHUNK_WINDOWS, None) {
        assert!(run.plan().tiles <= detect.max_tiles);
    }
});
