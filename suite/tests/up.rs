//! `boomerang up` in-process on port 0, on both backends: every service is
//! healthy and reflected, the gateway authenticates, and streams pass through.
mod support;

use std::net::SocketAddr;

use boomerang::Suite;
use boomerang_common::{
    backend_tests,
    testing::{TestBackend, TestDb},
};
use boomerang_proto::{
    accrual::v1::{
        EarnBasis, EarnRule, EnrollMemberRequest, EventType, Program, UpsertProgramRequest,
        WatchEventsRequest, accrual_service_client::AccrualServiceClient,
    },
    wallet::v1::{CreditRequest, GetBalanceRequest, wallet_service_client::WalletServiceClient},
};
use support::with_key;
use tonic::{Code, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::v1alpha::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

const SERVICES: [&str; 4] = [
    "boomerang.wallet.v1.WalletService",
    "boomerang.accrual.v1.AccrualService",
    "boomerang.campaign.v1.CampaignService",
    "boomerang.referral.v1.ReferralService",
];

async fn start(backend: TestBackend) -> anyhow::Result<(Suite, Vec<TestDb>)> {
    support::start(backend, gateway::limits::RateLimitConfig::default()).await
}

async fn channel(addr: SocketAddr) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?)
}

async fn health(addr: SocketAddr, service: &str) -> anyhow::Result<ServingStatus> {
    let reply = HealthClient::new(channel(addr).await?)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?;
    Ok(reply.into_inner().status())
}

/// Service names listed by reflection v1alpha (what grpcurl 1.8 speaks).
async fn listed(addr: SocketAddr) -> anyhow::Result<Vec<String>> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = ServerReflectionClient::new(channel(addr).await?)
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let reply = replies
        .message()
        .await?
        .and_then(|r| r.message_response)
        .ok_or_else(|| anyhow::anyhow!("no reflection reply"))?;
    match reply {
        MessageResponse::ListServicesResponse(list) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => anyhow::bail!("unexpected reflection reply {other:?}"),
    }
}

/// Whether reflection v1alpha resolves `symbol` to a file.
async fn resolves(addr: SocketAddr, symbol: &str) -> anyhow::Result<bool> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(symbol.to_owned())),
    };
    let mut replies = ServerReflectionClient::new(channel(addr).await?)
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let reply = replies.message().await?.and_then(|r| r.message_response);
    Ok(
        matches!(reply, Some(MessageResponse::FileDescriptorResponse(f)) if !f.file_descriptor_proto.is_empty()),
    )
}

backend_tests! {
    async fn every_service_is_healthy_and_reflected(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend).await?;
        let addrs = suite.addrs();
        let direct = [addrs.wallet, addrs.accrual, addrs.campaign, addrs.referral];
        for addr in direct.iter().chain([&addrs.gateway]) {
            // What the Kubernetes probes ask: readiness (database reachable) and liveness ("").
            for probe in [boomerang_common::server::READINESS, ""] {
                let mut status = health(*addr, probe).await?;
                for _ in 0..100 {
                    if status == ServingStatus::Serving { break; }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    status = health(*addr, probe).await?;
                }
                assert_eq!(status, ServingStatus::Serving, "{probe:?} at {addr}");
            }
        }
        for (service, addr) in SERVICES.iter().zip(direct) {
            assert_eq!(health(addr, service).await?, ServingStatus::Serving, "{service} direct");
            assert_eq!(health(addrs.gateway, service).await?, ServingStatus::Serving, "{service} via gateway");
            let names = listed(addr).await?;
            assert!(names.iter().any(|n| n == service), "{service} not in {names:?}");
            assert!(names.iter().any(|n| n == "grpc.health.v1.Health"));
        }
        // Error details decode by name (grpcurl, buf curl), everywhere.
        for addr in direct.iter().chain([&addrs.gateway]) {
            for detail in ["google.rpc.BadRequest", "google.rpc.RetryInfo", "google.rpc.ErrorInfo"] {
                assert!(resolves(*addr, detail).await?, "{detail} not reflected at {addr}");
            }
        }
        let at_gateway = listed(addrs.gateway).await?;
        for service in SERVICES.iter().chain(&["boomerang.admin.v1.AdminService", "grpc.health.v1.Health"]) {
            assert!(at_gateway.iter().any(|n| n == service), "{service} not in {at_gateway:?}");
        }
        suite.stop().await
    }

    async fn the_gateway_authenticates_and_streams_pass_through(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend).await?;
        let mut wallet = WalletServiceClient::new(channel(suite.addrs().gateway).await?);
        let balance = || GetBalanceRequest { customer_id: "c-1".into(), ..GetBalanceRequest::default() };

        let anonymous = wallet.get_balance(balance()).await.err().map(|s| s.code());
        assert_eq!(anonymous, Some(Code::Unauthenticated));
        let forged = wallet.get_balance(with_key(balance(), "bmr_00000000_nope")?).await.err();
        assert_eq!(forged.map(|s| s.code()), Some(Code::Unauthenticated));

        let key = suite.create_key("acme", &["*:write"]).await?;
        let balance = wallet.get_balance(with_key(balance(), &key)?).await?.into_inner();
        assert_eq!(balance.customer_id, "c-1");
        assert!(balance.balances.is_empty());

        // A server stream through the gateway: accrual's events.
        let mut accrual = AccrualServiceClient::new(channel(suite.addrs().gateway).await?);
        let cashback = EarnRule { asset: "EUR".into(), basis: EarnBasis::Percent as i32, rate: "5".into() };
        let program = Program { program_id: "p".into(), name: "P".into(), currency: "EUR".into(), earn_rules: vec![cashback], ..Program::default() };
        accrual.upsert_program(with_key(UpsertProgramRequest { idempotency_key: "p".into(), program: Some(program), ..Default::default() }, &key)?).await?;
        let enroll = EnrollMemberRequest { idempotency_key: "e".into(), program_id: "p".into(), customer_id: "c-1".into(), ..Default::default() };
        accrual.enroll_member(with_key(enroll, &key)?).await?;
        let mut events = accrual.watch_events(with_key(WatchEventsRequest::default(), &key)?).await?.into_inner();
        let first = tokio::time::timeout(std::time::Duration::from_secs(10), events.message()).await??;
        let first = first.ok_or_else(|| anyhow::anyhow!("the stream ended"))?;
        assert_eq!((first.r#type(), first.customer_id.as_str()), (EventType::MemberEnrolled, "c-1"));
        drop(events); // an open stream would hold the shutdown for its drain time

        let reader = suite.create_key("acme", &["wallet:read"]).await?;
        let denied = wallet.credit(with_key(CreditRequest::default(), &reader)?).await.err();
        assert_eq!(denied.map(|s| s.code()), Some(Code::PermissionDenied));

        suite.stop().await
    }
}
