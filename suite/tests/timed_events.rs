//! The events that tell customers what is about to happen, through a
//! webhook, on both backends: `tier.threshold_near` when a purchase crosses
//! the nudge line (80% of the next tier), once; `points.expiring_soon` seven
//! days (the wallet's `expiry_warning_days`) before a lot of points expires
//! (the welcome bonus's, a year on), once, not a day earlier; then
//! `points.expired`; `campaign.started` and `campaign.ended` when a
//! campaign's schedule starts and ends, once each.
mod support;

use std::time::Duration;

use boomerang_common::{
    backend_tests,
    testing::channel,
    time::{Clock, from_timestamp, now_micros},
};
use boomerang_proto::{
    accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient},
    campaign::v1 as cpb,
    common::v1::Money,
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use support::{
    receiver::{Receiver, purchase, tenant_with_hook},
    shop::{Shop, campaign},
    start_with_clock, with_key,
};

const DAY: Duration = Duration::from_secs(86_400);

fn of_type<'a>(events: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|e| e["type"] == format!("boomerang.{t}.v1"))
        .collect()
}

backend_tests! {
    async fn the_nudge_and_the_expiry_warning_come_at_their_moments_once_each(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(now_micros());
        let (suite, _dbs) = start_with_clock(backend, Default::default(), clock.clone()).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let hook = Receiver::start(0).await?;
        let wanted = ["tier.threshold_near", "points.expiring_soon", "points.expired"];
        let (key, _, secret) = tenant_with_hook(&suite, &gw, "shop", &hook.url(), &wanted).await?;

        // Tiers on spend: Base, then Silver at 100.00 EUR (nudged from 80%).
        let mut accrual = AccrualServiceClient::new(gw.clone());
        let read = apb::GetProgramRequest { program_id: "demo".into(), version: 0 };
        let program = accrual.get_program(with_key(read, &key)?).await?.into_inner().program.unwrap_or_default();
        let eur = |a: &str| Some(Money { amount: a.into(), asset: "EUR".into() });
        let tier = |id: &str, name: &str, at: &str| apb::Tier { tier_id: id.into(), name: name.into(), qualifies_at: eur(at), earn_multiplier: "1".into() };
        let tiered = apb::Program {
            tier_policy: Some(apb::TierPolicy {
                basis: apb::TierBasis::Spend as i32,
                window_days: 365,
                tiers: vec![tier("base", "Base", "0.00"), tier("silver", "Silver", "100.00")],
                nudge_percent: 80,
            }),
            ..program
        };
        let upsert = apb::UpsertProgramRequest { idempotency_key: "tiers".into(), program: Some(tiered), ..Default::default() };
        accrual.upsert_program(with_key(upsert, &key)?).await?;

        // 50.00 is not yet 80%, 85.00 crosses it, 90.00 is past it.
        for (order, amount) in [("o-1", "50.00"), ("o-2", "35.00"), ("o-3", "5.00")] {
            purchase(&gw, &key, "ann", order, amount, clock.now()).await?;
        }
        let nudged = hook.until("the nudge", |e| !of_type(e, "tier.threshold_near").is_empty()).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let all = hook.accepted()?;
        let nudges = of_type(&all, "tier.threshold_near");
        assert_eq!(nudges.len(), 1, "{nudged:?}");
        assert_eq!(nudges[0]["data"]["still_needed"]["amount"], "15.00");
        assert_eq!(nudges[0]["data"]["message"], "spend 15.00 EUR more to reach Silver");

        // The welcome bonus's points: a lot expiring in a year.
        let mut wallet = WalletServiceClient::new(gw.clone());
        let ask = wpb::ListExpiringLotsRequest {
            customer_id: "ann".into(),
            within: Some(prost_types::Duration { seconds: 400 * 86_400, nanos: 0 }),
            asset: "PTS".into(),
            page: None,
        };
        let lots = wallet.list_expiring_lots(with_key(ask, &key)?).await?.into_inner().lots;
        let lot = lots.first().ok_or_else(|| anyhow::anyhow!("no lot of points"))?;
        let expires = lot.expires_at.as_ref().and_then(from_timestamp).unwrap_or_default();
        let until = |at: i64| Duration::from_micros(u64::try_from(at - clock.now()).unwrap_or_default());
        let about = |events: &[serde_json::Value], t: &str| -> usize {
            of_type(events, t).iter().filter(|e| e["data"]["reference"] == lot.credit_id.as_str()).count()
        };

        // Eight days before: nothing yet.
        clock.advance(until(expires) - 8 * DAY);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(about(&hook.accepted()?, "points.expiring_soon"), 0, "too early");
        // Six days before: its warning; a day later, still only that one.
        clock.advance(2 * DAY);
        hook.until("the warning", |e| about(e, "points.expiring_soon") == 1).await?;
        clock.advance(DAY);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let all = hook.accepted()?;
        assert_eq!(about(&all, "points.expiring_soon"), 1, "once");
        let warning = of_type(&all, "points.expiring_soon").into_iter().find(|e| e["data"]["reference"] == lot.credit_id.as_str()).cloned().unwrap_or_default();
        assert_eq!(warning["data"]["amount"]["amount"], "50");
        // Past the expiry: expired, once; every other lot warned at most once.
        clock.advance(7 * DAY);
        let all = hook.until("the expiry", |e| about(e, "points.expired") == 1).await?;
        let mut refs: Vec<&str> = of_type(&all, "points.expiring_soon").iter().filter_map(|e| e["data"]["reference"].as_str()).collect();
        let warnings = refs.len();
        refs.sort_unstable();
        refs.dedup();
        assert_eq!(refs.len(), warnings, "a lot warned twice: {refs:?}");
        assert_eq!(of_type(&all, "tier.threshold_near").len(), 1);
        hook.verify_all(&secret)?;
        suite.stop().await
    }

    async fn a_campaign_tells_when_it_starts_and_when_it_ends_once_each(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(now_micros());
        let (suite, _dbs) = start_with_clock(backend, Default::default(), clock.clone()).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let hook = Receiver::start(0).await?;
        let (_, _, secret) = tenant_with_hook(&suite, &gw, "shop", &hook.url(), &["campaign.started", "campaign.ended"]).await?;
        let shop = Shop::open(&suite).await?;
        let hour = 3_600_000_000;
        let spec = cpb::CampaignSpec {
            name: "Spring days".into(),
            schedule: Some(cpb::Schedule {
                timezone: "Europe/Rome".into(),
                starts_at: Some(boomerang_common::time::to_timestamp(clock.now() + 24 * hour)),
                ends_at: Some(boomerang_common::time::to_timestamp(clock.now() + 72 * hour)),
                windows: vec![],
            }),
            ..campaign(1, cpb::Stacking::Stackable)
        };
        shop.campaign("spring", spec).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(hook.accepted()?.is_empty(), "scheduled is not started");
        clock.advance(DAY + Duration::from_secs(60));
        hook.until("started", |e| !of_type(e, "campaign.started").is_empty()).await?;
        clock.advance(2 * DAY);
        let all = hook.until("ended", |e| !of_type(e, "campaign.ended").is_empty()).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let all = if hook.accepted()?.len() > all.len() { hook.accepted()? } else { all };
        let kinds: Vec<&str> = all.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(kinds, vec!["boomerang.campaign.started.v1", "boomerang.campaign.ended.v1"]);
        for e in &all {
            assert_eq!((e["data"]["campaign_id"].as_str(), e["data"]["name"].as_str()), (Some("spring"), Some("Spring days")));
            assert!(e.get("subject").is_none(), "about no customer: {e}");
        }
        hook.verify_all(&secret)?;
        suite.stop().await
    }
}
