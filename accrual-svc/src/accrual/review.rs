//! Review of purchases whose rewards a fraud flag held back (credited pending
//! with no release time). Approval releases the credits on their schedule, at
//! once if the return window is over; rejection takes them back, gives the
//! campaign budget back and tells referral-svc the order is void. Both go
//! through the outbox with keys derived from the order, like every effect.
use boomerang_common::{db::Conn, error::AppError, outbox, tenant::TenantId, time::to_timestamp};
use boomerang_proto::{accrual::v1 as pb, referral::v1 as rpb, wallet::v1 as wpb};

use super::{
    Accrual, RecordedReward, key,
    members::wire,
    program_ref,
    purchases::{HELD, REFERRAL_RETURN, REVERSE, credit_reference, recorded, subtract, take_back},
    relay::{self, RewardRef},
};
use crate::{
    domain::{program::Money, rewards},
    repo,
};

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
                "approved"
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
                // The referrer earned on this order too: it is void for referral-svc.
                let mut kept: Vec<u32> = purchase.lines.iter().map(|l| l.quantity).collect();
                for (_, lines) in repo::returned(conn, t, program_id, order).await? {
                    subtract(&purchase.lines, &mut kept, &lines)?;
                }
                let tier = purchase
                    .tier
                    .as_ref()
                    .map(|(a, b)| (a.as_str(), b.as_str()));
                let eligible =
                    rewards::compute(&program, &pref, &purchase.lines, &kept, tier, &[]).eligible;
                if eligible > 0 {
                    let notice = rpb::OnReturnRequest {
                        referee_customer_id: purchase.customer_id.clone(),
                        order_id: format!("{program_id}:{order}"),
                        return_id: "review-rejected".into(),
                        returned_amount: Some(wire(&Money {
                            minor: eligible,
                            asset: program.currency.clone(),
                        })),
                        ..Default::default()
                    };
                    let k = key(
                        t,
                        &[program_id, order, "referral-return", "review-rejected"],
                    );
                    outbox::enqueue(conn, tenant, REFERRAL_RETURN, &k, &notice).await?;
                }
                "rejected"
            }
        };
        repo::set_review(conn, t, program_id, order, state).await?;
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
