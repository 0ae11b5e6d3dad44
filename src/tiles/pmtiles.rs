//! Raster tiles out of a PMTiles v3 archive (one file on static hosting), read with range
//! requests: the header and root directory once, leaf directories as tiles need them (kept),
//! then each tile's bytes. The format is read by the `pmtiles` crate; what reads a byte range
//! is the host's ([`RangeRead`]: HTTP `Range` requests in the browser, a file natively).

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use bytes::Bytes;
use pmtiles::{
    AsyncBackend, AsyncPmTilesReader, BackendResponse, HashMapCache, PmtError, PmtResult, TileCoord, TileType,
};
use send_wrapper::SendWrapper;

use super::TileId;
use super::fetch::{FetchAttemptError, RangeRead};

/// A [`RangeRead`] as the `pmtiles` crate's backend. The crate asks for `Send` futures, for
/// multi-threaded runtimes; geodetect reads on one thread (a worker), so the host's futures
/// (holding browser objects) are wrapped, and checked to stay on the thread that made them.
struct Backend<R>(SendWrapper<Rc<R>>);

/// A failed read, carried through the crate's `io::Error` to [`classify`].
#[derive(Debug)]
struct ReadFailed(FetchAttemptError);

impl fmt::Display for ReadFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.reason())
    }
}

impl std::error::Error for ReadFailed {}

impl<R: RangeRead + 'static> AsyncBackend for Backend<R> {
    fn read(&self, offset: u64, length: usize) -> impl Future<Output = PmtResult<BackendResponse>> + Send {
        let reader = Rc::clone(&self.0);
        SendWrapper::new(async move {
            let read = reader.read(offset, length).await.map_err(|e| std::io::Error::other(ReadFailed(e)))?;
            let bytes = Bytes::from(read.bytes);
            Ok(match read.version {
                Some(version) => BackendResponse::new_with_version(bytes, version),
                None => BackendResponse::new(bytes),
            })
        })
    }
}

/// What a failure of the `pmtiles` crate means for the request that met it.
fn classify(error: PmtError) -> FetchAttemptError {
    match error {
        PmtError::Reading(io) => match io.downcast::<ReadFailed>() {
            Ok(ReadFailed(attempt)) => attempt,
            Err(io) => FetchAttemptError::Retryable(format!("reading the archive: {io}")),
        },
        PmtError::SourceModified => FetchAttemptError::Permanent(
            "the archive changed while it was being read (its ETag is not the one it was opened with); the next \
             run opens it again"
                .into(),
        ),
        // A response shorter than the range it answers: a body cut short.
        PmtError::UnexpectedNumberOfBytesReturned(expected, got) => {
            FetchAttemptError::Retryable(format!("the server sent {got} of {expected} bytes"))
        }
        other => FetchAttemptError::Permanent(format!("not a valid PMTiles v3 archive: {other}")),
    }
}

/// An open archive of raster tiles.
pub struct Archive<R> {
    reader: AsyncPmTilesReader<Backend<R>, HashMapCache>,
    /// Set once a read saw another version of the file (its ETag changed): the header and
    /// directories held are no longer the file's.
    stale: Cell<bool>,
}

impl<R: RangeRead + 'static> fmt::Debug for Archive<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.reader.get_header();
        f.debug_struct("Archive")
            .field("tile_type", &h.tile_type)
            .field("zoom", &(h.min_zoom..=h.max_zoom))
            .finish_non_exhaustive()
    }
}

impl<R: RangeRead + 'static> Archive<R> {
    /// Reads the header and root directory through `reader` (one range request) and checks
    /// that the archive holds raster tiles geodetect can decode (PNG, JPEG, WebP or AVIF,
    /// stored without extra compression). The errors say what is wrong with the archive.
    pub async fn open(reader: R) -> Result<Self, FetchAttemptError> {
        let backend = Backend(SendWrapper::new(Rc::new(reader)));
        let reader =
            AsyncPmTilesReader::try_from_cached_source(backend, HashMapCache::default()).await.map_err(classify)?;
        let header = reader.get_header();
        match header.tile_type {
            TileType::Png | TileType::Jpeg | TileType::Webp | TileType::Avif => {}
            other => {
                return Err(FetchAttemptError::Permanent(format!(
                    "the PMTiles archive holds {other:?} tiles; geodetect needs raster tiles (PNG, JPEG, WebP, AVIF)"
                )));
            }
        }
        if header.tile_compression.content_encoding().is_some() {
            return Err(FetchAttemptError::Permanent(format!(
                "the PMTiles archive's tiles are compressed ({:?}) on top of their image format; repack them \
                 uncompressed (images are compressed already)",
                header.tile_compression
            )));
        }
        Ok(Archive { reader, stale: Cell::new(false) })
    }

    /// The archive's zoom range.
    pub fn zoom_range(&self) -> (u8, u8) {
        let header = self.reader.get_header();
        (header.min_zoom, header.max_zoom)
    }

    /// The encoded image of `tile`, or `None` where the archive has no tile (no imagery
    /// there: left empty, not missing).
    pub async fn tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, FetchAttemptError> {
        let coord = TileCoord::new(tile.z, tile.x, tile.y)
            .map_err(|e| FetchAttemptError::Permanent(format!("tile {tile} is not in the archive's grid: {e}")))?;
        let bytes = self.reader.get_tile(coord).await.map_err(|e| {
            self.stale.set(self.stale.get() || matches!(e, PmtError::SourceModified));
            classify(e)
        })?;
        Ok(bytes.map(|b| b.to_vec()))
    }

    /// Whether a read found the file replaced since it was opened: open it again.
    pub fn is_stale(&self) -> bool {
        self.stale.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::fetch::RangeBytes;
    use std::cell::RefCell;

    /// An archive in memory; what it read and the failures it is to serve next are shared
    /// with the test.
    #[derive(Clone, Default)]
    struct Memory {
        bytes: Rc<Vec<u8>>,
        reads: Rc<RefCell<Vec<(u64, usize)>>>,
        fail_next: Rc<RefCell<Vec<FetchAttemptError>>>,
        /// The ETag each read reports.
        version: Rc<RefCell<Option<String>>>,
    }

    impl RangeRead for Memory {
        async fn read(&self, offset: u64, length: usize) -> Result<RangeBytes, FetchAttemptError> {
            self.reads.borrow_mut().push((offset, length));
            if let Some(e) = self.fail_next.borrow_mut().pop() {
                return Err(e);
            }
            let start = (offset as usize).min(self.bytes.len());
            let end = start.saturating_add(length).min(self.bytes.len());
            Ok(RangeBytes { bytes: self.bytes[start..end].to_vec(), version: self.version.borrow().clone() })
        }
    }

    fn marina() -> Option<Memory> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/www/tiles/marina.pmtiles");
        match std::fs::read(path) {
            Ok(bytes) => Some(Memory { bytes: Rc::new(bytes), ..Memory::default() }),
            Err(_) => {
                eprintln!("skipped: www/tiles/marina.pmtiles is made by tests/data/prepare.sh");
                None
            }
        }
    }

    fn open(memory: &Memory) -> Result<Archive<Memory>, FetchAttemptError> {
        futures::executor::block_on(Archive::open(memory.clone()))
    }

    #[test]
    fn tiles_are_the_xyz_files_and_absent_tiles_are_none() {
        let Some(memory) = marina() else { return };
        let archive = open(&memory).unwrap();
        assert_eq!(archive.zoom_range(), (17, 19));
        assert_eq!(memory.reads.borrow().len(), 1, "header and root directory in one read");
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/www/tiles/marina");
        futures::executor::block_on(async {
            for (x, y) in [(272953, 191175), (272960, 191179), (272956, 191177)] {
                let tile = TileId { z: 19, x, y };
                let want = std::fs::read(format!("{root}/19/{x}/{y}.png")).unwrap();
                assert_eq!(archive.tile(tile).await.unwrap().unwrap(), want, "{tile}");
            }
            assert_eq!(memory.reads.borrow().len(), 4, "one read per tile");
            assert_eq!(archive.tile(TileId { z: 19, x: 1, y: 1 }).await.unwrap(), None);
            assert_eq!(memory.reads.borrow().len(), 4, "an absent tile costs no read");
            assert!(matches!(archive.tile(TileId { z: 3, x: 9, y: 0 }).await, Err(FetchAttemptError::Permanent(_))));
        });
    }

    #[test]
    fn failures_keep_their_class() {
        let Some(memory) = marina() else { return };
        for e in [
            FetchAttemptError::from_http_status(503),
            FetchAttemptError::Permanent("HTTP 200 to a range request".into()),
        ] {
            memory.fail_next.borrow_mut().push(e.clone());
            assert_eq!(open(&memory).unwrap_err(), e);
        }
        let archive = open(&memory).unwrap();
        let e = FetchAttemptError::Retryable("network error".into());
        memory.fail_next.borrow_mut().push(e.clone());
        let tile = TileId { z: 19, x: 272953, y: 191175 };
        assert_eq!(futures::executor::block_on(archive.tile(tile)).unwrap_err(), e);
        assert!(futures::executor::block_on(archive.tile(tile)).unwrap().is_some(), "the next try reads it");
    }

    #[test]
    fn an_archive_replaced_while_read_is_reported_and_marked_stale() {
        let Some(memory) = marina() else { return };
        *memory.version.borrow_mut() = Some("\"v1\"".into());
        let archive = open(&memory).unwrap();
        let tile = TileId { z: 19, x: 272953, y: 191175 };
        assert!(futures::executor::block_on(archive.tile(tile)).unwrap().is_some());
        assert!(!archive.is_stale());
        *memory.version.borrow_mut() = Some("\"v2\"".into());
        match futures::executor::block_on(archive.tile(tile)) {
            Err(FetchAttemptError::Permanent(reason)) => assert!(reason.contains("changed"), "{reason}"),
            other => panic!("expected the change to be reported, got {other:?}"),
        }
        assert!(archive.is_stale());
    }

    #[test]
    fn what_is_not_a_raster_archive_is_refused_with_a_reason() {
        let Some(memory) = marina() else { return };
        let with = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut bytes = memory.bytes.to_vec();
            edit(&mut bytes);
            Memory { bytes: Rc::new(bytes), ..Memory::default() }
        };
        let reason = |m: Memory| match open(&m) {
            Err(FetchAttemptError::Permanent(reason)) => reason,
            other => panic!("expected a permanent failure, got {other:?}"),
        };
        let html = Memory { bytes: Rc::new(b"<html>not found</html>".repeat(100)), ..Memory::default() };
        assert!(reason(html).contains("not a valid PMTiles v3 archive"));
        assert!(reason(with(&|b| b[99] = 1)).contains("Mvt tiles"), "tile type MVT");
        assert!(reason(with(&|b| b[98] = 2)).contains("compressed"), "tile compression gzip");
        // Cut short inside the root directory.
        assert!(open(&with(&|b| b.truncate(200))).is_err());
    }
}
