//! [`Georef`]: where the image is on the Earth: the full-resolution affine (pixel corners →
//! CRS), the CRS, and the conversions pixel ↔ WGS 84 lon/lat and ground distances. Levels
//! other than the full resolution use the affine scaled by their size ratio (as GDAL does).

use super::affine::Affine;
use super::crs::Crs;
use super::error::CogError;
use super::geokeys::{GeoKeys, RasterType};
use super::ifd::GeoTags;

/// WGS 84 semi-major axis, metres.
const WGS84_A: f64 = 6_378_137.0;
/// WGS 84 first eccentricity squared.
const WGS84_E2: f64 = 0.006_694_379_990_141_317;

/// The georeferencing of the full-resolution image.
#[derive(Debug)]
pub struct Georef {
    affine: Affine,
    keys: GeoKeys,
    crs: Crs,
}

impl Georef {
    /// From the GeoTIFF tags of the first IFD.
    pub fn from_tags(geo: &GeoTags) -> Result<Georef, CogError> {
        let keys = GeoKeys::from_tags(geo)?;
        let mut affine = Affine::from_tags(geo)?;
        // PixelIsPoint: the tags' raster space puts (0, 0) at the first pixel's centre; ours
        // puts it at its corner, half a pixel up and left.
        if keys.raster_type == RasterType::PixelIsPoint {
            affine = affine.shifted(-0.5, -0.5);
        }
        let crs = Crs::from_epsg(keys.epsg, keys.kind)?;
        Ok(Georef { affine, keys, crs })
    }

    /// Full-resolution pixel (corner-based) → CRS coordinates, as rasterio's `transform`.
    pub fn affine(&self) -> Affine {
        self.affine
    }

    /// The CRS.
    pub fn crs(&self) -> &Crs {
        &self.crs
    }

    /// The EPSG code, projected or geographic, PixelIsArea or PixelIsPoint.
    pub fn keys(&self) -> GeoKeys {
        self.keys
    }

    /// Pixel `(x, y)` of the raster whose affine is `affine` → WGS 84 `(lon, lat)`.
    pub fn pixel_to_lonlat(&self, affine: &Affine, x: f64, y: f64) -> Result<(f64, f64), CogError> {
        let (cx, cy) = affine.apply(x, y);
        self.crs.to_lonlat(cx, cy)
    }

    /// WGS 84 `(lon, lat)` → pixel `(x, y)` of the raster whose affine is `affine`.
    pub fn lonlat_to_pixel(&self, affine: &Affine, lon: f64, lat: f64) -> Result<(f64, f64), CogError> {
        let (cx, cy) = self.crs.from_lonlat(lon, lat)?;
        let inverse = affine.inverse().ok_or_else(|| CogError::Georef("the affine is not invertible".into()))?;
        Ok(inverse.apply(cx, cy))
    }

    /// Metres on the ground covered by one pixel of the raster whose affine is `affine`, at
    /// pixel `(x, y)`: the mean of a pixel step across and down, measured on the WGS 84
    /// ellipsoid (so Web Mercator and lon/lat rasters get true metres, not map units).
    pub fn ground_resolution_at(&self, affine: &Affine, x: f64, y: f64) -> Result<f64, CogError> {
        pixel_ground_size(x, y, |px, py| self.pixel_to_lonlat(affine, px, py))
    }
}

/// Metres on the ground covered by one pixel at `(x, y)` of a raster whose pixel positions
/// `to_lonlat` places in WGS 84: the mean of a pixel step across and one down, measured on
/// the ellipsoid.
pub fn pixel_ground_size<E>(x: f64, y: f64, to_lonlat: impl Fn(f64, f64) -> Result<(f64, f64), E>) -> Result<f64, E> {
    let here = to_lonlat(x, y)?;
    let across = to_lonlat(x + 1.0, y)?;
    let down = to_lonlat(x, y + 1.0)?;
    Ok((ground_distance(here, across) + ground_distance(here, down)) / 2.0)
}

/// Distance in metres between two nearby WGS 84 points (degrees), from the ellipsoid's radii
/// of curvature at their mean latitude: exact to well under a millimetre for points a few
/// hundred metres apart, which is all a pixel step needs.
pub fn ground_distance(a: (f64, f64), b: (f64, f64)) -> f64 {
    let lat = ((a.1 + b.1) / 2.0).to_radians();
    let w = 1.0 - WGS84_E2 * lat.sin().powi(2);
    let meridian = WGS84_A * (1.0 - WGS84_E2) / w.powf(1.5);
    let prime_vertical = WGS84_A / w.sqrt();
    let mut dlon = b.0 - a.0;
    if dlon > 180.0 {
        dlon -= 360.0;
    } else if dlon < -180.0 {
        dlon += 360.0;
    }
    let dx = prime_vertical * lat.cos() * dlon.to_radians();
    let dy = meridian * (b.1 - a.1).to_radians();
    dx.hypot(dy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ground_distance_matches_the_ellipsoid() {
        // The arc of latitude per degree on WGS 84 is 111132.954 − 559.822 cos 2φ + 1.175 cos 4φ
        // metres: 110574.3 at the equator, 111131.8 at 45°; a 1e-5 degree step must scale to it.
        let d = ground_distance((0.0, -0.000005), (0.0, 0.000005)) * 1e5;
        assert!((d - 110_574.31).abs() < 0.05, "{d}");
        let d = ground_distance((10.0, 44.999995), (10.0, 45.000005)) * 1e5;
        assert!((d - 111_131.78).abs() < 0.05, "{d}");
        // A degree of longitude at the equator: 111319.5 m.
        let d = ground_distance((179.999995, 0.0), (-179.999995, 0.0)) * 1e5;
        assert!((d - 111_319.5).abs() < 0.5, "{d}");
    }
}
