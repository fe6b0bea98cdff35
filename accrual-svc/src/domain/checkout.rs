//! A cart's coupons applied, pure: which codes apply under their conditions
//! and stacking, what each takes off each line, and what points and cashback
//! can pay. Amounts in minor units of the cart's currency; every rounding is
//! down, so no discount exceeds what its percent or amount allows.
use std::str::FromStr;

use rust_decimal::{Decimal, prelude::ToPrimitive};

/// A line of the cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartLine {
    /// Line id.
    pub line_id: String,
    /// Category.
    pub category: String,
    /// Unit price times quantity.
    pub subtotal: i64,
}

/// Who buys, where.
#[derive(Clone, Debug, Default)]
pub struct Shopper {
    /// "online", "store", "app", if known.
    pub channel: Option<String>,
    /// Store.
    pub store: String,
    /// Segment.
    pub segment: String,
    /// Tier id.
    pub tier: String,
    /// No purchase before.
    pub first_purchase: bool,
}

/// What a code asks of the cart; empty lists mean any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Categories whose lines qualify (and take a matching-lines discount).
    pub categories: Vec<String>,
    /// Channels.
    pub channels: Vec<String>,
    /// Stores.
    pub stores: Vec<String>,
    /// Segments.
    pub segments: Vec<String>,
    /// Tiers.
    pub tiers: Vec<String>,
    /// Minimum cart subtotal, minor units.
    pub min_order: Option<i64>,
    /// Only a first purchase.
    pub first_purchase_only: bool,
}

/// What a code takes off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discount {
    /// A percent (0 < p <= 100) of what is left of the lines it applies to.
    Percent(Decimal),
    /// An amount off what is left of the lines it applies to, at most all of it.
    Amount(i64),
    /// Nothing off: the code's reward is earned on the order instead.
    None,
}

/// A code that can be used, as checked.
#[derive(Clone, Debug)]
pub struct Offer {
    /// The code.
    pub code: String,
    /// Its campaign.
    pub campaign: String,
    /// Its campaign's priority (higher first).
    pub priority: i32,
    /// Applies alone.
    pub exclusive: bool,
    /// What it asks.
    pub conditions: Conditions,
    /// What it takes off.
    pub discount: Discount,
    /// Only the lines of the conditions' categories.
    pub matching_lines: bool,
}

/// Why a usable code gives nothing to this cart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Below its minimum order.
    BelowMinimum,
    /// Stacking, or a second code of a campaign.
    NotCombinable,
    /// Channel, store, category, segment, tier or first purchase.
    ConditionsNotMet,
}

/// A code applied: its discount on each line (in the cart's order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The code.
    pub code: String,
    /// Its campaign.
    pub campaign: String,
    /// Applies alone.
    pub exclusive: bool,
    /// Per line.
    pub per_line: Vec<i64>,
}

impl Applied {
    /// Its discount on the order.
    pub fn total(&self) -> i64 {
        self.per_line.iter().sum()
    }
}

/// The codes applied to a cart.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Applied, in the order applied.
    pub applied: Vec<Applied>,
    /// Refused, in the order considered.
    pub refused: Vec<(String, Refusal)>,
}

impl Outcome {
    /// The discount of every code on each line.
    pub fn line_discounts(&self, lines: usize) -> Vec<i64> {
        let mut out = vec![0; lines];
        for a in &self.applied {
            for (o, d) in out.iter_mut().zip(&a.per_line) {
                *o += d;
            }
        }
        out
    }
}

fn any_or(list: &[String], value: &str) -> bool {
    list.is_empty() || list.iter().any(|x| x == value)
}

fn meets(c: &Conditions, shopper: &Shopper, lines: &[CartLine]) -> bool {
    let channel = c.channels.is_empty()
        || shopper
            .channel
            .as_ref()
            .is_some_and(|ch| c.channels.contains(ch));
    let categories =
        c.categories.is_empty() || lines.iter().any(|l| c.categories.contains(&l.category));
    channel
        && categories
        && any_or(&c.stores, &shopper.store)
        && any_or(&c.segments, &shopper.segment)
        && any_or(&c.tiers, &shopper.tier)
        && (!c.first_purchase_only || shopper.first_purchase)
}

/// `total` spread over `room` in proportion, rounded down, the cents left
/// given to the largest remainders (first lines first): the parts sum to
/// `total` and none exceeds its room (`total` <= the rooms' sum).
pub fn spread(total: i64, room: &[i64]) -> Vec<i64> {
    let sum: i128 = room.iter().map(|r| i128::from(*r)).sum();
    if sum <= 0 || total <= 0 {
        return vec![0; room.len()];
    }
    let total = i128::from(total).min(sum);
    let mut parts: Vec<(i128, i128)> = room
        .iter()
        .map(|r| {
            let exact = total * i128::from(*r);
            (exact / sum, exact % sum)
        })
        .collect();
    let mut left = total - parts.iter().map(|(p, _)| p).sum::<i128>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|a, b| parts[*b].1.cmp(&parts[*a].1).then(a.cmp(b)));
    for i in order {
        if left == 0 {
            break;
        }
        if let (Some(p), Some(r)) = (parts.get_mut(i), room.get(i))
            && p.0 < i128::from(*r)
        {
            p.0 += 1;
            left -= 1;
        }
    }
    parts
        .into_iter()
        .map(|(p, _)| i64::try_from(p).unwrap_or(0))
        .collect()
}

/// Applies `offers` to `lines`: by priority (higher first), then as given.
/// Each code applies to what the codes before it left. An exclusive code
/// applies only as the first, and then alone; one code per campaign.
pub fn apply(lines: &[CartLine], shopper: &Shopper, mut offers: Vec<Offer>) -> Outcome {
    // Stable: equal priorities keep the order given.
    offers.sort_by_key(|o| std::cmp::Reverse(o.priority));
    let subtotal: i64 = lines.iter().map(|l| l.subtotal).sum();
    let mut left: Vec<i64> = lines.iter().map(|l| l.subtotal).collect();
    let mut out = Outcome::default();
    for offer in offers {
        let refusal = if !meets(&offer.conditions, shopper, lines) {
            Some(Refusal::ConditionsNotMet)
        } else if offer.conditions.min_order.is_some_and(|m| subtotal < m) {
            Some(Refusal::BelowMinimum)
        } else if out.applied.iter().any(|a| a.campaign == offer.campaign)
            || (offer.exclusive && !out.applied.is_empty())
            || out.applied.first().is_some_and(|a| a.exclusive)
        {
            Some(Refusal::NotCombinable)
        } else {
            None
        };
        if let Some(r) = refusal {
            out.refused.push((offer.code, r));
            continue;
        }
        let room: Vec<i64> = lines
            .iter()
            .zip(&left)
            .map(|(l, left)| {
                let matches = !offer.matching_lines
                    || offer.conditions.categories.is_empty()
                    || offer.conditions.categories.contains(&l.category);
                if matches { *left } else { 0 }
            })
            .collect();
        let per_line = match &offer.discount {
            Discount::Percent(p) => room
                .iter()
                .map(|r| {
                    (Decimal::from(*r) * p / Decimal::ONE_HUNDRED)
                        .floor()
                        .to_i64()
                        .unwrap_or(0)
                        .clamp(0, *r)
                })
                .collect(),
            Discount::Amount(a) => spread(*a, &room),
            Discount::None => vec![0; lines.len()],
        };
        for (l, d) in left.iter_mut().zip(&per_line) {
            *l -= d;
        }
        out.applied.push(Applied {
            code: offer.code,
            campaign: offer.campaign,
            exclusive: offer.exclusive,
            per_line,
        });
    }
    out
}

/// A program's points conversion: `points` PTS pay `value` minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conversion {
    /// Points per block.
    pub points: i64,
    /// Minor units per block.
    pub value: i64,
}

/// What balances pay of `due`: (points used, their value, cashback used),
/// and the most of each that could pay: (points, cashback).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Paid {
    /// Most points payable (whole blocks).
    pub points_payable: i64,
    /// Points used.
    pub points_used: i64,
    /// Their value.
    pub points_value: i64,
    /// Most cashback payable after the points.
    pub cashback_payable: i64,
    /// Cashback used.
    pub cashback_used: i64,
}

/// Points first, in whole blocks that do not pay more than `due`, then
/// cashback on what they leave; each as asked, within what is held.
pub fn pay(
    due: i64,
    conversion: Option<Conversion>,
    (points_held, points_asked): (i64, i64),
    (cashback_held, cashback_asked): (i64, i64),
) -> Paid {
    let due = due.max(0);
    let (points_payable, points_used, points_value) = match conversion {
        Some(c) if c.points > 0 && c.value > 0 => {
            let blocks = (points_held.max(0) / c.points).min(due / c.value);
            let used = (points_asked.max(0) / c.points).min(blocks);
            (blocks * c.points, used * c.points, used * c.value)
        }
        _ => (0, 0, 0),
    };
    let cashback_payable = cashback_held.max(0).min(due - points_value);
    Paid {
        points_payable,
        points_used,
        points_value,
        cashback_payable,
        cashback_used: cashback_asked.max(0).min(cashback_payable),
    }
}

/// A percent from its decimal string (validated where it entered).
pub fn percent(s: &str) -> Option<Decimal> {
    Decimal::from_str(s)
        .ok()
        .filter(|p| *p > Decimal::ZERO && *p <= Decimal::ONE_HUNDRED)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn line(id: &str, category: &str, subtotal: i64) -> CartLine {
        CartLine {
            line_id: id.into(),
            category: category.into(),
            subtotal,
        }
    }

    fn offer(code: &str, campaign: &str, priority: i32, discount: Discount) -> Offer {
        Offer {
            code: code.into(),
            campaign: campaign.into(),
            priority,
            exclusive: false,
            conditions: Conditions::default(),
            discount,
            matching_lines: false,
        }
    }

    #[test]
    fn codes_apply_by_priority_on_what_is_left() {
        let lines = [line("1", "shoes", 8_000), line("2", "socks", 2_000)];
        let ten = offer("TEN", "a", 1, Discount::Percent(Decimal::TEN));
        let five = offer("FIVE", "b", 5, Discount::Amount(500));
        let out = apply(&lines, &Shopper::default(), vec![ten, five]);
        // 5.00 first (priority 5), spread 4:1; then 10% of 95.00.
        assert_eq!(out.applied[0].per_line, vec![400, 100]);
        assert_eq!(out.applied[1].per_line, vec![760, 190]);
        assert_eq!(out.line_discounts(2), vec![1_160, 290]);
    }

    #[test]
    fn an_exclusive_code_applies_alone_and_one_code_a_campaign() {
        let lines = [line("1", "shoes", 10_000)];
        let mut solo = offer("SOLO", "x", 9, Discount::Percent(Decimal::from(20)));
        solo.exclusive = true;
        let other = offer("OTHER", "y", 1, Discount::Amount(100));
        let out = apply(
            &lines,
            &Shopper::default(),
            vec![other.clone(), solo.clone()],
        );
        assert_eq!(
            out.applied
                .iter()
                .map(|a| a.code.as_str())
                .collect::<Vec<_>>(),
            vec!["SOLO"]
        );
        assert_eq!(out.refused, vec![("OTHER".into(), Refusal::NotCombinable)]);
        // Exclusive but not first: refused.
        let first = offer("FIRST", "z", 10, Discount::Amount(100));
        let out = apply(&lines, &Shopper::default(), vec![solo, first]);
        assert_eq!(out.refused, vec![("SOLO".into(), Refusal::NotCombinable)]);
        let twin = offer("TWIN", "y", 1, Discount::Amount(100));
        let out = apply(&lines, &Shopper::default(), vec![other, twin]);
        assert_eq!(out.refused, vec![("TWIN".into(), Refusal::NotCombinable)]);
    }

    #[test]
    fn conditions_and_minimums_refuse_with_their_reason() {
        let lines = [line("1", "shoes", 4_999)];
        let mut min = offer("MIN", "a", 0, Discount::Amount(500));
        min.conditions.min_order = Some(5_000);
        let mut cat = offer("CAT", "b", 0, Discount::Amount(500));
        cat.conditions.categories = vec!["bags".into()];
        let out = apply(&lines, &Shopper::default(), vec![min, cat]);
        assert_eq!(
            out.refused,
            vec![
                ("MIN".into(), Refusal::BelowMinimum),
                ("CAT".into(), Refusal::ConditionsNotMet)
            ]
        );
    }

    #[test]
    fn matching_lines_only_take_their_share() {
        let lines = [line("1", "shoes", 5_000), line("2", "bags", 5_000)];
        let mut bags = offer("BAGS", "a", 0, Discount::Percent(Decimal::from(50)));
        bags.conditions.categories = vec!["bags".into()];
        bags.matching_lines = true;
        let out = apply(&lines, &Shopper::default(), vec![bags]);
        assert_eq!(out.applied[0].per_line, vec![0, 2_500]);
    }

    #[test]
    fn points_pay_whole_blocks_then_cashback_the_rest() {
        let c = Some(Conversion {
            points: 100,
            value: 500,
        });
        // 350 PTS held: 3 blocks (15.00); 12.00 due: 2 blocks at most.
        let paid = pay(1_200, c, (350, 1_000), (10_000, 10_000));
        assert_eq!(
            (paid.points_payable, paid.points_used, paid.points_value),
            (200, 200, 1_000)
        );
        assert_eq!((paid.cashback_payable, paid.cashback_used), (200, 200));
        let asked = pay(1_200, c, (350, 150), (10_000, 50));
        assert_eq!((asked.points_used, asked.cashback_used), (100, 50));
    }

    proptest! {
        #[test]
        fn discounts_never_pass_the_lines(
            subtotals in prop::collection::vec(0i64..1_000_000, 1..8),
            amounts in prop::collection::vec(0i64..2_000_000, 0..4),
            percents in prop::collection::vec(1u32..=100, 0..4),
        ) {
            let lines: Vec<CartLine> = subtotals.iter().enumerate().map(|(i, s)| line(&i.to_string(), "c", *s)).collect();
            let mut offers: Vec<Offer> = amounts.iter().enumerate().map(|(i, a)| offer(&format!("A{i}"), &format!("a{i}"), 0, Discount::Amount(*a))).collect();
            offers.extend(percents.iter().enumerate().map(|(i, p)| offer(&format!("P{i}"), &format!("p{i}"), 0, Discount::Percent(Decimal::from(*p)))));
            let out = apply(&lines, &Shopper::default(), offers);
            let per_line = out.line_discounts(lines.len());
            for (d, l) in per_line.iter().zip(&lines) {
                prop_assert!(*d >= 0 && *d <= l.subtotal);
            }
            for a in &out.applied {
                prop_assert_eq!(a.total(), a.per_line.iter().sum::<i64>());
            }
        }

        #[test]
        fn an_amount_is_spread_exactly(total in 0i64..10_000_000, room in prop::collection::vec(0i64..1_000_000, 1..10)) {
            let parts = spread(total, &room);
            let sum: i64 = room.iter().sum();
            prop_assert_eq!(parts.iter().sum::<i64>(), total.min(sum));
            for (p, r) in parts.iter().zip(&room) {
                prop_assert!(*p >= 0 && p <= r);
            }
        }

        #[test]
        fn balances_never_pay_more_than_is_due_or_held(
            due in 0i64..1_000_000, held in 0i64..100_000, asked in 0i64..200_000, cash in 0i64..1_000_000, want in 0i64..2_000_000,
        ) {
            let paid = pay(due, Some(Conversion { points: 100, value: 500 }), (held, asked), (cash, want));
            prop_assert!(paid.points_used <= held && paid.points_used % 100 == 0);
            prop_assert!(paid.points_value + paid.cashback_used <= due);
            prop_assert!(paid.cashback_used <= cash);
        }
    }
}
