//! Review of purchases whose rewards a fraud flag held back (credited pending
//! with no release time). Approval releases the credits on their schedule, at
//! once if the return window is over, hands the purchase to referral-svc and
//! counts it toward the member's tier; rejection takes the rewards back and
//! gives the campaign budget back (referral-svc never heard of the purchase).
//! Both go through the outbox with keys derived from the order.
use boomerang_common::{db::Conn, error::AppError, tenant::TenantId, time::to_timestamp};
use boomerang_proto::{accrual::v1 as pb, wallet::v1 as wpb};
use tracing::instrument;

use super::{
    Accrual, RecordedReward,
    effects::Effects,
    outbound::{Outbound, Release, RewardRef},
    program_ref,
    purchases::{HELD, REJECTED, Sale, recorded, release_at, voucher_issue},
    returns::{Cause, take_back},
};
use crate::{
    domain::{
        program::Program,
        returns,
        rewards::{self, Kind},
    },
    repo,
};

/// The review state of an approved purchase.
const APPROVED: &str = "approved";

/// What a review decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Release the rewards on their schedule.
    Approve,
    /// Take them back.
    Reject,
}

impl Accrual {
    /// Applies `decision` to a held purchase; returns its rewards after it.
    #[instrument(name = "boomerang.accrual.review.decide", skip_all,
                 fields(tenant = %tenant, order = %order, ?decision), err(level = "info"))]
    pub async fn review(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        program_id: &str,
        order: &str,
        decision: Decision,
        note: &str,
    ) -> Result<Vec<RecordedReward>, AppError> {
        let t = tenant.as_str();
        let purchase = repo::get_purchase(conn, self.db(), t, program_id, order)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no order {order}")))?;
        if purchase.review != HELD {
            let state = if purchase.review.is_empty() {
                "not held"
            } else {
                purchase.review.as_str()
            };
            return Err(AppError::Precondition(format!(
                "order {order} is {state}; only a held purchase is reviewed"
            )));
        }
        let (_, program, _) =
            repo::program(conn, t, program_id, Some(purchase.program_version)).await?;
        let pref = program_ref(program_id, purchase.program_version);
        let rows = repo::rewards(conn, t, program_id, order).await?;
        let held = Held {
            program_id,
            order,
            purchase: &purchase,
            program: &program,
            pref: &pref,
            rows: &rows,
        };
        let state = match decision {
            Decision::Approve => self.approve(conn, tenant, &held).await?,
            Decision::Reject => self.reject(conn, tenant, &held).await?,
        };
        let reviewed = pb::WatchEventsResponse {
            r#type: pb::EventType::PurchaseReviewed as i32,
            program_id: program_id.into(),
            customer_id: purchase.customer_id.clone(),
            reference: order.into(),
            message: if note.is_empty() {
                state.to_owned()
            } else {
                format!("{state}: {note}")
            },
            ..Default::default()
        };
        self.emit(conn, tenant, reviewed).await?;
        let rows = repo::rewards(conn, t, program_id, order).await?;
        Ok(recorded(rows, false))
    }
}

/// A held purchase under review, as read for the decision.
struct Held<'a> {
    program_id: &'a str,
    order: &'a str,
    purchase: &'a repo::PurchaseRow,
    program: &'a Program,
    pref: &'a str,
    rows: &'a [repo::RewardRow],
}

impl Accrual {
    /// Releases the held credits on their schedule (at once past the return
    /// window); now the purchase counts: referral-svc hears of it, and it
    /// counts toward the member's tier.
    async fn approve(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        h: &Held<'_>,
    ) -> Result<&'static str, AppError> {
        let (t, now) = (tenant.as_str(), self.clock().now());
        let sale = Sale {
            program_id: h.program_id,
            order: h.order,
            customer: &h.purchase.customer_id,
            occurred_at_us: h.purchase.occurred_at,
        };
        let release = release_at(h.program, h.purchase.occurred_at);
        for row in h.rows.iter().filter(|r| r.reward.amount > r.reversed) {
            // A voucher held back was never issued (its budget was
            // confirmed when recorded): it is now.
            if row.reward.kind == Kind::VoucherCode {
                if let Some(issue) = voucher_issue(&sale, release, row, (false, true)) {
                    self.enqueue(conn, tenant, issue).await?;
                }
                continue;
            }
            let reward = RewardRef::new(h.program_id, h.order, row.no);
            let release = wpb::ReleaseCreditRequest {
                customer_id: h.purchase.customer_id.clone(),
                source_reference: reward.credit_reference(),
                release_at: Some(to_timestamp(row.release_at.max(now))),
                ..Default::default()
            };
            let message = Outbound::Release(Release { reward, release });
            self.enqueue(conn, tenant, message).await?;
        }
        let kept = kept_eligible(
            conn,
            t,
            h.program_id,
            h.order,
            h.purchase,
            h.program,
            h.pref,
        )
        .await?;
        let currency = &h.program.currency;
        let mut fx = Effects::default();
        Self::tell_referral(&mut fx, &sale, kept, currency, release);
        repo::set_review(conn, t, h.program_id, h.order, APPROVED).await?;
        let added = if h.program.tiers.by_points {
            let points = h.rows.iter().filter(|r| r.reward.asset == "PTS");
            points.map(|r| r.reward.amount - r.reversed).sum()
        } else {
            kept
        };
        let customer = &h.purchase.customer_id;
        self.refresh_tier(conn, &mut fx, tenant, h.program_id, customer, added)
            .await?;
        self.write_effects(conn, tenant, fx).await?;
        Ok(APPROVED)
    }

    /// Takes every held reward back and gives its campaign budget back;
    /// referral-svc never heard of the purchase, so nothing is voided there.
    async fn reject(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        h: &Held<'_>,
    ) -> Result<&'static str, AppError> {
        let cause = Cause {
            kind: "review_rejected",
            reference: h.order,
            rule_version: h.pref,
            return_id: "",
            // Rejected: every reward goes back, and with it the order's attribution.
            order_left: None,
        };
        for row in h.rows {
            let left = row.reward.amount - row.reversed;
            if left <= 0 {
                continue;
            }
            let reward = RewardRef::new(h.program_id, h.order, row.no);
            let customer = &h.purchase.customer_id;
            let message = take_back(reward, customer, row, left, h.program.clawback, &cause);
            self.enqueue(conn, tenant, message).await?;
            repo::add_reversed(conn, tenant.as_str(), h.program_id, h.order, row.no, left).await?;
        }
        repo::set_review(conn, tenant.as_str(), h.program_id, h.order, REJECTED).await?;
        Ok(REJECTED)
    }
}

/// The eligible amount of the units still kept (after returns).
async fn kept_eligible(
    conn: &mut Conn,
    tenant: &str,
    program_id: &str,
    order: &str,
    purchase: &repo::PurchaseRow,
    program: &Program,
    pref: &str,
) -> Result<i64, AppError> {
    let earlier = repo::returned(conn, tenant, program_id, order).await?;
    let kept = returns::kept_after(&purchase.lines, earlier.iter().map(|(_, l)| l))?;
    let tier = purchase
        .tier
        .as_ref()
        .map(|(a, b)| (a.as_str(), b.as_str()));
    Ok(rewards::compute(program, pref, &purchase.lines, &kept, tier, &[]).eligible)
}
