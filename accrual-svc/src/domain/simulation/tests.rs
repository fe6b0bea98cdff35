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
        recorded_at: at,
        lines,
        tier: None,
        rewards,
        ..Default::default()
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
        ..Default::default()
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

/// `customer`'s order of `units` units of 50.00 EUR, as `live` priced it,
/// with `returns` (when, units returned) and what they took back of it.
fn returned(live: &Program, order: &str, units: u32, at: i64, returns: &[(i64, u32)]) -> Recorded {
    let mut p = recorded(live, "c", order, 5_000, at);
    p.lines[0].quantity = units;
    p.rewards = rewards::compute(live, "program:p@1", &p.lines, &[units], None, &[]).rewards;
    let mut kept = units;
    p.reversed = vec![0; p.rewards.len()];
    for (when, n) in returns {
        kept -= n;
        p.returns.push((*when, [("1".to_owned(), *n)].into()));
        let after = rewards::compute(live, "program:p@1", &p.lines, &[kept], None, &[]).rewards;
        for (reward, reversed) in p.rewards.iter().zip(p.reversed.iter_mut()) {
            *reversed += crate::domain::returns::taken_back(reward, *reversed, &after).1;
        }
    }
    p
}

#[test]
fn returns_are_netted_on_both_sides() {
    // 2 × 50.00 at 5%: 5.00, then one unit returned: 2.50 kept.
    let live = program("5");
    let order = returned(&live, "o", 2, NOV_2, &[(NOV_2 + DAY, 1)]);
    let mut same = Simulator::new(&live, 1, "draft".into());
    same.add(&order, Some(&live));
    assert_eq!(same.finish().all.totals["EUR"], (250, 250));
    // At 7.5%: 7.50, then 3.75 kept; against the 2.50 kept.
    let draft = program("7.5");
    let mut richer = Simulator::new(&draft, 1, "draft".into());
    richer.add(&order, Some(&live));
    assert_eq!(richer.finish().all.totals["EUR"], (250, 375));
    // Returned whole: nothing either side.
    let gone = returned(
        &live,
        "g",
        2,
        NOV_2,
        &[(NOV_2 + DAY, 1), (NOV_2 + 2 * DAY, 1)],
    );
    let mut sim = Simulator::new(&draft, 1, "draft".into());
    sim.add(&gone, Some(&live));
    assert_eq!(sim.finish().all.totals["EUR"], (0, 0));
}

#[test]
fn a_return_gives_a_period_cap_its_room_back_when_it_is_recorded() {
    let live = program("5");
    let capped = Program {
        per_period_caps: vec![PeriodCap {
            cap: eur(1_000),
            period: Period::Month,
        }],
        ..program("5")
    };
    let mut sim = Simulator::new(&capped, 1, "draft".into());
    // 10.00 earned on Nov 2 (the month's cap), returned whole on Nov 5.
    sim.add(
        &returned(&live, "full", 4, NOV_2, &[(NOV_2 + 3 * DAY, 4)]),
        None,
    );
    let before = sim.report.all.totals["EUR"].1;
    // Nov 4: the cap is still reached; Nov 6: its room is back.
    sim.add(&returned(&live, "capped", 2, NOV_2 + 2 * DAY, &[]), None);
    assert_eq!(sim.report.all.totals["EUR"].1, before, "nothing on Nov 4");
    // A job stopped here goes on with the room still to come back.
    let mut sim = Simulator::resume(&capped, 1, "draft".into(), sim.snapshot());
    sim.add(&returned(&live, "back", 2, NOV_2 + 4 * DAY, &[]), None);
    assert_eq!(sim.finish().all.totals["EUR"].1, 500, "5.00 on Nov 6");

    // It is when RecordPurchase priced a purchase that counts: one that
    // occurred on Nov 3 but was recorded on Nov 6 (an import) had the room.
    let mut sim = Simulator::new(&capped, 1, "draft".into());
    let full = returned(&live, "full", 4, NOV_2, &[(NOV_2 + 3 * DAY, 4)]);
    sim.add(&full, None);
    let late = Recorded {
        recorded_at: NOV_2 + 4 * DAY,
        ..returned(&live, "late", 2, NOV_2 + DAY, &[])
    };
    sim.add(&late, None);
    assert_eq!(sim.finish().all.totals["EUR"].1, 500);
}
