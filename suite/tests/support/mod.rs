//! The whole suite in-process on port 0 over fresh databases, and calls
//! through the gateway with an API key.
#![allow(dead_code)] // each test file uses a different part

pub mod receiver;
pub mod shop;

use std::net::{IpAddr, Ipv4Addr};

use boomerang::{Databases, Options, Ports, Suite};
use boomerang_common::{
    testing::{TestBackend, TestDb},
    time::Clock,
};
use tonic::Request;

/// The suite on fresh databases; keep the `TestDb`s alive as long as it runs.
pub async fn start(
    backend: TestBackend,
    rate_limits: gateway::limits::RateLimitConfig,
) -> anyhow::Result<(Suite, Vec<TestDb>)> {
    start_with_clock(backend, rate_limits, Clock::system()).await
}

/// As [`start`], every service on `clock`.
pub async fn start_with_clock(
    backend: TestBackend,
    rate_limits: gateway::limits::RateLimitConfig,
    clock: Clock,
) -> anyhow::Result<(Suite, Vec<TestDb>)> {
    let dbs = fresh(backend).await?;
    let suite = start_on(&dbs, rate_limits, clock).await?;
    Ok((suite, dbs))
}

/// A fresh database per service, in the order [`start_on`] takes them.
async fn fresh(backend: TestBackend) -> anyhow::Result<Vec<TestDb>> {
    let mut dbs = Vec::new();
    for name in [
        "gateway", "wallet", "accrual", "campaign", "referral", "notify",
    ] {
        dbs.push(TestDb::fresh(backend, name).await?);
    }
    Ok(dbs)
}

/// The suite on the databases [`start`] made (a restart after a stop).
pub async fn start_on(
    dbs: &[TestDb],
    rate_limits: gateway::limits::RateLimitConfig,
    clock: Clock,
) -> anyhow::Result<Suite> {
    start_on_with(dbs, configs(), rate_limits, clock).await
}

async fn start_on_with(
    dbs: &[TestDb],
    configs: boomerang::Configs,
    rate_limits: gateway::limits::RateLimitConfig,
    clock: Clock,
) -> anyhow::Result<Suite> {
    anyhow::ensure!(dbs.len() == 6, "six databases, as start made them");
    let databases = Databases {
        gateway: dbs[0].config.clone(),
        wallet: dbs[1].config.clone(),
        accrual: dbs[2].config.clone(),
        campaign: dbs[3].config.clone(),
        referral: dbs[4].config.clone(),
        notify: dbs[5].config.clone(),
    };
    Suite::start(Options {
        configs,
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        ports: Ports::ANY,
        databases,
        rate_limits,
        clock,
    })
    .await
}

/// Every service's test configuration: the tests' platform key; webhooks
/// may point at 127.0.0.1 and are retried within a second or two.
pub fn configs() -> boomerang::Configs {
    let mut c = boomerang::Configs::default()
        .with_internal_auth(&boomerang_common::testing::internal_auth());
    let d = &mut c.notify.delivery;
    d.allow_private_targets = true;
    d.poll_ms = 50;
    d.retry_first_ms = 100;
    d.retry_longest_ms = 1_000;
    d.timeout_ms = 2_000;
    c
}

/// The suite on fresh databases with `configs` (see [`configs`]).
pub async fn start_configured(
    backend: TestBackend,
    configs: boomerang::Configs,
) -> anyhow::Result<(Suite, Vec<TestDb>)> {
    let dbs = fresh(backend).await?;
    let suite = start_on_with(&dbs, configs, Default::default(), Clock::system()).await?;
    Ok((suite, dbs))
}

/// `message` with `authorization: Bearer <key>`.
pub fn with_key<T>(message: T, key: &str) -> anyhow::Result<Request<T>> {
    let mut req = Request::new(message);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse()?);
    Ok(req)
}

/// Runs the `boomerang` binary against the gateway at `gateway` (an
/// http:// address) with `key`: (success, stdout, stderr).
pub async fn cli(
    args: &[&str],
    gateway: &str,
    key: &str,
) -> anyhow::Result<(bool, String, String)> {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_boomerang"))
        .args(args)
        .args(["--addr", gateway])
        .env("BOOMERANG_API_KEY", key)
        .output()
        .await?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok((out.status.success(), text(&out.stdout), text(&out.stderr)))
}

/// What-if job `id` once it is no longer running (polled for up to 30 s).
pub async fn simulation_done(
    sims: &mut boomerang_proto::accrual::v1::simulation_service_client::SimulationServiceClient<
        tonic::transport::Channel,
    >,
    id: &str,
    key: &str,
) -> anyhow::Result<boomerang_proto::accrual::v1::Simulation> {
    use boomerang_proto::accrual::v1 as apb;
    for _ in 0..600 {
        let req = apb::GetSimulationRequest {
            simulation_id: id.into(),
        };
        let job = sims
            .get_simulation(with_key(req, key)?)
            .await?
            .into_inner()
            .simulation
            .unwrap_or_default();
        if job.state() != apb::SimulationState::Running {
            return Ok(job);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    anyhow::bail!("what-if {id} still running after 30 s")
}

/// Enrols customers `c00`.. `c{customers - 1}` in program "demo" through
/// the gateway at `gateway`, then records `purchases` (eight at a time).
pub async fn enrol_and_record(
    gateway: std::net::SocketAddr,
    key: &str,
    customers: i64,
    purchases: Vec<boomerang_proto::accrual::v1::Purchase>,
) -> anyhow::Result<()> {
    use boomerang_proto::accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient};
    use futures::{StreamExt as _, TryStreamExt as _};
    let mut accrual = AccrualServiceClient::new(boomerang_common::testing::channel(gateway).await?);
    for c in 0..customers {
        let req = apb::EnrollMemberRequest {
            idempotency_key: format!("e{c}"),
            program_id: "demo".into(),
            customer_id: format!("c{c:02}"),
            ..Default::default()
        };
        accrual.enroll_member(with_key(req, key)?).await?;
    }
    futures::stream::iter(purchases)
        .map(|purchase| {
            let mut accrual = accrual.clone();
            async move {
                let req = apb::RecordPurchaseRequest {
                    idempotency_key: purchase.order_id.clone(),
                    purchase: Some(purchase),
                };
                accrual.record_purchase(with_key(req, key)?).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await
}
