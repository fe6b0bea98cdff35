//! gRPC handlers of `boomerang.campaign.v1.CouponService`: parse, one
//! facade call (once per idempotency key for mutations), render.
use boomerang_common::{
    db::Conn,
    error::{AppError, Violations},
    idempotency::Mutations,
    tenant::tenant_of,
    time::to_timestamp,
};
use boomerang_proto::campaign::v1::{self as pb, coupon_service_server::CouponService};
use futures::future::BoxFuture;
use tonic::{Request, Response, Status};

use super::{
    convert, render,
    uses::{self, UseMove},
};
use crate::{
    campaigns::{
        Campaigns,
        coupons::{CouponView, DEFAULT_TTL, Hold, MAX_TTL, redemption_ref},
    },
    domain::coupon::{Code, CouponEffect, Rules, Scope, State},
    repo::coupons::{Filter, RedemptionRow},
};

/// Most codes one check takes.
const MAX_CHECKED: usize = 20;

/// The `CouponService` implementation.
#[derive(Clone, Debug)]
pub struct CouponServiceHandler {
    pub(super) campaigns: Campaigns,
    pub(super) mutations: Mutations,
}

impl CouponServiceHandler {
    /// Handlers over `campaigns`.
    pub fn new(campaigns: Campaigns) -> Self {
        let woken = campaigns.clone();
        Self {
            mutations: Mutations::new(campaigns.db().clone(), campaigns.clock().clone())
                .after_commit(move |_| woken.committed()),
            campaigns,
        }
    }
}

/// A code, or a violation on `field` (and None).
fn code(v: &mut Violations, field: &str, raw: &str) -> Option<Code> {
    Code::parse(raw).map_err(|e| v.add(field, e)).ok()
}

/// What a checked request's one code is: there once the violations are none.
fn parsed(code: Option<Code>) -> Result<Code, AppError> {
    code.ok_or_else(|| AppError::invalid("code", "required"))
}

pub(super) fn redemption_id(raw: &str) -> Result<i64, AppError> {
    raw.strip_prefix("cr_")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| AppError::invalid("redemption_id", "not a redemption id (cr_...)"))
}

pub(super) fn to_rules(r: &Rules) -> pb::CouponRules {
    use pb::coupon_effect::Kind;
    let scope = |s: Scope| match s {
        Scope::Order => pb::DiscountScope::Order as i32,
        Scope::MatchingLines => pb::DiscountScope::MatchingLines as i32,
    };
    let kind = match &r.effect {
        CouponEffect::PercentOff { percent, scope: s } => Kind::PercentOff(pb::PercentOff {
            percent: percent.clone(),
            scope: scope(*s),
        }),
        CouponEffect::AmountOff { amount, scope: s } => Kind::AmountOff(pb::AmountOff {
            amount: Some(amount.to_wire()),
            scope: scope(*s),
        }),
        CouponEffect::ExtraReward { asset, percent } => Kind::ExtraReward(pb::ExtraPercent {
            asset: asset.clone(),
            percent: percent.clone(),
        }),
        CouponEffect::FixedReward { amount } => Kind::FixedReward(pb::FixedBonus {
            amount: Some(amount.to_wire()),
        }),
    };
    pb::CouponRules {
        max_uses: r.max_uses,
        max_uses_per_customer: r.per_customer,
        valid_from: r.valid_from.map(to_timestamp),
        valid_until: r.valid_until.map(to_timestamp),
        conditions: Some(render::to_conditions(&r.conditions)),
        effect: Some(pb::CouponEffect { kind: Some(kind) }),
        uses_given_back: r.uses_given_back,
    }
}

fn to_state(s: State) -> i32 {
    let state = match s {
        State::Available => pb::CouponState::Available,
        State::UsedUp => pb::CouponState::UsedUp,
        State::NotYetValid => pb::CouponState::NotYetValid,
        State::Expired => pb::CouponState::Expired,
        State::Voided => pb::CouponState::Voided,
    };
    state as i32
}

pub(super) fn to_coupon(c: &CouponView) -> pb::Coupon {
    pb::Coupon {
        code: c.row.code.clone(),
        campaign_id: c.row.campaign_id.clone(),
        batch_id: c.row.batch_id.clone(),
        customer_id: c.row.customer_id.clone(),
        state: to_state(c.state),
        reserved_uses: u64::try_from(c.row.reserved).unwrap_or_default(),
        redeemed_uses: u64::try_from(c.row.redeemed).unwrap_or_default(),
        rules: Some(to_rules(&c.rules)),
        reference: c.row.reference.clone(),
    }
}

pub(super) fn to_redemption(r: &RedemptionRow) -> pb::CouponRedemption {
    pb::CouponRedemption {
        redemption_id: redemption_ref(r.id),
        code: r.code.clone(),
        customer_id: r.customer_id.clone(),
        order_id: r.order_id.clone(),
        status: i32::from(match r.status.as_str() {
            "reserved" => pb::RedemptionStatus::Reserved,
            "redeemed" => pb::RedemptionStatus::Redeemed,
            "released" => pb::RedemptionStatus::Released,
            _ => pb::RedemptionStatus::Expired,
        }),
        created_at: Some(to_timestamp(r.created_at)),
        expires_at: Some(to_timestamp(r.expires_at)),
    }
}

#[tonic::async_trait]
impl CouponService for CouponServiceHandler {
    async fn issue_voucher(
        &self,
        req: Request<pb::IssueVoucherRequest>,
    ) -> Result<Response<pb::IssueVoucherResponse>, Status> {
        super::vouchers::issue(&self.campaigns, &self.mutations, req).await
    }

    async fn void_voucher(
        &self,
        req: Request<pb::VoidVoucherRequest>,
    ) -> Result<Response<pb::VoidVoucherResponse>, Status> {
        super::vouchers::void(&self.campaigns, &self.mutations, req).await
    }

    async fn create_coupon_batch(
        &self,
        req: Request<pb::CreateCouponBatchRequest>,
    ) -> Result<Response<pb::CreateCouponBatchResponse>, Status> {
        super::batches::create(&self.campaigns, &self.mutations, req).await
    }

    async fn get_coupon_batch(
        &self,
        req: Request<pb::GetCouponBatchRequest>,
    ) -> Result<Response<pb::GetCouponBatchResponse>, Status> {
        super::batches::get(&self.campaigns, req).await
    }

    async fn list_coupon_batches(
        &self,
        req: Request<pb::ListCouponBatchesRequest>,
    ) -> Result<Response<pb::ListCouponBatchesResponse>, Status> {
        super::batches::list(&self.campaigns, req).await
    }

    async fn get_coupon(
        &self,
        req: Request<pb::GetCouponRequest>,
    ) -> Result<Response<pb::GetCouponResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let code = code(&mut v, "code", &req.code);
        v.check()?;
        let (coupon, redemptions) = self.campaigns.coupon(&tenant, &parsed(code)?).await?;
        Ok(Response::new(pb::GetCouponResponse {
            coupon: Some(to_coupon(&coupon)),
            redemptions: redemptions.iter().map(to_redemption).collect(),
        }))
    }

    async fn list_coupons(
        &self,
        req: Request<pb::ListCouponsRequest>,
    ) -> Result<Response<pb::ListCouponsResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        if req.campaign_id.is_empty() && req.customer_id.is_empty() {
            v.add("campaign_id", "required unless customer_id is given");
        }
        if !req.campaign_id.is_empty() {
            convert::id(&mut v, "campaign_id", &req.campaign_id);
        }
        if !req.batch_id.is_empty() {
            if req.campaign_id.is_empty() {
                v.add("batch_id", "only with campaign_id");
            }
            convert::id(&mut v, "batch_id", &req.batch_id);
        }
        if !req.customer_id.is_empty() {
            boomerang_common::id::field(&mut v, "customer_id", &req.customer_id);
        }
        let state = match pb::CouponState::try_from(req.state) {
            Ok(pb::CouponState::Unspecified) => None,
            Ok(pb::CouponState::Available) => Some(State::Available),
            Ok(pb::CouponState::UsedUp) => Some(State::UsedUp),
            Ok(pb::CouponState::NotYetValid) => Some(State::NotYetValid),
            Ok(pb::CouponState::Expired) => Some(State::Expired),
            Ok(pb::CouponState::Voided) => Some(State::Voided),
            Err(_) => {
                v.add("state", "unknown state");
                None
            }
        };
        let (size, after) = super::page(req.page.as_ref());
        if !after.is_empty() && Code::parse(&after).is_err() {
            v.add("page.page_token", "not a token from this list");
        }
        v.check()?;
        let filter = Filter {
            campaign: &req.campaign_id,
            batch: &req.batch_id,
            customer: &req.customer_id,
            after: &after,
            limit: size + 1,
        };
        // A page is read by code, then filtered by state: a page may hold
        // fewer than asked, and the token still moves on.
        let rows = self.campaigns.coupons(&tenant, filter).await?;
        let more = rows.len() as i64 > size;
        let page: Vec<&CouponView> = rows
            .iter()
            .take(usize::try_from(size).unwrap_or(0))
            .collect();
        let next = if more {
            page.last().map(|c| c.row.code.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListCouponsResponse {
            coupons: page
                .into_iter()
                .filter(|c| state.is_none_or(|s| c.state == s))
                .map(to_coupon)
                .collect(),
            next_page_token: next,
        }))
    }

    async fn check_coupons(
        &self,
        req: Request<pb::CheckCouponsRequest>,
    ) -> Result<Response<pb::CheckCouponsResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        if req.codes.len() > MAX_CHECKED {
            v.add("codes", format!("at most {MAX_CHECKED} codes"));
        }
        let codes: Vec<Code> = req
            .codes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| code(&mut v, &format!("codes[{i}]"), c))
            .collect();
        boomerang_common::id::field(&mut v, "customer_id", &req.customer_id);
        v.check()?;
        let checks = self
            .campaigns
            .check_coupons(&tenant, &codes, &req.customer_id)
            .await?;
        Ok(Response::new(pb::CheckCouponsResponse {
            checks: checks
                .iter()
                .map(|c| {
                    let (refusal, message) = c.refusal.clone().unwrap_or_default();
                    pb::CouponCheck {
                        code: c.code.as_str().to_owned(),
                        coupon: c.coupon.as_ref().map(to_coupon),
                        refusal,
                        message,
                        priority: c.priority,
                        stacking: render::to_stacking(c.stacking),
                    }
                })
                .collect(),
        }))
    }

    async fn reserve_coupon(
        &self,
        req: Request<pb::ReserveCouponRequest>,
    ) -> Result<Response<pb::ReserveCouponResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let code = code(&mut v, "code", &req.code);
        boomerang_common::id::field(&mut v, "customer_id", &req.customer_id);
        boomerang_common::id::field(&mut v, "order_id", &req.order_id);
        let ttl = match &req.ttl {
            None => DEFAULT_TTL,
            Some(d) => {
                let t = d.seconds.saturating_mul(1_000_000);
                if !(1_000_000..=MAX_TTL).contains(&t) {
                    v.add("ttl", "1 second to 1 day");
                }
                t
            }
        };
        v.check()?;
        let hold = Hold {
            code: parsed(code)?,
            customer: req.customer_id.clone(),
            order: req.order_id.clone(),
            ttl,
        };
        let (c, t) = (self.campaigns.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "campaign.ReserveCoupon",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let (r, coupon) = c.reserve_coupon(conn, &t, hold).await?;
                        Ok(pb::ReserveCouponResponse {
                            redemption: Some(to_redemption(&r)),
                            coupon: Some(to_coupon(&coupon)),
                        })
                    })
                },
            )
            .await
    }

    async fn confirm_coupon(
        &self,
        req: Request<pb::ConfirmCouponRequest>,
    ) -> Result<Response<pb::ConfirmCouponResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let redemption = |r| pb::ConfirmCouponResponse {
            redemption: Some(r),
        };
        let (key, id) = (&req.idempotency_key, &req.redemption_id);
        uses::move_use(self, &tenant, UseMove::Confirm, (key, id), &req, redemption).await
    }

    async fn release_coupon(
        &self,
        req: Request<pb::ReleaseCouponRequest>,
    ) -> Result<Response<pb::ReleaseCouponResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let redemption = |r| pb::ReleaseCouponResponse {
            redemption: Some(r),
        };
        let (key, id) = (&req.idempotency_key, &req.redemption_id);
        uses::move_use(self, &tenant, UseMove::Release, (key, id), &req, redemption).await
    }
}
