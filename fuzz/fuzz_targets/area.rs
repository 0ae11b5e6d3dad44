//! Any bytes as the area argument of `detect()`: JSON → `Aoi::from_json` (GeoJSON type,
//! rings, coordinates, validity). A valid area must have finite bounds inside the Web
//! Mercator world (±180°, ±MAX_LAT).
#![no_main]

use geodetect::geojson::Aoi;
use geodetect::tiles::mercator::MAX_LAT;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(aoi) = Aoi::from_json(&value) {
        let b = aoi.bounds();
        let (min, max) = (b.min(), b.max());
        assert!(min.x.is_finite() && min.y.is_finite() && max.x.is_finite() && max.y.is_finite());
        assert!((-180.0..=180.0).contains(&min.x) && (-180.0..=180.0).contains(&max.x), "{b:?}");
        assert!((-MAX_LAT..=MAX_LAT).contains(&min.y) && (-MAX_LAT..=MAX_LAT).contains(&max.y), "{b:?}");
        assert!(min.x <= max.x && min.y <= max.y, "{b:?}");
        let _ = aoi.contains_point(min.x, min.y);
    }
});
