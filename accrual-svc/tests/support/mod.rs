//! The stack accrual-svc's flows run on: wallet-svc and campaign-svc
//! in-process, accrual-svc in-process or as a child process, over fresh
//! databases; and the programs and purchases the flows use.
#![allow(dead_code, unused_imports)] // each test file uses a different part

pub use std::{net::SocketAddr, time::Duration};

pub use boomerang_common::{
    auth::Credentials,
    backend_tests,
    jobs::RunnerConfig,
    testing::{AsTenant, TestBackend, TestDb, channel, eventually, internal_auth},
    time::{Clock, to_timestamp},
};
pub use boomerang_proto::{
    accrual::v1::{self as pb, accrual_service_client::AccrualServiceClient},
    campaign::v1::{self as cpb, campaign_service_client::CampaignServiceClient},
    common::v1::{Channel, Money},
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
pub use tokio_util::sync::{CancellationToken, DropGuard};
pub use tonic::{service::interceptor::InterceptedService, transport};

pub type Accrual = AccrualServiceClient<InterceptedService<transport::Channel, AsTenant>>;
pub type Wallet = WalletServiceClient<InterceptedService<transport::Channel, AsTenant>>;
pub type Campaign = CampaignServiceClient<InterceptedService<transport::Channel, AsTenant>>;

/// 2026-06-15T10:00:00Z, a Monday.
pub const NOW: i64 = 1_781_517_600_000_000;
pub const DAY: i64 = 86_400_000_000;

pub fn fast_jobs() -> RunnerConfig {
    RunnerConfig {
        poll_interval_ms: 10,
        backoff_base_ms: 20,
        backoff_max_ms: 200,
        ..RunnerConfig::default()
    }
}

pub fn local() -> anyhow::Result<boomerang_common::config::ServerConfig> {
    Ok(boomerang_common::config::ServerConfig::on(
        "127.0.0.1:0".parse()?,
    ))
}

/// Wallet and campaign in-process; accrual in-process or as a child process.
pub struct Stack {
    pub accrual: Accrual,
    pub wallet: Wallet,
    pub campaign: Campaign,
    pub clock: Clock,
    pub wallet_addr: SocketAddr,
    pub campaign_addr: SocketAddr,
    pub accrual_db: TestDb,
    _guards: Vec<DropGuard>,
    _dbs: Vec<TestDb>,
}

impl Stack {
    pub async fn start(backend: TestBackend, in_process_accrual: bool) -> anyhow::Result<Self> {
        let clock = Clock::manual(NOW);
        let (wallet_db, campaign_db, accrual_db) = (
            TestDb::fresh(backend, "wallet").await?,
            TestDb::fresh(backend, "campaign").await?,
            TestDb::fresh(backend, "accrual").await?,
        );
        let mut guards = Vec::new();
        let wallet = wallet_svc::App::build_with_clock(
            wallet_svc::Config {
                server: local()?,
                database: wallet_db.config.clone(),
                jobs: fast_jobs(),
                internal_auth: internal_auth(),
                ..Default::default()
            },
            clock.clone(),
        )
        .await?;
        let campaign = campaign_svc::App::build_with_clock(
            campaign_svc::Config {
                server: local()?,
                database: campaign_db.config.clone(),
                jobs: fast_jobs(),
                internal_auth: internal_auth(),
                ..Default::default()
            },
            clock.clone(),
        )
        .await?;
        let (wallet_addr, campaign_addr) = (wallet.local_addr()?, campaign.local_addr()?);
        tokio::spawn(wallet.run_until(stopper(&mut guards)));
        tokio::spawn(campaign.run_until(stopper(&mut guards)));
        let accrual_addr = if in_process_accrual {
            let app = accrual_svc::App::build_with_clock(
                accrual_config(&accrual_db, wallet_addr, campaign_addr, true)?,
                clock.clone(),
            )
            .await?;
            let addr = app.local_addr()?;
            tokio::spawn(app.run_until(stopper(&mut guards)));
            Some(addr)
        } else {
            None
        };
        let tenant = |service| AsTenant::new(service, "acme");
        let accrual = match accrual_addr {
            Some(a) => {
                AccrualServiceClient::with_interceptor(channel(a).await?, tenant("accrual")?)
            }
            None => AccrualServiceClient::with_interceptor(
                transport::Channel::from_static("http://127.0.0.1:9").connect_lazy(),
                tenant("accrual")?,
            ),
        };
        Ok(Self {
            accrual,
            wallet: WalletServiceClient::with_interceptor(
                channel(wallet_addr).await?,
                tenant("wallet")?,
            ),
            campaign: CampaignServiceClient::with_interceptor(
                channel(campaign_addr).await?,
                tenant("campaign")?,
            ),
            clock,
            wallet_addr,
            campaign_addr,
            accrual_db,
            _guards: guards,
            _dbs: vec![wallet_db, campaign_db],
        })
    }

    /// Another accrual replica on the same database, without its relays,
    /// running until `guards` drop.
    pub async fn replica(&self, guards: &mut Vec<DropGuard>) -> anyhow::Result<Accrual> {
        let cfg = accrual_config(
            &self.accrual_db,
            self.wallet_addr,
            self.campaign_addr,
            false,
        )?;
        let app = accrual_svc::App::build_with_clock(cfg, self.clock.clone()).await?;
        let addr = app.local_addr()?;
        tokio::spawn(app.run_until(stopper(guards)));
        let tenant = AsTenant::new("accrual", "acme")?;
        Ok(AccrualServiceClient::with_interceptor(
            channel(addr).await?,
            tenant,
        ))
    }

    pub async fn program(&mut self, id: &str, program: pb::Program) -> anyhow::Result<()> {
        let program = pb::Program {
            program_id: id.into(),
            ..program
        };
        self.accrual
            .upsert_program(pb::UpsertProgramRequest {
                idempotency_key: format!("p-{id}"),
                program: Some(program),
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    pub async fn enroll(
        &mut self,
        program: &str,
        customer: &str,
    ) -> anyhow::Result<pb::EnrollMemberResponse> {
        let req = pb::EnrollMemberRequest {
            idempotency_key: format!("enroll-{program}-{customer}"),
            program_id: program.into(),
            customer_id: customer.into(),
            ..Default::default()
        };
        Ok(self.accrual.enroll_member(req).await?.into_inner())
    }

    pub async fn buy(
        &mut self,
        program: &str,
        order: &str,
        customer: &str,
        lines: &[(&str, &str)],
    ) -> anyhow::Result<pb::RecordPurchaseResponse> {
        let req = pb::RecordPurchaseRequest {
            idempotency_key: format!("buy-{order}"),
            purchase: Some(purchase(program, order, customer, lines, NOW)),
        };
        Ok(self.accrual.record_purchase(req).await?.into_inner())
    }

    /// (available, pending) of an asset, once the relay delivered `pending` (or after 10 s).
    pub async fn balance_when(
        &mut self,
        customer: &str,
        asset: &str,
        want: (&str, &str),
    ) -> anyhow::Result<(String, String)> {
        let (w, c, a) = (self.wallet.clone(), customer.to_owned(), asset.to_owned());
        let read = move || {
            let (mut w, c, a) = (w.clone(), c.clone(), a.clone());
            async move {
                let b = w
                    .get_balance(wpb::GetBalanceRequest {
                        customer_id: c,
                        asset: a,
                        as_of: None,
                    })
                    .await?
                    .into_inner();
                let b = b.balances.into_iter().next().unwrap_or_default();
                let m = |m: Option<Money>| m.map(|m| m.amount).unwrap_or_else(|| "0".into());
                anyhow::Ok((m(b.available), m(b.pending)))
            }
        };
        let target = (want.0.to_owned(), want.1.to_owned());
        let probe = read.clone();
        let _ = eventually(&format!("{customer} {asset} at {want:?}"), || {
            let (probe, target) = (probe.clone(), target.clone());
            async move { Ok(probe().await? == target) }
        })
        .await;
        read().await
    }
}

pub fn stopper(
    guards: &mut Vec<DropGuard>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let token = CancellationToken::new();
    guards.push(token.clone().drop_guard());
    async move { token.cancelled().await }
}

pub fn accrual_config(
    db: &TestDb,
    wallet: SocketAddr,
    campaign: SocketAddr,
    relay: bool,
) -> anyhow::Result<accrual_svc::Config> {
    Ok(accrual_svc::Config {
        server: local()?,
        database: db.config.clone(),
        jobs: fast_jobs(),
        // No referral-svc here: its notices wait in the outbox.
        upstreams: accrual_svc::config::Upstreams {
            wallet: format!("http://{wallet}"),
            campaign: format!("http://{campaign}"),
            ..Default::default()
        },
        relay,
        internal_auth: internal_auth(),
        ..Default::default()
    })
}

pub fn eur(amount: &str) -> Money {
    Money {
        amount: amount.into(),
        asset: "EUR".into(),
    }
}

pub fn purchase(
    program: &str,
    order: &str,
    customer: &str,
    lines: &[(&str, &str)],
    at: i64,
) -> pb::Purchase {
    pb::Purchase {
        program_id: program.into(),
        order_id: order.into(),
        customer_id: customer.into(),
        currency: "EUR".into(),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, (category, price))| pb::PurchaseLine {
                line_id: format!("l{i}"),
                sku: format!("sku-{i}"),
                category: (*category).into(),
                unit_price: Some(eur(price)),
                quantity: 1,
                discount: None,
            })
            .collect(),
        channel: Channel::Online as i32,
        store_id: String::new(),
        occurred_at: Some(to_timestamp(at)),
    }
}

pub fn cashback(rate: &str, over_100: Option<&str>) -> pb::Program {
    pb::Program {
        name: "Cashback".into(),
        currency: "EUR".into(),
        timezone: "Europe/Rome".into(),
        earn_rules: vec![pb::EarnRule {
            asset: "EUR".into(),
            basis: pb::EarnBasis::Percent as i32,
            rate: rate.into(),
        }],
        thresholds: over_100
            .map(|r| pb::Threshold {
                over: Some(eur("100.00")),
                comparison: pb::ThresholdComparison::GreaterThan as i32,
                asset: "EUR".into(),
                rate: r.into(),
            })
            .into_iter()
            .collect(),
        return_window_days: 14,
        ..Default::default()
    }
}

pub fn points(per_eur: &str) -> pb::Program {
    pb::Program {
        name: "Points".into(),
        currency: "EUR".into(),
        timezone: "Europe/Rome".into(),
        earn_rules: vec![pb::EarnRule {
            asset: "PTS".into(),
            basis: pb::EarnBasis::PerCurrencyUnit as i32,
            rate: per_eur.into(),
        }],
        return_window_days: 14,
        ..Default::default()
    }
}

pub fn amounts(r: &pb::RecordPurchaseResponse) -> Vec<String> {
    r.rewards
        .iter()
        .map(|x| x.amount.clone().unwrap_or_default().amount)
        .collect()
}

pub fn monthly_cap(cap: &str) -> pb::Program {
    pb::Program {
        caps: vec![pb::Cap {
            asset: "EUR".into(),
            per_order: None,
            per_period: Some(eur(cap)),
            period: pb::CapPeriod::Month as i32,
        }],
        ..cashback("10", None)
    }
}

/// A TCP proxy to `to` that holds every byte coming back for `delay`: a wallet
/// whose answers are slow to arrive (busy, or its node paused).
pub async fn slow_answers(to: SocketAddr, delay: Duration) -> anyhow::Result<SocketAddr> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(to).await else {
                continue;
            };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut client_read, &mut server_write).await });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = server_read.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// accrual-svc as a real process, configured through its environment.
pub struct Child {
    pub process: std::process::Child,
    pub addr: SocketAddr,
}

impl Child {
    pub fn spawn(cfg: &accrual_svc::Config, relay: bool) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_accrual-svc"));
        cmd.env("BOOMERANG_ACCRUAL__SERVER__LISTEN", addr.to_string())
            .env("BOOMERANG_ACCRUAL__DATABASE__URL", &cfg.database.url)
            .env(
                "BOOMERANG_ACCRUAL__UPSTREAMS__WALLET",
                &cfg.upstreams.wallet,
            )
            .env(
                "BOOMERANG_ACCRUAL__UPSTREAMS__CAMPAIGN",
                &cfg.upstreams.campaign,
            )
            .env("BOOMERANG_ACCRUAL__RELAY", relay.to_string())
            .env(
                "BOOMERANG_ACCRUAL__INTERNAL_AUTH__KEY",
                &cfg.internal_auth.key,
            )
            .env("BOOMERANG_ACCRUAL__JOBS__POLL_INTERVAL_MS", "10")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null());
        if let Some(schema) = &cfg.database.schema {
            cmd.env("BOOMERANG_ACCRUAL__DATABASE__SCHEMA", schema);
        }
        Ok(Self {
            process: cmd.spawn()?,
            addr,
        })
    }

    pub async fn client(&mut self) -> anyhow::Result<Accrual> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(c) = channel(self.addr).await {
                return Ok(AccrualServiceClient::with_interceptor(
                    c,
                    AsTenant::new("accrual", "acme")?,
                ));
            }
            if let Some(status) = self.process.try_wait()? {
                anyhow::bail!("accrual-svc exited: {status}");
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "accrual-svc did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn kill(&mut self) -> anyhow::Result<()> {
        self.process.kill()?;
        self.process.wait()?;
        Ok(())
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
