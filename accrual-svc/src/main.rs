//! The accrual-svc binary, as deployed on Kubernetes.
use boomerang_common::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = accrual_svc::Config::load()?;
    let _telemetry = telemetry::init("accrual-svc", &cfg.telemetry)?;
    accrual_svc::App::build(cfg)
        .await?
        .run_until(shutdown::signal())
        .await
}
