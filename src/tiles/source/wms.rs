//! WMS as a tile source: one GetMap request per Web Mercator tile, in EPSG:3857, for WMS
//! 1.1.1 (`SRS=`) and 1.3.0 (`CRS=`). EPSG:3857's axes are easting then northing in both
//! versions (the 1.3.0 axis swap concerns geographic CRSs such as EPSG:4326), so `BBOX` is
//! `minx,miny,maxx,maxy` in metres either way.

use std::collections::BTreeMap;

use percent_encoding::utf8_percent_encode;
use serde::{Deserialize, Serialize};

use super::QUERY_VALUE;
use crate::tiles::TileId;
use crate::tiles::mercator::pixel_to_3857;
use crate::{Error, Result};

/// The WMS version spoken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
pub enum WmsVersion {
    /// WMS 1.1.1: the CRS goes in `SRS`.
    #[serde(rename = "1.1.1")]
    V1_1_1,
    /// WMS 1.3.0 (the default): the CRS goes in `CRS`.
    #[default]
    #[serde(rename = "1.3.0")]
    V1_3_0,
}

impl WmsVersion {
    fn as_str(self) -> &'static str {
        match self {
            WmsVersion::V1_1_1 => "1.1.1",
            WmsVersion::V1_3_0 => "1.3.0",
        }
    }
}

/// A WMS layer set requested tile by tile (`source.wms`); `source.url` is the service
/// endpoint, with any parameters of its own (`…/mapserv?map=/maps/ortho.map`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WmsOptions {
    /// `"1.1.1"` or `"1.3.0"`. Default `"1.3.0"`.
    #[serde(default)]
    pub version: WmsVersion,
    /// Layers to draw, bottom first (`LAYERS`).
    pub layers: Vec<String>,
    /// One style per layer, `""` for a layer's default (`STYLES`). Default: every layer's
    /// default.
    #[serde(default)]
    pub styles: Vec<String>,
    /// Image format (`FORMAT`): a MIME type the browser decodes. Default `"image/png"`.
    #[serde(default = "default_format")]
    pub format: String,
    /// Ask for a transparent background (`TRANSPARENT=TRUE`). Default false.
    #[serde(default)]
    pub transparent: bool,
    /// Further parameters sent with every GetMap (vendor parameters, `TIME`, `DIM_*`...).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

fn default_format() -> String {
    "image/png".to_owned()
}

/// The parameters geodetect sets itself; `params` and the endpoint must leave them out.
const RESERVED: [&str; 12] = [
    "SERVICE",
    "REQUEST",
    "VERSION",
    "LAYERS",
    "STYLES",
    "FORMAT",
    "TRANSPARENT",
    "SRS",
    "CRS",
    "BBOX",
    "WIDTH",
    "HEIGHT",
];

impl WmsOptions {
    /// Checks the layers, styles, format and parameters, and that `endpoint` is an endpoint
    /// rather than a whole GetMap URL. Errors name the field under `wms`.
    pub fn validate(&self, endpoint: &str) -> Result<()> {
        if self.layers.is_empty() || self.layers.iter().any(String::is_empty) {
            return Err(Error::invalid_option(
                "wms.layers",
                "must list at least one layer by name (the <Name> of a <Layer> in the server's GetCapabilities)",
            ));
        }
        if !self.styles.is_empty() && self.styles.len() != self.layers.len() {
            return Err(Error::invalid_option(
                "wms.styles",
                format!(
                    "has {} entries for {} layers; give one per layer (\"\" for a layer's default) or none",
                    self.styles.len(),
                    self.layers.len()
                ),
            ));
        }
        if !self.format.starts_with("image/") {
            return Err(Error::invalid_option(
                "wms.format",
                format!("must be an image MIME type such as \"image/png\" or \"image/jpeg\", got {:?}", self.format),
            ));
        }
        if let Some(name) = self.params.keys().find(|k| is_reserved(k)) {
            return Err(Error::invalid_option(
                format!("wms.params.{name}"),
                "is set by geodetect for every tile; use `wms.version`, `wms.layers`, `wms.styles`, `wms.format` or \
                 `wms.transparent` instead",
            ));
        }
        let query = endpoint.split_once('?').map(|(_, q)| q).unwrap_or_default();
        if let Some(name) = query.split('&').filter_map(|p| p.split('=').next()).find(|k| is_reserved(k)) {
            return Err(Error::invalid_option(
                "url",
                format!(
                    "already has `{name}=`: give the WMS endpoint (e.g. https://host/wms, or …/mapserv?map=/maps/a.map) \
                     and the layers in `wms.layers`; geodetect builds each GetMap itself"
                ),
            ));
        }
        if endpoint.contains(['{', '}']) {
            return Err(Error::invalid_option(
                "url",
                "is a WMS endpoint, not a URL template: remove the {placeholders} (geodetect sets BBOX per tile)",
            ));
        }
        Ok(())
    }

    /// The GetMap URL of `tile` at `endpoint`, `tile_size` pixels square.
    pub fn get_map_url(&self, endpoint: &str, tile: &TileId, tile_size: u32) -> String {
        let size = f64::from(tile_size);
        let (x, y) = (f64::from(tile.x) * size, f64::from(tile.y) * size);
        let [min_x, min_y] = pixel_to_3857(x, y + size, tile.z, tile_size);
        let [max_x, max_y] = pixel_to_3857(x + size, y, tile.z, tile_size);
        let list = |items: &[String]| items.iter().map(|s| encode(s)).collect::<Vec<_>>().join(",");
        let crs_key = match self.version {
            WmsVersion::V1_1_1 => "SRS",
            WmsVersion::V1_3_0 => "CRS",
        };
        let separator = match endpoint.split_once('?') {
            None => "?",
            Some((_, query)) if query.is_empty() || query.ends_with('&') => "",
            Some(_) => "&",
        };
        let mut url = format!("{endpoint}{separator}");
        url.push_str(&format!(
            "SERVICE=WMS&VERSION={}&REQUEST=GetMap&LAYERS={}&STYLES={}&FORMAT={}&TRANSPARENT={}&{crs_key}=EPSG:3857\
             &BBOX={min_x},{min_y},{max_x},{max_y}&WIDTH={tile_size}&HEIGHT={tile_size}",
            self.version.as_str(),
            list(&self.layers),
            // None, or all defaults: `STYLES=` (one empty style per layer, by the spec).
            if self.styles.iter().all(String::is_empty) { String::new() } else { list(&self.styles) },
            encode(&self.format),
            if self.transparent { "TRUE" } else { "FALSE" },
        ));
        for (name, value) in &self.params {
            url.push_str(&format!("&{}={}", encode(name), encode(value)));
        }
        url
    }
}

fn is_reserved(name: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::mercator::HALF_CIRCUMFERENCE_M;
    use serde_json::json;

    fn wms(v: serde_json::Value) -> WmsOptions {
        serde_json::from_value(v).unwrap()
    }

    fn query(url: &str) -> BTreeMap<String, String> {
        let (_, q) = url.split_once('?').unwrap();
        q.split('&').map(|p| p.split_once('=').unwrap()).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }

    #[test]
    fn get_map_for_both_versions() {
        let w = wms(json!({"layers": ["ortho", "roads"], "params": {"map": "/m/a b.map"}}));
        w.validate("https://h/cgi-bin/mapserv").unwrap();
        let url = w.get_map_url("https://h/cgi-bin/mapserv", &TileId { z: 1, x: 1, y: 0 }, 256);
        let q = query(&url);
        let h = HALF_CIRCUMFERENCE_M;
        assert!(url.starts_with("https://h/cgi-bin/mapserv?SERVICE=WMS&"), "{url}");
        assert_eq!(q["VERSION"], "1.3.0");
        assert_eq!(q["CRS"], "EPSG:3857");
        assert!(!q.contains_key("SRS"));
        // The north-east quarter of the world: easting then northing, in metres.
        assert_eq!(q["BBOX"], format!("0,0,{h},{h}"));
        assert_eq!((q["WIDTH"].as_str(), q["HEIGHT"].as_str()), ("256", "256"));
        assert_eq!((q["LAYERS"].as_str(), q["STYLES"].as_str()), ("ortho,roads", ""));
        assert_eq!((q["FORMAT"].as_str(), q["TRANSPARENT"].as_str()), ("image%2Fpng", "FALSE"));
        assert_eq!(q["map"], "%2Fm%2Fa%20b.map");

        let old = wms(
            json!({"version": "1.1.1", "layers": ["a"], "styles": ["s1"], "format": "image/jpeg", "transparent": true}),
        );
        old.validate("https://h/wms?map=x").unwrap();
        let q = query(&old.get_map_url("https://h/wms?map=x", &TileId { z: 2, x: 0, y: 3 }, 512));
        assert_eq!((q["VERSION"].as_str(), q["SRS"].as_str(), q["map"].as_str()), ("1.1.1", "EPSG:3857", "x"));
        assert_eq!(q["BBOX"], format!("{},{},{},{}", -h, -h, -h / 2.0, -h / 2.0));
        assert_eq!((q["STYLES"].as_str(), q["WIDTH"].as_str(), q["TRANSPARENT"].as_str()), ("s1", "512", "TRUE"));
        // An endpoint that ends in `?` or `&` is continued as it is.
        assert!(
            old.get_map_url("https://h/wms?", &TileId { z: 0, x: 0, y: 0 }, 256).starts_with("https://h/wms?SERVICE=")
        );
        assert!(
            old.get_map_url("https://h/wms?a=1&", &TileId { z: 0, x: 0, y: 0 }, 256)
                .starts_with("https://h/wms?a=1&SERVICE=")
        );
    }

    #[test]
    fn bbox_matches_the_tile_grid() {
        // Adjacent tiles share their edges exactly.
        let w = wms(json!({"layers": ["a"]}));
        let bbox = |x, y| {
            let q = query(&w.get_map_url("https://h/wms", &TileId { z: 19, x, y }, 256));
            q["BBOX"].split(',').map(|v| v.parse::<f64>().unwrap()).collect::<Vec<_>>()
        };
        let (a, b, below) = (bbox(84_000, 200_000), bbox(84_001, 200_000), bbox(84_000, 200_001));
        assert_eq!(a[2], b[0]);
        assert_eq!(a[1], below[3]);
        assert!((a[2] - a[0] - 2.0 * HALF_CIRCUMFERENCE_M / f64::from(1 << 19)).abs() < 1e-6);
    }

    #[test]
    fn refuses_what_it_cannot_send() {
        let field = |v: serde_json::Value, endpoint: &str| match wms(v).validate(endpoint) {
            Err(Error::InvalidOptions { field, .. }) => field,
            other => panic!("expected InvalidOptions, got {other:?}"),
        };
        assert_eq!(field(json!({"layers": []}), "https://h/wms"), "wms.layers");
        assert_eq!(field(json!({"layers": [""]}), "https://h/wms"), "wms.layers");
        assert_eq!(field(json!({"layers": ["a", "b"], "styles": ["x"]}), "https://h/wms"), "wms.styles");
        assert_eq!(field(json!({"layers": ["a"], "format": "png"}), "https://h/wms"), "wms.format");
        assert_eq!(field(json!({"layers": ["a"], "params": {"bbox": "1"}}), "https://h/wms"), "wms.params.bbox");
        assert_eq!(field(json!({"layers": ["a"]}), "https://h/wms?SERVICE=WMS&REQUEST=GetMap"), "url");
        assert_eq!(field(json!({"layers": ["a"]}), "https://h/wms/{z}"), "url");
        assert!(serde_json::from_value::<WmsOptions>(json!({"layers": ["a"], "version": "1.2"})).is_err());
        assert!(serde_json::from_value::<WmsOptions>(json!({"layers": ["a"], "crs": "EPSG:4326"})).is_err());
    }
}
