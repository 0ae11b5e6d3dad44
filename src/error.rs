//! The crate's one error type. Every core function returns `Result<_, Error>`; the wasm
//! boundary (`crate::web`) turns an [`Error`] into a JS `Error` whose `code` property is
//! [`Error::code`], so callers can branch on a stable string instead of parsing messages.

/// Everything that can go wrong between a polygon and a FeatureCollection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The area of interest is not a usable GeoJSON Polygon / MultiPolygon.
    #[error("invalid polygon: {0}")]
    InvalidPolygon(String),

    /// The zoom level is outside what Web Mercator tiling or the tile source supports.
    #[error("zoom {zoom} is out of range: {min}..={max} is supported here")]
    ZoomOutOfRange { zoom: i64, min: u8, max: u8 },

    /// The polygon at this zoom needs more tiles than the configured cap.
    #[error(
        "the polygon needs {needed} tiles at zoom {zoom}, more than the limit of {limit}; \
         lower the zoom, split the area, or raise `maxTiles`"
    )]
    TooManyTiles { needed: u64, limit: u64, zoom: u8 },

    /// Options that do not make sense (negative thresholds, a URL template without `{x}`...).
    #[error("invalid option `{field}`: {reason}")]
    InvalidOptions { field: String, reason: String },

    /// A tile could not be fetched or decoded after all retries, and the caller asked
    /// for `failOnMissingTiles`.
    #[error("tile z{z}/x{x}/y{y} could not be loaded: {reason}")]
    TileFetchFailed { z: u8, x: u32, y: u32, reason: String },

    /// An image that could not be decoded, or has the wrong size.
    #[error("image decode failed: {0}")]
    ImageDecode(String),

    /// Weights that cannot be turned into the requested network.
    #[error("model could not be loaded: {0}")]
    ModelLoad(String),

    /// Weights whose SHA-256 or size differs from the manifest.
    #[error("model weights `{file}` failed the integrity check: expected sha256 {expected}, got {actual}")]
    ModelIntegrity { file: String, expected: String, actual: String },

    /// A model id that the manifest does not list.
    #[error("unknown model `{0}`; see Detector.models() for the available ids")]
    UnknownModel(String),

    /// The requested compute backend is not available (e.g. `webgpu` without an adapter).
    #[error("backend unavailable: {0}")]
    BackendUnavailable(String),

    /// Inference failed inside the compute backend.
    #[error("inference failed: {0}")]
    Inference(String),

    /// The caller's AbortSignal fired.
    #[error("the operation was aborted")]
    Aborted,

    /// A violated internal invariant: a bug in geodetect, not in the caller's input.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Stable, machine-readable code, exposed to JS as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidPolygon(_) => "INVALID_POLYGON",
            Error::ZoomOutOfRange { .. } => "ZOOM_OUT_OF_RANGE",
            Error::TooManyTiles { .. } => "TOO_MANY_TILES",
            Error::InvalidOptions { .. } => "INVALID_OPTIONS",
            Error::TileFetchFailed { .. } => "TILE_FETCH_FAILED",
            Error::ImageDecode(_) => "IMAGE_DECODE_FAILED",
            Error::ModelLoad(_) => "MODEL_LOAD_FAILED",
            Error::ModelIntegrity { .. } => "MODEL_INTEGRITY",
            Error::UnknownModel(_) => "UNKNOWN_MODEL",
            Error::BackendUnavailable(_) => "BACKEND_UNAVAILABLE",
            Error::Inference(_) => "INFERENCE_FAILED",
            Error::Aborted => "ABORTED",
            Error::Internal(_) => "INTERNAL",
        }
    }

    /// Shorthand for [`Error::InvalidOptions`].
    pub fn invalid_option(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidOptions { field: field.into(), reason: reason.into() }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_screaming_snake_case() {
        let all = [
            Error::InvalidPolygon(String::new()),
            Error::ZoomOutOfRange { zoom: 30, min: 0, max: 22 },
            Error::TooManyTiles { needed: 2, limit: 1, zoom: 3 },
            Error::invalid_option("iou", "must be in 0..=1"),
            Error::TileFetchFailed { z: 1, x: 0, y: 0, reason: "404".into() },
            Error::ImageDecode(String::new()),
            Error::ModelLoad(String::new()),
            Error::ModelIntegrity { file: "w".into(), expected: "a".into(), actual: "b".into() },
            Error::UnknownModel("x".into()),
            Error::BackendUnavailable(String::new()),
            Error::Inference(String::new()),
            Error::Aborted,
            Error::Internal(String::new()),
        ];
        let mut seen = std::collections::HashSet::new();
        for e in &all {
            let code = e.code();
            assert!(code.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{code}");
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(!e.to_string().is_empty());
        }
        assert_eq!(Error::Aborted.code(), "ABORTED");
        assert_eq!(
            Error::ModelIntegrity { file: "w".into(), expected: "a".into(), actual: "b".into() }.code(),
            "MODEL_INTEGRITY"
        );
    }
}
