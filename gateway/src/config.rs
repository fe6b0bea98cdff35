//! Configuration of the gateway: defaults, then the `[gateway]` table of
//! `$BOOMERANG_CONFIG`, then `BOOMERANG_GATEWAY__*` environment variables.
use std::net::SocketAddr;

use boomerang_common::{
    auth::InternalAuthConfig, config::ServerConfig, db::DatabaseConfig, telemetry::TelemetryConfig,
};
use serde::{Deserialize, Serialize};

/// Where each service runs: a URL whose host name resolves to every replica
/// (a headless Service; re-resolved every 5 s), or URLs separated by commas.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upstreams {
    /// wallet-svc, e.g. `http://boomerang-wallet-headless:50061`.
    pub wallet: String,
    /// accrual-svc.
    pub accrual: String,
    /// campaign-svc.
    pub campaign: String,
    /// referral-svc.
    pub referral: String,
    /// notify-svc.
    pub notify: String,
    /// TCP connect timeout.
    pub connect_timeout_ms: u64,
}

impl Default for Upstreams {
    fn default() -> Self {
        Self {
            wallet: "http://127.0.0.1:50061".into(),
            accrual: "http://127.0.0.1:50062".into(),
            campaign: "http://127.0.0.1:50063".into(),
            referral: "http://127.0.0.1:50064".into(),
            notify: "http://127.0.0.1:50065".into(),
            connect_timeout_ms: 2_000,
        }
    }
}

/// Everything the gateway needs to start.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// gRPC listener.
    pub server: ServerConfig,
    /// Tenants and API keys.
    pub database: DatabaseConfig,
    /// Logs, traces, metrics.
    pub telemetry: TelemetryConfig,
    /// The services behind the gateway.
    pub upstreams: Upstreams,
    /// How long a looked-up key is trusted before it is read again (revocation delay).
    pub key_cache_ms: u64,
    /// Rate limits per key and per tenant.
    pub rate_limits: crate::limits::RateLimitConfig,
    /// The tenant whose admin keys manage every tenant.
    pub platform_tenant: String,
    /// An admin key for the platform tenant, chosen by the operator (a secret,
    /// at least 32 characters); stored hashed at start.
    pub bootstrap_admin_key: Option<String>,
    /// Accept JWTs signed by these keys too (optional).
    pub jwt: Option<crate::jwt::JwtConfig>,
    /// The platform key: signs the credential every forwarded call carries.
    pub internal_auth: InternalAuthConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::on(SocketAddr::from(([127, 0, 0, 1], 50051))),
            database: DatabaseConfig::sqlite_in(".boomerang", "gateway"),
            telemetry: TelemetryConfig::default(),
            upstreams: Upstreams::default(),
            key_cache_ms: 1_000,
            rate_limits: crate::limits::RateLimitConfig::default(),
            platform_tenant: "boomerang".into(),
            bootstrap_admin_key: None,
            jwt: None,
            internal_auth: InternalAuthConfig::default(),
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
        let cfg: Self = boomerang_common::config::load_file("gateway", file)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values that types cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.server
            .validate()
            .and(self.database.validate())
            .and(self.internal_auth.validate())
            .map_err(|e| anyhow::anyhow!("invalid gateway configuration: {e}"))?;
        for (name, url) in [
            ("wallet", &self.upstreams.wallet),
            ("accrual", &self.upstreams.accrual),
            ("campaign", &self.upstreams.campaign),
            ("referral", &self.upstreams.referral),
            ("notify", &self.upstreams.notify),
        ] {
            boomerang_common::balance::validate_urls(&format!("upstreams.{name}"), url)
                .map_err(|e| anyhow::anyhow!("invalid gateway configuration: {e}"))?;
        }
        boomerang_common::tenant::TenantId::parse(&self.platform_tenant)
            .map_err(|e| anyhow::anyhow!("invalid gateway configuration: platform_tenant: {e}"))?;
        if self
            .bootstrap_admin_key
            .as_ref()
            .is_some_and(|k| k.len() < 32)
        {
            anyhow::bail!(
                "invalid gateway configuration: bootstrap_admin_key must be at least 32 characters"
            );
        }
        if self.key_cache_ms > 1_000 {
            anyhow::bail!(
                "invalid gateway configuration: key_cache_ms above 1000 would delay revocations"
            );
        }
        Ok(())
    }
}
