//! Parsing and validating the area of interest.

use crate::tiles::mercator::MAX_LAT;
use crate::{Error, Result};
use geo::orient::Direction;
use geo::{
    Area, BooleanOps, BoundingRect, Coord, Intersects, LineString, MapCoords, MultiPolygon, Orient, Point, Polygon,
    Rect, Validation, unary_union,
};
use serde_json::Value;

/// The area to run detection on: one or more polygons (with holes) in lon/lat degrees,
/// inside the Web Mercator latitude limits and not crossing the antimeridian.
#[derive(Debug, Clone, PartialEq)]
pub struct Aoi {
    geometry: MultiPolygon<f64>,
    bounds: Rect<f64>,
}

impl Aoi {
    /// Parses a GeoJSON Polygon or MultiPolygon geometry, a Feature with one, or a
    /// FeatureCollection of such Features (their polygons are unioned).
    ///
    /// Exterior rings come out counter-clockwise and holes clockwise, whatever the input.
    ///
    /// ```
    /// use geodetect::geojson::Aoi;
    ///
    /// let square = serde_json::json!({ "type": "Feature", "properties": {}, "geometry": {
    ///     "type": "Polygon",
    ///     "coordinates": [[[7.42, 43.73], [7.43, 43.73], [7.43, 43.74], [7.42, 43.74], [7.42, 43.73]]],
    /// }});
    /// let aoi = Aoi::from_json(&square).unwrap();
    /// assert!(aoi.contains_point(7.425, 43.735) && !aoi.contains_point(7.44, 43.735));
    ///
    /// // Every problem is INVALID_POLYGON with a message that says where it is.
    /// let open_ring = serde_json::json!({ "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]] });
    /// let err = Aoi::from_json(&open_ring).unwrap_err();
    /// assert_eq!(err.code().as_str(), "INVALID_POLYGON");
    /// assert!(err.to_string().contains("coordinates[0] is not closed"), "{err}");
    /// ```
    pub fn from_json(value: &Value) -> Result<Aoi> {
        let polygons: Vec<Polygon<f64>> = parse_root(value)?.iter().map(|p| p.orient(Direction::Default)).collect();
        let geometry = match polygons.len() {
            1 => MultiPolygon::new(polygons),
            // The union needs consistent winding, hence the orient above. It computes on a
            // fixed-precision grid: a vertex can move by ~5e-8°, and one on ±180° or
            // ±MAX_LAT then lies just outside the world, where no tile is (the area fuzz
            // target found lon 180.00000004768373). Back inside.
            _ => unary_union(&polygons)
                .map_coords(|c| Coord { x: c.x.clamp(-180.0, 180.0), y: c.y.clamp(-MAX_LAT, MAX_LAT) }),
        };
        let bounds =
            geometry.bounding_rect().ok_or_else(|| invalid("the area is empty; draw at least one polygon".into()))?;
        let width = bounds.width();
        if width > 180.0 {
            return Err(invalid(format!(
                "the area spans {width}° of longitude (from {} to {}); areas crossing the antimeridian (±180°) \
                 are not supported yet, so run detection separately on each side of it",
                bounds.min().x,
                bounds.max().x
            )));
        }
        Ok(Aoi { geometry, bounds })
    }

    /// The polygons.
    pub fn geometry(&self) -> &MultiPolygon<f64> {
        &self.geometry
    }

    /// The bounding box in lon/lat degrees.
    pub fn bounds(&self) -> Rect<f64> {
        self.bounds
    }

    /// Whether the point (degrees) is inside the area; points on an edge count as inside.
    pub fn contains_point(&self, lon: f64, lat: f64) -> bool {
        self.geometry.intersects(&Point::new(lon, lat))
    }

    /// Whether any part of the polygon with outline `ring` (`[lon, lat]` corners, closed or
    /// not) is inside the area.
    pub fn intersects_ring(&self, ring: &[[f64; 2]]) -> bool {
        self.geometry.intersects(&ring_polygon(ring))
    }

    /// Whether all of the polygon with outline `ring` is inside the area (its edge may lie
    /// on the area's edge): nothing of it is left outside, up to rounding. The boolean
    /// operations are already in the engine for the union of FeatureCollections; `Contains`
    /// would add geo's relate machinery, 60 KiB of gzip.
    pub fn contains_ring(&self, ring: &[[f64; 2]]) -> bool {
        let polygon = ring_polygon(ring);
        let outside = polygon.difference(&self.geometry).unsigned_area();
        outside <= polygon.unsigned_area() * 1e-9
    }
}

fn ring_polygon(ring: &[[f64; 2]]) -> Polygon<f64> {
    Polygon::new(LineString::from(ring.to_vec()), Vec::new())
}

fn invalid(message: String) -> Error {
    Error::InvalidPolygon(message)
}

/// `v` as JSON text, shortened for error messages.
fn preview(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// The `type` member of a GeoJSON object.
fn type_of<'a>(v: &'a Value, path: &str) -> Result<&'a str> {
    v.get("type").and_then(Value::as_str).ok_or_else(|| {
        invalid(format!(
            "{path} is not a GeoJSON object with a \"type\" (got {}); \
             pass a Polygon, MultiPolygon, Feature or FeatureCollection",
            preview(v)
        ))
    })
}

fn array<'a>(v: &'a Value, path: &str, what: &str) -> Result<&'a [Value]> {
    v.as_array().map(Vec::as_slice).ok_or_else(|| invalid(format!("{path} must be {what}, got {}", preview(v))))
}

fn parse_root(v: &Value) -> Result<Vec<Polygon<f64>>> {
    match type_of(v, "the input")? {
        "FeatureCollection" => {
            let features = array(v.get("features").unwrap_or(&Value::Null), "features", "an array of Features")?;
            if features.is_empty() {
                return Err(invalid("the FeatureCollection has no features; draw at least one polygon".into()));
            }
            let mut polygons = Vec::new();
            for (i, feature) in features.iter().enumerate() {
                let path = format!("features[{i}]");
                match type_of(feature, &path)? {
                    "Feature" => polygons.extend(parse_feature(feature, &path)?),
                    other => {
                        return Err(invalid(format!("{path} is a {other}, but a FeatureCollection holds Features")));
                    }
                }
            }
            Ok(polygons)
        }
        "Feature" => parse_feature(v, "the Feature"),
        _ => parse_geometry(v, "the geometry"),
    }
}

fn parse_feature(v: &Value, path: &str) -> Result<Vec<Polygon<f64>>> {
    match v.get("geometry") {
        None | Some(Value::Null) => Err(invalid(format!("{path} has no geometry; give it a Polygon or MultiPolygon"))),
        Some(geometry) => parse_geometry(geometry, &format!("{path}.geometry")),
    }
}

fn parse_geometry(v: &Value, path: &str) -> Result<Vec<Polygon<f64>>> {
    let kind = type_of(v, path)?;
    if !matches!(kind, "Polygon" | "MultiPolygon") {
        return Err(invalid(format!(
            "{path} is a {kind}, but only Polygon and MultiPolygon areas are supported; draw an area"
        )));
    }
    let coordinates = v.get("coordinates").ok_or_else(|| invalid(format!("{path} has no \"coordinates\"")))?;
    let path = format!("{path}.coordinates");
    if kind == "Polygon" {
        return Ok(vec![parse_polygon(coordinates, &path)?]);
    }
    let parts = array(coordinates, &path, "an array of polygons")?;
    if parts.is_empty() {
        return Err(invalid(format!("{path} is empty; a MultiPolygon needs at least one polygon")));
    }
    parts.iter().enumerate().map(|(i, p)| parse_polygon(p, &format!("{path}[{i}]"))).collect()
}

fn parse_polygon(v: &Value, path: &str) -> Result<Polygon<f64>> {
    let rings = array(v, path, "an array of linear rings")?;
    let Some((exterior, holes)) = rings.split_first() else {
        return Err(invalid(format!("{path} has no rings; a polygon needs an outer ring")));
    };
    let exterior = parse_ring(exterior, &format!("{path}[0]"))?;
    let holes = holes
        .iter()
        .enumerate()
        .map(|(i, ring)| parse_ring(ring, &format!("{path}[{}]", i + 1)))
        .collect::<Result<_>>()?;
    let polygon = Polygon::new(exterior, holes);
    if polygon.unsigned_area() <= 0.0 {
        return Err(invalid(format!(
            "{path} has zero area (its points lie on a line, or its holes cover it); draw a polygon that encloses an area"
        )));
    }
    // A ring that crosses itself (a bow tie), or holes outside the exterior or crossing it:
    // what is inside would depend on the fill rule; geo's validation says which ring.
    if let Err(problem) = polygon.check_validation() {
        return Err(invalid(format!(
            "{path} is not a valid polygon: its {problem} (rings in [longitude, latitude] order); redraw it so that no \
             edge crosses another"
        )));
    }
    Ok(polygon)
}

fn parse_ring(v: &Value, path: &str) -> Result<LineString<f64>> {
    let positions = array(v, path, "an array of [longitude, latitude] positions")?;
    if positions.len() < 4 {
        return Err(invalid(format!(
            "{path} has {} positions; a ring needs at least 4, the last repeating the first",
            positions.len()
        )));
    }
    let coords = positions
        .iter()
        .enumerate()
        .map(|(i, p)| parse_position(p, &format!("{path}[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    if let (Some(first), Some(last)) = (coords.first(), coords.last())
        && first != last
    {
        return Err(invalid(format!(
            "{path} is not closed: its last position [{}, {}] must repeat the first [{}, {}]",
            last.x, last.y, first.x, first.y
        )));
    }
    Ok(LineString::new(coords))
}

fn parse_position(v: &Value, path: &str) -> Result<Coord<f64>> {
    let Some([lon_value, lat_value, ..]) = v.as_array().map(Vec::as_slice) else {
        return Err(invalid(format!("{path} must be a [longitude, latitude] array, got {}", preview(v))));
    };
    let number = |value: &Value, name: &str| {
        value.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
            // NaN and ±Infinity have no JSON form: they arrive here as null.
            let got = if value.is_null() { "null (or NaN or Infinity)".into() } else { preview(value) };
            invalid(format!("{path}: the {name} must be a finite number, got {got}"))
        })
    };
    let (lon, lat) = (number(lon_value, "longitude")?, number(lat_value, "latitude")?);
    // The values as the caller wrote them (1e300, not three hundred digits).
    if !(-180.0..=180.0).contains(&lon) {
        return Err(invalid(format!(
            "{path}: longitude {} is outside [-180, 180]; positions are [longitude, latitude] in degrees",
            preview(lon_value)
        )));
    }
    if !(-MAX_LAT..=MAX_LAT).contains(&lat) {
        return Err(invalid(format!(
            "{path}: latitude {} is beyond ±{MAX_LAT}°, the limit of Web Mercator map tiles; \
             keep the area between {} and {MAX_LAT} (positions are [longitude, latitude])",
            preview(lat_value),
            -MAX_LAT
        )));
    }
    Ok(Coord { x: lon, y: lat })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn square(west: f64, south: f64, size: f64) -> Value {
        let (e, n) = (west + size, south + size);
        json!([[west, south], [e, south], [e, n], [west, n], [west, south]])
    }

    fn polygon(rings: &[Value]) -> Value {
        json!({"type": "Polygon", "coordinates": rings})
    }

    #[test]
    fn a_union_of_polygons_stays_inside_the_world() {
        // Vertices on the world's edges; the union's fixed-precision grid would move them out.
        let top = MAX_LAT;
        let parts = json!({"type": "MultiPolygon", "coordinates": [
            [[[170.0, 50.0], [180.0, 50.0], [180.0, top], [170.0, top], [170.0, 50.0]]],
            [[[175.0, 40.0], [180.0, 40.0], [180.0, 60.0], [175.0, 60.0], [175.0, 40.0]]],
            [[[-180.0, -top], [-170.0, -top], [-170.0, -50.0], [-180.0, -50.0], [-180.0, -top]]],
            [[[-179.0, -60.0], [-160.0, -60.0], [-160.0, -55.0], [-179.0, -55.0], [-179.0, -60.0]]],
        ]});
        let bounds = |v: &Value| Aoi::from_json(v).map(|a| a.bounds());
        // 350° wide: refused as an antimeridian area; each side alone is fine and inside.
        assert!(bounds(&parts).is_err());
        let coords = parts["coordinates"].as_array().unwrap();
        for half in [&coords[..2], &coords[2..]] {
            let b = bounds(&json!({"type": "MultiPolygon", "coordinates": half})).unwrap();
            assert!(b.min().x >= -180.0 && b.max().x <= 180.0, "{b:?}");
            assert!(b.min().y >= -MAX_LAT && b.max().y <= MAX_LAT, "{b:?}");
            assert!(b.max().x > 180.0 - 1e-6 || b.min().x < -180.0 + 1e-6, "{b:?}");
        }
    }

    fn feature(geometry: Value) -> Value {
        json!({"type": "Feature", "properties": {"name": "x"}, "geometry": geometry})
    }

    fn rejection(input: &Value) -> String {
        match Aoi::from_json(input) {
            Err(Error::InvalidPolygon(msg)) => msg,
            other => panic!("expected InvalidPolygon for {input}, got {other:?}"),
        }
    }

    #[test]
    fn polygon_with_hole() {
        let aoi = Aoi::from_json(&polygon(&[square(0.0, 0.0, 10.0), square(4.0, 4.0, 2.0)])).unwrap();
        assert_eq!(aoi.geometry().0.len(), 1);
        assert_eq!(aoi.geometry().0[0].interiors().len(), 1);
        assert_eq!(
            (aoi.bounds().min().x, aoi.bounds().min().y, aoi.bounds().max().x, aoi.bounds().max().y),
            (0.0, 0.0, 10.0, 10.0)
        );
        assert!(aoi.contains_point(1.0, 1.0));
        assert!(!aoi.contains_point(5.0, 5.0), "inside the hole");
        assert!(aoi.contains_point(4.0, 5.0), "on the hole's edge");
        assert!(aoi.contains_point(0.0, 3.0), "on the outer edge");
        assert!(aoi.contains_point(10.0, 10.0), "on a corner");
        assert!(!aoi.contains_point(10.000_001, 5.0));
        assert!(!aoi.contains_point(f64::NAN, 5.0));
    }

    #[test]
    fn all_accepted_shapes() {
        let multi = json!({"type": "MultiPolygon", "coordinates": [[square(0.0, 0.0, 1.0)], [square(5.0, 5.0, 1.0)]]});
        let fc = json!({"type": "FeatureCollection", "features": [feature(polygon(&[square(0.0, 0.0, 1.0)])), feature(multi.clone())]});
        let with_altitude = polygon(&[json!([[0, 0, 35.5], [1, 0, 36], [1, 1, 1], [0, 1, 2], [0, 0, 35.5]])]);
        for (input, parts) in [
            (polygon(&[square(0.0, 0.0, 1.0)]), 1),
            (feature(polygon(&[square(0.0, 0.0, 1.0)])), 1),
            (multi.clone(), 2),
            (feature(multi), 2),
            (fc, 2), // the first square is unioned with its duplicate
            (with_altitude, 1),
        ] {
            let aoi = Aoi::from_json(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(aoi.geometry().0.len(), parts, "{input}");
            assert!(aoi.contains_point(0.5, 0.5), "{input}");
        }
    }

    #[test]
    fn feature_collections_are_unioned() {
        // Two overlapping squares, one clockwise: the union must not depend on winding.
        let clockwise = json!([[2, 0], [2, 2], [4, 2], [4, 0], [2, 0]]);
        let fc = json!({"type": "FeatureCollection", "features": [
            feature(polygon(&[square(0.0, 0.0, 3.0)])),
            feature(polygon(&[clockwise])),
        ]});
        let aoi = Aoi::from_json(&fc).unwrap();
        assert_eq!(aoi.geometry().0.len(), 1);
        assert!((aoi.geometry().unsigned_area() - (9.0 + 4.0 - 2.0)).abs() < 1e-6);
        assert!(aoi.contains_point(3.5, 0.5) && aoi.contains_point(0.5, 2.5) && !aoi.contains_point(3.5, 2.5));
        use geo::{Winding, winding_order::WindingOrder};
        assert!(aoi.geometry().0.iter().all(|p| p.exterior().winding_order() == Some(WindingOrder::CounterClockwise)));
    }

    #[test]
    fn boxes_against_an_area_with_a_hole() {
        // A 10° square with a 4° hole in the middle.
        let aoi = Aoi::from_json(&json!({ "type": "Polygon", "coordinates": [
            [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]],
            [[3.0, 3.0], [3.0, 7.0], [7.0, 7.0], [7.0, 3.0], [3.0, 3.0]]
        ] }))
        .unwrap();
        let square = |x: f64, y: f64, s: f64| [[x, y], [x + s, y], [x + s, y + s], [x, y + s]];
        // (box, intersects, within)
        let cases = [
            (square(1.0, 1.0, 1.0), true, true),    // inside
            (square(0.0, 0.0, 1.0), true, true),    // sharing two edges with the area's
            (square(9.5, 5.0, 1.0), true, false),   // across the outer edge
            (square(2.5, 4.0, 1.0), true, false),   // across the hole's edge
            (square(4.0, 4.0, 1.0), false, false),  // in the hole
            (square(20.0, 5.0, 1.0), false, false), // outside
        ];
        for (ring, intersects, within) in cases {
            assert_eq!(aoi.intersects_ring(&ring), intersects, "intersects {ring:?}");
            assert_eq!(aoi.contains_ring(&ring), within, "within {ring:?}");
        }
        // A tilted box whose corners are all inside, across the hole: not within.
        let tilted = [[2.0, 5.0], [5.0, 2.0], [8.0, 5.0], [5.0, 8.0]];
        assert!(aoi.intersects_ring(&tilted) && !aoi.contains_ring(&tilted));
    }

    #[test]
    fn every_rejection_is_invalid_polygon() {
        let ok_ring = || square(0.0, 0.0, 1.0);
        let cases = [
            (json!(null), "not a GeoJSON object with a \"type\" (got null)"),
            (json!(1), "not a GeoJSON object with a \"type\" (got 1)"),
            (json!(-1e308), "not a GeoJSON object with a \"type\" (got -1e+308)"),
            (json!("Polygon"), "not a GeoJSON object with a \"type\" (got \"Polygon\")"),
            (json!([]), "not a GeoJSON object with a \"type\" (got [])"),
            (json!([[0, 0], [1, 1]]), "not a GeoJSON object with a \"type\" (got [[0,0],[1,1]])"),
            (json!({}), "not a GeoJSON object with a \"type\" (got {})"),
            (json!({"type": 5}), "not a GeoJSON object with a \"type\" (got {\"type\":5})"),
            (
                json!({"type": "Circle", "coordinates": [0, 0]}),
                "the geometry is a Circle, but only Polygon and MultiPolygon",
            ),
            (
                json!({"type": "Point", "coordinates": [0, 0]}),
                "the geometry is a Point, but only Polygon and MultiPolygon",
            ),
            (
                json!({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}),
                "the geometry is a LineString, but only Polygon and MultiPolygon",
            ),
            (
                json!({"type": "GeometryCollection", "geometries": [polygon(&[ok_ring()])]}),
                "the geometry is a GeometryCollection, but only Polygon and MultiPolygon",
            ),
            (json!({"type": "Polygon"}), "the geometry has no \"coordinates\""),
            (
                json!({"type": "Polygon", "coordinates": "0,0,1,1"}),
                "coordinates must be an array of linear rings, got \"0,0,1,1\"",
            ),
            (json!({"type": "Polygon", "coordinates": []}), "coordinates has no rings"),
            (
                json!({"type": "Polygon", "coordinates": [[]]}),
                "coordinates[0] has 0 positions; a ring needs at least 4",
            ),
            (
                json!({"type": "Polygon", "coordinates": [0, 0, 1, 1]}),
                "coordinates[0] must be an array of [longitude, latitude] positions, got 0",
            ),
            (json!({"type": "Polygon", "coordinates": ok_ring()}), "coordinates[0] has 2 positions"), // one level too shallow
            (json!({"type": "Polygon", "coordinates": [[ok_ring()]]}), "coordinates[0] has 1 positions"), // one level too deep
            (polygon(&[json!([[0, 0], [1, 0], [0, 0]])]), "coordinates[0] has 3 positions"),
            (
                polygon(&[json!([[0, 0], [1, 0], [1, 1], [0, 1]])]),
                "coordinates[0] is not closed: its last position [0, 1] must repeat the first [0, 0]",
            ),
            (
                polygon(&[json!([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0.000_001]])]),
                "coordinates[0] is not closed: its last position [0, 0.000001]",
            ),
            (
                polygon(&[json!([["0", 0], [1, 0], [1, 1], [0, 0]])]),
                "coordinates[0][0]: the longitude must be a finite number, got \"0\"",
            ),
            (
                polygon(&[json!([[0], [1, 0], [1, 1], [0]])]),
                "coordinates[0][0] must be a [longitude, latitude] array, got [0]",
            ),
            (
                polygon(&[json!([[0, null], [1, 0], [1, 1], [0, null]])]),
                "coordinates[0][0]: the latitude must be a finite number, got null",
            ),
            (
                polygon(&[json!([[f64::NAN, 0], [1, 0], [1, 1], [f64::NAN, 0]])]),
                "coordinates[0][0]: the longitude must be a finite number, got null",
            ),
            (
                polygon(&[json!([[f64::MAX, 0], [1, 0], [1, 1], [f64::MAX, 0]])]),
                "coordinates[0][0]: longitude 1.7976931348623157e+308 is outside [-180, 180]",
            ),
            (
                polygon(&[json!([[0, -1e300], [1, 0], [1, 1], [0, -1e300]])]),
                "coordinates[0][0]: latitude -1e+300 is beyond ±85.0511287798066°",
            ),
            (
                polygon(&[json!([[0, 0], [180.5, 0], [1, 1], [0, 0]])]),
                "coordinates[0][1]: longitude 180.5 is outside [-180, 180]",
            ),
            (
                polygon(&[json!([[0, 80], [1, 80], [1, 86], [0, 80]])]),
                "coordinates[0][2]: latitude 86 is beyond ±85.0511287798066°",
            ),
            (polygon(&[json!([[0, 0], [1, 1], [2, 2], [0, 0]])]), "has zero area"),
            (
                polygon(&[ok_ring(), json!("hole")]),
                "coordinates[1] must be an array of [longitude, latitude] positions, got \"hole\"",
            ),
            (polygon(&[ok_ring(), ok_ring()]), "has zero area"),
            (
                polygon(&[json!([[-170, 0], [170, 0], [170, 1], [-170, 1], [-170, 0]])]),
                "spans 340° of longitude (from -170 to 170); areas crossing the antimeridian",
            ),
            (
                json!({"type": "MultiPolygon", "coordinates": []}),
                "coordinates is empty; a MultiPolygon needs at least one polygon",
            ),
            (json!({"type": "MultiPolygon", "coordinates": [ok_ring()]}), "coordinates[0][0] has 2 positions"),
            (
                json!({"type": "MultiPolygon", "coordinates": [[square(170.0, 0.0, 1.0)], [square(-171.0, 0.0, 1.0)]]}),
                "spans 342° of longitude (from -171 to 171)",
            ),
            (json!({"type": "Feature", "properties": {}}), "the Feature has no geometry"),
            (json!({"type": "Feature", "geometry": null}), "the Feature has no geometry"),
            (feature(json!({"type": "Point", "coordinates": [0, 0]})), "the Feature.geometry is a Point"),
            (feature(json!([1, 2])), "the Feature.geometry is not a GeoJSON object with a \"type\" (got [1,2])"),
            (json!({"type": "FeatureCollection"}), "features must be an array of Features, got null"),
            (json!({"type": "FeatureCollection", "features": {}}), "features must be an array of Features, got {}"),
            (json!({"type": "FeatureCollection", "features": []}), "the FeatureCollection has no features"),
            (
                json!({"type": "FeatureCollection", "features": [polygon(&[ok_ring()])]}),
                "features[0] is a Polygon, but a FeatureCollection holds Features",
            ),
            (
                json!({"type": "FeatureCollection", "features": [feature(polygon(&[ok_ring()])), 7]}),
                "features[1] is not a GeoJSON object with a \"type\" (got 7)",
            ),
            (
                json!({"type": "FeatureCollection", "features": [feature(json!({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}))]}),
                "features[0].geometry is a LineString",
            ),
        ];
        for (input, fragment) in &cases {
            let msg = rejection(input);
            assert!(msg.contains(fragment), "{input}: {msg:?} does not say {fragment:?}");
            assert!(msg.len() < 250, "{input}: {msg}");
        }
    }

    #[test]
    fn rings_that_cross_are_refused() {
        let bowtie = polygon(&[json!([[0, 0], [2, 2], [2, 0], [0, 1], [0, 0]])]);
        let msg = rejection(&bowtie);
        assert!(msg.contains("coordinates is not a valid polygon") && msg.contains("self-intersection"), "{msg}");
        // A hole that reaches outside its exterior ring.
        let outside =
            polygon(&[square(0.0, 0.0, 1.0), json!([[0.5, 0.5], [0.5, 2], [0.6, 2], [0.6, 0.5], [0.5, 0.5]])]);
        assert!(rejection(&outside).contains("interior ring at index 0"), "{}", rejection(&outside));
        // In a FeatureCollection, the message names the feature.
        let msg = rejection(&json!({"type": "FeatureCollection", "features": [feature(bowtie)]}));
        assert!(msg.contains("features[0].geometry.coordinates"), "{msg}");
    }

    #[test]
    fn messages_explain_the_problem() {
        let msg = rejection(&polygon(&[json!([[0, 80], [1, 80], [1, 86], [0, 80]])]));
        assert!(msg.contains("Web Mercator") && msg.contains("85.05") && msg.contains("coordinates[0][2]"), "{msg}");
        let msg = rejection(&polygon(&[json!([[-170, 0], [170, 0], [170, 1], [-170, 1], [-170, 0]])]));
        assert!(msg.contains("antimeridian") && msg.contains("not supported yet"), "{msg}");
        let msg = rejection(&polygon(&[json!([[0, 0], [1, 0], [0, 0]])]));
        assert!(msg.contains("at least 4"), "{msg}");
        let msg = rejection(&polygon(&[json!([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0.5]])]));
        assert!(msg.contains("not closed"), "{msg}");
        let msg =
            rejection(&json!({"type": "FeatureCollection", "features": [feature(polygon(&[square(0.0, 0.0, 1.0)])),
            feature(json!({"type": "Point", "coordinates": [0, 0]}))]}));
        assert!(msg.contains("features[1].geometry") && msg.contains("Point"), "{msg}");
        let long = polygon(&[Value::from(vec!["x".repeat(1000); 5])]);
        let msg = rejection(&long);
        assert!(msg.len() < 250, "{msg}");
    }
}
