//! The bad-input matrix, on both backends: every RPC of every service,
//! found by reflection over the contract, gets malformed requests (undecodable
//! bytes, oversized strings, lists and maps, unknown enums, impossible
//! timestamps and durations, bad amounts), each on its own, through the
//! gateway (service-only ones straight to their service, as services call).
//! Each must be INVALID_ARGUMENT naming the field, and nothing may be written
//! to any service's database.
mod bases;
mod cases;
#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use boomerang_common::{
    auth::{Credentials, scope},
    backend_tests,
    db::Db,
    tenant::TenantId,
    testing::{channel, internal_auth},
};
use bytes::{Buf as _, BufMut as _};
use futures::StreamExt as _;
use prost_reflect::{DescriptorPool, MethodDescriptor};
use support::start;
use tonic::{
    Code, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    transport::Channel,
};
use tonic_types::StatusExt as _;

/// The packages whose services are swept (all of Boomerang's).
const PACKAGES: &[&str] = &[
    "boomerang.wallet.v1",
    "boomerang.accrual.v1",
    "boomerang.campaign.v1",
    "boomerang.referral.v1",
    "boomerang.notify.v1",
    "boomerang.admin.v1",
];

/// Sends and receives encoded messages as they are.
#[derive(Clone, Copy, Debug, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

/// The answer to `body` on `method`: its status (OK as `Code::Ok`).
async fn send(
    chan: Channel,
    authorization: &str,
    method: &MethodDescriptor,
    body: Vec<u8>,
) -> anyhow::Result<Status> {
    let mut grpc = tonic::client::Grpc::new(chan);
    grpc.ready().await?;
    let path: http::uri::PathAndQuery =
        format!("/{}/{}", method.parent_service().full_name(), method.name()).parse()?;
    let mut req = tonic::Request::new(body);
    req.metadata_mut()
        .insert("authorization", authorization.parse()?);
    req.set_timeout(std::time::Duration::from_secs(10));
    if method.is_server_streaming() {
        let first = match grpc.server_streaming(req, path, Raw).await {
            Err(s) => return Ok(s),
            Ok(stream) => {
                let mut stream = stream.into_inner();
                tokio::time::timeout(std::time::Duration::from_secs(2), stream.message()).await
            }
        };
        return Ok(match first {
            Ok(Err(s)) => s,
            _ => Status::new(Code::Ok, "stream accepted"),
        });
    }
    Ok(match grpc.unary(req, path, Raw).await {
        Ok(_) => Status::new(Code::Ok, "accepted"),
        Err(s) => s,
    })
}

/// Rows in every table of `db`.
async fn rows(db: &Db) -> anyhow::Result<BTreeMap<String, i64>> {
    let tables: Vec<String> = match db.backend() {
        boomerang_common::db::Backend::Sqlite => {
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                .fetch_all(db.pool())
                .await?
        }
        boomerang_common::db::Backend::Postgres => {
            sqlx::query_scalar("SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema()")
                .fetch_all(db.pool())
                .await?
        }
    };
    let mut counts = BTreeMap::new();
    for t in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{t}\""))
            .fetch_one(db.pool())
            .await?;
        counts.insert(t, n);
    }
    Ok(counts)
}

/// Refusals that rightly name another field than the one spoiled.
const NAMED_ELSEWHERE: &[(&str, &str, &str)] = &[
    // credit_id and source_reference are alternatives: both given is refused under credit_id.
    ("WalletService/Reverse", "source_reference", "credit_id"),
];

/// Whether the refusal names `field` (or a field inside it, or the message holding it).
fn names(status: &Status, field: &str) -> bool {
    if field.is_empty() {
        return true;
    }
    let Some(bad) = status.get_details_bad_request() else {
        return false;
    };
    bad.field_violations.iter().any(|v| {
        let named = v.field.as_str();
        named == field
            || named.starts_with(&format!("{field}."))
            || named.starts_with(&format!("{field}["))
            || field.starts_with(&format!("{named}."))
            || field.starts_with(&format!("{named}["))
    })
}

backend_tests! {
    async fn every_rpc_refuses_malformed_requests_as_invalid_and_writes_nothing(backend) -> anyhow::Result<()> {
        let limits = gateway::limits::RateLimitConfig { per_key_per_second: 1_000_000, per_tenant_per_second: 1_000_000 };
        let (suite, dbs) = start(backend, limits).await?;
        let key = suite.create_key("boomerang", &["*:admin"]).await?;
        let gateway = (channel(suite.addrs().gateway).await?, format!("Bearer {key}"));
        // Service-only RPCs are refused at the gateway: they are sent to their
        // service as accrual-svc sends them.
        let accrual = Credentials::load(&internal_auth())?.issuer("accrual", &["*:write"])?;
        let platform = TenantId::parse("boomerang").map_err(anyhow::Error::msg)?;
        let mut direct = BTreeMap::new();
        for (service, addr) in [("wallet", suite.addrs().wallet), ("accrual", suite.addrs().accrual), ("campaign", suite.addrs().campaign), ("referral", suite.addrs().referral)] {
            let token = accrual.mint(service, &platform, "accrual", accrual.scopes())?;
            direct.insert(service, (channel(addr).await?, format!("Bearer {token}")));
        }
        let mut service_dbs = Vec::new();
        for (db, migrations) in dbs.iter().zip([
            &gateway::repo::MIGRATIONS,
            &wallet_svc::repo::MIGRATIONS,
            &accrual_svc::repo::MIGRATIONS,
            &campaign_svc::repo::MIGRATIONS,
            &referral_svc::repo::MIGRATIONS,
            &notify_svc::repo::MIGRATIONS,
        ]) {
            service_dbs.push(Db::connect(&db.config, migrations).await?);
        }
        let mut before = Vec::new();
        for db in &service_dbs {
            before.push(rows(db).await?);
        }

        let pool = DescriptorPool::decode(boomerang_proto::FILE_DESCRIPTOR_SET)?;
        let methods: Vec<MethodDescriptor> = pool
            .services()
            .filter(|s| PACKAGES.contains(&s.package_name()))
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .collect();
        let bases: BTreeMap<&str, &str> = bases::BASES.iter().copied().collect();
        let mut work: Vec<(MethodDescriptor, cases::Case)> = Vec::new();
        for m in &methods {
            let rpc = format!("{}/{}", m.parent_service().name(), m.name());
            let valid = bases.get(rpc.as_str()).ok_or_else(|| anyhow::anyhow!("no valid request for {rpc} in bases.rs"))?;
            work.extend(cases::for_method(m, valid)?.into_iter().map(|c| (m.clone(), c)));
        }
        let answers: Vec<anyhow::Result<(MethodDescriptor, cases::Case, Status)>> = futures::stream::iter(work)
            .map(|(m, c)| {
                let path = format!("/{}/{}", m.parent_service().full_name(), m.name());
                let service = m.parent_service().package_name().split('.').nth(1).unwrap_or_default();
                let (chan, authorization) = match direct.get(service) {
                    Some(to_service) if scope::is_service_only(&path) => to_service.clone(),
                    _ => gateway.clone(),
                };
                async move {
                    let status = send(chan, &authorization, &m, c.body.clone()).await?;
                    Ok((m, c, status))
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;

        let mut per_rpc: BTreeMap<String, usize> = BTreeMap::new();
        let mut wrong = Vec::new();
        for answer in answers {
            let (m, c, status) = answer?;
            let rpc = format!("{}/{}", m.parent_service().name(), m.name());
            *per_rpc.entry(rpc.clone()).or_default() += 1;
            let named = NAMED_ELSEWHERE
                .iter()
                .find(|(r, f, _)| *r == rpc && *f == c.field)
                .map_or(c.field.as_str(), |(_, _, n)| n);
            if status.code() != Code::InvalidArgument || !names(&status, named) {
                let message: String = status.message().chars().take(160).collect();
                wrong.push(format!("{rpc} {} ({}): {:?} {message}", c.field, c.label, status.code()));
            }
        }
        wrong.sort();
        let total: usize = per_rpc.values().sum();
        println!("bad inputs: {total} requests over {} RPCs ({} to {} per RPC)", per_rpc.len(),
            per_rpc.values().min().unwrap_or(&0), per_rpc.values().max().unwrap_or(&0));
        anyhow::ensure!(per_rpc.len() == methods.len(), "some RPCs got no case");
        anyhow::ensure!(wrong.is_empty(), "{} of {total} malformed requests not refused as INVALID_ARGUMENT naming the field:\n{}", wrong.len(), wrong.join("\n"));

        for (db, was) in service_dbs.iter().zip(&before) {
            let now = rows(db).await?;
            anyhow::ensure!(&now == was, "a refused request wrote: {was:?} -> {now:?}");
        }
        suite.stop().await?;
        Ok(())
    }
}
