//! What the orders a campaign rewarded brought in and cost: attributed
//! revenue, cost and ROI per order currency (and per variant). Exact: money
//! in minor units, points valued with a decimal unit value, the cost rounded
//! down once to the currency's decimals.
use std::collections::BTreeMap;

use boomerang_common::money::Asset;
use rust_decimal::Decimal;

/// Confirmed reservations of one kind: the same order currency, reserved
/// asset and unit value (one program version's conversion).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rewarded {
    /// The orders' currency.
    pub currency: String,
    /// The reserved asset.
    pub asset: String,
    /// What one unit of `asset` is worth in `currency`; "" when unpriced.
    pub unit_value: String,
    /// Orders.
    pub orders: i64,
    /// Their eligible amount, minor units of `currency`, net of returns.
    pub revenue: i64,
    /// Budget confirmed for them, minor units of `asset`.
    pub confirmed: i64,
}

/// Revenue, cost and ROI in one currency.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attribution {
    /// Currency.
    pub currency: String,
    /// Orders rewarded.
    pub orders: i64,
    /// Revenue, minor units.
    pub revenue: i64,
    /// Cost of what was priced, minor units (rounded down).
    pub cost: i64,
    /// (revenue - cost) / cost to four decimals; None without cost.
    pub roi: Option<Decimal>,
    /// Confirmed budget without a price: (asset, minor units).
    pub unpriced: Vec<(String, i64)>,
}

fn scale(code: &str) -> u32 {
    Asset::builtin(code).map_or(0, |a| a.scale())
}

/// Minor units as a decimal amount of `code` (cents to euros).
fn units(minor: i64, code: &str) -> Decimal {
    Decimal::new(minor, scale(code))
}

/// Groups `rows` per currency (sorted by currency).
pub fn attribute(rows: &[Rewarded]) -> Vec<Attribution> {
    let mut per: BTreeMap<&str, (Attribution, Decimal)> = BTreeMap::new();
    for r in rows {
        let (a, cost) = per.entry(&r.currency).or_insert_with(|| {
            let a = Attribution {
                currency: r.currency.clone(),
                ..Attribution::default()
            };
            (a, Decimal::ZERO)
        });
        a.orders += r.orders;
        a.revenue += r.revenue;
        match Decimal::from_str_exact(&r.unit_value) {
            Ok(value) if !r.unit_value.is_empty() => {
                *cost += units(r.confirmed, &r.asset) * value;
            }
            _ => match a.unpriced.iter_mut().find(|(asset, _)| *asset == r.asset) {
                Some((_, n)) => *n += r.confirmed,
                None => a.unpriced.push((r.asset.clone(), r.confirmed)),
            },
        }
    }
    per.into_values()
        .map(|(mut a, cost)| {
            // Rounded down once: never more cost than was spent.
            let minor = (cost * Decimal::from(10i64.pow(scale(&a.currency)))).trunc();
            a.cost = i64::try_from(minor).unwrap_or(i64::MAX);
            a.roi = (a.cost > 0).then(|| {
                (Decimal::from(a.revenue - a.cost) / Decimal::from(a.cost))
                    .round_dp(4)
                    .normalize()
            });
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn eur(orders: i64, revenue: i64, confirmed: i64) -> Rewarded {
        Rewarded {
            currency: "EUR".into(),
            asset: "EUR".into(),
            unit_value: "1".into(),
            orders,
            revenue,
            confirmed,
        }
    }

    #[test]
    fn cashback_and_points_cost_in_the_currency() {
        // 10 orders of 100.00 EUR: 50.00 EUR cashback and 2,000 PTS at
        // 100 PTS = 5.00 EUR (100.00 EUR): cost 150.00, ROI (1000 - 150) / 150.
        let points = Rewarded {
            asset: "PTS".into(),
            unit_value: "0.05".into(),
            orders: 0,
            revenue: 0,
            confirmed: 2_000,
            ..eur(0, 0, 0)
        };
        let a = attribute(&[eur(10, 100_000, 5_000), points]);
        assert_eq!(a.len(), 1);
        assert_eq!(
            (a[0].orders, a[0].revenue, a[0].cost),
            (10, 100_000, 15_000)
        );
        assert_eq!(a[0].roi.map(|r| r.to_string()), Some("5.6667".into()));
        assert!(a[0].unpriced.is_empty());
    }

    #[test]
    fn unpriced_points_are_left_out_and_said() {
        let points = Rewarded {
            asset: "PTS".into(),
            unit_value: String::new(),
            confirmed: 300,
            ..eur(2, 5_000, 0)
        };
        let a = attribute(&[points]);
        assert_eq!((a[0].cost, a[0].roi), (0, None));
        assert_eq!(a[0].unpriced, vec![("PTS".to_owned(), 300)]);
    }

    #[test]
    fn cost_rounds_down_once() {
        // 3 PTS at 0.333 EUR each is 0.999 EUR: 0.99, not 3 x 0.33.
        let points = Rewarded {
            asset: "PTS".into(),
            unit_value: "0.333".into(),
            confirmed: 3,
            ..eur(1, 1_000, 0)
        };
        assert_eq!(attribute(&[points])[0].cost, 99);
    }

    proptest! {
        /// Cost is the exact value rounded down, and ROI is (revenue - cost) / cost.
        #[test]
        fn roi_is_what_it_says(rows in proptest::collection::vec((1i64..1_000, 0i64..10_000_000, 0i64..1_000_000, 1u32..500), 1..20)) {
            let rows: Vec<Rewarded> = rows.into_iter().map(|(orders, revenue, confirmed, value)| Rewarded {
                asset: "PTS".into(),
                unit_value: Decimal::new(i64::from(value), 3).to_string(),
                ..eur(orders, revenue, confirmed)
            }).collect();
            let exact: Decimal = rows.iter().map(|r| Decimal::from(r.confirmed) * Decimal::from_str_exact(&r.unit_value).unwrap_or_default()).sum();
            let a = attribute(&rows);
            prop_assert_eq!(a.len(), 1);
            let cost = Decimal::new(a[0].cost, 2);
            prop_assert!(cost <= exact && exact - cost < Decimal::new(1, 2));
            prop_assert_eq!(a[0].revenue, rows.iter().map(|r| r.revenue).sum::<i64>());
            if a[0].cost > 0 {
                let roi = (Decimal::from(a[0].revenue - a[0].cost) / Decimal::from(a[0].cost)).round_dp(4).normalize();
                prop_assert_eq!(a[0].roi, Some(roi));
            }
        }
    }
}
