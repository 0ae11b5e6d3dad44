//! [`CogError`]: everything that can go wrong opening or reading a COG, each saying what is
//! wrong with the file or the request, and whether trying again can help.

use crate::tiles::fetch::FetchAttemptError;

/// Why opening or reading a COG failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CogError {
    /// A range read failed; the host's classification is kept.
    #[error("reading the file: {}", .0.reason())]
    Fetch(FetchAttemptError),
    /// A read returned fewer bytes than a tile or a header structure needs, before the end of
    /// the file as an earlier read saw it: a body cut short.
    #[error("the server sent {got} of the {expected} bytes at offset {offset}")]
    ShortRead {
        /// Where the read started.
        offset: u64,
        /// How many bytes were asked for.
        expected: u64,
        /// How many came.
        got: u64,
    },
    /// Two reads came from different versions of the file (their ETags differ): it was
    /// replaced while being read; open it again.
    #[error("the file changed while it was being read (version {was:?}, now {now:?}); open it again")]
    Changed {
        /// The version the file had when it was opened.
        was: String,
        /// The version a later read saw.
        now: String,
    },
    /// Not a TIFF, or a TIFF whose structure is broken.
    #[error("not a valid TIFF: {0}")]
    NotTiff(String),
    /// The file ends inside its header (the IFDs or their values).
    #[error("the file is truncated: it ends at byte {end}, inside the TIFF header (IFDs and tag values)")]
    Truncated {
        /// Where the file ends.
        end: u64,
    },
    /// A valid TIFF this reader does not read (strips, 16 bits, separate planes, a compression).
    #[error("unsupported TIFF: {0}")]
    Unsupported(String),
    /// No georeferencing, or one this reader cannot use (no affine, an unknown CRS).
    #[error("georeferencing: {0}")]
    Georef(String),
    /// A tile's bytes do not decode.
    #[error("tile ({tx}, {ty}) of level {level} does not decode: {reason}")]
    Decode {
        /// The level (0 = full resolution).
        level: usize,
        /// The tile's column.
        tx: u32,
        /// The tile's row.
        ty: u32,
        /// What the decoder said.
        reason: String,
    },
    /// A level, tile or window that the image does not have, or a window too large.
    #[error("out of range: {0}")]
    OutOfRange(String),
}

impl CogError {
    /// Whether another try can succeed (the host said so, or a body was cut short); every
    /// other error will come back.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Fetch(e) => !matches!(e, FetchAttemptError::Permanent(_)),
            Self::ShortRead { .. } => true,
            _ => false,
        }
    }
}

impl From<FetchAttemptError> for CogError {
    fn from(e: FetchAttemptError) -> Self {
        Self::Fetch(e)
    }
}
