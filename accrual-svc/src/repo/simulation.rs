//! SQL of the what-if: the purchases of a window with their rewards, as
//! recorded, a page at a time.
use boomerang_common::{db::Conn, error::AppError};
use sqlx::Row as _;

use super::parse;
use crate::domain::{
    rewards::{Offer, Reward},
    simulation::Recorded,
};

/// Up to `limit` purchases of `program` that occurred before `to`, after
/// `after` (occurred_at, order; a first page starts at (from, "")), in that
/// order, with their rewards; rejected ones left out.
pub async fn recorded_page(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    after: (i64, &str),
    to: i64,
    limit: i64,
) -> Result<Vec<Recorded>, AppError> {
    let rows = sqlx::query(
        "SELECT p.order_id, p.program_version, p.customer_id, p.occurred_at, p.channel, p.lines, p.tier, \
                r.kind, r.asset, r.amount, r.earned, r.offer \
         FROM (SELECT tenant_id, program_id, order_id, program_version, customer_id, occurred_at, channel, lines, tier \
               FROM purchases \
               WHERE tenant_id = $1 AND program_id = $2 AND occurred_at < $3 AND review <> 'rejected' \
                 AND (occurred_at > $4 OR (occurred_at = $4 AND order_id > $5)) \
               ORDER BY occurred_at, order_id LIMIT $6) p \
         LEFT JOIN rewards r \
           ON r.tenant_id = p.tenant_id AND r.program_id = p.program_id AND r.order_id = p.order_id \
         ORDER BY p.occurred_at, p.order_id, r.reward_no",
    )
    .bind(tenant)
    .bind(program)
    .bind(to)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut page: Vec<Recorded> = Vec::new();
    for r in &rows {
        let order: String = r.try_get("order_id")?;
        if page.last().is_none_or(|p| p.order_id != order) {
            page.push(Recorded {
                order_id: order,
                version: r.try_get("program_version")?,
                customer: r.try_get("customer_id")?,
                channel: r.try_get("channel")?,
                occurred_at: r.try_get("occurred_at")?,
                lines: parse(&r.try_get::<String, _>("lines")?)?,
                tier: parse(&r.try_get::<String, _>("tier")?)?,
                rewards: Vec::new(),
            });
        }
        let Some(kind) = r.try_get::<Option<String>, _>("kind")? else {
            continue;
        };
        let (offer, valid_days): (Option<Offer>, Option<u32>) =
            parse(&r.try_get::<String, _>("offer")?)?;
        if let Some(purchase) = page.last_mut() {
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
    }
    Ok(page)
}
