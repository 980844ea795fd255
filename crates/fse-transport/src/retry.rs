//! Time, waiting and the retry policy.
//!
//! The client never reads the wall clock or sleeps by itself: it asks a
//! [`Clock`], so tests run retries against a fake one that records the
//! waits instead of sleeping. Backoff is exponential with jitter, bounded,
//! and a `Retry-After` from CART/GovWay is honoured up to a ceiling.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use time::OffsetDateTime;

/// A boxed future, as [`Clock::sleep`] returns.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The source of time, waiting and jitter.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> OffsetDateTime;
    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture;
    /// A random number in `[0, 1)` for jitter.
    fn random_unit(&self) -> f64;
}

/// The real clock: system time, tokio sleeps, jitter from the OS.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture {
        Box::pin(tokio::time::sleep(duration))
    }

    fn random_unit(&self) -> f64 {
        let mut bytes = [0u8; 8];
        // Jitter only spreads retries; if the OS cannot give randomness the
        // midpoint is as good as any.
        if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
            return 0.5;
        }
        (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// When and how often a retryable failure is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The backoff before the second attempt; it doubles after each one.
    pub initial_backoff: Duration,
    /// The ceiling of the backoff.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the retries
    /// and is reported to the caller.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The exponential backoff after attempt number `attempt` (1-based),
    /// before jitter: `initial * 2^(attempt-1)`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(31));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// How long to wait after failed attempt `attempt` (1-based), or `None`
    /// when no attempt is left or the server asks for a wait beyond
    /// [`RetryPolicy::max_retry_after`].
    ///
    /// The wait is the backoff with "equal jitter" (between half and all of
    /// it, by `unit` in `[0, 1)`), and never less than `retry_after`.
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        unit: f64,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        if retry_after.is_some_and(|r| r > self.max_retry_after) {
            return None;
        }
        let base = self.backoff(attempt);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let jittered = base.mul_f64(0.5 + unit / 2.0);
        Some(match retry_after {
            Some(r) => r.max(jittered.min(r.saturating_add(Duration::from_secs(1)))),
            None => jittered,
        })
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let delta = when - now;
    Some(if delta.is_negative() {
        Duration::ZERO
    } else {
        Duration::try_from(delta).unwrap_or(Duration::ZERO)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(700),
            max_retry_after: Duration::from_secs(60),
        };
        let b: Vec<u128> = (1..=5).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(b, [100, 200, 400, 700, 700]);
        assert_eq!(p.backoff(200), Duration::from_millis(700));
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        let p = RetryPolicy::default();
        for unit in [0.0, 0.25, 0.999, f64::NAN, 7.0] {
            let d = p.delay(2, None, unit).unwrap_or_default();
            assert!(
                d >= Duration::from_millis(500) && d <= Duration::from_millis(1000),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let p = RetryPolicy::default();
        let d = p.delay(1, Some(Duration::from_secs(7)), 0.9);
        assert!(d.is_some_and(|d| d >= Duration::from_secs(7) && d <= Duration::from_secs(8)));
        assert_eq!(p.delay(1, Some(Duration::from_secs(121)), 0.0), None);
        assert_eq!(p.delay(4, None, 0.0), None);
        assert_eq!(RetryPolicy::never().delay(1, None, 0.0), None);
    }

    #[test]
    fn retry_after_forms() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            parse_retry_after(" 12 ", now),
            Some(Duration::from_secs(12))
        );
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn system_clock_jitter_is_a_unit() {
        let u = SystemClock.random_unit();
        assert!((0.0..1.0).contains(&u));
    }
}
