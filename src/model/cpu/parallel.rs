//! How the CPU path uses threads: a convolution's output plane is cut into a few pieces per
//! thread ([`pieces`]), each a pixel range of every output channel, and each piece writes
//! straight into its rows of the output (borrowed disjointly, channel by channel); SPPF's
//! pools, the attention's softmax and the box decoding are cut the same way, by channels,
//! rows and anchors. rayon runs the pieces natively and in the threaded wasm build (`threads`
//! feature, a pool of web workers); the single-threaded wasm computes its one piece on the
//! calling thread.

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

/// Pieces per thread where there is more than one. A piece per thread leaves the whole
/// convolution waiting for the slowest one, and in the browser a thread of the pool loses its
/// core now and then (to the worker's event loop, the page, the browser's own threads: with 2
/// threads on 2 cores, a piece took 6 ms on one thread and 10 on the other); smaller pieces
/// let rayon hand the late thread's share to the other. Measured in headless Chromium on 2
/// cores, interleaved A/B, median forward pass of YOLOv8n-OBB: 2 threads, 640 px 141 → 137 ms
/// and 1024 px 309 → 299 ms; 4 threads, 169 → 153 and 337 → 319 ms. Eight per thread was
/// slower again at 2 threads (132 → 144 and 302 → 306 ms against four).
const PIECES_PER_THREAD: usize = 4;

/// Cut `0..len` into ranges of whole `unit`s for the threads: one without threads,
/// `PIECES_PER_THREAD` per thread with them, fewer when `work` (the multiply-adds of the
/// whole range) would leave a piece under [`MIN_WORK_PER_PIECE`].
pub fn pieces(len: usize, unit: usize, work: usize) -> Vec<Range<usize>> {
    let units = len.div_ceil(unit.max(1));
    let wanted = match threads() {
        1 => 1,
        t => t * PIECES_PER_THREAD,
    };
    let parts = wanted.min(work / MIN_WORK_PER_PIECE).min(units).max(1);
    (0..parts).map(|i| (units * i / parts * unit).min(len)..(units * (i + 1) / parts * unit).min(len)).collect()
}

/// The jobs of `pieces` over `out`, rows of `row` values (an output channel, a decoded row,
/// one SPPF level): each piece with its part of every row, `per_unit` values for each unit of
/// its range, so that the pieces write disjointly. A piece's parts come in row order. The
/// pieces are consecutive; they may start past 0 and end before the row does (a band of a
/// convolution's output rows), and the rest of each row is left out.
pub fn share_rows<'a>(
    out: &'a mut [f32],
    row: usize,
    pieces: &[Range<usize>],
    per_unit: usize,
) -> Vec<(Range<usize>, Vec<&'a mut [f32]>)> {
    let mut parts: Vec<Vec<&mut [f32]>> = pieces.iter().map(|_| Vec::with_capacity(out.len() / row.max(1))).collect();
    let skip = pieces.first().map_or(0, |p| p.start * per_unit);
    for row in out.chunks_exact_mut(row.max(1)) {
        let mut rest = &mut row[skip..];
        for (range, part) in pieces.iter().zip(&mut parts) {
            let (head, tail) = rest.split_at_mut(range.len() * per_unit);
            part.push(head);
            rest = tail;
        }
    }
    pieces.iter().cloned().zip(parts).collect()
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

/// Whether [`off_thread`] runs its work on a thread of a pool (natively and in the threaded
/// wasm); in the single-threaded wasm it runs on the caller's thread.
pub const ON_POOL: bool = cfg!(any(not(target_family = "wasm"), feature = "threads"));

/// Run `f` on a thread of the pool and wait for it without blocking the calling thread. A
/// forward pass runs this way. Its serial parts (burn's own ops between the convolutions) run
/// on a pool thread, not beside the pool's threads: in the browser the caller is a third
/// thread on two cores, and idle pool threads spin for a while before they sleep. And the
/// caller's thread, the worker's own, returns to its event loop meanwhile, so the next
/// chunk's tiles keep arriving and being drawn (and an abort message is read) while the model
/// runs; blocked, it would leave every download that completes during a pass waiting for the
/// pass to end. Without threads, `f` runs here, before the first await.
pub async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> crate::Result<T> {
    #[cfg(any(not(target_family = "wasm"), feature = "threads"))]
    {
        let (tx, rx) = futures::channel::oneshot::channel();
        rayon::spawn(move || {
            let _ = tx.send(f()); // the receiver is gone only if the caller's future was dropped
        });
        rx.await.map_err(|_| crate::Error::Internal("a job on the thread pool ended without its result".into()))
    }
    #[cfg(not(any(not(target_family = "wasm"), feature = "threads")))]
    {
        Ok(f())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_range_in_whole_units() {
        for (len, unit, work) in [(100, 8, usize::MAX), (7, 8, usize::MAX), (1000, 30, usize::MAX), (64, 8, 10)] {
            let p = pieces(len, unit, work);
            assert!(!p.is_empty() && p.len() <= threads().max(1) * PIECES_PER_THREAD);
            assert_eq!(p[0].start, 0);
            assert_eq!(p.last().map(|r| r.end), Some(len));
            for w in p.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(w[0].end % unit, 0);
            }
        }
        assert_eq!(pieces(64, 8, 10).len(), 1, "too little work for a second thread");
    }

    #[test]
    fn the_caller_goes_on_while_a_job_runs_off_its_thread() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        use std::time::{Duration, Instant};
        // The job waits (up to 5 s) for a flag that only the caller's other future sets: if
        // the caller's thread were blocked until the job ended, the flag would come too late.
        let flag = Arc::new(AtomicBool::new(false));
        let seen = flag.clone();
        let job = off_thread(move || {
            let start = Instant::now();
            while !seen.load(SeqCst) && start.elapsed() < Duration::from_secs(5) {
                std::thread::yield_now();
            }
            seen.load(SeqCst)
        });
        let other = async { flag.store(true, SeqCst) };
        let (saw, ()) = futures::executor::block_on(futures::future::join(job, other));
        assert_eq!(saw.ok(), Some(true));
    }
}
