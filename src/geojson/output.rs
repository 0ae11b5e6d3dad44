//! The RFC 7946 FeatureCollection of detections.

use geo::{LineString, Winding};
use serde::Serialize;
use serde_json::{Value, json};

/// The `properties` of each detection Feature.
#[derive(Debug, Clone, PartialEq, Default, Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct DetectionProperties {
    /// Class name, from the model's class list.
    pub class: String,
    /// Class index in the model's `classes`.
    pub class_id: u32,
    /// Confidence in [0, 1].
    #[serde(serialize_with = "shortest_f32")]
    pub score: f32,
}

/// The shortest decimal that reads back as the same f32 (0.9, not 0.8999999761581421).
fn shortest_f32<S: serde::Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(v.to_string().parse().unwrap_or(f64::from(*v)))
}

/// One detection, ready for output.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DetectionFeature {
    /// Class and score.
    pub properties: DetectionProperties,
    /// Outline corners as `[lon, lat]`, in either winding order; closing it (repeating
    /// the first corner) is optional.
    pub ring: Vec<[f64; 2]>,
}

/// An RFC 7946 FeatureCollection with one Polygon Feature per detection: rings closed
/// and counter-clockwise, coordinates rounded to 1e-9 degrees (about 0.1 mm).
///
/// Detections that cannot be a valid GeoJSON Polygon (fewer than 3 corners, a
/// non-finite coordinate or score) are left out; the detector never produces them.
pub fn feature_collection(features: &[DetectionFeature]) -> Value {
    let features: Vec<Value> = features.iter().filter_map(feature).collect();
    json!({"type": "FeatureCollection", "features": features})
}

fn feature(f: &DetectionFeature) -> Option<Value> {
    let round = |v: f64| (v * 1e9).round() / 1e9;
    let mut ring = LineString::from(f.ring.iter().map(|&[lon, lat]| [round(lon), round(lat)]).collect::<Vec<_>>());
    if !f.properties.score.is_finite() || ring.coords().any(|c| !c.x.is_finite() || !c.y.is_finite()) {
        return None;
    }
    ring.close();
    if ring.0.len() < 4 {
        return None;
    }
    ring.make_ccw_winding();
    let coordinates: Vec<[f64; 2]> = ring.coords().map(|c| [c.x, c.y]).collect();
    let properties = serde_json::to_value(&f.properties).ok()?;
    Some(json!({
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [coordinates]},
        "properties": properties,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(ring: Vec<[f64; 2]>) -> DetectionFeature {
        DetectionFeature { properties: DetectionProperties { class: "car".into(), class_id: 2, score: 0.9 }, ring }
    }

    fn ring_of(feature: &Value) -> Vec<[f64; 2]> {
        serde_json::from_value(feature["geometry"]["coordinates"][0].clone()).unwrap()
    }

    const CCW: [[f64; 2]; 4] = [[2.0, 48.0], [2.001, 48.0], [2.001, 48.001], [2.0, 48.001]];

    #[test]
    fn rings_are_closed_and_counter_clockwise() {
        let mut cw = CCW.to_vec();
        cw.reverse();
        let mut closed_cw = cw.clone();
        closed_cw.push(cw[0]);
        let fc = feature_collection(&[detection(CCW.to_vec()), detection(cw), detection(closed_cw)]);
        let features = fc["features"].as_array().unwrap();
        assert_eq!(features.len(), 3);
        for f in features {
            let ring = ring_of(f);
            assert_eq!(ring.len(), 5, "{f}");
            assert_eq!(ring.first(), ring.last());
            let winding = LineString::from(ring.clone()).winding_order();
            assert_eq!(winding, Some(geo::winding_order::WindingOrder::CounterClockwise), "{f}");
            assert!(CCW.iter().all(|c| ring.contains(c)));
        }
        assert_eq!(ring_of(&features[0])[..4], CCW);
    }

    #[test]
    fn properties_and_rounding() {
        let d = detection(vec![[2.123_456_789_49, 48.0], [3.0, 48.0], [3.0, 49.0]]);
        let fc = feature_collection(&[d]);
        let f = &fc["features"][0];
        assert_eq!(f["type"], "Feature");
        assert_eq!(f["geometry"]["type"], "Polygon");
        assert_eq!(f["properties"], json!({"class": "car", "classId": 2, "score": 0.9}));
        assert_eq!(ring_of(f)[0], [2.123_456_789, 48.0]);
        assert!(fc.get("crs").is_none() && f.get("crs").is_none());
    }

    #[test]
    fn output_is_valid_geojson() {
        let fc = feature_collection(&[detection(CCW.to_vec()), detection(vec![[-1.0, -1.0], [-1.0, 0.0], [0.0, 0.0]])]);
        let parsed: geojson::GeoJson = fc.to_string().parse().unwrap();
        let geojson::GeoJson::FeatureCollection(parsed) = parsed else { panic!("not a FeatureCollection: {fc}") };
        assert_eq!(parsed.features.len(), 2);
        for f in &parsed.features {
            let geometry = f.geometry.as_ref().unwrap();
            assert!(
                matches!(&geometry.value, geojson::GeometryValue::Polygon { coordinates } if coordinates.len() == 1)
            );
            assert_eq!(f.property("class"), Some(&json!("car")));
        }
        let empty = feature_collection(&[]);
        assert_eq!(empty, json!({"type": "FeatureCollection", "features": []}));
    }

    #[test]
    fn broken_detections_are_left_out() {
        let broken = [
            detection(vec![[0.0, 0.0], [1.0, 1.0]]),
            detection(vec![[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]),
            detection(vec![]),
            detection(vec![[0.0, 0.0], [1.0, f64::NAN], [1.0, 1.0]]),
            DetectionFeature {
                properties: DetectionProperties { score: f32::NAN, ..detection(CCW.to_vec()).properties },
                ..detection(CCW.to_vec())
            },
        ];
        for bad in broken {
            let mut good = detection(CCW.to_vec());
            good.properties.class = "ok".into();
            let fc = feature_collection(&[bad.clone(), good]);
            let features = fc["features"].as_array().unwrap();
            assert_eq!(features.len(), 1, "{bad:?}");
            assert_eq!(features[0]["properties"]["class"], "ok");
        }
    }
}
