//! Shared plumbing for every Boomerang service. Never domain types.
//!
//! - [`auth`]: internal credentials: minted by the gateway and services, verified by services.
//! - [`cli`]: the command line of every service binary.
//! - [`channel`]: the one channel builder and interceptor for service-to-service calls.
//! - [`balance`]: client-side load spreading over an upstream's replicas (DNS re-resolved).
//! - [`config`]: typed configuration: defaults, then a TOML file, then `BOOMERANG_<SVC>__...` env.
//! - [`telemetry`]: tracing (pretty or JSON), OTLP export, W3C propagation, Prometheus.
//! - [`db`]: one pool for SQLite or PostgreSQL, migrations at start, write transactions.
//! - [`server`]: the gRPC server: health, reflection, the tower stack, graceful shutdown.
//! - [`error`]: the `AppError` every service maps to `tonic::Status` in one place.
//! - [`tls`]: TLS on a gRPC port and to `https://` upstreams, from PEM files.
//! - [`money`]: the contract's money codec: decimal strings <-> integer minor units.
//! - [`tenant`]: the tenant a call acts for, from its verified credential.
//! - [`id`]: the one id rule, and references built from ids that stay ids.
//! - [`idempotency`], [`jobs`], [`outbox`]: exactly-once effects over at-least-once delivery.
//! - [`events`]: the durable, gap-free event log behind `WatchEvents`.
//! - [`export`]: CSV and NDJSON rows for finance and BI, streamed by a writer task.
//! - [`metrics`]: what every Prometheus metric means (`# HELP`), and process metrics.
pub mod arms;
pub mod auth;
pub mod balance;
pub mod channel;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod export;
pub mod id;
pub mod idempotency;
pub mod jobs;
pub mod metrics;
pub mod money;
pub mod outbox;
pub mod paging;
pub mod server;
pub mod shutdown;
pub mod stream;
pub mod telemetry;
pub mod tenant;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod tls;
pub mod versions;
