//! The five services as separate processes (`boomerang serve <service>`) on
//! fresh PostgreSQL schemas, one or more replicas of each (callers are given
//! every replica's URL), each killable with SIGKILL and restartable on its port.
#![allow(dead_code)] // shared by the crash and the replica tests, each using a part
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

/// One process: a service and which of its replicas.
pub type Proc = (Svc, usize);

/// The running processes.
pub struct Cluster {
    replicas: usize,
    ports: BTreeMap<Proc, u16>,
    metrics_ports: BTreeMap<Proc, u16>,
    dbs: BTreeMap<Svc, TestDb>,
    children: BTreeMap<Proc, Child>,
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
    /// Fresh schemas, free ports, `replicas` processes of every service
    /// started and serving (with more than one, each serves its metrics).
    pub async fn start(replicas: usize) -> anyhow::Result<Self> {
        let (mut ports, mut metrics_ports) = (BTreeMap::new(), BTreeMap::new());
        let mut dbs = BTreeMap::new();
        let mut taken = Vec::new();
        for svc in Svc::ALL {
            for i in 0..replicas {
                for map in [&mut ports, &mut metrics_ports] {
                    let port = free_port(&taken)?;
                    taken.push(port);
                    map.insert((svc, i), port);
                }
            }
            dbs.insert(svc, TestDb::fresh(TestBackend::Postgres, svc.name()).await?);
        }
        if replicas == 1 {
            metrics_ports.clear();
        }
        let mut cluster = Self {
            replicas,
            ports,
            metrics_ports,
            dbs,
            children: BTreeMap::new(),
            logs: tempfile::tempdir()?,
            kills: 0,
        };
        for svc in Svc::ALL {
            for i in 0..replicas {
                cluster.spawn((svc, i)).await?;
            }
        }
        Ok(cluster)
    }

    /// The first replica's address.
    pub fn addr(&self, svc: Svc) -> SocketAddr {
        self.addr_of((svc, 0))
    }

    pub fn addr_of(&self, proc: Proc) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports[&proc]))
    }

    /// A lazily connected channel to one process.
    pub fn channel(&self, proc: Proc) -> anyhow::Result<Channel> {
        Ok(
            Channel::from_shared(format!("http://{}", self.addr_of(proc)))?
                .connect_timeout(Duration::from_secs(1))
                .connect_lazy(),
        )
    }

    /// Every replica's URL, as callers are configured.
    fn url(&self, svc: Svc) -> String {
        (0..self.replicas)
            .map(|i| format!("http://{}", self.addr_of((svc, i))))
            .collect::<Vec<_>>()
            .join(",")
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
            // notify-svc is not run in the cluster; the checker reads none of its tables.
            notify: boomerang_common::db::DatabaseConfig::default(),
        }
    }

    /// How a process is configured: as its own binary would be, by environment.
    fn env(&self, proc: Proc) -> Vec<(String, String)> {
        let svc = proc.0;
        let prefix = format!("BOOMERANG_{}__", svc.name().to_ascii_uppercase());
        let db = &self.dbs[&svc].config;
        let mut vars = vec![
            ("SERVER__LISTEN", self.addr_of(proc).to_string()),
            ("DATABASE__URL", db.url.clone()),
            ("DATABASE__SCHEMA", db.schema.clone().unwrap_or_default()),
            ("DATABASE__MAX_CONNECTIONS", "6".into()),
            ("TELEMETRY__FILTER", "warn".into()),
            (
                "INTERNAL_AUTH__KEY",
                boomerang_common::testing::internal_auth().key,
            ),
        ];
        if let Some(port) = self.metrics_ports.get(&proc) {
            vars.push(("TELEMETRY__METRICS_LISTEN", format!("127.0.0.1:{port}")));
        }
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

    fn log(&self, (svc, i): Proc) -> PathBuf {
        self.logs.path().join(format!("{}-{i}.log", svc.name()))
    }

    /// Starts a process and waits until it answers health checks.
    async fn spawn(&mut self, proc: Proc) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log(proc))?;
        let child = Command::new(env!("CARGO_BIN_EXE_boomerang"))
            .args(["serve", proc.0.name()])
            .envs(self.env(proc))
            .env_remove("RUST_LOG")
            .env_remove(boomerang_common::config::CONFIG_FILE_ENV)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        self.children.insert(proc, child);
        self.wait_serving(proc).await
    }

    async fn wait_serving(&mut self, proc: Proc) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let name = format!("{}-{}", proc.0.name(), proc.1);
        loop {
            if let Some(child) = self.children.get_mut(&proc)
                && let Some(status) = child.try_wait()?
            {
                anyhow::bail!("{name} exited with {status}:\n{}", self.tail(proc));
            }
            if serving(self.addr_of(proc)).await {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{name} not serving after 60 s:\n{}",
                self.tail(proc)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL of one process, no restart.
    pub async fn kill(&mut self, proc: Proc) -> anyhow::Result<()> {
        if let Some(mut child) = self.children.remove(&proc) {
            child.start_kill()?;
            child.wait().await?;
            self.kills += 1;
        }
        Ok(())
    }

    /// SIGKILL of a random replica of `svc`, then a restart on its port.
    pub async fn crash(&mut self, svc: Svc) -> anyhow::Result<()> {
        let proc = (svc, rand::random::<u32>() as usize % self.replicas);
        self.kill(proc).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.spawn(proc).await
    }

    /// Calls to Boomerang's own RPCs each live process served (the
    /// gateway's as the gateway, the services' as services), from its metrics.
    pub async fn served(&self) -> anyhow::Result<BTreeMap<Proc, u64>> {
        let mut served = BTreeMap::new();
        for (&proc, port) in &self.metrics_ports {
            if !self.children.contains_key(&proc) {
                continue;
            }
            let layer = if proc.0 == Svc::Gateway {
                "gateway"
            } else {
                "service"
            };
            let text = scrape(*port).await.map_err(|e| {
                anyhow::anyhow!("metrics of {}-{} on {port}: {e}", proc.0.name(), proc.1)
            })?;
            let calls = text
                .lines()
                .filter(|l| l.starts_with("boomerang_grpc_requests_total{"))
                .filter(|l| {
                    l.contains("method=\"/boomerang.") && l.contains(&format!("layer=\"{layer}\""))
                })
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>();
            served.insert(proc, calls as u64);
        }
        Ok(served)
    }

    /// The last lines a process logged.
    pub fn tail(&self, proc: Proc) -> String {
        let text = std::fs::read_to_string(self.log(proc)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Every process's recent log, for a failure message.
    pub fn tails(&self) -> String {
        self.ports
            .keys()
            .map(|&p| format!("--- {}-{} ---\n{}", p.0.name(), p.1, self.tail(p)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `GET /metrics` of a process's Prometheus listener.
async fn scrape(port: u16) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut text = String::new();
    conn.read_to_string(&mut text).await?;
    Ok(text)
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
