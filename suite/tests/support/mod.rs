//! The whole suite in-process on port 0 over fresh databases, and calls
//! through the gateway with an API key.
#![allow(dead_code)] // each test file uses a different part

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
    let mut dbs = Vec::new();
    for name in ["gateway", "wallet", "accrual", "campaign", "referral"] {
        dbs.push(TestDb::fresh(backend, name).await?);
    }
    let suite = start_on(&dbs, rate_limits, clock).await?;
    Ok((suite, dbs))
}

/// The suite on the databases [`start`] made (a restart after a stop).
pub async fn start_on(
    dbs: &[TestDb],
    rate_limits: gateway::limits::RateLimitConfig,
    clock: Clock,
) -> anyhow::Result<Suite> {
    anyhow::ensure!(dbs.len() == 5, "five databases, as start made them");
    let databases = Databases {
        gateway: dbs[0].config.clone(),
        wallet: dbs[1].config.clone(),
        accrual: dbs[2].config.clone(),
        campaign: dbs[3].config.clone(),
        referral: dbs[4].config.clone(),
    };
    Suite::start(Options {
        configs: boomerang::Configs::default()
            .with_internal_auth(&boomerang_common::testing::internal_auth()),
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        ports: Ports::ANY,
        databases,
        rate_limits,
        clock,
    })
    .await
}

/// `message` with `authorization: Bearer <key>`.
pub fn with_key<T>(message: T, key: &str) -> anyhow::Result<Request<T>> {
    let mut req = Request::new(message);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse()?);
    Ok(req)
}
