//! Time as the simulator sees it, injectable so that tests can move it.

use std::fmt;
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to (for the 5-day expiry and `exp`).
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, to: OffsetDateTime) {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The offset of Italian civil time at `at`: +02:00 from the last Sunday of
/// March at 01:00 UTC to the last Sunday of October at 01:00 UTC, else
/// +01:00 (EU rule; the simulator carries no time-zone database).
pub fn italian_offset(at: OffsetDateTime) -> time::UtcOffset {
    let at = at.to_offset(time::UtcOffset::UTC);
    let year = at.year();
    let start = last_sunday_at_one_utc(year, time::Month::March);
    let end = last_sunday_at_one_utc(year, time::Month::October);
    let hours = if at >= start && at < end { 2 } else { 1 };
    time::UtcOffset::from_hms(hours, 0, 0).unwrap_or(time::UtcOffset::UTC)
}

fn last_sunday_at_one_utc(year: i32, month: time::Month) -> OffsetDateTime {
    // Both March and October have 31 days.
    let last = time::Date::from_calendar_date(year, month, 31).unwrap_or(time::Date::MIN);
    let back = i64::from(last.weekday().number_days_from_sunday());
    let sunday = last - Duration::days(back);
    sunday
        .with_hms(1, 0, 0)
        .unwrap_or(sunday.midnight())
        .assume_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn italian_offset_follows_the_eu_summer_time_rule() {
        // 2026: summer time from 29 March to 25 October.
        assert_eq!(
            italian_offset(datetime!(2026-03-29 00:59 UTC)).whole_hours(),
            1
        );
        assert_eq!(
            italian_offset(datetime!(2026-03-29 01:00 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            italian_offset(datetime!(2026-07-01 12:00 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            italian_offset(datetime!(2026-10-25 00:59 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            italian_offset(datetime!(2026-10-25 01:00 UTC)).whole_hours(),
            1
        );
        assert_eq!(
            italian_offset(datetime!(2026-12-25 12:00 UTC)).whole_hours(),
            1
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-01-01 00:00 UTC));
        clock.advance(Duration::days(5));
        assert_eq!(clock.now(), datetime!(2026-01-06 00:00 UTC));
    }
}
