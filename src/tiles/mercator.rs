//! Exact spherical Web Mercator (EPSG:3857, sphere radius 6 378 137 m).
//!
//! Three coordinate systems appear here:
//! - lon/lat in degrees (WGS 84 as used by GeoJSON);
//! - EPSG:3857 metres, x eastwards and y northwards from (0°, 0°);
//! - *global pixels* at a zoom `z` and tile size `t`: the world is a square of
//!   `2^z * t` pixels, x grows eastwards from the antimeridian and y southwards from
//!   [`MAX_LAT`].
//!
//! Latitudes beyond ±[`MAX_LAT`] are clamped by the forward transforms.

use std::f64::consts::PI;

/// Sphere radius of EPSG:3857, in metres.
pub const EARTH_RADIUS_M: f64 = 6_378_137.0;
/// Half the equator's length: the largest |x| (and |y|) in EPSG:3857 metres.
pub const HALF_CIRCUMFERENCE_M: f64 = PI * EARTH_RADIUS_M;
/// Northern (and, negated, southern) edge of the square Web Mercator world, in degrees:
/// `atan(sinh(π))`.
pub const MAX_LAT: f64 = 85.051_128_779_806_6;

/// Clamps a latitude to ±[`MAX_LAT`].
pub fn clamp_lat(lat: f64) -> f64 {
    lat.clamp(-MAX_LAT, MAX_LAT)
}

/// Edge length of the world in global pixels: `2^zoom * tile_size`.
pub fn world_size_px(zoom: u8, tile_size: u32) -> f64 {
    f64::from(tile_size) * f64::from(zoom).exp2()
}

/// Mercator "y" of a latitude on the unit sphere: `ln(tan φ + sec φ)`.
fn lat_to_unit_y(lat: f64) -> f64 {
    clamp_lat(lat).to_radians().tan().asinh()
}

/// Inverse of [`lat_to_unit_y`]: `atan(sinh(y))`, in degrees.
fn unit_y_to_lat(y: f64) -> f64 {
    y.sinh().atan().to_degrees()
}

/// lon/lat (degrees) to global pixel `[x, y]` at `zoom` for `tile_size`-pixel tiles.
///
/// ```
/// use geodetect::tiles::mercator::{lonlat_to_pixel, pixel_to_lonlat};
///
/// // Null Island is the centre of the world: at zoom 1 the world is 512 pixels wide.
/// assert_eq!(lonlat_to_pixel(0.0, 0.0, 1, 256), [256.0, 256.0]);
/// // Port Hercule, Monaco, at zoom 19: pixel (69876582, 48941253), in tile 19/272955/191176.
/// let [x, y] = lonlat_to_pixel(7.4236, 43.7350, 19, 256);
/// assert_eq!((x.floor(), y.floor()), (69_876_582.0, 48_941_253.0));
/// assert_eq!(((x / 256.0).floor(), (y / 256.0).floor()), (272_955.0, 191_176.0));
/// // The inverse (exact inverse Mercator) gets the point back.
/// let [lon, lat] = pixel_to_lonlat(x, y, 19, 256);
/// assert!((lon - 7.4236).abs() < 1e-9 && (lat - 43.7350).abs() < 1e-9);
/// ```
pub fn lonlat_to_pixel(lon: f64, lat: f64, zoom: u8, tile_size: u32) -> [f64; 2] {
    let world = world_size_px(zoom, tile_size);
    [(lon + 180.0) / 360.0 * world, (1.0 - lat_to_unit_y(lat) / PI) / 2.0 * world]
}

/// Global pixel `[x, y]` at `zoom` for `tile_size`-pixel tiles to `[lon, lat]` degrees.
pub fn pixel_to_lonlat(x: f64, y: f64, zoom: u8, tile_size: u32) -> [f64; 2] {
    let world = world_size_px(zoom, tile_size);
    [x / world * 360.0 - 180.0, unit_y_to_lat(PI * (1.0 - 2.0 * y / world))]
}

/// Global pixel `[x, y]` to EPSG:3857 metres.
pub fn pixel_to_3857(x: f64, y: f64, zoom: u8, tile_size: u32) -> [f64; 2] {
    let world = world_size_px(zoom, tile_size);
    let span = 2.0 * HALF_CIRCUMFERENCE_M;
    [(x / world - 0.5) * span, (0.5 - y / world) * span]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::tiles::{MAX_ZOOM, TileRange};

    /// lon/lat (degrees) to EPSG:3857 metres, written independently of the pixel
    /// functions (the textbook formulas) to check them.
    pub(crate) fn lonlat_to_3857(lon: f64, lat: f64) -> [f64; 2] {
        [EARTH_RADIUS_M * lon.to_radians(), EARTH_RADIUS_M * (PI / 4.0 + clamp_lat(lat).to_radians() / 2.0).tan().ln()]
    }

    fn lons() -> impl Iterator<Item = f64> {
        [-180.0, -179.999_999, -122.419_4, -45.5, -0.000_001, 0.0, 2.294_5, 90.0, 179.999_999, 180.0].into_iter()
    }

    fn lats() -> impl Iterator<Item = f64> {
        [-MAX_LAT, -85.0, -60.123, -1e-7, 0.0, 33.3, 48.858_4, 70.0, 85.0, MAX_LAT].into_iter()
    }

    #[test]
    fn lonlat_pixel_round_trip_all_zooms() {
        for zoom in 0..=MAX_ZOOM {
            for tile_size in [256, 512] {
                for lon in lons() {
                    for lat in lats() {
                        let [px, py] = lonlat_to_pixel(lon, lat, zoom, tile_size);
                        let [lon2, lat2] = pixel_to_lonlat(px, py, zoom, tile_size);
                        assert!(
                            (lon2 - lon).abs() < 1e-9 && (lat2 - lat).abs() < 1e-9,
                            "z{zoom} t{tile_size} ({lon}, {lat}) -> ({lon2}, {lat2})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn pixels_to_metres() {
        for lon in lons() {
            for lat in lats() {
                let [x, y] = lonlat_to_3857(lon, lat);
                let [px, py] = lonlat_to_pixel(lon, lat, 17, 256);
                let [x2, y2] = pixel_to_3857(px, py, 17, 256);
                assert!((x2 - x).abs() < 1e-6 && (y2 - y).abs() < 1e-6, "({lon}, {lat})");
            }
        }
    }

    #[test]
    fn known_values() {
        assert!((lonlat_to_3857(180.0, 0.0)[0] - 20_037_508.342_789_244).abs() < 1e-6);
        assert!((lonlat_to_3857(0.0, MAX_LAT)[1] - 20_037_508.342_789_244).abs() < 1e-3);
        assert_eq!(lonlat_to_pixel(0.0, 0.0, 0, 256), [128.0, 128.0]);
        assert_eq!(lonlat_to_pixel(-180.0, MAX_LAT, 0, 256)[0], 0.0);
        assert!(lonlat_to_pixel(-180.0, MAX_LAT, 0, 256)[1].abs() < 1e-9);
        assert!((lonlat_to_pixel(180.0, -MAX_LAT, 1, 512)[1] - 1024.0).abs() < 1e-9);
        // Latitudes beyond the Mercator limit are clamped to the world's edge.
        assert_eq!(lonlat_to_pixel(0.0, 89.9, 3, 256), lonlat_to_pixel(0.0, MAX_LAT, 3, 256));
        assert!((MAX_LAT - unit_y_to_lat(PI)).abs() < 1e-12);
        // Slippy-map tiles (OSM wiki formula) of well-known places.
        for (lon, lat, z, x, y) in [
            (2.2945, 48.8584, 18, 132_742, 90_182),  // Eiffel Tower
            (-0.1276, 51.5072, 12, 2046, 1362),      // London
            (139.6917, 35.6895, 15, 29_099, 12_902), // Tokyo
            (-122.4194, 37.7749, 10, 163, 395),      // San Francisco
        ] {
            let p = lonlat_to_pixel(lon, lat, z, 256);
            let r = TileRange::covering_pixels(z, 256, p, p);
            assert_eq!((r.x_min, r.y_min, r.count()), (x, y, 1), "({lon}, {lat}) z{z}");
        }
    }
}
