//! A return, pure: the units an order keeps, and what each reward takes back
//! when the order is recomputed without the returned units.
use std::collections::BTreeMap;

use super::rewards::{Line, Reward};

/// More units returned than the line had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line} had {bought} units; returning more than was bought")]
pub struct OverReturn {
    /// The line.
    pub line: String,
    /// Units bought.
    pub bought: u32,
}

/// Takes `returned` units (by line id) off `kept` (units per line of `lines`).
pub fn subtract(
    lines: &[Line],
    kept: &mut [u32],
    returned: &BTreeMap<String, u32>,
) -> Result<(), OverReturn> {
    for (line, left) in lines.iter().zip(kept.iter_mut()) {
        let n = returned.get(&line.line_id).copied().unwrap_or(0);
        *left = left.checked_sub(n).ok_or_else(|| OverReturn {
            line: line.line_id.clone(),
            bought: line.quantity,
        })?;
    }
    Ok(())
}

/// The units each line keeps after every return in `returns`.
pub fn kept_after<'a>(
    lines: &[Line],
    returns: impl IntoIterator<Item = &'a BTreeMap<String, u32>>,
) -> Result<Vec<u32>, OverReturn> {
    let mut kept: Vec<u32> = lines.iter().map(|l| l.quantity).collect();
    for returned in returns {
        subtract(lines, &mut kept, returned)?;
    }
    Ok(kept)
}

/// What a reward should still be worth once its order is recomputed:
/// `recomputed` is what the kept lines earn; a reward its campaign budget cut
/// (`credited` below `earned`) keeps the cut in proportion; never more than
/// was credited.
pub fn still_earned(credited: i64, earned: i64, recomputed: i64) -> i64 {
    let earned = earned.max(credited);
    let due = if earned > credited {
        i64::try_from(i128::from(recomputed) * i128::from(credited) / i128::from(earned))
            .unwrap_or(0)
    } else {
        recomputed
    };
    due.min(credited)
}

/// What `reward` (credited `reward.amount`, `reversed` of it taken back
/// already) should still be worth once its order earns `after` (recomputed
/// on the units kept), and what it takes back now: the reward of the same
/// kind, asset and campaign in `after`, kept in proportion when its budget
/// cut it, never below what was already reversed. RecordReturn and the
/// what-if take back through this one function.
pub fn taken_back(reward: &Reward, reversed: i64, after: &[Reward]) -> (i64, i64) {
    let same = |x: &&Reward| {
        reward.kind.matches(x.kind)
            && x.asset == reward.asset
            && x.offer.as_ref().map(|o| &o.campaign_id)
                == reward.offer.as_ref().map(|o| &o.campaign_id)
    };
    let recomputed = after.iter().find(same).map_or(0, |x| x.amount);
    let now = still_earned(reward.amount, reward.earned, recomputed);
    (now, to_take_back(reward.amount, reversed, now))
}

/// What to take back: what remains minus what should remain, never negative.
/// Computed from the state, not summed from earlier returns, so rounding
/// never takes back more than was credited.
pub fn to_take_back(credited: i64, reversed: i64, still_earned: i64) -> i64 {
    (credited - reversed - still_earned).max(0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn line(id: &str, quantity: u32) -> Line {
        Line {
            line_id: id.into(),
            quantity,
            ..Line::default()
        }
    }

    #[test]
    fn units_are_kept_per_line_and_never_below_zero() {
        let lines = [line("1", 2), line("2", 1)];
        let first = BTreeMap::from([("1".to_owned(), 1)]);
        assert_eq!(kept_after(&lines, [&first]), Ok(vec![1, 1]));
        let again = BTreeMap::from([("1".to_owned(), 2)]);
        assert_eq!(
            kept_after(&lines, [&first, &again]),
            Err(OverReturn {
                line: "1".into(),
                bought: 2
            })
        );
    }

    #[test]
    fn a_budget_cut_reward_keeps_its_cut_in_proportion() {
        // Earned 10.00, budget granted 5.00; half the order returned earns 5.00 -> 2.50.
        assert_eq!(still_earned(500, 1_000, 500), 250);
        assert_eq!(still_earned(500, 500, 300), 300);
        assert_eq!(still_earned(500, 500, 900), 500);
    }

    proptest! {
        /// However returns are split, the total taken back never exceeds what was credited.
        #[test]
        fn returns_never_take_back_more_than_was_credited(
            credited in 0i64..1_000_000,
            steps in proptest::collection::vec(0i64..1_000_000, 1..8),
        ) {
            let mut reversed = 0;
            let mut due = credited;
            for s in steps {
                due = due.min(s); // each return can only lower what is earned
                reversed += to_take_back(credited, reversed, due);
                prop_assert!(reversed <= credited);
            }
            prop_assert_eq!(reversed, credited - due);
        }
    }
}
