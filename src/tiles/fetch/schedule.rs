//! Downloading many tiles with bounded concurrency, retries and cancellation, independent
//! of how one tile is fetched or how time passes (the browser supplies `fetch` and
//! `setTimeout`; tests supply fakes).
//!
//! Everything runs on one thread: no `Send` bounds, suitable for a wasm worker.

use super::{FetchAttemptError, FetchPolicy};
use crate::tiles::TileId;
use crate::{Error, Result};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// A tile that could not be loaded; reported to JS in `missingTiles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TileFailure {
    /// The tile.
    pub tile: TileId,
    /// Why its last attempt failed.
    pub reason: String,
    /// Attempts made, including the first.
    pub attempts: u32,
}

/// What loading a run's tiles took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TileStats {
    /// Tile loads the run needed (a tile on the seam of two chunks counts twice).
    pub requested: usize,
    /// Of those, downloaded from the tile server.
    pub downloaded: usize,
    /// Of those, taken from the worker's tile cache (`fetch.cacheBytes`), the Cache Storage
    /// cache (`fetch.cacheName`), or a download of the same tile already in flight.
    pub from_cache: usize,
    /// Of those, tiles the source says hold no imagery (absent from a PMTiles archive, HTTP
    /// 204, or 404 where the source sets `notFoundIsEmpty`): left empty (black), not missing.
    pub empty: usize,
    /// Of those, not loaded (they are in `missingTiles`).
    pub failed: usize,
    /// Download attempts beyond each tile's first.
    pub retries: usize,
    /// Bytes of tile bodies downloaded.
    pub bytes: f64,
}

impl TileStats {
    /// Both counts together.
    pub fn add(&mut self, o: &TileStats) {
        self.requested += o.requested;
        self.downloaded += o.downloaded;
        self.from_cache += o.from_cache;
        self.empty += o.empty;
        self.failed += o.failed;
        self.retries += o.retries;
        self.bytes += o.bytes;
    }
}

impl TileFailure {
    /// A tile that downloaded but is not an image the host can decode (one attempt: it would
    /// fail again).
    pub fn undecodable(tile: TileId, reason: &str) -> Self {
        TileFailure { tile, reason: format!("not a decodable image: {reason}"), attempts: 1 }
    }
}

impl From<TileFailure> for Error {
    fn from(f: TileFailure) -> Self {
        Error::TileFetchFailed {
            z: f.tile.z,
            x: f.tile.x,
            y: f.tile.y,
            reason: format!("{}; attempts made: {}", f.reason, f.attempts),
        }
    }
}

/// Fetches `tiles` with at most `policy.concurrency` requests in flight.
///
/// `fetch_one(tile, attempt)` makes one attempt (`attempt` is 0 for the first try, 1 for
/// the first retry, ...). Retryable failures are retried up to `policy.retries` times,
/// after `sleep(policy.backoff_ms(retry))`. `on_done(done, total)` is called whenever a
/// tile settles, successfully or not. `is_cancelled` is checked before every attempt,
/// after every backoff sleep and whenever a tile settles; once it returns `true` the
/// whole call fails with [`Error::Aborted`] and in-flight futures are dropped.
///
/// Returns one entry per input tile, in input order.
pub async fn fetch_tiles<T, F, Fut, S, SFut>(
    tiles: Vec<TileId>,
    policy: &FetchPolicy,
    fetch_one: F,
    sleep: S,
    on_done: &mut dyn FnMut(usize, usize),
    is_cancelled: &dyn Fn() -> bool,
) -> Result<Vec<(TileId, Result<T, TileFailure>)>>
where
    F: Fn(TileId, u32) -> Fut,
    Fut: Future<Output = Result<T, FetchAttemptError>>,
    S: Fn(u32) -> SFut,
    SFut: Future<Output = ()>,
{
    let total = tiles.len();
    let mut results = Vec::with_capacity(total);
    let mut settled = |index, tile, outcome| {
        results.push((index, (tile, outcome)));
        on_done(results.len(), total);
        Ok(())
    };
    fetch_tiles_each(tiles, policy, fetch_one, sleep, &mut settled, is_cancelled).await?;
    results.sort_unstable_by_key(|(index, _)| *index);
    Ok(results.into_iter().map(|(_, result)| result).collect())
}

/// [`fetch_tiles`] that hands each tile to `on_settled(index, tile, outcome)` as soon as it
/// settles (in the order they settle; `index` is its place in `tiles`) instead of collecting
/// them, so that a host can decode a tile while others download and keep none longer than
/// it needs. An error from `on_settled` ends the call with that error.
pub async fn fetch_tiles_each<T, F, Fut, S, SFut>(
    tiles: Vec<TileId>,
    policy: &FetchPolicy,
    fetch_one: F,
    sleep: S,
    on_settled: &mut dyn FnMut(usize, TileId, Result<T, TileFailure>) -> Result<()>,
    is_cancelled: &dyn Fn() -> bool,
) -> Result<()>
where
    F: Fn(TileId, u32) -> Fut,
    Fut: Future<Output = Result<T, FetchAttemptError>>,
    S: Fn(u32) -> SFut,
    SFut: Future<Output = ()>,
{
    policy.validate()?;
    let (fetch_one, sleep) = (&fetch_one, &sleep);
    let mut settled = stream::iter(tiles.into_iter().enumerate())
        .map(|(index, tile)| async move {
            let outcome = fetch_with_retries(tile, policy, fetch_one, sleep, is_cancelled).await;
            (index, tile, outcome)
        })
        .buffer_unordered(policy.concurrency);
    while let Some((index, tile, outcome)) = settled.next().await {
        let outcome = outcome?;
        if is_cancelled() {
            return Err(Error::Aborted);
        }
        on_settled(index, tile, outcome)?;
    }
    Ok(())
}

/// One tile: [`retry`], its failure recorded as a [`TileFailure`].
async fn fetch_with_retries<T, Fut, SFut>(
    tile: TileId,
    policy: &FetchPolicy,
    fetch_one: &impl Fn(TileId, u32) -> Fut,
    sleep: &impl Fn(u32) -> SFut,
    is_cancelled: &dyn Fn() -> bool,
) -> Result<Result<T, TileFailure>>
where
    Fut: Future<Output = Result<T, FetchAttemptError>>,
    SFut: Future<Output = ()>,
{
    let outcome = retry(policy, tile_key(tile), |attempt| fetch_one(tile, attempt), sleep, is_cancelled).await?;
    Ok(outcome.map_err(|failed| TileFailure { tile, reason: failed.reason, attempts: failed.attempts }))
}

/// Why [`retry`] gave up: the last attempt's reason and how many attempts were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetriesExhausted {
    /// The reason of the last attempt's failure.
    pub reason: String,
    /// Attempts made, including the first.
    pub attempts: u32,
}

/// Calls `attempt_once(attempt)` (0 for the first try, 1 for the first retry, ...) until it
/// succeeds, fails permanently, or `policy.retries` retries of retryable failures are used
/// up, sleeping before each retry (never after the last attempt): the jittered backoff
/// ([`FetchPolicy::jittered_backoff_ms`] for `key`), or the server's `Retry-After` when it
/// is longer. A `Retry-After` beyond `policy.max_retry_after_ms` ends the retries at once.
/// Fails with [`Error::Aborted`] when `is_cancelled` returns true before an attempt or after
/// a failed one (a request aborted with the run fails; it is not retried after a backoff). The
/// tile scheduler and the weights download both retry through this.
pub async fn retry<T, Fut, SFut>(
    policy: &FetchPolicy,
    key: u64,
    attempt_once: impl Fn(u32) -> Fut,
    sleep: &impl Fn(u32) -> SFut,
    is_cancelled: &dyn Fn() -> bool,
) -> Result<Result<T, RetriesExhausted>>
where
    Fut: Future<Output = Result<T, FetchAttemptError>>,
    SFut: Future<Output = ()>,
{
    let mut attempt = 0;
    loop {
        if is_cancelled() {
            return Err(Error::Aborted);
        }
        let give_up = |reason: String, attempt: u32| Ok(Err(RetriesExhausted { reason, attempts: attempt + 1 }));
        let failed = match attempt_once(attempt).await {
            Ok(value) => return Ok(Ok(value)),
            Err(e) => e,
        };
        // Cancelled while the attempt ran (its request aborted with it): not worth a backoff.
        if is_cancelled() {
            return Err(Error::Aborted);
        }
        let wait = match failed {
            e if attempt >= policy.retries => return give_up(e.reason().to_owned(), attempt),
            FetchAttemptError::Permanent(reason) => return give_up(reason, attempt),
            FetchAttemptError::Throttled { reason, retry_after_ms } if retry_after_ms > policy.max_retry_after_ms => {
                let reason =
                    format!("{reason}, longer than `fetch.maxRetryAfterMs` ({} ms)", policy.max_retry_after_ms);
                return give_up(reason, attempt);
            }
            FetchAttemptError::Throttled { retry_after_ms, .. } => {
                retry_after_ms.max(policy.jittered_backoff_ms(attempt + 1, key))
            }
            FetchAttemptError::Retryable(_) => policy.jittered_backoff_ms(attempt + 1, key),
        };
        attempt += 1;
        sleep(wait).await;
    }
}

/// A key naming `tile` for [`retry`]'s jitter.
pub fn tile_key(tile: TileId) -> u64 {
    (u64::from(tile.z) << 58) ^ (u64::from(tile.x) << 29) ^ u64::from(tile.y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::fetch::MAX_RETRY_DELAY_MS;
    use std::cell::{Cell, RefCell};
    use std::pin::{Pin, pin};
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    /// Polls `fut` to completion on this thread; fails the test instead of hanging.
    fn block_on<F: Future>(fut: F) -> F::Output {
        struct Noop;
        impl Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(fut);
        for _ in 0..1_000_000 {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
        }
        panic!("future did not complete");
    }

    /// A future that is pending `n` times (waking itself) before completing.
    struct Yield(u32);
    impl Future for Yield {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 == 0 {
                return Poll::Ready(());
            }
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn tiles(n: u32) -> Vec<TileId> {
        (0..n).map(|x| TileId { z: 10, x, y: 7 }).collect()
    }

    /// What `fetch_tiles` returned, the sleeps it asked for, and its progress reports.
    type Run<T> = (Result<Vec<(TileId, Result<T, TileFailure>)>>, Vec<u32>, Vec<(usize, usize)>);

    /// Runs `fetch_tiles` with a sleep that records its delays and a progress log.
    fn run<T, Fut: Future<Output = Result<T, FetchAttemptError>>>(
        tiles: Vec<TileId>,
        policy: &FetchPolicy,
        fetch_one: impl Fn(TileId, u32) -> Fut,
        is_cancelled: &dyn Fn() -> bool,
    ) -> Run<T> {
        let delays = RefCell::new(Vec::new());
        let mut progress = Vec::new();
        let sleep = |ms| {
            delays.borrow_mut().push(ms);
            Yield(1)
        };
        let out =
            block_on(fetch_tiles(tiles, policy, fetch_one, sleep, &mut |d, t| progress.push((d, t)), is_cancelled));
        (out, delays.into_inner(), progress)
    }

    #[test]
    fn retries_with_exponential_backoff_then_succeeds() {
        let attempts = RefCell::new(Vec::new());
        let fetch = |tile: TileId, attempt| {
            attempts.borrow_mut().push(attempt);
            async move { if attempt < 2 { Err(FetchAttemptError::from_http_status(503)) } else { Ok(tile.x + 100) } }
        };
        let (out, delays, progress) = run(tiles(1), &FetchPolicy::default(), fetch, &|| false);
        assert_eq!(out.unwrap(), vec![(tiles(1)[0], Ok(100))]);
        assert_eq!(*attempts.borrow(), [0, 1, 2]);
        let key = tile_key(tiles(1)[0]);
        let policy = FetchPolicy::default();
        assert_eq!(delays, [policy.jittered_backoff_ms(1, key), policy.jittered_backoff_ms(2, key)]);
        assert!((125..=250).contains(&delays[0]) && (250..=500).contains(&delays[1]), "{delays:?}");
        assert_eq!(progress, [(1, 1)]);
    }

    #[test]
    fn backoff_is_capped_and_failure_reported() {
        let policy = FetchPolicy { retries: 7, retry_delay_ms: 1000, ..FetchPolicy::default() };
        let fetch = |_, _| async { Err::<(), _>(FetchAttemptError::Retryable("network error".into())) };
        let (out, delays, _) = run(tiles(1), &policy, fetch, &|| false);
        let full = [1000, 2000, 4000, 8000, 8000, 8000, 8000];
        assert_eq!(delays.len(), full.len());
        assert!(delays.iter().zip(full).all(|(&d, f)| f / 2 <= d && d <= f), "{delays:?}");
        let failure = TileFailure { tile: tiles(1)[0], reason: "network error".into(), attempts: 8 };
        assert_eq!(out.unwrap(), vec![(tiles(1)[0], Err(failure.clone()))]);
        assert_eq!(
            serde_json::to_value(&failure).unwrap(),
            serde_json::json!({"tile": {"z": 10, "x": 0, "y": 7}, "reason": "network error", "attempts": 8})
        );
        let err = Error::from(failure);
        assert!(
            matches!(&err, Error::TileFetchFailed { z: 10, x: 0, y: 7, reason } if reason.contains("attempts made: 8"))
        );
        assert_eq!(FetchPolicy { retry_delay_ms: 0, ..policy.clone() }.backoff_ms(3), 0);
        assert_eq!(policy.backoff_ms(40), MAX_RETRY_DELAY_MS);
    }

    #[test]
    fn retry_outside_the_scheduler() {
        // One download (the weights use this): no sleep after the last attempt.
        let policy = FetchPolicy { retries: 2, retry_delay_ms: 500, ..FetchPolicy::default() };
        let delays = RefCell::new(Vec::new());
        let sleep = |ms| {
            delays.borrow_mut().push(ms);
            Yield(0)
        };
        let out = block_on(retry(
            &policy,
            1,
            |_| async { Err::<(), _>(FetchAttemptError::from_http_status(502)) },
            &sleep,
            &|| false,
        ));
        assert_eq!(out.unwrap(), Err(RetriesExhausted { reason: "HTTP 502: server error".into(), attempts: 3 }));
        assert_eq!(*delays.borrow(), [policy.jittered_backoff_ms(1, 1), policy.jittered_backoff_ms(2, 1)]);
        let ok =
            block_on(retry(&policy, 1, |attempt| async move { Ok::<_, FetchAttemptError>(attempt) }, &sleep, &|| {
                false
            }));
        assert_eq!(ok.unwrap(), Ok(0));
        let cancelled = block_on(retry(&policy, 1, |_| async { Ok::<_, FetchAttemptError>(()) }, &sleep, &|| true));
        assert!(matches!(cancelled, Err(Error::Aborted)));
    }

    #[test]
    fn retry_after_is_waited_for_within_its_bound() {
        let throttled =
            |ms| FetchAttemptError::Throttled { reason: format!("HTTP 429; retry after {ms} ms"), retry_after_ms: ms };
        let policy =
            FetchPolicy { retries: 3, retry_delay_ms: 100, max_retry_after_ms: 5000, ..FetchPolicy::default() };
        let key = tile_key(tiles(1)[0]);
        // The server's wait when it is the longer one, the backoff when that is.
        let answers = RefCell::new(vec![Err(throttled(2000)), Err(throttled(10)), Ok(7)]);
        let (out, delays, _) = run(
            tiles(1),
            &policy,
            |_, _| {
                let a = answers.borrow_mut().remove(0);
                async move { a }
            },
            &|| false,
        );
        assert_eq!(out.unwrap()[0].1, Ok(7));
        assert_eq!(delays, [2000, policy.jittered_backoff_ms(2, key).max(10)]);
        // Longer than maxRetryAfterMs: no wait, no retry, the reason says why.
        let calls = Cell::new(0);
        let fetch = |_, _| {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(throttled(60_000)) }
        };
        let (out, delays, _) = run(tiles(1), &policy, fetch, &|| false);
        assert!(delays.is_empty());
        assert_eq!(calls.get(), 1);
        let out = out.unwrap();
        assert!(
            matches!(&out[0].1, Err(TileFailure { attempts: 1, reason, .. }) if reason.contains("60000 ms") && reason.contains("maxRetryAfterMs")),
            "{out:?}"
        );
        // Out of retries: the last answer is the reason.
        let (out, delays, _) = run(
            tiles(1),
            &FetchPolicy { retries: 1, ..policy },
            |_, _| async { Err::<(), _>(throttled(300)) },
            &|| false,
        );
        assert_eq!(delays.len(), 1);
        assert!(
            matches!(&out.unwrap()[0].1, Err(TileFailure { attempts: 2, reason, .. }) if reason.contains("300 ms"))
        );
    }

    #[test]
    fn permanent_errors_are_not_retried() {
        let calls = Cell::new(0);
        let fetch = |tile: TileId, _| {
            calls.set(calls.get() + 1);
            async move { if tile.x == 1 { Err(FetchAttemptError::from_http_status(404)) } else { Ok(tile.x) } }
        };
        let (out, delays, progress) = run(tiles(3), &FetchPolicy::default(), fetch, &|| false);
        let out = out.unwrap();
        assert_eq!(calls.get(), 3);
        assert!(delays.is_empty());
        assert_eq!(out[0].1, Ok(0));
        assert!(matches!(&out[1].1, Err(TileFailure { attempts: 1, reason, .. }) if reason.contains("404")));
        assert_eq!(out[2].1, Ok(2));
        assert_eq!(progress, [(1, 3), (2, 3), (3, 3)]);
    }

    #[test]
    fn concurrency_never_exceeds_the_bound() {
        for concurrency in [1, 3, 8] {
            let (in_flight, max_in_flight) = (Cell::new(0), Cell::new(0));
            let fetch = |tile: TileId, _| {
                let (in_flight, max_in_flight) = (&in_flight, &max_in_flight);
                async move {
                    in_flight.set(in_flight.get() + 1);
                    max_in_flight.set(max_in_flight.get().max(in_flight.get()));
                    Yield(1 + tile.x % 4).await;
                    in_flight.set(in_flight.get() - 1);
                    Ok(())
                }
            };
            let policy = FetchPolicy { concurrency, ..FetchPolicy::default() };
            let (out, _, _) = run(tiles(20), &policy, fetch, &|| false);
            assert_eq!(out.unwrap().len(), 20);
            assert_eq!(max_in_flight.get(), concurrency);
        }
    }

    #[test]
    fn results_keep_input_order() {
        // Later tiles finish first.
        let fetch = |tile: TileId, _| async move {
            Yield(20 - tile.x).await;
            Ok(tile.x)
        };
        let policy = FetchPolicy { concurrency: 4, ..FetchPolicy::default() };
        let finished = RefCell::new(Vec::new());
        let fetch_logged = |tile: TileId, attempt| {
            let fut = fetch(tile, attempt);
            let finished = &finished;
            async move {
                let out = fut.await;
                finished.borrow_mut().push(tile.x);
                out
            }
        };
        let (out, _, progress) = run(tiles(10), &policy, fetch_logged, &|| false);
        let out = out.unwrap();
        assert_ne!(*finished.borrow(), (0..10).collect::<Vec<_>>(), "the test needs out-of-order completion");
        assert_eq!(out.iter().map(|(t, _)| t.x).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
        assert!(out.iter().all(|(t, r)| *r == Ok(t.x)));
        assert_eq!(progress, (1..=10).map(|d| (d, 10)).collect::<Vec<_>>());
    }

    #[test]
    fn a_request_aborted_with_the_run_is_not_retried_after_a_backoff() {
        // The run is cancelled while the attempt is in flight; the request fails as aborted
        // requests do (a retryable network error): no sleep, no second attempt.
        let policy = FetchPolicy { retries: 3, retry_delay_ms: 500, ..FetchPolicy::default() };
        let (cancelled, attempts, delays) = (Cell::new(false), Cell::new(0), RefCell::new(Vec::new()));
        let sleep = |ms| {
            delays.borrow_mut().push(ms);
            Yield(0)
        };
        let attempt = |_| {
            attempts.set(attempts.get() + 1);
            cancelled.set(true);
            async { Err::<(), _>(FetchAttemptError::Retryable("network error: aborted".into())) }
        };
        let out = block_on(retry(&policy, 1, attempt, &sleep, &|| cancelled.get()));
        assert!(matches!(out, Err(Error::Aborted)), "{out:?}");
        assert_eq!((attempts.get(), delays.borrow().len()), (1, 0));
    }

    #[test]
    fn cancellation_stops_early() {
        let calls = Cell::new(0);
        let fetch = |_, _| {
            calls.set(calls.get() + 1);
            async { Ok(()) }
        };
        let policy = FetchPolicy { concurrency: 2, ..FetchPolicy::default() };
        let (out, _, progress) = run(tiles(50), &policy, fetch, &|| calls.get() >= 5);
        assert!(matches!(out, Err(Error::Aborted)));
        assert!(calls.get() < 8, "{} attempts after cancellation", calls.get());
        assert!(progress.len() < 5);
    }

    #[test]
    fn cancellation_during_backoff_skips_the_retry() {
        let (calls, cancelled) = (Cell::new(0), Cell::new(false));
        let fetch = |_, _| {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(FetchAttemptError::from_http_status(503)) }
        };
        let sleep = |_| {
            cancelled.set(true);
            Yield(0)
        };
        let out =
            block_on(fetch_tiles(tiles(1), &FetchPolicy::default(), fetch, sleep, &mut |_, _| (), &|| cancelled.get()));
        assert!(matches!(out, Err(Error::Aborted)));
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn cancellation_while_the_last_tile_is_in_flight() {
        // The tile settles (here: fails permanently, like an aborted request) after the
        // cancellation: the call still reports Aborted, not a missing tile.
        let cancelled = Cell::new(false);
        let fetch = |_, _| {
            let cancelled = &cancelled;
            async move {
                cancelled.set(true);
                Err::<(), _>(FetchAttemptError::Permanent("aborted".into()))
            }
        };
        let (out, _, progress) = run(tiles(1), &FetchPolicy::default(), fetch, &|| cancelled.get());
        assert!(matches!(out, Err(Error::Aborted)));
        assert!(progress.is_empty());
    }

    #[test]
    fn no_tiles() {
        let (out, delays, progress) = run(Vec::new(), &FetchPolicy::default(), |_, _| async { Ok(()) }, &|| false);
        assert!(out.unwrap().is_empty() && delays.is_empty() && progress.is_empty());
    }
}
