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
/// Returns (tier, review_at).
pub fn evaluate(
    policy: &TierPolicy,
    current: Option<usize>,
    review_at: Option<i64>,
    qualifying: i64,
    now: i64,
) -> (Option<usize>, Option<i64>) {
    let window = i64::from(policy.window_days) * 86_400_000_000;
    let earned = reached(policy, qualifying);
    match (current, earned) {
        (c, e) if e > c => (e, Some(now + window)),
        (c, e) if e < c && review_at.is_some_and(|r| now >= r) => (e, Some(now + window)),
        // Kept at its review: the next review is a window away.
        (c, _) if review_at.is_none_or(|r| now >= r) => (c, Some(now + window)),
        (c, _) => (c, review_at),
    }
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
            tiers: vec![
                tier("bronze", 0),
                tier("silver", 50_000),
                tier("gold", 100_000),
            ],
        }
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
}
