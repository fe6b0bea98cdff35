//! The campaign what-if's unit tests.
use super::*;
use crate::domain::{
    rewards::Line,
    simulation::tests::{DAY, NOV_2, program},
};

fn percent(p: &str) -> Effect {
    Effect::ExtraPercent {
        asset: "EUR".into(),
        percent: p.into(),
    }
}

fn draft(effect: Effect) -> Draft {
    Draft {
        campaign_id: "c1".into(),
        effect: Some(effect),
        variants: vec![],
        categories: vec![],
        min_order: None,
        per_order: None,
        per_customer: None,
        budgets: vec![],
        timezone: "Europe/Rome".into(),
        admits: Admits::default(),
        not_priced: vec![],
    }
}

/// `n` orders of 100.00 EUR a day apart, rewarded 5% by campaign c1
/// (arm `variant`) under a 5% program.
fn orders(live: &Program, n: i64, variant: &str) -> Vec<Recorded> {
    let offer = Offer {
        campaign_id: "c1".into(),
        version: 1,
        variant: variant.into(),
        effect: percent("5"),
        categories: vec![],
        min_order: None,
    };
    (0..n)
        .map(|i| {
            let lines = vec![Line {
                line_id: "1".into(),
                sku: "s".into(),
                category: "shoes".into(),
                unit_price: 10_000,
                quantity: 1,
                discount: 0,
            }];
            let rewards = rewards::compute(
                live,
                "program:p@1",
                &lines,
                &[1],
                None,
                std::slice::from_ref(&offer),
            )
            .rewards;
            Recorded {
                order_id: format!("o{i}"),
                version: 1,
                customer: format!("c{}", i % 3),
                channel: "store".into(),
                occurred_at: NOV_2 + i * DAY,
                recorded_at: NOV_2 + i * DAY,
                lines,
                tier: None,
                rewards,
                ..Default::default()
            }
        })
        .collect()
}

#[test]
fn the_live_campaign_changes_nothing() {
    let live = program("5");
    let same = draft(percent("5"));
    let mut sim = CampaignSimulator::new(&same);
    orders(&live, 10, "").iter().for_each(|o| sim.add(o, &live));
    let report = sim.finish();
    assert_eq!(report.all.purchases, 10);
    assert_eq!(report.all.totals["EUR"], (5_000, 5_000));
    assert_eq!(report.by_variant[""], report.all);
    assert!(report.top_customers(&live, 5).is_empty());
}

#[test]
fn a_budget_runs_out_on_the_day_its_total_is_spent() {
    let live = program("5");
    // 10% of 100.00 is 10.00 a day; 35.00 lasts three days and a half.
    let richer = Draft {
        budgets: vec![Budget {
            asset: "EUR".into(),
            total: 3_500,
            per_day: None,
        }],
        ..draft(percent("10"))
    };
    let mut sim = CampaignSimulator::new(&richer);
    let all = orders(&live, 10, "");
    sim.warm_up(&all[0], &live);
    all[1..].iter().for_each(|o| sim.add(o, &live));
    let report = sim.finish();
    assert_eq!(report.all.purchases, 9, "the first only spent");
    assert_eq!(report.all.totals["EUR"], (4_500, 2_500));
    let run = &report.budgets["EUR"];
    assert_eq!((run.total, run.spent, run.short), (3_500, 3_500, 6_500));
    assert_eq!(run.runs_out_at, Some(NOV_2 + 3 * DAY));
    assert_eq!(richer.day(NOV_2 + 3 * DAY), "2026-11-05");
    assert_eq!(run.ran_out_at, None, "the live one lasted");
}

#[test]
fn a_per_day_budget_and_caps_cut_each_reward() {
    let live = program("5");
    let capped = Draft {
        budgets: vec![Budget {
            asset: "EUR".into(),
            total: 1_000_000,
            per_day: Some(700),
        }],
        per_customer: Some((1_800, "EUR".into())),
        ..draft(percent("10"))
    };
    let mut sim = CampaignSimulator::new(&capped);
    orders(&live, 9, "").iter().for_each(|o| sim.add(o, &live));
    let report = sim.finish();
    // 7.00 a day; each of 3 customers at most 18.00: 7 + 7 + 4.
    assert_eq!(report.by_customer["c0"].totals["EUR"], (1_500, 1_800));
    assert_eq!(report.budgets["EUR"].runs_out_at, None);
    assert_eq!(report.budgets["EUR"].spent, 5_400);
}

#[test]
fn an_arm_is_picked_by_the_drafts_weights() {
    let live = program("5");
    let ab = Draft {
        variants: vec![
            Arm {
                name: "a".into(),
                weight: 1,
                effect: Some(percent("10")),
            },
            Arm {
                name: "control".into(),
                weight: 1,
                effect: None,
            },
        ],
        ..draft(percent("99"))
    };
    let mut sim = CampaignSimulator::new(&ab);
    let all = orders(&live, 12, "a");
    all.iter().for_each(|o| sim.add(o, &live));
    let report = sim.finish();
    // Each customer in the arm the draft's weights pick.
    let in_a = all
        .iter()
        .filter(|o| arms::pick("c1", &o.customer, &[1, 1]) == Some(0))
        .count() as u64;
    let count = |arm: &str| report.by_variant.get(arm).map_or(0, |s| s.purchases);
    assert_eq!((count("a"), count("control")), (in_a, 12 - in_a));
    let a_eur = report.by_variant.get("a").map_or(0, |s| s.totals["EUR"].1);
    assert_eq!(a_eur, 1_000 * i64::try_from(in_a).unwrap_or(0));
}

#[test]
fn a_coupon_code_keeps_its_own_reward() {
    let live = program("5");
    let coupon = Offer {
        campaign_id: "c1".into(),
        version: 1,
        variant: "coupon:SHOES10".into(),
        effect: Effect::FixedBonus {
            minor: 300,
            asset: "EUR".into(),
        },
        categories: vec![],
        min_order: None,
    };
    let mut with_coupon = orders(&live, 1, "");
    let own = with_coupon[0].rewards.iter().find_map(|r| r.offer.clone());
    let offers: Vec<Offer> = own.into_iter().chain([coupon]).collect();
    with_coupon[0].rewards = rewards::compute(
        &live,
        "program:p@1",
        &with_coupon[0].lines,
        &[1],
        None,
        &offers,
    )
    .rewards;
    let same = draft(percent("5"));
    let mut sim = CampaignSimulator::new(&same);
    sim.add(&with_coupon[0], &live);
    let report = sim.finish();
    assert_eq!(
        report.all.totals["EUR"],
        (500, 500),
        "the coupon's 3.00 is not the campaign's own"
    );
}

#[test]
fn a_run_resumed_from_its_snapshot_ends_where_one_run_does() {
    let live = program("5");
    let capped = Draft {
        budgets: vec![Budget {
            asset: "EUR".into(),
            total: 4_000,
            per_day: Some(900),
        }],
        per_customer: Some((2_500, "EUR".into())),
        ..draft(percent("10"))
    };
    let all = orders(&live, 10, "");
    let mut once = CampaignSimulator::new(&capped);
    all.iter().for_each(|o| once.add(o, &live));
    let mut first = CampaignSimulator::new(&capped);
    all[..4].iter().for_each(|o| first.add(o, &live));
    let snapshot = first.snapshot();
    let json = serde_json::to_string(&snapshot).unwrap_or_default();
    let restored: CampaignSnapshot = serde_json::from_str(&json).unwrap_or_default();
    let mut second = CampaignSimulator::resume(&capped, restored);
    all[4..].iter().for_each(|o| second.add(o, &live));
    let (once, resumed) = (once.finish(), second.finish());
    assert_eq!(resumed, once);
    assert_eq!(
        once.budgets["EUR"].spent, 4_000,
        "spent across the two runs"
    );
}

#[test]
fn a_return_gives_the_budget_back_when_it_is_recorded() {
    let live = program("5");
    // 5.00 a purchase; a 10.00 budget.
    let budgeted = Draft {
        budgets: vec![Budget {
            asset: "EUR".into(),
            total: 1_000,
            per_day: None,
        }],
        ..draft(percent("5"))
    };
    let mut all = orders(&live, 4, "");
    // The first returned whole between the third and the fourth.
    all[0].returns = vec![(NOV_2 + 2 * DAY + 1, [("1".to_owned(), 1)].into())];
    all[0].reversed = all[0].rewards.iter().map(|r| r.amount).collect();
    let mut sim = CampaignSimulator::new(&budgeted);
    all.iter().for_each(|o| sim.add(o, &live));
    let report = sim.finish();
    // The first nets to nothing; the third finds the budget spent; the
    // fourth has what the return gave back.
    assert_eq!(report.all.totals["EUR"], (1_500, 1_000));
    let run = &report.budgets["EUR"];
    assert_eq!((run.spent, run.short), (1_000, 500));
}

#[test]
fn a_purchase_the_drafts_conditions_leave_out_gets_nothing_from_it() {
    let live = program("5");
    // The orders are in store, a day apart from Nov 2.
    let online_only = Draft {
        admits: Admits {
            channels: vec!["online".into()],
            ..Admits::default()
        },
        ..draft(percent("5"))
    };
    let mut sim = CampaignSimulator::new(&online_only);
    orders(&live, 4, "").iter().for_each(|o| sim.add(o, &live));
    assert_eq!(sim.finish().all.totals["EUR"], (2_000, 0));
    // Its run ends on Nov 4: the first two only.
    let shorter = Draft {
        admits: Admits {
            run: (NOV_2, NOV_2 + 2 * DAY),
            ..Admits::default()
        },
        ..draft(percent("5"))
    };
    let mut sim = CampaignSimulator::new(&shorter);
    orders(&live, 4, "").iter().for_each(|o| sim.add(o, &live));
    assert_eq!(sim.finish().all.totals["EUR"], (2_000, 1_000));
}

#[test]
fn what_is_not_priced_is_said_once_each() {
    let live = Targeting {
        channels: vec!["online".into()],
        run: (NOV_2, NOV_2 + 30 * DAY),
        ..Targeting::default()
    };
    assert!(not_priced(&live, &live).is_empty());
    // Narrower is priced.
    let narrower = Targeting {
        tiers: vec!["gold".into()],
        run: (NOV_2 + DAY, NOV_2 + 30 * DAY),
        ..live.clone()
    };
    assert!(not_priced(&live, &narrower).is_empty());
    let wider = Targeting {
        channels: vec![],
        run: (NOV_2, NOV_2 + 60 * DAY),
        segments: vec!["vip".into()],
        stacking: 2,
        ..live.clone()
    };
    assert_eq!(
        not_priced(&live, &wider),
        [
            "purchases the live campaign did not reward are not priced, though the draft admits more (channels, schedule)",
            "segments are not checked: a purchase does not record its member's segment",
            "priority and stacking are not priced: other campaigns' offers are as they were",
        ]
    );
}
