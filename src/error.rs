//! The crate's one error type. Every core function returns `Result<_, Error>`; the wasm
//! boundary (`crate::web`) turns an [`Error`] into a JS `Error` whose `code` property is
//! [`Error::code`], so callers can branch on a stable string instead of parsing messages.

/// Everything that can go wrong between a polygon and a FeatureCollection. `Clone`: one
/// failure can end several waiting calls (the engine's background warm-up pass).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The area of interest is not a usable GeoJSON Polygon / MultiPolygon.
    #[error("invalid polygon: {0}")]
    InvalidPolygon(String),

    /// The zoom level is outside what Web Mercator tiling or the tile source supports.
    #[error("zoom {zoom} is out of range: {min}..={max} is supported here")]
    ZoomOutOfRange { zoom: i64, min: u8, max: u8 },

    /// The area at this zoom needs more tiles than `maxTiles`. `needed` counts the tiles
    /// that touch the area, or (`bbox_only`) those of its bounding box when that is so far
    /// beyond the limit that they are not counted one by one; `fits` is the highest lower
    /// zoom at which the area needs at most `limit` tiles.
    #[error("{}", too_many_tiles(.needed, .limit, .zoom, .fits, .bbox_only))]
    TooManyTiles { needed: u64, limit: u64, zoom: u8, fits: Option<u8>, bbox_only: bool },

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

/// The message of [`Error::TooManyTiles`].
fn too_many_tiles(needed: &u64, limit: &u64, zoom: &u8, fits: &Option<u8>, bbox_only: &bool) -> String {
    let what = if *bbox_only { "the area's bounding box covers" } else { "the area needs" };
    let lower = match fits {
        Some(z) => format!("at zoom {z} it fits, so lower the zoom to {z} or below"),
        None => "no lower zoom fits either, so lower the zoom".into(),
    };
    format!(
        "{what} {needed} tiles at zoom {zoom}, more than the limit of {limit} (`maxTiles`); \
         {lower}, split the area, or raise `maxTiles`"
    )
}

/// The stable, machine-readable code of an engine error, exposed to JS as `error.code`.
/// The JS client adds its own codes (`WORKER_FAILED`, `DISPOSED`, `UNSUPPORTED_BROWSER`,
/// listed in `pkg/protocol.js`); this TypeScript union is generated from the Rust enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, tsify::Tsify)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The area is not a usable GeoJSON Polygon or MultiPolygon.
    InvalidPolygon,
    /// The zoom is outside 0..=22 or outside the source's minZoom..=maxZoom.
    ZoomOutOfRange,
    /// The area needs more tiles than `maxTiles` at this zoom.
    TooManyTiles,
    /// An option has the wrong type or is out of range; the message names it.
    InvalidOptions,
    /// A tile failed after all retries and `failOnMissingTiles` is set, or no tile at all
    /// could be loaded.
    TileFetchFailed,
    /// A tile could not be decoded or has the wrong size.
    ImageDecodeFailed,
    /// The manifest or the weights could not be fetched or parsed.
    ModelLoadFailed,
    /// The weights' SHA-256 or size differ from the manifest.
    ModelIntegrity,
    /// The model id is not in the manifest.
    UnknownModel,
    /// The requested backend (e.g. `"webgpu"`) cannot be used here.
    BackendUnavailable,
    /// The compute backend failed while running the network.
    InferenceFailed,
    /// The AbortSignal fired.
    Aborted,
    /// A bug in geodetect (or the wasm engine crashed).
    Internal,
}

impl ErrorCode {
    /// The code as JS sees it, e.g. `"INVALID_POLYGON"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidPolygon => "INVALID_POLYGON",
            ErrorCode::ZoomOutOfRange => "ZOOM_OUT_OF_RANGE",
            ErrorCode::TooManyTiles => "TOO_MANY_TILES",
            ErrorCode::InvalidOptions => "INVALID_OPTIONS",
            ErrorCode::TileFetchFailed => "TILE_FETCH_FAILED",
            ErrorCode::ImageDecodeFailed => "IMAGE_DECODE_FAILED",
            ErrorCode::ModelLoadFailed => "MODEL_LOAD_FAILED",
            ErrorCode::ModelIntegrity => "MODEL_INTEGRITY",
            ErrorCode::UnknownModel => "UNKNOWN_MODEL",
            ErrorCode::BackendUnavailable => "BACKEND_UNAVAILABLE",
            ErrorCode::InferenceFailed => "INFERENCE_FAILED",
            ErrorCode::Aborted => "ABORTED",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// Stable, machine-readable code, exposed to JS as `error.code`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidPolygon(_) => ErrorCode::InvalidPolygon,
            Error::ZoomOutOfRange { .. } => ErrorCode::ZoomOutOfRange,
            Error::TooManyTiles { .. } => ErrorCode::TooManyTiles,
            Error::InvalidOptions { .. } => ErrorCode::InvalidOptions,
            Error::TileFetchFailed { .. } => ErrorCode::TileFetchFailed,
            Error::ImageDecode(_) => ErrorCode::ImageDecodeFailed,
            Error::ModelLoad(_) => ErrorCode::ModelLoadFailed,
            Error::ModelIntegrity { .. } => ErrorCode::ModelIntegrity,
            Error::UnknownModel(_) => ErrorCode::UnknownModel,
            Error::BackendUnavailable(_) => ErrorCode::BackendUnavailable,
            Error::Inference(_) => ErrorCode::InferenceFailed,
            Error::Aborted => ErrorCode::Aborted,
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Shorthand for [`Error::InvalidOptions`].
    pub fn invalid_option(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidOptions { field: field.into(), reason: reason.into() }
    }

    /// For [`Error::InvalidOptions`], the field as seen from its parent object: `tileSize`
    /// of `source` becomes `source.tileSize`. Other errors are returned unchanged.
    pub fn in_field(self, parent: &str) -> Self {
        match self {
            Error::InvalidOptions { field, reason } => {
                Error::InvalidOptions { field: format!("{parent}.{field}"), reason }
            }
            other => other,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every variant with its exact code and a part of its message that a caller needs.
    pub(crate) fn every_variant() -> Vec<(Error, &'static str, &'static str)> {
        vec![
            (
                Error::InvalidPolygon("ring has 2 positions".into()),
                "INVALID_POLYGON",
                "invalid polygon: ring has 2 positions",
            ),
            (
                Error::ZoomOutOfRange { zoom: 30, min: 0, max: 22 },
                "ZOOM_OUT_OF_RANGE",
                "zoom 30 is out of range: 0..=22",
            ),
            (
                Error::TooManyTiles { needed: 2, limit: 1, zoom: 3, fits: Some(2), bbox_only: false },
                "TOO_MANY_TILES",
                "needs 2 tiles at zoom 3, more than the limit of 1",
            ),
            (
                Error::invalid_option("iou", "must be in 0..=1"),
                "INVALID_OPTIONS",
                "invalid option `iou`: must be in 0..=1",
            ),
            (
                Error::TileFetchFailed { z: 1, x: 0, y: 1, reason: "HTTP 404".into() },
                "TILE_FETCH_FAILED",
                "tile z1/x0/y1 could not be loaded: HTTP 404",
            ),
            (Error::ImageDecode("not a PNG".into()), "IMAGE_DECODE_FAILED", "image decode failed: not a PNG"),
            (Error::ModelLoad("HTTP 500".into()), "MODEL_LOAD_FAILED", "model could not be loaded: HTTP 500"),
            (
                Error::ModelIntegrity { file: "w".into(), expected: "a".into(), actual: "b".into() },
                "MODEL_INTEGRITY",
                "`w` failed the integrity check: expected sha256 a, got b",
            ),
            (Error::UnknownModel("x".into()), "UNKNOWN_MODEL", "unknown model `x`"),
            (Error::BackendUnavailable("no adapter".into()), "BACKEND_UNAVAILABLE", "backend unavailable: no adapter"),
            (Error::Inference("lost device".into()), "INFERENCE_FAILED", "inference failed: lost device"),
            (Error::Aborted, "ABORTED", "the operation was aborted"),
            (Error::Internal("bug".into()), "INTERNAL", "internal error: bug"),
        ]
    }

    /// The number of arms in `variant_index`.
    const VARIANT_COUNT: usize = 13;

    /// Position of a variant in `Error`'s declaration. The match has no wildcard, so a new
    /// variant does not compile until it is numbered here (and counted in
    /// `VARIANT_COUNT`), and then the test below fails until it is listed in `every_variant`.
    fn variant_index(e: &Error) -> usize {
        match e {
            Error::InvalidPolygon(_) => 0,
            Error::ZoomOutOfRange { .. } => 1,
            Error::TooManyTiles { .. } => 2,
            Error::InvalidOptions { .. } => 3,
            Error::TileFetchFailed { .. } => 4,
            Error::ImageDecode(_) => 5,
            Error::ModelLoad(_) => 6,
            Error::ModelIntegrity { .. } => 7,
            Error::UnknownModel(_) => 8,
            Error::BackendUnavailable(_) => 9,
            Error::Inference(_) => 10,
            Error::Aborted => 11,
            Error::Internal(_) => 12,
        }
    }

    #[test]
    fn every_variant_is_listed() {
        let indices: Vec<usize> = every_variant().iter().map(|(e, _, _)| variant_index(e)).collect();
        assert_eq!(indices, (0..VARIANT_COUNT).collect::<Vec<_>>(), "list every variant once, in declaration order");
    }

    #[test]
    fn every_variant_has_its_code_and_message() {
        let mut seen = std::collections::HashSet::new();
        for (e, code, message) in every_variant() {
            assert_eq!(e.code().as_str(), code, "{e:?}");
            assert_eq!(e.code().to_string(), code);
            // The serde name (what the generated TypeScript union lists) is the same string.
            assert_eq!(serde_json::to_value(e.code()).unwrap(), code);
            assert!(e.to_string().contains(message), "{code}: {e}");
            assert!(seen.insert(code), "duplicate code {code}");
        }
    }

    #[test]
    fn in_field_prefixes_option_errors_only() {
        let e = Error::invalid_option("tileSize", "must be a power of two").in_field("source");
        assert_eq!(e.to_string(), "invalid option `source.tileSize`: must be a power of two");
        assert_eq!(Error::Aborted.in_field("source").code(), ErrorCode::Aborted);
    }
}
