//! The what-if's unit tests (programs; campaigns in `campaign.rs`).
use boomerang_common::money::Amount as Money;

use super::*;
use crate::domain::program::{
    Basis, Clawback, Conversion, EarnRule, Period, PeriodCap, Rounding, TierPolicy,
};

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, &Asset::new("EUR", 2)).unwrap_or_else(|_| unreachable!())
}

pub(super) fn program(rate: &str) -> Program {
    Program {
        name: "p".into(),
        currency: "EUR".into(),
        timezone: "Europe/Rome".into(),
        earn_rules: vec![
            EarnRule {
                asset: "EUR".into(),
                basis: Basis::Percent,
                rate: rate.into(),
            },
            EarnRule {
                asset: "PTS".into(),
                basis: Basis::PerCurrencyUnit,
                rate: "1".into(),
            },
        ],
        min_order: 0,
        thresholds: vec![],
        category_multipliers: vec![],
        excluded_categories: vec![],
        per_order_caps: vec![],
        per_period_caps: vec![],
        rounding: Rounding::Down,
        return_window_days: 14,
        points_expiry_months: 0,
        welcome_bonus: None,
        birthday_bonus: None,
        conversion: Some(Conversion {
            points: 100,
            value: eur(500),
        }),
        clawback: Clawback::WithinBalance,
        tiers: TierPolicy::default(),
        fraud: Default::default(),
        auto_enroll: false,
    }
}

/// `customer`'s order of one line of `cents`, as `live` priced it.
fn recorded(live: &Program, customer: &str, order: &str, cents: i64, at: i64) -> Recorded {
    let lines = vec![Line {
        line_id: "1".into(),
        sku: "s".into(),
        category: "shoes".into(),
        unit_price: cents,
        quantity: 1,
        discount: 0,
    }];
    let rewards = rewards::compute(live, "program:p@1", &lines, &[1], None, &[]).rewards;
    Recorded {
        order_id: order.into(),
        version: 1,
        customer: customer.into(),
        channel: "online".into(),
        occurred_at: at,
        lines,
        tier: None,
        rewards,
    }
}

pub(super) const DAY: i64 = 86_400_000_000;
pub(super) const NOV_2: i64 = 1_793_577_600_000_000; // 2026-11-02T00:00:00Z

#[test]
fn the_live_program_changes_nothing_and_a_richer_one_is_costed() {
    let live = program("5");
    let orders: Vec<_> = (0..50)
        .map(|i| {
            recorded(
                &live,
                &format!("c{}", i % 7),
                &format!("o{i}"),
                1_000 + 997 * i,
                NOV_2 + i * DAY / 10,
            )
        })
        .collect();
    let mut same = Simulator::new(&live, 1, "draft".into());
    orders.iter().for_each(|o| same.add(o, Some(&live)));
    let same = same.finish();
    assert!(same.all.totals.values().all(|(g, s)| g == s), "{same:?}");
    assert_eq!(same.all.cost_delta(&live), 0);
    assert!(same.top_customers(&live, 10).is_empty());

    let richer = program("7.5");
    let mut sim = Simulator::new(&richer, 1, "draft".into());
    orders.iter().for_each(|o| sim.add(o, Some(&live)));
    let report = sim.finish();
    // Independently: 7.5% of each order, rounded down, against 5%.
    let expected: i64 = (0..50_i64)
        .map(|i| (1_000 + 997 * i) * 75 / 1000 - (1_000 + 997 * i) * 5 / 100)
        .sum();
    let (granted, simulated) = report.all.totals["EUR"];
    assert_eq!(simulated - granted, expected);
    assert_eq!(
        report.all.totals["PTS"].0, report.all.totals["PTS"].1,
        "points unchanged"
    );
    assert_eq!(report.all.cost_delta(&richer), expected);
    assert_eq!(report.all.purchases, 50);
    assert_eq!(report.by_channel["online"], report.all);
    assert_eq!(
        report.by_category["shoes"], report.all,
        "one category has it all"
    );
    let top = report.top_customers(&richer, 3);
    assert_eq!(top.len(), 3);
    assert!(top.windows(2).all(|w| w[0].2 >= w[1].2));
}

#[test]
fn points_are_costed_at_the_conversion() {
    let live = program("5");
    let mut doubled = program("5");
    doubled.earn_rules[1].rate = "2".into();
    let mut sim = Simulator::new(&doubled, 1, "draft".into());
    sim.add(&recorded(&live, "c", "o", 12_345, NOV_2), None);
    let report = sim.finish();
    assert_eq!(report.all.totals["PTS"], (123, 246));
    // 123 PTS more at 5.00 EUR per 100: 6.15 EUR.
    assert_eq!(report.all.cost_delta(&doubled), 615);
}

#[test]
fn a_period_cap_counts_what_the_draft_earned_before_the_window() {
    let live = program("5");
    let mut capped = program("5");
    capped.per_period_caps = vec![PeriodCap {
        cap: eur(1_000),
        period: Period::Month,
    }];
    let mut sim = Simulator::new(&capped, 1, "draft".into());
    // 8.00 EUR earned on Nov 2, before the window; 5.00 on Nov 20, in it.
    sim.warm_up(&recorded(&live, "c", "before", 16_000, NOV_2));
    sim.add(&recorded(&live, "c", "in", 10_000, NOV_2 + 18 * DAY), None);
    let report = sim.finish();
    assert_eq!(report.all.purchases, 1);
    assert_eq!(
        report.all.totals["EUR"],
        (500, 200),
        "2.00 left under the month's 10.00"
    );
}

#[test]
fn a_boosted_category_carries_its_own_change() {
    // 100.00 EUR of shoes and 100.00 of bags at 5%; the draft doubles shoes.
    let live = program("5");
    let line = |id: &str, category: &str| Line {
        line_id: id.into(),
        sku: id.into(),
        category: category.into(),
        unit_price: 10_000,
        quantity: 1,
        discount: 0,
    };
    let lines = vec![line("1", "shoes"), line("2", "bags"), line("3", "gift")];
    let live = Program {
        excluded_categories: vec!["gift".into()],
        ..live
    };
    let rewards = rewards::compute(&live, "program:p@1", &lines, &[1, 1, 1], None, &[]).rewards;
    let order = Recorded {
        order_id: "o".into(),
        version: 1,
        customer: "c".into(),
        channel: "online".into(),
        occurred_at: NOV_2,
        lines,
        tier: None,
        rewards,
    };
    let draft = Program {
        category_multipliers: vec![("shoes".into(), "2".into())],
        ..live.clone()
    };
    let mut sim = Simulator::new(&draft, 1, "draft".into());
    sim.add(&order, Some(&live));
    let report = sim.finish();
    assert_eq!(report.by_category["shoes"].totals["EUR"], (500, 1_000));
    assert_eq!(report.by_category["bags"].totals["EUR"], (500, 500));
    assert_eq!(report.by_category["gift"].totals["EUR"], (0, 0), "excluded");
    assert_eq!(report.by_category["gift"].purchases, 1);
    assert_eq!(report.all.totals["EUR"], (1_000, 1_500));
}

#[test]
fn shares_add_up_to_the_amount() {
    let weights: BTreeMap<String, Decimal> = [("a", 1), ("b", 1), ("c", 1)]
        .into_iter()
        .map(|(c, w)| (c.to_owned(), Decimal::from(w)))
        .collect();
    let parts = shares(&[("EUR".into(), 100)], &weights);
    let minor: Vec<i64> = parts.iter().map(|(_, (_, m))| *m).collect();
    assert_eq!(minor, [34, 33, 33]);
    let none = shares(&[("EUR".into(), 7)], &BTreeMap::new());
    assert_eq!(none, [(String::new(), ("EUR".into(), 7))]);
}
