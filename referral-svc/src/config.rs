//! Configuration of referral-svc: defaults, then the `[referral]` table of
//! `$BOOMERANG_CONFIG`, then `BOOMERANG_REFERRAL__*` environment variables.
use std::net::SocketAddr;

use boomerang_common::{
    auth::InternalAuthConfig, balance::validate_urls, config::ServerConfig, db::DatabaseConfig,
    jobs::RunnerConfig, telemetry::TelemetryConfig,
};
use serde::{Deserialize, Serialize};

/// Everything referral-svc needs to start.
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
    /// wallet-svc's replicas: a name resolving to each (e.g.
    /// `http://boomerang-wallet-headless:50061`), or URLs separated by commas.
    pub wallet_url: String,
    /// Attributions from one IP or device per hour before VELOCITY refusals.
    pub velocity_per_hour: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::on(SocketAddr::from(([127, 0, 0, 1], 50064))),
            database: DatabaseConfig::sqlite_in(".boomerang", "referral"),
            telemetry: TelemetryConfig::default(),
            jobs: RunnerConfig::default(),
            internal_auth: InternalAuthConfig::default(),
            wallet_url: "http://127.0.0.1:50061".into(),
            velocity_per_hour: 5,
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
        let cfg: Self = boomerang_common::config::load_file("referral", file)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values that types cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.server
            .validate()
            .and(self.database.validate())
            .and(self.jobs.validate())
            .and(self.internal_auth.validate())
            .and(validate_urls("wallet_url", &self.wallet_url))
            .map_err(|e| anyhow::anyhow!("invalid referral configuration: {e}"))
    }
}
