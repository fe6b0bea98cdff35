//! Budgets split into slots, so concurrent reservations of one campaign
//! contend on different rows instead of one hot row. A reservation takes from
//! a slot picked at random and moves on to the others when it runs short;
//! each slot's conditional update checks `capacity - reserved - confirmed`,
//! so the sum over slots never exceeds the total.

/// Slots per budget unless configured otherwise (`budget.slots`).
pub const SLOTS: u32 = 8;

/// Capacities of the slots: as equal as possible, summing to `total`.
pub fn split(total: i64, slots: i64) -> Vec<i64> {
    let slots = slots.max(1);
    let (base, extra) = (total / slots, total % slots);
    (0..slots).map(|i| base + i64::from(i < extra)).collect()
}

/// Spreads `amount` over parts holding `held`, in order; returns what each gives.
pub fn spread(amount: i64, held: &[i64]) -> Vec<i64> {
    let mut left = amount;
    held.iter()
        .map(|h| {
            let n = left.min(*h).max(0);
            left -= n;
            n
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn splits_exactly() {
        assert_eq!(split(5_000, 8).iter().sum::<i64>(), 5_000);
        assert_eq!(split(7, 8), vec![1, 1, 1, 1, 1, 1, 1, 0]);
        assert_eq!(spread(5, &[3, 3]), vec![3, 2]);
    }

    proptest! {
        #[test]
        fn slots_sum_to_the_total(total in 1i64..10_000_000_000, slots in 1i64..64) {
            let parts = split(total, slots);
            prop_assert_eq!(parts.iter().sum::<i64>(), total);
            prop_assert!(parts.iter().max().unwrap_or(&0) - parts.iter().min().unwrap_or(&0) <= 1);
        }
    }
}
