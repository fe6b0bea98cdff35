//! Time as stored: unix microseconds, UTC, in an `i64` (both backends, no time zone surprises).
use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use prost_types::Timestamp;

/// Now, in unix microseconds.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The time source of business rules and jobs: the system clock, or a
/// manual one that tests move forward (days pass in microseconds).
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands still at `start` until [`Clock::advance`]d.
    pub fn manual(start: i64) -> Self {
        Self(Some(Arc::new(AtomicI64::new(start))))
    }

    /// Now, in unix microseconds.
    pub fn now(&self) -> i64 {
        match &self.0 {
            None => now_micros(),
            Some(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; the system clock ignores it.
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.0 {
            t.fetch_add(micros(by), Ordering::SeqCst);
        }
    }
}

/// A duration in microseconds, saturating.
pub fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A wire timestamp to unix microseconds; `None` when out of range.
pub fn from_timestamp(ts: &Timestamp) -> Option<i64> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return None;
    }
    ts.seconds
        .checked_mul(1_000_000)?
        .checked_add(i64::from(ts.nanos / 1_000))
}

/// 1970-01-01 to 2200-01-01: the instants a request may name.
const INSTANTS: std::ops::RangeInclusive<i64> = 0..=7_258_118_400_000_000;

/// An optional instant of a request (1970 to 2200, valid nanos), in unix
/// micros; one out of range is recorded under `field`, never read as unset.
pub fn instant(
    v: &mut crate::error::Violations,
    field: &str,
    ts: Option<&Timestamp>,
) -> Option<i64> {
    let ts = ts?;
    let micros = from_timestamp(ts).filter(|m| INSTANTS.contains(m));
    if micros.is_none() {
        v.add(field, "not a valid timestamp between 1970 and 2200");
    }
    micros
}

/// An optional duration of a request (a TTL), in microseconds: `default`
/// when absent; one not positive, with bad nanos, or over `max` is recorded
/// under `field`.
pub fn duration(
    v: &mut crate::error::Violations,
    field: &str,
    d: Option<&prost_types::Duration>,
    default: i64,
    max: i64,
) -> i64 {
    let Some(d) = d else {
        return default;
    };
    let micros = d
        .seconds
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(d.nanos / 1_000));
    if !(0..1_000_000_000).contains(&d.nanos) || micros <= 0 || micros > max {
        v.add(field, format!("positive, at most {} s", max / 1_000_000));
    }
    micros
}

/// Unix microseconds to a wire timestamp.
pub fn to_timestamp(micros: i64) -> Timestamp {
    Timestamp {
        seconds: micros.div_euclid(1_000_000),
        // The remainder is below 1e6, so the product fits an i32.
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1_000).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_including_before_epoch() {
        for m in [0, 1, -1, 1_700_000_000_123_456, -86_400_000_001] {
            assert_eq!(from_timestamp(&to_timestamp(m)), Some(m));
        }
    }

    #[test]
    fn rejects_bad_nanos() {
        let ts = Timestamp {
            seconds: 1,
            nanos: -5,
        };
        assert_eq!(from_timestamp(&ts), None);
    }
}
