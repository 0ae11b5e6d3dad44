//! [`SparseBytes`]: the byte ranges of a file read so far, and a `Read + Seek` view of them
//! ([`SparseCursor`]) for the `tiff` crate's synchronous parser. A read that reaches a byte not
//! fetched yet fails with a [`Missing`] error naming the offset, so the caller can fetch it and
//! parse again; a read at or past the end of the file (once a short read has shown where that
//! is) reads nothing, as at the end of a file.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};

/// Disjoint, non-adjacent runs of known bytes, keyed by their start offset.
#[derive(Debug, Default, Clone)]
pub struct SparseBytes {
    runs: BTreeMap<u64, Vec<u8>>,
    end: Option<u64>,
}

/// The error a [`SparseCursor`] read fails with when it reaches bytes not fetched yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing {
    /// The first byte that is needed and not there.
    pub offset: u64,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {} has not been read yet", self.offset)
    }
}

impl std::error::Error for Missing {}

impl SparseBytes {
    /// Nothing known yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes` read at `offset`. `asked` is how many were asked for: fewer means the file
    /// ends after them.
    pub fn insert(&mut self, offset: u64, bytes: Vec<u8>, asked: usize) {
        let len = bytes.len() as u64;
        if (bytes.len()) < asked {
            let end = offset.saturating_add(len);
            self.end = Some(self.end.map_or(end, |e| e.min(end)));
        }
        if bytes.is_empty() {
            return;
        }
        let mut start = offset;
        let mut data = bytes;
        // Merge with every run that overlaps or touches [start, start + len].
        let touching: Vec<u64> = self
            .runs
            .range(..=start.saturating_add(len))
            .filter(|(s, run)| s.saturating_add(run.len() as u64) >= start)
            .map(|(s, _)| *s)
            .collect();
        for s in touching {
            let Some(run) = self.runs.remove(&s) else { continue };
            let run_end = s.saturating_add(run.len() as u64);
            let data_end = start.saturating_add(data.len() as u64);
            let new_start = s.min(start);
            let new_end = run_end.max(data_end);
            let mut merged = vec![0u8; (new_end - new_start) as usize];
            let at = |o: u64| (o - new_start) as usize;
            merged[at(s)..at(run_end)].copy_from_slice(&run);
            // The newer bytes win where both have them.
            merged[at(start)..at(data_end)].copy_from_slice(&data);
            start = new_start;
            data = merged;
        }
        self.runs.insert(start, data);
    }

    /// The end of the file, once a short read has shown it.
    pub fn end(&self) -> Option<u64> {
        self.end
    }

    /// Whether every byte of `[offset, offset + len)` is known.
    pub fn contains(&self, offset: u64, len: u64) -> bool {
        len == 0 || self.slice(offset, len).is_some()
    }

    /// The bytes `[offset, offset + len)`, when all of them are known.
    pub fn slice(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let (start, run) = self.runs.range(..=offset).next_back()?;
        let from = usize::try_from(offset - start).ok()?;
        let to = from.checked_add(usize::try_from(len).ok()?)?;
        run.get(from..to)
    }

    /// How many bytes are held.
    pub fn held(&self) -> usize {
        self.runs.values().map(Vec::len).sum()
    }

    /// A reader positioned at 0.
    pub fn cursor(&self) -> SparseCursor<'_> {
        SparseCursor { bytes: self, pos: 0 }
    }
}

/// `Read + Seek` over a [`SparseBytes`].
#[derive(Debug)]
pub struct SparseCursor<'a> {
    bytes: &'a SparseBytes,
    pos: u64,
}

impl Read for SparseCursor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.bytes.end.is_some_and(|end| self.pos >= end) {
            return Ok(0);
        }
        let run = self.bytes.runs.range(..=self.pos).next_back().and_then(|(start, run)| {
            let from = usize::try_from(self.pos - start).ok()?;
            run.get(from..).filter(|rest| !rest.is_empty())
        });
        let Some(rest) = run else {
            return Err(io::Error::other(Missing { offset: self.pos }));
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SparseCursor<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "seek out of range");
        self.pos = match to {
            SeekFrom::Start(n) => n,
            SeekFrom::Current(d) => self.pos.checked_add_signed(d).ok_or_else(invalid)?,
            SeekFrom::End(d) => match self.bytes.end {
                Some(end) => end.checked_add_signed(d).ok_or_else(invalid)?,
                None => return Err(io::Error::new(io::ErrorKind::Unsupported, "the end of the file is not known yet")),
            },
        };
        Ok(self.pos)
    }
}

/// The [`Missing`] inside an I/O error, if that is what it is.
pub fn missing_in(e: &io::Error) -> Option<Missing> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Missing>()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_and_reads_stop_at_gaps() {
        let mut s = SparseBytes::new();
        s.insert(10, vec![1, 2, 3], 3);
        s.insert(20, vec![7, 8], 2);
        s.insert(13, vec![4, 5], 2); // touches the first run
        assert_eq!(s.slice(10, 5), Some(&[1, 2, 3, 4, 5][..]));
        assert_eq!(s.slice(14, 2), None, "byte 15 is not there");
        s.insert(12, vec![9, 9, 9, 9, 9, 9, 9, 9], 8); // overlaps both, fills the gap
        assert_eq!(s.slice(10, 12).unwrap(), &[1, 2, 9, 9, 9, 9, 9, 9, 9, 9, 7, 8]);
        assert_eq!(s.held(), 12);

        let mut c = s.cursor();
        c.seek(SeekFrom::Start(18)).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(c.read(&mut buf).unwrap(), 4, "up to the end of the run");
        let e = c.read(&mut buf).unwrap_err();
        assert_eq!(missing_in(&e), Some(Missing { offset: 22 }));
        assert_eq!(c.seek(SeekFrom::End(0)).unwrap_err().kind(), io::ErrorKind::Unsupported);
    }

    #[test]
    fn a_short_read_marks_the_end() {
        let mut s = SparseBytes::new();
        s.insert(0, vec![1, 2, 3], 100);
        assert_eq!(s.end(), Some(3));
        let mut c = s.cursor();
        let mut buf = [0u8; 8];
        assert_eq!(c.read(&mut buf).unwrap(), 3);
        assert_eq!(c.read(&mut buf).unwrap(), 0, "end of file, not a miss");
        assert_eq!(c.seek(SeekFrom::End(-1)).unwrap(), 2);
    }
}
