//! gRPC handlers of `boomerang.campaign.v1.CampaignService`: tenant from
//! metadata, request validated, the operation run once per idempotency key in
//! one transaction, the result rendered, the tenant's cache invalidated.
mod batches;
pub mod convert;
pub mod coupons;
mod events;
pub mod render;
mod uses;
mod vouchers;

use boomerang_common::paging::page;
use boomerang_common::{
    db::Conn,
    error::{AppError, Violations},
    idempotency::{self, Mutations},
    stream::BoxStream,
    tenant::{actor_of, tenant_of},
};
use boomerang_proto::campaign::v1::{self as pb, campaign_service_server::CampaignService};
use futures::future::BoxFuture;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::{
    campaigns::Campaigns,
    domain::{
        lifecycle::{Status as Lifecycle, Transition},
        targeting::Context,
    },
};

/// The `CampaignService` implementation.
#[derive(Clone, Debug)]
pub struct CampaignServiceHandler {
    campaigns: Campaigns,
    mutations: Mutations,
}

impl CampaignServiceHandler {
    /// Handlers over `campaigns`.
    pub fn new(campaigns: Campaigns) -> Self {
        Self {
            mutations: Mutations::new(campaigns.db().clone(), campaigns.clock().clone())
                .after_commit({
                    let campaigns = campaigns.clone();
                    move |tenant| campaigns.changed(tenant.as_str())
                }),
            campaigns,
        }
    }

    async fn transition<T: Message>(
        &self,
        req: Request<T>,
        scope: &'static str,
        key: impl Fn(&T) -> (&str, &str, &str),
        t: Transition,
    ) -> Result<pb::Campaign, Status> {
        let tenant = tenant_of(&req)?;
        let actor = actor_of(&req);
        let req = req.into_inner();
        let (idempotency_key, campaign, reason) = key(&req);
        let mut v = Violations::new();
        let campaign = convert::id(&mut v, "campaign_id", campaign);
        if reason.chars().count() > MAX_REASON {
            v.add("reason", format!("at most {MAX_REASON} characters"));
        }
        v.check()?;
        let (c, t2) = (self.campaigns.clone(), tenant.clone());
        let done: Response<pb::GetCampaignResponse> = self
            .mutations
            .run(
                &tenant,
                scope,
                idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let view = c.transition(conn, &t2, &actor, &campaign, t).await?;
                        Ok(pb::GetCampaignResponse {
                            campaign: Some((&view).into()),
                            versions: vec![],
                        })
                    })
                },
            )
            .await?;
        Ok(done.into_inner().campaign.unwrap_or_default())
    }
}

/// The longest reason a pause or an end may give.
const MAX_REASON: usize = 500;

#[tonic::async_trait]
impl CampaignService for CampaignServiceHandler {
    type WatchEventsStream = BoxStream<pb::WatchEventsResponse>;

    async fn watch_events(
        &self,
        req: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        events::watch(&self.campaigns, req)
    }

    type FollowEventsStream = BoxStream<pb::FollowEventsResponse>;

    async fn follow_events(
        &self,
        req: Request<pb::FollowEventsRequest>,
    ) -> Result<Response<Self::FollowEventsStream>, Status> {
        events::follow(&self.campaigns, req)
    }

    async fn create_campaign(
        &self,
        req: Request<pb::CreateCampaignRequest>,
    ) -> Result<Response<pb::CreateCampaignResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let actor = actor_of(&req);
        let req = req.into_inner();
        let spec = convert::spec(req.spec.as_ref())?;
        let mut v = Violations::new();
        // validate_only without an id checks the spec alone (a what-if's draft).
        let id = if req.campaign_id.is_empty() && req.validate_only {
            String::new()
        } else if req.campaign_id.is_empty() {
            // Derived from the request, so a replay names the same campaign.
            let digest = idempotency::request_hash(&req);
            format!("camp-{}", hex::encode(&digest[..8]))
        } else {
            convert::id(&mut v, "campaign_id", &req.campaign_id)
        };
        v.check()?;
        if req.validate_only {
            let view = self.campaigns.would_create(&tenant, &id, spec).await?;
            return Ok(Response::new(pb::CreateCampaignResponse {
                campaign: Some((&view).into()),
            }));
        }
        let (c, t) = (self.campaigns.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "campaign.CreateCampaign",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let view = c.create(conn, &t, &actor, &id, spec).await?;
                        Ok(pb::CreateCampaignResponse {
                            campaign: Some((&view).into()),
                        })
                    })
                },
            )
            .await
    }

    async fn update_campaign(
        &self,
        req: Request<pb::UpdateCampaignRequest>,
    ) -> Result<Response<pb::UpdateCampaignResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let actor = actor_of(&req);
        let req = req.into_inner();
        let spec = convert::spec(req.spec.as_ref())?;
        let mut v = Violations::new();
        let id = convert::id(&mut v, "campaign_id", &req.campaign_id);
        v.check()?;
        let expected = Some(i64::from(req.expected_version)).filter(|v| *v > 0);
        if req.validate_only {
            let view = self
                .campaigns
                .would_update(&tenant, &id, spec, expected)
                .await?;
            return Ok(Response::new(pb::UpdateCampaignResponse {
                campaign: Some((&view).into()),
            }));
        }
        let (c, t) = (self.campaigns.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "campaign.UpdateCampaign",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let view = c.update(conn, &t, &actor, &id, spec, expected).await?;
                        Ok(pb::UpdateCampaignResponse {
                            campaign: Some((&view).into()),
                        })
                    })
                },
            )
            .await
    }

    async fn schedule_campaign(
        &self,
        req: Request<pb::ScheduleCampaignRequest>,
    ) -> Result<Response<pb::ScheduleCampaignResponse>, Status> {
        let c = self
            .transition(
                req,
                "campaign.ScheduleCampaign",
                |r| (&r.idempotency_key, &r.campaign_id, ""),
                Transition::Schedule,
            )
            .await?;
        Ok(Response::new(pb::ScheduleCampaignResponse {
            campaign: Some(c),
        }))
    }

    async fn pause_campaign(
        &self,
        req: Request<pb::PauseCampaignRequest>,
    ) -> Result<Response<pb::PauseCampaignResponse>, Status> {
        let c = self
            .transition(
                req,
                "campaign.PauseCampaign",
                |r| (&r.idempotency_key, &r.campaign_id, &r.reason),
                Transition::Pause,
            )
            .await?;
        Ok(Response::new(pb::PauseCampaignResponse {
            campaign: Some(c),
        }))
    }

    async fn resume_campaign(
        &self,
        req: Request<pb::ResumeCampaignRequest>,
    ) -> Result<Response<pb::ResumeCampaignResponse>, Status> {
        let c = self
            .transition(
                req,
                "campaign.ResumeCampaign",
                |r| (&r.idempotency_key, &r.campaign_id, ""),
                Transition::Resume,
            )
            .await?;
        Ok(Response::new(pb::ResumeCampaignResponse {
            campaign: Some(c),
        }))
    }

    async fn end_campaign(
        &self,
        req: Request<pb::EndCampaignRequest>,
    ) -> Result<Response<pb::EndCampaignResponse>, Status> {
        let c = self
            .transition(
                req,
                "campaign.EndCampaign",
                |r| (&r.idempotency_key, &r.campaign_id, &r.reason),
                Transition::End,
            )
            .await?;
        Ok(Response::new(pb::EndCampaignResponse { campaign: Some(c) }))
    }

    async fn archive_campaign(
        &self,
        req: Request<pb::ArchiveCampaignRequest>,
    ) -> Result<Response<pb::ArchiveCampaignResponse>, Status> {
        let c = self
            .transition(
                req,
                "campaign.ArchiveCampaign",
                |r| (&r.idempotency_key, &r.campaign_id, ""),
                Transition::Archive,
            )
            .await?;
        Ok(Response::new(pb::ArchiveCampaignResponse {
            campaign: Some(c),
        }))
    }

    async fn get_campaign(
        &self,
        req: Request<pb::GetCampaignRequest>,
    ) -> Result<Response<pb::GetCampaignResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let id = convert::id(&mut v, "campaign_id", &req.campaign_id);
        let at = boomerang_common::time::instant(&mut v, "terms_at", req.terms_at.as_ref());
        v.check()?;
        let (view, versions) = self.campaigns.get(&tenant, &id, at).await?;
        Ok(Response::new(pb::GetCampaignResponse {
            campaign: Some((&view).into()),
            versions: versions
                .iter()
                .map(|v| render::to_campaign(&id, view.head.status, v))
                .collect(),
        }))
    }

    async fn list_campaigns(
        &self,
        req: Request<pb::ListCampaignsRequest>,
    ) -> Result<Response<pb::ListCampaignsResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        if req.statuses.len() > 8 {
            return Err(AppError::invalid("statuses", "at most 8 statuses").into());
        }
        let mut statuses: Vec<Lifecycle> = req
            .statuses
            .iter()
            .filter_map(|s| render::from_status(*s))
            .collect();
        if statuses.len() != req.statuses.len() {
            return Err(AppError::invalid("statuses", "unknown status").into());
        }
        if statuses.is_empty() {
            statuses = vec![
                Lifecycle::Draft,
                Lifecycle::Scheduled,
                Lifecycle::Active,
                Lifecycle::Paused,
                Lifecycle::Ended,
            ];
        }
        let (size, after) = page(req.page.as_ref());
        if !after.is_empty() && boomerang_common::id::check(&after).is_err() {
            return Err(AppError::invalid("page.page_token", "not a token from this list").into());
        }
        let mut views = self
            .campaigns
            .list(&tenant, &statuses, &after, size + 1)
            .await?;
        let next = if views.len() as i64 > size {
            views.truncate(usize::try_from(size).unwrap_or(0));
            views.last().map(|v| v.head.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListCampaignsResponse {
            campaigns: views.iter().map(Into::into).collect(),
            next_page_token: next,
        }))
    }

    async fn list_applicable_campaigns(
        &self,
        req: Request<pb::ListApplicableCampaignsRequest>,
    ) -> Result<Response<pb::ListApplicableCampaignsResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let at = boomerang_common::time::instant(&mut v, "at", req.at.as_ref())
            .unwrap_or_else(|| self.campaigns.clock().now());
        for (field, value) in [
            ("segment", &req.segment),
            ("tier", &req.tier),
            ("customer_id", &req.customer_id),
            ("store_id", &req.store_id),
        ] {
            if !value.is_empty() {
                boomerang_common::id::field(&mut v, field, value);
            }
        }
        // A free order (0.00) is an order: it meets no minimum, and is no error.
        let order_amount = boomerang_common::money::field(
            &mut v,
            "order_amount",
            req.order_amount.as_ref(),
            boomerang_common::money::Sign::NotNegative,
        );
        if req.categories.len() > 500 {
            v.add("categories", "at most 500");
        }
        for (i, c) in req.categories.iter().enumerate() {
            if c.chars().count() > 128 {
                v.add(format!("categories[{i}]"), "at most 128 characters");
            }
        }
        let channel = v
            .known::<boomerang_proto::common::v1::Channel>("channel", req.channel)
            .and_then(|c| boomerang_proto::common::v1::channel_name(c as i32))
            .map(str::to_owned);
        v.check()?;
        let ctx = Context {
            channel,
            categories: req.categories,
            segment: req.segment,
            tier: req.tier,
            customer: req.customer_id,
            store: req.store_id,
            order_amount,
            first_purchase: req.first_purchase,
        };
        let (applicable, later) = self.campaigns.applicable(&tenant, at, &ctx).await?;
        let campaigns = applicable
            .iter()
            .map(|a| {
                let spec = &a.version.spec;
                let effect = match &a.variant {
                    Some(v) => v.effect.as_ref(),
                    None => spec.effect.as_ref(),
                };
                pb::ApplicableCampaign {
                    campaign_id: a.id.clone(),
                    version: u32::try_from(a.version.version).unwrap_or_default(),
                    variant: a
                        .variant
                        .as_ref()
                        .map(|v| v.name.clone())
                        .unwrap_or_default(),
                    effect: effect.map(render::to_effect),
                    conditions: Some(render::to_conditions(&spec.conditions)),
                    caps: Some(render::to_caps(&spec.caps)),
                    priority: spec.priority,
                    stacking: render::to_stacking(spec.stacking),
                }
            })
            .collect();
        let scheduled_later = later
            .into_iter()
            .filter_map(|(campaign_id, v)| {
                Some(pb::ScheduledLater {
                    campaign_id,
                    version: u32::try_from(v.version).unwrap_or_default(),
                    effective_from: Some(boomerang_common::time::to_timestamp(v.effective_from?)),
                })
            })
            .collect();
        Ok(Response::new(pb::ListApplicableCampaignsResponse {
            campaigns,
            scheduled_later,
        }))
    }

    async fn reserve_budget(
        &self,
        req: Request<pb::ReserveBudgetRequest>,
    ) -> Result<Response<pb::ReserveBudgetResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let cmd = convert::reserve(&req, 300_000_000)?;
        let (c, t) = (self.campaigns.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "campaign.ReserveBudget",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let r = c.reserve(conn, &t, cmd).await?;
                        Ok(pb::ReserveBudgetResponse {
                            reservation: Some(render::to_reservation(&r)),
                        })
                    })
                },
            )
            .await
    }

    async fn confirm_budget(
        &self,
        req: Request<pb::ConfirmBudgetRequest>,
    ) -> Result<Response<pb::ConfirmBudgetResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let id = convert::reservation_id(&req.reservation_id)?;
        let mut v = Violations::new();
        let amount = req
            .amount
            .as_ref()
            .and_then(|m| convert::money(&mut v, "amount", Some(m)));
        v.check()?;
        let (c, t) = (self.campaigns.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "campaign.ConfirmBudget",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let r = c.confirm(conn, &t, id, amount).await?;
                        Ok(pb::ConfirmBudgetResponse {
                            reservation: Some(render::to_reservation(&r)),
                        })
                    })
                },
            )
            .await
    }

    async fn release_budget(
        &self,
        req: Request<pb::ReleaseBudgetRequest>,
    ) -> Result<Response<pb::ReleaseBudgetResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let id = convert::reservation_id(&req.reservation_id)?;
        let mut v = Violations::new();
        // 0 gives nothing back: with `order_amount`, the order's worth alone.
        let amount = req.amount.as_ref().and_then(|m| {
            boomerang_common::money::field(
                &mut v,
                "amount",
                Some(m),
                boomerang_common::money::Sign::NotNegative,
            )
        });
        let order_left = convert::order_amount(&mut v, req.order_amount.as_ref());
        if amount.as_ref().is_some_and(|a| a.minor() == 0) && order_left.is_none() {
            v.add(
                "amount",
                "above zero; 0 only with order_amount (the order's worth alone)",
            );
        }
        v.check()?;
        let (c, t) = (self.campaigns.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "campaign.ReleaseBudget",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let r = c.release(conn, &t, id, amount, order_left, false).await?;
                        Ok(pb::ReleaseBudgetResponse {
                            reservation: Some(render::to_reservation(&r)),
                        })
                    })
                },
            )
            .await
    }

    async fn get_campaign_report(
        &self,
        req: Request<pb::GetCampaignReportRequest>,
    ) -> Result<Response<pb::GetCampaignReportResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let id = convert::id(&mut v, "campaign_id", &req.campaign_id);
        let from = boomerang_common::time::instant(&mut v, "from", req.from.as_ref());
        let to = boomerang_common::time::instant(&mut v, "to", req.to.as_ref());
        v.check()?;
        let report = self.campaigns.report(&tenant, &id, (from, to)).await?;
        Ok(Response::new(render::to_report(&report)))
    }

    async fn list_audit_events(
        &self,
        req: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        if !req.campaign_id.is_empty() {
            // Empty: every campaign's events.
            let mut v = Violations::new();
            convert::id(&mut v, "campaign_id", &req.campaign_id);
            v.check()?;
        }
        let (size, token) = page(req.page.as_ref());
        let before = if token.is_empty() {
            i64::MAX
        } else {
            token
                .parse()
                .map_err(|_| AppError::invalid("page.page_token", "not a token from this list"))?
        };
        let mut rows = self
            .campaigns
            .audit_log(&tenant, &req.campaign_id, before, size + 1)
            .await?;
        let next = if rows.len() as i64 > size {
            rows.truncate(usize::try_from(size).unwrap_or(0));
            rows.last().map(|r| r.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: rows.iter().map(render::to_audit).collect(),
            next_page_token: next,
        }))
    }
}
