//! Reading byte ranges of one file: [`RangeRead`], the host contract of what is read in
//! pieces (a PMTiles archive, a Cloud-Optimized GeoTIFF): HTTP `Range` requests in the
//! browser, a file natively.

use super::FetchAttemptError;

/// Bytes read from a file, and the version of the file they came from (the HTTP `ETag`,
/// where the host sees one), so that a file replaced between two reads is noticed.
#[derive(Debug, Clone)]
pub struct RangeBytes {
    /// The bytes, at most as many as asked for (fewer only at the end of the file).
    pub bytes: Vec<u8>,
    /// The file's version, if the host knows it.
    pub version: Option<String>,
}

/// Reads byte ranges of one file (the host contract of `crate::tiles::pmtiles::Archive` and
/// `crate::imagery::cog::Cog`).
#[allow(async_fn_in_trait)]
pub trait RangeRead {
    /// Up to `length` bytes from `offset` on. Failures are classified like a tile download's
    /// (a server that ignores `Range` is a permanent failure).
    async fn read(&self, offset: u64, length: usize) -> Result<RangeBytes, FetchAttemptError>;
}
