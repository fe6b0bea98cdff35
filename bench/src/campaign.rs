//! A hot campaign: one budget every purchase reserves from, and budget
//! reservations alone against campaign-svc (as accrual-svc asks them), to
//! compare budgets split over slots with the single-row design.
use std::sync::Arc;

use boomerang_common::time::{now_micros, to_timestamp};
use boomerang_proto::{
    campaign::v1::{self as pb, campaign_service_client::CampaignServiceClient},
    common::v1::Money,
};
use rand::Rng as _;
use tonic::{
    metadata::{Ascii, MetadataValue},
    transport::Channel,
};

use crate::{
    Common, authed,
    drive::{Op, Run},
    env::Env,
    wallet::channels,
};

/// The campaign every purchase of `purchase-hot-campaign` reserves from.
pub const HOT: &str = "hot";

/// 1% extra cashback on every order, running since an hour ago for 30
/// days, out of one budget of 1,000,000.00 EUR (no run spends it).
fn hot_spec() -> pb::CampaignSpec {
    let hour = 3_600_000_000;
    pb::CampaignSpec {
        name: "Black Friday extra cashback".into(),
        terms: "1% extra cashback on every order while the budget lasts.".into(),
        schedule: Some(pb::Schedule {
            timezone: "Europe/Rome".into(),
            starts_at: Some(to_timestamp(now_micros() - hour)),
            ends_at: Some(to_timestamp(now_micros() + 720 * hour)),
            windows: vec![],
        }),
        effect: Some(pb::Effect {
            kind: Some(pb::effect::Kind::ExtraPercent(pb::ExtraPercent {
                asset: "EUR".into(),
                percent: "1".into(),
            })),
        }),
        budgets: vec![pb::Budget {
            total: Some(Money {
                amount: "1000000.00".into(),
                asset: "EUR".into(),
            }),
            per_day: None,
            low_percent: None,
        }],
        ..Default::default()
    }
}

/// Creates and schedules [`HOT`] through `channel` (the gateway or campaign-svc).
pub async fn create_hot(channel: Channel, auth: &MetadataValue<Ascii>) -> anyhow::Result<()> {
    let mut client = CampaignServiceClient::new(channel);
    let create = pb::CreateCampaignRequest {
        idempotency_key: "create-hot".into(),
        campaign_id: HOT.into(),
        spec: Some(hot_spec()),
        ..Default::default()
    };
    client.create_campaign(authed(auth, create)).await?;
    let schedule = pb::ScheduleCampaignRequest {
        idempotency_key: "schedule-hot".into(),
        campaign_id: HOT.into(),
    };
    client.schedule_campaign(authed(auth, schedule)).await?;
    Ok(())
}

/// What [`HOT`] has reserved and confirmed, in cents.
pub async fn hot_used(channel: Channel, auth: &MetadataValue<Ascii>) -> anyhow::Result<i64> {
    let mut client = CampaignServiceClient::new(channel);
    let req = pb::GetCampaignReportRequest {
        campaign_id: HOT.into(),
        ..Default::default()
    };
    let report = client.get_campaign_report(authed(auth, req)).await?;
    let cents = |m: Option<Money>| {
        m.map_or(Ok(0), |m| m.amount.replace('.', "").parse::<i64>())
            .unwrap_or(0)
    };
    Ok(report
        .into_inner()
        .budgets
        .into_iter()
        .map(|b| cents(b.reserved) + cents(b.confirmed))
        .sum())
}

/// `campaign-reserve`: ReserveBudget of 0.01 EUR on [`HOT`] for random
/// customers, directly to an in-process campaign-svc, as accrual-svc reserves
/// for every campaign reward of a purchase (`--budget-slots 1` is the
/// single-row design).
pub async fn reserve(common: &Common) -> anyhow::Result<Vec<Run>> {
    let env = Env::of(common)?;
    let max = common.clients.iter().copied().max().unwrap_or(32);
    let campaign = env
        .campaign(u32::try_from(max).unwrap_or(64).clamp(8, 64))
        .await?;
    let bearer = env.bearer("campaign")?;
    let setup = Channel::from_shared(format!("http://{}", campaign.addr))?
        .connect()
        .await?;
    create_hot(setup, &bearer).await?;
    let scenario = format!("campaign-reserve ({} slots)", env.budget_slots);
    let mut runs = Vec::new();
    for (run, &clients) in common.clients.iter().enumerate() {
        let channels = channels(campaign.addr, clients).await?;
        let bearer = bearer.clone();
        let op: Op = Arc::new(move |worker, n| {
            let mut client = CampaignServiceClient::new(channels[worker % channels.len()].clone());
            let customer = rand::rng().random_range(0..100_000);
            let req = authed(
                &bearer,
                pb::ReserveBudgetRequest {
                    idempotency_key: format!("r-{run}-{worker}-{n}"),
                    campaign_id: HOT.into(),
                    amount: Some(Money {
                        amount: "0.01".into(),
                        asset: "EUR".into(),
                    }),
                    ttl: None,
                    allow_partial: false,
                    customer_id: format!("c-{customer}"),
                    order_id: format!("o-{run}-{worker}-{n}"),
                    variant: String::new(),
                    order_amount: None,
                    unit_value: String::new(),
                    channel: 0,
                    store_id: String::new(),
                },
            );
            Box::pin(async move { client.reserve_budget(req).await.map(drop) })
        });
        runs.push(common.report(env.drive(&scenario, common.load(clients), op).await?));
    }
    campaign.stop().await?;
    env.finish().await?;
    Ok(runs)
}

/// What `coupon-batch` measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Generated {
    /// SQLite or PostgreSQL.
    pub backend: String,
    /// Codes asked for and made.
    pub codes: u64,
    /// From the request to the batch READY.
    pub seconds: f64,
    /// Codes per second.
    pub per_second: f64,
}

/// `coupon-batch`: a batch of `codes` single-use codes generated from
/// `BF26-####-????` by campaign-svc's durable job, from the request until
/// `GetCouponBatch` says READY; progress printed every second.
pub async fn coupon_batch(common: &Common, codes: u32) -> anyhow::Result<Generated> {
    let env = Env::of(common)?;
    let campaign = env.campaign(8).await?;
    let bearer = env.bearer("campaign")?;
    let channel = Channel::from_shared(format!("http://{}", campaign.addr))?
        .connect()
        .await?;
    create_hot(channel.clone(), &bearer).await?;
    let mut client = pb::coupon_service_client::CouponServiceClient::new(channel);
    let rules = pb::CouponRules {
        max_uses: 1,
        max_uses_per_customer: 1,
        effect: Some(pb::CouponEffect {
            kind: Some(pb::coupon_effect::Kind::PercentOff(pb::PercentOff {
                percent: "10".into(),
                scope: pb::DiscountScope::Order as i32,
            })),
        }),
        ..Default::default()
    };
    let create = pb::CreateCouponBatchRequest {
        idempotency_key: "bench-batch".into(),
        campaign_id: HOT.into(),
        batch_id: "bf26".into(),
        rules: Some(rules),
        codes: Some(pb::create_coupon_batch_request::Codes::Pattern(
            pb::CodePattern {
                pattern: "BF26-####-????".into(),
                count: codes,
            },
        )),
        validate_only: false,
    };
    let started = std::time::Instant::now();
    client.create_coupon_batch(authed(&bearer, create)).await?;
    let get = pb::GetCouponBatchRequest {
        campaign_id: HOT.into(),
        batch_id: "bf26".into(),
    };
    let made = loop {
        let batch = client
            .get_coupon_batch(authed(&bearer, get.clone()))
            .await?
            .into_inner()
            .batch
            .unwrap_or_default();
        match pb::CouponBatchState::try_from(batch.state) {
            Ok(pb::CouponBatchState::Ready) => break batch.created,
            Ok(pb::CouponBatchState::Generating) => {}
            other => anyhow::bail!("batch {other:?} after {} codes", batch.created),
        }
        eprintln!(
            "coupon-batch: {} of {} codes after {:.1} s",
            batch.created,
            batch.requested,
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    let out = Generated {
        backend: env.backend().into(),
        codes: made,
        seconds,
        per_second: made as f64 / seconds.max(f64::EPSILON),
    };
    if common.json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!(
            "coupon-batch {:<10} {:>9} codes in {:>7.1} s: {:>9.0} codes/s",
            out.backend, out.codes, out.seconds, out.per_second
        );
    }
    campaign.stop().await?;
    env.finish().await?;
    Ok(out)
}
