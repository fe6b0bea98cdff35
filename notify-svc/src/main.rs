//! The notify-svc binary, as deployed on Kubernetes.
use boomerang_common::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(cfg) = boomerang_common::cli::config(
        "notify-svc",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_DESCRIPTION"),
        notify_svc::Config::load_from,
    )?
    else {
        return Ok(());
    };
    let _telemetry = telemetry::init("notify-svc", &cfg.telemetry)?;
    notify_svc::App::build(cfg)
        .await?
        .run_until(shutdown::signal())
        .await
}
