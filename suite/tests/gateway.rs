//! The gateway with real upstream services, on both backends: keys, scopes,
//! revocation and rotation, tenant isolation, rate limits, streaming.
mod support;

use std::time::Duration;

use boomerang_common::{backend_tests, testing::channel};
use boomerang_proto::{
    accrual::v1::{GetProgramRequest, accrual_service_client::AccrualServiceClient},
    admin::v1::{self as apb, admin_service_client::AdminServiceClient},
    campaign::v1::{GetCampaignRequest, campaign_service_client::CampaignServiceClient},
    common::v1::Money,
    referral::v1::{self as rpb, referral_service_client::ReferralServiceClient},
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use gateway::limits::RateLimitConfig;
use support::{start, with_key};
use tonic::Code;
use tonic_types::StatusExt as _;

fn eur(a: &str) -> Money {
    Money {
        amount: a.into(),
        asset: "EUR".into(),
    }
}

/// A GetBalanceRequest's `customer_id` (field 1, a string) sent as a number.
#[derive(Clone, PartialEq, prost::Message)]
struct WrongWireType {
    #[prost(uint64, tag = "1")]
    customer_id: u64,
}

/// A GetBalanceRequest's `customer_id` that is not UTF-8.
#[derive(Clone, PartialEq, prost::Message)]
struct NotUtf8 {
    #[prost(bytes = "vec", tag = "1")]
    customer_id: Vec<u8>,
}

/// Sends `message` as a GetBalance request through `channel`.
async fn get_balance_raw<M: prost::Message + Send + Sync + 'static>(
    channel: tonic::transport::Channel,
    message: M,
    key: &str,
) -> anyhow::Result<tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await?;
    let path =
        http::uri::PathAndQuery::from_static("/boomerang.wallet.v1.WalletService/GetBalance");
    let codec = tonic_prost::ProstCodec::<M, wpb::GetBalanceResponse>::default();
    let answer = grpc.unary(with_key(message, key)?, path, codec).await;
    answer
        .err()
        .ok_or_else(|| anyhow::anyhow!("an undecodable request was answered"))
}

/// The fields an INVALID_ARGUMENT names.
fn fields_of<T: std::fmt::Debug>(answer: Result<tonic::Response<T>, tonic::Status>) -> Vec<String> {
    match answer {
        Err(s) if s.code() == Code::InvalidArgument => s
            .get_error_details()
            .bad_request()
            .map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default(),
        other => vec![format!("not refused as invalid: {other:?}")],
    }
}

backend_tests! {
    async fn unknown_enums_and_impossible_times_are_refused_by_name(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let key = suite.create_key("acme", &["*:write"]).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let mut accrual = AccrualServiceClient::new(gw.clone());
        let program = boomerang_proto::accrual::v1::Program {
            program_id: "p".into(), name: "P".into(), currency: "EUR".into(), rounding: 999, clawback_policy: -1,
            earn_rules: vec![boomerang_proto::accrual::v1::EarnRule { asset: "EUR".into(), basis: boomerang_proto::accrual::v1::EarnBasis::Percent as i32, rate: "5".into() }],
            ..Default::default()
        };
        let upsert = boomerang_proto::accrual::v1::UpsertProgramRequest { idempotency_key: "p".into(), program: Some(program), ..Default::default() };
        assert_eq!(fields_of(accrual.upsert_program(with_key(upsert, &key)?).await), ["program.rounding", "program.clawback_policy"]);
        let bad_time = prost_types::Timestamp { seconds: 1_700_000_000, nanos: -1 };
        let enrol = boomerang_proto::accrual::v1::EnrollMemberRequest { idempotency_key: "e".into(), program_id: "p".into(), customer_id: "ann".into(), enrolled_at: Some(bad_time), opt_ins: vec![999], ..Default::default() };
        assert_eq!(fields_of(accrual.enroll_member(with_key(enrol, &key)?).await), ["enrolled_at", "opt_ins[0]"]);
        let mut wallet = WalletServiceClient::new(gw.clone());
        let credit = wpb::CreditRequest { idempotency_key: "c".into(), customer_id: "ann".into(), amount: Some(eur("1.00")), tax_treatment: 999, ..Default::default() };
        assert_eq!(fields_of(wallet.credit(with_key(credit, &key)?).await), ["tax_treatment"]);
        let mut referral = ReferralServiceClient::new(gw.clone());
        let year_10000 = prost_types::Timestamp { seconds: 253_402_300_800, nanos: 0 };
        let code = rpb::CreateReferralCodeRequest { idempotency_key: "rc".into(), referrer_customer_id: "ann".into(), expires_at: Some(year_10000), ..Default::default() };
        assert_eq!(fields_of(referral.create_referral_code(with_key(code, &key)?).await), ["expires_at"]);
        // An API key that has expired already is no key.
        let admin = suite.bootstrap_admin_key().await?.ok_or_else(|| anyhow::anyhow!("no bootstrap key"))?;
        let mut adm = AdminServiceClient::new(gw);
        let scope = apb::Scope { service: "*".into(), access: apb::Access::Read as i32 };
        let past = prost_types::Timestamp { seconds: 1_000_000_000, nanos: 0 };
        let create = apb::CreateApiKeyRequest { idempotency_key: "k".into(), tenant_id: "acme".into(), name: "old".into(), scopes: vec![scope], expires_at: Some(past) };
        assert_eq!(fields_of(adm.create_api_key(with_key(create, &admin)?).await), ["expires_at"]);
        suite.stop().await
    }

    async fn undecodable_requests_are_the_callers_fault(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let key = suite.create_key("acme", &["*:read"]).await?;
        let gw = channel(suite.addrs().gateway).await?;
        for refused in [
            get_balance_raw(gw.clone(), WrongWireType { customer_id: 7 }, &key).await?,
            get_balance_raw(gw.clone(), NotUtf8 { customer_id: vec![0xff, 0xfe] }, &key).await?,
        ] {
            assert_eq!(refused.code(), Code::InvalidArgument, "{}", refused.message());
            let fields: Vec<String> = refused.get_error_details().bad_request().map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect()).unwrap_or_default();
            assert_eq!(fields, ["request"]);
        }
        suite.stop().await
    }

    async fn ten_thousand_bad_fields_come_back_as_a_small_invalid_argument(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let key = suite.create_key("acme", &["*:write"]).await?;
        let mut campaign = CampaignServiceClient::new(channel(suite.addrs().gateway).await?);
        let bad = boomerang_proto::campaign::v1::Budget { total: Some(Money { amount: "x".repeat(30), asset: "EUR".into() }), per_day: None, low_percent: None };
        let spec = boomerang_proto::campaign::v1::CampaignSpec { name: "big".into(), budgets: vec![bad; 10_000], ..Default::default() };
        let create = boomerang_proto::campaign::v1::CreateCampaignRequest { idempotency_key: "c".into(), campaign_id: "big".into(), spec: Some(spec), ..Default::default() };
        let refused = campaign.create_campaign(with_key(create, &key)?).await.err();
        let refused = refused.ok_or_else(|| anyhow::anyhow!("10,000 bad budgets accepted"))?;
        // The caller's fault, readable: not "upstream unreachable" from an oversized header.
        assert_eq!(refused.code(), Code::InvalidArgument, "{}", refused.message());
        assert!(refused.message().len() <= 4 * boomerang_common::error::MAX_MESSAGE);
        let listed = refused.get_error_details().bad_request().map(|b| b.field_violations.len());
        assert_eq!(listed, Some(boomerang_common::error::MAX_VIOLATIONS));
        suite.stop().await
    }

    async fn tenants_never_see_each_other_and_cannot_pick_a_tenant(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let acme = suite.create_key("acme", &["*:write"]).await?;
        let beta = suite.create_key("beta", &["*:write"]).await?;
        let mut wallet = WalletServiceClient::new(gw.clone());
        wallet.credit(with_key(wpb::CreditRequest { idempotency_key: "k".into(), customer_id: "ann".into(), amount: Some(eur("5.00")), ..Default::default() }, &acme)?).await?;
        // Beta sees no wallet, even when it sends acme's tenant header itself.
        let mut spoofed = with_key(wpb::GetBalanceRequest { customer_id: "ann".into(), ..Default::default() }, &beta)?;
        spoofed.metadata_mut().insert("x-boomerang-tenant", "acme".parse()?);
        assert!(wallet.get_balance(spoofed).await?.into_inner().balances.is_empty());
        let acme_view = wallet.get_balance(with_key(wpb::GetBalanceRequest { customer_id: "ann".into(), ..Default::default() }, &acme)?).await?;
        assert_eq!(acme_view.into_inner().balances.len(), 1);
        // Nor acme's programs or campaigns: NOT_FOUND, no existence leak.
        let mut accrual = AccrualServiceClient::new(gw.clone());
        let mut campaign = CampaignServiceClient::new(gw);
        let program = accrual.get_program(with_key(GetProgramRequest { program_id: "demo".into(), version: 0 }, &beta)?).await;
        assert_eq!(program.err().map(|s| s.code()), Some(Code::NotFound));
        let camp = campaign.get_campaign(with_key(GetCampaignRequest { campaign_id: "x".into(), terms_at: None }, &beta)?).await;
        assert_eq!(camp.err().map(|s| s.code()), Some(Code::NotFound));
        // Nor acme's referral program, codes or referrals.
        let mut referral = ReferralServiceClient::new(channel(suite.addrs().gateway).await?);
        let program = rpb::ReferralProgram { referrer_reward: Some(rpb::ReferrerReward { kind: Some(rpb::referrer_reward::Kind::Percent("5".into())) }), ..Default::default() };
        referral.upsert_referral_program(with_key(rpb::UpsertReferralProgramRequest { idempotency_key: "rp".into(), program: Some(program), ..Default::default() }, &acme)?).await?;
        let code = referral.create_referral_code(with_key(rpb::CreateReferralCodeRequest { idempotency_key: "c".into(), referrer_customer_id: "ann".into(), ..Default::default() }, &acme)?).await?.into_inner().code.unwrap_or_default().code;
        let seen = referral.get_referral_program(with_key(rpb::GetReferralProgramRequest { version: 0 }, &beta)?).await;
        assert_eq!(seen.err().map(|s| s.code()), Some(Code::NotFound));
        let disable = referral.disable_referral_code(with_key(rpb::DisableReferralCodeRequest { idempotency_key: "d".into(), code }, &beta)?).await;
        assert_eq!(disable.err().map(|s| s.code()), Some(Code::NotFound));
        suite.stop().await
    }

    async fn keys_are_managed_rotated_and_revoked(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let admin = suite.bootstrap_admin_key().await?.ok_or_else(|| anyhow::anyhow!("no bootstrap key"))?;
        let mut adm = AdminServiceClient::new(gw.clone());
        adm.create_tenant(with_key(apb::CreateTenantRequest { idempotency_key: "t".into(), tenant: Some(apb::Tenant { tenant_id: "shop".into(), name: "Shop".into(), ..Default::default() }) }, &admin)?).await?;
        let scope = |access: apb::Access| apb::Scope { service: "*".into(), access: access as i32 };
        let create = || apb::CreateApiKeyRequest { idempotency_key: "k1".into(), tenant_id: "shop".into(), name: "checkout".into(), scopes: vec![scope(apb::Access::Write)], expires_at: None };
        let created = adm.create_api_key(with_key(create(), &admin)?).await?.into_inner();
        // A replay answers the same key, but its secret was never stored.
        let replayed = adm.create_api_key(with_key(create(), &admin)?).await?.into_inner();
        assert_eq!(replayed.key, created.key);
        assert!(replayed.secret.is_empty() && !created.secret.is_empty());
        let mut wallet = WalletServiceClient::new(gw.clone());
        let balance = |key: &str| with_key(wpb::GetBalanceRequest { customer_id: "c".into(), ..Default::default() }, key);
        wallet.get_balance(balance(&created.secret)?).await?;
        // A tenant's own write key cannot manage tenants.
        let denied = adm.list_tenants(with_key(apb::ListTenantsRequest::default(), &created.secret)?).await;
        assert_eq!(denied.err().map(|s| s.code()), Some(Code::PermissionDenied));
        // Rotation without overlap: the new key works, the old one stops within a second.
        let key_id = created.key.map(|k| k.key_id).unwrap_or_default();
        let rotated = adm.rotate_api_key(with_key(apb::RotateApiKeyRequest { idempotency_key: "r".into(), key_id: key_id.clone(), overlap: None }, &admin)?).await?.into_inner();
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        wallet.get_balance(balance(&rotated.secret)?).await?;
        let old = wallet.get_balance(balance(&created.secret)?).await;
        assert_eq!(old.err().map(|s| s.code()), Some(Code::Unauthenticated));
        let new_id = rotated.key.map(|k| k.key_id).unwrap_or_default();
        adm.revoke_api_key(with_key(apb::RevokeApiKeyRequest { idempotency_key: "v".into(), key_id: new_id }, &admin)?).await?;
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let revoked = wallet.get_balance(balance(&rotated.secret)?).await;
        assert_eq!(revoked.err().map(|s| s.code()), Some(Code::Unauthenticated));
        let listed = adm.list_api_keys(with_key(apb::ListApiKeysRequest { tenant_id: "shop".into(), page: None }, &admin)?).await?.into_inner();
        assert_eq!(listed.keys.len(), 2);
        assert!(listed.keys.iter().all(|k| k.revoked_at.is_some()));
        suite.stop().await
    }

    async fn over_the_rate_limit_callers_are_told_when_to_retry(backend) -> anyhow::Result<()> {
        let limits = RateLimitConfig { per_key_per_second: 5, per_tenant_per_second: 1_000 };
        let (suite, _dbs) = start(backend, limits).await?;
        let key = suite.create_key("acme", &["*:read"]).await?;
        let mut wallet = WalletServiceClient::new(channel(suite.addrs().gateway).await?);
        let mut refused = None;
        let mut served = 0;
        for _ in 0..20 {
            match wallet.get_balance(with_key(wpb::GetBalanceRequest { customer_id: "c".into(), ..Default::default() }, &key)?).await {
                Ok(_) => served += 1,
                Err(s) => {
                    refused = Some(s);
                    break;
                }
            }
        }
        assert!(served >= 5, "the burst is served");
        let refused = refused.ok_or_else(|| anyhow::anyhow!("never limited"))?;
        assert_eq!(refused.code(), Code::ResourceExhausted);
        let retry = refused.get_details_retry_info().and_then(|r| r.retry_delay);
        assert!(retry.is_some_and(|d| d > Duration::ZERO && d <= Duration::from_secs(1)), "{retry:?}");
        tokio::time::sleep(retry.unwrap_or_default()).await;
        wallet.get_balance(with_key(wpb::GetBalanceRequest { customer_id: "c".into(), ..Default::default() }, &key)?).await?;
        suite.stop().await
    }

    async fn watch_events_streams_through_the_gateway(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let key = suite.create_key("acme", &["*:write"]).await?;
        let mut wallet = WalletServiceClient::new(channel(suite.addrs().gateway).await?);
        let mut events = wallet.watch_events(with_key(wpb::WatchEventsRequest::default(), &key)?).await?.into_inner();
        wallet.credit(with_key(wpb::CreditRequest { idempotency_key: "k".into(), customer_id: "ann".into(), amount: Some(eur("2.00")), ..Default::default() }, &key)?).await?;
        let event = tokio::time::timeout(Duration::from_secs(10), events.message()).await??.ok_or_else(|| anyhow::anyhow!("stream ended"))?;
        assert_eq!(event.amount.map(|m| m.amount), Some("2.00".into()));
        suite.stop().await
    }
}
