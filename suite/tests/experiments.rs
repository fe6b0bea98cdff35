//! The experiment report through the gateway, on both backends: a campaign
//! with a control arm and a double-points arm, a hundred customers exposed
//! at their first purchase, and each figure recomputed here from what the
//! test recorded (the arm each customer got is read off their purchase).
mod support;

use std::{collections::BTreeMap, time::Duration};

use boomerang_common::{
    backend_tests,
    time::{Clock, now_micros, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient},
    campaign::v1 as cpb,
    common::v1::{Channel as Ch, Money},
};
use support::{
    shop::{Shop, campaign},
    start_with_clock, with_key,
};
use tonic::Code;

const DAY: u64 = 86_400;

/// What the test recorded of one customer: arm, exposure purchase and
/// the purchases of the 30 days from it, in cents.
#[derive(Default)]
struct Customer {
    arm: String,
    cents: Vec<i64>,
}

struct Experiment {
    shop: Shop,
    clock: Clock,
    customers: BTreeMap<String, Customer>,
}

impl Experiment {
    /// Records `customer`'s purchase of `cents` now; the arm their first
    /// one put them in.
    async fn buy(&mut self, customer: &str, order: &str, cents: i64) -> anyhow::Result<()> {
        let mut accrual = AccrualServiceClient::new(self.shop.gw.clone());
        let line = apb::PurchaseLine {
            line_id: "1".into(),
            sku: "s".into(),
            category: "shoes".into(),
            unit_price: Some(Money {
                amount: format!("{}.{:02}", cents / 100, cents % 100),
                asset: "EUR".into(),
            }),
            quantity: 1,
            discount: None,
        };
        let purchase = apb::Purchase {
            program_id: "demo".into(),
            order_id: order.into(),
            customer_id: customer.into(),
            currency: "EUR".into(),
            lines: vec![line],
            channel: Ch::Online as i32,
            store_id: String::new(),
            occurred_at: Some(to_timestamp(self.clock.now())),
        };
        let req = apb::RecordPurchaseRequest {
            idempotency_key: order.into(),
            purchase: Some(purchase),
        };
        let done = accrual
            .record_purchase(with_key(req, &self.shop.key)?)
            .await?
            .into_inner();
        let doubled = done.rewards.iter().any(|r| r.campaign_id == "ab");
        let c = self.customers.entry(customer.into()).or_default();
        if c.cents.is_empty() {
            c.arm = if doubled { "double" } else { "control" }.into();
        }
        c.cents.push(cents);
        Ok(())
    }

    async fn enroll(&self, customer: &str) -> anyhow::Result<()> {
        let mut accrual = AccrualServiceClient::new(self.shop.gw.clone());
        let req = apb::EnrollMemberRequest {
            idempotency_key: format!("e-{customer}"),
            program_id: "demo".into(),
            customer_id: customer.into(),
            ..Default::default()
        };
        accrual
            .enroll_member(with_key(req, &self.shop.key)?)
            .await?;
        Ok(())
    }

    async fn report(
        &self,
        campaign_id: &str,
        from: Option<i64>,
        control: &str,
    ) -> Result<apb::GetExperimentReportResponse, tonic::Status> {
        let mut accrual = AccrualServiceClient::new(self.shop.gw.clone());
        let req = apb::GetExperimentReportRequest {
            program_id: "demo".into(),
            campaign_id: campaign_id.into(),
            from: from.map(to_timestamp),
            to: None,
            within_days: None,
            control_variant: control.into(),
        };
        let req =
            with_key(req, &self.shop.key).map_err(|e| tonic::Status::internal(e.to_string()))?;
        Ok(accrual.get_experiment_report(req).await?.into_inner())
    }
}

/// A campaign of two arms on every order for 100 days: nothing, or double points.
fn ab() -> cpb::CampaignSpec {
    let mut spec = campaign(0, cpb::Stacking::Stackable);
    let day = 86_400_000_000;
    if let Some(s) = spec.schedule.as_mut() {
        s.ends_at = Some(to_timestamp(now_micros() + 100 * day));
    }
    spec.conditions = None;
    spec.effect = None;
    let double = cpb::Effect {
        kind: Some(cpb::effect::Kind::PointsMultiplier(cpb::PointsMultiplier {
            multiplier: "2".into(),
        })),
    };
    spec.variants = vec![
        cpb::Variant {
            name: "control".into(),
            weight: 1,
            effect: None,
        },
        cpb::Variant {
            name: "double".into(),
            weight: 1,
            effect: Some(double),
        },
    ];
    spec
}

fn mean(cents: &[i64]) -> rust_decimal::Decimal {
    let sum: i64 = cents.iter().sum();
    rust_decimal::Decimal::from(sum) / rust_decimal::Decimal::from(cents.len())
}

fn eur(d: rust_decimal::Decimal) -> String {
    let cents = d.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointNearestEven);
    let cents = i64::try_from(cents).unwrap_or(i64::MIN);
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

backend_tests! {
    async fn an_experiment_says_whether_its_arms_differ(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(now_micros());
        let (suite, _dbs) = start_with_clock(backend, Default::default(), clock.clone()).await?;
        let shop = Shop::open(&suite).await?;
        shop.campaign("ab", ab()).await?;
        shop.campaign("plain", campaign(0, cpb::Stacking::Stackable)).await?;
        let mut x = Experiment { shop, clock: clock.clone(), customers: BTreeMap::new() };

        // Day 0: a hundred customers buy, each exposed to one arm.
        let start = clock.now();
        for i in 0..100 {
            let who = format!("c{i:03}");
            x.enroll(&who).await?;
            x.buy(&who, &format!("{who}-1"), 2_000 + 500 * (i % 7)).await?;
        }
        // Day 10: two in three of the double arm come back, one in five of the control.
        clock.advance(Duration::from_secs(10 * DAY));
        let arms: Vec<(String, String)> = x.customers.iter().map(|(w, c)| (w.clone(), c.arm.clone())).collect();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, (who, arm)) in arms.iter().enumerate() {
            let k = seen.entry(arm.clone()).or_default();
            *k += 1;
            let back = if arm == "double" { !k.is_multiple_of(3) } else { k.is_multiple_of(5) };
            if back {
                x.buy(who, &format!("{who}-2"), 3_000 + 100 * (i as i64 % 5)).await?;
            }
        }
        // Day 35: five more customers, still in their window at the report.
        clock.advance(Duration::from_secs(25 * DAY));
        for i in 100..105 {
            let who = format!("c{i:03}");
            x.enroll(&who).await?;
            x.buy(&who, &format!("{who}-1"), 2_500).await?;
        }
        clock.advance(Duration::from_secs(10 * DAY));

        let r = x.report("ab", None, "").await?;
        assert_eq!((r.currency.as_str(), r.within_days, r.control_variant.as_str(), r.maturing), ("EUR", 30, "control", 5));
        let mut per_arm: BTreeMap<String, Vec<&Customer>> = BTreeMap::new();
        for (who, c) in &x.customers {
            if who.as_str() < "c100" {
                per_arm.entry(c.arm.clone()).or_default().push(c);
            }
        }
        let names: Vec<&str> = r.arms.iter().map(|a| a.variant.as_str()).collect();
        assert_eq!(names, ["control", "double"]);
        for a in &r.arms {
            let cs = &per_arm[&a.variant];
            let late = x.customers.iter().filter(|(w, c)| w.as_str() >= "c100" && c.arm == a.variant).count();
            let converted = cs.iter().filter(|c| c.cents.len() > 1).count();
            let revenues: Vec<i64> = cs.iter().map(|c| c.cents.iter().sum()).collect();
            assert_eq!((a.rewarded, a.exposed, a.measured, a.converted), (a.variant == "double", (cs.len() + late) as u64, cs.len() as u64, converted as u64), "{}", a.variant);
            let rate = rust_decimal::Decimal::from(converted) / rust_decimal::Decimal::from(cs.len());
            assert_eq!(a.conversion_rate, rate.round_dp(4).normalize().to_string());
            assert_eq!(a.revenue.as_ref().map(|m| m.amount.clone()), Some(eur(revenues.iter().sum::<i64>().into())));
            assert_eq!(a.revenue_per_customer.as_ref().map(|m| m.amount.clone()), Some(eur(mean(&revenues))));
        }
        assert!(per_arm.values().all(|cs| cs.len() >= 30), "the hash split the hundred enough to test");

        // The z-test, recomputed.
        let c = &r.comparisons[0];
        assert_eq!(c.variant, "double");
        let conv = c.conversion.clone().unwrap_or_default();
        let counts = |arm: &str| {
            let cs = &per_arm[arm];
            (cs.iter().filter(|c| c.cents.len() > 1).count() as f64, cs.len() as f64)
        };
        let ((xc, nc), (xv, nv)) = (counts("control"), counts("double"));
        let pooled = (xc + xv) / (nc + nv);
        let z = (xv / nv - xc / nc) / (pooled * (1.0 - pooled) * (1.0 / nc + 1.0 / nv)).sqrt();
        assert!((conv.z.parse::<f64>()? - z).abs() < 1e-3, "{} vs {z}", conv.z);
        assert_eq!(conv.verdict, apb::Verdict::Higher as i32, "{conv:?}");
        assert!(conv.p_value.parse::<f64>()? < 0.05);
        let (lo, hi): (f64, f64) = (conv.ci_low.parse()?, conv.ci_high.parse()?);
        assert!(lo > 0.0 && lo < xv / nv - xc / nc && xv / nv - xc / nc < hi);
        // Welch on revenue per customer: the difference of the exact means.
        let means = c.revenue_per_customer.clone().unwrap_or_default();
        let revenue = |arm: &str| per_arm[arm].iter().map(|c| c.cents.iter().sum()).collect::<Vec<i64>>();
        let diff = mean(&revenue("double")) - mean(&revenue("control"));
        assert_eq!(means.difference.as_ref().map(|m| m.amount.clone()), Some(eur(diff)));
        assert_ne!(means.verdict, apb::Verdict::NotEnoughData as i32, "{means:?}");
        assert!(means.mde.is_some() && !means.degrees_of_freedom.is_empty());

        // Only the late five: nobody measured yet.
        let late = x.report("ab", Some(start + 30 * 86_400_000_000), "").await?;
        assert_eq!((late.maturing, late.arms.iter().map(|a| a.measured).sum::<u64>()), (5, 0));
        let conv = late.comparisons[0].conversion.clone().unwrap_or_default();
        assert_eq!(conv.verdict, apb::Verdict::NotEnoughData as i32);
        assert!(conv.reason.contains("0 customers measured"), "{}", conv.reason);

        // Compared against the other arm, the verdict turns.
        let flipped = x.report("ab", None, "double").await?;
        assert_eq!(flipped.comparisons[0].variant, "control");
        assert_eq!(flipped.comparisons[0].conversion.clone().unwrap_or_default().verdict, apb::Verdict::Lower as i32);

        // Refusals keep their meaning.
        let code = |r: Result<apb::GetExperimentReportResponse, tonic::Status>| r.err().map(|e| e.code());
        assert_eq!(code(x.report("ab", None, "nope").await), Some(Code::InvalidArgument));
        assert_eq!(code(x.report("plain", None, "").await), Some(Code::FailedPrecondition));
        assert_eq!(code(x.report("missing", None, "").await), Some(Code::NotFound));
        suite.stop().await
    }

    async fn a_rejected_exposure_leaves_the_experiment(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(now_micros());
        let (suite, _dbs) = start_with_clock(backend, Default::default(), clock.clone()).await?;
        let shop = Shop::open(&suite).await?;
        shop.campaign("ab", ab()).await?;
        let mut accrual = AccrualServiceClient::new(shop.gw.clone());
        // A program that holds the purchases of members who return too much.
        let guarded = apb::Program {
            program_id: "guarded".into(),
            name: "Guarded".into(),
            currency: "EUR".into(),
            timezone: "Europe/Rome".into(),
            earn_rules: vec![apb::EarnRule { asset: "EUR".into(), basis: apb::EarnBasis::Percent as i32, rate: "5".into() }],
            return_window_days: 14,
            fraud: Some(apb::FraudPolicy { max_return_rate_percent: "50".into(), min_orders_for_return_rate: 1, hold_flagged: true, ..Default::default() }),
            ..Default::default()
        };
        accrual.upsert_program(with_key(apb::UpsertProgramRequest { idempotency_key: "g".into(), program: Some(guarded), ..Default::default() }, &shop.key)?).await?;
        let enrol = apb::EnrollMemberRequest { idempotency_key: "e-rita".into(), program_id: "guarded".into(), customer_id: "rita".into(), ..Default::default() };
        accrual.enroll_member(with_key(enrol, &shop.key)?).await?;
        let order = |id: &str, at: i64| apb::RecordPurchaseRequest {
            idempotency_key: id.into(),
            purchase: Some(apb::Purchase {
                program_id: "guarded".into(),
                order_id: id.into(),
                customer_id: "rita".into(),
                currency: "EUR".into(),
                lines: vec![apb::PurchaseLine { line_id: "1".into(), sku: "s".into(), category: "shoes".into(), unit_price: Some(Money { amount: "40.00".into(), asset: "EUR".into() }), quantity: 1, discount: None }],
                channel: Ch::Online as i32,
                store_id: String::new(),
                occurred_at: Some(to_timestamp(at)),
            }),
        };
        // Before the campaign: bought and returned (no exposure) ...
        accrual.record_purchase(with_key(order("r-1", clock.now() - 2 * 3_600_000_000), &shop.key)?).await?;
        let back = apb::RecordReturnRequest { idempotency_key: "rb".into(), program_id: "guarded".into(), order_id: "r-1".into(), return_id: "rb".into(), lines: vec![apb::ReturnLine { line_id: "1".into(), quantity: 1 }], occurred_at: None };
        accrual.record_return(with_key(back, &shop.key)?).await?;
        // ... so the purchase that exposes her is held for review.
        let held = accrual.record_purchase(with_key(order("r-2", clock.now()), &shop.key)?).await?.into_inner();
        assert!(held.held_for_review, "{held:?}");
        let exposed = |accrual: AccrualServiceClient<tonic::transport::Channel>| {
            let key = shop.key.clone();
            async move {
                let mut accrual = accrual;
                let req = apb::GetExperimentReportRequest { program_id: "guarded".into(), campaign_id: "ab".into(), ..Default::default() };
                let r = accrual.get_experiment_report(with_key(req, &key)?).await?.into_inner();
                anyhow::Ok(r.arms.iter().map(|a| a.exposed).sum::<u64>())
            }
        };
        assert_eq!(exposed(accrual.clone()).await?, 1, "held, not rejected: exposed");
        let reject = apb::ReviewPurchaseRequest { idempotency_key: "rv".into(), program_id: "guarded".into(), order_id: "r-2".into(), decision: apb::ReviewDecision::Reject as i32, note: "returns".into() };
        let admin = suite.create_key("shop", &["accrual:admin"]).await?;
        accrual.review_purchase(with_key(reject, &admin)?).await?;
        assert_eq!(exposed(accrual.clone()).await?, 0, "a rejected purchase counts nowhere");
        suite.stop().await
    }

}
