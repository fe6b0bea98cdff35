//! Per-period caps: what a member may still earn from the program's earn
//! rules in one asset in the calendar day, month or year (program time zone)
//! of the purchase.
//!
//! The room is read under the member's lock, net of returns, and cuts the base
//! reward after the per-order cap. Campaign rewards are not cut: they have their
//! own caps and budgets, and their points multipliers build on what the rules
//! earn per order. A return needs no stored room: the kept lines earn
//! `min(rules, room)`, and the room was what the capped reward was cut to, so
//! recomputing without the cap and keeping at most the stored amount gives the
//! same result.
use boomerang_common::money::text;
use jiff::{Timestamp, ToSpan as _, Zoned, tz::TimeZone};
use serde::{Deserialize, Serialize};

use super::{
    program::{Period, PeriodCap},
    rewards::{Computed, Explanation, Kind},
};

/// What is left under one cap for one purchase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// The asset capped.
    pub asset: String,
    /// The cap, minor units.
    pub cap: i64,
    /// Already earned in the period (net of returns), minor units.
    pub earned: i64,
    /// The period, e.g. "month 2026-11".
    pub period: String,
}

impl Room {
    /// What may still be earned.
    pub fn left(&self) -> i64 {
        (self.cap - self.earned).max(0)
    }
}

/// The calendar period containing `at` in `tz`: `[start, end)` in unix
/// microseconds and a label. DST-correct: a day is midnight to midnight.
pub fn period_of(period: Period, tz: &str, at: i64) -> Option<(i64, i64, String)> {
    let zone = TimeZone::get(tz).unwrap_or(TimeZone::UTC);
    let local = Timestamp::from_microsecond(at).ok()?.to_zoned(zone);
    let (start, next, label): (Zoned, Zoned, String) = match period {
        Period::Day => {
            let start = local.start_of_day().ok()?;
            let next = start.checked_add(1.day()).ok()?;
            (start, next, format!("day {}", local.strftime("%Y-%m-%d")))
        }
        Period::Month => {
            let start = local.first_of_month().ok()?.start_of_day().ok()?;
            let next = start.checked_add(1.month()).ok()?;
            (start, next, format!("month {}", local.strftime("%Y-%m")))
        }
        Period::Year => {
            let start = local.first_of_year().ok()?.start_of_day().ok()?;
            let next = start.checked_add(1.year()).ok()?;
            (start, next, format!("year {}", local.strftime("%Y")))
        }
    };
    let end = next.start_of_day().ok()?;
    Some((
        start.timestamp().as_microsecond(),
        end.timestamp().as_microsecond(),
        label,
    ))
}

/// The periods a purchase at `at` counts in, one per cap: (cap, start, end, label).
pub fn periods<'a>(
    caps: &'a [PeriodCap],
    tz: &str,
    at: i64,
) -> Vec<(&'a PeriodCap, i64, i64, String)> {
    caps.iter()
        .filter_map(|c| period_of(c.period, tz, at).map(|(s, e, l)| (c, s, e, l)))
        .collect()
}

/// Cuts base rewards to what `rooms` leave, with an explanation line each. A
/// reward cut to nothing keeps its place with amount 0 (so reward numbers and
/// campaign reservations keep theirs) and its reason goes to `skipped`.
pub fn apply(computed: &mut Computed, rooms: &[Room], source_ref: &str) {
    for reward in computed
        .rewards
        .iter_mut()
        .filter(|r| r.kind == Kind::Base && r.amount > 0)
    {
        // The tightest of the caps on this asset wins.
        let Some(room) = rooms
            .iter()
            .filter(|r| r.asset == reward.asset)
            .min_by_key(|r| r.left())
        else {
            continue;
        };
        if reward.amount <= room.left() {
            continue;
        }
        let line = Explanation {
            rule: "period_cap".into(),
            source_ref: source_ref.into(),
            description: format!(
                "capped at {} of {} for the {}: {} already earned in it",
                text(room.left(), &room.asset),
                text(room.cap, &room.asset),
                room.period,
                text(room.earned, &room.asset),
            ),
            result: Some((room.left(), room.asset.clone())),
            ..Explanation::default()
        };
        reward.amount = room.left();
        reward.earned = room.left();
        if reward.amount == 0 {
            computed.skipped.push(Explanation {
                skipped: true,
                skip_reason: format!("the {} cap is reached", room.period),
                ..line.clone()
            });
        }
        reward.explanations.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(s: &str) -> i64 {
        s.parse::<Timestamp>()
            .map(|t| t.as_microsecond())
            .unwrap_or_default()
    }

    #[test]
    fn periods_follow_the_program_time_zone_and_dst() {
        // 23:30 UTC on 31 Oct is already 1 Nov in Rome: November's month.
        let at = micros("2026-10-31T23:30:00Z");
        let (start, end, label) = period_of(Period::Month, "Europe/Rome", at).unwrap_or_default();
        assert_eq!(label, "month 2026-11");
        assert_eq!(start, micros("2026-10-31T23:00:00Z"));
        assert_eq!(end, micros("2026-11-30T23:00:00Z"));
        // 25 Oct 2026 has 25 hours in Rome (DST ends).
        let (s, e, _) = period_of(Period::Day, "Europe/Rome", micros("2026-10-25T12:00:00Z"))
            .unwrap_or_default();
        assert_eq!(e - s, 25 * 3_600_000_000);
        let (_, _, year) = period_of(Period::Year, "UTC", at).unwrap_or_default();
        assert_eq!(year, "year 2026");
    }

    #[test]
    fn the_tightest_room_cuts_base_rewards_only() {
        use super::super::rewards::Reward;
        let reward = |kind, amount| Reward {
            kind,
            asset: "EUR".into(),
            amount,
            earned: amount,
            offer: None,
            valid_days: None,
            explanations: vec![],
        };
        let mut c = Computed {
            eligible: 10_000,
            rewards: vec![reward(Kind::Base, 500), reward(Kind::Campaign, 300)],
            skipped: vec![],
        };
        let room = |cap, earned, period: &str| Room {
            asset: "EUR".into(),
            cap,
            earned,
            period: period.into(),
        };
        apply(
            &mut c,
            &[
                room(2_000, 1_800, "month 2026-11"),
                room(10_000, 0, "year 2026"),
            ],
            "program:p@1",
        );
        assert_eq!(c.rewards[0].amount, 200);
        assert_eq!(
            c.rewards[1].amount, 300,
            "campaign rewards are not period-capped"
        );
        assert!(
            c.rewards[0].explanations[0]
                .description
                .contains("month 2026-11")
        );
        apply(
            &mut c,
            &[room(2_000, 2_000, "month 2026-11")],
            "program:p@1",
        );
        assert_eq!(c.rewards[0].amount, 0);
        assert_eq!(c.skipped.len(), 1);
    }
}
