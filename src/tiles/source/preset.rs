//! Named imagery sources, each a plain URL template underneath: ESRI World Imagery, Mapbox
//! Satellite (with the caller's access token) and a TiTiler endpoint serving one
//! Cloud-Optimized GeoTIFF.

use percent_encoding::utf8_percent_encode;
use serde::{Deserialize, Serialize};

use super::QUERY_VALUE;

/// A named imagery source (`source.preset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// ESRI World Imagery (ArcGIS Online), no key. Its terms of use apply.
    EsriWorldImagery,
    /// Mapbox Satellite; needs `accessToken`. `retina: true` asks for its 512 px tiles.
    MapboxSatellite,
    /// A TiTiler (or compatible) server at `url` rendering the Cloud-Optimized GeoTIFF at
    /// `cog` as Web Mercator tiles (`/cog/tiles/WebMercatorQuad/{z}/{x}/{y}`).
    Titiler,
}

impl Preset {
    /// Every preset, for messages and tests.
    pub const ALL: [Preset; 3] = [Preset::EsriWorldImagery, Preset::MapboxSatellite, Preset::Titiler];

    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            Preset::EsriWorldImagery => "esri-world-imagery",
            Preset::MapboxSatellite => "mapbox-satellite",
            Preset::Titiler => "titiler",
        }
    }

    /// The URL template this preset stands for. `url` is the TiTiler endpoint, `cog` the
    /// GeoTIFF it renders, `access_token` Mapbox's token (each only where it applies;
    /// [`super::TileSource::validate`] checks they are there).
    pub fn template(self, url: Option<&str>, cog: Option<&str>, access_token: Option<&str>) -> String {
        let encode = |s: Option<&str>| utf8_percent_encode(s.unwrap_or_default(), QUERY_VALUE).to_string();
        match self {
            Preset::EsriWorldImagery => {
                "https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}"
                    .to_owned()
            }
            Preset::MapboxSatellite => format!(
                "https://api.mapbox.com/v4/mapbox.satellite/{{z}}/{{x}}/{{y}}{{r}}.jpg90?access_token={}",
                encode(access_token)
            ),
            Preset::Titiler => format!(
                "{}/cog/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}{{r}}?url={}",
                url.unwrap_or_default().trim_end_matches('/'),
                encode(cog)
            ),
        }
    }

    /// The attribution the imagery's provider asks for (none for TiTiler: that is the
    /// GeoTIFF's owner's to give).
    pub fn attribution(self) -> Option<&'static str> {
        match self {
            Preset::EsriWorldImagery => {
                Some("Esri, Maxar, Earthstar Geographics, and the GIS User Community (ArcGIS World Imagery)")
            }
            Preset::MapboxSatellite => Some("© Mapbox © OpenStreetMap © Maxar"),
            Preset::Titiler => None,
        }
    }

    /// Whether the preset takes `url`, `cog` and `accessToken`.
    pub fn takes(self) -> (bool, bool, bool) {
        match self {
            Preset::EsriWorldImagery => (false, false, false),
            Preset::MapboxSatellite => (false, false, true),
            Preset::Titiler => (true, true, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::TileId;
    use crate::tiles::source::template::expand;

    #[test]
    fn templates() {
        let t = TileId { z: 18, x: 74_000, y: 100_000 };
        let esri = Preset::EsriWorldImagery.template(None, None, None);
        assert_eq!(
            expand(&esri, &t, &[], false),
            "https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/18/100000/74000"
        );
        let mapbox = Preset::MapboxSatellite.template(None, None, Some("pk.ey/J+1"));
        assert_eq!(
            expand(&mapbox, &t, &[], true),
            "https://api.mapbox.com/v4/mapbox.satellite/18/74000/100000@2x.jpg90?access_token=pk.ey%2FJ%2B1"
        );
        let titiler = Preset::Titiler.template(Some("https://ti.example/"), Some("https://d.example/o {1}.tif"), None);
        // The GeoTIFF's URL is one encoded query value: its braces are not placeholders.
        assert_eq!(
            expand(&titiler, &t, &[], false),
            "https://ti.example/cog/tiles/WebMercatorQuad/18/74000/100000?url=https%3A%2F%2Fd.example%2Fo%20%7B1%7D.tif"
        );
        for preset in Preset::ALL {
            let name = serde_json::to_value(preset).unwrap();
            assert_eq!(name, preset.name());
            assert_eq!(serde_json::from_value::<Preset>(name).unwrap(), preset);
        }
    }
}
