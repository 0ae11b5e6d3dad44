//! What one request's failure means for the next: [`FetchAttemptError`], from an HTTP
//! status and the server's `Retry-After`.

use std::time::{Duration, SystemTime};

/// Why one attempt at one tile failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttemptError {
    /// Worth another try: network error, timeout, a body cut short, HTTP 408, 429 or 5xx.
    Retryable(String),
    /// Worth another try once `retry_after_ms` have passed: HTTP 429 or 503 with a
    /// `Retry-After` the host could read.
    Throttled {
        /// What happened.
        reason: String,
        /// How long the server asked to wait, in milliseconds.
        retry_after_ms: u32,
    },
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
                "HTTP 404: the server has no tile here; check the URL template and the source's maxZoom \
                 (or set the source's `notFoundIsEmpty` where 404 means no imagery)"
                    .into(),
            ),
            _ => Self::Permanent(format!("HTTP {status}")),
        }
    }

    /// [`Self::from_http_status`], with the response's `Retry-After` header (if the host
    /// could read it) turning a 429 or 503 into [`Self::Throttled`]. `now` is the host's
    /// wall clock, for a `Retry-After` given as an HTTP date.
    pub fn from_http_response(status: u16, retry_after: Option<&str>, now: SystemTime) -> Self {
        let classified = Self::from_http_status(status);
        match (status, retry_after.and_then(|value| parse_retry_after(value, now))) {
            (429 | 503, Some(retry_after_ms)) => Self::Throttled {
                reason: format!("{}; it asked to retry after {retry_after_ms} ms", classified.reason()),
                retry_after_ms,
            },
            _ => classified,
        }
    }

    /// The same error, its reason passed through `redact` (a source's secrets out of it).
    pub fn redacted(self, redact: impl FnOnce(&str) -> String) -> Self {
        match self {
            Self::Retryable(reason) => Self::Retryable(redact(&reason)),
            Self::Throttled { reason, retry_after_ms } => Self::Throttled { reason: redact(&reason), retry_after_ms },
            Self::Permanent(reason) => Self::Permanent(redact(&reason)),
        }
    }

    /// The human-readable reason.
    pub fn reason(&self) -> &str {
        match self {
            Self::Retryable(reason) | Self::Throttled { reason, .. } | Self::Permanent(reason) => reason,
        }
    }
}

/// Milliseconds a `Retry-After` value asks to wait (RFC 9110 §10.2.3: whole seconds, or
/// an HTTP date, then counted from `now`; a date in the past means 0). `None` when the value
/// is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<u32> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: u64 = value.parse().unwrap_or(u64::MAX);
        return Some(seconds.saturating_mul(1000).min(u64::from(u32::MAX)) as u32);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let wait = at.duration_since(now).unwrap_or(Duration::ZERO);
    Some(wait.as_millis().min(u128::from(u32::MAX)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn retry_after_in_seconds_and_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(3000));
        assert_eq!(parse_retry_after(" 0 ", now), Some(0));
        assert_eq!(parse_retry_after("99999999999999999999", now), Some(u32::MAX));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&later, now), Some(7000));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse_retry_after(&earlier, now), Some(0));
        for bad in ["", "-1", "1.5", "soon", "Tue, 99 Foo 2026"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_throttles_429_and_503_only() {
        let now = SystemTime::UNIX_EPOCH;
        let e = FetchAttemptError::from_http_response(429, Some("2"), now);
        assert_eq!(e.clone().redacted(str::to_owned), e);
        assert!(
            matches!(&e, FetchAttemptError::Throttled { retry_after_ms: 2000, reason } if reason.contains("HTTP 429") && reason.contains("2000 ms")),
            "{e:?}"
        );
        assert!(matches!(
            FetchAttemptError::from_http_response(503, Some("1"), now),
            FetchAttemptError::Throttled { retry_after_ms: 1000, .. }
        ));
        // Unreadable or irrelevant: the status alone decides.
        assert_eq!(
            FetchAttemptError::from_http_response(429, Some("later"), now),
            FetchAttemptError::from_http_status(429)
        );
        assert_eq!(FetchAttemptError::from_http_response(429, None, now), FetchAttemptError::from_http_status(429));
        assert_eq!(
            FetchAttemptError::from_http_response(500, Some("1"), now),
            FetchAttemptError::from_http_status(500)
        );
        assert_eq!(
            FetchAttemptError::from_http_response(404, Some("1"), now),
            FetchAttemptError::from_http_status(404)
        );
    }
}
