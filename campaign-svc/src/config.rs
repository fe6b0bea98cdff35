//! Configuration of campaign-svc: defaults, then the `[campaign]` table of
//! `$BOOMERANG_CONFIG`, then `BOOMERANG_CAMPAIGN__*` environment variables.
use std::net::SocketAddr;

use boomerang_common::{
    auth::InternalAuthConfig, config::ServerConfig, db::DatabaseConfig, jobs::RunnerConfig,
    telemetry::TelemetryConfig,
};
use serde::{Deserialize, Serialize};

/// Everything campaign-svc needs to start.
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
    /// How budgets are stored.
    pub budget: BudgetConfig,
}

/// How budgets are stored.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Rows a budget's free capacity is split over, so concurrent reservations
    /// of one campaign lock different rows (1 to 64). Applies when a budget's
    /// total is set (a campaign created or updated); rows a budget already has
    /// beyond it keep what they hold and get nothing new.
    pub slots: u32,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            slots: crate::domain::budget::SLOTS,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::on(SocketAddr::from(([127, 0, 0, 1], 50063))),
            database: DatabaseConfig::sqlite_in(".boomerang", "campaign"),
            telemetry: TelemetryConfig::default(),
            jobs: RunnerConfig::default(),
            internal_auth: InternalAuthConfig::default(),
            budget: BudgetConfig::default(),
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
        let cfg: Self = boomerang_common::config::load_file("campaign", file)?;
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
            .and(match self.budget.slots {
                1..=64 => Ok(()),
                n => Err(format!("budget.slots must be 1 to 64, not {n}")),
            })
            .map_err(|e| anyhow::anyhow!("invalid campaign configuration: {e}"))
    }
}
