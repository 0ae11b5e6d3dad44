//! How tiles are downloaded: [`FetchPolicy`], the `fetch` option, with its limits and the
//! retry delays it implies.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Upper bound on any backoff delay, in milliseconds.
pub const MAX_RETRY_DELAY_MS: u32 = 8000;
/// Most bytes `FetchPolicy.cache_bytes` may ask for (1 GiB).
pub const MAX_CACHE_BYTES: u64 = 1 << 30;
/// Longest `Retry-After` a policy may agree to wait, in milliseconds (10 minutes).
pub const MAX_RETRY_AFTER_MS: u32 = 600_000;
/// The largest tile body geodetect reads (64 MiB: more than a 4096 px PNG needs). A larger
/// one is not an image tile (a misconfigured URL serving a file, a runaway response) and fails
/// at once, before its body is read where the server says its length.
pub const MAX_TILE_BYTES: u64 = 64 << 20;

/// How tiles (and weights) are downloaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FetchPolicy {
    /// Requests in flight at once, `1..=64`. Default 8.
    pub concurrency: usize,
    /// Requests in flight at once to one host (scheme, host and port), `1..=64`; with
    /// `{s}` subdomains each subdomain is a host. Per worker: a pool of `n` workers sends at
    /// most `n` times this many. Default 6, what browsers allow per host over HTTP/1.1.
    pub per_host: usize,
    /// Time limit of one request in milliseconds, `1..=600000`; a request that runs out
    /// of time counts as a retryable failure. Default 15000.
    pub timeout_ms: u32,
    /// Retries after a retryable failure (network error, timeout, a body cut short, HTTP
    /// 408, 429, 5xx), `0..=10`. Default 3.
    pub retries: u32,
    /// Delay before the first retry in milliseconds, `0..=8000`; it doubles with every
    /// further retry, up to 8000, and each delay is drawn between half of it and all of it
    /// (jitter), so tiles that failed together do not come back together. Default 250.
    pub retry_delay_ms: u32,
    /// Longest wait a server may ask for with `429`/`503` + `Retry-After` (seconds or an
    /// HTTP date), `0..=600000` ms. Within it, the host's requests pause for that long and
    /// the tile is retried (a retry like any other); beyond it, the tile is given up at once
    /// (in `missingTiles`, with the wait the server asked for). Cross-origin, the browser
    /// only shows `Retry-After` when the server lists it in
    /// `Access-Control-Expose-Headers`; otherwise the usual backoff applies. Default 30000.
    pub max_retry_after_ms: u32,
    /// Bytes of tile bodies each worker keeps in memory for tiles asked for again (a chunk's
    /// seam, overlapping areas), `0..=1073741824` (0: none). Default 67108864 (64 MiB).
    pub cache_bytes: u64,
    /// Name of a Cache Storage cache (the Cache API) that keeps downloaded tiles across
    /// page loads, or `null` (the default) for none. The browser evicts it under storage
    /// pressure; clear it with `caches.delete(name)`. Its keys are the tile URLs with the
    /// source's secrets redacted. Only URL-addressed tiles (templates, WMS) are kept there.
    pub cache_name: Option<String>,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            concurrency: 8,
            per_host: 6,
            timeout_ms: 15_000,
            retries: 3,
            retry_delay_ms: 250,
            max_retry_after_ms: 30_000,
            cache_bytes: 64 << 20,
            cache_name: None,
        }
    }
}

impl FetchPolicy {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<()> {
        let limits = [
            ("concurrency", self.concurrency as u64, 1, 64),
            ("perHost", self.per_host as u64, 1, 64),
            ("timeoutMs", self.timeout_ms.into(), 1, 600_000),
            ("retries", self.retries.into(), 0, 10),
            ("retryDelayMs", self.retry_delay_ms.into(), 0, MAX_RETRY_DELAY_MS.into()),
            ("maxRetryAfterMs", self.max_retry_after_ms.into(), 0, MAX_RETRY_AFTER_MS.into()),
            ("cacheBytes", self.cache_bytes, 0, MAX_CACHE_BYTES),
        ];
        for (field, value, min, max) in limits {
            if !(min..=max).contains(&value) {
                return Err(Error::invalid_option(field, format!("must be between {min} and {max}, got {value}")));
            }
        }
        if let Some(name) = &self.cache_name
            && (name.is_empty() || name.len() > 256)
        {
            return Err(Error::invalid_option("cacheName", "must be a name of 1 to 256 characters, or null"));
        }
        Ok(())
    }

    /// The longest delay before retry number `retry` (1 for the first retry), in
    /// milliseconds: `retry_delay_ms * 2^(retry - 1)`, capped at [`MAX_RETRY_DELAY_MS`].
    pub fn backoff_ms(&self, retry: u32) -> u32 {
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.retry_delay_ms.saturating_mul(factor).min(MAX_RETRY_DELAY_MS)
    }

    /// The delay actually waited before retry number `retry` of the request named by `key`
    /// (a tile's id, say): [`Self::backoff_ms`] scaled into `[1/2, 1]` by a hash of `key`
    /// and `retry` ("equal jitter"). Deterministic, so tests can pin it, yet different from
    /// one tile to the next.
    pub fn jittered_backoff_ms(&self, retry: u32, key: u64) -> u32 {
        let full = u64::from(self.backoff_ms(retry));
        let unit = splitmix64(key ^ u64::from(retry).rotate_left(32)) >> 11; // 53 random bits
        let half = full / 2;
        let extra = (((full - half) as u128 * u128::from(unit)) >> 53) as u64;
        (half + extra) as u32
    }

    /// The longest time one tile can take from its first attempt to its last answer, in
    /// milliseconds, once a request slot is free: every attempt running out of time and every
    /// retry waiting its longest (the full backoff, or `maxRetryAfterMs` when the server asks
    /// for longer). Waiting for a free slot behind other tiles comes on top.
    pub fn worst_case_ms(&self) -> u64 {
        let attempts = u64::from(self.retries) + 1;
        let waits: u64 = (1..=self.retries).map(|r| u64::from(self.backoff_ms(r).max(self.max_retry_after_ms))).sum();
        attempts * u64::from(self.timeout_ms) + waits
    }
}

/// SplitMix64: a fixed bijective mix of 64 bits (Steele, Lea and Flood), enough to spread
/// retry delays; not for anything secret.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let p: FetchPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(p, FetchPolicy::default());
        assert_eq!((p.concurrency, p.per_host, p.max_retry_after_ms, p.cache_name.as_deref()), (8, 6, 30_000, None));
        p.validate().unwrap();
        let p: FetchPolicy =
            serde_json::from_str(r#"{"concurrency": 2, "retryDelayMs": 10, "cacheName": "tiles"}"#).unwrap();
        assert_eq!((p.concurrency, p.retry_delay_ms, p.retries, p.cache_name.as_deref()), (2, 10, 3, Some("tiles")));
        assert!(serde_json::from_str::<FetchPolicy>(r#"{"retry_delay_ms": 1}"#).is_err());
        for (bad, field) in [
            (FetchPolicy { concurrency: 0, ..p.clone() }, "concurrency"),
            (FetchPolicy { concurrency: 65, ..p.clone() }, "concurrency"),
            (FetchPolicy { per_host: 0, ..p.clone() }, "perHost"),
            (FetchPolicy { timeout_ms: 0, ..p.clone() }, "timeoutMs"),
            (FetchPolicy { retries: 11, ..p.clone() }, "retries"),
            (FetchPolicy { retry_delay_ms: 9000, ..p.clone() }, "retryDelayMs"),
            (FetchPolicy { max_retry_after_ms: 600_001, ..p.clone() }, "maxRetryAfterMs"),
            (FetchPolicy { cache_name: Some(String::new()), ..p.clone() }, "cacheName"),
        ] {
            assert!(matches!(bad.validate(), Err(Error::InvalidOptions { field: f, .. }) if f == field), "{bad:?}");
        }
    }

    #[test]
    fn jitter_stays_within_half_and_whole_and_spreads_tiles() {
        let p = FetchPolicy { retry_delay_ms: 1000, ..FetchPolicy::default() };
        for retry in 1..=6 {
            let full = p.backoff_ms(retry);
            let delays: Vec<u32> = (0..200u64).map(|key| p.jittered_backoff_ms(retry, key)).collect();
            assert!(delays.iter().all(|&d| full / 2 <= d && d <= full), "retry {retry}: {delays:?}");
            let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
            assert!(distinct.len() > 150, "retry {retry}: only {} distinct delays", distinct.len());
            // Spread over the whole range, not bunched at one end.
            let mean = delays.iter().map(|&d| f64::from(d)).sum::<f64>() / 200.0;
            assert!((mean - 0.75 * f64::from(full)).abs() < 0.05 * f64::from(full), "retry {retry}: mean {mean}");
        }
        assert_eq!(p.jittered_backoff_ms(2, 7), p.jittered_backoff_ms(2, 7));
        assert_eq!(FetchPolicy { retry_delay_ms: 0, ..p }.jittered_backoff_ms(3, 1), 0);
    }

    #[test]
    fn worst_case_adds_every_timeout_and_the_longest_waits() {
        let p = FetchPolicy {
            retries: 2,
            timeout_ms: 1000,
            retry_delay_ms: 100,
            max_retry_after_ms: 0,
            ..FetchPolicy::default()
        };
        assert_eq!(p.worst_case_ms(), 3 * 1000 + 100 + 200);
        let p = FetchPolicy { max_retry_after_ms: 5000, ..p };
        assert_eq!(p.worst_case_ms(), 3 * 1000 + 5000 + 5000);
        assert_eq!(FetchPolicy { retries: 0, ..p }.worst_case_ms(), 1000);
    }
}
