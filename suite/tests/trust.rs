//! The trust model from outside, on both backends (issue #15): a service
//! serves only calls whose credential is signed with the platform key, for
//! it, and unexpired, whatever headers say; service-only RPCs are refused to
//! every key at the gateway and to gateway credentials at the service.
mod support;

use boomerang_common::{
    auth::Keys,
    backend_tests,
    testing::{AsTenant, channel, internal_auth},
    time::{now_micros, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{GetProgramRequest, accrual_service_client::AccrualServiceClient},
    campaign::v1::{
        self as cpb, campaign_service_client::CampaignServiceClient,
        coupon_service_client::CouponServiceClient,
    },
    common::v1::Money,
    referral::v1::{self as rpb, referral_service_client::ReferralServiceClient},
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use gateway::limits::RateLimitConfig;
use support::{start, with_key};
use tonic::{Code, Request};

fn eur(a: &str) -> Money {
    Money {
        amount: a.into(),
        asset: "EUR".into(),
    }
}

fn credit(key: &str, amount: &str) -> wpb::CreditRequest {
    wpb::CreditRequest {
        idempotency_key: key.into(),
        customer_id: "ann".into(),
        amount: Some(eur(amount)),
        ..Default::default()
    }
}

/// `message` with `authorization: <value>` and the tenant header the
/// gateway used to set, as an attacker in the cluster would send it.
fn claiming_acme<T>(message: T, authorization: Option<&str>) -> anyhow::Result<Request<T>> {
    let mut req = Request::new(message);
    req.metadata_mut()
        .insert("x-boomerang-tenant", "acme".parse()?);
    if let Some(value) = authorization {
        req.metadata_mut().insert("authorization", value.parse()?);
    }
    Ok(req)
}

/// A credential signed with `pem`, with `claims` (JSON), as anyone could make one.
fn token(pem: &str, claims: serde_json::Value) -> anyhow::Result<String> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(Keys::from_pem(pem)?.kid().to_owned());
    let key = jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes())?;
    Ok(format!(
        "Bearer {}",
        jsonwebtoken::encode(&header, &claims, &key)?
    ))
}

fn claims(audience: &str, exp_in_secs: i64) -> serde_json::Value {
    let now = now_micros() / 1_000_000;
    serde_json::json!({
        "iss": "gateway", "aud": audience, "sub": "intruder", "tenant": "acme",
        "scope": "*:admin", "iat": now, "exp": now + exp_in_secs,
    })
}

fn code<T>(answer: Result<T, tonic::Status>) -> Option<Code> {
    answer.err().map(|s| s.code())
}

backend_tests! {
    async fn services_trust_credentials_not_headers(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let addrs = suite.addrs();
        let mut wallet = WalletServiceClient::new(channel(addrs.wallet).await?);
        let platform_key = internal_auth().key;
        let other_key = boomerang_common::auth::generate_pem()?;
        // The attack of the issue: a pod that reaches the port names a tenant.
        let bare = wallet.credit(claiming_acme(credit("bare", "1000.00"), None)?).await;
        assert_eq!(code(bare), Some(Code::Unauthenticated));
        let refused = [
            ("forged", token(&other_key, claims("wallet", 60))?),
            ("expired", token(&platform_key, claims("wallet", -60))?),
            ("for another service", token(&platform_key, claims("campaign", 60))?),
            ("not a credential", "Bearer acme".to_owned()),
        ];
        for (what, authorization) in &refused {
            let answer = wallet.credit(claiming_acme(credit(what, "1000.00"), Some(authorization))?).await;
            assert_eq!(code(answer), Some(Code::Unauthenticated), "{what}");
        }
        // The same credential, well made, is served: the refusals were for what they say.
        let good = token(&platform_key, claims("wallet", 60))?;
        wallet.credit(claiming_acme(credit("good", "1.00"), Some(&good))?).await?;
        let mut as_acme = WalletServiceClient::with_interceptor(channel(addrs.wallet).await?, AsTenant::new("wallet", "acme")?);
        let balance = as_acme.get_balance(wpb::GetBalanceRequest { customer_id: "ann".into(), ..Default::default() }).await?.into_inner();
        let available: Vec<&str> = balance.balances.iter().filter_map(|b| b.available.as_ref()).map(|m| m.amount.as_str()).collect();
        assert_eq!(available, ["1.00"], "none of the 1,000.00 credits landed");

        // Every service refuses a bare header, reads too.
        let read = AccrualServiceClient::new(channel(addrs.accrual).await?)
            .get_program(claiming_acme(GetProgramRequest { program_id: "demo".into(), version: 0 }, None)?).await;
        assert_eq!(code(read), Some(Code::Unauthenticated));
        let read = CampaignServiceClient::new(channel(addrs.campaign).await?)
            .get_campaign(claiming_acme(cpb::GetCampaignRequest { campaign_id: "x".into(), terms_at: None }, None)?).await;
        assert_eq!(code(read), Some(Code::Unauthenticated));
        let read = ReferralServiceClient::new(channel(addrs.referral).await?)
            .get_referral_program(claiming_acme(rpb::GetReferralProgramRequest::default(), None)?).await;
        assert_eq!(code(read), Some(Code::Unauthenticated));
        // Probes and reflection need no credential.
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel(addrs.wallet).await?);
        health.check(tonic_health::pb::HealthCheckRequest { service: "readiness".into() }).await?;
        suite.stop().await
    }

    async fn service_only_rpcs_take_service_credentials_only(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let addrs = suite.addrs();
        let gw = channel(addrs.gateway).await?;
        let shop = suite.create_key("shop", &["*:admin"]).await?;
        let platform = suite.create_key("boomerang", &["*:admin"]).await?;
        let mut referral = ReferralServiceClient::new(gw.clone());
        let program = rpb::ReferralProgram {
            referrer_reward: Some(rpb::ReferrerReward { kind: Some(rpb::referrer_reward::Kind::Percent("5".into())) }),
            ..Default::default()
        };
        referral.upsert_referral_program(with_key(rpb::UpsertReferralProgramRequest { idempotency_key: "rp".into(), program: Some(program), ..Default::default() }, &shop)?).await?;
        let made = rpb::CreateReferralCodeRequest { idempotency_key: "c".into(), referrer_customer_id: "rita".into(), ..Default::default() };
        let code_of_rita = referral.create_referral_code(with_key(made, &shop)?).await?.into_inner().code.unwrap_or_default().code;
        let attribute = rpb::AttributeReferralRequest { idempotency_key: "a".into(), code: code_of_rita, referee_customer_id: "ron".into(), context: None };
        referral.attribute_referral(with_key(attribute, &shop)?).await?;
        // A made-up order of 20,000.00 EUR: 5% would pay rita 1,000.00.
        let made_up = |key: &str| rpb::OnPurchaseRequest {
            idempotency_key: key.into(),
            referee_customer_id: "ron".into(),
            order_id: format!("made-up-{key}"),
            order_amount: Some(eur("20000.00")),
            occurred_at: Some(to_timestamp(now_micros())),
            release_at: Some(to_timestamp(now_micros())),
        };

        // Through the gateway: refused there (it says so) to the tenant's
        // admin key and to the platform's, before any service is asked.
        for (who, key) in [("tenant admin", &shop), ("platform admin", &platform)] {
            let answer = referral.on_purchase(with_key(made_up(who), key)?).await;
            let refused = answer.err().map(|s| (s.code(), s.message().contains("no key may")));
            assert_eq!(refused, Some((Code::PermissionDenied, true)), "{who}");
        }
        let mut campaign = CampaignServiceClient::new(gw.clone());
        let reserve = cpb::ReserveBudgetRequest { idempotency_key: "r".into(), campaign_id: "x".into(), amount: Some(eur("1.00")), ..Default::default() };
        assert_eq!(code(campaign.reserve_budget(with_key(reserve, &shop)?).await), Some(Code::PermissionDenied));
        let mut coupons = CouponServiceClient::new(gw.clone());
        let hold = cpb::ReserveCouponRequest { idempotency_key: "h".into(), code: "FREE".into(), customer_id: "ron".into(), order_id: "o".into(), ttl: None };
        assert_eq!(code(coupons.reserve_coupon(with_key(hold, &shop)?).await), Some(Code::PermissionDenied));
        let mut wallet = WalletServiceClient::new(gw);
        let release = wpb::ReleaseCreditRequest::default();
        assert_eq!(code(wallet.release_credit(with_key(release, &shop)?).await), Some(Code::PermissionDenied));
        // Straight to the service with what the gateway mints, even for an admin: refused.
        let as_gateway = AsTenant::via_gateway(&["*:admin"], "referral", "shop")?;
        let mut direct = ReferralServiceClient::with_interceptor(channel(addrs.referral).await?, as_gateway);
        assert_eq!(code(direct.on_purchase(made_up("stolen")).await), Some(Code::PermissionDenied));
        let rita = || wpb::GetBalanceRequest { customer_id: "rita".into(), ..Default::default() };
        let mut as_shop = WalletServiceClient::with_interceptor(channel(addrs.wallet).await?, AsTenant::new("wallet", "shop")?);
        assert!(as_shop.get_balance(rita()).await?.into_inner().balances.is_empty(), "nothing paid");

        // A service's credential is served: the refusals guarded real money.
        let as_service = AsTenant::new("referral", "shop")?;
        let mut service: ReferralServiceClient<_> = ReferralServiceClient::with_interceptor(channel(addrs.referral).await?, as_service);
        let paid = service.on_purchase(made_up("service")).await?.into_inner();
        assert_eq!(paid.rewards.iter().map(|m| m.amount.as_str()).collect::<Vec<_>>(), ["1000.00"]);
        suite.stop().await
    }
}
