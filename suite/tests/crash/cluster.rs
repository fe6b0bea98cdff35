//! The five services as separate processes (`boomerang serve <service>`) on
//! fresh PostgreSQL schemas, each killable with SIGKILL and restartable on
//! its port.
use std::{
    collections::BTreeMap,
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    process::Stdio,
    time::Duration,
};

use boomerang::Databases;
use boomerang_common::testing::{TestBackend, TestDb};
use tokio::process::{Child, Command};
use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// The platform admin key the gateway is started with.
pub const ADMIN_KEY: &str = "bmr_crash_test_platform_admin_key_0123456789";

/// One of the five processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Svc {
    Wallet,
    Campaign,
    Referral,
    Accrual,
    Gateway,
}

impl Svc {
    pub const ALL: [Self; 5] = [
        Self::Wallet,
        Self::Campaign,
        Self::Referral,
        Self::Accrual,
        Self::Gateway,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Wallet => "wallet",
            Self::Campaign => "campaign",
            Self::Referral => "referral",
            Self::Accrual => "accrual",
            Self::Gateway => "gateway",
        }
    }
}

/// The running processes.
pub struct Cluster {
    ports: BTreeMap<Svc, u16>,
    dbs: BTreeMap<Svc, TestDb>,
    children: BTreeMap<Svc, Child>,
    logs: tempfile::TempDir,
    /// SIGKILLs sent.
    pub kills: usize,
}

/// A free port below the ephemeral range, so a restart can bind it again.
fn free_port(taken: &[u16]) -> anyhow::Result<u16> {
    for _ in 0..200 {
        let port = 20_000 + rand::random::<u16>() % 12_000;
        if !taken.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port")
}

impl Cluster {
    /// Fresh schemas, free ports, every process started and serving.
    pub async fn start() -> anyhow::Result<Self> {
        let mut ports = BTreeMap::new();
        let mut dbs = BTreeMap::new();
        for svc in Svc::ALL {
            let taken: Vec<u16> = ports.values().copied().collect();
            ports.insert(svc, free_port(&taken)?);
            dbs.insert(svc, TestDb::fresh(TestBackend::Postgres, svc.name()).await?);
        }
        let mut cluster = Self {
            ports,
            dbs,
            children: BTreeMap::new(),
            logs: tempfile::tempdir()?,
            kills: 0,
        };
        for svc in Svc::ALL {
            cluster.spawn(svc).await?;
        }
        Ok(cluster)
    }

    pub fn addr(&self, svc: Svc) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports[&svc]))
    }

    fn url(&self, svc: Svc) -> String {
        format!("http://{}", self.addr(svc))
    }

    /// The databases, as the invariant checker reads them.
    pub fn databases(&self) -> Databases {
        let db = |svc: Svc| self.dbs[&svc].config.clone();
        Databases {
            gateway: db(Svc::Gateway),
            wallet: db(Svc::Wallet),
            accrual: db(Svc::Accrual),
            campaign: db(Svc::Campaign),
            referral: db(Svc::Referral),
        }
    }

    /// How `svc` is configured: as its own binary would be, by environment.
    fn env(&self, svc: Svc) -> Vec<(String, String)> {
        let prefix = format!("BOOMERANG_{}__", svc.name().to_ascii_uppercase());
        let db = &self.dbs[&svc].config;
        let mut vars = vec![
            ("SERVER__LISTEN", self.addr(svc).to_string()),
            ("DATABASE__URL", db.url.clone()),
            ("DATABASE__SCHEMA", db.schema.clone().unwrap_or_default()),
            ("DATABASE__MAX_CONNECTIONS", "6".into()),
            ("TELEMETRY__FILTER", "warn".into()),
            (
                "INTERNAL_AUTH__KEY",
                boomerang_common::testing::internal_auth().key,
            ),
        ];
        if svc != Svc::Gateway {
            // Deliveries retried quickly, and a killed runner's leases lapse
            // in 3 s instead of 30, so a drain after the last kill is short.
            vars.extend([
                ("JOBS__LEASE_MS", "3000".to_owned()),
                ("JOBS__POLL_INTERVAL_MS", "50".to_owned()),
                ("JOBS__BACKOFF_BASE_MS", "50".to_owned()),
                ("JOBS__BACKOFF_MAX_MS", "1000".to_owned()),
            ]);
        }
        match svc {
            Svc::Accrual => vars.extend([
                ("UPSTREAMS__WALLET", self.url(Svc::Wallet)),
                ("UPSTREAMS__CAMPAIGN", self.url(Svc::Campaign)),
                ("UPSTREAMS__REFERRAL", self.url(Svc::Referral)),
            ]),
            Svc::Referral => vars.push(("WALLET_URL", self.url(Svc::Wallet))),
            Svc::Gateway => vars.extend([
                ("UPSTREAMS__WALLET", self.url(Svc::Wallet)),
                ("UPSTREAMS__ACCRUAL", self.url(Svc::Accrual)),
                ("UPSTREAMS__CAMPAIGN", self.url(Svc::Campaign)),
                ("UPSTREAMS__REFERRAL", self.url(Svc::Referral)),
                ("BOOTSTRAP_ADMIN_KEY", ADMIN_KEY.to_owned()),
                ("RATE_LIMITS__PER_KEY_PER_SECOND", "100000".to_owned()),
                ("RATE_LIMITS__PER_TENANT_PER_SECOND", "100000".to_owned()),
            ]),
            Svc::Wallet | Svc::Campaign => {}
        }
        vars.into_iter()
            .map(|(k, v)| (format!("{prefix}{k}"), v))
            .collect()
    }

    fn log(&self, svc: Svc) -> PathBuf {
        self.logs.path().join(format!("{}.log", svc.name()))
    }

    /// Starts `svc` and waits until it answers health checks.
    async fn spawn(&mut self, svc: Svc) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log(svc))?;
        let child = Command::new(env!("CARGO_BIN_EXE_boomerang"))
            .args(["serve", svc.name()])
            .envs(self.env(svc))
            .env_remove("RUST_LOG")
            .env_remove(boomerang_common::config::CONFIG_FILE_ENV)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        self.children.insert(svc, child);
        self.wait_serving(svc).await
    }

    async fn wait_serving(&mut self, svc: Svc) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = self.children.get_mut(&svc)
                && let Some(status) = child.try_wait()?
            {
                anyhow::bail!("{} exited with {status}:\n{}", svc.name(), self.tail(svc));
            }
            if serving(self.addr(svc)).await {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{} not serving after 60 s:\n{}",
                svc.name(),
                self.tail(svc)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, then a restart on the same port.
    pub async fn crash(&mut self, svc: Svc) -> anyhow::Result<()> {
        if let Some(mut child) = self.children.remove(&svc) {
            child.start_kill()?;
            child.wait().await?;
            self.kills += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.spawn(svc).await
    }

    /// The last lines each process logged.
    pub fn tail(&self, svc: Svc) -> String {
        let text = std::fs::read_to_string(self.log(svc)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Every process's recent log, for a failure message.
    pub fn tails(&self) -> String {
        Svc::ALL
            .iter()
            .map(|&s| format!("--- {} ---\n{}", s.name(), self.tail(s)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

async fn serving(addr: SocketAddr) -> bool {
    let Ok(endpoint) = Channel::from_shared(format!("http://{addr}")) else {
        return false;
    };
    let Ok(Ok(channel)) = tokio::time::timeout(Duration::from_secs(1), endpoint.connect()).await
    else {
        return false;
    };
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: boomerang_common::server::READINESS.into(),
        })
        .await;
    answer.is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32)
}
