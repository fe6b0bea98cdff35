//! Review of purchases whose rewards a fraud flag held back (credited pending
//! with no release time). Approval releases the credits on their schedule, at
//! once if the return window is over, hands the purchase to referral-svc and
//! counts it toward the member's tier; rejection takes the rewards back and
//! gives the campaign budget back (referral-svc never heard of the purchase).
//! Both go through the outbox with keys derived from the order.
use boomerang_common::{db::Conn, error::AppError, outbox, tenant::TenantId, time::to_timestamp};
use boomerang_proto::{accrual::v1 as pb, wallet::v1 as wpb};

use super::{
    Accrual, RecordedReward, key, program_ref,
    purchases::{
        HELD, REJECTED, REVERSE, Sale, credit_reference, recorded, release_at, subtract, take_back,
    },
    relay::{self, RewardRef},
};
use crate::{
    domain::{program::Program, rewards},
    repo,
};

/// The review state of an approved purchase.
const APPROVED: &str = "approved";

/// Outbox topic of wallet releases of held credits.
pub const RELEASE: &str = "accrual.wallet_release";

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
        let now = self.clock().now();
        let state = match decision {
            Decision::Approve => {
                for row in rows.iter().filter(|r| r.reward.amount > r.reversed) {
                    let release = wpb::ReleaseCreditRequest {
                        customer_id: purchase.customer_id.clone(),
                        source_reference: credit_reference(program_id, order, row.no),
                        release_at: Some(to_timestamp(row.release_at.max(now))),
                        ..Default::default()
                    };
                    let k = key(t, &[program_id, order, "release", &row.no.to_string()]);
                    let reward = wpb::Source {
                        kind: "reward".into(),
                        inputs: RewardRef {
                            program: program_id.into(),
                            order: order.into(),
                            no: row.no,
                        }
                        .to_json(),
                        ..Default::default()
                    };
                    let message = relay::pack(&release, Some(&reward));
                    outbox::enqueue_raw(conn, tenant, RELEASE, &k, &message).await?;
                }
                // Now it counts: referral-svc hears of it, and toward the tier.
                let kept =
                    kept_eligible(conn, t, program_id, order, &purchase, &program, &pref).await?;
                let sale = Sale {
                    program_id,
                    order,
                    customer: &purchase.customer_id,
                    occurred_at: purchase.occurred_at,
                };
                let release = release_at(&program, purchase.occurred_at);
                self.tell_referral(conn, tenant, &sale, kept, &program.currency, release)
                    .await?;
                repo::set_review(conn, t, program_id, order, APPROVED).await?;
                let added = if program.tiers.by_points {
                    rows.iter()
                        .filter(|r| r.reward.asset == "PTS")
                        .map(|r| r.reward.amount - r.reversed)
                        .sum()
                } else {
                    kept
                };
                self.refresh_tier(conn, tenant, program_id, &purchase.customer_id, added)
                    .await?;
                APPROVED
            }
            Decision::Reject => {
                for row in &rows {
                    let left = row.reward.amount - row.reversed;
                    if left <= 0 {
                        continue;
                    }
                    let k = key(t, &[program_id, order, "rejected", &row.no.to_string()]);
                    let why = ("review_rejected", order, pref.as_str());
                    let message = take_back(
                        program_id,
                        order,
                        &purchase.customer_id,
                        row,
                        left,
                        program.clawback,
                        why,
                    );
                    outbox::enqueue_raw(conn, tenant, REVERSE, &k, &message).await?;
                    repo::add_reversed(conn, t, program_id, order, row.no, left).await?;
                }
                // referral-svc never heard of it: nothing to void there.
                repo::set_review(conn, t, program_id, order, REJECTED).await?;
                REJECTED
            }
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
    let mut kept: Vec<u32> = purchase.lines.iter().map(|l| l.quantity).collect();
    for (_, lines) in repo::returned(conn, tenant, program_id, order).await? {
        subtract(&purchase.lines, &mut kept, &lines)?;
    }
    let tier = purchase
        .tier
        .as_ref()
        .map(|(a, b)| (a.as_str(), b.as_str()));
    Ok(rewards::compute(program, pref, &purchase.lines, &kept, tier, &[]).eligible)
}
