//! Tiers: upgrade at once, downgrade only at the end of the qualification period.
use super::program::{Tier, TierPolicy};

/// The highest tier `qualifying` reaches (index into the policy's tiers).
pub fn reached(policy: &TierPolicy, qualifying: i64) -> Option<usize> {
    policy
        .tiers
        .iter()
        .rposition(|t| qualifying >= t.qualifies_at)
}

/// The member's tier after an evaluation at `now`: `current` (index) held
/// until `review_at`; an upgrade applies at once; a downgrade waits for the review.
/// Returns (tier, review_at); a member in no tier (a program without tiers,
/// or none reached) has no review.
pub fn evaluate(
    policy: &TierPolicy,
    current: Option<usize>,
    review_at: Option<i64>,
    qualifying: i64,
    now: i64,
) -> (Option<usize>, Option<i64>) {
    let window = i64::from(policy.window_days) * 86_400_000_000;
    let earned = reached(policy, qualifying);
    let (tier, review) = match (current, earned) {
        (c, e) if e > c => (e, Some(now + window)),
        (c, e) if e < c && review_at.is_some_and(|r| now >= r) => (e, Some(now + window)),
        // Kept at its review: the next review is a window away.
        (c, _) if review_at.is_none_or(|r| now >= r) => (c, Some(now + window)),
        (c, _) => (c, review_at),
    };
    (tier, review.filter(|_| tier.is_some()))
}

/// What the member needs for the next tier: (next tier, amount still needed).
pub fn progress(
    policy: &TierPolicy,
    current: Option<usize>,
    qualifying: i64,
) -> Option<(&Tier, i64)> {
    let next = current.map_or(0, |c| c + 1);
    policy
        .tiers
        .get(next)
        .map(|t| (t, (t.qualifies_at - qualifying).max(0)))
}

/// Whether going from `before` to `after` qualifying crossed the policy's
/// nudge line for the next tier above `current` without reaching it: that
/// tier and what is still needed.
pub fn nudge(
    policy: &TierPolicy,
    current: Option<usize>,
    before: i64,
    after: i64,
) -> Option<(&Tier, i64)> {
    let (next, needed) = progress(policy, current, after)?;
    let line = i128::from(next.qualifies_at) * i128::from(policy.nudge_percent);
    let crossed = i128::from(before) * 100 < line && i128::from(after) * 100 >= line;
    (crossed && needed > 0).then_some((next, needed))
}

/// A tier's position in the policy, by id.
pub fn position(policy: &TierPolicy, id: &str) -> Option<usize> {
    policy.tiers.iter().position(|t| t.id == id)
}

/// The tier a member holds as stored, read against the current policy: the
/// stored id when the policy still has it (none when it does not), else a
/// legacy index, else the entry tier when it asks nothing; none otherwise.
pub fn held<'p>(
    policy: &'p TierPolicy,
    stored: Option<&str>,
    legacy_index: Option<i64>,
) -> Option<&'p Tier> {
    match stored {
        Some(id) => policy.tiers.iter().find(|t| t.id == id),
        None => legacy_index
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| policy.tiers.get(i))
            .or_else(|| policy.tiers.first().filter(|t| t.qualifies_at == 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> TierPolicy {
        let tier = |id: &str, at: i64| Tier {
            id: id.into(),
            name: id.into(),
            qualifies_at: at,
            multiplier: "1".into(),
        };
        TierPolicy {
            by_points: false,
            window_days: 365,
            nudge_percent: 80,
            tiers: vec![
                tier("bronze", 0),
                tier("silver", 50_000),
                tier("gold", 100_000),
            ],
        }
    }

    #[test]
    fn no_tier_has_no_review() {
        let none = TierPolicy {
            tiers: vec![],
            ..policy()
        };
        assert_eq!(evaluate(&none, None, None, 120_000, 7), (None, None));
        assert_eq!(evaluate(&none, None, Some(3), 120_000, 7), (None, None));
        // Down to no tier at the review: nothing left to review.
        let above_zero = TierPolicy {
            tiers: policy().tiers.into_iter().skip(1).collect(),
            ..policy()
        };
        assert_eq!(evaluate(&above_zero, Some(0), Some(5), 0, 7), (None, None));
    }

    #[test]
    fn upgrades_at_once_and_downgrades_at_review() {
        let p = policy();
        let day = 86_400_000_000;
        assert_eq!(
            evaluate(&p, Some(0), None, 120_000, 0),
            (Some(2), Some(365 * day))
        );
        // Spend fell out of the window, but the review is not due: still gold.
        assert_eq!(
            evaluate(&p, Some(2), Some(365 * day), 10_000, 100 * day).0,
            Some(2)
        );
        // At the review: down to what is earned.
        assert_eq!(
            evaluate(&p, Some(2), Some(365 * day), 60_000, 365 * day).0,
            Some(1)
        );
        assert_eq!(
            progress(&p, Some(1), 60_000).map(|(t, n)| (t.id.as_str(), n)),
            Some(("gold", 40_000))
        );
    }

    #[test]
    fn a_stored_tier_is_read_against_the_current_policy() {
        let p = policy();
        let held = |stored: Option<&str>, legacy: Option<i64>| {
            held(&p, stored, legacy).map(|t| t.id.clone())
        };
        assert_eq!(held(Some("gold"), None), Some("gold".into()));
        assert_eq!(
            held(Some("gone"), Some(0)),
            None,
            "a tier the policy dropped"
        );
        assert_eq!(
            held(None, Some(1)),
            Some(p.tiers[1].id.clone()),
            "a legacy index"
        );
        assert_eq!(held(None, Some(9)), held(None, None));
        let entry = p
            .tiers
            .first()
            .filter(|t| t.qualifies_at == 0)
            .map(|t| t.id.clone());
        assert_eq!(
            held(None, None),
            entry,
            "never judged: the entry tier if it asks nothing"
        );
        let mut steep = p.clone();
        steep.tiers.iter_mut().for_each(|t| t.qualifies_at += 1);
        assert_eq!(super::held(&steep, None, None).map(|t| t.id.clone()), None);
    }

    #[test]
    fn nudges_once_when_crossing_the_line() {
        let p = policy();
        // Gold at 1000.00; 80% is 800.00.
        let gold = |r: Option<(&Tier, i64)>| r.map(|(t, n)| (t.id.clone(), n));
        assert_eq!(
            gold(nudge(&p, Some(1), 70_000, 88_000)),
            Some(("gold".into(), 12_000))
        );
        assert_eq!(
            gold(nudge(&p, Some(1), 81_000, 88_000)),
            None,
            "already past the line"
        );
        assert_eq!(gold(nudge(&p, Some(1), 70_000, 79_999)), None, "not yet");
        assert_eq!(
            gold(nudge(&p, Some(2), 70_000, 90_000)),
            None,
            "no tier above gold"
        );
    }
}
