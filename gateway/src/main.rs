//! The gateway binary, as deployed on Kubernetes.
use boomerang_common::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = gateway::Config::load()?;
    let _telemetry = telemetry::init("gateway", &cfg.telemetry)?;
    gateway::App::build(cfg)
        .await?
        .run_until(shutdown::signal())
        .await
}
