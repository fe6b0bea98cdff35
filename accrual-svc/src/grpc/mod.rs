//! gRPC handlers of `boomerang.accrual.v1.AccrualService`: each parses its
//! request (field violations), calls the facade, and renders the answer.
//! Mutations run the facade's transactional step inside [`once`], so a
//! replayed idempotency key answers byte for byte.

pub mod checkout;
pub mod convert;
mod experiments;
mod exports;
pub mod program;
mod render;
pub mod simulation;

use boomerang_common::{
    error::{AppError, Violations},
    idempotency::{self, IdempotencyKey, Mutations},
    stream::{self, BoxStream},
    tenant::tenant_of,
    time::instant,
};
use boomerang_proto::accrual::v1::{self as pb, accrual_service_server::AccrualService};
use tonic::{Request, Response, Status};

use crate::{
    accrual::{Accrual, ReturnInput, review::Decision},
    repo::MemberRow,
};

/// The `AccrualService` implementation.
#[derive(Clone, Debug)]
pub struct AccrualServiceHandler {
    accrual: Accrual,
    mutations: Mutations,
}

impl AccrualServiceHandler {
    /// Handlers over `accrual`.
    pub fn new(accrual: Accrual) -> Self {
        Self {
            mutations: mutations(&accrual),
            accrual,
        }
    }
}

/// Accrual's mutations: each once per idempotency key, its event watchers
/// woken once it committed.
fn mutations(accrual: &Accrual) -> Mutations {
    let woken = accrual.clone();
    Mutations::new(accrual.db().clone(), accrual.clock().clone())
        .after_commit(move |_| woken.committed())
}

/// A member's fields, found in the request under `at` ("member." or "").
fn member_row(v: &mut Violations, at: &str, m: Option<&pb::Member>, enrolled_at: i64) -> MemberRow {
    let m = m.cloned().unwrap_or_default();
    if m.opt_ins.len() > 8 {
        v.add(format!("{at}opt_ins"), "at most 8 channels");
    }
    for (i, c) in m.opt_ins.iter().enumerate() {
        v.known::<boomerang_proto::common::v1::Channel>(&format!("{at}opt_ins[{i}]"), *c);
    }
    MemberRow {
        customer_id: convert::id(v, &format!("{at}customer_id"), &m.customer_id),
        birthday: convert::birthday(v, &format!("{at}birthday"), &m.birthday),
        segment: convert::text(v, &format!("{at}segment"), &m.segment, 64),
        opt_ins: serde_json::to_string(&m.opt_ins).unwrap_or_else(|_| "[]".into()),
        tier: None,
        legacy_tier_index: None,
        tier_review_at: None,
        enrolled_at,
    }
}

#[tonic::async_trait]
impl AccrualService for AccrualServiceHandler {
    async fn upsert_program(
        &self,
        req: Request<pb::UpsertProgramRequest>,
    ) -> Result<Response<pb::UpsertProgramResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let (id, program) = program::program(req.program.as_ref())?;
        let expected = req.expected_version.map(i64::from);
        if req.validate_only {
            let (version, at) = self.accrual.would_publish(&tenant, &id, expected).await?;
            return Ok(Response::new(pb::UpsertProgramResponse {
                program: Some(program::to_program(&id, version, at, &program)),
            }));
        }
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "accrual.UpsertProgram",
                &req.idempotency_key,
                &req,
                move |conn| {
                    Box::pin(async move {
                        let (version, at) = a.publish(conn, &t, (&id, &program), expected).await?;
                        Ok(pb::UpsertProgramResponse {
                            program: Some(program::to_program(&id, version, at, &program)),
                        })
                    })
                },
            )
            .await
    }

    async fn get_program(
        &self,
        req: Request<pb::GetProgramRequest>,
    ) -> Result<Response<pb::GetProgramResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let id = convert::id(&mut v, "program_id", &req.program_id);
        v.check()?;
        let version = Some(i64::from(req.version)).filter(|v| *v > 0);
        let (version, program, at) = self.accrual.program(&tenant, &id, version).await?;
        Ok(Response::new(pb::GetProgramResponse {
            program: Some(program::to_program(&id, version, at, &program)),
        }))
    }

    async fn enroll_member(
        &self,
        req: Request<pb::EnrollMemberRequest>,
    ) -> Result<Response<pb::EnrollMemberResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let program_id = convert::id(&mut v, "program_id", &req.program_id);
        let at = instant(&mut v, "enrolled_at", req.enrolled_at.as_ref())
            .unwrap_or_else(|| self.accrual.clock().now());
        let as_member = pb::Member {
            customer_id: req.customer_id.clone(),
            birthday: req.birthday.clone(),
            segment: req.segment.clone(),
            opt_ins: req.opt_ins.clone(),
            ..Default::default()
        };
        let member = member_row(&mut v, "", Some(&as_member), at);
        // Its form is referral-svc's to judge; its size is bounded here.
        convert::text(&mut v, "referral_code", &req.referral_code, 64);
        v.check()?;
        self.accrual
            .attribute_at_enrolment(&tenant, &program_id, &member, &req.referral_code)
            .await?;
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "accrual.EnrollMember",
                &req.idempotency_key,
                &req,
                move |conn| {
                    Box::pin(async move {
                        let (view, welcome) = a.enroll(conn, &t, &program_id, member).await?;
                        Ok(render::enrolled(&program_id, &view, welcome.as_ref()))
                    })
                },
            )
            .await
    }

    async fn get_member(
        &self,
        req: Request<pb::GetMemberRequest>,
    ) -> Result<Response<pb::GetMemberResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let program_id = convert::id(&mut v, "program_id", &req.program_id);
        let customer = convert::id(&mut v, "customer_id", &req.customer_id);
        v.check()?;
        let view = self
            .accrual
            .get_member(&tenant, &program_id, &customer)
            .await?;
        Ok(Response::new(pb::GetMemberResponse {
            member: Some(convert::to_member(&program_id, &view)),
        }))
    }

    async fn update_member(
        &self,
        req: Request<pb::UpdateMemberRequest>,
    ) -> Result<Response<pb::UpdateMemberResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let program_id = convert::id(
            &mut v,
            "member.program_id",
            req.member.as_ref().map_or("", |m| m.program_id.as_str()),
        );
        let changed = member_row(&mut v, "member.", req.member.as_ref(), 0);
        let paths = req
            .update_mask
            .as_ref()
            .map(|m| m.paths.as_slice())
            .unwrap_or_default();
        let change = convert::member_change(&mut v, &changed, paths);
        v.check()?;
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "accrual.UpdateMember",
                &req.idempotency_key,
                &req,
                move |conn| {
                    Box::pin(async move {
                        let customer = &changed.customer_id;
                        let view = a
                            .update_member(conn, &t, &program_id, customer, change)
                            .await?;
                        Ok(pb::UpdateMemberResponse {
                            member: Some(convert::to_member(&program_id, &view)),
                        })
                    })
                },
            )
            .await
    }

    async fn preview_purchase(
        &self,
        req: Request<pb::PreviewPurchaseRequest>,
    ) -> Result<Response<pb::PreviewPurchaseResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let now = self.accrual.clock().now();
        let input = convert::purchase(req.purchase.as_ref(), vec![], now)?;
        let done = self.accrual.preview(&tenant, &input).await?;
        Ok(Response::new(render::previewed(
            &input.order_id,
            &done,
            now,
        )))
    }

    async fn record_purchase(
        &self,
        req: Request<pb::RecordPurchaseRequest>,
    ) -> Result<Response<pb::RecordPurchaseResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        IdempotencyKey::new(&tenant, "accrual.RecordPurchase", &req.idempotency_key)?;
        let hash = idempotency::request_hash(&req.purchase.clone().unwrap_or_default());
        let clock = self.accrual.clock().clone();
        let input = convert::purchase(req.purchase.as_ref(), hash, clock.now())?;
        let order = input.order_id.clone();
        let prepared = self.accrual.prepare(&tenant, input).await?;
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "accrual.RecordPurchase",
                &req.idempotency_key,
                &req,
                move |conn| {
                    Box::pin(async move {
                        let done = a.store(conn, &t, prepared).await?;
                        Ok(render::recorded(&order, &done, clock.now()))
                    })
                },
            )
            .await
    }

    async fn record_guest_purchase(
        &self,
        req: Request<pb::RecordGuestPurchaseRequest>,
    ) -> Result<Response<pb::RecordGuestPurchaseResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        IdempotencyKey::new(&tenant, "accrual.RecordGuestPurchase", &req.idempotency_key)?;
        let hash = idempotency::request_hash(&req.purchase.clone().unwrap_or_default());
        let input = convert::purchase(req.purchase.as_ref(), hash, self.accrual.clock().now())?;
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "accrual.RecordGuestPurchase",
                &req.idempotency_key,
                &req,
                move |conn| {
                    Box::pin(async move {
                        let eligible = a.record_guest(conn, &t, &input).await?;
                        Ok(pb::RecordGuestPurchaseResponse {
                            eligible: Some(boomerang_common::money::wire(
                                eligible,
                                &input.currency,
                            )),
                            order_id: input.order_id,
                        })
                    })
                },
            )
            .await
    }

    async fn review_purchase(
        &self,
        req: Request<pb::ReviewPurchaseRequest>,
    ) -> Result<Response<pb::ReviewPurchaseResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let program_id = convert::id(&mut v, "program_id", &req.program_id);
        let order_id = convert::id(&mut v, "order_id", &req.order_id);
        let decision = match pb::ReviewDecision::try_from(req.decision) {
            Ok(pb::ReviewDecision::Approve) => Some(Decision::Approve),
            Ok(pb::ReviewDecision::Reject) => Some(Decision::Reject),
            _ => {
                v.add("decision", "APPROVE or REJECT");
                None
            }
        };
        if req.note.chars().count() > 256 {
            v.add("note", "at most 256 characters");
        }
        v.check()?;
        let Some(decision) = decision else {
            return Err(AppError::invalid("decision", "APPROVE or REJECT").into());
        };
        let (a, t, note) = (self.accrual.clone(), tenant.clone(), req.note.clone());
        let wire_decision = req.decision;
        self.mutations
            .run(
                &tenant,
                "accrual.ReviewPurchase",
                &req.idempotency_key,
                &req,
                move |conn| {
                    Box::pin(async move {
                        let rewards = a
                            .review(conn, &t, &program_id, &order_id, decision, &note)
                            .await?;
                        let now = a.clock().now();
                        Ok(pb::ReviewPurchaseResponse {
                            decision: wire_decision,
                            rewards: render::rewards(&order_id, &rewards, now),
                        })
                    })
                },
            )
            .await
    }

    async fn record_return(
        &self,
        req: Request<pb::RecordReturnRequest>,
    ) -> Result<Response<pb::RecordReturnResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let program_id = convert::id(&mut v, "program_id", &req.program_id);
        let order_id = convert::id(&mut v, "order_id", &req.order_id);
        let return_id = convert::id(&mut v, "return_id", &req.return_id);
        let lines = convert::returned_lines(&mut v, &req.lines);
        instant(&mut v, "occurred_at", req.occurred_at.as_ref());
        v.check()?;
        let input = ReturnInput {
            program_id,
            order_id: order_id.clone(),
            return_id,
            lines,
        };
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "accrual.RecordReturn",
                &req.idempotency_key,
                &req,
                move |conn| {
                    Box::pin(async move {
                        let done = a.record_return(conn, &t, input).await?;
                        Ok(render::returned(&order_id, &done, a.clock().now()))
                    })
                },
            )
            .await
    }

    async fn convert_points(
        &self,
        req: Request<pb::ConvertPointsRequest>,
    ) -> Result<Response<pb::ConvertPointsResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let program_id = convert::id(&mut v, "program_id", &req.program_id);
        let customer = convert::id(&mut v, "customer_id", &req.customer_id);
        if req.points.is_none() {
            v.add("points", "required");
        }
        let points = convert::money(&mut v, "points", req.points.as_ref(), true);
        if points.as_ref().is_some_and(|p| p.code() != "PTS") {
            v.add("points.asset", "PTS");
        }
        IdempotencyKey::new(&tenant, "accrual.ConvertPoints", &req.idempotency_key)?;
        v.check()?;
        let points = points.map_or(0, |p| p.minor());
        // The wallet transaction is idempotent on a key derived from ours; the
        // event and the answer are recorded once, replayed on a retry.
        let key = &req.idempotency_key;
        let done = self
            .accrual
            .convert(&tenant, &program_id, &customer, points, key)
            .await?;
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.mutations
            .run(&tenant, "accrual.ConvertPoints", key, &req, move |conn| {
                Box::pin(async move {
                    a.converted(conn, &t, &program_id, &customer, &done).await?;
                    Ok(render::converted(&done))
                })
            })
            .await
    }

    async fn get_program_report(
        &self,
        req: Request<pb::GetProgramReportRequest>,
    ) -> Result<Response<pb::GetProgramReportResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let program_id = convert::id(&mut v, "program_id", &req.program_id);
        let from = instant(&mut v, "from", req.from.as_ref());
        let to = instant(&mut v, "to", req.to.as_ref());
        if req.repeat_within_days > 365 {
            v.add("repeat_within_days", "1 to 365 (0 means 30)");
        }
        v.check()?;
        let within = if req.repeat_within_days == 0 {
            30
        } else {
            req.repeat_within_days
        };
        let report = self
            .accrual
            .program_report(&tenant, &program_id, from, to, within)
            .await?;
        Ok(Response::new(render::report(&report)))
    }

    type ExportRowsStream = BoxStream<pb::ExportRowsResponse>;

    async fn export_rows(
        &self,
        req: Request<pb::ExportRowsRequest>,
    ) -> Result<Response<Self::ExportRowsStream>, Status> {
        exports::export_rows(&self.accrual, req)
    }

    async fn get_tax_report(
        &self,
        req: Request<pb::GetTaxReportRequest>,
    ) -> Result<Response<pb::GetTaxReportResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let program_id = convert::id(&mut v, "program_id", &req.program_id);
        let from = instant(&mut v, "from", req.from.as_ref());
        let to = instant(&mut v, "to", req.to.as_ref());
        v.check()?;
        let report = self
            .accrual
            .tax_report(&tenant, &program_id, from, to)
            .await?;
        Ok(Response::new(render::tax_report(&report)))
    }

    async fn get_experiment_report(
        &self,
        req: Request<pb::GetExperimentReportRequest>,
    ) -> Result<Response<pb::GetExperimentReportResponse>, Status> {
        experiments::experiment_report(&self.accrual, req).await
    }

    type WatchEventsStream = BoxStream<pb::WatchEventsResponse>;

    type FollowEventsStream = BoxStream<pb::FollowEventsResponse>;

    async fn follow_events(
        &self,
        req: Request<pb::FollowEventsRequest>,
    ) -> Result<Response<Self::FollowEventsStream>, Status> {
        // Every tenant's events: only services reach it, the caller's
        // tenant is no filter.
        tenant_of(&req)?;
        let cursor = boomerang_common::events::Cursor::parse(&req.get_ref().from_cursor)?;
        let follow = |(tenant_id, event)| pb::FollowEventsResponse {
            tenant_id,
            event: Some(event),
        };
        Ok(Response::new(stream::of(
            self.accrual.follow(cursor),
            follow,
        )))
    }

    async fn watch_events(
        &self,
        req: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let cursor = boomerang_common::events::Cursor::parse(&req.from_cursor)?;
        let mut v = Violations::new();
        if !req.program_id.is_empty() {
            convert::id(&mut v, "program_id", &req.program_id);
        }
        if !req.customer_id.is_empty() {
            convert::id(&mut v, "customer_id", &req.customer_id);
        }
        v.known_each::<pb::EventType>("types", &req.types, 16);
        v.check()?;
        let filter = boomerang_common::events::Filter {
            types: req.types,
            scope: req.program_id,
            customer: req.customer_id,
        };
        let events = self.accrual.watch(tenant, cursor, filter);
        Ok(Response::new(stream::of(events, |e| e)))
    }
}
