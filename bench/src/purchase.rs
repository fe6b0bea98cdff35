//! Scenarios through the gateway with every service in-process: purchases
//! until their rewards reached the wallet, and what the gateway adds.
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use boomerang_common::{
    db::Db,
    time::{now_micros, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{self as pb, accrual_service_client::AccrualServiceClient},
    common::v1::Money,
    wallet::v1::{GetBalanceRequest, wallet_service_client::WalletServiceClient},
};
use rand::Rng as _;
use sqlx::Row as _;
use tonic::{
    Request,
    metadata::{Ascii, MetadataValue},
};

use crate::{
    Common,
    drive::{Op, Run},
    env::{Env, TENANT},
    wallet::channels,
};

fn authed<T>(auth: &MetadataValue<Ascii>, message: T) -> Request<T> {
    let mut req = Request::new(message);
    req.metadata_mut().insert("authorization", auth.clone());
    req
}

/// A purchase of the demo program: one 90.00 EUR line (cashback and points).
fn purchase(customer: u32, order: String) -> pb::Purchase {
    pb::Purchase {
        program_id: "demo".into(),
        order_id: order,
        customer_id: format!("c-{customer}"),
        currency: "EUR".into(),
        channel: boomerang_proto::common::v1::Channel::Online as i32,
        occurred_at: Some(to_timestamp(now_micros())),
        lines: vec![pb::PurchaseLine {
            line_id: "1".into(),
            sku: "shoe".into(),
            category: "shoes".into(),
            unit_price: Some(Money {
                amount: "90.00".into(),
                asset: "EUR".into(),
            }),
            quantity: 1,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Outbox messages due and not yet delivered by accrual-svc.
async fn undelivered(accrual: &Db) -> anyhow::Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM jobs WHERE done_at IS NULL AND failed_at IS NULL AND run_at <= $1",
    )
    .bind(now_micros())
    .fetch_one(accrual.pool())
    .await?;
    Ok(row.try_get("n")?)
}

/// Waits until accrual-svc delivered everything due; how long it took.
async fn drained(accrual: &Db) -> anyhow::Result<Duration> {
    let since = Instant::now();
    while undelivered(accrual).await? > 0 {
        anyhow::ensure!(
            since.elapsed() < Duration::from_secs(300),
            "the outbox did not drain in 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(since.elapsed())
}

/// `purchase`: RecordPurchase through the gateway on `members` members; a
/// run ends when the last reward of its purchases reached the wallet
/// (`delivered_per_s` counts the measured purchases over the measured
/// time plus the time the outbox took to drain after it).
pub async fn purchases(common: &Common, members: u32) -> anyhow::Result<Vec<Run>> {
    let env = Env::of(common)?;
    let suite = env.suite("purchase").await?;
    let accrual = Db::connect(
        &env.database("purchase_accrual", 2),
        &accrual_svc::repo::MIGRATIONS,
    )
    .await?;
    let key = suite.create_key(TENANT, &["*:write"]).await?;
    let auth: MetadataValue<Ascii> = format!("Bearer {key}").parse()?;
    let gateway = suite.addrs().gateway;
    let channel = tonic::transport::Channel::from_shared(format!("http://{gateway}"))?
        .connect()
        .await?;
    let mut enrolling = tokio::task::JoinSet::new();
    for part in 0..16u32 {
        let mut client = AccrualServiceClient::new(channel.clone());
        let auth = auth.clone();
        enrolling.spawn(async move {
            for c in (part..members).step_by(16) {
                let req = pb::EnrollMemberRequest {
                    idempotency_key: format!("enrol-{c}"),
                    program_id: "demo".into(),
                    customer_id: format!("c-{c}"),
                    ..Default::default()
                };
                client.enroll_member(authed(&auth, req)).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = enrolling.join_next().await {
        done??;
    }
    drained(&accrual).await?;
    let mut runs = Vec::new();
    for (run, &clients) in common.clients.iter().enumerate() {
        let channels = channels(gateway, clients).await?;
        let auth = auth.clone();
        let op: Op = Arc::new(move |worker, n| {
            let mut client = AccrualServiceClient::new(channels[worker % channels.len()].clone());
            let customer = rand::rng().random_range(0..members);
            let order = format!("o-{run}-{worker}-{n}");
            let req = pb::RecordPurchaseRequest {
                idempotency_key: order.clone(),
                purchase: Some(purchase(customer, order)),
            };
            let req = authed(&auth, req);
            Box::pin(async move { client.record_purchase(req).await.map(drop) })
        });
        let load = common.load(clients);
        let mut measured = env.drive("purchase", load, op).await?;
        let drain = drained(&accrual).await?;
        let whole = measured.seconds + drain.as_secs_f64();
        measured
            .extra
            .insert("drain_ms".into(), drain.as_secs_f64() * 1_000.0);
        measured
            .extra
            .insert("delivered_per_s".into(), measured.ok as f64 / whole);
        runs.push(common.report(measured));
    }
    accrual.close().await;
    suite.stop().await?;
    env.finish().await?;
    Ok(runs)
}

/// `gateway-overhead`: GetBalance directly to wallet-svc and through the
/// gateway (authentication, limits, a fresh credential, forwarding), closed
/// loop; the gateway run carries the added p50 and p99.
pub async fn gateway_overhead(common: &Common) -> anyhow::Result<Vec<Run>> {
    let env = Env::of(common)?;
    let suite = env.suite("overhead").await?;
    let key = suite.create_key(TENANT, &["*:read"]).await?;
    let through: MetadataValue<Ascii> = format!("Bearer {key}").parse()?;
    let direct = env.bearer("wallet")?;
    let addrs = suite.addrs();
    let mut runs = Vec::new();
    for &clients in &common.clients {
        let mut pair = Vec::new();
        for (name, addr, auth) in [
            ("wallet-direct", addrs.wallet, direct.clone()),
            ("gateway-overhead", addrs.gateway, through.clone()),
        ] {
            let channels = channels(addr, clients).await?;
            let op: Op = Arc::new(move |worker, _| {
                let mut client =
                    WalletServiceClient::new(channels[worker % channels.len()].clone());
                let req = authed(
                    &auth,
                    GetBalanceRequest {
                        customer_id: format!("c-{}", worker % 100),
                        ..Default::default()
                    },
                );
                Box::pin(async move { client.get_balance(req).await.map(drop) })
            });
            pair.push(env.drive(name, common.load(clients), op).await?);
        }
        let (mut via, direct) = (pair.remove(1), pair.remove(0));
        via.extra
            .insert("added_p50_ms".into(), via.p50_ms - direct.p50_ms);
        via.extra
            .insert("added_p99_ms".into(), via.p99_ms - direct.p99_ms);
        runs.push(common.report(direct));
        runs.push(common.report(via));
    }
    suite.stop().await?;
    env.finish().await?;
    Ok(runs)
}
