//! The GeoKeyDirectory (GeoTIFF 1.0/1.1 §2.4): the model type, PixelIsArea / PixelIsPoint,
//! and the EPSG code of the CRS ([`GeoKeys`]).

use super::error::CogError;
use super::ifd::GeoTags;

/// `GTModelTypeGeoKey`.
const MODEL_TYPE: u16 = 1024;
/// `GTRasterTypeGeoKey`.
const RASTER_TYPE: u16 = 1025;
/// `GeographicTypeGeoKey` (GeodeticCRSGeoKey in GeoTIFF 1.1).
const GEOGRAPHIC_TYPE: u16 = 2048;
/// `ProjectedCSTypeGeoKey` (ProjectedCRSGeoKey in GeoTIFF 1.1).
const PROJECTED_TYPE: u16 = 3072;
/// The value of a key whose CRS is described by other keys, not by a code.
const USER_DEFINED: u16 = 32767;

/// What a pixel's coordinates refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RasterType {
    /// The pixel is an area; the tie point is its top-left corner (`RasterPixelIsArea`, the default).
    PixelIsArea,
    /// The pixel is a point sample; the tie point is its centre (`RasterPixelIsPoint`).
    PixelIsPoint,
}

/// Whether the CRS is projected or geographic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrsKind {
    /// Projected: x, y in linear units (`ProjectedCSTypeGeoKey`).
    Projected,
    /// Geographic: x = longitude, y = latitude in degrees (`GeographicTypeGeoKey`).
    Geographic,
}

/// The CRS and raster type the geokeys give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeoKeys {
    /// The CRS's EPSG code.
    pub epsg: u16,
    /// Projected or geographic.
    pub kind: CrsKind,
    /// PixelIsArea or PixelIsPoint.
    pub raster_type: RasterType,
}

impl GeoKeys {
    /// Reads the key directory of `geo`.
    pub fn from_tags(geo: &GeoTags) -> Result<GeoKeys, CogError> {
        let Some(dir) = &geo.key_directory else {
            return Err(CogError::Georef("no GeoKeyDirectory: the CRS is unknown".into()));
        };
        if dir.len() < 4 || dir[0] != 1 {
            return Err(CogError::Georef(format!("GeoKeyDirectory header {:?} is not GeoTIFF 1.x", dir.get(..4))));
        }
        let count = usize::from(dir[3]);
        let Some(entries) = dir.get(4..4 + count * 4) else {
            return Err(CogError::Georef(format!(
                "GeoKeyDirectory says {count} keys but holds {}",
                (dir.len() - 4) / 4
            )));
        };
        // Only SHORT keys matter here (location 0: the value is in the entry); the others
        // (in GeoDoubleParams / GeoAsciiParams) describe user-defined CRSs.
        let short = |key: u16| -> Option<u16> {
            entries.chunks_exact(4).find(|e| e[0] == key).and_then(|e| (e[1] == 0).then_some(e[3]))
        };
        let raster_type = match short(RASTER_TYPE) {
            Some(2) => RasterType::PixelIsPoint,
            _ => RasterType::PixelIsArea,
        };
        let model = short(MODEL_TYPE);
        let (key, kind) = match (model, short(PROJECTED_TYPE), short(GEOGRAPHIC_TYPE)) {
            (Some(1) | None, Some(code), _) => ((PROJECTED_TYPE, code), CrsKind::Projected),
            (Some(2) | None, None, Some(code)) | (Some(2), Some(_), Some(code)) => {
                ((GEOGRAPHIC_TYPE, code), CrsKind::Geographic)
            }
            (Some(3), ..) => return Err(CogError::Georef("a geocentric model (GTModelType 3) is not a map".into())),
            (model, ..) => {
                return Err(CogError::Georef(format!(
                    "no CRS code in the geokeys (GTModelType {model:?}, no ProjectedCSTypeGeoKey / GeographicTypeGeoKey)"
                )));
            }
        };
        let (key, code) = key;
        if code == USER_DEFINED || code == 0 {
            return Err(CogError::Georef(format!(
                "a user-defined CRS (geokey {key} = {code}); this reader needs an EPSG code \
                 (reproject with `gdalwarp -t_srs EPSG:...`)"
            )));
        }
        Ok(GeoKeys { epsg: code, kind, raster_type })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(entries: &[[u16; 4]]) -> GeoTags {
        let mut dir = vec![1, 1, 0, entries.len() as u16];
        for e in entries {
            dir.extend_from_slice(e);
        }
        GeoTags { key_directory: Some(dir), ..GeoTags::default() }
    }

    #[test]
    fn projected_geographic_point_and_user_defined() {
        let utm = GeoKeys::from_tags(&keys(&[[1024, 0, 1, 1], [1025, 0, 1, 1], [3072, 0, 1, 32617]])).unwrap();
        assert_eq!(utm, GeoKeys { epsg: 32617, kind: CrsKind::Projected, raster_type: RasterType::PixelIsArea });
        let ll = GeoKeys::from_tags(&keys(&[[1024, 0, 1, 2], [1025, 0, 1, 2], [2048, 0, 1, 4326]])).unwrap();
        assert_eq!(ll, GeoKeys { epsg: 4326, kind: CrsKind::Geographic, raster_type: RasterType::PixelIsPoint });
        let user = GeoKeys::from_tags(&keys(&[[1024, 0, 1, 1], [3072, 0, 1, 32767]])).unwrap_err();
        assert!(user.to_string().contains("user-defined"), "{user}");
        assert!(GeoKeys::from_tags(&keys(&[[1024, 0, 1, 1]])).is_err());
        let mut short = keys(&[[3072, 0, 1, 3857]]);
        short.key_directory.as_mut().unwrap()[3] = 5;
        assert!(GeoKeys::from_tags(&short).is_err());
    }
}
