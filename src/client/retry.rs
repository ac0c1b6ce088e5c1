//! When and how long to wait before repeating a request: only idempotent reads, only errors
//! that may go away, exponential backoff with jitter.

use std::time::Duration;

use rand::Rng;

use crate::error::Error;

/// Retry policy for GET requests; other methods are never repeated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries of one GET, the first included (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry; doubles for each further one.
    pub base_delay: Duration,
    /// Upper bound for one wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Three tries, waiting about 250 ms and 500 ms in between.
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            attempts: 1,
            ..Self::default()
        }
    }

    /// True when a GET that failed with `err` on try number `attempt` (0-based) is tried again.
    ///
    /// Reads are idempotent, so besides [`Error::retry_safe`] errors this also repeats reads
    /// after a timeout or a broken connection.
    pub fn should_retry_read(&self, err: &Error, attempt: u32) -> bool {
        attempt + 1 < self.attempts
            && (err.retry_safe() || matches!(err, Error::Timeout | Error::Interrupted { .. }))
    }

    /// Wait before retry number `retry` (0-based): `base · 2^retry`, capped at `max_delay`,
    /// then a random value between half of that and all of it.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retry.min(16))
            .min(self.max_delay);
        let half = exp / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::thread_rng().gen_range(0..=jitter_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_bounded() {
        let p = RetryPolicy::default();
        for retry in 0..20 {
            let d = p.delay(retry);
            let cap = p
                .base_delay
                .saturating_mul(1 << retry.min(16))
                .min(p.max_delay);
            assert!(d >= cap / 2 && d <= cap, "retry {retry}: {d:?}");
        }
    }

    #[test]
    fn what_is_retried() {
        let p = RetryPolicy::default();
        assert!(p.should_retry_read(&Error::Timeout, 0));
        assert!(p.should_retry_read(
            &Error::Connect {
                message: String::new()
            },
            1
        ));
        assert!(!p.should_retry_read(&Error::Timeout, 2));
        let busy = Error::Upstream {
            status: 503,
            message: String::new(),
        };
        assert!(p.should_retry_read(&busy, 0));
        let failed = Error::Upstream {
            status: 500,
            message: "VM is locked".into(),
        };
        assert!(!p.should_retry_read(&failed, 0));
        assert!(!p.should_retry_read(
            &Error::Unauthorized {
                message: String::new()
            },
            0
        ));
        assert!(!RetryPolicy::none().should_retry_read(&Error::Timeout, 0));
    }
}
