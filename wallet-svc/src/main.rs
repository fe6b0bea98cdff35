//! The wallet-svc binary, as deployed on Kubernetes.
use boomerang_common::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(cfg) = boomerang_common::cli::config(
        "wallet-svc",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_DESCRIPTION"),
        wallet_svc::Config::load_from,
    )?
    else {
        return Ok(());
    };
    let _telemetry = telemetry::init("wallet-svc", &cfg.telemetry)?;
    wallet_svc::App::build(cfg)
        .await?
        .run_until(shutdown::signal())
        .await
}
