//! [`Affine`]: pixel → CRS coordinates, in rasterio's (and GDAL's) convention: pixel `(0, 0)`
//! is the top-left corner of the top-left pixel, `(0.5, 0.5)` its centre. Built from the
//! GeoTIFF tags (`ModelPixelScale` + `ModelTiepoint`, or `ModelTransformation`), with
//! PixelIsPoint rasters moved half a pixel as GDAL does.

use super::error::CogError;
use super::ifd::GeoTags;

/// `x = a·px + b·py + c`, `y = d·px + e·py + f`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    /// x per pixel column.
    pub a: f64,
    /// x per pixel row (rotation).
    pub b: f64,
    /// x of pixel (0, 0)'s corner.
    pub c: f64,
    /// y per pixel column (rotation).
    pub d: f64,
    /// y per pixel row (negative for north-up images).
    pub e: f64,
    /// y of pixel (0, 0)'s corner.
    pub f: f64,
}

impl Affine {
    /// CRS coordinates of pixel position `(px, py)`.
    pub fn apply(&self, px: f64, py: f64) -> (f64, f64) {
        (self.a * px + self.b * py + self.c, self.d * px + self.e * py + self.f)
    }

    /// The inverse (CRS → pixel), if the matrix is invertible.
    pub fn inverse(&self) -> Option<Affine> {
        let det = self.a * self.e - self.b * self.d;
        if det == 0.0 || !det.is_finite() {
            return None;
        }
        let (a, b, d, e) = (self.e / det, -self.b / det, -self.d / det, self.a / det);
        let inv = Affine { a, b, c: -(a * self.c + b * self.f), d, e, f: -(d * self.c + e * self.f) };
        [inv.a, inv.b, inv.c, inv.d, inv.e, inv.f].iter().all(|v| v.is_finite()).then_some(inv)
    }

    /// The same mapping for pixels `sx` and `sy` times larger (an overview: one of its pixels
    /// covers `sx × sy` full-resolution pixels).
    pub fn scaled(&self, sx: f64, sy: f64) -> Affine {
        Affine { a: self.a * sx, b: self.b * sy, c: self.c, d: self.d * sx, e: self.e * sy, f: self.f }
    }

    /// The same mapping with pixel positions shifted by `(dx, dy)`: `self.apply(px + dx, py + dy)`.
    pub fn shifted(&self, dx: f64, dy: f64) -> Affine {
        let (c, f) = self.apply(dx, dy);
        Affine { c, f, ..*self }
    }

    /// The affine of the raster space the GeoTIFF tags describe (PixelIsArea: pixel corners).
    pub fn from_tags(geo: &GeoTags) -> Result<Affine, CogError> {
        let affine = if let Some(m) = &geo.transformation {
            if m.len() != 16 {
                return Err(CogError::Georef(format!("ModelTransformationTag has {} values, not 16", m.len())));
            }
            Affine { a: m[0], b: m[1], c: m[3], d: m[4], e: m[5], f: m[7] }
        } else {
            let (Some(scale), Some(ties)) = (&geo.pixel_scale, &geo.tiepoints) else {
                return Err(CogError::Georef(
                    "the image has no georeferencing (no ModelPixelScale + ModelTiepoint, no ModelTransformation)"
                        .into(),
                ));
            };
            if ties.len() != 6 {
                return Err(CogError::Georef(format!(
                    "{} tie points: ground control points are not supported, only one tie point with a pixel scale",
                    ties.len() / 6
                )));
            }
            if scale.len() < 2 {
                return Err(CogError::Georef("ModelPixelScaleTag has fewer than 2 values".into()));
            }
            let (i, j, x, y) = (ties[0], ties[1], ties[3], ties[4]);
            let (sx, sy) = (scale[0], scale[1]);
            Affine { a: sx, b: 0.0, c: x - i * sx, d: 0.0, e: -sy, f: y + j * sy }
        };
        if affine.inverse().is_none() {
            return Err(CogError::Georef(format!("the pixel → CRS transform is not invertible: {affine:?}")));
        }
        Ok(affine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiepoint_and_scale_and_their_inverse() {
        let geo = GeoTags {
            pixel_scale: Some(vec![0.1, 0.1, 0.0]),
            tiepoints: Some(vec![0.0, 0.0, 0.0, 404211.9, 3285142.9, 0.0]),
            ..GeoTags::default()
        };
        let t = Affine::from_tags(&geo).unwrap();
        assert_eq!(t.apply(10.0, 20.0), (404211.9 + 1.0, 3285142.9 - 2.0));
        let inv = t.inverse().unwrap();
        let (px, py) = inv.apply(404212.9, 3285140.9);
        assert!((px - 10.0).abs() < 1e-6 && (py - 20.0).abs() < 1e-6);
        let half = t.shifted(-0.5, -0.5);
        assert_eq!(half.apply(0.5, 0.5), t.apply(0.0, 0.0));
        assert_eq!(t.scaled(2.0, 2.0).apply(1.0, 1.0), t.apply(2.0, 2.0));
    }

    #[test]
    fn missing_or_gcp_georeferencing_is_refused() {
        assert!(Affine::from_tags(&GeoTags::default()).is_err());
        let gcps =
            GeoTags { pixel_scale: Some(vec![1.0, 1.0, 0.0]), tiepoints: Some(vec![0.0; 12]), ..GeoTags::default() };
        assert!(matches!(Affine::from_tags(&gcps), Err(CogError::Georef(m)) if m.contains("ground control")));
        let flat = GeoTags { transformation: Some(vec![0.0; 16]), ..GeoTags::default() };
        assert!(Affine::from_tags(&flat).is_err());
    }
}
