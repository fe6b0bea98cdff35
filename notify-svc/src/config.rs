//! Configuration of notify-svc: defaults, then the `[notify]` table of
//! `$BOOMERANG_CONFIG`, then `BOOMERANG_NOTIFY__*` environment variables.
use std::net::SocketAddr;

use boomerang_common::{
    auth::InternalAuthConfig, balance::validate_urls, config::ServerConfig, db::DatabaseConfig,
    telemetry::TelemetryConfig,
};
use serde::{Deserialize, Serialize};

/// The services whose event logs notify-svc follows: a name resolving to
/// each replica, or URLs separated by commas.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sources {
    /// accrual-svc.
    pub accrual: String,
    /// wallet-svc.
    pub wallet: String,
    /// campaign-svc.
    pub campaign: String,
    /// referral-svc.
    pub referral: String,
}

impl Default for Sources {
    fn default() -> Self {
        Self {
            accrual: "http://127.0.0.1:50062".into(),
            wallet: "http://127.0.0.1:50061".into(),
            campaign: "http://127.0.0.1:50063".into(),
            referral: "http://127.0.0.1:50064".into(),
        }
    }
}

/// How webhooks are called.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// How long a receiver may take to answer, milliseconds.
    pub timeout_ms: u64,
    /// Requests in flight to one webhook at most (one slow receiver slows
    /// nobody else).
    pub per_webhook: usize,
    /// Requests in flight in all at most.
    pub in_flight: usize,
    /// How often due deliveries are looked for when nothing wakes the
    /// sender, milliseconds.
    pub poll_ms: u64,
    /// The first retry's ceiling, milliseconds (it doubles per attempt).
    pub retry_first_ms: u64,
    /// The longest wait between two attempts, milliseconds.
    pub retry_longest_ms: u64,
    /// How long after its first attempt a delivery is parked as a dead
    /// letter, milliseconds.
    pub retry_budget_ms: u64,
    /// Allow `http://`, loopback and private targets (tests, on-premises
    /// receivers); never in a shared deployment.
    pub allow_private_targets: bool,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            per_webhook: 4,
            in_flight: 256,
            poll_ms: 500,
            retry_first_ms: 5_000,
            retry_longest_ms: 3_600_000,
            retry_budget_ms: 24 * 3_600_000,
            allow_private_targets: false,
        }
    }
}

/// NATS JetStream, when configured: every public event is published on
/// `<subject_prefix>.<tenant>.<type>` (e.g. `boomerang.acme.reward.pending`)
/// with `Nats-Msg-Id` = the event's id, into a stream created if missing.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConfig {
    /// The server(s), e.g. `nats://127.0.0.1:4222`; empty: no publishing.
    pub url: String,
    /// The stream's name.
    pub stream: String,
    /// The first token of every subject (the stream takes `<prefix>.>`).
    pub subject_prefix: String,
    /// How long the stream keeps a message, seconds.
    pub max_age_s: u64,
    /// The stream's size limit, bytes (the oldest go first).
    pub max_bytes: i64,
    /// How long JetStream remembers a message id to drop a republished one,
    /// seconds: longer than notify-svc is ever down mid-publish.
    pub duplicate_window_s: u64,
    /// Stream replicas (a clustered NATS).
    pub replicas: usize,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            stream: "BOOMERANG".into(),
            subject_prefix: "boomerang".into(),
            max_age_s: 7 * 86_400,
            max_bytes: 1 << 30,
            duplicate_window_s: 3_600,
            replicas: 1,
        }
    }
}

impl NatsConfig {
    fn validate(&self) -> Result<(), String> {
        let token = |s: &str| {
            !s.is_empty()
                && s.split('.').all(|t| {
                    !t.is_empty()
                        && t.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
        };
        if !token(&self.subject_prefix) {
            return Err(
                "nats.subject_prefix: letters, digits, - and _, in dot-separated tokens".into(),
            );
        }
        if self.stream.is_empty()
            || !self
                .stream
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("nats.stream: letters, digits, - and _".into());
        }
        if self.duplicate_window_s == 0 || self.max_age_s < self.duplicate_window_s {
            return Err("nats.duplicate_window_s must be > 0 and at most nats.max_age_s".into());
        }
        if self.replicas == 0 || self.max_bytes == 0 {
            return Err(
                "nats.replicas must be > 0 and nats.max_bytes non-zero (-1: no limit)".into(),
            );
        }
        Ok(())
    }
}

/// Everything notify-svc needs to start.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// gRPC listener.
    pub server: ServerConfig,
    /// Its own database.
    pub database: DatabaseConfig,
    /// Logs, traces, metrics.
    pub telemetry: TelemetryConfig,
    /// The platform key: verifies callers' credentials, signs its own.
    pub internal_auth: InternalAuthConfig,
    /// Where the followed services run.
    pub sources: Sources,
    /// Webhook calls.
    pub delivery: DeliveryConfig,
    /// NATS JetStream.
    pub nats: NatsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::on(SocketAddr::from(([127, 0, 0, 1], 50065))),
            database: DatabaseConfig::sqlite_in(".boomerang", "notify"),
            telemetry: TelemetryConfig::default(),
            internal_auth: InternalAuthConfig::default(),
            sources: Sources::default(),
            delivery: DeliveryConfig::default(),
            nats: NatsConfig::default(),
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
        let cfg: Self = boomerang_common::config::load_file("notify", file)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values that types cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        let d = &self.delivery;
        let delivery = if !(100..=60_000).contains(&d.timeout_ms) {
            Err("delivery.timeout_ms must be 100 to 60000".to_owned())
        } else if d.per_webhook == 0 || d.in_flight == 0 {
            Err("delivery.per_webhook and delivery.in_flight must be > 0".into())
        } else if d.poll_ms == 0 || d.retry_first_ms == 0 {
            Err("delivery.poll_ms and delivery.retry_first_ms must be > 0".into())
        } else if d.retry_longest_ms < d.retry_first_ms || d.retry_budget_ms < d.retry_first_ms {
            Err("delivery.retry_longest_ms and retry_budget_ms must be >= retry_first_ms".into())
        } else {
            Ok(())
        };
        self.server
            .validate()
            .and(self.database.validate())
            .and(self.internal_auth.validate())
            .and(validate_urls("sources.accrual", &self.sources.accrual))
            .and(validate_urls("sources.wallet", &self.sources.wallet))
            .and(validate_urls("sources.campaign", &self.sources.campaign))
            .and(validate_urls("sources.referral", &self.sources.referral))
            .and(delivery)
            .and(self.nats.validate())
            .map_err(|e| anyhow::anyhow!("invalid notify configuration: {e}"))
    }
}
