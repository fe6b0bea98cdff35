//! The campaign-svc binary, as deployed on Kubernetes.
use boomerang_common::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = campaign_svc::Config::load()?;
    let _telemetry = telemetry::init("campaign-svc", &cfg.telemetry)?;
    campaign_svc::App::build(cfg)
        .await?
        .run_until(shutdown::signal())
        .await
}
