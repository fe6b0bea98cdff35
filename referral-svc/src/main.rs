//! The referral-svc binary, as deployed on Kubernetes.
use boomerang_common::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = referral_svc::Config::load()?;
    let _telemetry = telemetry::init("referral-svc", &cfg.telemetry)?;
    referral_svc::App::build(cfg)
        .await?
        .run_until(shutdown::signal())
        .await
}
