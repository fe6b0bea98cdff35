//! The reward computation over any purchase a caller can send: conversion
//! (proto -> domain) never panics, nor does the computation (no decimal
//! overflow); no reward is negative or above what one wallet credit may
//! carry; the cashback never exceeds the eligible amount; and returning
//! units never earns more (every asset's reward with fewer units kept is at
//! most the reward with all of them).
#![no_main]

use std::{collections::BTreeMap, sync::LazyLock};

use accrual_svc::{
    domain::{program::Program, rewards::compute},
    grpc::{convert, program::program},
};
use boomerang_common::money::MAX_REQUEST_MINOR;
use boomerang_proto::{accrual::v1 as pb, common::v1::Money};
use libfuzzer_sys::{
    arbitrary::{Result, Unstructured},
    fuzz_target,
};

/// 2026-01-01, the clock of every case.
const NOW: i64 = 1_767_225_600_000_000;

fn eur(amount: &str) -> Option<Money> {
    Some(Money {
        amount: amount.into(),
        asset: "EUR".into(),
    })
}

/// Every earning rule at once: 5% cashback (10% over 100.00 EUR), a point per
/// euro, shoes doubled, gift cards excluded, a per-order cap.
static PROGRAM: LazyLock<Program> = LazyLock::new(|| {
    let wire = pb::Program {
        program_id: "cb".into(),
        name: "Fuzz".into(),
        currency: "EUR".into(),
        earn_rules: vec![
            pb::EarnRule {
                asset: "EUR".into(),
                basis: pb::EarnBasis::Percent as i32,
                rate: "5".into(),
            },
            pb::EarnRule {
                asset: "PTS".into(),
                basis: pb::EarnBasis::PerCurrencyUnit as i32,
                rate: "1".into(),
            },
        ],
        thresholds: vec![pb::Threshold {
            over: eur("100.00"),
            comparison: pb::ThresholdComparison::GreaterThan as i32,
            asset: "EUR".into(),
            rate: "10".into(),
        }],
        category_multipliers: vec![pb::CategoryMultiplier {
            category: "shoes".into(),
            multiplier: "2".into(),
        }],
        excluded_categories: vec!["gift_card".into()],
        caps: vec![pb::Cap {
            asset: "EUR".into(),
            per_order: eur("500.00"),
            ..Default::default()
        }],
        return_window_days: 14,
        ..Default::default()
    };
    match program(Some(&wire)) {
        Ok((_, p)) => p,
        Err(e) => panic!("the fuzz program is refused: {e}"),
    }
});

fn money(u: &mut Unstructured<'_>) -> Result<Option<Money>> {
    Ok(match u.int_in_range(0..=9)? {
        0 => None,
        1 => Some(Money {
            amount: u.arbitrary::<&str>()?.into(),
            asset: "EUR".into(),
        }),
        2 => Some(Money {
            amount: format!("{}.00", u.arbitrary::<u64>()?),
            asset: "EUR".into(),
        }),
        3 => Some(Money {
            amount: "1.00".into(),
            asset: u.arbitrary::<&str>()?.into(),
        }),
        _ => {
            let cents = u.int_in_range(0..=2_000_000u64)?;
            eur(&format!("{}.{:02}", cents / 100, cents % 100))
        }
    })
}

fn purchase(u: &mut Unstructured<'_>) -> Result<pb::Purchase> {
    let mut lines = Vec::new();
    for i in 0..u.int_in_range(0..=6)? {
        lines.push(pb::PurchaseLine {
            line_id: if u.ratio(1, 20)? {
                u.arbitrary::<&str>()?.into()
            } else {
                format!("l{i}")
            },
            sku: "sku".into(),
            category: ["shoes", "gift_card", "books", ""][u.int_in_range(0..=3)?].into(),
            unit_price: money(u)?,
            quantity: if u.ratio(1, 20)? {
                u.arbitrary()?
            } else {
                u.int_in_range(0..=20)?
            },
            discount: if u.ratio(1, 3)? { money(u)? } else { None },
        });
    }
    Ok(pb::Purchase {
        program_id: "cb".into(),
        order_id: "o-1".into(),
        customer_id: "alice".into(),
        currency: if u.ratio(1, 20)? {
            "USD".into()
        } else {
            "EUR".into()
        },
        lines,
        channel: u.int_in_range(0..=4)?,
        store_id: String::new(),
        occurred_at: Some(prost_types::Timestamp {
            seconds: NOW / 1_000_000 - i64::from(u.int_in_range(0..=100_000u32)?),
            nanos: 0,
        }),
    })
}

fn by_asset(rewards: &[accrual_svc::domain::rewards::Reward]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for r in rewards {
        assert!((0..=MAX_REQUEST_MINOR).contains(&r.amount), "{r:?}");
        *out.entry(r.asset.clone()).or_default() += r.amount;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(wire) = purchase(&mut u) else {
        return;
    };
    let Ok(input) = convert::purchase(Some(&wire), Vec::new(), NOW) else {
        return;
    };
    let tier = if u.ratio(1, 2).unwrap_or(false) {
        Some(("gold", "1.5"))
    } else {
        None
    };
    let all: Vec<u32> = input.lines.iter().map(|l| l.quantity).collect();
    let full = compute(&PROGRAM, "cb@1", &input.lines, &all, tier, &[]);
    let earned = by_asset(&full.rewards);
    // 5% (+10% over the threshold), at most x2 for the category and x1.5 for the tier: under 100%.
    assert!(
        earned.get("EUR").copied().unwrap_or(0) <= full.eligible,
        "{full:?}"
    );
    let kept: Vec<u32> = all
        .iter()
        .map(|&q| u.int_in_range(0..=q).unwrap_or(q))
        .collect();
    let after = by_asset(&compute(&PROGRAM, "cb@1", &input.lines, &kept, tier, &[]).rewards);
    for (asset, amount) in &after {
        let before = earned.get(asset).copied().unwrap_or(0);
        assert!(
            *amount <= before,
            "keeping {kept:?} of {all:?} earns {amount} {asset}, all of it {before}"
        );
    }
});
