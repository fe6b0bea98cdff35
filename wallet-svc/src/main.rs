//! The wallet-svc binary, as deployed on Kubernetes.
use boomerang_common::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = wallet_svc::Config::load()?;
    let _telemetry = telemetry::init("wallet-svc", &cfg.telemetry)?;
    wallet_svc::App::build(cfg)
        .await?
        .run_until(shutdown::signal())
        .await
}
