//! SQL of the what-if: the purchases of a window with their rewards, as
//! recorded, a page at a time.
use std::collections::BTreeMap;

use boomerang_common::{db::Conn, error::AppError};
use sqlx::Row as _;

use super::parse;
use crate::domain::{
    rewards::{Offer, Reward},
    simulation::Recorded,
};

/// The purchases of a page: of the program, before `to`, after `after`
/// (occurred_at, order), not rejected, in that order, `limit` at most.
const PAGE: &str = "SELECT tenant_id, program_id, order_id, program_version, customer_id, occurred_at, recorded_at, channel, store_id, lines, tier \
     FROM purchases \
     WHERE tenant_id = $1 AND program_id = $2 AND occurred_at < $3 AND review <> 'rejected' \
       AND (occurred_at > $4 OR (occurred_at = $4 AND order_id > $5)) \
     ORDER BY occurred_at, order_id LIMIT $6";

/// Up to `limit` purchases of `program` that occurred before `to`, after
/// `after` (occurred_at, order; a first page starts at (from, "")), in that
/// order, with their rewards (and what returns took back of them) and
/// their returns; rejected ones left out. Its two reads agree when `conn`
/// is a snapshot ([`boomerang_common::db::Db::snapshot`]).
pub async fn recorded_page(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    after: (i64, &str),
    to: i64,
    limit: i64,
) -> Result<Vec<Recorded>, AppError> {
    let sql = format!(
        "SELECT p.order_id, p.program_version, p.customer_id, p.occurred_at, p.recorded_at, p.channel, p.store_id, p.lines, p.tier, \
                r.kind, r.asset, r.amount, r.earned, r.reversed, r.offer \
         FROM ({PAGE}) p \
         LEFT JOIN rewards r \
           ON r.tenant_id = p.tenant_id AND r.program_id = p.program_id AND r.order_id = p.order_id \
         ORDER BY p.occurred_at, p.order_id, r.reward_no"
    );
    let rows = sqlx::query(&sql)
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
                store: r.try_get("store_id")?,
                occurred_at: r.try_get("occurred_at")?,
                recorded_at: r.try_get("recorded_at")?,
                lines: parse(&r.try_get::<String, _>("lines")?)?,
                tier: parse(&r.try_get::<String, _>("tier")?)?,
                rewards: Vec::new(),
                reversed: Vec::new(),
                returns: Vec::new(),
            });
        }
        let Some(kind) = r.try_get::<Option<String>, _>("kind")? else {
            continue;
        };
        let (offer, valid_days): (Option<Offer>, Option<u32>) =
            parse(&r.try_get::<String, _>("offer")?)?;
        if let Some(purchase) = page.last_mut() {
            purchase.reversed.push(r.try_get("reversed")?);
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
    if page.is_empty() {
        return Ok(page);
    }
    // The page's returns, in one read by its orders (few have any).
    let orders: Vec<String> = (0..page.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "SELECT order_id, occurred_at, lines FROM returns \
         WHERE tenant_id = $1 AND program_id = $2 AND order_id IN ({}) \
         ORDER BY order_id, occurred_at, return_id",
        orders.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(tenant).bind(program);
    for p in &page {
        q = q.bind(&p.order_id);
    }
    let returns = q.fetch_all(&mut *conn).await?;
    let at: BTreeMap<String, usize> = page
        .iter()
        .enumerate()
        .filter(|_| !returns.is_empty())
        .map(|(i, p)| (p.order_id.clone(), i))
        .collect();
    for r in &returns {
        let order: String = r.try_get("order_id")?;
        if let Some(purchase) = at.get(&order).and_then(|i| page.get_mut(*i)) {
            let lines: BTreeMap<String, u32> = parse(&r.try_get::<String, _>("lines")?)?;
            purchase.returns.push((r.try_get("occurred_at")?, lines));
        }
    }
    Ok(page)
}

/// Purchases of `program` recorded in `[from, to)`, rejected ones left out.
pub async fn count_window(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    (from, to): (i64, i64),
) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM purchases \
         WHERE tenant_id = $1 AND program_id = $2 AND occurred_at >= $3 AND occurred_at < $4 \
           AND review <> 'rejected'",
    )
    .bind(tenant)
    .bind(program)
    .bind(from)
    .bind(to)
    .fetch_one(&mut *conn)
    .await?)
}

/// A what-if job as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SimulationRow {
    pub simulation_id: String,
    /// JSON of the question.
    pub ask: String,
    /// running, succeeded, failed, cancelled.
    pub state: String,
    /// Chunks priced: the checkpoint moves only over the step it was read at.
    pub step: i64,
    pub purchases_read: i64,
    pub purchases_total: i64,
    /// JSON of where it stands.
    pub checkpoint: String,
    pub error: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert_simulation(
    conn: &mut Conn,
    tenant: &str,
    row: &SimulationRow,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO simulations (tenant_id, simulation_id, ask, state, step, purchases_read, \
             purchases_total, checkpoint, error, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tenant)
    .bind(&row.simulation_id)
    .bind(&row.ask)
    .bind(&row.state)
    .bind(row.step)
    .bind(row.purchases_read)
    .bind(row.purchases_total)
    .bind(&row.checkpoint)
    .bind(&row.error)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A what-if job; NOT_FOUND if there is none. Its checkpoint (large) is
/// read only once it has succeeded (its answer), or `always`.
pub async fn simulation(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
    always: bool,
) -> Result<SimulationRow, AppError> {
    sqlx::query_as(
        "SELECT simulation_id, ask, state, step, purchases_read, purchases_total, \
                CASE WHEN state = 'succeeded' OR $3 = 1 THEN checkpoint ELSE '' END AS checkpoint, \
                error, created_at, updated_at \
         FROM simulations WHERE tenant_id = $1 AND simulation_id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(i64::from(always))
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("no what-if {id}")))
}

/// Moves a running job read at `row.step` to `row` (its step the next);
/// false when it is no longer there (cancelled, or moved by another runner).
pub async fn advance_simulation(
    conn: &mut Conn,
    tenant: &str,
    row: &SimulationRow,
) -> Result<bool, AppError> {
    let moved = sqlx::query(
        "UPDATE simulations SET state = $3, step = step + 1, purchases_read = $4, checkpoint = $5, \
             error = $6, updated_at = $7 \
         WHERE tenant_id = $1 AND simulation_id = $2 AND step = $8 AND state = 'running'",
    )
    .bind(tenant)
    .bind(&row.simulation_id)
    .bind(&row.state)
    .bind(row.purchases_read)
    .bind(&row.checkpoint)
    .bind(&row.error)
    .bind(row.updated_at)
    .bind(row.step)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(moved == 1)
}

/// Cancels a running job; false when it is not running.
pub async fn cancel_simulation(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
    now: i64,
) -> Result<bool, AppError> {
    let moved = sqlx::query(
        "UPDATE simulations SET state = 'cancelled', updated_at = $3 \
         WHERE tenant_id = $1 AND simulation_id = $2 AND state = 'running'",
    )
    .bind(tenant)
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(moved == 1)
}

/// Up to `limit` jobs newest first (by start, then id) after `after`
/// (created_at, id; none from the newest), in `state` ("" any), without
/// their checkpoints.
pub async fn list_simulations(
    conn: &mut Conn,
    tenant: &str,
    state: &str,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<SimulationRow>, AppError> {
    let (at, id) = after.unwrap_or((i64::MAX, ""));
    Ok(sqlx::query_as(
        "SELECT simulation_id, ask, state, step, purchases_read, purchases_total, '' AS checkpoint, \
                error, created_at, updated_at \
         FROM simulations WHERE tenant_id = $1 AND ($2 = '' OR state = $2) \
           AND (created_at < $3 OR (created_at = $3 AND simulation_id < $4) OR $4 = '') \
         ORDER BY created_at DESC, simulation_id DESC LIMIT $5",
    )
    .bind(tenant)
    .bind(state)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Removes a job that has ended; false when it is running or gone.
pub async fn forget_simulation(conn: &mut Conn, tenant: &str, id: &str) -> Result<bool, AppError> {
    let gone = sqlx::query(
        "DELETE FROM simulations WHERE tenant_id = $1 AND simulation_id = $2 AND state <> 'running'",
    )
    .bind(tenant)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(gone == 1)
}
