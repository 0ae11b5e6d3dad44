//! How the CPU path uses threads: a convolution's output plane is cut into one piece per
//! thread, a pixel range of every output channel, and each piece writes straight into its
//! rows of the output (borrowed disjointly, channel by channel). rayon runs the pieces
//! natively and in the threaded wasm build (`threads` feature, a pool of web workers); the
//! single-threaded wasm computes its one piece on the calling thread.

use std::ops::Range;

/// Multiply-adds below which a piece is not worth a thread.
const MIN_WORK_PER_PIECE: usize = 1 << 20;

/// Threads available to one convolution.
pub fn threads() -> usize {
    #[cfg(any(not(target_family = "wasm"), feature = "threads"))]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(any(not(target_family = "wasm"), feature = "threads")))]
    {
        1
    }
}

/// Cut `0..len` into at most `threads()` ranges of whole `unit`s, fewer when `work` (the
/// multiply-adds of the whole range) would leave a piece under [`MIN_WORK_PER_PIECE`].
pub fn pieces(len: usize, unit: usize, work: usize) -> Vec<Range<usize>> {
    let units = len.div_ceil(unit.max(1));
    let parts = threads().min(work / MIN_WORK_PER_PIECE).min(units).max(1);
    (0..parts).map(|i| (units * i / parts * unit).min(len)..(units * (i + 1) / parts * unit).min(len)).collect()
}

/// `f` on every item, in parallel where there are threads.
pub fn each<I: Send>(items: Vec<I>, f: impl Fn(I) + Sync + Send) {
    #[cfg(any(not(target_family = "wasm"), feature = "threads"))]
    {
        use rayon::prelude::*;
        items.into_par_iter().for_each(f)
    }
    #[cfg(not(any(not(target_family = "wasm"), feature = "threads")))]
    {
        items.into_iter().for_each(f)
    }
}

/// Run `f` on a thread of the pool while the caller waits. A forward pass runs this way so that
/// its serial parts (burn's own ops between the convolutions) run on a pool thread instead of
/// beside the pool's threads: in the browser the caller is a third thread on two cores, and
/// the idle pool threads spin for a while before they sleep. Without threads, `f` runs here.
pub fn on_pool<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    #[cfg(any(not(target_family = "wasm"), feature = "threads"))]
    {
        rayon::scope(|_| f())
    }
    #[cfg(not(any(not(target_family = "wasm"), feature = "threads")))]
    {
        f()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_range_in_whole_units() {
        for (len, unit, work) in [(100, 8, usize::MAX), (7, 8, usize::MAX), (1000, 30, usize::MAX), (64, 8, 10)] {
            let p = pieces(len, unit, work);
            assert!(!p.is_empty() && p.len() <= threads().max(1));
            assert_eq!(p[0].start, 0);
            assert_eq!(p.last().map(|r| r.end), Some(len));
            for w in p.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(w[0].end % unit, 0);
            }
        }
        assert_eq!(pieces(64, 8, 10).len(), 1, "too little work for a second thread");
    }
}
