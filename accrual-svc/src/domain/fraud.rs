//! Fraud signals on a purchase: velocity (purchases per rolling hour) and the
//! member's return rate. Counted under the member's lock, so concurrent
//! purchases see each other.
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What the program watches for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudPolicy {
    /// Most purchases per rolling hour; 0: no limit.
    pub max_per_hour: u32,
    /// Highest share of orders with a return, percent (decimal); None: not watched.
    pub max_return_rate: Option<String>,
    /// Days of orders the return rate looks at.
    pub return_window_days: u32,
    /// Orders needed before the rate counts.
    pub min_orders: u32,
    /// Hold the rewards of flagged purchases for review.
    pub hold: bool,
}

/// Why a purchase was flagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Too many purchases in an hour.
    Velocity,
    /// Too many orders returned.
    ReturnRate,
}

/// The member's recent history, as counted before this purchase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Purchases in the hour before this one.
    pub last_hour: i64,
    /// Orders in the return-rate window.
    pub orders: i64,
    /// Of those, orders with at least one return.
    pub returned: i64,
}

/// The flags `history` raises under `policy`, each with a sentence.
pub fn flags(policy: &FraudPolicy, history: History) -> Vec<(Flag, String)> {
    let mut out = Vec::new();
    let max = i64::from(policy.max_per_hour);
    if max > 0 && history.last_hour >= max {
        out.push((
            Flag::Velocity,
            format!(
                "{} purchases in the hour before this one; at most {max} per hour",
                history.last_hour
            ),
        ));
    }
    if let Some(limit) = policy
        .max_return_rate
        .as_deref()
        .and_then(|r| Decimal::from_str_exact(r).ok())
        && history.orders >= i64::from(policy.min_orders.max(1))
    {
        let rate =
            Decimal::from(history.returned) * Decimal::from(100) / Decimal::from(history.orders);
        if rate > limit {
            out.push((
                Flag::ReturnRate,
                format!(
                    "{} of {} orders in {} days returned ({}%), above {limit}%",
                    history.returned,
                    history.orders,
                    policy.return_window_days,
                    rate.round_dp(1).normalize()
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn velocity_and_return_rate() {
        let policy = FraudPolicy {
            max_per_hour: 2,
            max_return_rate: Some("40".into()),
            return_window_days: 90,
            min_orders: 3,
            hold: true,
        };
        let kinds = |h| {
            flags(&policy, h)
                .into_iter()
                .map(|(f, _)| f)
                .collect::<Vec<_>>()
        };
        assert!(
            kinds(History {
                last_hour: 1,
                orders: 2,
                returned: 2
            })
            .is_empty(),
            "too few orders for a rate"
        );
        assert_eq!(
            kinds(History {
                last_hour: 2,
                orders: 0,
                returned: 0
            }),
            [Flag::Velocity]
        );
        assert_eq!(
            kinds(History {
                last_hour: 0,
                orders: 5,
                returned: 2
            }),
            Vec::<Flag>::new(),
            "40% is not above 40%"
        );
        assert_eq!(
            kinds(History {
                last_hour: 0,
                orders: 4,
                returned: 2
            }),
            [Flag::ReturnRate]
        );
        let (_, why) = &flags(
            &policy,
            History {
                last_hour: 0,
                orders: 3,
                returned: 2,
            },
        )[0];
        assert_eq!(why, "2 of 3 orders in 90 days returned (66.7%), above 40%");
    }
}
