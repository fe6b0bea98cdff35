//! Lots: what is left of each credit. Spending takes from the soonest-expiring
//! lot first, then from lots that never expire (the caller orders them).

/// A lot's id and unspent remainder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lot {
    /// The credit id.
    pub id: i64,
    /// Unspent, in minor units.
    pub remaining: i64,
}

/// Part of a lot taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Take {
    /// The credit id.
    pub id: i64,
    /// Minor units taken.
    pub amount: i64,
}

/// Takes `amount` from `lots` in their order; returns the takes and what no lot covered.
pub fn take(lots: &[Lot], amount: i64) -> (Vec<Take>, i64) {
    let mut left = amount.max(0);
    let mut takes = Vec::new();
    for lot in lots {
        if left == 0 {
            break;
        }
        let n = lot.remaining.min(left);
        if n > 0 {
            takes.push(Take {
                id: lot.id,
                amount: n,
            });
            left -= n;
        }
    }
    (takes, left)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn soonest_first() {
        let lots = [
            Lot {
                id: 1,
                remaining: 100,
            },
            Lot {
                id: 2,
                remaining: 50,
            },
        ];
        let (takes, left) = take(&lots, 120);
        assert_eq!(
            takes,
            vec![Take { id: 1, amount: 100 }, Take { id: 2, amount: 20 }]
        );
        assert_eq!(left, 0);
        assert_eq!(take(&lots, 200).1, 50);
    }

    proptest! {
        #[test]
        fn takes_exactly_what_is_covered(
            remaining in proptest::collection::vec(0i64..1_000, 0..8),
            amount in 0i64..5_000,
        ) {
            let lots: Vec<Lot> = remaining.iter().enumerate()
                .map(|(i, r)| Lot { id: i as i64, remaining: *r }).collect();
            let (takes, left) = take(&lots, amount);
            let taken: i64 = takes.iter().map(|t| t.amount).sum();
            prop_assert_eq!(taken + left, amount);
            prop_assert_eq!(left, (amount - remaining.iter().sum::<i64>()).max(0));
            for t in &takes {
                prop_assert!(t.amount > 0 && t.amount <= lots[t.id as usize].remaining);
            }
        }
    }
}
