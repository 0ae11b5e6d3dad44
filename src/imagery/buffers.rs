//! Raster buffers kept for the next raster. A worker stitches chunk after chunk of rasters
//! of (nearly) one size, the next loaded while the model runs on the current one; allocating
//! each afresh, among the model's own allocations, fragments the heap, and wasm memory never
//! shrinks. A raster done with hands its buffer back ([`recycle`]) and the next
//! [`Stitcher`](super::Stitcher) reuses the smallest one large enough ([`take`]).

use std::cell::RefCell;

/// Buffers kept: the raster being run and the one loaded ahead.
const KEEP: usize = 2;

/// Largest buffer kept (chunk rasters are about 13 MiB; a one-raster run's may be far
/// larger, and is not worth holding on to).
const MAX_KEPT_BYTES: usize = 32 << 20;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for `len` bytes, if one was handed back.
pub fn take(len: usize) -> Option<Vec<u8>> {
    SPARE.with_borrow_mut(|spare| {
        let best = spare.iter().enumerate().filter(|(_, b)| b.capacity() >= len).min_by_key(|(_, b)| b.capacity())?.0;
        let mut buffer = spare.swap_remove(best);
        buffer.clear();
        Some(buffer)
    })
}

/// Hand a raster's buffer back for the next raster; of more than [`KEEP`], the smallest is
/// freed.
pub fn recycle(buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > MAX_KEPT_BYTES {
        return;
    }
    SPARE.with_borrow_mut(|spare| {
        spare.push(buffer);
        if spare.len() > KEEP
            && let Some(smallest) = spare.iter().enumerate().min_by_key(|(_, b)| b.capacity()).map(|(i, _)| i)
        {
            spare.swap_remove(smallest);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_the_smallest_that_fits_and_keeps_two() {
        assert!(take(10).is_none());
        recycle(Vec::with_capacity(100));
        recycle(Vec::with_capacity(300));
        recycle(Vec::with_capacity(200));
        // 100 was freed: 200 and 300 are kept.
        assert!(take(301).is_none());
        let b = take(150).unwrap();
        assert_eq!((b.len(), b.capacity()), (0, 200));
        let c = take(150).unwrap();
        assert_eq!(c.capacity(), 300);
        assert!(take(1).is_none());
        // Too large to keep.
        recycle(Vec::with_capacity(MAX_KEPT_BYTES + 1));
        assert!(take(1).is_none());
    }
}
