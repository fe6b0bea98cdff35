//! The gateway binary, as deployed on Kubernetes.
use boomerang_common::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(cfg) = boomerang_common::cli::config(
        "gateway",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_DESCRIPTION"),
        gateway::Config::load_from,
    )?
    else {
        return Ok(());
    };
    let _telemetry = telemetry::init("gateway", &cfg.telemetry)?;
    gateway::App::build(cfg)
        .await?
        .run_until(shutdown::signal())
        .await
}
