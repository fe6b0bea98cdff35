//! The reward computation, by example.
use super::{super::program::*, *};

fn program(rules: Vec<EarnRule>, thresholds: Vec<Threshold>) -> Program {
    Program {
        name: "p".into(),
        currency: "EUR".into(),
        timezone: "Europe/Rome".into(),
        earn_rules: rules,
        min_order: 0,
        thresholds,
        category_multipliers: vec![],
        excluded_categories: vec!["gift_card".into()],
        per_order_caps: vec![],
        per_period_caps: vec![],
        rounding: Rounding::Down,
        return_window_days: 14,
        points_expiry_months: 12,
        welcome_bonus: None,
        birthday_bonus: None,
        conversion: None,
        clawback: Clawback::WithinBalance,
        tiers: TierPolicy::default(),
        fraud: Default::default(),
        auto_enroll: false,
    }
}

fn cashback(rate: &str) -> EarnRule {
    EarnRule {
        asset: "EUR".into(),
        basis: Basis::Percent,
        rate: rate.into(),
    }
}

fn order(cents: &[(i64, &str)]) -> (Vec<Line>, Vec<u32>) {
    let lines: Vec<Line> = cents
        .iter()
        .enumerate()
        .map(|(i, (c, cat))| Line {
            line_id: format!("l{i}"),
            sku: "s".into(),
            category: (*cat).into(),
            unit_price: *c,
            quantity: 1,
            discount: 0,
        })
        .collect();
    let kept = vec![1; lines.len()];
    (lines, kept)
}

fn amounts(c: &Computed) -> Vec<(String, i64)> {
    c.rewards
        .iter()
        .map(|r| (r.asset.clone(), r.amount))
        .collect()
}

#[test]
fn five_percent_of_a_hundred() {
    let p = program(vec![cashback("5")], vec![]);
    let (lines, kept) = order(&[(10_000, "shoes")]);
    assert_eq!(
        amounts(&compute(&p, "program:p@1", &lines, &kept, None, &[])),
        vec![("EUR".into(), 500)]
    );
}

#[test]
fn over_a_hundred_is_strictly_above() {
    let t = Threshold {
        over: 10_000,
        inclusive: false,
        asset: "EUR".into(),
        rate: "10".into(),
    };
    let p = program(vec![cashback("5")], vec![t]);
    let (exact, k) = order(&[(10_000, "shoes")]);
    assert_eq!(
        amounts(&compute(&p, "x", &exact, &k, None, &[])),
        vec![("EUR".into(), 500)]
    );
    let (above, k) = order(&[(10_001, "shoes")]);
    // 10% of 100.01 = 10.001, rounded down.
    assert_eq!(
        amounts(&compute(&p, "x", &above, &k, None, &[])),
        vec![("EUR".into(), 1_000)]
    );
}

#[test]
fn points_round_down_and_gift_cards_never_earn() {
    let p = program(
        vec![EarnRule {
            asset: "PTS".into(),
            basis: Basis::PerCurrencyUnit,
            rate: "1".into(),
        }],
        vec![],
    );
    let (lines, kept) = order(&[(5_799, "food"), (5_000, "gift_card")]);
    assert_eq!(
        amounts(&compute(&p, "x", &lines, &kept, None, &[])),
        vec![("PTS".into(), 57)]
    );
}

#[test]
fn gold_member_on_double_points_in_a_boosted_category() {
    let mut p = program(
        vec![EarnRule {
            asset: "PTS".into(),
            basis: Basis::PerCurrencyUnit,
            rate: "1".into(),
        }],
        vec![],
    );
    p.category_multipliers = vec![("green".into(), "2".into())];
    let (lines, kept) = order(&[(10_000, "green")]);
    let offer = Offer {
        campaign_id: "double".into(),
        version: 1,
        variant: String::new(),
        effect: Effect::PointsMultiplier {
            multiplier: "2".into(),
        },
        categories: vec![],
        min_order: None,
    };
    let c = compute(
        &p,
        "program:p@1",
        &lines,
        &kept,
        Some(("gold", "1.5")),
        &[offer],
    );
    // 100 EUR x 1 PTS x2 (green) x1.5 (gold) = 300; the campaign doubles it: +300.
    assert_eq!(amounts(&c), vec![("PTS".into(), 300), ("PTS".into(), 300)]);
    let rules: Vec<&str> = c.rewards[0]
        .explanations
        .iter()
        .map(|e| e.rule.as_str())
        .collect();
    assert_eq!(
        rules,
        vec![
            "base_earn",
            "category_multiplier",
            "tier_multiplier",
            "rounding"
        ]
    );
}

#[test]
fn a_fixed_bonus_goes_when_the_order_falls_below_its_minimum() {
    let p = program(vec![cashback("5")], vec![]);
    let (lines, _) = order(&[(9_000, "shoes"), (3_000, "socks")]);
    let bonus = Offer {
        campaign_id: "five-over-100".into(),
        version: 1,
        variant: String::new(),
        effect: Effect::FixedBonus {
            minor: 500,
            asset: "EUR".into(),
        },
        categories: vec![],
        min_order: Some(10_000),
    };
    let all = compute(&p, "x", &lines, &[1, 1], None, std::slice::from_ref(&bonus));
    assert_eq!(
        amounts(&all),
        vec![("EUR".into(), 600), ("EUR".into(), 500)]
    );
    let returned = compute(&p, "x", &lines, &[1, 0], None, &[bonus]);
    assert_eq!(amounts(&returned), vec![("EUR".into(), 450)]);
}

#[test]
fn a_capped_earn_caps_what_a_multiplier_builds_on() {
    let mut p = program(
        vec![EarnRule {
            asset: "PTS".into(),
            basis: Basis::PerCurrencyUnit,
            rate: "1".into(),
        }],
        vec![],
    );
    p.per_order_caps = Money::of(50, "PTS").into_iter().collect();
    let (lines, kept) = order(&[(20_000, "tv")]);
    let double = Offer {
        campaign_id: "double".into(),
        version: 1,
        variant: String::new(),
        effect: Effect::PointsMultiplier {
            multiplier: "2".into(),
        },
        categories: vec![],
        min_order: None,
    };
    assert_eq!(
        amounts(&compute(&p, "x", &lines, &kept, None, &[double])),
        vec![("PTS".into(), 50), ("PTS".into(), 50)]
    );
}

#[test]
fn a_returned_line_recomputes_below_the_threshold() {
    let t = Threshold {
        over: 10_000,
        inclusive: false,
        asset: "EUR".into(),
        rate: "10".into(),
    };
    let p = program(vec![cashback("5")], vec![t]);
    let (lines, _) = order(&[(9_000, "shoes"), (3_000, "socks")]);
    assert_eq!(
        amounts(&compute(&p, "x", &lines, &[1, 1], None, &[])),
        vec![("EUR".into(), 1_200)]
    );
    assert_eq!(
        amounts(&compute(&p, "x", &lines, &[1, 0], None, &[])),
        vec![("EUR".into(), 450)]
    );
}

/// Every step with a base says the rate that turned it into its unrounded
/// result: a client multiplying base by rate gets the same number (5% is
/// "0.05", never "5").
#[test]
fn base_times_rate_is_the_unrounded_result() {
    let t = Threshold {
        over: 10_000,
        inclusive: false,
        asset: "EUR".into(),
        rate: "10".into(),
    };
    let points = EarnRule {
        asset: "PTS".into(),
        basis: Basis::PerCurrencyUnit,
        rate: "1".into(),
    };
    for (cents, rate) in [(9_000, "0.05"), (12_000, "0.1")] {
        let p = program(vec![cashback("5"), points.clone()], vec![t.clone()]);
        let (lines, kept) = order(&[(cents, "shoes")]);
        let offer = |id: &str, effect: Effect| Offer {
            campaign_id: id.into(),
            version: 1,
            variant: String::new(),
            effect,
            categories: vec![],
            min_order: None,
        };
        let offers = [
            offer(
                "double",
                Effect::PointsMultiplier {
                    multiplier: "2".into(),
                },
            ),
            offer(
                "extra",
                Effect::ExtraPercent {
                    asset: "EUR".into(),
                    percent: "2".into(),
                },
            ),
        ];
        let c = compute(&p, "program:p@1", &lines, &kept, None, &offers);
        let steps: Vec<&Explanation> = c.rewards.iter().flat_map(|r| &r.explanations).collect();
        assert!(
            steps.iter().any(|s| s.rule == "campaign" && s.rate == "1"),
            "x2: one more: {steps:?}"
        );
        assert!(
            steps
                .iter()
                .any(|s| s.rule == "campaign" && s.rate == "0.02"),
            "2% extra: {steps:?}"
        );
        assert!(steps.iter().any(|s| s.rate == rate), "{cents}: {steps:?}");
        for s in &steps {
            let (Some((b, _)), false) = (&s.base, s.unrounded.is_empty()) else {
                continue;
            };
            assert_eq!(dec(b) * dec(&s.rate), dec(&s.unrounded), "{s:?}");
        }
    }
}

/// A point's price in the currency, for campaign reports: exact when it
/// can be, rounded down to 12 decimals when it repeats (3 PTS = 1.00 EUR).
#[test]
fn a_point_is_priced_at_the_conversion() {
    let priced = |points: i64, cents: i64| {
        let mut p = program(vec![cashback("5")], vec![]);
        p.conversion = Some(Conversion {
            points,
            value: Money::of(cents, "EUR").unwrap_or_else(|_| Money::zero(&Asset::points())),
        });
        p.unit_value("PTS").map(|d| d.to_string())
    };
    assert_eq!(priced(100, 500), Some("0.05".into()));
    assert_eq!(priced(3, 100), Some("0.333333333333".into()));
    let p = program(vec![cashback("5")], vec![]);
    assert_eq!(
        (
            p.unit_value("EUR").map(|d| d.to_string()),
            p.unit_value("PTS")
        ),
        (Some("1".into()), None)
    );
}

/// The names the tax rules and exports read are the stored ones.
#[test]
fn kinds_are_named_as_stored() -> Result<(), serde_json::Error> {
    for k in [Kind::Base, Kind::Campaign, Kind::Voucher, Kind::VoucherCode] {
        assert_eq!(serde_json::to_string(&k)?, format!("\"{}\"", k.name()));
    }
    Ok(())
}
