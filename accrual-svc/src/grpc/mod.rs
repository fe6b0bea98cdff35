//! gRPC handlers of `boomerang.accrual.v1.AccrualService`.
pub mod convert;

use boomerang_common::{
    db::Conn,
    error::{AppError, Violations},
    idempotency::{self, IdempotencyKey},
    stream::BoxStream,
    tenant::{TenantId, tenant_of},
    time::from_timestamp,
};
use boomerang_proto::accrual::v1::{self as pb, accrual_service_server::AccrualService};
use futures::{StreamExt as _, future::BoxFuture};
use prost::Message;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::{
    accrual::{Accrual, ReturnInput},
    repo::{self, MemberRow},
};

/// The `AccrualService` implementation.
#[derive(Clone, Debug)]
pub struct AccrualServiceHandler {
    accrual: Accrual,
}

impl AccrualServiceHandler {
    /// Handlers over `accrual`.
    pub fn new(accrual: Accrual) -> Self {
        Self { accrual }
    }

    async fn once<R, F>(
        &self,
        tenant: &TenantId,
        scope: &'static str,
        key: &str,
        req: &impl Message,
        work: F,
    ) -> Result<Response<R>, Status>
    where
        R: Message + Default,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<R, AppError>>,
    {
        let key = IdempotencyKey::new(tenant, scope, key)?;
        let done = idempotency::once(self.accrual.db(), &key, req, work).await?;
        // Events of this call are committed: wake this replica's watchers.
        self.accrual.committed();
        Ok(Response::new(done))
    }
}

fn member_row(v: &mut Violations, m: Option<&pb::Member>, enrolled_at: i64) -> MemberRow {
    let m = m.cloned().unwrap_or_default();
    MemberRow {
        customer_id: convert::id(v, "member.customer_id", &m.customer_id),
        birthday: convert::birthday(v, "member.birthday", &m.birthday),
        segment: m.segment.chars().take(64).collect(),
        opt_ins: serde_json::to_string(&m.opt_ins).unwrap_or_else(|_| "[]".into()),
        tier: None,
        legacy_tier_index: None,
        tier_review_at: None,
        enrolled_at,
    }
}

/// Average order in minor units, rounded down; none without orders.
fn average((orders, total): (i64, i64)) -> Option<i64> {
    (orders > 0).then(|| total / orders)
}

/// Per asset: rewards issued and reversed (accrual) joined with what the
/// wallet says became of the program-funded credits.
fn report_totals(
    rewards: &[(String, i64, i64)],
    funded: Vec<boomerang_proto::wallet::v1::FundingTotals>,
    ratio: impl Fn(i64, i64) -> String,
) -> Vec<pb::AssetTotals> {
    use std::collections::BTreeMap;
    let minor = |m: &Option<boomerang_proto::common::v1::Money>| {
        m.as_ref()
            .and_then(|m| {
                let asset = boomerang_common::money::Asset::builtin(&m.asset)?;
                boomerang_common::money::Amount::parse(&m.amount, &asset).ok()
            })
            .map_or(0, |a| a.minor())
    };
    let mut by_asset: BTreeMap<String, pb::AssetTotals> = BTreeMap::new();
    let wire = |minor: i64, asset: &str| {
        Some(crate::accrual::members::wire(
            &crate::domain::program::Money {
                minor,
                asset: asset.into(),
            },
        ))
    };
    for (asset, issued, reversed) in rewards {
        let t = by_asset.entry(asset.clone()).or_default();
        t.asset.clone_from(asset);
        t.issued = wire(*issued, asset);
        t.reversed = wire(*reversed, asset);
    }
    for f in funded {
        let t = by_asset.entry(f.asset.clone()).or_default();
        t.asset.clone_from(&f.asset);
        let (pending, available) = (minor(&f.pending), minor(&f.available));
        let kept = minor(&f.credited) - minor(&f.reversed);
        t.redemption_rate = ratio(minor(&f.redeemed) * 100, kept);
        t.liability = wire(pending + available, &f.asset);
        t.redeemed = f.redeemed;
        t.expired = f.expired;
        t.pending = f.pending;
        t.available = f.available;
    }
    by_asset.into_values().collect()
}

#[tonic::async_trait]
impl AccrualService for AccrualServiceHandler {
    async fn upsert_program(
        &self,
        req: Request<pb::UpsertProgramRequest>,
    ) -> Result<Response<pb::UpsertProgramResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let (id, program) = convert::program(req.program.as_ref())?;
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.once(
            &tenant,
            "accrual.UpsertProgram",
            &req.idempotency_key,
            &req,
            move |conn: &mut Conn| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let (version, at) = a.publish(conn, &t, &id, &program).await?;
                    Ok(pb::UpsertProgramResponse {
                        program: Some(convert::to_program(&id, version, at, &program)),
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
        let mut conn = self
            .accrual
            .db()
            .pool()
            .acquire()
            .await
            .map_err(AppError::from)?;
        let version = Some(i64::from(req.version)).filter(|v| *v > 0);
        let (version, program, at) =
            repo::program(&mut conn, tenant.as_str(), &id, version).await?;
        Ok(Response::new(pb::GetProgramResponse {
            program: Some(convert::to_program(&id, version, at, &program)),
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
        let at = req
            .enrolled_at
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or_else(|| self.accrual.clock().now());
        let as_member = pb::Member {
            customer_id: req.customer_id.clone(),
            birthday: req.birthday.clone(),
            segment: req.segment.clone(),
            opt_ins: req.opt_ins.clone(),
            ..Default::default()
        };
        let member = member_row(&mut v, Some(&as_member), at);
        v.check()?;
        if !req.referral_code.is_empty() {
            // The code goes to referral-svc now, before any purchase can be notified;
            // its fraud checks decide, and enrolment does not depend on them.
            let attribute = boomerang_proto::referral::v1::AttributeReferralRequest {
                idempotency_key: crate::accrual::key(
                    tenant.as_str(),
                    &[&program_id, &member.customer_id, "referral"],
                ),
                code: req.referral_code.clone(),
                referee_customer_id: member.customer_id.clone(),
                context: Some(boomerang_proto::referral::v1::AttributionContext {
                    signup_at: Some(boomerang_common::time::to_timestamp(at)),
                    ..Default::default()
                }),
            };
            let call = crate::accrual::upstream::call(tenant.as_str(), attribute)?;
            if let Err(s) = self
                .accrual
                .upstream()
                .referral
                .clone()
                .attribute_referral(call)
                .await
            {
                tracing::warn!(code = %req.referral_code, status = ?s, "referral attribution at enrolment failed");
            }
        }
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.once(
            &tenant,
            "accrual.EnrollMember",
            &req.idempotency_key,
            &req,
            move |conn: &mut Conn| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let (view, welcome) = a.enroll(conn, &t, &program_id, member).await?;
                    let rewards = welcome
                        .map(|m| pb::Reward {
                            reward_id: format!("welcome:{program_id}"),
                            kind: pb::RewardKind::Welcome as i32,
                            amount: Some(crate::accrual::members::wire(&m)),
                            status: pb::RewardStatus::Available as i32,
                            ..Default::default()
                        })
                        .into_iter()
                        .collect();
                    Ok(pb::EnrollMemberResponse {
                        member: Some(convert::to_member(&program_id, &view)),
                        rewards,
                    })
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
        let mut conn = self
            .accrual
            .db()
            .pool()
            .acquire()
            .await
            .map_err(AppError::from)?;
        let view = self
            .accrual
            .member(&mut conn, &tenant, &program_id, &customer)
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
        let changed = member_row(&mut v, req.member.as_ref(), 0);
        let paths: Vec<String> = req
            .update_mask
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default();
        if let Some(bad) = paths
            .iter()
            .find(|p| !matches!(p.as_str(), "birthday" | "segment" | "opt_ins"))
        {
            v.add(
                "update_mask",
                format!("cannot update {bad:?}; only birthday, segment, opt_ins"),
            );
        }
        v.check()?;
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.once(
            &tenant,
            "accrual.UpdateMember",
            &req.idempotency_key,
            &req,
            move |conn: &mut Conn| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let current = a
                        .member(conn, &t, &program_id, &changed.customer_id)
                        .await?
                        .member;
                    let all = paths.is_empty();
                    let pick = |field: &str| all || paths.iter().any(|p| p == field);
                    let merged = MemberRow {
                        birthday: if pick("birthday") {
                            changed.birthday.clone()
                        } else {
                            current.birthday.clone()
                        },
                        segment: if pick("segment") {
                            changed.segment.clone()
                        } else {
                            current.segment.clone()
                        },
                        opt_ins: if pick("opt_ins") {
                            changed.opt_ins.clone()
                        } else {
                            current.opt_ins.clone()
                        },
                        ..current
                    };
                    let view = a.update_member(conn, &t, &program_id, merged).await?;
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
        let input = convert::purchase(req.purchase.as_ref(), vec![])?;
        let done = self.accrual.preview(&tenant, &input).await?;
        let now = self.accrual.clock().now();
        Ok(Response::new(pb::PreviewPurchaseResponse {
            program_version: u32::try_from(done.program_version).unwrap_or_default(),
            rewards: done
                .rewards
                .iter()
                .map(|r| convert::to_reward(&input.order_id, r, true, now))
                .collect(),
            skipped: done.skipped.iter().map(convert::to_explanation).collect(),
        }))
    }

    async fn record_purchase(
        &self,
        req: Request<pb::RecordPurchaseRequest>,
    ) -> Result<Response<pb::RecordPurchaseResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let key = IdempotencyKey::new(&tenant, "accrual.RecordPurchase", &req.idempotency_key)?;
        let hash = idempotency::request_hash(&req.purchase.clone().unwrap_or_default());
        let input = convert::purchase(req.purchase.as_ref(), hash)?;
        let order = input.order_id.clone();
        let clock = self.accrual.clock().clone();
        let render = move |done: &crate::accrual::Recorded| pb::RecordPurchaseResponse {
            purchase_id: order.clone(),
            program_version: u32::try_from(done.program_version).unwrap_or_default(),
            rewards: done
                .rewards
                .iter()
                .map(|r| convert::to_reward(&order, r, false, clock.now()))
                .collect(),
            skipped: done.skipped.iter().map(convert::to_explanation).collect(),
            flags: done
                .flags
                .iter()
                .map(|f| convert::fraud_flag(*f) as i32)
                .collect(),
            held_for_review: done.held,
        };
        let recorded = self
            .accrual
            .record(&tenant, input, &key, &req, render)
            .await?;
        self.accrual.committed();
        Ok(Response::new(recorded))
    }

    async fn review_purchase(
        &self,
        req: Request<pb::ReviewPurchaseRequest>,
    ) -> Result<Response<pb::ReviewPurchaseResponse>, Status> {
        use crate::accrual::review::Decision;
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
        let (accrual, t, note) = (self.accrual.clone(), tenant.clone(), req.note.clone());
        let clock = self.accrual.clock().clone();
        let wire_decision = req.decision;
        self.once(
            &tenant,
            "accrual.ReviewPurchase",
            &req.idempotency_key,
            &req,
            move |conn| {
                Box::pin(async move {
                    let rewards = accrual
                        .review(conn, &t, &program_id, &order_id, decision, &note)
                        .await?;
                    Ok(pb::ReviewPurchaseResponse {
                        decision: wire_decision,
                        rewards: rewards
                            .iter()
                            .map(|r| convert::to_reward(&order_id, r, false, clock.now()))
                            .collect(),
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
        if req.lines.is_empty() || req.lines.len() > 500 {
            v.add("lines", "1 to 500 lines");
        }
        let mut lines = std::collections::BTreeMap::new();
        for (i, l) in req.lines.iter().enumerate() {
            if l.quantity == 0 || l.quantity > 10_000 {
                v.add(format!("lines[{i}].quantity"), "1 to 10000");
            }
            *lines.entry(l.line_id.clone()).or_insert(0u32) += l.quantity;
        }
        v.check()?;
        let input = ReturnInput {
            program_id,
            order_id: order_id.clone(),
            return_id,
            lines,
        };
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.once(
            &tenant,
            "accrual.RecordReturn",
            &req.idempotency_key,
            &req,
            move |conn: &mut Conn| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let done = a.record_return(conn, &t, input).await?;
                    let now = a.clock().now();
                    Ok(pb::RecordReturnResponse {
                        rewards: done
                            .rewards
                            .iter()
                            .map(|r| convert::to_reward(&order_id, r, false, now))
                            .collect(),
                        reversed: done
                            .reversed
                            .iter()
                            .map(|(asset, minor)| {
                                crate::accrual::members::wire(&crate::domain::program::Money {
                                    minor: *minor,
                                    asset: asset.clone(),
                                })
                            })
                            .collect(),
                        not_reversed: vec![],
                        explanations: done
                            .explanations
                            .iter()
                            .map(convert::to_explanation)
                            .collect(),
                    })
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
        if points.as_ref().is_some_and(|p| p.asset != "PTS") {
            v.add("points.asset", "PTS");
        }
        IdempotencyKey::new(&tenant, "accrual.ConvertPoints", &req.idempotency_key)?;
        v.check()?;
        let points = points.map_or(0, |p| p.minor);
        // The wallet transaction is idempotent on a key derived from ours; the
        // event and the answer are recorded once, replayed on a retry.
        let (spent, value, tx) = self
            .accrual
            .convert(
                &tenant,
                &program_id,
                &customer,
                points,
                &req.idempotency_key,
            )
            .await?;
        let wire = crate::accrual::members::wire;
        let reply = pb::ConvertPointsResponse {
            points_spent: Some(wire(&crate::domain::program::Money {
                minor: spent,
                asset: "PTS".into(),
            })),
            credited: Some(wire(&value)),
            transaction_id: tx.clone(),
        };
        let event = pb::WatchEventsResponse {
            r#type: pb::EventType::PointsConverted as i32,
            program_id,
            customer_id: customer,
            reference: tx,
            amount: reply.credited.clone(),
            message: format!("{spent} PTS converted"),
            ..Default::default()
        };
        let accrual = self.accrual.clone();
        let t = tenant.clone();
        self.once(
            &tenant,
            "accrual.ConvertPoints",
            &req.idempotency_key,
            &req,
            move |conn| {
                Box::pin(async move {
                    accrual.emit(conn, &t, event).await?;
                    Ok(reply)
                })
            },
        )
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
        v.check()?;
        let mut conn = self
            .accrual
            .db()
            .pool()
            .acquire()
            .await
            .map_err(AppError::from)?;
        let (_, program, _) = repo::program(&mut conn, tenant.as_str(), &program_id, None).await?;
        drop(conn);
        let from = req
            .from
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or(i64::MIN);
        let to = req.to.as_ref().and_then(from_timestamp).unwrap_or(i64::MAX);
        let r = repo::report(self.accrual.db(), tenant.as_str(), &program_id, from, to).await?;
        let funded = self
            .accrual
            .funding_summary(&tenant, &program_id, req.from, req.to)
            .await?;
        let money = |minor: i64, asset: &str| {
            Some(crate::accrual::members::wire(
                &crate::domain::program::Money {
                    minor,
                    asset: asset.into(),
                },
            ))
        };
        // Cost is what stayed credited in the order currency; points are not priced here.
        let cost: i64 = r
            .rewards
            .iter()
            .filter(|(a, ..)| *a == program.currency)
            .map(|(_, issued, reversed)| issued - reversed)
            .sum();
        let ratio = |a: i64, b: i64| {
            if b == 0 {
                String::new()
            } else {
                (rust_decimal::Decimal::from(a) / rust_decimal::Decimal::from(b))
                    .round_dp(4)
                    .normalize()
                    .to_string()
            }
        };
        Ok(Response::new(pb::GetProgramReportResponse {
            members_enrolled: u64::try_from(r.enrolled).unwrap_or_default(),
            active_members: u64::try_from(r.active).unwrap_or_default(),
            purchases: u64::try_from(r.purchases).unwrap_or_default(),
            revenue: money(r.revenue, &program.currency),
            totals: report_totals(&r.rewards, funded, ratio),
            retention_rate: ratio(r.repeat * 100, r.active),
            roi: ratio(r.revenue, cost),
            average_order_value: average(r.since_enrolment)
                .and_then(|m| money(m, &program.currency)),
            average_order_value_before_enrolment: average(r.before_enrolment)
                .and_then(|m| money(m, &program.currency)),
        }))
    }

    type WatchEventsStream = BoxStream<pb::WatchEventsResponse>;

    async fn watch_events(
        &self,
        req: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let cursor = boomerang_common::events::Cursor::parse(&req.from_cursor)?;
        let filter = crate::accrual::events::Filter {
            types: req.types,
            program_id: req.program_id,
            customer_id: req.customer_id,
        };
        let events = ReceiverStream::new(self.accrual.watch(tenant, cursor, filter))
            .map(|e| e.map_err(Status::from));
        Ok(Response::new(Box::pin(events)))
    }
}
