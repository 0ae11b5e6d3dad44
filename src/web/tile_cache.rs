//! The tile bodies this worker downloaded lately, by URL: least recently used first out once
//! they hold more than their limit in bytes. The bodies stay on the JS side ([`Encoded`]:
//! `ArrayBuffer`s in the worker's own heap, outside the wasm memory, which never shrinks).
//! The tiles on a chunk's seam, which the next chunk needs again, and those of overlapping
//! areas (`detectMany`) come from here instead of the network, as long as the same worker
//! runs them.

use std::cell::{Cell, RefCell};

use lru::LruCache;

use super::encoded::Encoded;

/// Tile bodies by URL, at most `limit` bytes of them.
#[derive(Debug)]
pub struct TileCache {
    limit: u64,
    bytes: Cell<u64>,
    entries: RefCell<LruCache<String, Encoded>>,
}

impl TileCache {
    /// An empty cache of at most `limit` bytes (0: keeps nothing).
    pub fn new(limit: u64) -> Self {
        TileCache { limit, bytes: Cell::new(0), entries: RefCell::new(LruCache::unbounded()) }
    }

    /// The body of `url`, if it is kept (it becomes the most recently used).
    pub fn get(&self, url: &str) -> Option<Encoded> {
        self.entries.borrow_mut().get(url).cloned()
    }

    /// Keep the body of `url`, dropping the least recently used bodies beyond the limit (a
    /// body larger than the whole limit is not kept).
    pub fn put(&self, url: String, body: &Encoded) {
        let size = body.size();
        if size > self.limit {
            return;
        }
        let mut entries = self.entries.borrow_mut();
        if let Some(old) = entries.put(url, body.clone()) {
            self.bytes.set(self.bytes.get() - old.size());
        }
        self.bytes.set(self.bytes.get() + size);
        while self.bytes.get() > self.limit {
            let Some((_, evicted)) = entries.pop_lru() else { break };
            self.bytes.set(self.bytes.get() - evicted.size());
        }
    }

    /// Bytes kept now.
    pub fn bytes(&self) -> u64 {
        self.bytes.get()
    }
}
