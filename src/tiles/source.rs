//! Where tiles come from: an XYZ URL template and its zoom range.

use super::{MAX_ZOOM, TileId, tiles_per_side, validate_tile_size};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Placeholders a URL template may contain.
const PLACEHOLDERS: [&str; 5] = ["z", "x", "y", "-y", "s"];

/// An XYZ tile server, e.g. `https://{s}.tile.example.com/{z}/{x}/{y}.png`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TileSource {
    /// URL template with `{z}`, `{x}` and `{y}` (or `{-y}` for TMS servers, whose rows
    /// count from the south), and optionally `{s}` for a subdomain. The server must allow
    /// CORS if it is on another origin.
    pub url: String,
    /// Edge length of the server's tiles in pixels: a power of two in `128..=4096`.
    /// Default 256.
    #[serde(default = "default_tile_size")]
    pub tile_size: u32,
    /// Shallowest zoom the server provides. Default 0.
    #[serde(default)]
    pub min_zoom: u8,
    /// Deepest zoom the server provides, at most 22. Default 22.
    #[serde(default = "default_max_zoom")]
    pub max_zoom: u8,
    /// Values for `{s}`, e.g. `["a", "b", "c"]`, chosen per tile.
    #[serde(default)]
    pub subdomains: Vec<String>,
}

fn default_tile_size() -> u32 {
    256
}

fn default_max_zoom() -> u8 {
    MAX_ZOOM
}

impl TileSource {
    /// Checks the URL template, tile size and zoom range.
    pub fn validate(&self) -> Result<()> {
        let mut names = Vec::new();
        render(&self.url, |name| {
            names.push(name.to_owned());
            None
        });
        let has = |name: &str| names.iter().any(|n| n == name);
        let bad_url = |reason: String| Err(Error::invalid_option("url", reason));
        if let Some(unknown) = names.iter().find(|n| !PLACEHOLDERS.contains(&n.as_str())) {
            return bad_url(format!(
                "unknown placeholder `{{{unknown}}}` in `{}`; only {{z}}, {{x}}, {{y}}, {{-y}} and {{s}} are supported",
                self.url
            ));
        }
        if !has("z") || !has("x") || !(has("y") || has("-y")) {
            return bad_url(format!(
                "`{}` must contain {{z}}, {{x}} and {{y}} (or {{-y}} for TMS servers), \
                 e.g. https://tile.example.com/{{z}}/{{x}}/{{y}}.png",
                self.url
            ));
        }
        if has("s") && self.subdomains.is_empty() {
            return bad_url(format!(
                "`{}` uses {{s}} but `subdomains` is empty; list them, e.g. [\"a\", \"b\", \"c\"]",
                self.url
            ));
        }
        validate_tile_size(self.tile_size)?;
        if self.max_zoom > MAX_ZOOM {
            return Err(Error::invalid_option("maxZoom", format!("must be at most {MAX_ZOOM}, got {}", self.max_zoom)));
        }
        if self.min_zoom > self.max_zoom {
            return Err(Error::invalid_option(
                "minZoom",
                format!("minZoom {} is greater than maxZoom {}", self.min_zoom, self.max_zoom),
            ));
        }
        Ok(())
    }

    /// Checks that the source serves `zoom` and returns it as a tile zoom level.
    pub fn check_zoom(&self, zoom: i64) -> Result<u8> {
        u8::try_from(zoom).ok().filter(|z| (self.min_zoom..=self.max_zoom).contains(z)).ok_or(Error::ZoomOutOfRange {
            zoom,
            min: self.min_zoom,
            max: self.max_zoom,
        })
    }

    /// The URL of `tile`. The subdomain is picked from `x + y`, so a tile always maps to
    /// the same URL (and browser cache entry).
    ///
    /// ```
    /// use geodetect::tiles::{TileId, TileSource};
    ///
    /// let source: TileSource = serde_json::from_value(serde_json::json!({
    ///     "url": "https://{s}.tiles.example/{z}/{x}/{-y}.png",
    ///     "subdomains": ["a", "b"],
    /// }))
    /// .unwrap();
    /// source.validate().unwrap();
    /// // {-y} counts rows from the south (TMS): at zoom 3, row 2 from the north is row 5.
    /// let url = source.tile_url(&TileId { z: 3, x: 4, y: 2 });
    /// assert_eq!(url, "https://a.tiles.example/3/4/5.png");
    /// ```
    pub fn tile_url(&self, tile: &TileId) -> String {
        render(&self.url, |name| match name {
            "z" => Some(tile.z.to_string()),
            "x" => Some(tile.x.to_string()),
            "y" => Some(tile.y.to_string()),
            "-y" => Some(tiles_per_side(tile.z).saturating_sub(1).saturating_sub(tile.y.into()).to_string()),
            "s" => {
                let pick = (u64::from(tile.x) + u64::from(tile.y)).checked_rem(self.subdomains.len() as u64)?;
                self.subdomains.get(usize::try_from(pick).ok()?).cloned()
            }
            _ => None,
        })
    }
}

/// Expands every `{name}` in `template` with `value(name)`, leaving it as is on `None`.
fn render(template: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some((text, tail)) = rest.split_once('{') {
        out.push_str(text);
        let Some((name, after)) = tail.split_once('}') else {
            out.push('{');
            rest = tail;
            break;
        };
        match value(name) {
            Some(v) => out.push_str(&v),
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source(v: serde_json::Value) -> TileSource {
        serde_json::from_value(v).unwrap()
    }

    fn invalid_field(s: &TileSource) -> String {
        match s.validate() {
            Err(Error::InvalidOptions { field, .. }) => field,
            other => panic!("expected InvalidOptions for {s:?}, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_camel_case() {
        let s = source(json!({"url": "https://t/{z}/{x}/{y}.png"}));
        assert_eq!((s.tile_size, s.min_zoom, s.max_zoom), (256, 0, 22));
        assert!(s.subdomains.is_empty());
        s.validate().unwrap();
        let s = source(json!({"url": "u/{z}/{x}/{y}", "tileSize": 512, "minZoom": 2, "maxZoom": 19}));
        assert_eq!((s.tile_size, s.min_zoom, s.max_zoom), (512, 2, 19));
        assert!(serde_json::from_value::<TileSource>(json!({"url": "u", "tile_size": 256})).is_err());
        assert!(serde_json::from_value::<TileSource>(json!({"url": "u", "maxzoom": 3})).is_err());
        // Attribution is the page's to show; the engine has no use for it.
        assert!(serde_json::from_value::<TileSource>(json!({"url": "u", "attribution": "© someone"})).is_err());
    }

    #[test]
    fn urls() {
        let t = TileId { z: 3, x: 5, y: 1 };
        let s = source(json!({"url": "https://t/{z}/{x}/{y}.png?k=1"}));
        assert_eq!(s.tile_url(&t), "https://t/3/5/1.png?k=1");
        let tms = source(json!({"url": "https://t/{z}/{x}/{-y}.jpg"}));
        tms.validate().unwrap();
        assert_eq!(tms.tile_url(&t), "https://t/3/5/6.jpg");
        assert_eq!(tms.tile_url(&TileId { z: 0, x: 0, y: 0 }), "https://t/0/0/0.jpg");
        let sub = source(json!({"url": "https://{s}.t/{z}/{x}/{y}", "subdomains": ["a", "b", "c"]}));
        sub.validate().unwrap();
        let picks: Vec<_> = (0..4).map(|x| sub.tile_url(&TileId { z: 3, x, y: 1 })).collect();
        assert_eq!(picks, ["https://b.t/3/0/1", "https://c.t/3/1/1", "https://a.t/3/2/1", "https://b.t/3/3/1"]);
        assert_eq!(sub.tile_url(&TileId { z: 3, x: 0, y: 1 }), picks[0]);
        // Unknown and unterminated braces are kept verbatim.
        assert_eq!(render("a{q}b{z", |n| (n == "z").then(|| "9".into())), "a{q}b{z");
    }

    #[test]
    fn validation_rejects_bad_sources() {
        for (json, field) in [
            (json!({"url": ""}), "url"),
            (json!({"url": "https://t/{z}/{x}.png"}), "url"),
            (json!({"url": "https://t/{x}/{y}.png"}), "url"),
            (json!({"url": "https://t/{z}/{x}/{Y}.png"}), "url"),
            (json!({"url": "https://t/{z}/{x}/{y}/{q}.png"}), "url"),
            (json!({"url": "https://{s}.t/{z}/{x}/{y}"}), "url"),
            (json!({"url": "u/{z}/{x}/{y}", "tileSize": 300}), "tileSize"),
            (json!({"url": "u/{z}/{x}/{y}", "tileSize": 64}), "tileSize"),
            (json!({"url": "u/{z}/{x}/{y}", "maxZoom": 23}), "maxZoom"),
            (json!({"url": "u/{z}/{x}/{y}", "minZoom": 10, "maxZoom": 9}), "minZoom"),
        ] {
            assert_eq!(invalid_field(&source(json.clone())), field, "{json}");
        }
        let msg = source(json!({"url": "https://{s}.t/{z}/{x}/{y}"})).validate().unwrap_err().to_string();
        assert!(msg.contains("subdomains"), "{msg}");
    }

    #[test]
    fn zoom_range_check() {
        let s = source(json!({"url": "u/{z}/{x}/{y}", "minZoom": 3, "maxZoom": 19}));
        assert_eq!(s.check_zoom(3).unwrap(), 3);
        assert_eq!(s.check_zoom(19).unwrap(), 19);
        for bad in [-1, 2, 20, 300] {
            assert!(
                matches!(s.check_zoom(bad), Err(Error::ZoomOutOfRange { zoom, min: 3, max: 19 }) if zoom == bad),
                "{bad}"
            );
        }
    }
}
