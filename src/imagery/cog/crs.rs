//! [`Crs`]: a CRS given by its EPSG code, and the way between its coordinates and WGS 84
//! longitude/latitude: the code's proj4 definition (the `crs-definitions` table, through
//! `proj4rs`) and `proj4rs`'s projections and datum shifts.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use proj4rs::Proj;

use super::error::CogError;
use super::geokeys::CrsKind;

/// WGS 84 longitude/latitude, what geodetect speaks.
const WGS84: &str = "+proj=longlat +datum=WGS84 +no_defs";

/// A CRS, ready to transform.
pub struct Crs {
    epsg: u16,
    kind: CrsKind,
    /// `None` for EPSG:4326 itself (no transformation).
    proj: Option<(Proj, Proj)>,
}

impl std::fmt::Debug for Crs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crs").field("epsg", &self.epsg).field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl Crs {
    /// The CRS of EPSG code `epsg`; an error for codes without a proj4 definition.
    pub fn from_epsg(epsg: u16, kind: CrsKind) -> Result<Crs, CogError> {
        if epsg == 4326 {
            return Ok(Crs { epsg, kind, proj: None });
        }
        let proj = Proj::from_epsg_code(epsg).map_err(|e| {
            CogError::Georef(format!("EPSG:{epsg} has no usable proj4 definition ({e}); reproject the image"))
        })?;
        let is_latlong = proj.is_latlong();
        if is_latlong != (kind == CrsKind::Geographic) {
            return Err(CogError::Georef(format!(
                "EPSG:{epsg} is {} but the geokeys call it {kind:?}",
                if is_latlong { "geographic" } else { "projected" }
            )));
        }
        let wgs84 = Proj::from_proj_string(WGS84).map_err(|e| CogError::Georef(format!("WGS 84: {e}")))?;
        Ok(Crs { epsg, kind, proj: Some((proj, wgs84)) })
    }

    /// [`Crs::from_epsg`], made once per thread and code and then shared: a pixel grid in the
    /// CRS ([`crate::imagery::Grid`]) is a small `Copy` value naming its EPSG code, and maps
    /// every box corner through this.
    pub fn shared(epsg: u16, kind: CrsKind) -> Result<Rc<Crs>, CogError> {
        thread_local! {
            static MADE: RefCell<HashMap<(u16, CrsKind), Rc<Crs>>> = RefCell::default();
        }
        if let Some(crs) = MADE.with_borrow(|made| made.get(&(epsg, kind)).cloned()) {
            return Ok(crs);
        }
        let crs = Rc::new(Crs::from_epsg(epsg, kind)?);
        MADE.with_borrow_mut(|made| made.insert((epsg, kind), crs.clone()));
        Ok(crs)
    }

    /// The EPSG code.
    pub fn epsg(&self) -> u16 {
        self.epsg
    }

    /// Projected or geographic.
    pub fn kind(&self) -> CrsKind {
        self.kind
    }

    /// CRS coordinates → WGS 84 `(lon, lat)` in degrees.
    pub fn to_lonlat(&self, x: f64, y: f64) -> Result<(f64, f64), CogError> {
        let Some((proj, wgs84)) = &self.proj else { return Ok((x, y)) };
        let mut p = if proj.is_latlong() { (x.to_radians(), y.to_radians(), 0.0) } else { (x, y, 0.0) };
        proj4rs::transform::transform(proj, wgs84, &mut p)
            .map_err(|e| CogError::Georef(format!("EPSG:{} ({x}, {y}) → lon/lat: {e}", self.epsg)))?;
        finite((p.0.to_degrees(), p.1.to_degrees()), || format!("EPSG:{} ({x}, {y}) → lon/lat", self.epsg))
    }

    /// WGS 84 `(lon, lat)` in degrees → CRS coordinates.
    pub fn from_lonlat(&self, lon: f64, lat: f64) -> Result<(f64, f64), CogError> {
        let Some((proj, wgs84)) = &self.proj else { return Ok((lon, lat)) };
        let mut p = (lon.to_radians(), lat.to_radians(), 0.0);
        proj4rs::transform::transform(wgs84, proj, &mut p)
            .map_err(|e| CogError::Georef(format!("lon/lat ({lon}, {lat}) → EPSG:{}: {e}", self.epsg)))?;
        let p = if proj.is_latlong() { (p.0.to_degrees(), p.1.to_degrees()) } else { (p.0, p.1) };
        finite(p, || format!("lon/lat ({lon}, {lat}) → EPSG:{}", self.epsg))
    }
}

fn finite(p: (f64, f64), what: impl FnOnce() -> String) -> Result<(f64, f64), CogError> {
    if p.0.is_finite() && p.1.is_finite() {
        Ok(p)
    } else {
        Err(CogError::Georef(format!("{}: outside the projection's domain", what())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm_web_mercator_and_unknown_codes() {
        // EPSG:32617 false easting: the central meridian (-81°) on the equator is (500000, 0).
        let utm = Crs::from_epsg(32617, CrsKind::Projected).unwrap();
        let (lon, lat) = utm.to_lonlat(500000.0, 0.0).unwrap();
        assert!((lon + 81.0).abs() < 1e-9 && lat.abs() < 1e-9, "{lon} {lat}");
        let (x, y) = utm.from_lonlat(-81.0, 0.0).unwrap();
        assert!((x - 500000.0).abs() < 1e-6 && y.abs() < 1e-6, "{x} {y}");
        // Web Mercator: x = R·λ on the sphere of radius 6378137.
        let merc = Crs::from_epsg(3857, CrsKind::Projected).unwrap();
        let (x, _) = merc.from_lonlat(90.0, 0.0).unwrap();
        assert!((x - 6378137.0 * std::f64::consts::FRAC_PI_2).abs() < 1e-6, "{x}");
        assert!(matches!(Crs::from_epsg(1, CrsKind::Projected), Err(CogError::Georef(m)) if m.contains("EPSG:1")));
        assert!(Crs::from_epsg(32617, CrsKind::Geographic).is_err(), "kind mismatch");
    }

    /// Other projections and a datum shift, against pyproj (PROJ 9) from WGS 84 lon/lat with
    /// the EPSG database (the same numbers as with these codes' proj4 strings). The OSGB36
    /// datum shift (a 7-parameter Helmert) lands 3 mm from PROJ's; the rest within 1 mm.
    #[test]
    fn lambert_laea_osgb36_and_nad83_agree_with_pyproj() {
        for (epsg, lon, lat, x, y, metres) in [
            (2154, 2.35, 48.85, 652301.5648305281, 6861302.725899576, 1e-3),
            (3035, 10.0, 52.0, 4321000.0, 3210000.0, 1e-3),
            (27700, -1.5, 52.5, 434039.4572860588, 289239.2810926733, 1e-2),
            (32633, 15.0, 60.0, 500000.0000000009, 6651411.190362714, 1e-3),
        ] {
            let crs = Crs::from_epsg(epsg, CrsKind::Projected).unwrap();
            let (px, py) = crs.from_lonlat(lon, lat).unwrap();
            assert!((px - x).hypot(py - y) < metres, "EPSG:{epsg}: ({px}, {py}) vs ({x}, {y})");
            let (blon, blat) = crs.to_lonlat(x, y).unwrap();
            assert!(
                (blon - lon).abs() < metres * 1e-5 && (blat - lat).abs() < metres * 1e-5,
                "EPSG:{epsg}: back to ({blon}, {blat})"
            );
        }
        let nad83 = Crs::from_epsg(4269, CrsKind::Geographic).unwrap();
        let (lon, lat) = nad83.to_lonlat(-81.99, 29.69).unwrap();
        assert!((lon + 81.99).abs() < 1e-9 && (lat - 29.69).abs() < 1e-9, "{lon} {lat}");
    }
}
