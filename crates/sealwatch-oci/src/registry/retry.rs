//! When to retry a registry request and how long to wait.

use std::time::{Duration, SystemTime};

/// Statuses that mean "try again later": rate limited or a proxy/server that is briefly unavailable.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Exponential backoff: `base * 2^attempt`, never above `cap`.
pub(crate) fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(cap)
}

/// The wait a `Retry-After` value asks for (delta-seconds or an HTTP date), capped at `cap`.
/// `None` when the value is neither.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime, cap: Duration) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_values() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        let cap = Duration::from_secs(30);
        let cases: Vec<(&str, Option<Duration>)> = vec![
            ("0", Some(Duration::ZERO)),
            (" 7 ", Some(Duration::from_secs(7))),
            ("86400", Some(cap)),
            (
                "Sun, 06 Nov 1994 08:49:42 GMT",
                Some(Duration::from_secs(5)),
            ),
            ("Sun, 06 Nov 1994 08:49:00 GMT", Some(Duration::ZERO)),
            ("Mon, 07 Nov 1994 08:49:37 GMT", Some(cap)),
            ("-1", None),
            ("soon", None),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                parse_retry_after(value, now, cap),
                want,
                "Retry-After {value:?}"
            );
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(1);
        let got: Vec<u128> = (0..6).map(|a| backoff(a, base, cap).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(u32::MAX, base, cap), cap);
    }

    #[test]
    fn retryable_statuses() {
        let retryable: Vec<u16> = [200, 400, 401, 404, 429, 500, 502, 503, 504]
            .into_iter()
            .filter(|s| is_retryable_status(*s))
            .collect();
        assert_eq!(retryable, vec![429, 502, 503, 504]);
    }
}
