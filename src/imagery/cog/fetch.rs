//! Planning range requests: [`ReadOptions`] (how much to read first, how far apart two tiles
//! may be and still share a request) and [`coalesce`] (tile byte ranges → fewer, longer
//! requests), and the checks on what a read returns ([`checked`]: cut short, or from another
//! version of the file).

use super::error::CogError;
use crate::tiles::fetch::RangeBytes;

/// How a [`super::Cog`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Bytes read from the start of the file at open. GDAL's COGs have every IFD and tag
    /// value in their first few kilobytes; more is read only where the header goes on.
    pub header_bytes: usize,
    /// Two tiles whose bytes are at most this many bytes apart are read in one request (the
    /// bytes between come along and are dropped).
    pub max_gap: u64,
    /// No request is made longer than this by joining tiles (one tile can still be longer).
    pub max_request: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { header_bytes: 64 * 1024, max_gap: 64 * 1024, max_request: 16 * 1024 * 1024 }
    }
}

/// One request that serves one or more byte ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Where the request starts.
    pub offset: u64,
    /// How many bytes it asks for.
    pub length: u64,
    /// The indices (into the ranges given to [`coalesce`]) of the ranges inside it.
    pub members: Vec<usize>,
}

/// Groups `(offset, length)` ranges into requests: sorted by offset, a range joins the
/// request before it when it starts at most `max_gap` bytes after that request's end and the
/// request stays within `max_request` bytes. Every range is in exactly one span.
pub fn coalesce(ranges: &[(u64, u64)], max_gap: u64, max_request: u64) -> Vec<Span> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i]);
    let mut spans: Vec<Span> = Vec::new();
    for i in order {
        let (offset, length) = ranges[i];
        let end = offset.saturating_add(length);
        if let Some(span) = spans.last_mut() {
            let span_end = span.offset.saturating_add(span.length);
            let joined_end = span_end.max(end);
            if offset <= span_end.saturating_add(max_gap) && joined_end - span.offset <= max_request {
                span.length = joined_end - span.offset;
                span.members.push(i);
                continue;
            }
        }
        spans.push(Span { offset, length, members: vec![i] });
    }
    spans
}

/// What a read returned, checked: all `expected` bytes (a shorter answer is a body cut short,
/// or a file shorter than its own index says), from the version of the file first seen
/// (`version`, the ETag at open; a read without one is not checked).
pub fn checked(read: RangeBytes, offset: u64, expected: u64, version: Option<&str>) -> Result<Vec<u8>, CogError> {
    if let (Some(was), Some(now)) = (version, read.version.as_deref())
        && was != now
    {
        return Err(CogError::Changed { was: was.to_owned(), now: now.to_owned() });
    }
    let got = read.bytes.len() as u64;
    if got < expected {
        return Err(CogError::ShortRead { offset, expected, got });
    }
    let mut bytes = read.bytes;
    bytes.truncate(usize::try_from(expected).unwrap_or(usize::MAX));
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_ranges_share_a_request_far_ones_do_not() {
        // Out of order on purpose; 100..110 and 114..120 are 4 bytes apart, 200.. is far.
        let ranges = [(114, 6), (200, 10), (100, 10), (104, 2)];
        let spans = coalesce(&ranges, 8, 1000);
        assert_eq!(
            spans,
            vec![
                Span { offset: 100, length: 20, members: vec![2, 3, 0] },
                Span { offset: 200, length: 10, members: vec![1] }
            ]
        );
        // A request length cap splits them again.
        assert_eq!(coalesce(&ranges, 8, 15).len(), 3);
        // No gap allowed: only touching ranges join.
        assert_eq!(coalesce(&[(0, 10), (10, 5), (16, 1)], 0, 1000).len(), 2);
        assert!(coalesce(&[], 8, 8).is_empty());
    }

    #[test]
    fn short_and_changed_reads_are_errors() {
        let read = |n: usize, v: Option<&str>| RangeBytes { bytes: vec![7; n], version: v.map(str::to_owned) };
        assert_eq!(checked(read(10, None), 5, 8, Some("a")).unwrap(), vec![7; 8]);
        assert_eq!(
            checked(read(3, Some("a")), 5, 8, Some("a")).unwrap_err(),
            CogError::ShortRead { offset: 5, expected: 8, got: 3 }
        );
        assert!(matches!(checked(read(8, Some("b")), 5, 8, Some("a")), Err(CogError::Changed { .. })));
        assert!(checked(read(8, Some("b")), 5, 8, None).is_ok(), "nothing to compare with");
    }
}
