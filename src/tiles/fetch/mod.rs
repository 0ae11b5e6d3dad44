//! Downloading tiles politely, independent of how one request is made or how time passes
//! (the browser supplies `fetch` and `setTimeout`; tests supply fakes):
//!
//! - [`policy`]: [`FetchPolicy`], the `fetch` option: limits, retries, backoff with jitter,
//!   the worst case in time.
//! - [`attempt`]: [`FetchAttemptError`], what one failed request means for the next (HTTP
//!   status, `Retry-After`).
//! - [`schedule`]: [`fetch_tiles`] and [`retry`]: many tiles with bounded concurrency,
//!   retries and cancellation; [`TileFailure`] and [`TileStats`] for the result.
//! - [`hosts`]: [`HostGate`], requests in flight per host, and a host's pause after it
//!   asked for one (`Retry-After`).
//! - [`shared`]: [`InFlight`], one request for identical requests in flight at once.
//! - [`range`]: [`RangeRead`], the host's reads of byte ranges of one file.

pub mod attempt;
pub mod hosts;
pub mod policy;
pub mod range;
pub mod schedule;
pub mod shared;

pub use attempt::{FetchAttemptError, parse_retry_after};
pub use hosts::{HostGate, HostPermit, host_of};
pub use policy::{FetchPolicy, MAX_CACHE_BYTES, MAX_RETRY_AFTER_MS, MAX_RETRY_DELAY_MS, MAX_TILE_BYTES};
pub use range::{RangeBytes, RangeRead};
pub use schedule::{RetriesExhausted, TileFailure, TileStats, fetch_tiles, fetch_tiles_each, retry, tile_key};
pub use shared::InFlight;
