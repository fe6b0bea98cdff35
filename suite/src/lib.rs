//! The whole of Boomerang in one process: the gateway and the five services,
//! each with its own database (a SQLite file each, or a PostgreSQL schema
//! each), for local use, demos and end-to-end tests.
pub mod as_code;
pub mod check;

use std::{
    net::{IpAddr, SocketAddr},
    path::Path,
};

use std::sync::Arc;

use boomerang_common::{
    auth::{Credentials, InternalAuthConfig, Issuer},
    channel::{Upstream, acting_for},
    config::ServerConfig,
    db::DatabaseConfig,
    tenant::TenantId,
    time::Clock,
};
use gateway::domain::scope::Scope;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// One database per service.
#[derive(Clone, Debug)]
pub struct Databases {
    /// gateway (tenants, keys).
    pub gateway: DatabaseConfig,
    /// wallet-svc.
    pub wallet: DatabaseConfig,
    /// accrual-svc.
    pub accrual: DatabaseConfig,
    /// campaign-svc.
    pub campaign: DatabaseConfig,
    /// referral-svc.
    pub referral: DatabaseConfig,
    /// notify-svc.
    pub notify: DatabaseConfig,
}

impl Databases {
    /// A SQLite file per service in `dir`.
    pub fn sqlite_in(dir: &Path) -> Self {
        let dir = dir.display().to_string();
        let db = |name: &str| DatabaseConfig::sqlite_in(&dir, name);
        Self {
            gateway: db("gateway"),
            wallet: db("wallet"),
            accrual: db("accrual"),
            campaign: db("campaign"),
            referral: db("referral"),
            notify: db("notify"),
        }
    }

    /// A schema per service (named after it) in one PostgreSQL database.
    pub fn postgres(url: &str) -> Self {
        let db = |name: &str| DatabaseConfig {
            url: url.to_owned(),
            schema: Some(name.to_owned()),
            ..DatabaseConfig::default()
        };
        Self {
            gateway: db("gateway"),
            wallet: db("wallet"),
            accrual: db("accrual"),
            campaign: db("campaign"),
            referral: db("referral"),
            notify: db("notify"),
        }
    }
}

/// Ports to listen on; 0 picks a free one.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    /// The gateway (the only one callers need).
    pub gateway: u16,
    /// wallet-svc.
    pub wallet: u16,
    /// accrual-svc.
    pub accrual: u16,
    /// campaign-svc.
    pub campaign: u16,
    /// referral-svc.
    pub referral: u16,
    /// notify-svc.
    pub notify: u16,
}

impl Ports {
    /// The documented defaults: gateway 50051, services 50061-50065.
    pub const DEFAULT: Self = Self {
        gateway: 50051,
        wallet: 50061,
        accrual: 50062,
        campaign: 50063,
        referral: 50064,
        notify: 50065,
    };
    /// Any free ports (tests).
    pub const ANY: Self = Self {
        gateway: 0,
        wallet: 0,
        accrual: 0,
        campaign: 0,
        referral: 0,
        notify: 0,
    };
}

/// Each service's configuration, before `up` wires addresses and databases.
#[derive(Clone, Debug, Default)]
pub struct Configs {
    /// gateway.
    pub gateway: gateway::Config,
    /// wallet-svc.
    pub wallet: wallet_svc::Config,
    /// accrual-svc.
    pub accrual: accrual_svc::Config,
    /// campaign-svc.
    pub campaign: campaign_svc::Config,
    /// referral-svc.
    pub referral: referral_svc::Config,
    /// notify-svc.
    pub notify: notify_svc::Config,
}

impl Configs {
    /// Every service's configuration read as its own binary reads it: `file`
    /// (or `$BOOMERANG_CONFIG`), then `BOOMERANG_<SERVICE>__*`; unknown keys
    /// and bad values fail naming them.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Ok(Self {
            gateway: gateway::Config::load_from(file)?,
            wallet: wallet_svc::Config::load_from(file)?,
            accrual: accrual_svc::Config::load_from(file)?,
            campaign: campaign_svc::Config::load_from(file)?,
            referral: referral_svc::Config::load_from(file)?,
            notify: notify_svc::Config::load_from(file)?,
        })
    }

    /// Every process with the same platform key (`up` runs them as one).
    pub fn with_internal_auth(mut self, auth: &InternalAuthConfig) -> Self {
        self.gateway.internal_auth = auth.clone();
        self.wallet.internal_auth = auth.clone();
        self.accrual.internal_auth = auth.clone();
        self.campaign.internal_auth = auth.clone();
        self.referral.internal_auth = auth.clone();
        self.notify.internal_auth = auth.clone();
        self
    }
}

/// What to start.
#[derive(Clone, Debug)]
pub struct Options {
    /// Each service's configuration; its listen address, database and
    /// upstreams are replaced by what `host`, `ports` and `databases` say.
    pub configs: Configs,
    /// Interface to bind.
    pub host: IpAddr,
    /// Ports.
    pub ports: Ports,
    /// Databases.
    pub databases: Databases,
    /// The gateway's rate limits (instead of `configs.gateway.rate_limits`).
    pub rate_limits: gateway::limits::RateLimitConfig,
    /// The clock of every service (tests move a manual one).
    pub clock: Clock,
}

/// Where everything listens.
#[derive(Clone, Copy, Debug)]
pub struct Addrs {
    /// The gateway.
    pub gateway: SocketAddr,
    /// wallet-svc.
    pub wallet: SocketAddr,
    /// accrual-svc.
    pub accrual: SocketAddr,
    /// campaign-svc.
    pub campaign: SocketAddr,
    /// referral-svc.
    pub referral: SocketAddr,
    /// notify-svc.
    pub notify: SocketAddr,
}

/// The running suite.
pub struct Suite {
    addrs: Addrs,
    setup: Arc<Issuer>,
    keys: gateway::repo::Keys,
    platform: TenantId,
    clock: Clock,
    stop: CancellationToken,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl Suite {
    /// The clock every service runs on.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// Builds every service (databases migrated, ports bound), then serves
    /// them; long because each service's configuration is spelled out.
    pub async fn start(opts: Options) -> anyhow::Result<Self> {
        // A service's server settings from its config, on the address `up`
        // gives it; the hops inside one process stay plaintext (TLS applies to
        // the gateway's port only).
        let server = |base: &ServerConfig, port: u16| ServerConfig {
            listen: SocketAddr::new(opts.host, port),
            tls: Default::default(),
            ..base.clone()
        };
        let dbs = &opts.databases;
        // What `up` itself sets up (the demo program) it asks for as a service would.
        let setup = Credentials::load(&opts.configs.accrual.internal_auth)?
            .issuer("boomerang-up", &["accrual:write"])?;
        let wallet = wallet_svc::App::build_with_clock(
            wallet_svc::Config {
                server: server(&opts.configs.wallet.server, opts.ports.wallet),
                database: dbs.wallet.clone(),
                ..opts.configs.wallet.clone()
            },
            opts.clock.clone(),
        )
        .await?;
        let campaign = campaign_svc::App::build_with_clock(
            campaign_svc::Config {
                server: server(&opts.configs.campaign.server, opts.ports.campaign),
                database: dbs.campaign.clone(),
                ..opts.configs.campaign.clone()
            },
            opts.clock.clone(),
        )
        .await?;

        let url = |app_addr: SocketAddr| format!("http://{app_addr}");
        let referral = referral_svc::App::build_with_clock(
            referral_svc::Config {
                server: server(&opts.configs.referral.server, opts.ports.referral),
                database: dbs.referral.clone(),
                wallet_url: url(wallet.local_addr()?),
                ..opts.configs.referral.clone()
            },
            opts.clock.clone(),
        )
        .await?;
        // Accrual calls wallet, campaign and referral, so it is built once they are bound.
        let accrual = accrual_svc::App::build_with_clock(
            accrual_svc::Config {
                server: server(&opts.configs.accrual.server, opts.ports.accrual),
                database: dbs.accrual.clone(),
                upstreams: accrual_svc::config::Upstreams {
                    wallet: url(wallet.local_addr()?),
                    campaign: url(campaign.local_addr()?),
                    referral: url(referral.local_addr()?),
                },
                ..opts.configs.accrual.clone()
            },
            opts.clock.clone(),
        )
        .await?;
        // notify-svc follows accrual, wallet, campaign and referral-svc. Its retries
        // wait real time: it runs on the system clock whatever the others'.
        let notify = notify_svc::App::build_with_clock(
            notify_svc::Config {
                server: server(&opts.configs.notify.server, opts.ports.notify),
                database: dbs.notify.clone(),
                sources: notify_svc::config::Sources {
                    accrual: url(accrual.local_addr()?),
                    wallet: url(wallet.local_addr()?),
                    campaign: url(campaign.local_addr()?),
                    referral: url(referral.local_addr()?),
                },
                ..opts.configs.notify.clone()
            },
            Clock::system(),
        )
        .await?;
        let mut addrs = Addrs {
            gateway: SocketAddr::new(opts.host, 0),
            wallet: wallet.local_addr()?,
            accrual: accrual.local_addr()?,
            campaign: campaign.local_addr()?,
            referral: referral.local_addr()?,
            notify: notify.local_addr()?,
        };
        let gateway = gateway::App::build_with_clock(
            gateway::Config {
                server: ServerConfig {
                    tls: opts.configs.gateway.server.tls.clone(),
                    ..server(&opts.configs.gateway.server, opts.ports.gateway)
                },
                database: dbs.gateway.clone(),
                upstreams: gateway::config::Upstreams {
                    wallet: url(addrs.wallet),
                    accrual: url(addrs.accrual),
                    campaign: url(addrs.campaign),
                    referral: url(addrs.referral),
                    notify: url(addrs.notify),
                    ..opts.configs.gateway.upstreams.clone()
                },
                rate_limits: opts.rate_limits.clone(),
                ..opts.configs.gateway.clone()
            },
            opts.clock.clone(),
        )
        .await?;
        addrs.gateway = gateway.local_addr()?;
        let keys = gateway.keys().clone();
        let platform = TenantId::parse(gateway.platform_tenant()).map_err(anyhow::Error::msg)?;

        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let until = |t: &CancellationToken| {
            let t = t.clone();
            async move { t.cancelled().await }
        };
        tasks.spawn(wallet.run_until(until(&stop)));
        tasks.spawn(accrual.run_until(until(&stop)));
        tasks.spawn(campaign.run_until(until(&stop)));
        tasks.spawn(referral.run_until(until(&stop)));
        tasks.spawn(notify.run_until(until(&stop)));
        tasks.spawn(gateway.run_until(until(&stop)));
        Ok(Self {
            addrs,
            setup,
            keys,
            platform,
            clock: opts.clock,
            stop,
            tasks,
        })
    }

    /// Where everything listens.
    pub fn addrs(&self) -> Addrs {
        self.addrs
    }

    /// Creates `tenant` (if new) and a key with `scopes`; returns the secret.
    pub async fn create_key(&self, tenant: &str, scopes: &[&str]) -> anyhow::Result<String> {
        let tenant = TenantId::parse(tenant).map_err(anyhow::Error::msg)?;
        let scopes = scopes
            .iter()
            .map(|s| s.parse::<Scope>().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.keys.ensure_tenant(&tenant, tenant.as_str()).await?;
        let (_, secret) = self.keys.create_key(&tenant, "demo", &scopes).await?;
        Ok(secret)
    }

    /// A platform admin key, created only if the platform has none yet
    /// (the first `up --demo`); its secret, shown once.
    pub async fn bootstrap_admin_key(&self) -> anyhow::Result<Option<String>> {
        if self.keys.has_admin_key(&self.platform).await? {
            return Ok(None);
        }
        let platform = self.platform.to_string();
        Ok(Some(self.create_key(&platform, &["*:admin"]).await?))
    }

    /// Publishes the demo loyalty program "demo" for `tenant`: 5% cashback, 10%
    /// on orders over 100.00 EUR, 1 PTS per EUR, 50 PTS welcome bonus, 14-day
    /// return window, points expiring after 12 months, 100 PTS -> 5.00 EUR.
    pub async fn demo_program(&self, tenant: &str) -> anyhow::Result<()> {
        use boomerang_proto::{accrual::v1 as pb, common::v1::Money};
        let eur = |a: &str| Money {
            amount: a.into(),
            asset: "EUR".into(),
        };
        let pts = |a: &str| Money {
            amount: a.into(),
            asset: "PTS".into(),
        };
        let program = pb::Program {
            program_id: "demo".into(),
            name: "Boomerang demo".into(),
            currency: "EUR".into(),
            timezone: "Europe/Rome".into(),
            earn_rules: vec![
                pb::EarnRule {
                    asset: "EUR".into(),
                    basis: pb::EarnBasis::Percent as i32,
                    rate: "5".into(),
                },
                pb::EarnRule {
                    asset: "PTS".into(),
                    basis: pb::EarnBasis::PerCurrencyUnit as i32,
                    rate: "1".into(),
                },
            ],
            thresholds: vec![pb::Threshold {
                over: Some(eur("100.00")),
                comparison: pb::ThresholdComparison::GreaterThan as i32,
                asset: "EUR".into(),
                rate: "10".into(),
            }],
            excluded_categories: vec!["gift_card".into(), "shipping".into()],
            return_window_days: 14,
            points_expiry_months: 12,
            welcome_bonus: Some(pts("50")),
            conversion: Some(pb::Conversion {
                points: Some(pts("100")),
                value: Some(eur("5.00")),
            }),
            ..pb::Program::default()
        };
        let channel: Upstream = boomerang_common::channel::upstream(
            "accrual",
            &format!("http://{}", self.addrs.accrual),
            self.setup.clone(),
            None,
        )?;
        let mut client = pb::accrual_service_client::AccrualServiceClient::new(channel);
        let tenant = TenantId::parse(tenant).map_err(anyhow::Error::msg)?;
        let req = acting_for(
            &tenant,
            pb::UpsertProgramRequest {
                idempotency_key: "demo-program-v1".into(),
                program: Some(program),
                ..Default::default()
            },
        );
        client.upsert_program(req).await?;
        Ok(())
    }

    /// Registers a webhook for `tenant`'s reward and tier events at `url`
    /// (`up --demo --webhook`), as the tenant's admin would; its id and secret.
    pub async fn demo_webhook(&self, tenant: &str, url: &str) -> anyhow::Result<(String, String)> {
        use boomerang_proto::notify::v1 as pb;
        let key = self.create_key(tenant, &["notify:admin"]).await?;
        let channel =
            tonic::transport::Endpoint::from_shared(format!("http://{}", self.addrs.gateway))?
                .connect()
                .await?;
        let mut hooks = pb::webhook_service_client::WebhookServiceClient::new(channel);
        let mut req = tonic::Request::new(pb::CreateWebhookRequest {
            // One webhook per URL, however often `up` restarts.
            idempotency_key: format!(
                "demo-webhook-{}",
                &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(url))[..16]
            ),
            url: url.to_owned(),
            types: Vec::new(),
            description: "boomerang up --demo --webhook".into(),
        });
        req.metadata_mut()
            .insert("authorization", format!("Bearer {key}").parse()?);
        let made = hooks.create_webhook(req).await?.into_inner();
        // Empty when `up` made it before (the secret is shown only once).
        Ok((made.webhook.unwrap_or_default().webhook_id, made.secret))
    }

    /// Runs until `shutdown`, or until a service fails.
    pub async fn run_until(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::select! {
            () = shutdown => {}
            Some(res) = self.tasks.join_next() => {
                self.stop.cancel();
                res??;
                anyhow::bail!("a service stopped unexpectedly");
            }
        }
        self.stop().await
    }

    /// Stops every service and waits for them to drain.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        while let Some(res) = self.tasks.join_next().await {
            res??;
        }
        Ok(())
    }
}
