//! Where a scenario runs: in-process services on SQLite files in a
//! temporary folder, or on PostgreSQL in fresh schemas; one platform key.
use std::{net::SocketAddr, time::Duration};

use boomerang_common::{
    auth::{Credentials, InternalAuthConfig, generate_pem},
    config::ServerConfig,
    db::DatabaseConfig,
    tenant::TenantId,
    time::now_micros,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{Ascii, MetadataValue};

/// The tenant every scenario acts for.
pub const TENANT: &str = "bench";

/// A run's databases and key.
pub struct Env {
    /// Group commit of wallet credits.
    pub group_commit: bool,
    /// Rows each campaign budget is split over.
    pub budget_slots: u32,
    dir: tempfile::TempDir,
    url: String,
    run: String,
    auth: InternalAuthConfig,
    schemas: std::sync::Mutex<Vec<String>>,
}

impl Env {
    /// On PostgreSQL at `url`, or SQLite when empty.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Self::keyed(url, generate_pem()?)
    }

    /// The environment of a scenario's `common` options.
    pub fn of(common: &crate::Common) -> anyhow::Result<Self> {
        let mut env = Self::new(&common.database_url)?;
        env.group_commit = !common.no_group_commit;
        env.budget_slots = common.budget_slots;
        Ok(env)
    }

    /// As [`Env::new`], with the platform key read from `key_file` when given.
    pub fn with_key_file(url: &str, key_file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        match key_file {
            Some(path) => Self::keyed(url, std::fs::read_to_string(path)?),
            None => Self::new(url),
        }
    }

    fn keyed(url: &str, pem: String) -> anyhow::Result<Self> {
        Ok(Self {
            group_commit: true,
            budget_slots: campaign_svc::domain::budget::SLOTS,
            dir: tempfile::tempdir()?,
            url: url.to_owned(),
            run: format!("bench_{}", now_micros()),
            schemas: std::sync::Mutex::default(),
            // Credentials live an hour, so one minted at the start outlasts any run.
            auth: InternalAuthConfig {
                ttl_ms: 3_600_000,
                ..InternalAuthConfig::with_key(pem)
            },
        })
    }

    /// "SQLite" or "PostgreSQL".
    pub fn backend(&self) -> &'static str {
        if self.url.starts_with("http") {
            return "a running service";
        }
        if self.url.is_empty() {
            "SQLite"
        } else {
            "PostgreSQL"
        }
    }

    /// A fresh database (file or schema) for `name`.
    pub fn database(&self, name: &str, max_connections: u32) -> DatabaseConfig {
        let base = if self.url.is_empty() {
            let file = self.dir.path().join(format!("{}_{name}.db", self.run));
            DatabaseConfig {
                url: format!("sqlite://{}", file.display()),
                ..DatabaseConfig::default()
            }
        } else {
            let schema = format!("{}_{name}", self.run);
            if let Ok(mut schemas) = self.schemas.lock() {
                schemas.push(schema.clone());
            }
            DatabaseConfig {
                url: self.url.clone(),
                schema: Some(schema),
                ..DatabaseConfig::default()
            }
        };
        DatabaseConfig {
            max_connections,
            ..base
        }
    }

    /// Drops the PostgreSQL schemas the run made (SQLite files go with the
    /// temporary folder).
    pub async fn finish(self) -> anyhow::Result<()> {
        use sqlx::Connection as _;
        let schemas = std::mem::take(
            &mut *self
                .schemas
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?,
        );
        if schemas.is_empty() || !self.url.starts_with("postgres") {
            return Ok(());
        }
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.url).await?;
        let mut unique = schemas;
        unique.sort();
        unique.dedup();
        for schema in unique {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut conn)
                .await?;
        }
        Ok(())
    }

    /// Refreshes the planner's statistics of the run's PostgreSQL schemas
    /// once `after` has passed (the warm-up: the tables hold rows by then), as
    /// autovacuum does within a minute on a live database. Without it a run
    /// keeps the plans its prepared statements got while the tables were
    /// empty: sequential scans of tables that grow all run long.
    pub fn analyze_after(&self, after: Duration) -> JoinHandle<anyhow::Result<()>> {
        let schemas = self.schemas.lock().map(|s| s.clone()).unwrap_or_default();
        let url = self.url.clone();
        tokio::spawn(async move {
            use sqlx::{Connection as _, Row as _};
            if schemas.is_empty() || !url.starts_with("postgres") {
                return Ok(());
            }
            tokio::time::sleep(after).await;
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&url).await?;
            let tables = sqlx::query(
                "SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname = ANY(string_to_array($1, ','))",
            )
            .bind(schemas.join(","))
            .fetch_all(&mut conn)
            .await?;
            for table in tables {
                let table: String = table.try_get("t")?;
                sqlx::query(&format!("ANALYZE {table}"))
                    .execute(&mut conn)
                    .await?;
            }
            anyhow::Ok(())
        })
    }

    /// Drives `op` under `load` against this environment, its statistics
    /// refreshed at the end of the warm-up ([`Env::analyze_after`]).
    pub async fn drive(
        &self,
        scenario: &str,
        load: crate::drive::Load,
        op: crate::drive::Op,
    ) -> anyhow::Result<crate::drive::Run> {
        let analyzed = self.analyze_after(load.warmup);
        let run = crate::drive::drive(scenario, self.backend(), load, op).await?;
        analyzed.await??;
        Ok(run)
    }

    /// The platform key of the run.
    pub fn auth(&self) -> &InternalAuthConfig {
        &self.auth
    }

    /// `Bearer <credential>` for calls to `service` as a service would call it.
    pub fn bearer(&self, service: &str) -> anyhow::Result<MetadataValue<Ascii>> {
        let issuer = Credentials::load(&self.auth)?.issuer("bench", &["*:write"])?;
        let tenant = TenantId::parse(TENANT).map_err(anyhow::Error::msg)?;
        let token = issuer.mint(service, &tenant, "bench", issuer.scopes())?;
        Ok(format!("Bearer {token}").parse()?)
    }

    /// A wallet-svc on loopback over a fresh database.
    pub async fn wallet(&self, max_connections: u32) -> anyhow::Result<Running> {
        let mut cfg = wallet_svc::Config {
            server: ServerConfig::on("127.0.0.1:0".parse()?),
            database: self.database("wallet", max_connections),
            internal_auth: self.auth.clone(),
            ..wallet_svc::Config::default()
        };
        cfg.ledger.group_commit.enabled = self.group_commit;
        let app = wallet_svc::App::build(cfg).await?;
        Ok(Running::spawned(app.local_addr()?, |stopped| {
            tokio::spawn(app.run_until(async move { stopped.cancelled().await }))
        }))
    }

    /// A campaign-svc on loopback over a fresh database.
    pub async fn campaign(&self, max_connections: u32) -> anyhow::Result<Running> {
        let mut cfg = campaign_svc::Config {
            server: ServerConfig::on("127.0.0.1:0".parse()?),
            database: self.database("campaign", max_connections),
            internal_auth: self.auth.clone(),
            ..campaign_svc::Config::default()
        };
        cfg.budget.slots = self.budget_slots;
        let app = campaign_svc::App::build(cfg).await?;
        Ok(Running::spawned(app.local_addr()?, |stopped| {
            tokio::spawn(app.run_until(async move { stopped.cancelled().await }))
        }))
    }

    /// Every service in-process, the demo program set up for [`TENANT`].
    pub async fn suite(&self, name: &str) -> anyhow::Result<boomerang::Suite> {
        // All five share one PostgreSQL of 100 connections (the default):
        // pools that could grow past it leave a service unable to connect
        // while the others hold theirs idle.
        let db = |service: &str, pool| self.database(&format!("{name}_{service}"), pool);
        let mut configs = boomerang::Configs::default().with_internal_auth(&self.auth);
        configs.wallet.ledger.group_commit.enabled = self.group_commit;
        configs.campaign.budget.slots = self.budget_slots;
        let suite = boomerang::Suite::start(boomerang::Options {
            configs,
            host: std::net::Ipv4Addr::LOCALHOST.into(),
            ports: boomerang::Ports::ANY,
            databases: boomerang::Databases {
                gateway: db("gateway", 4),
                wallet: db("wallet", 20),
                accrual: db("accrual", 32),
                campaign: db("campaign", 12),
                referral: db("referral", 20),
                notify: db("notify", 4),
            },
            rate_limits: gateway::limits::RateLimitConfig {
                per_key_per_second: 1_000_000,
                per_tenant_per_second: 1_000_000,
            },
            clock: boomerang_common::time::Clock::system(),
        })
        .await?;
        suite.demo_program(TENANT).await?;
        Ok(suite)
    }
}

/// A service running in this process, or elsewhere.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    own: Option<(CancellationToken, JoinHandle<anyhow::Result<()>>)>,
}

impl Running {
    /// One `start` spawns here, stopped when its token is cancelled.
    fn spawned(
        addr: SocketAddr,
        start: impl FnOnce(CancellationToken) -> JoinHandle<anyhow::Result<()>>,
    ) -> Self {
        let stop = CancellationToken::new();
        let task = start(stop.clone());
        Self {
            addr,
            own: Some((stop, task)),
        }
    }

    /// One running elsewhere, at `address` (`http://host:port`).
    pub fn at(address: &str) -> anyhow::Result<Self> {
        let hostport = address.trim_start_matches("http://").trim_end_matches('/');
        let addr = std::net::ToSocketAddrs::to_socket_addrs(hostport)?
            .next()
            .ok_or_else(|| anyhow::anyhow!("{address} does not resolve"))?;
        Ok(Self { addr, own: None })
    }

    /// Drains and stops it, if it runs in this process.
    pub async fn stop(self) -> anyhow::Result<()> {
        match self.own {
            Some((stop, task)) => {
                stop.cancel();
                task.await?
            }
            None => Ok(()),
        }
    }
}
