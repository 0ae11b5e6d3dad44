//! GeoJSON in and out: the area of interest ([`Aoi`]) that comes in, and the RFC 7946
//! FeatureCollection of detections ([`feature_collection`]) that goes out.

mod aoi;
mod output;

pub use aoi::Aoi;
pub use output::{DetectionFeature, DetectionProperties, feature_collection};
