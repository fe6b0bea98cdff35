//! campaign-svc through real gRPC on both backends: budgets under
//! concurrency, schedules across DST, lifecycle by timers, archived terms,
//! stacking, variants, audit, bad input.
use std::{collections::BTreeMap, time::Duration};

mod support;

use boomerang_common::{
    backend_tests,
    testing::{AsTenant, channel, eventually},
    time::to_timestamp,
};
use boomerang_proto::{
    campaign::v1::{self as pb, campaign_service_client::CampaignServiceClient},
    common::v1::{Channel, Money},
};
use support::{Client, Service, eur, micros, spec, with_budget};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request};
use tonic_types::StatusExt as _;

fn reserve(id: &str, key: &str, amount: &str, partial: bool) -> pb::ReserveBudgetRequest {
    pb::ReserveBudgetRequest {
        idempotency_key: key.into(),
        campaign_id: id.into(),
        amount: Some(eur(amount)),
        ttl: None,
        allow_partial: partial,
        customer_id: format!("c-{key}"),
        order_id: format!("o-{key}"),
        variant: String::new(),
        order_amount: None,
        unit_value: String::new(),
        channel: 0,
        store_id: String::new(),
    }
}

/// The `budget.low` events of campaign `id`, once at least `least` are
/// logged (10 s at most) and half a second more has added none.
async fn low_events(
    s: &Service,
    id: &str,
    least: usize,
) -> anyhow::Result<Vec<pb::WatchEventsResponse>> {
    let watch = pb::WatchEventsRequest {
        types: vec![pb::EventType::BudgetLow as i32],
        campaign_id: id.into(),
        ..Default::default()
    };
    let mut stream = s.client.clone().watch_events(watch).await?.into_inner();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let wait = if seen.len() < least {
            deadline.saturating_duration_since(tokio::time::Instant::now())
        } else {
            Duration::from_millis(500)
        };
        match tokio::time::timeout(wait, stream.message()).await {
            Ok(Ok(Some(e))) => seen.push(e),
            Ok(Ok(None)) => anyhow::bail!("the event stream ended"),
            Ok(Err(status)) => return Err(status.into()),
            Err(_) => return Ok(seen),
        }
    }
}

/// 200 concurrent reservations of 1.00 (half confirmed at once) on a budget
/// of 50.00: exactly 50 granted, and reserved + confirmed never above 50.00.
async fn race_fifty(s: &Service, id: &str) -> anyhow::Result<()> {
    let report = |mut c: Client, id: String| async move {
        let r = c
            .get_campaign_report(pb::GetCampaignReportRequest {
                campaign_id: id,
                ..Default::default()
            })
            .await?
            .into_inner();
        let b = r.budgets.first().cloned().unwrap_or_default();
        let cents = |m: Option<Money>| {
            m.map(|m| m.amount.replace('.', "").parse::<i64>().unwrap_or(-1))
                .unwrap_or(0)
        };
        anyhow::Ok(cents(b.reserved) + cents(b.confirmed))
    };
    // Watch the spent budget while the race runs.
    let watching = CancellationToken::new();
    let (watch_client, stop_watch, watched) = (s.client.clone(), watching.clone(), id.to_owned());
    let watcher = tokio::spawn(async move {
        let mut highest = 0;
        while !stop_watch.is_cancelled() {
            highest = highest.max(report(watch_client.clone(), watched.clone()).await?);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        anyhow::Ok(highest)
    });
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..200 {
        let (mut c, id) = (s.client.clone(), id.to_owned());
        calls.spawn(async move {
            let reserved = c
                .reserve_budget(reserve(&id, &format!("{id}-r{i}"), "1.00", false))
                .await?;
            let rid = reserved
                .into_inner()
                .reservation
                .unwrap_or_default()
                .reservation_id;
            if i % 2 == 0 {
                c.confirm_budget(pb::ConfirmBudgetRequest {
                    idempotency_key: format!("{id}-c{i}"),
                    reservation_id: rid,
                    amount: None,
                })
                .await?;
            }
            Ok::<_, tonic::Status>(())
        });
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    while let Some(done) = calls.join_next().await {
        let key = match done? {
            Ok(()) => "granted".to_owned(),
            Err(s) => format!("{:?}", s.code()),
        };
        *counts.entry(key).or_default() += 1;
    }
    watching.cancel();
    let highest = watcher.await??;
    assert_eq!(counts.get("granted"), Some(&50), "{id}: {counts:?}");
    assert_eq!(
        counts.get("ResourceExhausted"),
        Some(&150),
        "{id}: {counts:?}"
    );
    assert!(
        highest <= 5_000,
        "{id}: reserved + confirmed reached {highest} cents"
    );
    assert_eq!(report(s.client.clone(), id.to_owned()).await?, 5_000);
    // Whichever reservation or refusal first saw 5.00 or less left told it: once.
    let low = low_events(s, id, 1).await?;
    assert_eq!(low.len(), 1, "{id}: {low:?}");
    assert!(
        low[0]
            .message
            .ends_with("of its 50.00 EUR budget left (10% or less)"),
        "{}",
        low[0].message
    );
    Ok(())
}

backend_tests! {
    async fn two_hundred_reservations_never_overspend_fifty(backend) -> anyhow::Result<()> {
        let mut s = Service::start(backend, "2026-06-01T10:00:00Z").await?;
        s.create("budgeted", with_budget(spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"), "50.00")).await?;
        s.schedule("budgeted").await?;
        race_fifty(&s, "budgeted").await?;
        // The single-row design (one slot) holds as well.
        let mut s = s.restart(1).await?;
        s.create("one-row", with_budget(spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"), "50.00")).await?;
        s.schedule("one-row").await?;
        race_fifty(&s, "one-row").await?;

        // Partial grants: what is left, when asked for.
        s.create("small", with_budget(spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"), "10.00")).await?;
        s.schedule("small").await?;
        let mut granted = Vec::new();
        for (i, partial) in [(0, true), (1, true), (2, false), (3, true)] {
            let r = s.client.reserve_budget(reserve("small", &format!("p{i}"), "4.00", partial)).await;
            granted.push(r.map(|r| r.into_inner().reservation.unwrap_or_default().granted.unwrap_or_default().amount).map_err(|s| s.code()));
        }
        assert_eq!(granted, vec![Ok("4.00".into()), Ok("4.00".into()), Err(Code::ResourceExhausted), Ok("2.00".into())]);
        Ok(())
    }

    async fn a_budget_tells_when_it_runs_low_once_per_total(backend) -> anyhow::Result<()> {
        let mut s = Service::start(backend, "2026-06-01T10:00:00Z").await?;
        let mut budgeted = with_budget(spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"), "10.00");
        budgeted.budgets[0].low_percent = Some(20);
        let made = s.create("low", budgeted.clone()).await?;
        s.schedule("low").await?;
        // 3.00 left is above the mark (2.00); 2.00 left is at it; 1.00 left is past it.
        s.client.reserve_budget(reserve("low", "seven", "7.00", false)).await?;
        assert!(low_events(&s, "low", 0).await?.is_empty());
        s.client.reserve_budget(reserve("low", "one", "1.00", false)).await?;
        s.client.reserve_budget(reserve("low", "two", "1.00", false)).await?;
        let low = low_events(&s, "low", 1).await?;
        assert_eq!(low.len(), 1, "{low:?}");
        assert_eq!((low[0].amount.clone(), low[0].budget_total.clone()), (Some(eur("2.00")), Some(eur("10.00"))));
        assert_eq!(low[0].message, "campaign Double points has 2.00 EUR of its 10.00 EUR budget left (20% or less)");
        assert_eq!((low[0].customer_id.as_str(), low[0].campaign_id.as_str()), ("", "low"));
        // A larger total arms it again: 20.00, 9.00 used, the mark at 4.00.
        budgeted.budgets[0].total = Some(eur("20.00"));
        let update = pb::UpdateCampaignRequest { idempotency_key: "raise".into(), campaign_id: "low".into(), spec: Some(budgeted), expected_version: made.version, ..Default::default() };
        s.client.update_campaign(update).await?;
        s.client.reserve_budget(reserve("low", "six", "6.00", false)).await?;
        assert_eq!(low_events(&s, "low", 1).await?.len(), 1, "5.00 left is above 4.00");
        s.client.reserve_budget(reserve("low", "last", "1.00", false)).await?;
        let low = low_events(&s, "low", 2).await?;
        assert_eq!(low.len(), 2, "{low:?}");
        assert_eq!((low[1].amount.clone(), low[1].budget_total.clone()), (Some(eur("4.00")), Some(eur("20.00"))));
        // A mark of 100% or more is refused.
        let mut bad = with_budget(spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"), "10.00");
        bad.budgets[0].low_percent = Some(100);
        let refused = s.client.create_campaign(pb::CreateCampaignRequest { idempotency_key: "bad".into(), campaign_id: "bad".into(), spec: Some(bad), ..Default::default() }).await.err().map(|e| e.code());
        assert_eq!(refused, Some(Code::InvalidArgument));
        Ok(())
    }

    async fn a_budget_keeps_its_total_when_the_slot_count_changes(backend) -> anyhow::Result<()> {
        let window = || spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z");
        let mut s = Service::start(backend, "2026-06-01T10:00:00Z").await?;
        s.create("b", with_budget(window(), "8.00")).await?;
        s.schedule("b").await?;
        // 1.00 a slot: 6.00 comes from six of the eight.
        s.client.reserve_budget(reserve("b", "six", "6.00", false)).await?;
        let update = |key: &str, total: &str| pb::UpdateCampaignRequest {
            idempotency_key: key.into(),
            campaign_id: "b".into(),
            spec: Some(with_budget(window(), total)),
            expected_version: 0,
            ..Default::default()
        };
        let used = |r: pb::GetCampaignReportResponse| {
            let b = r.budgets.first().cloned().unwrap_or_default();
            let cents = |m: Option<Money>| m.map(|m| m.amount.replace('.', "").parse::<i64>().unwrap_or(-1)).unwrap_or(0);
            cents(b.reserved) + cents(b.confirmed)
        };
        // One slot now: the new total's free part goes to slot 0 alone, and the
        // rows beyond it keep only what they hold.
        let mut s = s.restart(1).await?;
        s.client.update_campaign(update("to-7", "7.00")).await?;
        s.client.reserve_budget(reserve("b", "one", "1.00", false)).await?;
        let more = s.client.reserve_budget(reserve("b", "cent", "0.01", true)).await;
        assert_eq!(more.err().map(|e| e.code()), Some(Code::ResourceExhausted));
        let report = pb::GetCampaignReportRequest { campaign_id: "b".into(), ..Default::default() };
        assert_eq!(used(s.client.get_campaign_report(report.clone()).await?.into_inner()), 700);
        // Back to eight: 3.00 more, spread again.
        let mut s = s.restart(8).await?;
        s.client.update_campaign(update("to-10", "10.00")).await?;
        s.client.reserve_budget(reserve("b", "three", "3.00", false)).await?;
        let more = s.client.reserve_budget(reserve("b", "cent2", "0.01", true)).await;
        assert_eq!(more.err().map(|e| e.code()), Some(Code::ResourceExhausted));
        assert_eq!(used(s.client.get_campaign_report(report).await?.into_inner()), 1_000);
        Ok(())
    }

    async fn a_lowered_budget_and_foreign_assets_grant_nothing_more(backend) -> anyhow::Result<()> {
        let mut s = Service::start(backend, "2026-06-01T10:00:00Z").await?;
        s.create("b", with_budget(spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"), "8.00")).await?;
        s.schedule("b").await?;
        let r = s.client.reserve_budget(reserve("b", "first", "6.00", false)).await?.into_inner().reservation.unwrap_or_default();
        let lowered = with_budget(spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"), "5.00");
        s.client.update_campaign(pb::UpdateCampaignRequest { idempotency_key: "low".into(), campaign_id: "b".into(), spec: Some(lowered), expected_version: 0, ..Default::default() }).await?;
        let more = s.client.reserve_budget(reserve("b", "second", "0.50", true)).await;
        assert_eq!(more.err().map(|e| e.code()), Some(Code::ResourceExhausted));
        let points = s.client.reserve_budget(pb::ReserveBudgetRequest { amount: Some(Money { amount: "5".into(), asset: "PTS".into() }), ..reserve("b", "pts", "1.00", false) }).await;
        assert_eq!(points.err().map(|e| e.code()), Some(Code::FailedPrecondition));
        let wrong = s.client.confirm_budget(pb::ConfirmBudgetRequest { idempotency_key: "c".into(), reservation_id: r.reservation_id.clone(), amount: Some(Money { amount: "5".into(), asset: "PTS".into() }) }).await;
        assert_eq!(wrong.err().map(|e| e.code()), Some(Code::InvalidArgument));
        // Confirm 6.00, give back 2.00 then the rest: the slots end where they started.
        s.client.confirm_budget(pb::ConfirmBudgetRequest { idempotency_key: "c2".into(), reservation_id: r.reservation_id.clone(), amount: None }).await?;
        for (key, amount) in [("r1", Some(eur("2.00"))), ("r2", None)] {
            s.client.release_budget(pb::ReleaseBudgetRequest { order_amount: None, idempotency_key: key.into(), reservation_id: r.reservation_id.clone(), amount }).await?;
        }
        let report = s.client.get_campaign_report(pb::GetCampaignReportRequest { campaign_id: "b".into(), ..Default::default() }).await?.into_inner();
        let b = report.budgets.first().cloned().unwrap_or_default();
        assert_eq!((b.confirmed.map(|m| m.amount), b.released.map(|m| m.amount)), (Some("0.00".into()), Some("6.00".into())));
        let again = s.client.reserve_budget(reserve("b", "third", "5.00", false)).await?;
        assert_eq!(again.into_inner().reservation.and_then(|r| r.granted).map(|m| m.amount), Some("5.00".into()));
        Ok(())
    }

    async fn saturdays_in_rome_across_daylight_saving(backend) -> anyhow::Result<()> {
        let mut s = Service::start(backend, "2026-03-01T00:00:00Z").await?;
        let mut weekend = spec("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
        weekend.schedule.get_or_insert_default().windows = vec![pb::RecurringWindow {
            days: vec![pb::Weekday::Saturday as i32], start_time: "00:00".into(), end_time: "23:59".into(),
        }];
        s.create("saturdays", weekend).await?;
        s.schedule("saturdays").await?;
        let ctx = pb::ListApplicableCampaignsRequest { customer_id: "c-1".into(), ..Default::default() };
        assert_eq!(s.applicable("2026-03-28T22:30:00Z", ctx.clone()).await?, ["saturdays"], "Saturday 23:30 CET");
        assert!(s.applicable("2026-03-28T23:30:00Z", ctx.clone()).await?.is_empty(), "Sunday 00:30 CET");
        assert_eq!(s.applicable("2026-04-03T22:30:00Z", ctx.clone()).await?, ["saturdays"], "Saturday 00:30 CEST");
        assert!(s.applicable("2026-04-04T22:30:00Z", ctx).await?.is_empty(), "Sunday 00:30 CEST");
        Ok(())
    }

    async fn a_scheduled_campaign_starts_and_ends_by_itself_and_its_terms_stay(backend) -> anyhow::Result<()> {
        let mut s = Service::start(backend, "2026-05-01T00:00:00Z").await?;
        s.create("spring", spec("2026-05-10T00:00:00Z", "2026-05-20T00:00:00Z")).await?;
        let scheduled = s.schedule("spring").await?;
        assert_eq!(scheduled.status, pb::CampaignStatus::Scheduled as i32);
        s.clock.advance(Duration::from_secs(10 * 86_400));
        eventually("the start", || {
            let mut c = s.client.clone();
            async move {
                let r = c.get_campaign(pb::GetCampaignRequest { campaign_id: "spring".into(), terms_at: None }).await?;
                Ok(r.into_inner().campaign.is_some_and(|c| c.status == pb::CampaignStatus::Active as i32))
            }
        }).await?;
        // A live change is a new version; the first stays readable.
        let mut v2 = spec("2026-05-10T00:00:00Z", "2026-05-20T00:00:00Z");
        v2.terms = "Triple points, new terms.".into();
        let updated = s.client.update_campaign(pb::UpdateCampaignRequest {
            idempotency_key: "u1".into(), campaign_id: "spring".into(), spec: Some(v2), expected_version: 1,
            ..Default::default()
        }).await?.into_inner().campaign.unwrap_or_default();
        assert_eq!(updated.version, 2);
        s.clock.advance(Duration::from_secs(11 * 86_400));
        eventually("the end", || {
            let mut c = s.client.clone();
            async move {
                let r = c.get_campaign(pb::GetCampaignRequest { campaign_id: "spring".into(), terms_at: None }).await?;
                Ok(r.into_inner().campaign.is_some_and(|c| c.status == pb::CampaignStatus::Ended as i32))
            }
        }).await?;
        s.client.archive_campaign(pb::ArchiveCampaignRequest { idempotency_key: "a".into(), campaign_id: "spring".into() }).await?;
        assert_eq!(s.status("spring").await?, pb::CampaignStatus::Archived as i32);
        // Version 1 was in force from scheduling until the edit on day 10.
        let then = s.client.get_campaign(pb::GetCampaignRequest {
            campaign_id: "spring".into(), terms_at: Some(to_timestamp(micros("2026-05-05T00:00:00Z"))),
        }).await?.into_inner();
        let v1 = then.campaign.unwrap_or_default();
        assert_eq!(v1.version, 1);
        assert!(v1.spec.unwrap_or_default().terms.starts_with("Double points"));
        assert_eq!(then.versions.len(), 2);
        let resumed = s.client.resume_campaign(pb::ResumeCampaignRequest { idempotency_key: "r".into(), campaign_id: "spring".into() }).await;
        assert_eq!(resumed.err().map(|e| e.code()), Some(Code::FailedPrecondition));
        Ok(())
    }

    async fn stacking_keeps_one_exclusive_and_every_stackable(backend) -> anyhow::Result<()> {
        let mut s = Service::start(backend, "2026-06-01T10:00:00Z").await?;
        for (id, priority, stacking) in [("excl-low", 1, pb::Stacking::Exclusive), ("excl-high", 9, pb::Stacking::Exclusive), ("stack", 0, pb::Stacking::Stackable)] {
            let mut c = spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z");
            c.priority = priority;
            c.stacking = stacking as i32;
            s.create(id, c).await?;
            s.schedule(id).await?;
        }
        let ctx = pb::ListApplicableCampaignsRequest { customer_id: "c-1".into(), channel: Channel::Online as i32, ..Default::default() };
        assert_eq!(s.applicable("2026-06-15T12:00:00Z", ctx.clone()).await?, ["excl-high", "stack"]);
        s.client.pause_campaign(pb::PauseCampaignRequest { idempotency_key: "p".into(), campaign_id: "excl-high".into(), reason: "stock".into() }).await?;
        assert_eq!(s.applicable("2026-06-15T12:00:00Z", ctx).await?, ["excl-low", "stack"]);
        Ok(())
    }

    async fn variants_are_stable_per_customer(backend) -> anyhow::Result<()> {
        let mut s = Service::start(backend, "2026-06-01T10:00:00Z").await?;
        let mut ab = spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z");
        ab.effect = None;
        ab.variants = vec![
            pb::Variant { name: "control".into(), weight: 50, effect: None },
            pb::Variant { name: "bonus".into(), weight: 50, effect: Some(pb::Effect { kind: Some(pb::effect::Kind::ExtraPercent(pb::ExtraPercent { asset: "EUR".into(), percent: "5".into() })) }) },
        ];
        s.create("ab", ab).await?;
        s.schedule("ab").await?;
        let mut bonus = 0;
        for i in 0..200 {
            let req = pb::ListApplicableCampaignsRequest { customer_id: format!("c-{i}"), at: Some(to_timestamp(micros("2026-06-15T12:00:00Z"))), ..Default::default() };
            let first = s.client.list_applicable_campaigns(req.clone()).await?.into_inner().campaigns;
            let again = s.client.list_applicable_campaigns(req).await?.into_inner().campaigns;
            assert_eq!(first, again, "stable for c-{i}");
            if first.first().is_some_and(|c| c.variant == "bonus") {
                bonus += 1;
            }
        }
        assert!((70..=130).contains(&bonus), "{bonus} of 200 in a 50% arm");

        // Per-variant figures: the campaign's total (shared), each customer
        // counted once whatever the assets, one given back wholly not at all.
        let mut budgeted = spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z");
        budgeted.variants = vec![pb::Variant { name: "only".into(), weight: 1, effect: None }];
        budgeted.budgets = vec![
            pb::Budget { total: Some(eur("50.00")), per_day: None, low_percent: None },
            pb::Budget { total: Some(Money { amount: "1000".into(), asset: "PTS".into() }), per_day: None, low_percent: None },
        ];
        s.create("split", budgeted).await?;
        s.schedule("split").await?;
        let ask = |key: &str, customer: &str, amount: Money| pb::ReserveBudgetRequest { amount: Some(amount), customer_id: customer.into(), variant: "only".into(), ..reserve("split", key, "0.00", false) };
        s.client.reserve_budget(ask("a1", "ann", eur("5.00"))).await?;
        s.client.reserve_budget(ask("a2", "ann", Money { amount: "100".into(), asset: "PTS".into() })).await?;
        let bob = s.client.reserve_budget(ask("b1", "bob", eur("1.00"))).await?.into_inner().reservation.unwrap_or_default();
        s.client.release_budget(pb::ReleaseBudgetRequest { order_amount: None, idempotency_key: "b1-back".into(), reservation_id: bob.reservation_id, amount: None }).await?;
        let report = s.client.get_campaign_report(pb::GetCampaignReportRequest { campaign_id: "split".into(), ..Default::default() }).await?.into_inner();
        let only = report.variants.iter().find(|v| v.variant == "only").cloned().unwrap_or_default();
        assert_eq!((only.participants, report.participants), (1, 1));
        let totals: Vec<Option<Money>> = only.budgets.iter().map(|b| b.total.clone()).collect();
        assert_eq!(totals, [Some(eur("50.00")), Some(Money { amount: "1000".into(), asset: "PTS".into() })]);
        Ok(())
    }

    async fn bad_input_is_refused_with_field_violations(backend) -> anyhow::Result<()> {
        let mut s = Service::start(backend, "2026-06-01T10:00:00Z").await?;
        let base = || spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z");
        let mut cases: Vec<(pb::CampaignSpec, &str)> = Vec::new();
        let mut c = base(); c.schedule.get_or_insert_default().ends_at = Some(to_timestamp(micros("2026-05-01T00:00:00Z"))); cases.push((c, "spec.schedule.ends_at"));
        let mut c = base(); c.schedule.get_or_insert_default().timezone = "Mars/Olympus".into(); cases.push((c, "spec.schedule.timezone"));
        let mut c = base(); c.terms = " ".into(); cases.push((c, "spec.terms"));
        let mut c = base(); c.effect = Some(pb::Effect { kind: Some(pb::effect::Kind::ExtraPercent(pb::ExtraPercent { asset: "EUR".into(), percent: "120".into() })) }); cases.push((c, "spec.effect.extra_percent.percent"));
        let mut c = base(); c.effect = Some(pb::Effect { kind: Some(pb::effect::Kind::PointsMultiplier(pb::PointsMultiplier { multiplier: "0.5".into() })) }); cases.push((c, "spec.effect.points_multiplier.multiplier"));
        cases.push((with_budget(base(), "0.00"), "spec.budgets[0].total.amount"));
        for (i, (bad, field)) in cases.into_iter().enumerate() {
            let req = pb::CreateCampaignRequest { idempotency_key: format!("bad-{i}"), campaign_id: format!("bad-{i}"), spec: Some(bad), ..Default::default() };
            let status = s.client.create_campaign(req).await.err().ok_or_else(|| anyhow::anyhow!("accepted case {i}"))?;
            assert_eq!(status.code(), Code::InvalidArgument, "{field}");
            let fields: Vec<String> = status.get_details_bad_request().map(|b| b.field_violations.into_iter().map(|f| f.field).collect()).unwrap_or_default();
            assert!(fields.iter().any(|f| f == field), "{fields:?} lacks {field}");
        }
        Ok(())
    }

    async fn every_change_is_audited_with_its_actor(backend) -> anyhow::Result<()> {
        let mut s = Service::start(backend, "2026-06-01T10:00:00Z").await?;
        // The actor comes with the credential (the gateway names the caller's key).
        let as_marketing = AsTenant::new("campaign", "acme")?.with_actor("marketing@shop");
        let mut marketing = CampaignServiceClient::with_interceptor(channel(s.addr).await?, as_marketing);
        let mut req = Request::new(pb::CreateCampaignRequest { idempotency_key: "c".into(), campaign_id: "audited".into(), spec: Some(spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z")), ..Default::default() });
        // A header claiming another actor is not believed.
        req.metadata_mut().insert("x-boomerang-actor", "ceo@shop".parse()?);
        marketing.create_campaign(req).await?;
        s.schedule("audited").await?;
        let events = s.client.list_audit_events(pb::ListAuditEventsRequest { campaign_id: "audited".into(), page: None }).await?.into_inner().events;
        let actions: Vec<(String, String)> = events.iter().map(|e| (e.action.clone(), e.actor.clone())).collect();
        assert_eq!(actions, vec![("scheduled".into(), "tests".into()), ("created".into(), "marketing@shop".into())]);
        assert!(events[0].before.contains("\"draft\"") && events[0].after.contains("\"active\""));
        // Another tenant sees nothing of it.
        let mut beta = CampaignServiceClient::with_interceptor(channel(s.addr).await?, AsTenant::new("campaign", "beta")?);
        let seen = beta.get_campaign(pb::GetCampaignRequest { campaign_id: "audited".into(), terms_at: None }).await;
        assert_eq!(seen.err().map(|e| e.code()), Some(Code::NotFound));
        let listed = beta.list_audit_events(pb::ListAuditEventsRequest::default()).await?.into_inner();
        assert!(listed.events.is_empty());
        Ok(())
    }
}
