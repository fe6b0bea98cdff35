//! Retention cohorts: members grouped by the calendar month (in the
//! program's time zone) they enrolled in, and the later months in which the
//! report asks whether they still buy.
use jiff::{Timestamp, ToSpan as _, Zoned, tz::TimeZone};

/// Months after the enrolment month the report looks at.
pub const AFTER: [u32; 4] = [1, 3, 6, 12];
/// Cohorts a report shows at most (the latest of the period).
pub const MOST: usize = 24;

/// An enrolment month: its label ("2026-06") and `[start, end)`, unix micros.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Month {
    /// "2026-06".
    pub label: String,
    /// Its first instant.
    pub start: i64,
    /// The next month's first instant.
    pub end: i64,
}

fn month_of(zone: &TimeZone, at: i64) -> Option<Zoned> {
    let local = Timestamp::from_microsecond(at).ok()?.to_zoned(zone.clone());
    local.first_of_month().ok()?.start_of_day().ok()
}

fn micros(z: &Zoned) -> i64 {
    z.timestamp().as_microsecond()
}

/// The months that overlap `[from, to)` in `tz`, oldest first, the latest
/// [`MOST`] of them.
pub fn months(tz: &str, from: i64, to: i64) -> Vec<Month> {
    let zone = TimeZone::get(tz).unwrap_or(TimeZone::UTC);
    let mut out = Vec::new();
    let Some(mut start) = month_of(&zone, from) else {
        return out;
    };
    while micros(&start) < to {
        let Ok(next) = start.checked_add(1.month()) else {
            break;
        };
        out.push(Month {
            label: start.strftime("%Y-%m").to_string(),
            start: micros(&start),
            end: micros(&next),
        });
        start = next;
    }
    let skip = out.len().saturating_sub(MOST);
    out.split_off(skip)
}

/// For a cohort starting at `month_start`: the months [`AFTER`] it, each
/// `(months after, start, end)`, those over by `now` only.
pub fn windows(tz: &str, month_start: i64, now: i64) -> Vec<(u32, i64, i64)> {
    let zone = TimeZone::get(tz).unwrap_or(TimeZone::UTC);
    let Some(start) = month_of(&zone, month_start) else {
        return Vec::new();
    };
    AFTER
        .iter()
        .filter_map(|&k| {
            let from = start.checked_add(i64::from(k).months()).ok()?;
            let to = from.checked_add(1.month()).ok()?;
            (micros(&to) <= now).then(|| (k, micros(&from), micros(&to)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().map_or(0, |t| t.as_microsecond())
    }

    #[test]
    fn months_follow_the_local_calendar() {
        // Rome: March 2026 starts at 23:00 UTC on Feb 28; October has a 25-hour day.
        let m = months(
            "Europe/Rome",
            at("2026-03-15T00:00:00Z"),
            at("2026-10-31T23:00:00Z"),
        );
        let labels: Vec<&str> = m.iter().map(|m| m.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09",
                "2026-10"
            ]
        );
        assert_eq!(m[0].start, at("2026-02-28T23:00:00Z"));
        assert_eq!(m[7].end, at("2026-10-31T23:00:00Z"));
        let long = months(
            "UTC",
            at("2020-01-01T00:00:00Z"),
            at("2026-01-01T00:00:00Z"),
        );
        assert_eq!((long.len(), long[0].label.as_str()), (MOST, "2024-01"));
    }

    #[test]
    fn only_months_that_are_over_are_asked() {
        let june = at("2026-06-01T00:00:00Z");
        let w = windows("UTC", june, at("2026-10-15T00:00:00Z"));
        // July is over, September is over; December and next June are not.
        assert_eq!(
            w,
            vec![
                (1, at("2026-07-01T00:00:00Z"), at("2026-08-01T00:00:00Z")),
                (3, at("2026-09-01T00:00:00Z"), at("2026-10-01T00:00:00Z"))
            ]
        );
    }
}
