//! notify-svc's sources, on both backends: accrual's and campaign-svc's
//! `FollowEvents` stream every tenant's events in log order, each with its
//! tenant, resumable by cursor, to a service credential only.
mod support;

use std::time::Duration;

use boomerang_common::{backend_tests, testing::AsTenant};
use boomerang_proto::accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient};
use gateway::limits::RateLimitConfig;
use support::{start, with_key};
use tonic::Code;

/// The next `n` events of a stream, as (tenant, type, customer).
async fn next(
    stream: &mut tonic::Streaming<apb::FollowEventsResponse>,
    n: usize,
) -> anyhow::Result<Vec<(String, i32, String, String)>> {
    let mut got = Vec::new();
    while got.len() < n {
        let Some(e) = tokio::time::timeout(Duration::from_secs(10), stream.message()).await??
        else {
            anyhow::bail!("the stream ended");
        };
        let event = e.event.unwrap_or_default();
        got.push((e.tenant_id, event.r#type, event.customer_id, event.cursor));
    }
    Ok(got)
}

backend_tests! {
    async fn every_tenants_events_follow_in_order_from_a_cursor(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let gw = boomerang_common::testing::channel(suite.addrs().gateway).await?;
        for (tenant, customer) in [("shop", "ann"), ("other", "bob"), ("shop", "cid")] {
            suite.demo_program(tenant).await?;
            let key = suite.create_key(tenant, &["*:write"]).await?;
            let enrol = apb::EnrollMemberRequest {
                idempotency_key: format!("e-{customer}"),
                program_id: "demo".into(),
                customer_id: customer.into(),
                ..Default::default()
            };
            AccrualServiceClient::new(gw.clone()).enroll_member(with_key(enrol, &key)?).await?;
        }
        // As notify-svc calls it: a service credential, whatever its tenant.
        let direct = boomerang_common::testing::channel(suite.addrs().accrual).await?;
        let mut accrual = AccrualServiceClient::with_interceptor(direct, AsTenant::new("accrual", "platform")?);
        let from = |cursor: &str| apb::FollowEventsRequest { from_cursor: cursor.into() };
        let mut all = accrual.follow_events(from("")).await?.into_inner();
        let enrolled = apb::EventType::MemberEnrolled as i32;
        let seen = next(&mut all, 3).await?;
        let who: Vec<(&str, i32, &str)> = seen.iter().map(|(t, k, c, _)| (t.as_str(), *k, c.as_str())).collect();
        assert_eq!(who, vec![("shop", enrolled, "ann"), ("other", enrolled, "bob"), ("shop", enrolled, "cid")]);
        drop(all);
        // Resumed after the first: the others, in the same order.
        let mut rest = accrual.follow_events(from(&seen[0].3)).await?.into_inner();
        let again = next(&mut rest, 2).await?;
        assert_eq!(again, seen[1..].to_vec());
        drop(rest);
        // A tenant's key never reaches it.
        let key = suite.create_key("shop", &["*:admin"]).await?;
        let refused = AccrualServiceClient::new(gw).follow_events(with_key(from(""), &key)?).await.err();
        assert_eq!(refused.map(|e| e.code()), Some(Code::PermissionDenied));
        suite.stop().await
    }
}
