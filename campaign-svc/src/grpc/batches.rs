//! gRPC handlers of CouponService's batch RPCs: create (or check) a batch,
//! get one, list a campaign's; parse, one facade call (once per idempotency
//! key for a create), render.
use boomerang_common::{
    db::Conn,
    error::{AppError, Violations},
    idempotency::Mutations,
    tenant::tenant_of,
    time::{instant, to_timestamp},
};
use boomerang_proto::campaign::v1 as pb;
use futures::future::BoxFuture;
use tonic::{Request, Response, Status};

use super::{convert, coupons::to_rules};
use crate::{
    campaigns::{
        Campaigns,
        coupons::{BatchView, Codes, VOUCHERS},
    },
    domain::coupon::{Code, CouponEffect, MAX_GENERATED, MAX_GIVEN, Pattern, Rules, Scope},
};

/// Creates a batch (or, `validate_only`, checks it).
pub(super) async fn create(
    campaigns: &Campaigns,
    mutations: &Mutations,
    req: Request<pb::CreateCouponBatchRequest>,
) -> Result<Response<pb::CreateCouponBatchResponse>, Status> {
    let tenant = tenant_of(&req)?;
    let req = req.into_inner();
    let mut v = Violations::new();
    // validate_only without a campaign checks what needs none (a batch of
    // a campaign not created yet).
    let campaign = if req.campaign_id.is_empty() && req.validate_only {
        String::new()
    } else {
        convert::id(&mut v, "campaign_id", &req.campaign_id)
    };
    let batch = convert::id(&mut v, "batch_id", &req.batch_id);
    if batch == VOUCHERS {
        v.add("batch_id", "kept for the campaign's vouchers");
    }
    let rules = rules(&mut v, req.rules.as_ref());
    let codes = codes(&mut v, req.codes.as_ref());
    v.check()?;
    let (Some(rules), Some(codes)) = (rules, codes) else {
        return Err(AppError::invalid("rules", "required").into());
    };
    if req.validate_only {
        let b = campaigns
            .would_create_batch(&tenant, (&campaign, &batch), rules, codes)
            .await?;
        return Ok(Response::new(pb::CreateCouponBatchResponse {
            batch: Some(to_batch(&b)),
        }));
    }
    let (c, t) = (campaigns.clone(), tenant.clone());
    mutations
        .run(
            &tenant,
            "campaign.CreateCouponBatch",
            &req.idempotency_key,
            &req,
            move |conn: &mut Conn| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let b = c
                        .create_batch(conn, &t, (&campaign, &batch), rules, codes)
                        .await?;
                    Ok(pb::CreateCouponBatchResponse {
                        batch: Some(to_batch(&b)),
                    })
                })
            },
        )
        .await
}

/// A batch with its figures.
pub(super) async fn get(
    campaigns: &Campaigns,
    req: Request<pb::GetCouponBatchRequest>,
) -> Result<Response<pb::GetCouponBatchResponse>, Status> {
    let tenant = tenant_of(&req)?;
    let req = req.into_inner();
    let mut v = Violations::new();
    let campaign = convert::id(&mut v, "campaign_id", &req.campaign_id);
    let batch = convert::id(&mut v, "batch_id", &req.batch_id);
    v.check()?;
    let b = campaigns.batch(&tenant, &campaign, &batch).await?;
    Ok(Response::new(pb::GetCouponBatchResponse {
        batch: Some(to_batch(&b)),
    }))
}

/// A page of a campaign's batches.
pub(super) async fn list(
    campaigns: &Campaigns,
    req: Request<pb::ListCouponBatchesRequest>,
) -> Result<Response<pb::ListCouponBatchesResponse>, Status> {
    let tenant = tenant_of(&req)?;
    let req = req.into_inner();
    let mut v = Violations::new();
    let campaign = convert::id(&mut v, "campaign_id", &req.campaign_id);
    let (size, after) = super::page(req.page.as_ref());
    if !after.is_empty() && boomerang_common::id::check(&after).is_err() {
        v.add("page.page_token", "not a token from this list");
    }
    v.check()?;
    let (batches, next) = campaigns.batches(&tenant, &campaign, &after, size).await?;
    Ok(Response::new(pb::ListCouponBatchesResponse {
        batches: batches.iter().map(to_batch).collect(),
        next_page_token: next,
    }))
}

fn scope(v: &mut Violations, field: &str, s: i32) -> Scope {
    match pb::DiscountScope::try_from(s) {
        Ok(pb::DiscountScope::Order) => Scope::Order,
        Ok(pb::DiscountScope::MatchingLines) => Scope::MatchingLines,
        _ => {
            v.add(field, "ORDER or MATCHING_LINES");
            Scope::Order
        }
    }
}

fn effect(v: &mut Violations, e: Option<&pb::CouponEffect>) -> Option<CouponEffect> {
    use pb::coupon_effect::Kind;
    let f = "rules.effect";
    let required = |v: &mut Violations, field: String, m: &Option<_>| {
        if m.is_none() {
            v.add(field, "required");
        }
    };
    match e.and_then(|e| e.kind.as_ref()) {
        None => {
            v.add(f, "give one effect");
            None
        }
        Some(Kind::PercentOff(p)) => Some(CouponEffect::PercentOff {
            percent: convert::percent(v, &format!("{f}.percent_off.percent"), &p.percent),
            scope: scope(v, &format!("{f}.percent_off.scope"), p.scope),
        }),
        Some(Kind::AmountOff(a)) => {
            required(v, format!("{f}.amount_off.amount"), &a.amount);
            let amount = convert::money(v, &format!("{f}.amount_off.amount"), a.amount.as_ref());
            let scope = scope(v, &format!("{f}.amount_off.scope"), a.scope);
            amount.map(|amount| CouponEffect::AmountOff { amount, scope })
        }
        Some(Kind::ExtraReward(x)) => {
            if boomerang_common::money::Asset::builtin(&x.asset).is_none() {
                v.add(format!("{f}.extra_reward.asset"), "unknown asset");
            }
            Some(CouponEffect::ExtraReward {
                asset: x.asset.clone(),
                percent: convert::percent(v, &format!("{f}.extra_reward.percent"), &x.percent),
            })
        }
        Some(Kind::FixedReward(b)) => {
            required(v, format!("{f}.fixed_reward.amount"), &b.amount);
            convert::money(v, &format!("{f}.fixed_reward.amount"), b.amount.as_ref())
                .map(|amount| CouponEffect::FixedReward { amount })
        }
    }
}

fn rules(v: &mut Violations, r: Option<&pb::CouponRules>) -> Option<Rules> {
    let Some(r) = r else {
        v.add("rules", "required");
        return None;
    };
    let valid_from = instant(v, "rules.valid_from", r.valid_from.as_ref());
    let valid_until = instant(v, "rules.valid_until", r.valid_until.as_ref());
    if let (Some(from), Some(until)) = (valid_from, valid_until)
        && until <= from
    {
        v.add("rules.valid_until", "after valid_from");
    }
    let conditions = convert::conditions(v, "rules.conditions", r.conditions.as_ref());
    let effect = effect(v, r.effect.as_ref())?;
    Some(Rules {
        max_uses: r.max_uses,
        per_customer: r.max_uses_per_customer,
        valid_from,
        valid_until,
        conditions,
        effect,
        uses_given_back: r.uses_given_back,
    })
}

fn codes(v: &mut Violations, c: Option<&pb::create_coupon_batch_request::Codes>) -> Option<Codes> {
    use pb::create_coupon_batch_request::Codes as Given;
    match c {
        None => {
            v.add("codes", "give a pattern or the codes");
            None
        }
        Some(Given::Pattern(p)) => {
            let pattern = Pattern::parse(&p.pattern)
                .map_err(|e| v.add("pattern.pattern", e))
                .ok();
            if !(1..=MAX_GENERATED).contains(&p.count) {
                v.add("pattern.count", format!("1 to {MAX_GENERATED}"));
            }
            let pattern = pattern?;
            if !pattern.allows(p.count) {
                v.add(
                    "pattern.pattern",
                    format!(
                        "allows {} codes: at most half of them can be generated",
                        pattern.combinations()
                    ),
                );
            }
            Some(Codes::Pattern {
                pattern,
                text: p.pattern.to_ascii_uppercase(),
                count: p.count,
            })
        }
        Some(Given::Given(g)) => {
            if g.codes.is_empty() || g.codes.len() > MAX_GIVEN {
                v.add("given.codes", format!("1 to {MAX_GIVEN} codes"));
                return None;
            }
            let mut seen = std::collections::BTreeSet::new();
            let mut out = Vec::with_capacity(g.codes.len());
            for (i, c) in g.codes.iter().enumerate() {
                match Code::parse(&c.code) {
                    Ok(code) if !seen.insert(code.clone()) => {
                        v.add(format!("given.codes[{i}].code"), "given twice");
                    }
                    Ok(code) => {
                        if !c.customer_id.is_empty() {
                            boomerang_common::id::field(
                                v,
                                &format!("given.codes[{i}].customer_id"),
                                &c.customer_id,
                            );
                        }
                        out.push((code, c.customer_id.clone()));
                    }
                    Err(e) => v.add(format!("given.codes[{i}].code"), e),
                }
            }
            Some(Codes::Given(out))
        }
    }
}

fn to_batch(b: &BatchView) -> pb::CouponBatch {
    let count = |n: i64| u64::try_from(n).unwrap_or_default();
    pb::CouponBatch {
        campaign_id: b.row.campaign_id.clone(),
        batch_id: b.row.batch_id.clone(),
        rules: Some(to_rules(&b.rules)),
        pattern: b.row.pattern.clone(),
        requested: count(b.row.requested),
        created: count(b.row.created),
        state: i32::from(match b.row.state.as_str() {
            "generating" => pb::CouponBatchState::Generating,
            "ready" => pb::CouponBatchState::Ready,
            _ => pb::CouponBatchState::Failed,
        }),
        created_at: Some(to_timestamp(b.row.created_at)),
        reserved_uses: count(b.figures.0),
        redeemed_uses: count(b.figures.1),
        redeemed_codes: count(b.figures.2),
    }
}
