//! Events out through webhooks, on both backends: a receiver that fails at
//! first still gets each event once, signed, a customer's in order; one
//! down past the retry budget ends in the dead-letter list, and a replay
//! delivers it; targets inside the platform are refused; a tenant hears
//! only its own events.
mod support;

use std::time::Duration;

use boomerang_common::{backend_tests, testing::channel, time::Clock};
use boomerang_proto::{
    notify::v1::{self as npb, webhook_service_client::WebhookServiceClient},
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use support::{
    configs,
    receiver::{Receiver, purchase, tenant_with_hook, types},
    start_configured, start_with_clock, with_key,
};
use tonic::{Code, transport::Channel};

/// Waits until `customer` has `n` assets pending in the wallet.
async fn pending_in_wallet(
    gw: &Channel,
    key: &str,
    customer: &str,
    n: usize,
) -> anyhow::Result<()> {
    let mut wallet = WalletServiceClient::new(gw.clone());
    for _ in 0..200 {
        let read = wpb::GetBalanceRequest {
            customer_id: customer.into(),
            ..Default::default()
        };
        let balances = wallet
            .get_balance(with_key(read, key)?)
            .await?
            .into_inner()
            .balances;
        let pending = balances
            .iter()
            .filter(|b| {
                b.pending
                    .as_ref()
                    .is_some_and(|m| !m.amount.trim_matches(['0', '.']).is_empty())
            })
            .count();
        if pending >= n {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{customer}'s rewards never pending in the wallet")
}

async fn deliveries(
    gw: &Channel,
    key: &str,
    webhook: &str,
    state: npb::DeliveryState,
) -> anyhow::Result<Vec<npb::Delivery>> {
    let list = npb::ListDeliveriesRequest {
        webhook_id: webhook.into(),
        state: state as i32,
        page: None,
    };
    Ok(WebhookServiceClient::new(gw.clone())
        .list_deliveries(with_key(list, key)?)
        .await?
        .into_inner()
        .deliveries)
}

backend_tests! {
    async fn a_receiver_that_fails_at_first_gets_each_event_once_signed_and_in_order(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(boomerang_common::time::now_micros());
        let (suite, _dbs) = start_with_clock(backend, Default::default(), clock.clone()).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let (shop, other) = (Receiver::start(3).await?, Receiver::start(0).await?);
        let wanted = ["reward.pending", "reward.available"];
        let (key, hook, secret) = tenant_with_hook(&suite, &gw, "shop", &shop.url(), &wanted).await?;
        let (other_key, _, other_secret) = tenant_with_hook(&suite, &gw, "other", &other.url(), &wanted).await?;
        purchase(&gw, &key, "ann", "o-1", "40.00", clock.now()).await?;
        purchase(&gw, &other_key, "bob", "o-9", "40.00", clock.now()).await?;
        // 40.00 EUR: 2.00 EUR and 40 PTS pending, then (the return window
        // over) available.
        let pending = shop.until("both rewards pending", |e| types(e).len() >= 2).await?;
        assert_eq!(types(&pending), vec!["boomerang.reward.pending.v1"; 2]);
        // Credited pending in the wallet (accrual's outbox delivered), the
        // return window ends.
        pending_in_wallet(&gw, &key, "ann", 2).await?;
        clock.advance(Duration::from_secs(15 * 86_400));
        let all = shop.until("both rewards available", |e| types(e).len() >= 4).await?;
        assert_eq!(types(&all)[2..], ["boomerang.reward.available.v1"; 2]);
        for e in &all {
            assert_eq!((e["tenant"].as_str(), e["subject"].as_str(), e["specversion"].as_str()), (Some("shop"), Some("ann"), Some("1.0")));
        }
        let amounts: Vec<&str> = all.iter().filter_map(|e| e["data"]["amount"]["amount"].as_str()).collect();
        assert!(amounts.contains(&"2.00") && amounts.contains(&"40"), "{amounts:?}");
        // Each event exactly once, though three calls were refused first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ids = shop.with(|i| i.accepted.clone())?;
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        assert_eq!(shop.verify_all(&secret)?, ids.len() + 3);
        // The delivery log tells the refused attempts.
        let log = deliveries(&gw, &key, &hook.webhook_id, npb::DeliveryState::Delivered).await?;
        assert_eq!(log.len(), 4);
        let refused: Vec<u32> = log.iter().flat_map(|d| d.recent_attempts.iter().map(|a| a.status_code)).filter(|s| *s == 503).collect();
        assert_eq!(refused.len(), 3);
        // The other tenant heard only its own.
        let theirs = other.until("the other tenant's rewards", |e| e.len() >= 2).await?;
        assert!(theirs.iter().all(|e| e["tenant"] == "other" && e["subject"] == "bob"), "{theirs:?}");
        other.verify_all(&other_secret)?;
        suite.stop().await
    }

    async fn a_receiver_down_past_the_budget_ends_in_the_dead_letters_and_a_replay_delivers(backend) -> anyhow::Result<()> {
        let mut c = configs();
        c.notify.delivery.retry_budget_ms = 600;
        let (suite, _dbs) = start_configured(backend, c).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let down = Receiver::start(usize::MAX).await?;
        let (key, hook, secret) = tenant_with_hook(&suite, &gw, "shop", &down.url(), &["reward.pending"]).await?;
        purchase(&gw, &key, "ann", "o-1", "40.00", boomerang_common::time::now_micros()).await?;
        let mut dead = Vec::new();
        for _ in 0..200 {
            dead = deliveries(&gw, &key, &hook.webhook_id, npb::DeliveryState::DeadLetter).await?;
            if dead.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(dead.len(), 2, "both pending rewards parked");
        assert!(dead.iter().all(|d| d.attempts >= 2 && d.recent_attempts.iter().all(|a| a.status_code == 503)));
        // Back up: a replay of one, then of the rest.
        down.with(|i| i.refuse = 0)?;
        let mut hooks = WebhookServiceClient::new(gw.clone());
        let replay = |ids: Vec<String>, k: &str| npb::ReplayDeliveriesRequest { idempotency_key: k.into(), webhook_id: hook.webhook_id.clone(), delivery_ids: ids };
        let one = hooks.replay_deliveries(with_key(replay(vec![dead[0].delivery_id.clone()], "r1"), &key)?).await?.into_inner();
        assert_eq!(one.replayed, 1);
        let rest = hooks.replay_deliveries(with_key(replay(vec![], "r2"), &key)?).await?.into_inner();
        assert_eq!(rest.replayed, 1);
        let got = down.until("both replayed", |e| e.len() >= 2).await?;
        assert_eq!(types(&got), vec!["boomerang.reward.pending.v1"; 2]);
        down.verify_all(&secret)?;
        assert!(deliveries(&gw, &key, &hook.webhook_id, npb::DeliveryState::DeadLetter).await?.is_empty());
        suite.stop().await
    }

    async fn webhooks_are_managed_by_admins_and_never_point_inside(backend) -> anyhow::Result<()> {
        let mut c = configs();
        c.notify.delivery.allow_private_targets = false;
        let (suite, _dbs) = start_configured(backend, c).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let admin = suite.create_key("shop", &["*:admin"]).await?;
        let writer = suite.create_key("shop", &["*:write"]).await?;
        let mut hooks = WebhookServiceClient::new(gw.clone());
        let create = |url: &str, types: &[&str]| npb::CreateWebhookRequest {
            idempotency_key: url.into(),
            url: url.into(),
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            description: String::new(),
        };
        for url in ["http://127.0.0.1:8080/hook", "https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://169.254.169.254/latest", "https://localhost/hook", "https://[::1]/hook", "ftp://example.com/", "https://2130706433/hook", "https://0xa9.254.169.254/latest", "https://127.0.0.1./hook"] {
            let refused = hooks.create_webhook(with_key(create(url, &[]), &admin)?).await.err();
            assert_eq!(refused.map(|e| e.code()), Some(Code::InvalidArgument), "{url}");
        }
        let unknown = hooks.create_webhook(with_key(create("https://example.com/a", &["reward.lost"]), &admin)?).await.err();
        assert_eq!(unknown.map(|e| e.code()), Some(Code::InvalidArgument));
        let denied = hooks.create_webhook(with_key(create("https://example.com/a", &[]), &writer)?).await.err();
        assert_eq!(denied.map(|e| e.code()), Some(Code::PermissionDenied));
        // Managed: created, listed, changed, paused, resumed, rotated, deleted.
        let made = hooks.create_webhook(with_key(create("https://example.com/a", &["boomerang.tier.changed.v1"]), &admin)?).await?.into_inner();
        let w = made.webhook.unwrap_or_default();
        assert_eq!(w.types, vec!["tier.changed"]);
        let id = w.webhook_id.clone();
        let listed = hooks.list_webhooks(with_key(npb::ListWebhooksRequest { page: None }, &writer)?).await?.into_inner();
        assert_eq!(listed.webhooks.iter().map(|w| w.webhook_id.as_str()).collect::<Vec<_>>(), vec![id.as_str()]);
        let update = npb::UpdateWebhookRequest { idempotency_key: "u".into(), webhook_id: id.clone(), url: "https://example.com/b".into(), types: vec![], description: "all".into() };
        let updated = hooks.update_webhook(with_key(update, &admin)?).await?.into_inner().webhook.unwrap_or_default();
        assert_eq!((updated.url.as_str(), updated.types.len()), ("https://example.com/b", 0));
        let paused = hooks.pause_webhook(with_key(npb::PauseWebhookRequest { idempotency_key: "p".into(), webhook_id: id.clone() }, &admin)?).await?.into_inner();
        assert_eq!(paused.webhook.map(|w| w.state), Some(npb::WebhookState::Paused as i32));
        let resumed = hooks.resume_webhook(with_key(npb::ResumeWebhookRequest { idempotency_key: "r".into(), webhook_id: id.clone() }, &admin)?).await?.into_inner();
        assert_eq!(resumed.webhook.map(|w| w.state), Some(npb::WebhookState::Active as i32));
        let rotated = hooks.rotate_webhook_secret(with_key(npb::RotateWebhookSecretRequest { idempotency_key: "s".into(), webhook_id: id.clone() }, &admin)?).await?.into_inner();
        assert!(rotated.secret.starts_with("whsec_") && rotated.secret != made.secret);
        let deleted = hooks.delete_webhook(with_key(npb::DeleteWebhookRequest { idempotency_key: "d".into(), webhook_id: id.clone() }, &admin)?).await?.into_inner();
        assert_eq!(deleted.webhook.map(|w| w.state), Some(npb::WebhookState::Deleted as i32));
        // At most 20 live webhooks a tenant.
        for i in 0..20 {
            hooks.create_webhook(with_key(create(&format!("https://example.com/{i}"), &[]), &admin)?).await?;
        }
        let over = hooks.create_webhook(with_key(create("https://example.com/21", &[]), &admin)?).await.err();
        assert_eq!(over.map(|e| e.code()), Some(Code::FailedPrecondition));
        let gone = hooks.pause_webhook(with_key(npb::PauseWebhookRequest { idempotency_key: "p2".into(), webhook_id: id.clone() }, &admin)?).await.err();
        assert_eq!(gone.map(|e| e.code()), Some(Code::FailedPrecondition));
        // Another tenant does not see it.
        let stranger = suite.create_key("other", &["*:admin"]).await?;
        let hidden = hooks.get_webhook(with_key(npb::GetWebhookRequest { webhook_id: id }, &stranger)?).await.err();
        assert_eq!(hidden.map(|e| e.code()), Some(Code::NotFound));
        suite.stop().await
    }
}
