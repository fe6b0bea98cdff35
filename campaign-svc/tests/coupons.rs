//! Coupon codes through real gRPC on both backends: given and generated
//! batches, uses counted exactly under concurrency, holds that lapse, uses
//! given back, refusals with their reasons, bad input, replays.
mod support;

use std::{collections::BTreeMap, time::Duration};

use boomerang_common::{
    backend_tests,
    testing::{TestBackend, eventually},
    time::to_timestamp,
};
use boomerang_proto::campaign::v1 as pb;
use support::{CouponClient, Service, micros, spec};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

const NOW: &str = "2026-06-01T10:00:00Z";

fn percent_off() -> pb::CouponEffect {
    pb::CouponEffect {
        kind: Some(pb::coupon_effect::Kind::PercentOff(pb::PercentOff {
            percent: "10".into(),
            scope: pb::DiscountScope::Order as i32,
        })),
    }
}

fn rules(max_uses: u32, per_customer: u32) -> pb::CouponRules {
    pb::CouponRules {
        max_uses,
        max_uses_per_customer: per_customer,
        effect: Some(percent_off()),
        ..Default::default()
    }
}

fn given(codes: &[(&str, &str)]) -> pb::create_coupon_batch_request::Codes {
    pb::create_coupon_batch_request::Codes::Given(pb::GivenCodes {
        codes: codes
            .iter()
            .map(|(code, customer)| pb::GivenCode {
                code: (*code).into(),
                customer_id: (*customer).into(),
            })
            .collect(),
    })
}

fn batch(
    campaign: &str,
    id: &str,
    rules: pb::CouponRules,
    codes: pb::create_coupon_batch_request::Codes,
) -> pb::CreateCouponBatchRequest {
    pb::CreateCouponBatchRequest {
        idempotency_key: format!("batch-{campaign}-{id}"),
        campaign_id: campaign.into(),
        batch_id: id.into(),
        rules: Some(rules),
        codes: Some(codes),
        validate_only: false,
    }
}

fn hold(code: &str, key: &str, customer: &str) -> pb::ReserveCouponRequest {
    pb::ReserveCouponRequest {
        idempotency_key: key.into(),
        code: code.into(),
        customer_id: customer.into(),
        order_id: format!("o-{key}"),
        ttl: None,
    }
}

fn reason(s: &Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// A service with a running campaign "c" (scheduled, within its schedule).
async fn running(backend: TestBackend) -> anyhow::Result<Service> {
    let mut s = Service::start(backend, NOW).await?;
    s.create("c", spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"))
        .await?;
    s.schedule("c").await?;
    Ok(s)
}

/// `n` concurrent holds of `code`, customer by `who(i)`: outcomes by code.
async fn race(
    coupons: &CouponClient,
    code: &str,
    n: usize,
    who: impl Fn(usize) -> String,
) -> BTreeMap<String, usize> {
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..n {
        let (mut c, req) = (coupons.clone(), hold(code, &format!("{code}-{i}"), &who(i)));
        calls.spawn(async move { c.reserve_coupon(req).await });
    }
    let mut counts = BTreeMap::new();
    while let Some(done) = calls.join_next().await {
        let key = match done {
            Ok(Ok(_)) => "held".to_owned(),
            Ok(Err(s)) => format!("{:?} {}", s.code(), reason(&s)),
            Err(e) => format!("panicked: {e}"),
        };
        *counts.entry(key).or_default() += 1;
    }
    counts
}

async fn coupon(s: &Service, code: &str) -> anyhow::Result<pb::Coupon> {
    let got = s
        .coupons
        .clone()
        .get_coupon(pb::GetCouponRequest { code: code.into() })
        .await?;
    Ok(got.into_inner().coupon.unwrap_or_default())
}

backend_tests! {
    async fn given_codes_are_case_insensitive_unique_and_listed(backend) -> anyhow::Result<()> {
        let s = running(backend).await?;
        let mut c = s.coupons.clone();
        let made = c.create_coupon_batch(batch("c", "vip", rules(1, 0), given(&[("vip-anna", "anna"), ("WELCOME10", "")]))).await?;
        let b = made.into_inner().batch.unwrap_or_default();
        assert_eq!((b.requested, b.created, b.state), (2, 2, pb::CouponBatchState::Ready as i32));
        let anna = coupon(&s, " Vip-Anna ").await?;
        assert_eq!((anna.code.as_str(), anna.customer_id.as_str(), anna.state), ("VIP-ANNA", "anna", pb::CouponState::Available as i32));
        // A code is unique within the tenant, whatever the batch or the case.
        let again = c.create_coupon_batch(batch("c", "other", rules(1, 0), given(&[("welcome10", "")]))).await;
        assert_eq!(again.err().map(|e| e.code()), Some(Code::AlreadyExists));
        let mine = c.list_coupons(pb::ListCouponsRequest { customer_id: "anna".into(), ..Default::default() }).await?.into_inner();
        assert_eq!(mine.coupons.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(), vec!["VIP-ANNA"]);
        let page = c.list_coupons(pb::ListCouponsRequest { campaign_id: "c".into(), page: Some(boomerang_proto::common::v1::PageRequest { page_size: 1, page_token: String::new() }), ..Default::default() }).await?.into_inner();
        assert_eq!((page.coupons.len(), page.next_page_token.as_str()), (1, "VIP-ANNA"));
        Ok(())
    }

    async fn a_batch_is_checked_without_writing_and_batches_are_listed_with_figures(backend) -> anyhow::Result<()> {
        let s = running(backend).await?;
        let mut c = s.coupons.clone();
        c.create_coupon_batch(batch("c", "vip", rules(1, 0), given(&[("VIP-ANNA", "anna")]))).await?;
        let check = |req: pb::CreateCouponBatchRequest| pb::CreateCouponBatchRequest { idempotency_key: String::new(), validate_only: true, ..req };
        let pattern = pb::create_coupon_batch_request::Codes::Pattern(pb::CodePattern { pattern: "bf26-####".into(), count: 100 });
        // The batch as the create would answer it; nothing written, no key needed.
        let would = c.create_coupon_batch(check(batch("c", "bf", rules(1, 0), pattern.clone()))).await?.into_inner().batch.unwrap_or_default();
        assert_eq!((would.pattern.as_str(), would.requested, would.state), ("BF26-####", 100, pb::CouponBatchState::Generating as i32));
        let got = c.get_coupon_batch(pb::GetCouponBatchRequest { campaign_id: "c".into(), batch_id: "bf".into() }).await;
        assert_eq!(got.err().map(|e| e.code()), Some(Code::NotFound));
        // The create's refusals: a batch or a code the tenant has, a campaign that is not there.
        let code = |r: Result<tonic::Response<pb::CreateCouponBatchResponse>, Status>| r.err().map(|e| e.code());
        assert_eq!(code(c.create_coupon_batch(check(batch("c", "vip", rules(1, 0), pattern.clone()))).await), Some(Code::AlreadyExists));
        assert_eq!(code(c.create_coupon_batch(check(batch("c", "v2", rules(1, 0), given(&[("vip-anna", "")])))).await), Some(Code::AlreadyExists));
        assert_eq!(code(c.create_coupon_batch(check(batch("nope", "v2", rules(1, 0), pattern.clone()))).await), Some(Code::NotFound));
        // Without a campaign: the rules, and codes new to the tenant.
        assert_eq!(code(c.create_coupon_batch(check(batch("", "v2", rules(1, 0), given(&[("vip-anna", "")])))).await), Some(Code::AlreadyExists));
        let alone = c.create_coupon_batch(check(batch("", "v2", rules(1, 0), given(&[("vip-new", "")])))).await?.into_inner().batch.unwrap_or_default();
        assert_eq!((alone.campaign_id.as_str(), alone.created, alone.state), ("", 1, pb::CouponBatchState::Ready as i32));
        let bad = pb::CouponRules { effect: None, ..rules(1, 0) };
        assert_eq!(code(c.create_coupon_batch(check(batch("", "v2", bad, pattern.clone()))).await), Some(Code::InvalidArgument));
        // The vouchers' batch is the campaign's own.
        let err = c.create_coupon_batch(batch("c", "vouchers", rules(1, 0), pattern.clone())).await.err();
        let fields: Vec<String> = err.map(|e| e.get_error_details().bad_request().map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect()).unwrap_or_default()).unwrap_or_default();
        assert_eq!(fields, vec!["batch_id".to_owned()]);

        // Listed by batch id, a page at a time, each with its figures.
        c.create_coupon_batch(batch("c", "bf", rules(1, 0), pattern)).await?;
        c.create_coupon_batch(batch("c", "after", rules(1, 0), given(&[("AFTER", "")]))).await?;
        c.reserve_coupon(hold("VIP-ANNA", "h1", "anna")).await?;
        let list = |token: &str| pb::ListCouponBatchesRequest { campaign_id: "c".into(), page: Some(boomerang_proto::common::v1::PageRequest { page_size: 2, page_token: token.into() }) };
        let first = c.list_coupon_batches(list("")).await?.into_inner();
        let ids: Vec<&str> = first.batches.iter().map(|b| b.batch_id.as_str()).collect();
        assert_eq!((ids, first.next_page_token.as_str()), (vec!["after", "bf"], "bf"));
        let second = c.list_coupon_batches(list(&first.next_page_token)).await?.into_inner();
        let vip = second.batches.first().cloned().unwrap_or_default();
        assert_eq!((second.batches.len(), vip.batch_id.as_str(), vip.reserved_uses, second.next_page_token.as_str()), (1, "vip", 1, ""));
        Ok(())
    }

    async fn a_pattern_generates_its_codes_by_job(backend) -> anyhow::Result<()> {
        let s = running(backend).await?;
        let mut c = s.coupons.clone();
        let pattern = pb::create_coupon_batch_request::Codes::Pattern(pb::CodePattern { pattern: "bf26-####-????".into(), count: 25_000 });
        let made = c.create_coupon_batch(batch("c", "bf", rules(1, 0), pattern)).await?.into_inner().batch.unwrap_or_default();
        assert_eq!((made.state, made.pattern.as_str()), (pb::CouponBatchState::Generating as i32, "BF26-####-????"));
        let get = pb::GetCouponBatchRequest { campaign_id: "c".into(), batch_id: "bf".into() };
        let state = |c: &CouponClient, get: &pb::GetCouponBatchRequest| {
            let (mut c, get) = (c.clone(), get.clone());
            async move { anyhow::Ok(c.get_coupon_batch(get).await?.into_inner().batch.unwrap_or_default()) }
        };
        eventually("the batch is generated", || {
            let state = state(&c, &get);
            async move { Ok(state.await?.state == pb::CouponBatchState::Ready as i32) }
        })
        .await?;
        let ready = state(&c, &get).await?;
        assert_eq!(ready.created, 25_000);
        let page = c.list_coupons(pb::ListCouponsRequest { campaign_id: "c".into(), batch_id: "bf".into(), ..Default::default() }).await?.into_inner();
        assert_eq!(page.coupons.len(), 50);
        for code in &page.coupons {
            let ok = code.code.len() == 14 && code.code.starts_with("BF26-") && !code.code.contains(['0', '1', 'I', 'L', 'O']);
            assert!(ok, "{}", code.code);
        }
        Ok(())
    }

    async fn a_small_pattern_fills_up_over_several_jobs(backend) -> anyhow::Result<()> {
        // "##" makes 64 codes; 32 wanted. One draw of 32 repeats itself (the
        // birthday problem), so the batch needs further jobs, each drawing
        // what is still missing, until every code exists once.
        let s = running(backend).await?;
        let mut c = s.coupons.clone();
        let pattern = pb::create_coupon_batch_request::Codes::Pattern(pb::CodePattern { pattern: "X##".into(), count: 32 });
        c.create_coupon_batch(batch("c", "tiny", rules(1, 0), pattern)).await?;
        let get = pb::GetCouponBatchRequest { campaign_id: "c".into(), batch_id: "tiny".into() };
        eventually("the small batch is generated", || {
            let (mut c, get) = (c.clone(), get.clone());
            async move {
                let b = c.get_coupon_batch(get).await?.into_inner().batch.unwrap_or_default();
                Ok(b.state == pb::CouponBatchState::Ready as i32 && b.created == 32)
            }
        })
        .await?;
        let page = c.list_coupons(pb::ListCouponsRequest { campaign_id: "c".into(), batch_id: "tiny".into(), ..Default::default() }).await?.into_inner();
        let codes: std::collections::BTreeSet<String> = page.coupons.iter().map(|c| c.code.clone()).collect();
        assert_eq!(codes.len(), 32);
        assert!(codes.iter().all(|c| c.len() == 3 && c.starts_with('X')), "{codes:?}");
        Ok(())
    }

    async fn uses_are_counted_exactly_under_concurrency(backend) -> anyhow::Result<()> {
        let s = running(backend).await?;
        let mut c = s.coupons.clone();
        c.create_coupon_batch(batch("c", "once", rules(1, 0), given(&[("ONCE", "")]))).await?;
        c.create_coupon_batch(batch("c", "fifty", rules(50, 0), given(&[("FIFTY", "")]))).await?;
        c.create_coupon_batch(batch("c", "each", rules(0, 1), given(&[("EACH", "")]))).await?;
        let once = race(&s.coupons, "ONCE", 100, |i| format!("c{i}")).await;
        assert_eq!(once.get("held"), Some(&1), "{once:?}");
        assert_eq!(once.get("ResourceExhausted COUPON_USED_UP"), Some(&99), "{once:?}");
        let fifty = race(&s.coupons, "FIFTY", 200, |i| format!("c{i}")).await;
        assert_eq!(fifty.get("held"), Some(&50), "{fifty:?}");
        assert_eq!(fifty.get("ResourceExhausted COUPON_USED_UP"), Some(&150), "{fifty:?}");
        assert_eq!((coupon(&s, "FIFTY").await?.reserved_uses, coupon(&s, "FIFTY").await?.state), (50, pb::CouponState::UsedUp as i32));
        // One use per customer, unlimited in all: 20 tries of one customer hold one.
        let each = race(&s.coupons, "EACH", 20, |_| "anna".into()).await;
        assert_eq!(each.get("held"), Some(&1), "{each:?}");
        assert_eq!(each.get("ResourceExhausted COUPON_USED_UP_BY_CUSTOMER"), Some(&19), "{each:?}");
        let checked = c.check_coupons(pb::CheckCouponsRequest { codes: vec!["ONCE".into(), "EACH".into()], customer_id: "anna".into() }).await?.into_inner();
        let why: Vec<&str> = checked.checks.iter().map(|c| c.refusal.as_str()).collect();
        assert_eq!(why, vec!["COUPON_USED_UP", "COUPON_USED_UP_BY_CUSTOMER"]);
        c.reserve_coupon(hold("EACH", "bob", "bob")).await?;
        Ok(())
    }

    async fn a_hold_lapses_and_uses_come_back_when_the_batch_says_so(backend) -> anyhow::Result<()> {
        let s = running(backend).await?;
        let mut c = s.coupons.clone();
        c.create_coupon_batch(batch("c", "kept", rules(1, 1), given(&[("KEPT", "")]))).await?;
        let back = pb::CouponRules { uses_given_back: true, ..rules(1, 1) };
        c.create_coupon_batch(batch("c", "back", back, given(&[("BACK", "")]))).await?;
        // A hold never confirmed lapses at its TTL: the use is free again.
        let req = pb::ReserveCouponRequest { ttl: Some(prost_types::Duration { seconds: 60, nanos: 0 }), ..hold("KEPT", "h1", "anna") };
        let held = c.reserve_coupon(req).await?.into_inner().redemption.unwrap_or_default();
        s.clock.advance(Duration::from_secs(61));
        eventually("the hold lapsed", || {
            let s = &s;
            async move { Ok(coupon(s, "KEPT").await?.reserved_uses == 0) }
        })
        .await?;
        let late = c.confirm_coupon(pb::ConfirmCouponRequest { idempotency_key: "late".into(), redemption_id: held.redemption_id }).await;
        assert_eq!(late.err().map(|e| e.code()), Some(Code::FailedPrecondition));
        // Redeemed: kept by a batch that keeps uses, given back by one that gives them back.
        for code in ["KEPT", "BACK"] {
            let r = c.reserve_coupon(hold(code, &format!("{code}-2"), "anna")).await?.into_inner().redemption.unwrap_or_default();
            c.confirm_coupon(pb::ConfirmCouponRequest { idempotency_key: format!("{code}-c"), redemption_id: r.redemption_id.clone() }).await?;
            let released = c.release_coupon(pb::ReleaseCouponRequest { idempotency_key: format!("{code}-r"), redemption_id: r.redemption_id }).await;
            let after = coupon(&s, code).await?;
            if code == "KEPT" {
                assert_eq!(released.err().map(|e| e.code()), Some(Code::FailedPrecondition));
                assert_eq!((after.redeemed_uses, after.state), (1, pb::CouponState::UsedUp as i32));
            } else {
                assert_eq!(released?.into_inner().redemption.map(|r| r.status), Some(pb::RedemptionStatus::Released as i32));
                assert_eq!((after.redeemed_uses, after.state), (0, pb::CouponState::Available as i32));
                c.reserve_coupon(hold(code, "again", "anna")).await?;
            }
        }
        let got = s.coupons.clone().get_coupon(pb::GetCouponRequest { code: "BACK".into() }).await?.into_inner();
        assert_eq!(got.redemptions.len(), 2);
        Ok(())
    }

    async fn refusals_say_why(backend) -> anyhow::Result<()> {
        let s = running(backend).await?;
        let mut c = s.coupons.clone();
        let window = pb::CouponRules {
            valid_from: Some(to_timestamp(micros("2026-06-02T00:00:00Z"))),
            valid_until: Some(to_timestamp(micros("2026-06-03T00:00:00Z"))),
            ..rules(0, 0)
        };
        c.create_coupon_batch(batch("c", "later", window, given(&[("LATER", ""), ("ANNAS", "anna")]))).await?;
        let mut s = s;
        s.create("draft", spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z")).await?;
        c.create_coupon_batch(batch("draft", "d", rules(0, 0), given(&[("DRAFTY", "")]))).await?;
        let refusal = |r: Result<tonic::Response<pb::ReserveCouponResponse>, Status>| r.err().map(|e| (e.code(), reason(&e)));
        let pre = |reason: &str| Some((Code::FailedPrecondition, reason.to_owned()));
        // A check holds nothing and says what a hold would.
        let checked = c.check_coupons(pb::CheckCouponsRequest { codes: vec!["later".into(), "NOPE".into(), "annas".into()], customer_id: "bob".into() }).await?.into_inner();
        let why: Vec<(&str, &str)> = checked.checks.iter().map(|c| (c.code.as_str(), c.refusal.as_str())).collect();
        assert_eq!(why, vec![("LATER", "COUPON_NOT_YET_VALID"), ("NOPE", "COUPON_UNKNOWN"), ("ANNAS", "COUPON_NOT_YET_VALID")]);
        assert_eq!(refusal(c.reserve_coupon(hold("LATER", "k1", "bob")).await), pre("COUPON_NOT_YET_VALID"));
        assert_eq!(refusal(c.reserve_coupon(hold("DRAFTY", "k2", "bob")).await), pre("CAMPAIGN_NOT_RUNNING"));
        assert_eq!(c.reserve_coupon(hold("NOPE", "k3", "bob")).await.err().map(|e| e.code()), Some(Code::NotFound));
        s.clock.advance(Duration::from_secs(86_400));
        assert_eq!(refusal(c.reserve_coupon(hold("ANNAS", "k4", "bob")).await), pre("COUPON_NOT_YOURS"));
        c.reserve_coupon(hold("ANNAS", "k5", "anna")).await?;
        s.clock.advance(Duration::from_secs(86_400));
        assert_eq!(refusal(c.reserve_coupon(hold("LATER", "k6", "bob")).await), pre("COUPON_EXPIRED"));
        Ok(())
    }

    async fn bad_input_changes_nothing_and_replays_answer_the_same(backend) -> anyhow::Result<()> {
        let s = running(backend).await?;
        let mut c = s.coupons.clone();
        let long = "A".repeat(65);
        let many: Vec<(String, String)> = (0..10_001).map(|i| (format!("C{i}"), String::new())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let pattern = |p: &str, count| pb::create_coupon_batch_request::Codes::Pattern(pb::CodePattern { pattern: p.into(), count });
        for (req, field) in [
            (batch("c", "b1", rules(1, 0), given(&[(long.as_str(), "")])), "given.codes[0].code"),
            (batch("c", "b2", rules(1, 0), given(&many)), "given.codes"),
            (batch("c", "b3", rules(1, 0), given(&[("X1", ""), ("x1", "")])), "given.codes[1].code"),
            (batch("c", "b4", rules(1, 0), pattern("BF26", 10)), "pattern.pattern"),
            (batch("c", "b5", rules(1, 0), pattern("A#", 5)), "pattern.pattern"),
            (batch("c", "b6", rules(1, 0), pattern("A####", 0)), "pattern.count"),
            (batch("c", "b7", pb::CouponRules { effect: None, ..rules(1, 0) }, given(&[("X2", "")])), "rules.effect"),
        ] {
            let err = c.create_coupon_batch(req).await.err().unwrap_or_else(|| panic!("{field} accepted"));
            assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
            let fields: Vec<String> = err.get_error_details().bad_request().map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect()).unwrap_or_default();
            assert!(fields.iter().any(|f| f == field), "{field}: {fields:?}");
        }
        let listed = c.list_coupons(pb::ListCouponsRequest { campaign_id: "c".into(), ..Default::default() }).await?.into_inner();
        assert!(listed.coupons.is_empty());
        let long_code = c.reserve_coupon(hold(&long, "k", "anna")).await;
        assert_eq!(long_code.err().map(|e| e.code()), Some(Code::InvalidArgument));
        // Replays: the first answer, byte for byte; another payload is refused.
        let create = batch("c", "r", rules(2, 0), given(&[("REPLAY", "")]));
        let first = c.create_coupon_batch(create.clone()).await?.into_inner();
        assert_eq!(c.create_coupon_batch(create).await?.into_inner(), first);
        let h = hold("REPLAY", "same", "anna");
        let first = c.reserve_coupon(h.clone()).await?.into_inner();
        assert_eq!(c.reserve_coupon(h.clone()).await?.into_inner(), first);
        let other = c.reserve_coupon(pb::ReserveCouponRequest { customer_id: "bob".into(), ..h }).await;
        assert_eq!(other.err().map(|e| e.code()), Some(Code::AlreadyExists));
        assert_eq!(coupon(&s, "REPLAY").await?.reserved_uses, 1);
        Ok(())
    }
}
