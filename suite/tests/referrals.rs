//! Referrals end to end through the gateway, on both backends: the referee's
//! bonus and the referrer's reward follow the referee's purchases and returns;
//! fraud checks refuse with reasons; racing attributions have one winner.
mod support;

use std::time::Duration;

use boomerang_common::{
    backend_tests,
    testing::{channel, eventually},
    time::{Clock, now_micros, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient},
    common::v1::{Channel as Ch, Money},
    notify::v1::{self as npb, webhook_service_client::WebhookServiceClient},
    referral::v1::{self as rpb, referral_service_client::ReferralServiceClient},
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use gateway::limits::RateLimitConfig;
use support::{
    receiver::{Receiver, types},
    start, start_with_clock, with_key,
};
use tonic::transport::Channel;

fn eur(a: &str) -> Money {
    Money {
        amount: a.into(),
        asset: "EUR".into(),
    }
}

#[derive(Clone)]
struct Shop {
    clock: Clock,
    key: String,
    accrual: AccrualServiceClient<Channel>,
    referral: ReferralServiceClient<Channel>,
    wallet: WalletServiceClient<Channel>,
}

impl Shop {
    async fn open(suite: &boomerang::Suite) -> anyhow::Result<Self> {
        let gw = channel(suite.addrs().gateway).await?;
        let mut shop = Self {
            clock: suite.clock(),
            key: suite.create_key("shop", &["*:write"]).await?,
            accrual: AccrualServiceClient::new(gw.clone()),
            referral: ReferralServiceClient::new(gw.clone()),
            wallet: WalletServiceClient::new(gw),
        };
        let program = apb::Program {
            program_id: "cb".into(),
            name: "Cashback".into(),
            currency: "EUR".into(),
            earn_rules: vec![apb::EarnRule {
                asset: "EUR".into(),
                basis: apb::EarnBasis::Percent as i32,
                rate: "5".into(),
            }],
            return_window_days: 14,
            ..Default::default()
        };
        shop.accrual
            .upsert_program(with_key(
                apb::UpsertProgramRequest {
                    idempotency_key: "p".into(),
                    program: Some(program),
                    ..Default::default()
                },
                &shop.key,
            )?)
            .await?;
        let referral_program = rpb::ReferralProgram {
            referee_bonus: Some(eur("10.00")),
            referee_bonus_trigger: rpb::RefereeBonusTrigger::OnFirstPurchase as i32,
            referrer_reward: Some(rpb::ReferrerReward {
                kind: Some(rpb::referrer_reward::Kind::Percent("5".into())),
            }),
            ..Default::default()
        };
        shop.referral
            .upsert_referral_program(with_key(
                rpb::UpsertReferralProgramRequest {
                    idempotency_key: "rp".into(),
                    program: Some(referral_program),
                    ..Default::default()
                },
                &shop.key,
            )?)
            .await?;
        Ok(shop)
    }

    async fn code(&mut self, referrer: &str, email: &str) -> anyhow::Result<String> {
        let req = rpb::CreateReferralCodeRequest {
            idempotency_key: format!("code-{referrer}"),
            referrer_customer_id: referrer.into(),
            referrer_email: email.into(),
            ..Default::default()
        };
        Ok(self
            .referral
            .create_referral_code(with_key(req, &self.key)?)
            .await?
            .into_inner()
            .code
            .unwrap_or_default()
            .code)
    }

    async fn enroll(&mut self, customer: &str, code: &str) -> anyhow::Result<()> {
        let req = apb::EnrollMemberRequest {
            idempotency_key: format!("e-{customer}"),
            program_id: "cb".into(),
            customer_id: customer.into(),
            referral_code: code.into(),
            ..Default::default()
        };
        self.accrual
            .enroll_member(with_key(req, &self.key)?)
            .await?;
        Ok(())
    }

    /// An order of `lines`, occurred so that its 14-day window ends `ends_in` from now.
    async fn buy(&mut self, order: &str, customer: &str, lines: &[&str]) -> anyhow::Result<()> {
        let occurred = self.clock.now();
        let purchase = apb::Purchase {
            program_id: "cb".into(),
            order_id: order.into(),
            customer_id: customer.into(),
            currency: "EUR".into(),
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, p)| apb::PurchaseLine {
                    line_id: format!("l{i}"),
                    sku: "s".into(),
                    category: "c".into(),
                    unit_price: Some(eur(p)),
                    quantity: 1,
                    discount: None,
                })
                .collect(),
            channel: Ch::Online as i32,
            store_id: String::new(),
            occurred_at: Some(to_timestamp(occurred)),
        };
        self.accrual
            .record_purchase(with_key(
                apb::RecordPurchaseRequest {
                    idempotency_key: format!("o-{order}"),
                    purchase: Some(purchase),
                },
                &self.key,
            )?)
            .await?;
        Ok(())
    }

    async fn give_back(&mut self, order: &str, ret: &str, line: &str) -> anyhow::Result<()> {
        let req = apb::RecordReturnRequest {
            idempotency_key: ret.into(),
            program_id: "cb".into(),
            order_id: order.into(),
            return_id: ret.into(),
            lines: vec![apb::ReturnLine {
                line_id: line.into(),
                quantity: 1,
            }],
            occurred_at: None,
        };
        self.accrual
            .record_return(with_key(req, &self.key)?)
            .await?;
        Ok(())
    }

    /// Waits until the customer's EUR (available, pending) is `want`.
    async fn expect(&mut self, customer: &str, want: (&str, &str)) -> anyhow::Result<()> {
        let (wallet, key) = (self.wallet.clone(), self.key.clone());
        let read = move || {
            let (mut w, key, c) = (wallet.clone(), key.clone(), customer.to_owned());
            async move {
                let b = w
                    .get_balance(with_key(
                        wpb::GetBalanceRequest {
                            customer_id: c,
                            asset: "EUR".into(),
                            as_of: None,
                        },
                        &key,
                    )?)
                    .await?
                    .into_inner();
                let b = b.balances.into_iter().next().unwrap_or_default();
                let m = |m: Option<Money>| m.map(|m| m.amount).unwrap_or_else(|| "0.00".into());
                anyhow::Ok((m(b.available), m(b.pending)))
            }
        };
        let target = (want.0.to_owned(), want.1.to_owned());
        let probe = read;
        eventually(&format!("{customer} at {want:?}"), || {
            let (probe, target) = (probe.clone(), target.clone());
            async move { Ok(probe().await? == target) }
        })
        .await
    }

    async fn attribute(
        &mut self,
        key: &str,
        code: &str,
        referee: &str,
        email: &str,
    ) -> anyhow::Result<rpb::Referral> {
        let req = rpb::AttributeReferralRequest {
            idempotency_key: key.into(),
            code: code.into(),
            referee_customer_id: referee.into(),
            context: Some(rpb::AttributionContext {
                email: email.into(),
                ..Default::default()
            }),
        };
        Ok(self
            .referral
            .attribute_referral(with_key(req, &self.key)?)
            .await?
            .into_inner()
            .referral
            .unwrap_or_default())
    }
}

backend_tests! {
    async fn the_referrer_earns_on_the_referees_purchases_and_loses_it_on_returns(backend) -> anyhow::Result<()> {
        // A month ago, so orders placed after moving it on are still in the past.
        let (suite, _dbs) = start_with_clock(backend, RateLimitConfig::default(), Clock::manual(now_micros() - 30 * 86_400_000_000)).await?;
        let mut shop = Shop::open(&suite).await?;
        let code = shop.code("rita", "rita@example.com").await?;
        shop.enroll("ron", &code.to_lowercase()).await?; // codes are case-insensitive
        // 100.00 EUR: all pending for the 14-day return window.
        shop.buy("o-1", "ron", &["100.00"]).await?;
        shop.expect("rita", ("0.00", "5.00")).await?;
        shop.expect("ron", ("0.00", "15.00")).await?; // 5% cashback + 10.00 referee bonus
        shop.clock.advance(Duration::from_secs(15 * 86_400));
        shop.expect("rita", ("5.00", "0.00")).await?;
        shop.expect("ron", ("15.00", "0.00")).await?;
        // A second order, returned in part (40 of 100) inside its window: 5.00 -> 3.00.
        shop.buy("o-2", "ron", &["60.00", "40.00"]).await?;
        shop.expect("rita", ("5.00", "5.00")).await?;
        shop.give_back("o-2", "r-1", "l1").await?;
        shop.expect("rita", ("5.00", "3.00")).await?;
        // Then the rest: nothing left of it.
        shop.give_back("o-2", "r-2", "l0").await?;
        shop.expect("rita", ("5.00", "0.00")).await?;
        suite.stop().await
    }

    async fn concurrent_returns_of_one_order_take_back_exactly_what_was_paid(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let mut shop = Shop::open(&suite).await?;
        let code = shop.code("rita", "rita@example.com").await?;
        shop.enroll("ron", &code).await?;
        // 5% of 100.10 is 5.005: rita earns 5.00. Each seventh's share (0.7143) rounds up.
        let lines = ["14.30"; 7];
        shop.buy("o-1", "ron", &lines).await?;
        shop.expect("rita", ("0.00", "5.00")).await?;
        // The seven returns reach referral-svc at the same moment, as the relay
        // delivers them (each on its own connection, as replicas would).
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(lines.len()));
        let addr = suite.addrs().referral;
        let returns = lines.iter().enumerate().map(|(i, amount)| {
            let start = start.clone();
            async move {
                let as_shop = boomerang_common::testing::AsTenant::new("referral", "shop")?;
                let mut referral = ReferralServiceClient::with_interceptor(channel(addr).await?, as_shop);
                let req = rpb::OnReturnRequest {
                    idempotency_key: format!("ret-{i}"),
                    referee_customer_id: "ron".into(),
                    order_id: "cb:o-1".into(),
                    return_id: format!("r-{i}"),
                    returned_amount: Some(eur(amount)),
                };
                start.wait().await;
                referral.on_return(req).await?;
                anyhow::Ok(())
            }
        });
        for done in futures::future::join_all(returns).await {
            done?;
        }
        // Exactly the 5.00 paid comes back, no more: the wallet takes every reversal.
        shop.expect("rita", ("0.00", "0.00")).await?;
        let list = rpb::ListReferralsRequest { referrer_customer_id: "rita".into(), page: None };
        let earned = shop.referral.list_referrals(with_key(list, &shop.key)?).await?.into_inner().earned_total;
        assert!(earned.iter().all(|m| m.amount == "0.00"), "{earned:?}");
        suite.stop().await
    }

    async fn referrals_are_told_on_the_event_stream_and_to_webhooks(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let mut shop = Shop::open(&suite).await?;
        let hook = Receiver::start(0).await?;
        let admin = suite.create_key("shop", &["notify:admin"]).await?;
        let create = npb::CreateWebhookRequest {
            idempotency_key: "hook".into(),
            url: hook.url(),
            types: vec!["referral.attributed".into(), "referral.rewarded".into()],
            description: "referrals".into(),
        };
        let mut hooks = WebhookServiceClient::new(channel(suite.addrs().gateway).await?);
        let secret = hooks.create_webhook(with_key(create, &admin)?).await?.into_inner().secret;
        let code = shop.code("rita", "rita@example.com").await?;
        shop.enroll("ron", &code).await?;
        shop.buy("o-1", "ron", &["100.00"]).await?;
        hook.until("attributed, then two rewards", |e| e.len() >= 3).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let told = hook.accepted()?;
        assert_eq!(told.len(), 3, "{told:?}");
        // In order per customer: rita's attribution, then her reward; ron's bonus.
        let of = |who: &str| told.iter().filter(|e| e["subject"] == who).cloned().collect::<Vec<_>>();
        let (rita, ron) = (of("rita"), of("ron"));
        assert_eq!(types(&rita), ["boomerang.referral.attributed.v1", "boomerang.referral.rewarded.v1"]);
        assert_eq!(types(&ron), ["boomerang.referral.rewarded.v1"]);
        let (attributed, rita, ron) = (&rita[0]["data"], &rita[1]["data"], &ron[0]["data"]);
        assert_eq!((attributed["code"].as_str(), attributed["referee_id"].as_str()), (Some(code.as_str()), Some("ron")));
        assert_eq!(attributed["message"], format!("a friend you referred joined with code {code}"));
        assert_eq!((rita["beneficiary"].as_str(), rita["order_id"].as_str()), (Some("referrer"), Some("cb:o-1")));
        assert_eq!(rita["amount"], serde_json::json!({"amount": "5.00", "asset": "EUR"}));
        assert_eq!(rita["message"], "you earned 5.00 EUR: a friend you referred placed an order");
        assert!(rita["available_at"].is_string(), "pending for the return window: {rita}");
        assert_eq!(ron["beneficiary"], "referee");
        assert_eq!(ron["amount"], serde_json::json!({"amount": "10.00", "asset": "EUR"}));
        assert_eq!(hook.verify_all(&secret)?, 3);

        // The return takes rita's reward back: on the stream, filtered to her rewards.
        shop.give_back("o-1", "r-1", "l0").await?;
        let watch = rpb::WatchEventsRequest {
            types: vec![rpb::EventType::ReferralRewarded as i32, rpb::EventType::ReferralRewardReversed as i32],
            customer_id: "rita".into(),
            ..Default::default()
        };
        let mut stream = shop.referral.watch_events(with_key(watch, &shop.key)?).await?.into_inner();
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let next = tokio::time::timeout(Duration::from_secs(10), stream.message()).await;
            let e = next.map_err(|_| anyhow::anyhow!("no reversal within 10 s: {seen:?}"))??;
            seen.push(e.ok_or_else(|| anyhow::anyhow!("stream ended"))?);
        }
        let seen: Vec<(i32, String, String)> = seen.into_iter().map(|e| (e.r#type, e.customer_id, e.amount.unwrap_or_default().amount)).collect();
        assert_eq!(seen, vec![
            (rpb::EventType::ReferralRewarded as i32, "rita".into(), "5.00".into()),
            (rpb::EventType::ReferralRewardReversed as i32, "rita".into(), "5.00".into()),
        ]);
        suite.stop().await
    }

    async fn fraud_checks_refuse_with_a_reason_and_races_have_one_winner(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let mut shop = Shop::open(&suite).await?;
        let john = shop.code("john", "johndoe@gmail.com").await?;
        let own = shop.attribute("a-1", &john, "john-2", "john.doe+1@gmail.com").await?;
        assert_eq!((own.status, own.refusal_reason), (rpb::ReferralStatus::Refused as i32, rpb::RefusalReason::SelfReferral as i32));
        // A customer who already bought is refused.
        shop.enroll("old", "").await?;
        shop.buy("o-old", "old", &["20.00"]).await?;
        let mut refused = None;
        for i in 0..100 {
            let r = shop.attribute(&format!("a-old-{i}"), &john, "old", "old@example.com").await?;
            if r.refusal_reason == rpb::RefusalReason::ExistingCustomer as i32 {
                refused = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await; // the purchase notice is on its way
        }
        assert!(refused.is_some(), "existing customer not refused");
        // Two racing attributions of one referee: exactly one wins.
        let ann = shop.code("ann", "ann@example.com").await?;
        let bob = shop.code("bob", "bob@example.com").await?;
        let (mut s1, mut s2) = (shop.clone(), shop.clone());
        let (a, b) = tokio::join!(s1.attribute("race-1", &ann, "newbie", "n@example.com"), s2.attribute("race-2", &bob, "newbie", "n@example.com"));
        let won = [a?, b?].iter().filter(|r| r.status == rpb::ReferralStatus::Attributed as i32).count();
        assert_eq!(won, 1);
        let funnel = shop.referral.get_funnel_report(with_key(rpb::GetFunnelReportRequest::default(), &shop.key)?).await?.into_inner();
        assert_eq!(funnel.codes_created, 3);
        assert!(funnel.refusals.iter().any(|r| r.reason == rpb::RefusalReason::SelfReferral as i32));
        suite.stop().await
    }
}
