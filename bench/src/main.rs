//! Load generator for Boomerang. Reports figures (throughput, latency
//! percentiles); it never asserts timings. See bench/README.md for results.
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use boomerang_common::{
    auth::{Credentials, InternalAuthConfig, generate_pem},
    config::ServerConfig,
    db::DatabaseConfig,
    tenant::TenantId,
    time::{now_micros, to_timestamp},
};
use boomerang_proto::{
    common::v1::Money,
    wallet::v1::{CreditRequest, Source, wallet_service_client::WalletServiceClient},
};
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use rand::Rng as _;
use tokio_util::sync::CancellationToken;
use tonic::{Request, transport::Channel};

#[derive(Parser)]
#[command(name = "boomerang-bench", about = "Load generator for Boomerang")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Pending cashback credits (what accrual sends per purchase) against an
    /// in-process wallet-svc over real gRPC on loopback.
    WalletCredit(WalletCredit),
    /// Latency the gateway adds: GetBalance one call at a time, directly and
    /// through the gateway (authentication, limits, forwarding).
    GatewayLatency(GatewayLatency),
    /// PreviewPurchase of the demo program (cashback and points, campaign-svc
    /// asked for offers) through the gateway, one call at a time, all services
    /// in-process.
    Preview(Preview),
}

#[derive(clap::Args)]
struct Preview {
    /// `postgres://...` (a fresh schema per service) or empty for SQLite files.
    #[arg(long, default_value = "")]
    database_url: String,
    /// Calls (after 50 warm-up calls).
    #[arg(long, default_value_t = 1_000)]
    calls: u32,
    /// RecordPurchase (a new order each call) instead of PreviewPurchase.
    #[arg(long)]
    record: bool,
}

#[derive(clap::Args)]
struct GatewayLatency {
    /// Calls per path (after 200 warm-up calls).
    #[arg(long, default_value_t = 5_000)]
    calls: u32,
}

#[derive(clap::Args)]
struct WalletCredit {
    /// `postgres://...` (a fresh schema is used) or empty for a temporary SQLite file.
    #[arg(long, default_value = "")]
    database_url: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured seconds (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Distinct customers credited at random.
    #[arg(long, default_value_t = 100_000)]
    customers: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::WalletCredit(args) => wallet_credit(args).await,
        Scenario::GatewayLatency(args) => gateway_latency(args).await,
        Scenario::Preview(args) => preview(args).await,
    }
}

/// A fresh platform key for the processes of one run; credentials live
/// an hour, so one minted at the start outlasts any run.
fn platform_key() -> anyhow::Result<InternalAuthConfig> {
    Ok(InternalAuthConfig {
        ttl_ms: 3_600_000,
        ..InternalAuthConfig::with_key(generate_pem()?)
    })
}

/// `Bearer <credential>` for calls to `service` for tenant "bench", as
/// accrual-svc calls.
fn credential(auth: &InternalAuthConfig, service: &str) -> anyhow::Result<String> {
    let issuer = Credentials::load(auth)?.issuer("bench", &["*:write"])?;
    let tenant = TenantId::parse("bench").map_err(anyhow::Error::msg)?;
    Ok(format!(
        "Bearer {}",
        issuer.mint(service, &tenant, "bench", issuer.scopes())?
    ))
}

async fn wallet_credit(args: WalletCredit) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let auth = platform_key()?;
    let bearer: tonic::metadata::MetadataValue<_> = credential(&auth, "wallet")?.parse()?;
    let (database, backend) = if args.database_url.is_empty() {
        let path = dir.path().join("wallet.db");
        (
            DatabaseConfig {
                url: format!("sqlite://{}", path.display()),
                ..DatabaseConfig::default()
            },
            "SQLite",
        )
    } else {
        let schema = format!("bench_{}", now_micros() / 1_000_000);
        (
            DatabaseConfig {
                url: args.database_url.clone(),
                schema: Some(schema),
                ..DatabaseConfig::default()
            },
            "PostgreSQL",
        )
    };
    let cfg = wallet_svc::Config {
        server: ServerConfig::on("127.0.0.1:0".parse()?),
        database: DatabaseConfig {
            max_connections: u32::try_from(args.concurrency).unwrap_or(32).max(4),
            ..database
        },
        internal_auth: auth,
        ..wallet_svc::Config::default()
    };
    let app = wallet_svc::App::build(cfg).await?;
    let addr = app.local_addr()?;
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let server = tokio::spawn(app.run_until(async move { stopped.cancelled().await }));
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;

    let warmup = Duration::from_secs(1);
    let measured = Duration::from_secs(args.seconds);
    let started = Instant::now();
    let errors = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..args.concurrency {
        let mut client = WalletServiceClient::new(channel.clone());
        let errors = errors.clone();
        let bearer = bearer.clone();
        let customers = args.customers;
        workers.spawn(async move {
            let mut latencies = Histogram::<u64>::new(3)?;
            let mut n = 0u64;
            while started.elapsed() < warmup + measured {
                n += 1;
                let (customer, cents) = {
                    let mut rng = rand::rng();
                    (rng.random_range(0..customers), rng.random_range(1..10_000))
                };
                let mut req = Request::new(CreditRequest {
                    idempotency_key: format!("bench-{worker}-{n}"),
                    customer_id: format!("c-{customer}"),
                    amount: Some(Money {
                        amount: format!("{}.{:02}", cents / 100, cents % 100),
                        asset: "EUR".into(),
                    }),
                    release_at: Some(to_timestamp(now_micros() + 14 * 86_400_000_000)),
                    source: Some(Source {
                        kind: "order".into(),
                        reference: format!("o-{worker}-{n}"),
                        rule_version: "program:bench@1".into(),
                        inputs: String::new(),
                    }),
                    ..CreditRequest::default()
                });
                req.metadata_mut().insert("authorization", bearer.clone());
                let sent = Instant::now();
                let ok = client.credit(req).await.is_ok();
                if started.elapsed() > warmup {
                    if ok {
                        latencies.record(
                            u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX),
                        )?;
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            anyhow::Ok(latencies)
        });
    }
    let mut all = Histogram::<u64>::new(3)?;
    while let Some(done) = workers.join_next().await {
        all.add(done??)?;
    }
    stop.cancel();
    server.await??;
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1_000.0;
    println!(
        "wallet Credit (pending, {backend}, {} clients, {} s): {:.0} credits/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} errors",
        args.concurrency,
        args.seconds,
        all.len() as f64 / measured.as_secs_f64(),
        ms(0.5),
        ms(0.9),
        ms(0.99),
        all.max() as f64 / 1_000.0,
        errors.load(Ordering::Relaxed)
    );
    Ok(())
}

async fn gateway_latency(args: GatewayLatency) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sqlite = |name: &str| DatabaseConfig {
        url: format!("sqlite://{}", dir.path().join(name).display()),
        ..DatabaseConfig::default()
    };
    let auth = platform_key()?;
    let wallet = wallet_svc::App::build(wallet_svc::Config {
        server: ServerConfig::on("127.0.0.1:0".parse()?),
        database: sqlite("wallet.db"),
        internal_auth: auth.clone(),
        ..wallet_svc::Config::default()
    })
    .await?;
    let wallet_addr = wallet.local_addr()?;
    let gateway = gateway::App::build(gateway::Config {
        server: ServerConfig::on("127.0.0.1:0".parse()?),
        database: sqlite("gateway.db"),
        upstreams: gateway::config::Upstreams {
            wallet: format!("http://{wallet_addr}"),
            ..gateway::config::Upstreams::default()
        },
        rate_limits: gateway::limits::RateLimitConfig {
            per_key_per_second: 1_000_000,
            per_tenant_per_second: 1_000_000,
        },
        internal_auth: auth.clone(),
        ..gateway::Config::default()
    })
    .await?;
    let gateway_addr = gateway.local_addr()?;
    let tenant = boomerang_common::tenant::TenantId::parse("bench").map_err(anyhow::Error::msg)?;
    gateway.keys().ensure_tenant(&tenant, "bench").await?;
    let scopes = ["*:read".parse().map_err(anyhow::Error::msg)?];
    let (_, key) = gateway.keys().create_key(&tenant, "bench", &scopes).await?;
    let stop = CancellationToken::new();
    let (s1, s2) = (stop.clone(), stop.clone());
    let w = tokio::spawn(wallet.run_until(async move { s1.cancelled().await }));
    let g = tokio::spawn(gateway.run_until(async move { s2.cancelled().await }));

    let measure = |addr: std::net::SocketAddr, header: (&'static str, String)| async move {
        let channel = Channel::from_shared(format!("http://{addr}"))?
            .connect()
            .await?;
        let mut client = WalletServiceClient::new(channel);
        let mut latencies = Histogram::<u64>::new(3)?;
        for i in 0..(200 + args.calls) {
            let mut req = Request::new(boomerang_proto::wallet::v1::GetBalanceRequest {
                customer_id: "c-1".into(),
                ..Default::default()
            });
            req.metadata_mut().insert(header.0, header.1.parse()?);
            let sent = Instant::now();
            client.get_balance(req).await?;
            if i >= 200 {
                latencies.record(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX))?;
            }
        }
        anyhow::Ok(latencies)
    };
    let direct = measure(wallet_addr, ("authorization", credential(&auth, "wallet")?)).await?;
    let through = measure(gateway_addr, ("authorization", format!("Bearer {key}"))).await?;
    stop.cancel();
    w.await??;
    g.await??;
    let q = |h: &Histogram<u64>, p: f64| h.value_at_quantile(p) as f64 / 1_000.0;
    println!(
        "GetBalance, {} calls one at a time: direct p50 {:.3} ms p99 {:.3} ms; via gateway p50 {:.3} ms p99 {:.3} ms; added p50 {:.3} ms p99 {:.3} ms",
        args.calls,
        q(&direct, 0.5),
        q(&direct, 0.99),
        q(&through, 0.5),
        q(&through, 0.99),
        q(&through, 0.5) - q(&direct, 0.5),
        q(&through, 0.99) - q(&direct, 0.99),
    );
    Ok(())
}

async fn preview(args: Preview) -> anyhow::Result<()> {
    use boomerang_proto::accrual::v1 as pb;
    let dir = tempfile::tempdir()?;
    let (databases, backend) = if args.database_url.is_empty() {
        (boomerang::Databases::sqlite_in(dir.path()), "SQLite")
    } else {
        let schema = format!("bench_{}", now_micros());
        let url = &args.database_url;
        let db = |name: &str| DatabaseConfig {
            url: url.clone(),
            schema: Some(format!("{schema}_{name}")),
            ..DatabaseConfig::default()
        };
        let databases = boomerang::Databases {
            gateway: db("gateway"),
            wallet: db("wallet"),
            accrual: db("accrual"),
            campaign: db("campaign"),
            referral: db("referral"),
        };
        (databases, "PostgreSQL")
    };
    let suite = boomerang::Suite::start(boomerang::Options {
        configs: boomerang::Configs::default().with_internal_auth(&platform_key()?),
        host: std::net::Ipv4Addr::LOCALHOST.into(),
        ports: boomerang::Ports::ANY,
        databases,
        rate_limits: gateway::limits::RateLimitConfig {
            per_key_per_second: 1_000_000,
            per_tenant_per_second: 1_000_000,
        },
        clock: boomerang_common::time::Clock::system(),
    })
    .await?;
    suite.demo_program("bench").await?;
    let key = suite.create_key("bench", &["*:write"]).await?;
    let channel = Channel::from_shared(format!("http://{}", suite.addrs().gateway))?
        .connect()
        .await?;
    let mut client = pb::accrual_service_client::AccrualServiceClient::new(channel);
    let auth: tonic::metadata::MetadataValue<_> = format!("Bearer {key}").parse()?;
    fn authed<T>(
        auth: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
        m: T,
    ) -> Request<T> {
        let mut req = Request::new(m);
        req.metadata_mut().insert("authorization", auth.clone());
        req
    }
    client
        .enroll_member(authed(
            &auth,
            pb::EnrollMemberRequest {
                idempotency_key: "bench-enrol".into(),
                program_id: "demo".into(),
                customer_id: "c-1".into(),
                ..Default::default()
            },
        ))
        .await?;
    let purchase = pb::Purchase {
        program_id: "demo".into(),
        order_id: "o-1".into(),
        customer_id: "c-1".into(),
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
    };
    let mut latencies = Histogram::<u64>::new(3)?;
    for i in 0..(50 + args.calls) {
        let sent = Instant::now();
        if args.record {
            let order = pb::Purchase {
                order_id: format!("o-{i}"),
                ..purchase.clone()
            };
            let req = pb::RecordPurchaseRequest {
                idempotency_key: format!("o-{i}"),
                purchase: Some(order),
            };
            client.record_purchase(authed(&auth, req)).await?;
        } else {
            let req = pb::PreviewPurchaseRequest {
                purchase: Some(purchase.clone()),
            };
            client.preview_purchase(authed(&auth, req)).await?;
        }
        if i >= 50 {
            latencies.record(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX))?;
        }
    }
    suite.stop().await?;
    let q = |p: f64| latencies.value_at_quantile(p) as f64 / 1_000.0;
    println!(
        "{} via the gateway on {backend}, {} calls one at a time: p50 {:.2} ms p90 {:.2} ms p99 {:.2} ms min {:.2} ms ({:.0}/s)",
        if args.record {
            "RecordPurchase"
        } else {
            "PreviewPurchase"
        },
        args.calls,
        q(0.5),
        q(0.9),
        q(0.99),
        latencies.min() as f64 / 1_000.0,
        1_000.0 / latencies.mean() * 1_000.0,
    );
    Ok(())
}
