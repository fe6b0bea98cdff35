//! When a failed delivery is tried again: exponential backoff with full
//! jitter (so receivers coming back are not hit by every sender at once),
//! for up to a day after the first attempt; then the delivery is parked in
//! the dead-letter list, for an operator to replay. Never retried forever,
//! never dropped.

/// The first retry's ceiling, microseconds.
pub const FIRST_US: i64 = 5_000_000;
/// The longest wait between two attempts, microseconds.
pub const LONGEST_US: i64 = 3_600_000_000;
/// How long after the first attempt a delivery is given up on, microseconds.
pub const BUDGET_US: i64 = 24 * 3_600_000_000;

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Try again at this instant (unix micros).
    At(i64),
    /// Out of budget: park it in the dead-letter list.
    DeadLetter,
}

/// The schedule: the first retry's ceiling, the longest wait and the budget
/// (microseconds); the shortest wait is a fifth of the first ceiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The first retry's ceiling.
    pub first_us: i64,
    /// The longest wait between two attempts.
    pub longest_us: i64,
    /// How long after the first attempt a delivery is given up on.
    pub budget_us: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            first_us: FIRST_US,
            longest_us: LONGEST_US,
            budget_us: BUDGET_US,
        }
    }
}

impl Policy {
    /// After failed attempt number `attempt` (1 for the first) of a
    /// delivery first attempted at `first_us`, at `now_us`; `jitter` (any
    /// random number) draws the wait in `[first / 5, ceiling]` (full jitter).
    pub fn next(&self, attempt: u32, first_us: i64, now_us: i64, jitter: u64) -> Next {
        let doubling = attempt.saturating_sub(1).min(30);
        let ceiling = self
            .first_us
            .saturating_mul(1i64 << doubling)
            .min(self.longest_us);
        let least = (self.first_us / 5).max(1);
        let span = u64::try_from(ceiling - least).unwrap_or(0) + 1;
        let wait = least + i64::try_from(jitter % span).unwrap_or(0);
        let at = now_us.saturating_add(wait);
        if at > first_us.saturating_add(self.budget_us) {
            Next::DeadLetter
        } else {
            Next::At(at)
        }
    }
}

/// [`Policy::next`] of the default schedule (5 s, 1 h, 24 h).
pub fn next(attempt: u32, first_us: i64, now_us: i64, jitter: u64) -> Next {
    Policy::default().next(attempt, first_us, now_us, jitter)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn waits_double_up_to_an_hour_then_the_day_ends_it() {
        let longest = |attempt| match next(attempt, 0, 0, u64::MAX - 1) {
            Next::At(at) => at,
            Next::DeadLetter => -1,
        };
        let ceiling = |attempt| {
            (1..=5)
                .map(|k| match next(attempt, 0, 0, k * 1_234_567_891) {
                    Next::At(at) => at,
                    Next::DeadLetter => -1,
                })
                .max()
                .unwrap_or(-1)
        };
        assert!(ceiling(1) <= 5_000_000 && longest(1) <= 5_000_000);
        assert!(ceiling(2) <= 10_000_000);
        assert!(ceiling(30) <= LONGEST_US && longest(30) <= LONGEST_US);
        assert_eq!(next(3, 0, BUDGET_US - 500_000, 0), Next::DeadLetter);
        assert_eq!(next(3, 0, 0, 0), Next::At(1_000_000));
    }

    proptest! {
        #[test]
        fn a_retry_is_always_later_bounded_and_within_the_day(attempt in 1u32..200, now in 0i64..BUDGET_US, jitter in any::<u64>()) {
            match next(attempt, 0, now, jitter) {
                Next::At(at) => {
                    prop_assert!(at > now && at - now <= LONGEST_US);
                    prop_assert!(at <= BUDGET_US);
                }
                Next::DeadLetter => prop_assert!(now + 1_000_000 > BUDGET_US - LONGEST_US),
            }
        }
    }
}
