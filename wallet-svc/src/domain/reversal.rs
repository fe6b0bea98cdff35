//! How much a reversal takes back, and from where.

/// What to do when the reward was already released to available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClawbackPolicy {
    /// Take back only what is pending; the rest is written off.
    OnlyPending,
    /// Then take from available down to zero.
    WithinBalance,
    /// Take it all, even into a negative available balance.
    AllowNegative,
}

/// The outcome for one credit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// From the credit's pending part.
    pub from_pending: i64,
    /// From the customer's available balance.
    pub from_available: i64,
    /// Asked for but not taken under the policy.
    pub not_reversed: i64,
}

/// Plans taking back `asked` of a credit that still has `pending` unreleased,
/// from an account with `available` spendable. `asked` is already checked
/// against what is left of the credit.
pub fn plan(asked: i64, pending: i64, available: i64, policy: ClawbackPolicy) -> Plan {
    let from_pending = asked.min(pending).max(0);
    let rest = asked - from_pending;
    let from_available = match policy {
        ClawbackPolicy::OnlyPending => 0,
        ClawbackPolicy::WithinBalance => rest.min(available.max(0)),
        ClawbackPolicy::AllowNegative => rest,
    };
    Plan {
        from_pending,
        from_available,
        not_reversed: rest - from_available,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn each_policy_after_the_balance_was_spent() {
        // 10.00 credited and released; 7.00 of it spent; return asks for all 10.00.
        let (asked, pending, available) = (1_000, 0, 300);
        assert_eq!(
            plan(asked, pending, available, ClawbackPolicy::OnlyPending),
            Plan {
                from_pending: 0,
                from_available: 0,
                not_reversed: 1_000
            }
        );
        assert_eq!(
            plan(asked, pending, available, ClawbackPolicy::WithinBalance),
            Plan {
                from_pending: 0,
                from_available: 300,
                not_reversed: 700
            }
        );
        assert_eq!(
            plan(asked, pending, available, ClawbackPolicy::AllowNegative),
            Plan {
                from_pending: 0,
                from_available: 1_000,
                not_reversed: 0
            }
        );
    }

    proptest! {
        #[test]
        fn pending_first_and_nothing_lost(
            asked in 0i64..10_000, pending in 0i64..10_000, available in -5_000i64..10_000,
            policy in prop_oneof![
                Just(ClawbackPolicy::OnlyPending),
                Just(ClawbackPolicy::WithinBalance),
                Just(ClawbackPolicy::AllowNegative),
            ],
        ) {
            let p = plan(asked, pending, available, policy);
            prop_assert_eq!(p.from_pending + p.from_available + p.not_reversed, asked);
            prop_assert_eq!(p.from_pending, asked.min(pending));
            prop_assert!(p.from_available >= 0 && p.not_reversed >= 0);
            if policy == ClawbackPolicy::WithinBalance {
                prop_assert!(p.from_available <= available.max(0));
            }
        }
    }
}
