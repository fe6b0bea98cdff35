//! Scenarios through the gateway with every service in-process: purchases
//! until their rewards reached the wallet, and what the gateway adds.
use std::{
    net::SocketAddr,
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
use futures::future::BoxFuture;
use rand::Rng as _;
use sqlx::Row as _;
use tonic::{
    metadata::{Ascii, MetadataValue},
    transport::Channel,
};

use crate::{
    Common, authed, campaign,
    drive::{Load, Op, Run},
    env::{Env, TENANT},
    wallet::channels,
};

/// A purchase of the demo program: one 90.00 EUR line `1` (cashback and points).
pub fn purchase(customer: u32, order: String) -> pb::Purchase {
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

/// Outbox messages due and not yet delivered by accrual-svc, and those
/// parked as failed.
async fn outbox(accrual: &Db) -> anyhow::Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT COALESCE(SUM(CASE WHEN failed_at IS NULL THEN 1 ELSE 0 END), 0) AS due, \
                COALESCE(SUM(CASE WHEN failed_at IS NULL THEN 0 ELSE 1 END), 0) AS parked \
         FROM jobs WHERE done_at IS NULL AND run_at <= $1",
    )
    .bind(now_micros())
    .fetch_one(accrual.pool())
    .await?;
    Ok((row.try_get("due")?, row.try_get("parked")?))
}

/// Every service in-process with the demo program's members enrolled: what
/// the scenarios through the gateway call.
pub struct Shop {
    /// Where it runs.
    pub env: Env,
    suite: boomerang::Suite,
    accrual: Db,
    /// `Bearer <key>` of a tenant key with `*:write`.
    pub auth: MetadataValue<Ascii>,
    /// The gateway.
    pub gateway: SocketAddr,
    /// A channel to the gateway, for set-up calls.
    pub channel: Channel,
}

impl Shop {
    /// Starts the suite as `name` and enrols `members` customers `c-0`...
    pub async fn open(common: &Common, name: &str, members: u32) -> anyhow::Result<Self> {
        let env = Env::of(common)?;
        let suite = env.suite(name).await?;
        let accrual = Db::connect(
            &env.database(&format!("{name}_accrual"), 2),
            &accrual_svc::repo::MIGRATIONS,
        )
        .await?;
        let key = suite.create_key(TENANT, &["*:write"]).await?;
        let auth: MetadataValue<Ascii> = format!("Bearer {key}").parse()?;
        let gateway = suite.addrs().gateway;
        let channel = Channel::from_shared(format!("http://{gateway}"))?
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
        let shop = Self {
            env,
            suite,
            accrual,
            auth,
            gateway,
            channel,
        };
        shop.drained().await?;
        Ok(shop)
    }

    /// Waits until accrual-svc delivered everything due; how long it took
    /// and how many messages are parked as failed.
    pub async fn drained(&self) -> anyhow::Result<(Duration, i64)> {
        let since = Instant::now();
        loop {
            let (due, parked) = outbox(&self.accrual).await?;
            if due == 0 {
                return Ok((since.elapsed(), parked));
            }
            anyhow::ensure!(
                since.elapsed() < Duration::from_secs(300),
                "the outbox did not drain in 5 minutes"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Drives `op`, then waits for the outbox: `delivered_per_s` counts the
    /// measured calls over the measured time plus the drain after it.
    pub async fn drive(&self, scenario: &str, load: Load, op: Op) -> anyhow::Result<Run> {
        let mut measured = self.env.drive(scenario, load, op).await?;
        let (drain, parked) = self.drained().await?;
        let whole = measured.seconds + drain.as_secs_f64();
        measured
            .extra
            .insert("drain_ms".into(), drain.as_secs_f64() * 1_000.0);
        measured
            .extra
            .insert("delivered_per_s".into(), measured.ok as f64 / whole);
        measured.extra.insert("parked".into(), parked as f64);
        Ok(measured)
    }

    /// Where each service listens.
    pub fn addrs(&self) -> boomerang::Addrs {
        self.suite.addrs()
    }

    /// Stops everything and drops the run's databases.
    pub async fn close(self) -> anyhow::Result<()> {
        self.accrual.close().await;
        self.suite.stop().await?;
        self.env.finish().await
    }
}

/// A RecordPurchase of a random member, order `o-<run>-<worker>-<n>`.
pub fn record(
    channel: Channel,
    auth: &MetadataValue<Ascii>,
    members: u32,
    order: String,
) -> BoxFuture<'static, Result<(), tonic::Status>> {
    let mut client = AccrualServiceClient::new(channel);
    let customer = rand::rng().random_range(0..members);
    let req = pb::RecordPurchaseRequest {
        idempotency_key: order.clone(),
        purchase: Some(purchase(customer, order)),
    };
    let req = authed(auth, req);
    Box::pin(async move { client.record_purchase(req).await.map(drop) })
}

/// `purchase`: RecordPurchase through the gateway on `members` members; a
/// run ends when the last reward of its purchases reached the wallet.
pub async fn purchases(common: &Common, members: u32) -> anyhow::Result<Vec<Run>> {
    buying(common, members, false).await
}

/// `purchase-hot-campaign`: as `purchase`, every purchase also earning from
/// one campaign and so reserving from its one budget.
pub async fn hot_campaign(common: &Common, members: u32) -> anyhow::Result<Vec<Run>> {
    buying(common, members, true).await
}

async fn buying(common: &Common, members: u32, hot: bool) -> anyhow::Result<Vec<Run>> {
    let (name, scenario) = if hot {
        ("hot", "purchase-hot-campaign")
    } else {
        ("purchase", "purchase")
    };
    let shop = Shop::open(common, name, members).await?;
    if hot {
        campaign::create_hot(shop.channel.clone(), &shop.auth).await?;
    }
    let mut runs = Vec::new();
    for (run, &clients) in common.clients.iter().enumerate() {
        let channels = channels(shop.gateway, clients).await?;
        let auth = shop.auth.clone();
        let op: Op = Arc::new(move |worker, n| {
            let channel = channels[worker % channels.len()].clone();
            record(channel, &auth, members, format!("o-{run}-{worker}-{n}"))
        });
        let mut measured = shop.drive(scenario, common.load(clients), op).await?;
        if hot {
            let used = campaign::hot_used(shop.channel.clone(), &shop.auth).await?;
            measured
                .extra
                .insert("budget_used_eur".into(), used as f64 / 100.0);
        }
        runs.push(common.report(measured));
    }
    shop.close().await?;
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
