//! Downloading many tiles with bounded concurrency, retries and cancellation, independent
//! of how one tile is fetched or how time passes (the browser supplies `fetch` and
//! `setTimeout`; tests supply fakes).
//!
//! Everything runs on one thread: no `Send` bounds, suitable for a wasm worker.

use super::TileId;
use crate::{Error, Result};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// Upper bound on any backoff delay, in milliseconds.
pub const MAX_RETRY_DELAY_MS: u32 = 8000;

/// How tiles (and weights) are downloaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FetchPolicy {
    /// Requests in flight at once, `1..=64`. Default 8.
    pub concurrency: usize,
    /// Time limit of one request in milliseconds, `1..=600000`; a request that runs out
    /// of time counts as a retryable failure. Default 15000.
    pub timeout_ms: u32,
    /// Retries after a retryable failure (network error, timeout, HTTP 408, 429, 5xx),
    /// `0..=10`. Default 3.
    pub retries: u32,
    /// Delay before the first retry in milliseconds, `0..=8000`; it doubles with every
    /// further retry, up to 8000. Default 250.
    pub retry_delay_ms: u32,
    /// Bytes of tile bodies each worker keeps in memory for tiles asked for again (a chunk's
    /// seam, overlapping areas), `0..=1073741824` (0: none). Default 67108864 (64 MiB).
    pub cache_bytes: u64,
}

/// Most bytes `FetchPolicy.cache_bytes` may ask for (1 GiB).
pub const MAX_CACHE_BYTES: u64 = 1 << 30;

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy { concurrency: 8, timeout_ms: 15_000, retries: 3, retry_delay_ms: 250, cache_bytes: 64 << 20 }
    }
}

impl FetchPolicy {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<()> {
        let limits = [
            ("concurrency", self.concurrency as u64, 1, 64),
            ("timeoutMs", self.timeout_ms.into(), 1, 600_000),
            ("retries", self.retries.into(), 0, 10),
            ("retryDelayMs", self.retry_delay_ms.into(), 0, MAX_RETRY_DELAY_MS.into()),
            ("cacheBytes", self.cache_bytes, 0, MAX_CACHE_BYTES),
        ];
        for (field, value, min, max) in limits {
            if !(min..=max).contains(&value) {
                return Err(Error::invalid_option(field, format!("must be between {min} and {max}, got {value}")));
            }
        }
        Ok(())
    }

    /// Delay before retry number `retry` (1 for the first retry), in milliseconds:
    /// `retry_delay_ms * 2^(retry - 1)`, capped at [`MAX_RETRY_DELAY_MS`].
    pub fn backoff_ms(&self, retry: u32) -> u32 {
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.retry_delay_ms.saturating_mul(factor).min(MAX_RETRY_DELAY_MS)
    }
}

/// Why one attempt at one tile failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttemptError {
    /// Worth another try: network error, timeout, HTTP 408, 429 or 5xx.
    Retryable(String),
    /// Will fail again: HTTP 404 and other 4xx, an undecodable image.
    Permanent(String),
}

impl FetchAttemptError {
    /// Classifies an unsuccessful HTTP status.
    pub fn from_http_status(status: u16) -> Self {
        match status {
            408 | 429 => {
                Self::Retryable(format!("HTTP {status}: the server is busy or rate limiting; lower `concurrency`"))
            }
            500..=599 => Self::Retryable(format!("HTTP {status}: server error")),
            401 | 403 => Self::Permanent(format!(
                "HTTP {status}: access denied; check the API key in the URL and the server's terms of use"
            )),
            404 => Self::Permanent(
                "HTTP 404: the server has no tile here; check the URL template and the source's maxZoom".into(),
            ),
            _ => Self::Permanent(format!("HTTP {status}")),
        }
    }

    /// The same error, its reason passed through `redact` (a source's secrets out of it).
    pub fn redacted(self, redact: impl FnOnce(&str) -> String) -> Self {
        match self {
            Self::Retryable(reason) => Self::Retryable(redact(&reason)),
            Self::Permanent(reason) => Self::Permanent(redact(&reason)),
        }
    }

    /// The human-readable reason.
    pub fn reason(&self) -> &str {
        match self {
            Self::Retryable(reason) | Self::Permanent(reason) => reason,
        }
    }
}

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
    /// Of those, taken from the worker's tile cache (`fetch.cacheBytes`).
    pub from_cache: usize,
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
    let outcome = retry(policy, |attempt| fetch_one(tile, attempt), sleep, is_cancelled).await?;
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
/// up, sleeping `policy.backoff_ms(retry)` before each retry (never after the last
/// attempt). Fails with [`Error::Aborted`] when `is_cancelled` returns true before an
/// attempt. The tile scheduler and the weights download both retry through this.
pub async fn retry<T, Fut, SFut>(
    policy: &FetchPolicy,
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
        match attempt_once(attempt).await {
            Ok(value) => return Ok(Ok(value)),
            Err(FetchAttemptError::Retryable(_)) if attempt < policy.retries => {
                attempt += 1;
                sleep(policy.backoff_ms(attempt)).await;
            }
            Err(e) => return Ok(Err(RetriesExhausted { reason: e.reason().to_owned(), attempts: attempt + 1 })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn policy_defaults_and_validation() {
        let p: FetchPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(
            p,
            FetchPolicy { concurrency: 8, timeout_ms: 15_000, retries: 3, retry_delay_ms: 250, cache_bytes: 64 << 20 }
        );
        p.validate().unwrap();
        let p: FetchPolicy = serde_json::from_str(r#"{"concurrency": 2, "retryDelayMs": 10}"#).unwrap();
        assert_eq!((p.concurrency, p.retry_delay_ms, p.retries), (2, 10, 3));
        assert!(serde_json::from_str::<FetchPolicy>(r#"{"retry_delay_ms": 1}"#).is_err());
        for (bad, field) in [
            (FetchPolicy { concurrency: 0, ..p.clone() }, "concurrency"),
            (FetchPolicy { concurrency: 65, ..p.clone() }, "concurrency"),
            (FetchPolicy { timeout_ms: 0, ..p.clone() }, "timeoutMs"),
            (FetchPolicy { retries: 11, ..p.clone() }, "retries"),
            (FetchPolicy { retry_delay_ms: 9000, ..p.clone() }, "retryDelayMs"),
        ] {
            assert!(matches!(bad.validate(), Err(Error::InvalidOptions { field: f, .. }) if f == field), "{bad:?}");
        }
        // An invalid policy fails the call before anything is fetched.
        let calls = Cell::new(0);
        let bad = FetchPolicy { concurrency: 0, ..p };
        let (out, _, _) = run(
            tiles(2),
            &bad,
            |_, _| {
                calls.set(calls.get() + 1);
                async { Ok(()) }
            },
            &|| false,
        );
        assert!(matches!(out, Err(Error::InvalidOptions { .. })));
        assert_eq!(calls.get(), 0);
    }

    #[test]
    fn http_status_classification() {
        for s in [408, 429, 500, 502, 503, 599] {
            assert!(matches!(FetchAttemptError::from_http_status(s), FetchAttemptError::Retryable(_)), "{s}");
        }
        for s in [400, 401, 403, 404, 410, 418] {
            let e = FetchAttemptError::from_http_status(s);
            assert!(matches!(e, FetchAttemptError::Permanent(_)), "{s}");
            assert!(e.reason().contains(&s.to_string()));
        }
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
        assert_eq!(delays, [250, 500]);
        assert_eq!(progress, [(1, 1)]);
    }

    #[test]
    fn backoff_is_capped_and_failure_reported() {
        let policy = FetchPolicy { retries: 7, retry_delay_ms: 1000, ..FetchPolicy::default() };
        let fetch = |_, _| async { Err::<(), _>(FetchAttemptError::Retryable("network error".into())) };
        let (out, delays, _) = run(tiles(1), &policy, fetch, &|| false);
        assert_eq!(delays, [1000, 2000, 4000, 8000, 8000, 8000, 8000]);
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
            |_| async { Err::<(), _>(FetchAttemptError::from_http_status(502)) },
            &sleep,
            &|| false,
        ));
        assert_eq!(out.unwrap(), Err(RetriesExhausted { reason: "HTTP 502: server error".into(), attempts: 3 }));
        assert_eq!(*delays.borrow(), [500, 1000]);
        let ok =
            block_on(retry(&policy, |attempt| async move { Ok::<_, FetchAttemptError>(attempt) }, &sleep, &|| false));
        assert_eq!(ok.unwrap(), Ok(0));
        let cancelled = block_on(retry(&policy, |_| async { Ok::<_, FetchAttemptError>(()) }, &sleep, &|| true));
        assert!(matches!(cancelled, Err(Error::Aborted)));
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
