//! Configuration of accrual-svc: defaults, then the `[accrual]` table of
//! `$BOOMERANG_CONFIG`, then `BOOMERANG_ACCRUAL__*` environment variables.
use std::net::SocketAddr;

use boomerang_common::{
    auth::InternalAuthConfig, balance::validate_urls, config::ServerConfig, db::DatabaseConfig,
    jobs::RunnerConfig, telemetry::TelemetryConfig,
};
use serde::{Deserialize, Serialize};

/// Where the services accrual calls run: a URL whose host name resolves to
/// every replica (a headless Service; re-resolved every 5 s), or URLs
/// separated by commas.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upstreams {
    /// wallet-svc.
    pub wallet: String,
    /// campaign-svc.
    pub campaign: String,
    /// referral-svc.
    pub referral: String,
}

impl Default for Upstreams {
    fn default() -> Self {
        Self {
            wallet: "http://127.0.0.1:50061".into(),
            campaign: "http://127.0.0.1:50063".into(),
            referral: "http://127.0.0.1:50064".into(),
        }
    }
}

/// Everything accrual-svc needs to start.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// gRPC listener.
    pub server: ServerConfig,
    /// Its own database.
    pub database: DatabaseConfig,
    /// Logs, traces, metrics.
    pub telemetry: TelemetryConfig,
    /// Durable jobs and outbox relay.
    pub jobs: RunnerConfig,
    /// The platform key: verifies callers' credentials, signs its own.
    pub internal_auth: InternalAuthConfig,
    /// The services accrual calls.
    pub upstreams: Upstreams,
    /// Run the outbox relay here (off: messages wait in the outbox for a replica that runs it).
    pub relay: bool,
    /// Pages of 500 purchases a what-if job prices per run (each run well
    /// inside a job's lease; where it stands is kept after each).
    pub simulation_chunk_pages: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::on(SocketAddr::from(([127, 0, 0, 1], 50062))),
            database: DatabaseConfig::sqlite_in(".boomerang", "accrual"),
            telemetry: TelemetryConfig::default(),
            // The relay delivers a purchase's credits by the hundred: wider
            // leases keep up with purchases at peak and give the wallet's
            // group commit full groups.
            jobs: RunnerConfig {
                batch_size: 128,
                ..RunnerConfig::default()
            },
            internal_auth: InternalAuthConfig::default(),
            upstreams: Upstreams::default(),
            relay: true,
            simulation_chunk_pages: crate::accrual::simulation_jobs::CHUNK,
        }
    }
}

impl Config {
    /// Loads and validates; errors name the bad key.
    pub fn load() -> anyhow::Result<Self> {
        Self::load_from(None)
    }

    /// As [`Config::load`], reading `file` when given instead of `$BOOMERANG_CONFIG`.
    pub fn load_from(file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let cfg: Self = boomerang_common::config::load_file("accrual", file)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values that types cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        // At most 50,000 purchases a run (about a second here): inside any lease.
        if self.simulation_chunk_pages == 0 || self.simulation_chunk_pages > 100 {
            anyhow::bail!("simulation_chunk_pages: 1 to 100");
        }
        self.server
            .validate()
            .and(self.database.validate())
            .and(self.jobs.validate())
            .and(self.internal_auth.validate())
            .and(validate_urls("upstreams.wallet", &self.upstreams.wallet))
            .and(validate_urls(
                "upstreams.campaign",
                &self.upstreams.campaign,
            ))
            .and(validate_urls(
                "upstreams.referral",
                &self.upstreams.referral,
            ))
            .map_err(|e| anyhow::anyhow!("invalid accrual configuration: {e}"))
    }
}
