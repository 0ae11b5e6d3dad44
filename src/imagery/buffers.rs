//! Raster buffers kept for the next raster. A worker stitches chunk after chunk, the next
//! loaded while the model runs on the current one; allocating each raster afresh among the
//! model's own allocations fragments the heap, and wasm memory never shrinks. So every
//! raster buffer is allocated at the largest size seen so far ([`take`]), a raster done with
//! hands its buffer back ([`recycle`]), and the next raster reuses it: a worker holds two
//! raster buffers of one size, the one running and the one loaded ahead, however many
//! chunks it runs.

use std::cell::{Cell, RefCell};
use std::collections::TryReserveError;

/// Largest buffer kept, and largest size new buffers are rounded up to (chunk rasters are
/// about 13 MiB; a one-raster run's may be far larger, and is not worth holding on to).
const MAX_KEPT_BYTES: usize = 32 << 20;

thread_local! {
    static SPARE: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// An empty buffer with room for `len` bytes: the one handed back if it is large enough,
/// else a new one with room for the largest raster seen so far (up to [`MAX_KEPT_BYTES`]),
/// so that any later raster of that size fits in it.
pub fn take(len: usize) -> Result<Vec<u8>, TryReserveError> {
    if let Some(mut buffer) = SPARE.with_borrow_mut(|spare| spare.take_if(|b| b.capacity() >= len)) {
        buffer.clear();
        return Ok(buffer);
    }
    let room = LARGEST.with(|largest| {
        let room = largest.get().max(len);
        if room <= MAX_KEPT_BYTES {
            largest.set(room);
            room
        } else {
            len
        }
    });
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(room)?;
    Ok(buffer)
}

/// Hand a raster's buffer back for the next raster. One is kept (the larger).
pub fn recycle(buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > MAX_KEPT_BYTES {
        return;
    }
    SPARE.with_borrow_mut(|spare| {
        if spare.as_ref().is_none_or(|kept| kept.capacity() < buffer.capacity()) {
            *spare = Some(buffer);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_size_once_warm_and_the_larger_kept() {
        // Each test runs on its own thread: fresh thread-locals.
        let small = take(100).unwrap();
        assert_eq!(small.capacity(), 100);
        let large = take(300).unwrap();
        assert_eq!(large.capacity(), 300);
        // New buffers now have room for the largest raster seen.
        assert_eq!(take(50).unwrap().capacity(), 300);
        recycle(small);
        recycle(large);
        let reused = take(200).unwrap();
        assert_eq!((reused.len(), reused.capacity()), (0, 300));
        // The smaller one was not kept.
        assert_eq!(take(10).unwrap().capacity(), 300);
        // Too large to keep or to round up to.
        let huge = take(MAX_KEPT_BYTES + 1).unwrap();
        assert_eq!(huge.capacity(), MAX_KEPT_BYTES + 1);
        recycle(huge);
        assert_eq!(take(10).unwrap().capacity(), 300);
    }
}
