//! URL templating: any template, subdomains, token, tile → a source (`TileSource` +
//! `validate`), its tile URL (`tile_url`: `{z}/{x}/{y}`, `{-y}`, `{s}`, `{r}`, `{q}`) and the
//! URL as messages show it (`redact`). A quadkey has one digit per zoom level, each 0–3, and
//! a redacted URL holds none of the source's secrets.
#![no_main]

use geodetect::api::parse;
use geodetect::tiles::{TileId, TileSource, quadkey};
use geodetect_fuzz::shows_secret;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

#[derive(Debug, Arbitrary)]
struct Input {
    template: String,
    subdomains: Vec<String>,
    access_token: Option<String>,
    preset: Option<u8>,
    retina: bool,
    z: u8,
    x: u32,
    y: u32,
}

const PRESETS: [&str; 3] = ["esri-world-imagery", "mapbox-satellite", "titiler"];

fuzz_target!(|input: Input| {
    let tile = TileId { z: input.z, x: input.x, y: input.y };
    let key = quadkey(&tile);
    assert_eq!(key.len(), usize::from(tile.z), "{tile:?} → {key}");
    assert!(key.bytes().all(|b| (b'0'..=b'3').contains(&b)), "{tile:?} → {key}");

    let mut source = json!({ "url": input.template, "subdomains": input.subdomains, "retina": input.retina });
    if let Some(token) = &input.access_token {
        source["accessToken"] = json!(token);
    }
    if let Some(p) = input.preset {
        source["preset"] = json!(PRESETS[usize::from(p) % PRESETS.len()]);
    }
    let Ok(source) = parse::<TileSource>(source, "source") else { return };
    let checked = source.validate();
    let secrets = source.secrets();
    let redacted_ok = |text: &str| {
        for secret in &secrets {
            assert!(!shows_secret(text, secret), "secret {secret:?} left in {text:?}");
        }
    };
    match checked {
        // Error messages never show a secret.
        Err(e) => redacted_ok(&e.to_string()),
        Ok(()) => redacted_ok(&source.redact(&source.tile_url(&tile))),
    }
});
