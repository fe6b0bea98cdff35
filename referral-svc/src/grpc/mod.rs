//! gRPC handlers of `boomerang.referral.v1.ReferralService`.
pub mod convert;
mod events;

use std::collections::BTreeMap;

use boomerang_common::{
    db::Conn,
    error::{AppError, Violations},
    idempotency::Mutations,
    tenant::{TenantId, tenant_of},
    time::instant,
};
use boomerang_proto::{
    common::v1 as pc,
    referral::v1::{self as pb, referral_service_server::ReferralService},
};
use futures::future::BoxFuture;
use tonic::{Request, Response, Status};

use crate::{
    domain::code,
    referrals::{Referrals, Signup},
    repo::{self, ReferralRow},
};

/// The `ReferralService` implementation.
#[derive(Clone, Debug)]
pub struct ReferralServiceHandler {
    referrals: Referrals,
    mutations: Mutations,
}

impl ReferralServiceHandler {
    /// Handlers over `referrals`.
    pub fn new(referrals: Referrals) -> Self {
        let woken = referrals.clone();
        Self {
            mutations: Mutations::new(referrals.db().clone(), referrals.clock().clone())
                .after_commit(move |_| woken.committed()),
            referrals,
        }
    }

    async fn view(&self, tenant: &TenantId, r: &ReferralRow) -> Result<pb::Referral, AppError> {
        let mut conn = self.referrals.db().pool().acquire().await?;
        let rewards = repo::rewards(&mut conn, tenant.as_str(), r.id, "").await?;
        let mut earned: BTreeMap<String, i64> = BTreeMap::new();
        let mut purchases = 0;
        for w in rewards.iter().filter(|w| w.beneficiary == "referrer") {
            purchases += 1;
            *earned.entry(w.asset.clone()).or_default() += w.amount - w.reversed;
        }
        let earned = earned
            .into_iter()
            .map(|(asset, minor)| boomerang_common::money::wire(minor, &asset))
            .collect();
        Ok(convert::to_referral(r, purchases, earned))
    }
}

fn referral_id(raw: &str) -> Option<i64> {
    raw.strip_prefix("rf_")?.parse().ok()
}

#[tonic::async_trait]
impl ReferralService for ReferralServiceHandler {
    type WatchEventsStream = boomerang_common::stream::BoxStream<pb::WatchEventsResponse>;

    async fn watch_events(
        &self,
        req: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        events::watch(&self.referrals, req)
    }

    type FollowEventsStream = boomerang_common::stream::BoxStream<pb::FollowEventsResponse>;

    async fn follow_events(
        &self,
        req: Request<pb::FollowEventsRequest>,
    ) -> Result<Response<Self::FollowEventsStream>, Status> {
        events::follow(&self.referrals, req)
    }

    async fn upsert_referral_program(
        &self,
        req: Request<pb::UpsertReferralProgramRequest>,
    ) -> Result<Response<pb::UpsertReferralProgramResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let program = convert::program(req.program.as_ref())?;
        let expected = req.expected_version.map(i64::from);
        if req.validate_only {
            let (version, at) = self.referrals.would_publish(&tenant, expected).await?;
            return Ok(Response::new(pb::UpsertReferralProgramResponse {
                program: Some(convert::to_program(version, at, &program)),
            }));
        }
        let (r, t) = (self.referrals.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "referral.UpsertReferralProgram",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let (version, at) = r.publish(conn, &t, &program, expected).await?;
                        Ok(pb::UpsertReferralProgramResponse {
                            program: Some(convert::to_program(version, at, &program)),
                        })
                    })
                },
            )
            .await
    }

    async fn get_referral_program(
        &self,
        req: Request<pb::GetReferralProgramRequest>,
    ) -> Result<Response<pb::GetReferralProgramResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let mut conn = self
            .referrals
            .db()
            .pool()
            .acquire()
            .await
            .map_err(AppError::from)?;
        let (version, program, at) =
            repo::program(&mut conn, tenant.as_str(), i64::from(req.get_ref().version))
                .await?
                .ok_or_else(|| AppError::NotFound("no referral program".into()))?;
        Ok(Response::new(pb::GetReferralProgramResponse {
            program: Some(convert::to_program(version, at, &program)),
        }))
    }

    async fn create_referral_code(
        &self,
        req: Request<pb::CreateReferralCodeRequest>,
    ) -> Result<Response<pb::CreateReferralCodeResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let referrer = convert::id(&mut v, "referrer_customer_id", &req.referrer_customer_id);
        let requested = if req.requested_code.is_empty() {
            None
        } else {
            v.field("requested_code", code::canonical(&req.requested_code))
        };
        let expires_at = instant(&mut v, "expires_at", req.expires_at.as_ref());
        if req.referrer_email.chars().count() > 254 {
            v.add("referrer_email", "at most 254 characters");
        }
        v.check()?;
        let (r, t, email) = (
            self.referrals.clone(),
            tenant.clone(),
            req.referrer_email.clone(),
        );
        self.mutations
            .run(
                &tenant,
                "referral.CreateReferralCode",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let c = r
                            .create_code(conn, &t, &referrer, &email, requested, expires_at)
                            .await?;
                        Ok(pb::CreateReferralCodeResponse {
                            code: Some(convert::to_code(&c)),
                        })
                    })
                },
            )
            .await
    }

    async fn disable_referral_code(
        &self,
        req: Request<pb::DisableReferralCodeRequest>,
    ) -> Result<Response<pb::DisableReferralCodeResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let code = code::canonical(&req.code).map_err(|e| AppError::invalid("code", e))?;
        let (r, t) = (self.referrals.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "referral.DisableReferralCode",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let c = r.disable(conn, &t, &code).await?;
                        Ok(pb::DisableReferralCodeResponse {
                            code: Some(convert::to_code(&c)),
                        })
                    })
                },
            )
            .await
    }

    async fn attribute_referral(
        &self,
        req: Request<pb::AttributeReferralRequest>,
    ) -> Result<Response<pb::AttributeReferralResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let code = v
            .field("code", code::canonical(&req.code))
            .unwrap_or_default();
        let referee = convert::id(&mut v, "referee_customer_id", &req.referee_customer_id);
        let ctx = req.context.clone().unwrap_or_default();
        for (field, value) in [
            ("context.email", &ctx.email),
            ("context.ip", &ctx.ip),
            ("context.device_id", &ctx.device_id),
        ] {
            if value.chars().count() > 254 {
                v.add(field, "at most 254 characters");
            }
        }
        let signup_at = instant(&mut v, "context.signup_at", ctx.signup_at.as_ref());
        v.check()?;
        let signup = Signup {
            email: ctx.email,
            ip: ctx.ip,
            device: ctx.device_id,
            at: signup_at,
        };
        let (r, t) = (self.referrals.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "referral.AttributeReferral",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let row = r.attribute(conn, &t, &code, &referee, signup).await?;
                        Ok(pb::AttributeReferralResponse {
                            referral: Some(convert::to_referral(&row, 0, vec![])),
                        })
                    })
                },
            )
            .await
    }

    async fn get_referral(
        &self,
        req: Request<pb::GetReferralRequest>,
    ) -> Result<Response<pb::GetReferralResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = boomerang_common::error::Violations::new();
        let by_id = referral_id(&req.referral_id);
        if !req.referral_id.is_empty() && by_id.is_none() {
            v.add("referral_id", "not a referral id (rf_...)");
        }
        if !req.referee_customer_id.is_empty() {
            boomerang_common::id::field(&mut v, "referee_customer_id", &req.referee_customer_id);
        }
        v.check()?;
        let mut conn = self
            .referrals
            .db()
            .pool()
            .acquire()
            .await
            .map_err(AppError::from)?;
        let row = if let Some(id) = by_id {
            repo::get_referral(&mut conn, tenant.as_str(), id).await?
        } else if !req.referee_customer_id.is_empty() {
            repo::live_referral(&mut conn, tenant.as_str(), &req.referee_customer_id).await?
        } else {
            return Err(AppError::invalid(
                "referral_id",
                "give referral_id (rf_...) or referee_customer_id",
            )
            .into());
        };
        drop(conn);
        let row = row.ok_or_else(|| AppError::NotFound("no such referral".into()))?;
        Ok(Response::new(pb::GetReferralResponse {
            referral: Some(self.view(&tenant, &row).await?),
        }))
    }

    async fn list_referrals(
        &self,
        req: Request<pb::ListReferralsRequest>,
    ) -> Result<Response<pb::ListReferralsResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let referrer = convert::id(&mut v, "referrer_customer_id", &req.referrer_customer_id);
        v.check()?;
        let size = i64::from(req.page.as_ref().map_or(0, |p| p.page_size)).clamp(0, 500);
        let size = if size == 0 { 50 } else { size };
        let token = req
            .page
            .as_ref()
            .map(|p| p.page_token.clone())
            .unwrap_or_default();
        let before = if token.is_empty() {
            i64::MAX
        } else {
            token
                .parse()
                .map_err(|_| AppError::invalid("page.page_token", "not a token from this list"))?
        };
        let mut rows = repo::by_referrer(
            self.referrals.db(),
            tenant.as_str(),
            &referrer,
            before,
            size + 1,
        )
        .await?;
        let next = if rows.len() as i64 > size {
            rows.truncate(usize::try_from(size).unwrap_or(0));
            rows.last().map(|r| r.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let mut referrals = Vec::with_capacity(rows.len());
        for r in &rows {
            referrals.push(self.view(&tenant, r).await?);
        }
        let earned_total = repo::paid(self.referrals.db(), tenant.as_str(), &referrer)
            .await?
            .into_iter()
            .map(|(asset, minor)| boomerang_common::money::wire(minor, &asset))
            .collect();
        Ok(Response::new(pb::ListReferralsResponse {
            referrals,
            earned_total,
            next_page_token: next,
        }))
    }

    async fn on_purchase(
        &self,
        req: Request<pb::OnPurchaseRequest>,
    ) -> Result<Response<pb::OnPurchaseResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let referee = convert::id(&mut v, "referee_customer_id", &req.referee_customer_id);
        let order = convert::id(&mut v, "order_id", &req.order_id);
        let amount = convert::money(&mut v, "order_amount", req.order_amount.as_ref());
        let occurred_at = instant(&mut v, "occurred_at", req.occurred_at.as_ref())
            .unwrap_or_else(|| self.referrals.clock().now());
        let release_at = instant(&mut v, "release_at", req.release_at.as_ref());
        v.check()?;
        let Some(amount) = amount else {
            return Err(AppError::invalid("order_amount", "required").into());
        };
        let (r, t) = (self.referrals.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "referral.OnPurchase",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let paid = r
                            .on_purchase(
                                conn,
                                &t,
                                &referee,
                                &order,
                                amount,
                                occurred_at,
                                release_at,
                            )
                            .await?;
                        Ok(pb::OnPurchaseResponse {
                            referred: paid.referred,
                            rewards: paid
                                .rewards
                                .iter()
                                .map(crate::domain::program::Money::to_wire)
                                .collect(),
                            explanations: paid
                                .why_not
                                .into_iter()
                                .map(|why| pc::Explanation {
                                    rule: "referral".into(),
                                    skipped: true,
                                    skip_reason: why,
                                    ..Default::default()
                                })
                                .collect(),
                        })
                    })
                },
            )
            .await
    }

    async fn on_return(
        &self,
        req: Request<pb::OnReturnRequest>,
    ) -> Result<Response<pb::OnReturnResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let referee = convert::id(&mut v, "referee_customer_id", &req.referee_customer_id);
        let order = convert::id(&mut v, "order_id", &req.order_id);
        let return_id = convert::id(&mut v, "return_id", &req.return_id);
        let returned = convert::money(&mut v, "returned_amount", req.returned_amount.as_ref());
        v.check()?;
        let returned = returned.map_or(0, |m| m.minor());
        let (r, t) = (self.referrals.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "referral.OnReturn",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let reversed = r
                            .on_return(conn, &t, &referee, &order, &return_id, returned)
                            .await?;
                        Ok(pb::OnReturnResponse {
                            reversed: reversed
                                .iter()
                                .map(crate::domain::program::Money::to_wire)
                                .collect(),
                        })
                    })
                },
            )
            .await
    }

    async fn get_funnel_report(
        &self,
        req: Request<pb::GetFunnelReportRequest>,
    ) -> Result<Response<pb::GetFunnelReportResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let from = instant(&mut v, "from", req.from.as_ref()).unwrap_or(i64::MIN);
        let to = instant(&mut v, "to", req.to.as_ref()).unwrap_or(i64::MAX);
        v.check()?;
        let (codes, accepted, refused, converted) =
            repo::funnel(self.referrals.db(), tenant.as_str(), from, to).await?;
        let paid = repo::paid(self.referrals.db(), tenant.as_str(), "").await?;
        Ok(Response::new(pb::GetFunnelReportResponse {
            codes_created: u64::try_from(codes).unwrap_or_default(),
            attributions: u64::try_from(accepted).unwrap_or_default(),
            refusals: refused
                .iter()
                .map(|(reason, n)| pb::RefusalCount {
                    reason: convert::to_reason(reason) as i32,
                    count: u64::try_from(*n).unwrap_or_default(),
                })
                .collect(),
            first_purchases: u64::try_from(converted).unwrap_or_default(),
            rewards_paid: paid
                .into_iter()
                .map(|(asset, minor)| boomerang_common::money::wire(minor, &asset))
                .collect(),
        }))
    }
}
