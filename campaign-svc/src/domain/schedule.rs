//! Schedules in the campaign's IANA time zone: a run between two instants,
//! optionally only inside recurring local windows ("every Saturday all day").
//! Local times are computed with the bundled tz database, so windows follow
//! daylight-saving changes.
use jiff::{Timestamp, tz::TimeZone};
use serde::{Deserialize, Serialize};

/// A recurring local window: on these weekdays (1 = Monday .. 7 = Sunday),
/// from `start_minute` to `end_minute` inclusive (minutes after local midnight).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// ISO weekdays.
    pub days: Vec<u8>,
    /// First minute, 0..=1439.
    pub start_minute: u16,
    /// Last minute, inclusive, 0..=1439.
    pub end_minute: u16,
}

/// When a campaign runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// IANA zone name.
    pub timezone: String,
    /// Start, unix micros.
    pub starts_at: i64,
    /// End (exclusive), unix micros.
    pub ends_at: i64,
    /// Windows; empty means the whole run.
    pub windows: Vec<Window>,
}

/// Checks an IANA zone name against the bundled database.
pub fn zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| format!("unknown IANA time zone {name:?}"))
}

/// Parses "HH:MM" into minutes after midnight.
pub fn minute_of_day(s: &str) -> Result<u16, String> {
    let bad = || format!("{s:?} is not a time like \"23:59\"");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 || s.len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl Schedule {
    /// Whether the campaign runs at `at` (unix micros).
    pub fn applies_at(&self, at: i64) -> bool {
        if at < self.starts_at || at >= self.ends_at {
            return false;
        }
        if self.windows.is_empty() {
            return true;
        }
        let (Ok(tz), Ok(ts)) = (zone(&self.timezone), Timestamp::from_microsecond(at)) else {
            return false;
        };
        let local = ts.to_zoned(tz);
        let day = u8::try_from(local.weekday().to_monday_one_offset()).unwrap_or(0);
        let minute =
            u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
        self.windows
            .iter()
            .any(|w| w.days.contains(&day) && (w.start_minute..=w.end_minute).contains(&minute))
    }

    /// The local calendar day of `at`, as "YYYY-MM-DD" (per-day budgets).
    pub fn local_day(&self, at: i64) -> String {
        match (zone(&self.timezone), Timestamp::from_microsecond(at)) {
            (Ok(tz), Ok(ts)) => ts.to_zoned(tz).date().to_string(),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(rfc3339: &str) -> i64 {
        rfc3339
            .parse::<Timestamp>()
            .map(|t| t.as_microsecond())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn saturdays_in_rome() -> Schedule {
        Schedule {
            timezone: "Europe/Rome".into(),
            starts_at: micros("2026-01-01T00:00:00Z"),
            ends_at: micros("2027-01-01T00:00:00Z"),
            windows: vec![Window {
                days: vec![6],
                start_minute: 0,
                end_minute: 23 * 60 + 59,
            }],
        }
    }

    #[test]
    fn saturday_all_day_follows_daylight_saving() {
        let s = saturdays_in_rome();
        // CET (UTC+1): Saturday 23:30 local applies, Sunday 00:30 local does not.
        assert!(s.applies_at(micros("2026-03-28T22:30:00Z")));
        assert!(!s.applies_at(micros("2026-03-28T23:30:00Z")));
        // CEST (UTC+2) after 2026-03-29: Saturday 00:30 local applies, Sunday 00:30 local does not.
        assert!(s.applies_at(micros("2026-04-03T22:30:00Z")));
        assert!(!s.applies_at(micros("2026-04-04T22:30:00Z")));
    }

    #[test]
    fn outside_the_run_never_applies() {
        let s = saturdays_in_rome();
        assert!(!s.applies_at(micros("2025-12-27T12:00:00Z")));
        assert!(!s.applies_at(micros("2027-01-02T12:00:00Z")));
    }

    #[test]
    fn parses_local_times_and_zones() {
        assert_eq!(minute_of_day("23:59"), Ok(1439));
        assert_eq!(minute_of_day("00:00"), Ok(0));
        assert!(minute_of_day("24:00").is_err());
        assert!(minute_of_day("7:00").is_err());
        assert!(zone("Europe/Rome").is_ok());
        assert!(zone("Mars/Olympus").is_err());
    }
}
