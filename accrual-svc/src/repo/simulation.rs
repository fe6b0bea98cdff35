//! SQL of the what-if: the purchases of a window with their rewards, as
//! recorded.
use boomerang_common::{db::Conn, error::AppError};
use futures::TryStreamExt as _;
use sqlx::Row as _;

use super::parse;
use crate::domain::{
    rewards::{Offer, Reward},
    simulation::Recorded,
};

/// Hands each purchase of `program` that occurred in `[from, to)` (rejected
/// ones left out) to `each`, with its rewards, in (occurred_at, order) order;
/// rows stream, so a window of any size holds one purchase at a time.
pub async fn recorded_purchases(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    (from, to): (i64, i64),
    mut each: impl FnMut(Recorded),
) -> Result<(), AppError> {
    let mut rows = sqlx::query(
        "SELECT p.order_id, p.customer_id, p.occurred_at, p.channel, p.lines, p.tier, \
                r.kind, r.asset, r.amount, r.earned, r.offer \
         FROM purchases p LEFT JOIN rewards r \
           ON r.tenant_id = p.tenant_id AND r.program_id = p.program_id AND r.order_id = p.order_id \
         WHERE p.tenant_id = $1 AND p.program_id = $2 AND p.occurred_at >= $3 AND p.occurred_at < $4 \
           AND p.review <> 'rejected' \
         ORDER BY p.occurred_at, p.order_id, r.reward_no",
    )
    .bind(tenant)
    .bind(program)
    .bind(from)
    .bind(to)
    .fetch(&mut *conn);
    let mut current: Option<Recorded> = None;
    while let Some(r) = rows.try_next().await? {
        let order: String = r.try_get("order_id")?;
        let purchase = match &mut current {
            Some(p) if p.order_id == order => p,
            _ => {
                if let Some(done) = current.take() {
                    each(done);
                }
                current.insert(Recorded {
                    order_id: order,
                    customer: r.try_get("customer_id")?,
                    channel: r.try_get("channel")?,
                    occurred_at: r.try_get("occurred_at")?,
                    lines: parse(&r.try_get::<String, _>("lines")?)?,
                    tier: parse(&r.try_get::<String, _>("tier")?)?,
                    rewards: Vec::new(),
                })
            }
        };
        let Some(kind) = r.try_get::<Option<String>, _>("kind")? else {
            continue;
        };
        let (offer, valid_days): (Option<Offer>, Option<u32>) =
            parse(&r.try_get::<String, _>("offer")?)?;
        purchase.rewards.push(Reward {
            kind: parse(&kind)?,
            asset: r.try_get("asset")?,
            amount: r.try_get("amount")?,
            earned: r.try_get("earned")?,
            offer,
            valid_days,
            explanations: Vec::new(),
        });
    }
    if let Some(done) = current {
        each(done);
    }
    Ok(())
}
