//! Configuration of wallet-svc: defaults, then the `[wallet]` table of
//! `$BOOMERANG_CONFIG`, then `BOOMERANG_WALLET__*` environment variables.
use std::net::SocketAddr;

use boomerang_common::{
    auth::InternalAuthConfig, config::ServerConfig, db::DatabaseConfig, jobs::RunnerConfig,
    telemetry::TelemetryConfig,
};
use serde::{Deserialize, Serialize};

use crate::ledger::LedgerConfig;

/// Everything wallet-svc needs to start.
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
    /// Ledger rules.
    pub ledger: LedgerConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::on(SocketAddr::from(([127, 0, 0, 1], 50061))),
            database: DatabaseConfig::sqlite_in(".boomerang", "wallet"),
            telemetry: TelemetryConfig::default(),
            jobs: RunnerConfig::default(),
            internal_auth: InternalAuthConfig::default(),
            ledger: LedgerConfig::default(),
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
        let cfg: Self = boomerang_common::config::load_file("wallet", file)?;
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
            .and(self.ledger.group_commit.validate())
            .map_err(|e| anyhow::anyhow!("invalid wallet configuration: {e}"))
    }
}
