//! "Spend over 100 EUR, get 5 EUR off a next order of at least 50 EUR",
//! end to end through the gateway on both backends: the order over the
//! threshold issues a voucher, a code assigned to its customer and usable
//! once the return window ends; a cart below its minimum is refused with
//! why; a cart at the minimum uses it, once; a second use is refused; the
//! order that used it, returned, gives it back; an order returned below the
//! threshold voids its voucher; campaign-svc's event log tells each step.
mod support;

use std::time::Duration;

use boomerang_common::{
    backend_tests,
    testing::eventually,
    time::{Clock, now_micros, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient},
    campaign::v1::{
        self as cpb, campaign_service_client::CampaignServiceClient,
        coupon_service_client::CouponServiceClient,
    },
};
use gateway::limits::RateLimitConfig;
use support::{
    shop::{Shop, amount, cart, eur, line},
    start, start_with_clock, with_key,
};
use tonic::Code;
use tonic_types::StatusExt as _;

/// The promotion: over 100.00 EUR, 5.00 EUR off a next order of at least
/// 50.00 EUR, valid 30 days.
fn promotion() -> cpb::CampaignSpec {
    let day = 86_400_000_000;
    cpb::CampaignSpec {
        name: "Come back".into(),
        terms: "5 EUR off your next order of 50 EUR or more.".into(),
        schedule: Some(cpb::Schedule {
            timezone: "Europe/Rome".into(),
            starts_at: Some(to_timestamp(now_micros() - day)),
            ends_at: Some(to_timestamp(now_micros() + 60 * day)),
            windows: vec![],
        }),
        effect: Some(cpb::Effect {
            kind: Some(cpb::effect::Kind::NextPurchaseVoucher(
                cpb::NextPurchaseVoucher {
                    value: eur("5.00"),
                    min_next_order: eur("50.00"),
                    valid_days: 30,
                    usable_at_once: false,
                },
            )),
        }),
        conditions: Some(cpb::Conditions {
            min_order_amount: eur("100.00"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The promotion, its vouchers usable at once.
fn at_once() -> cpb::CampaignSpec {
    let mut spec = promotion();
    if let Some(cpb::effect::Kind::NextPurchaseVoucher(v)) =
        spec.effect.as_mut().and_then(|e| e.kind.as_mut())
    {
        v.usable_at_once = true;
    }
    spec
}

impl Shop {
    async fn purchase(
        &self,
        order: &str,
        prices: &[&str],
    ) -> anyhow::Result<apb::RecordPurchaseResponse> {
        let lines = prices
            .iter()
            .enumerate()
            .map(|(i, price)| apb::PurchaseLine {
                line_id: i.to_string(),
                sku: format!("sku-{i}"),
                category: "shoes".into(),
                unit_price: eur(price),
                quantity: 1,
                discount: None,
            })
            .collect();
        let req = apb::RecordPurchaseRequest {
            idempotency_key: order.into(),
            purchase: Some(apb::Purchase {
                program_id: "demo".into(),
                order_id: order.into(),
                customer_id: "ann".into(),
                currency: "EUR".into(),
                lines,
                channel: boomerang_proto::common::v1::Channel::Online as i32,
                ..Default::default()
            }),
        };
        let mut c = AccrualServiceClient::new(self.gw.clone());
        Ok(c.record_purchase(with_key(req, &self.key)?)
            .await?
            .into_inner())
    }

    async fn return_line(&self, order: &str, line: &str) -> anyhow::Result<()> {
        let back = apb::RecordReturnRequest {
            idempotency_key: format!("r-{order}"),
            program_id: "demo".into(),
            order_id: order.into(),
            return_id: format!("r-{order}"),
            lines: vec![apb::ReturnLine {
                line_id: line.into(),
                quantity: 1,
            }],
            occurred_at: None,
        };
        let mut accrual = AccrualServiceClient::new(self.gw.clone());
        accrual.record_return(with_key(back, &self.key)?).await?;
        Ok(())
    }

    /// Ann's vouchers, by code.
    async fn vouchers(&self) -> anyhow::Result<Vec<cpb::Coupon>> {
        let mut c = CouponServiceClient::new(self.gw.clone());
        let req = cpb::ListCouponsRequest {
            customer_id: "ann".into(),
            ..Default::default()
        };
        Ok(c.list_coupons(with_key(req, &self.key)?)
            .await?
            .into_inner()
            .coupons)
    }

    /// Ann's voucher earned by `order`, once issued.
    async fn voucher_of(&self, order: &str, before: &[cpb::Coupon]) -> anyhow::Result<cpb::Coupon> {
        let new = |now: Vec<cpb::Coupon>| {
            now.into_iter()
                .find(|c| !before.iter().any(|b| b.code == c.code))
        };
        eventually(&format!("the voucher of {order} issued"), || async {
            Ok(new(self.vouchers().await?).is_some())
        })
        .await?;
        new(self.vouchers().await?).ok_or_else(|| anyhow::anyhow!("no voucher"))
    }
}

/// Ann's campaign-svc events, from the first.
async fn watch(shop: &Shop) -> anyhow::Result<tonic::Streaming<cpb::WatchEventsResponse>> {
    let mut campaigns = CampaignServiceClient::new(shop.gw.clone());
    let req = cpb::WatchEventsRequest {
        customer_id: "ann".into(),
        ..Default::default()
    };
    Ok(campaigns
        .watch_events(with_key(req, &shop.key)?)
        .await?
        .into_inner())
}

/// An event as the tests compare it: its type, code and message.
fn seen(e: cpb::WatchEventsResponse) -> (cpb::EventType, String, String) {
    (
        cpb::EventType::try_from(e.r#type).unwrap_or_default(),
        e.code,
        e.message,
    )
}

/// The next event of a watch.
async fn next_event(
    events: &mut tonic::Streaming<cpb::WatchEventsResponse>,
) -> anyhow::Result<(cpb::EventType, String, String)> {
    let e = tokio::time::timeout(Duration::from_secs(10), events.message())
        .await??
        .ok_or_else(|| anyhow::anyhow!("the watch ended"))?;
    Ok(seen(e))
}

fn coupon_state(c: &cpb::Coupon) -> cpb::CouponState {
    cpb::CouponState::try_from(c.state).unwrap_or_default()
}

backend_tests! {
    async fn a_voucher_keeps_its_conditions_from_issue_to_use(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(now_micros());
        let (suite, _dbs) = start_with_clock(backend, RateLimitConfig::default(), clock.clone()).await?;
        let shop = Shop::open(&suite).await?;
        shop.member("ann", "0.00", "0").await?;
        shop.campaign("back", promotion()).await?;
        // campaign-svc's event log tells each step, in order.
        let mut events = watch(&shop).await?;
        let mut told = Vec::new();

        // Below the threshold: no voucher. Over it: a voucher, pending for
        // the return window, issued as Ann's code, not usable yet.
        let small = shop.purchase("o-0", &["60.00"]).await?;
        assert!(small.rewards.iter().all(|r| r.kind != apb::RewardKind::Voucher as i32));
        let big = shop.purchase("o-1", &["70.00", "50.00"]).await?;
        let voucher = big.rewards.iter().find(|r| r.kind == apb::RewardKind::Voucher as i32);
        assert_eq!(voucher.map(|r| amount(&r.amount)), Some("5.00 EUR".into()));
        let code = shop.voucher_of("o-1", &[]).await?;
        assert_eq!((code.customer_id.as_str(), coupon_state(&code)), ("ann", cpb::CouponState::NotYetValid));
        // Not spendable as balance: the wallet has no EUR for Ann beyond her cashback.
        let early = shop.evaluate(cart(vec![line("1", "shoes", "80.00")], &[&code.code])).await?;
        assert_eq!(early.codes.first().map(|c| c.refusal), Some(apb::CodeRefusal::NotYetValid as i32));

        // The return window ends: usable (and told so), under its minimum.
        clock.advance(Duration::from_secs(15 * 86_400));
        use cpb::EventType as T;
        for _ in 0..2 {
            told.push(next_event(&mut events).await?);
        }
        assert_eq!(told[1].0, T::VoucherAvailable);
        let usable = &told[1].2;
        assert!(usable.contains("takes 5.00 EUR off an order of at least 50.00 EUR until "), "{usable}");
        let below = shop.evaluate(cart(vec![line("1", "shoes", "49.99")], &[&code.code])).await?;
        assert_eq!(below.codes.first().map(|c| c.refusal), Some(apb::CodeRefusal::BelowMinimum as i32));
        let refused = shop.reserve("s-below", cart(vec![line("1", "shoes", "49.99")], &[&code.code]), 60).await.err();
        let reason = refused.as_ref().and_then(|e| e.get_error_details().error_info().map(|i| i.reason.clone()));
        assert_eq!(reason.as_deref(), Some("COUPON_BELOW_MINIMUM"));

        // At the minimum: 5.00 off, once.
        let at = cart(vec![line("1", "shoes", "50.00")], &[&code.code]);
        let s = shop.reserve("s-at", at, 60).await?;
        assert_eq!(amount(&s.cart.unwrap_or_default().to_pay), "45.00 EUR");
        shop.confirm("k-at", "s-at", "o-2").await?;
        eventually("the voucher redeemed", || {
            let (shop, code) = (&shop, &code.code);
            async move { Ok(shop.coupon(code).await?.redeemed_uses == 1) }
        })
        .await?;
        let again = shop.evaluate(cart(vec![line("1", "shoes", "80.00")], &[&code.code])).await?;
        assert_eq!(again.codes.first().map(|c| c.refusal), Some(apb::CodeRefusal::UsedUp as i32));
        let twice = shop.reserve("s-again", cart(vec![line("1", "shoes", "80.00")], &[&code.code]), 60).await.err();
        assert_eq!(twice.map(|e| e.code()), Some(Code::ResourceExhausted));
        // The order that used it, returned in full, gives it back.
        shop.return_line("o-2", "1").await?;
        eventually("the voucher given back", || {
            let (shop, code) = (&shop, &code.code);
            async move { Ok(shop.coupon(code).await?.redeemed_uses == 0) }
        })
        .await?;
        let back = shop.evaluate(cart(vec![line("1", "shoes", "80.00")], &[&code.code])).await?;
        assert_eq!(back.codes.first().map(|c| c.accepted), Some(true));

        // An order returned below the threshold voids its unused voucher.
        let before = shop.vouchers().await?;
        shop.purchase("o-3", &["70.00", "50.00"]).await?;
        let second = shop.voucher_of("o-3", &before).await?;
        shop.return_line("o-3", "1").await?;
        eventually("the voucher voided", || {
            let (shop, code) = (&shop, &second.code);
            async move { Ok(coupon_state(&shop.coupon(code).await?) == cpb::CouponState::Voided) }
        })
        .await?;
        clock.advance(Duration::from_secs(15 * 86_400));
        let void = shop.evaluate(cart(vec![line("1", "shoes", "80.00")], &[&second.code])).await?;
        assert_eq!(void.codes.first().map(|c| c.refusal), Some(apb::CodeRefusal::Voided as i32));

        // The first voucher, given back, expires unused; the voided one is
        // told neither usable nor expired.
        clock.advance(Duration::from_secs(16 * 86_400));
        eventually("the voucher expired", || {
            let (shop, code) = (&shop, &code.code);
            async move { Ok(coupon_state(&shop.coupon(code).await?) == cpb::CouponState::Expired) }
        })
        .await?;
        while told.len() < 7 {
            told.push(next_event(&mut events).await?);
        }
        let told: Vec<_> = told.into_iter().map(|(t, code, _)| (t, code)).collect();
        assert_eq!(told, vec![
            (T::VoucherIssued, code.code.clone()),
            (T::VoucherAvailable, code.code.clone()),
            (T::CouponRedeemed, code.code.clone()),
            (T::CouponReleased, code.code.clone()),
            (T::VoucherIssued, second.code.clone()),
            (T::VoucherVoided, second.code.clone()),
            (T::VoucherExpired, code.code.clone()),
        ]);
        // Nothing more: the voided voucher's timers told nothing.
        let more = tokio::time::timeout(Duration::from_secs(1), events.message()).await;
        assert!(more.is_err(), "{more:?}");
        drop(events);
        suite.stop().await
    }

    async fn a_voucher_held_for_review_is_issued_once_approved(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(now_micros());
        let (suite, _dbs) = start_with_clock(backend, RateLimitConfig::default(), clock.clone()).await?;
        let shop = Shop::open(&suite).await?;
        let admin = suite.create_key("shop", &["*:admin"]).await?;
        let mut accrual = AccrualServiceClient::new(shop.gw.clone());
        // A second purchase within the hour is held for review.
        let read = apb::GetProgramRequest { program_id: "demo".into(), version: 0 };
        let program = accrual.get_program(with_key(read, &shop.key)?).await?.into_inner().program;
        let fraud = apb::FraudPolicy { max_purchases_per_hour: 1, hold_flagged: true, ..Default::default() };
        let program = apb::Program { fraud: Some(fraud), ..program.unwrap_or_default() };
        let upsert = apb::UpsertProgramRequest { idempotency_key: "guarded".into(), program: Some(program), ..Default::default() };
        accrual.upsert_program(with_key(upsert, &shop.key)?).await?;
        shop.member("ann", "0.00", "0").await?;
        let budgeted = cpb::CampaignSpec {
            budgets: vec![cpb::Budget { total: eur("50.00"), per_day: None, low_percent: None }],
            ..promotion()
        };
        shop.campaign("back", budgeted).await?;

        shop.purchase("o-1", &["120.00"]).await?;
        let first = shop.voucher_of("o-1", &[]).await?;
        let held = shop.purchase("o-2", &["120.00"]).await?;
        assert!(held.held_for_review);
        // Its budget is confirmed at once (both vouchers' 10.00 EUR), though
        // no code is issued while it is held.
        let mut campaigns = CampaignServiceClient::new(shop.gw.clone());
        eventually("both vouchers' budget confirmed", || {
            let (mut campaigns, key) = (campaigns.clone(), shop.key.clone());
            async move {
                let read = cpb::GetCampaignReportRequest { campaign_id: "back".into(), ..Default::default() };
                let report = campaigns.get_campaign_report(with_key(read, &key)?).await?.into_inner();
                Ok(report.budgets.first().and_then(|b| b.confirmed.clone()).map(|m| m.amount) == Some("10.00".into()))
            }
        })
        .await?;
        assert_eq!(shop.vouchers().await?.len(), 1);

        // The reviewer decides a day later, long after any reservation's TTL.
        clock.advance(Duration::from_secs(86_400));
        let review = apb::ReviewPurchaseRequest {
            idempotency_key: "rv-2".into(),
            program_id: "demo".into(),
            order_id: "o-2".into(),
            decision: apb::ReviewDecision::Approve as i32,
            note: "a regular".into(),
        };
        accrual.review_purchase(with_key(review, &admin)?).await?;
        let second = shop.voucher_of("o-2", std::slice::from_ref(&first)).await?;
        assert_eq!(second.customer_id, "ann");
        let read = cpb::GetCampaignReportRequest { campaign_id: "back".into(), ..Default::default() };
        let report = campaigns.get_campaign_report(with_key(read, &shop.key)?).await?.into_inner();
        assert_eq!(report.budgets.first().and_then(|b| b.confirmed.clone()).map(|m| m.amount), Some("10.00".into()));
        suite.stop().await
    }

    async fn a_voucher_held_by_a_checkout_is_voided_once_the_checkout_ends(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let shop = Shop::open(&suite).await?;
        shop.member("ann", "0.00", "0").await?;
        shop.campaign("back", at_once()).await?;
        shop.purchase("o-1", &["70.00", "50.00"]).await?;
        let code = shop.voucher_of("o-1", &[]).await?;
        assert_eq!(coupon_state(&code), cpb::CouponState::Available);
        shop.reserve("s-1", cart(vec![line("1", "shoes", "60.00")], &[&code.code]), 600).await?;
        // The earning order goes below the threshold while a checkout holds
        // the voucher: it is voided once that checkout is cancelled.
        shop.return_line("o-1", "1").await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(coupon_state(&shop.coupon(&code.code).await?), cpb::CouponState::UsedUp);
        shop.cancel("c-1", "s-1").await?;
        // The void waits for the checkout with backoff (doubling from 0.5 s):
        // under load its next try may come later than `eventually`'s 10 s.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while coupon_state(&shop.coupon(&code.code).await?) != cpb::CouponState::Voided {
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "the voucher not voided in 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let refused = shop.reserve("s-2", cart(vec![line("1", "shoes", "60.00")], &[&code.code]), 600).await.err();
        let reason = refused.as_ref().and_then(|e| e.get_error_details().error_info().map(|i| i.reason.clone()));
        assert_eq!(reason.as_deref(), Some("COUPON_VOIDED"));
        suite.stop().await
    }

    async fn a_voucher_held_when_it_expires_is_told_expired_once_the_hold_ends(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(now_micros());
        let (suite, _dbs) = start_with_clock(backend, RateLimitConfig::default(), clock.clone()).await?;
        let shop = Shop::open(&suite).await?;
        shop.member("ann", "0.00", "0").await?;
        shop.campaign("back", at_once()).await?;
        let mut events = watch(&shop).await?;
        shop.purchase("o-1", &["70.00", "50.00"]).await?;
        let code = shop.voucher_of("o-1", &[]).await?;
        use cpb::EventType as T;
        assert_eq!(next_event(&mut events).await?.0, T::VoucherIssued);
        assert_eq!(next_event(&mut events).await?.0, T::VoucherAvailable);

        // Five minutes before its 30 days end, a checkout holds it for ten.
        clock.advance(Duration::from_secs(30 * 86_400 - 300));
        shop.reserve("s-1", cart(vec![line("1", "shoes", "60.00")], &[&code.code]), 600).await?;
        clock.advance(Duration::from_secs(360));
        // Expired, but held: whether it expires unused is not known yet.
        let early = tokio::time::timeout(Duration::from_secs(2), events.message()).await;
        assert!(early.is_err(), "{early:?}");
        // The checkout is cancelled: unused, it is told expired.
        shop.cancel("c-1", "s-1").await?;
        eventually("the hold given back", || {
            let (shop, code) = (&shop, &code.code);
            async move { Ok(shop.coupon(code).await?.reserved_uses == 0) }
        })
        .await?;
        // The wait was scheduled on the manual clock, possibly after the last
        // move under load: move it on until the job runs again.
        let mut expired = None;
        for _ in 0..20 {
            clock.advance(Duration::from_secs(60));
            if let Ok(e) = tokio::time::timeout(Duration::from_secs(1), events.message()).await {
                expired = e?;
                break;
            }
        }
        let expired = seen(expired.ok_or_else(|| anyhow::anyhow!("not told expired"))?);
        assert_eq!((expired.0, expired.1), (T::VoucherExpired, code.code.clone()));
        assert!(expired.2.contains("for 5.00 EUR expired unused"), "{}", expired.2);
        drop(events);
        suite.stop().await
    }
}
