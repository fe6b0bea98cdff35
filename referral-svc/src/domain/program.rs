//! A referral program version and what it pays.
pub use boomerang_common::money::Amount as Money;
use boomerang_common::money::Rounding;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What the referrer earns per purchase of the referee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ReferrerReward {
    /// Percent of the order, in the order's currency.
    Percent {
        /// Decimal percent.
        percent: String,
    },
    /// A fixed amount.
    Fixed {
        /// The amount.
        amount: Money,
    },
}

/// A program version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// The referee's bonus.
    pub referee_bonus: Option<Money>,
    /// True: on attribution; false: on the first qualifying purchase.
    pub bonus_on_enrolment: bool,
    /// The referrer's reward.
    pub referrer_reward: Option<ReferrerReward>,
    /// Rewarded purchases per referee; 0 unlimited.
    pub max_rewarded_purchases: u32,
    /// Months the referrer keeps earning; 0 forever.
    pub reward_months: u32,
    /// Minimum order (minor units of the order currency).
    pub min_order: Option<Money>,
    /// Days between code creation and attribution; 0 no limit.
    pub attribution_window_days: u32,
    /// Attributions per referrer per period; 0 unlimited.
    pub max_referrals_per_period: u32,
    /// The period, days.
    pub period_days: u32,
}

/// Whether `order` meets the program's minimum order (one in another currency is not judged).
pub fn qualifies(p: &Program, order: &Money) -> bool {
    !p.min_order
        .as_ref()
        .is_some_and(|m| m.asset() == order.asset() && order.minor() < m.minor())
}

/// The referrer's reward on an order, rounded down once (never over-credit);
/// None when the order does not qualify or it rounds down to nothing.
pub fn referrer_reward(p: &Program, order: &Money) -> Option<Money> {
    if !qualifies(p, order) {
        return None;
    }
    match p.referrer_reward.as_ref()? {
        ReferrerReward::Fixed { amount } => Some(amount.clone()),
        ReferrerReward::Percent { percent } => {
            let pct = Decimal::from_str_exact(percent).ok()?;
            let exact = order.to_decimal() * pct / Decimal::from(100);
            Money::round(exact, order.asset(), Rounding::Down)
                .ok()
                .filter(Money::is_positive)
        }
    }
}

/// What a return of `returned` out of `order` takes back of `paid`, in proportion, rounded up
/// so that a whole return takes back everything.
pub fn reversal(paid: i64, order: i64, returned: i64) -> i64 {
    if order <= 0 {
        return 0;
    }
    let r = i128::from(paid) * i128::from(returned.min(order).max(0));
    i64::try_from((r + i128::from(order) - 1) / i128::from(order))
        .unwrap_or(paid)
        .min(paid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(percent: &str) -> Program {
        Program {
            referee_bonus: None,
            bonus_on_enrolment: false,
            referrer_reward: Some(ReferrerReward::Percent {
                percent: percent.into(),
            }),
            max_rewarded_purchases: 0,
            reward_months: 0,
            min_order: Money::of(2_000, "EUR").ok(),
            attribution_window_days: 0,
            max_referrals_per_period: 0,
            period_days: 30,
        }
    }

    #[test]
    fn five_percent_rounded_down_above_the_minimum() {
        let eur = |minor| Money::of(minor, "EUR").ok();
        let reward = |order| eur(order).and_then(|o| referrer_reward(&program("5"), &o));
        assert_eq!(reward(10_000), eur(500));
        assert_eq!(reward(3_333), eur(166));
        assert_eq!(reward(1_999), None);
    }

    #[test]
    fn returns_take_back_in_proportion() {
        assert_eq!(reversal(500, 10_000, 10_000), 500);
        assert_eq!(reversal(500, 10_000, 4_000), 200);
        assert_eq!(reversal(166, 3_333, 1_000), 50);
        assert_eq!(reversal(500, 10_000, 20_000), 500);
    }
}
