//! A program shown by GetProgram and sent back by UpsertProgram is the same
//! program (found by the `program` fuzz target: with no tier policy or fraud
//! section, the shown program came back with other defaults).
use accrual_svc::grpc::program::{program, to_program};
use boomerang_proto::{accrual::v1 as pb, common::v1::Money};

fn eur(amount: &str) -> Option<Money> {
    Some(Money {
        amount: amount.into(),
        asset: "EUR".into(),
    })
}

fn round_trip(wire: &pb::Program) -> anyhow::Result<()> {
    let (id, accepted) = program(Some(wire))?;
    let shown = to_program(&id, 3, 1_767_225_600_000_000, &accepted);
    let again = program(Some(&shown))?;
    anyhow::ensure!(again == (id, accepted), "{again:?}");
    Ok(())
}

#[test]
fn a_shown_program_sent_back_is_the_same_program() -> anyhow::Result<()> {
    let bare = pb::Program {
        program_id: "cb".into(),
        name: "Cashback".into(),
        currency: "EUR".into(),
        earn_rules: vec![pb::EarnRule {
            asset: "EUR".into(),
            basis: pb::EarnBasis::Percent as i32,
            rate: "5".into(),
        }],
        ..Default::default()
    };
    round_trip(&bare)?;
    let full = pb::Program {
        thresholds: vec![pb::Threshold {
            over: eur("100.00"),
            comparison: pb::ThresholdComparison::GreaterThan as i32,
            asset: "EUR".into(),
            rate: "10".into(),
        }],
        caps: vec![pb::Cap {
            asset: "EUR".into(),
            per_order: eur("50.00"),
            ..Default::default()
        }],
        tier_policy: Some(pb::TierPolicy {
            basis: pb::TierBasis::Spend as i32,
            window_days: 365,
            tiers: vec![pb::Tier {
                tier_id: "gold".into(),
                name: "Gold".into(),
                qualifies_at: eur("500.00"),
                earn_multiplier: "1.5".into(),
            }],
            nudge_percent: 0,
        }),
        fraud: Some(pb::FraudPolicy {
            max_purchases_per_hour: 10,
            ..Default::default()
        }),
        ..bare
    };
    round_trip(&full)
}

#[test]
fn silently_clamped_limits_are_refused() {
    let over = pb::Program {
        program_id: "cb".into(),
        currency: "EUR".into(),
        earn_rules: vec![pb::EarnRule {
            asset: "EUR".into(),
            basis: pb::EarnBasis::Percent as i32,
            rate: "5".into(),
        }],
        fraud: Some(pb::FraudPolicy {
            max_purchases_per_hour: 10_001,
            ..Default::default()
        }),
        ..Default::default()
    };
    let refused = program(Some(&over)).err().map(|e| e.to_string());
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("program.fraud.max_purchases_per_hour")),
        "{refused:?}"
    );
}
