//! Where tiles come from ([`TileSource`]): a URL template (XYZ, TMS or quadkey), a WMS
//! asked for one GetMap per tile, a named preset that is a template underneath, or a PMTiles
//! archive (read by [`crate::tiles::pmtiles`]), or a Cloud-Optimized GeoTIFF read in its own
//! pixel grid (by [`crate::imagery::cog`]); the URL of each tile, the attribution, and the
//! secrets kept out of what geodetect reports.
//!
//! - [`template`]: the `{z} {x} {y} {-y} {s} {q} {r}` placeholders
//! - [`wms`]: GetMap per tile in EPSG:3857, WMS 1.1.1 and 1.3.0
//! - [`preset`]: ESRI World Imagery, Mapbox Satellite, TiTiler
//! - [`secret`]: keys and tokens redacted from errors and reports

mod preset;
mod secret;
pub(crate) mod template;
mod wms;

pub use preset::Preset;
pub use secret::REDACTED;
pub use template::quadkey;
pub use wms::{WmsOptions, WmsVersion};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

use super::{MAX_ZOOM, TileId, validate_tile_size};
use crate::{Error, Result};

/// Characters percent-encoded in a query value: all but RFC 3986's unreserved ones.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Where the imagery comes from: `{ url }` with a URL template, `{ url, wms }` for a WMS,
/// `{ preset }`, `{ pmtiles }` for a PMTiles archive, or `{ cog }` for a Cloud-Optimized
/// GeoTIFF, e.g.
/// `{ url: "https://{s}.tile.example.com/{z}/{x}/{y}.png" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TileSource {
    /// URL template with `{z}`, `{x}` and `{y}` (or `{-y}` for TMS servers, whose rows count
    /// from the south), or `{q}` for a Bing-style quadkey; optionally `{s}` for a subdomain
    /// and `{r}` for the retina suffix. With `wms`, the WMS endpoint instead; with preset
    /// `"titiler"`, the TiTiler server; left out for the other presets. A server on another
    /// origin must allow CORS.
    #[serde(default)]
    pub url: Option<String>,
    /// A named source: `"esri-world-imagery"`, `"mapbox-satellite"` (with `accessToken`) or
    /// `"titiler"` (with `url` and `cog`). Each is a URL template underneath.
    #[serde(default)]
    pub preset: Option<Preset>,
    /// The access token of preset `"mapbox-satellite"`. Sent only to its host, and never in
    /// an error, a progress event, the metrics or a result (nor any `token`, `key`... query
    /// parameter of `url`).
    #[serde(default)]
    pub access_token: Option<String>,
    /// The URL of a Cloud-Optimized GeoTIFF. Alone (no `url`, no `preset`): read directly
    /// with HTTP range requests from any static host that answers `Range` with 206 (CORS must
    /// allow it cross-origin; expose `ETag` to notice a file replaced mid-run), and run in the
    /// image's own pixel grid and CRS, without resampling: at the level (full resolution or
    /// overview) whose ground resolution is closest to that of Web Mercator zoom `zoom` at the
    /// area's centre. Tiled, 8-bit RGB(A) or grey, Deflate/LZW/JPEG/WebP or uncompressed, in
    /// any CRS with an EPSG code. With preset `"titiler"`: the COG that TiTiler serves as Web
    /// Mercator tiles instead.
    #[serde(default)]
    pub cog: Option<String>,
    /// Ask a WMS for each tile (GetMap in EPSG:3857); `url` is then the service endpoint.
    #[serde(default)]
    pub wms: Option<WmsOptions>,
    /// The URL of a PMTiles v3 archive of raster tiles (PNG, JPEG, WebP or AVIF), read with
    /// HTTP range requests from any static host that answers `Range` with 206 (cross-origin:
    /// CORS must allow it; expose `ETag` to notice an archive replaced mid-run). Its header
    /// and directories are read once per worker. Instead of `url`; the archive's own zoom range
    /// applies on top of `minZoom`/`maxZoom`, and a tile the archive lacks is empty, not
    /// missing.
    #[serde(default)]
    pub pmtiles: Option<String>,
    /// Edge length of the server's tiles in pixels (for a WMS: the size asked for): a power
    /// of two in `128..=4096`. Default 256, or 512 with `retina`.
    #[serde(default)]
    pub tile_size: Option<u32>,
    /// Shallowest zoom the server provides. Default 0.
    #[serde(default)]
    pub min_zoom: u8,
    /// Deepest zoom the server provides, at most 22. Default 22.
    #[serde(default = "default_max_zoom")]
    pub max_zoom: u8,
    /// Values for `{s}`, e.g. `["a", "b", "c"]`, chosen per tile.
    #[serde(default)]
    pub subdomains: Vec<String>,
    /// Ask for the server's high-resolution tiles: `{r}` becomes `@2x` (empty otherwise) and
    /// `tileSize` defaults to 512. Default false.
    #[serde(default)]
    pub retina: bool,
    /// Credit the imagery's provider asks for; it comes back in the result's
    /// `attribution`. Default: the preset's, or none.
    #[serde(default)]
    pub attribution: Option<String>,
    /// Whether HTTP 404 means "no imagery here" (servers that answer 404 outside their
    /// coverage): such a tile is left empty (black) and counted in `tiles.empty`, not listed
    /// in `missingTiles`. HTTP 204 always means that. Default false: a 404 is a missing tile.
    #[serde(default)]
    pub not_found_is_empty: bool,
}

fn default_max_zoom() -> u8 {
    MAX_ZOOM
}

impl TileSource {
    /// A source of the URL template `url`, other settings at their defaults.
    pub fn from_template(url: impl Into<String>) -> TileSource {
        TileSource {
            url: Some(url.into()),
            preset: None,
            access_token: None,
            cog: None,
            wms: None,
            pmtiles: None,
            tile_size: None,
            min_zoom: 0,
            max_zoom: MAX_ZOOM,
            subdomains: Vec::new(),
            retina: false,
            attribution: None,
            not_found_is_empty: false,
        }
    }

    /// Edge length of a tile in pixels: `tileSize`, else 512 for a retina source, else 256.
    pub fn tile_size(&self) -> u32 {
        self.tile_size.unwrap_or(if self.retina { 512 } else { 256 })
    }

    /// The attribution to show: `attribution`, else the preset's.
    pub fn attribution(&self) -> Option<&str> {
        self.attribution.as_deref().or_else(|| self.preset.and_then(Preset::attribution))
    }

    /// The URL template tiles are fetched from (a preset's expanded); `None` for a WMS or an
    /// archive.
    fn template(&self) -> Option<String> {
        match (self.preset, &self.wms) {
            (Some(preset), _) => {
                Some(preset.template(self.url.as_deref(), self.cog.as_deref(), self.access_token.as_deref()))
            }
            (None, Some(_)) => None,
            (None, None) if self.pmtiles.is_some() || self.cog.is_some() => None,
            (None, None) => Some(self.url.clone().unwrap_or_default()),
        }
    }

    /// The PMTiles archive's URL, for a `{ pmtiles }` source.
    pub fn pmtiles_url(&self) -> Option<&str> {
        self.pmtiles.as_deref()
    }

    /// The COG's URL, for a `{ cog }` source read directly (not through a preset).
    pub fn cog_url(&self) -> Option<&str> {
        self.cog.as_deref().filter(|_| self.preset.is_none())
    }

    /// Checks the URL template or WMS settings, the preset's fields, the tile size and the
    /// zoom range. Errors name the field (`url`, `wms.layers`...) and quote URLs with their
    /// secrets redacted.
    pub fn validate(&self) -> Result<()> {
        // The whole message is redacted, not only the template in it: the placeholder's name
        // is the caller's text too (the url_template fuzz target found a secret shown there).
        let bad_url = |reason: String| Err(Error::invalid_option("url", self.redact(&reason)));
        // A PMTiles archive, or a COG read directly: one file whose URL is the whole address.
        let file = match (&self.pmtiles, &self.cog) {
            (Some(archive), _) => Some(("pmtiles", archive, "the archive", "https://example.com/imagery.pmtiles")),
            (None, Some(cog)) if self.preset.is_none() => {
                Some(("cog", cog, "the COG", "https://example.com/image.tif"))
            }
            _ => None,
        };
        if let Some((name, url, what, example)) = file {
            if url.is_empty() {
                return Err(Error::invalid_option(name, format!("must be {what}'s URL, e.g. {example}")));
            }
            for (field, given) in [
                ("url", self.url.is_some()),
                ("preset", self.preset.is_some()),
                ("wms", self.wms.is_some()),
                ("cog", name == "pmtiles" && self.cog.is_some()),
                ("subdomains", !self.subdomains.is_empty()),
                ("retina", self.retina),
                ("tileSize", name == "cog" && self.tile_size.is_some()),
            ] {
                if given {
                    return Err(Error::invalid_option(
                        field,
                        format!("is not used with `{name}`: {what}'s URL is the whole address of its imagery"),
                    ));
                }
            }
        } else if let Some(preset) = self.preset {
            let name = preset.name();
            let (takes_url, takes_cog, takes_token) = preset.takes();
            let misplaced = |field: &str, given: bool, takes: bool| -> Result<()> {
                match (given, takes) {
                    (true, false) => {
                        Err(Error::invalid_option(field, format!("is not used by preset {name:?}; leave it out")))
                    }
                    (false, true) => Err(Error::invalid_option(field, format!("is required by preset {name:?}"))),
                    _ => Ok(()),
                }
            };
            misplaced("url", self.url.as_ref().is_some_and(|u| !u.is_empty()), takes_url)?;
            misplaced("cog", self.cog.as_ref().is_some_and(|u| !u.is_empty()), takes_cog)?;
            misplaced("accessToken", self.access_token.as_ref().is_some_and(|t| !t.is_empty()), takes_token)?;
            if self.wms.is_some() {
                return Err(Error::invalid_option("wms", format!("is not used by preset {name:?}; leave it out")));
            }
        } else {
            if self.access_token.is_some() {
                return Err(Error::invalid_option(
                    "accessToken",
                    "is only used with preset \"mapbox-satellite\"; put another server's key in `url`",
                ));
            }
            if self.url.as_ref().is_none_or(String::is_empty) {
                return bad_url(
                    "is required: a URL template such as https://tile.example.com/{z}/{x}/{y}.png, a WMS endpoint \
                     with `wms`, or leave it out and name a `preset`, a `pmtiles` archive or a `cog`"
                        .to_owned(),
                );
            }
        }
        match (&self.wms, self.template()) {
            (Some(wms), _) => {
                let endpoint = self.url.as_deref().unwrap_or_default();
                wms.validate(endpoint)?;
                if !self.subdomains.is_empty() || self.retina {
                    return Err(Error::invalid_option(
                        if self.retina { "retina" } else { "subdomains" },
                        "is not used by a WMS source; its tiles are the `tileSize` asked for",
                    ));
                }
            }
            (None, Some(template)) => self.validate_template(&template)?,
            (None, None) => {}
        }
        validate_tile_size(self.tile_size())?;
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

    fn validate_template(&self, template: &str) -> Result<()> {
        let names = template::placeholders(template);
        let has = |name: &str| names.iter().any(|n| n == name);
        let shown = self.redact(template);
        // The whole message is redacted, not only the template in it: the placeholder's name
        // is the caller's text too (the url_template fuzz target found a secret shown there).
        let bad_url = |reason: String| Err(Error::invalid_option("url", self.redact(&reason)));
        if let Some(unknown) = names.iter().find(|n| !template::PLACEHOLDERS.contains(&n.as_str())) {
            return bad_url(format!(
                "unknown placeholder `{{{unknown}}}` in `{shown}`; only {{z}}, {{x}}, {{y}}, {{-y}}, {{q}}, {{s}} and {{r}} \
                 are supported"
            ));
        }
        if !has("q") && !(has("z") && has("x") && (has("y") || has("-y"))) {
            return bad_url(format!(
                "`{shown}` must contain {{z}}, {{x}} and {{y}} (or {{-y}} for TMS servers), or {{q}} for a quadkey, \
                 e.g. https://tile.example.com/{{z}}/{{x}}/{{y}}.png"
            ));
        }
        if has("s") && self.subdomains.is_empty() {
            return bad_url(format!(
                "`{shown}` uses {{s}} but `subdomains` is empty; list them, e.g. [\"a\", \"b\", \"c\"]"
            ));
        }
        if self.retina && !has("r") {
            return Err(Error::invalid_option(
                "retina",
                format!(
                    "asks for the server's @2x tiles, but `{shown}` has no {{r}} for the suffix; add it, or set \
                     `tileSize: 512` for a server whose tiles are always 512 px"
                ),
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

    /// The URL of `tile`: the template expanded, or a WMS GetMap. The subdomain is picked
    /// from `x + y`, so a tile always maps to the same URL (and browser cache entry). For a
    /// PMTiles archive or a COG, which have no URL per tile, the file's URL with `#z/x/y` (for
    /// a COG, `z` is the level): a name for the tile (in caches and messages), not an address
    /// to fetch.
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
        match (&self.wms, self.template()) {
            (Some(wms), _) => wms.get_map_url(self.url.as_deref().unwrap_or_default(), tile, self.tile_size()),
            (None, None) if let Some(file) = self.pmtiles.as_ref().or(self.cog.as_ref()) => {
                format!("{file}#{}/{}/{}", tile.z, tile.x, tile.y)
            }
            (None, template) => template::expand(&template.unwrap_or_default(), tile, &self.subdomains, self.retina),
        }
    }

    /// The source's secrets: `accessToken`, the password in `url`, and the values of
    /// credential-like query parameters (`token`, `key`, `access_token`...) in `url` and
    /// `wms.params`.
    pub fn secrets(&self) -> Vec<String> {
        let mut found: Vec<String> = self.access_token.iter().cloned().collect();
        for url in [&self.url, &self.cog, &self.pmtiles].into_iter().flatten() {
            found.extend(secret::in_url(url));
        }
        if let Some(wms) = &self.wms {
            found.extend(wms.params.iter().filter(|(k, _)| secret::is_secret_param(k)).map(|(_, v)| v.clone()));
        }
        found
    }

    /// `text` with the source's [`secrets`](Self::secrets) replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        secret::redact(text, &self.secrets())
    }
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
        assert_eq!((s.tile_size(), s.min_zoom, s.max_zoom, s.retina), (256, 0, 22, false));
        assert!(s.subdomains.is_empty() && s.attribution().is_none());
        assert_eq!(s, TileSource::from_template("https://t/{z}/{x}/{y}.png"));
        s.validate().unwrap();
        let s = source(json!({"url": "u/{z}/{x}/{y}", "tileSize": 512, "minZoom": 2, "maxZoom": 19}));
        assert_eq!((s.tile_size(), s.min_zoom, s.max_zoom), (512, 2, 19));
        assert!(serde_json::from_value::<TileSource>(json!({"url": "u", "tile_size": 256})).is_err());
        assert!(serde_json::from_value::<TileSource>(json!({"url": "u", "maxzoom": 3})).is_err());
        assert!(serde_json::from_value::<TileSource>(json!({"url": "u", "preset": "google"})).is_err());
        // Retina tiles are 512 px unless the caller says otherwise.
        assert_eq!(source(json!({"url": "u/{z}/{x}/{y}{r}", "retina": true})).tile_size(), 512);
        assert_eq!(source(json!({"url": "u/{z}/{x}/{y}{r}", "retina": true, "tileSize": 1024})).tile_size(), 1024);
        let s = source(json!({"url": "u/{z}/{x}/{y}", "attribution": "© someone"}));
        assert_eq!(s.attribution(), Some("© someone"));
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
        let bing = source(json!({"url": "https://ecn.t{s}.example/tiles/a{q}.jpeg?g=1", "subdomains": ["0", "1"]}));
        bing.validate().unwrap();
        assert_eq!(bing.tile_url(&t), "https://ecn.t0.example/tiles/a103.jpeg?g=1");
        let retina = source(json!({"url": "https://t/{z}/{x}/{y}{r}.png", "retina": true}));
        retina.validate().unwrap();
        assert_eq!(retina.tile_url(&t), "https://t/3/5/1@2x.png");
        let wms = source(json!({"url": "https://h/wms", "wms": {"layers": ["a"]}, "tileSize": 512}));
        wms.validate().unwrap();
        let url = wms.tile_url(&t);
        assert!(url.starts_with("https://h/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=a&"), "{url}");
        assert!(url.ends_with("&WIDTH=512&HEIGHT=512"), "{url}");
    }

    #[test]
    fn presets() {
        let t = TileId { z: 3, x: 5, y: 1 };
        let esri = source(json!({"preset": "esri-world-imagery"}));
        esri.validate().unwrap();
        assert!(esri.tile_url(&t).starts_with("https://server.arcgisonline.com/"));
        assert!(esri.tile_url(&t).ends_with("/tile/3/1/5"));
        assert!(esri.attribution().unwrap().contains("Esri"));
        // The caller's attribution wins over the preset's.
        let own = source(json!({"preset": "esri-world-imagery", "attribution": "mine"}));
        assert_eq!(own.attribution(), Some("mine"));
        let mapbox = source(json!({"preset": "mapbox-satellite", "accessToken": "pk.secret", "retina": true}));
        mapbox.validate().unwrap();
        assert_eq!(mapbox.tile_size(), 512);
        assert_eq!(
            mapbox.tile_url(&t),
            "https://api.mapbox.com/v4/mapbox.satellite/3/5/1@2x.jpg90?access_token=pk.secret"
        );
        let titiler = source(json!({"preset": "titiler", "url": "http://127.0.0.1:8000", "cog": "https://d/a.tif"}));
        titiler.validate().unwrap();
        assert_eq!(
            titiler.tile_url(&t),
            "http://127.0.0.1:8000/cog/tiles/WebMercatorQuad/3/5/1?url=https%3A%2F%2Fd%2Fa.tif"
        );
        assert!(titiler.attribution().is_none());
    }

    #[test]
    fn a_cog_alone_is_read_directly() {
        let direct = source(json!({"cog": "https://d/a.tif?key=s3cret", "maxZoom": 21}));
        direct.validate().unwrap();
        assert_eq!(direct.cog_url(), Some("https://d/a.tif?key=s3cret"));
        assert_eq!(direct.redact("https://d/a.tif?key=s3cret"), format!("https://d/a.tif?key={REDACTED}"));
        let titiler = source(json!({"preset": "titiler", "url": "http://ti", "cog": "https://d/a.tif"}));
        titiler.validate().unwrap();
        assert_eq!(titiler.cog_url(), None, "through TiTiler, as Web Mercator tiles");
    }

    #[test]
    fn validation_rejects_bad_sources() {
        for (json, field) in [
            (json!({}), "url"),
            (json!({"url": ""}), "url"),
            (json!({"url": "https://t/{z}/{x}.png"}), "url"),
            (json!({"url": "https://t/{x}/{y}.png"}), "url"),
            (json!({"url": "https://t/{z}/{x}/{Y}.png"}), "url"),
            (json!({"url": "https://t/{z}/{x}/{y}/{w}.png"}), "url"),
            (json!({"url": "https://{s}.t/{z}/{x}/{y}"}), "url"),
            (json!({"url": "https://t/{z}/{x}/{y}", "retina": true}), "retina"),
            (json!({"url": "u/{z}/{x}/{y}", "tileSize": 300}), "tileSize"),
            (json!({"url": "u/{z}/{x}/{y}", "tileSize": 64}), "tileSize"),
            (json!({"url": "u/{z}/{x}/{y}", "maxZoom": 23}), "maxZoom"),
            (json!({"url": "u/{z}/{x}/{y}", "minZoom": 10, "maxZoom": 9}), "minZoom"),
            (json!({"url": "u/{z}/{x}/{y}", "accessToken": "pk.1"}), "accessToken"),
            (json!({"url": "u/{z}/{x}/{y}", "cog": "https://d/a.tif"}), "url"),
            (json!({"cog": ""}), "cog"),
            (json!({"cog": "https://d/a.tif", "tileSize": 512}), "tileSize"),
            (json!({"cog": "https://d/a.tif", "subdomains": ["a"]}), "subdomains"),
            (json!({"pmtiles": "https://d/a.pmtiles", "cog": "https://d/a.tif"}), "cog"),
            (json!({"preset": "esri-world-imagery", "url": "u/{z}/{x}/{y}"}), "url"),
            (json!({"preset": "mapbox-satellite"}), "accessToken"),
            (json!({"preset": "mapbox-satellite", "accessToken": ""}), "accessToken"),
            (json!({"preset": "mapbox-satellite", "accessToken": "pk.1", "cog": "x"}), "cog"),
            (json!({"preset": "titiler", "cog": "https://d/a.tif"}), "url"),
            (json!({"preset": "titiler", "url": "https://ti"}), "cog"),
            (json!({"preset": "esri-world-imagery", "wms": {"layers": ["a"]}}), "wms"),
            (json!({"url": "https://h/wms", "wms": {"layers": []}}), "wms.layers"),
            (json!({"url": "https://h/wms", "wms": {"layers": ["a"]}, "subdomains": ["a"]}), "subdomains"),
            (json!({"url": "https://h/wms", "wms": {"layers": ["a"]}, "retina": true}), "retina"),
        ] {
            assert_eq!(invalid_field(&source(json.clone())), field, "{json}");
        }
        let msg = source(json!({"url": "https://{s}.t/{z}/{x}/{y}"})).validate().unwrap_err().to_string();
        assert!(msg.contains("subdomains"), "{msg}");
    }

    #[test]
    fn secrets_stay_out_of_messages() {
        let s = source(json!({"url": "https://t/{z}/{x}/{w}.png?api_key=k-12345"}));
        let msg = s.validate().unwrap_err().to_string();
        assert!(msg.contains("api_key=[redacted]") && !msg.contains("k-12345"), "{msg}");
        let s = source(json!({"preset": "mapbox-satellite", "accessToken": "pk.ey/J"}));
        assert_eq!(s.secrets(), ["pk.ey/J"]);
        let url = s.tile_url(&TileId { z: 1, x: 0, y: 0 });
        assert_eq!(
            s.redact(&format!("GET {url} failed")),
            format!("GET {} failed", url.replace("pk.ey%2FJ", REDACTED))
        );
        // A secret inside an unknown placeholder's braces.
        let s = source(json!({"url": "https://t/{z}/{x}/{y}.png?api_key={k-12345}"}));
        let msg = s.validate().unwrap_err().to_string();
        assert!(msg.contains("unknown placeholder") && !msg.contains("k-12345"), "{msg}");
        let wms = source(json!({"url": "https://h/wms", "wms": {"layers": ["a"], "params": {"TOKEN": "t0ps3cret"}}}));
        assert_eq!(wms.redact("x t0ps3cret y"), "x [redacted] y");
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

    #[test]
    fn pmtiles_archives() {
        let s =
            source(json!({"pmtiles": "https://h/imagery.pmtiles?token=abcdef", "maxZoom": 19, "attribution": "me"}));
        s.validate().unwrap();
        assert_eq!(s.pmtiles_url(), Some("https://h/imagery.pmtiles?token=abcdef"));
        assert_eq!(s.tile_url(&TileId { z: 19, x: 5, y: 6 }), "https://h/imagery.pmtiles?token=abcdef#19/5/6");
        assert_eq!(
            s.redact("https://h/imagery.pmtiles?token=abcdef"),
            format!("https://h/imagery.pmtiles?token={REDACTED}")
        );
        for (extra, field) in [
            (json!({"url": "https://h/{z}/{x}/{y}.png"}), "url"),
            (json!({"preset": "esri-world-imagery"}), "preset"),
            (json!({"wms": {"layers": ["a"]}}), "wms"),
            (json!({"subdomains": ["a"]}), "subdomains"),
            (json!({"retina": true}), "retina"),
        ] {
            let mut v = json!({"pmtiles": "https://h/a.pmtiles"});
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            assert_eq!(invalid_field(&source(v)), field);
        }
        assert_eq!(invalid_field(&source(json!({"pmtiles": ""}))), "pmtiles");
        assert!(!source(json!({"pmtiles": "a.pmtiles"})).not_found_is_empty);
        assert!(source(json!({"url": "u/{z}/{x}/{y}", "notFoundIsEmpty": true})).not_found_is_empty);
    }
}
