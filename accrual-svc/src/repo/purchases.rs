//! SQL of purchases, their rewards and returns.
use boomerang_common::{
    db::{Backend, Col, Conn, Db, json_param, json_rows},
    error::AppError,
};
use sqlx::Row as _;

use super::{json, parse};
use crate::domain::{
    fraud::{Flag, History},
    rewards::{Line, Reward},
};

/// A stored purchase.
#[derive(Clone, Debug)]
pub struct PurchaseRow {
    /// Customer.
    pub customer_id: String,
    /// Program version used.
    pub program_version: i64,
    /// Hash of the request that recorded it.
    pub request_hash: Vec<u8>,
    /// Lines.
    pub lines: Vec<Line>,
    /// Tier (id, multiplier) at the purchase.
    pub tier: Option<(String, String)>,
    /// When.
    pub occurred_at: i64,
    /// Fraud flags raised.
    pub flags: Vec<Flag>,
    /// Review state: "" (none), "held", "approved", "rejected".
    pub review: String,
}

/// What a purchase stores.
pub struct NewPurchase<'a> {
    /// Order.
    pub order_id: &'a str,
    /// Row.
    pub row: &'a PurchaseRow,
    /// Eligible amount.
    pub eligible: i64,
    /// Channel ("online", "store", "app").
    pub channel: &'a str,
    /// Store.
    pub store: &'a str,
}

/// Inserts a purchase; false when the order is already recorded (a concurrent
/// record of it committed first: PostgreSQL waits for it, SQLite serialises writers).
pub async fn insert_purchase(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    p: NewPurchase<'_>,
    now: i64,
) -> Result<bool, AppError> {
    let inserted = sqlx::query(
        "INSERT INTO purchases (tenant_id, program_id, order_id, customer_id, program_version, request_hash, lines, \
         eligible, tier, occurred_at, recorded_at, flags, review, channel, store_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(program)
    .bind(p.order_id)
    .bind(&p.row.customer_id)
    .bind(p.row.program_version)
    .bind(&p.row.request_hash)
    .bind(json(&p.row.lines)?)
    .bind(p.eligible)
    .bind(json(&p.row.tier)?)
    .bind(p.row.occurred_at)
    .bind(now)
    .bind(json(&p.row.flags)?)
    .bind(&p.row.review)
    .bind(p.channel)
    .bind(p.store)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// A purchase, locked on PostgreSQL (returns of one order serialise on it).
pub async fn get_purchase(
    conn: &mut Conn,
    db: &Db,
    tenant: &str,
    program: &str,
    order: &str,
) -> Result<Option<PurchaseRow>, AppError> {
    let sql = format!(
        "SELECT customer_id, program_version, request_hash, lines, tier, occurred_at, flags, review FROM purchases \
         WHERE tenant_id = $1 AND program_id = $2 AND order_id = $3 {}",
        db.for_update()
    );
    let Some(r) = sqlx::query(&sql)
        .bind(tenant)
        .bind(program)
        .bind(order)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(PurchaseRow {
        customer_id: r.try_get("customer_id")?,
        program_version: r.try_get("program_version")?,
        request_hash: r.try_get("request_hash")?,
        lines: parse(&r.try_get::<String, _>("lines")?)?,
        tier: parse(&r.try_get::<String, _>("tier")?)?,
        occurred_at: r.try_get("occurred_at")?,
        flags: parse(&r.try_get::<String, _>("flags")?)?,
        review: r.try_get("review")?,
    }))
}

/// Whether a job of `queues` with one of `keys` is not done yet (due, retrying
/// or given up on, awaiting an operator).
pub async fn jobs_pending(
    db: &Db,
    tenant: &str,
    queues: &[&str; 2],
    keys: &[String; 2],
) -> Result<bool, AppError> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM jobs WHERE tenant_id = $1 AND queue IN ($2, $3) \
         AND dedupe_key IN ($4, $5) AND done_at IS NULL LIMIT 1",
    )
    .bind(tenant)
    .bind(queues[0])
    .bind(queues[1])
    .bind(&keys[0])
    .bind(&keys[1])
    .fetch_optional(db.pool())
    .await?;
    Ok(row.is_some())
}

/// Whether the job of `queue` with `key` is not done yet.
pub async fn job_pending(db: &Db, tenant: &str, queue: &str, key: &str) -> Result<bool, AppError> {
    jobs_pending(
        db,
        tenant,
        &[queue, queue],
        &[key.to_owned(), key.to_owned()],
    )
    .await
}

/// Sets a purchase's review state.
pub async fn set_review(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
    review: &str,
) -> Result<(), AppError> {
    sqlx::query("UPDATE purchases SET review = $1 WHERE tenant_id = $2 AND program_id = $3 AND order_id = $4")
        .bind(review)
        .bind(tenant)
        .bind(program)
        .bind(order)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The member's history for fraud checks of a purchase at `at`: purchases in
/// the hour before it, and orders and returned orders since `since`.
pub async fn fraud_history(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    customer: &str,
    at: i64,
    since: i64,
) -> Result<History, AppError> {
    let hour = 3_600_000_000;
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN p.occurred_at > $4 AND p.occurred_at <= $5 THEN 1 ELSE 0 END), 0) AS BIGINT) AS last_hour, \
         CAST(COALESCE(SUM(CASE WHEN p.occurred_at >= $6 AND p.occurred_at <= $5 THEN 1 ELSE 0 END), 0) AS BIGINT) AS orders, \
         CAST(COALESCE(SUM(CASE WHEN p.occurred_at >= $6 AND p.occurred_at <= $5 AND EXISTS (SELECT 1 FROM returns r WHERE r.tenant_id = p.tenant_id \
           AND r.program_id = p.program_id AND r.order_id = p.order_id) THEN 1 ELSE 0 END), 0) AS BIGINT) AS returned \
         FROM purchases p WHERE p.tenant_id = $1 AND p.program_id = $2 AND p.customer_id = $3 \
         AND p.occurred_at >= $7",
    )
    .bind(tenant)
    .bind(program)
    .bind(customer)
    .bind(at - hour)
    .bind(at)
    .bind(since)
    .bind((at - hour).min(since))
    .fetch_one(&mut *conn)
    .await?;
    Ok(History {
        last_hour: row.try_get("last_hour")?,
        orders: row.try_get("orders")?,
        returned: row.try_get("returned")?,
    })
}

/// Updates a purchase's eligible amount after a return.
pub async fn set_eligible(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
    eligible: i64,
) -> Result<(), AppError> {
    sqlx::query("UPDATE purchases SET eligible = $1 WHERE tenant_id = $2 AND program_id = $3 AND order_id = $4")
        .bind(eligible)
        .bind(tenant)
        .bind(program)
        .bind(order)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A stored reward.
#[derive(Clone, Debug)]
pub struct RewardRow {
    /// Number within the order.
    pub no: i64,
    /// The reward as computed.
    pub reward: Reward,
    /// Reversed so far.
    pub reversed: i64,
    /// Campaign budget reservation ("" without).
    pub reservation_id: String,
    /// When it becomes available.
    pub release_at: i64,
}

/// Inserts an order's rewards, in one statement.
pub async fn insert_rewards(
    conn: &mut Conn,
    backend: Backend,
    tenant: &str,
    program: &str,
    order: &str,
    rows: &[RewardRow],
) -> Result<(), AppError> {
    if rows.is_empty() {
        return Ok(());
    }
    let source = json_rows(
        backend,
        4,
        &[
            ("no", Col::Int),
            ("kind", Col::Text),
            ("asset", Col::Text),
            ("amount", Col::Int),
            ("earned", Col::Int),
            ("offer", Col::Text),
            ("reservation", Col::Text),
            ("explanations", Col::Text),
            ("release_at", Col::Int),
        ],
    );
    let sql = format!(
        "INSERT INTO rewards (tenant_id, program_id, order_id, reward_no, kind, asset, amount, earned, offer, \
         reservation_id, explanations, release_at) SELECT $1, $2, $3, r.no, r.kind, r.asset, r.amount, r.earned, \
         r.offer, r.reservation, r.explanations, r.release_at FROM {source}"
    );
    let json_rows = rows
        .iter()
        .map(|r| {
            Ok(serde_json::json!({
                "no": r.no,
                "kind": json(&r.reward.kind)?,
                "asset": r.reward.asset,
                "amount": r.reward.amount,
                "earned": r.reward.earned.max(r.reward.amount),
                "offer": json(&(&r.reward.offer, r.reward.valid_days))?,
                "reservation": r.reservation_id,
                "explanations": json(&r.reward.explanations)?,
                "release_at": r.release_at,
            }))
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    sqlx::query(&sql)
        .bind(tenant)
        .bind(program)
        .bind(order)
        .bind(json_param(&json_rows)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// An order's rewards.
pub async fn rewards(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
) -> Result<Vec<RewardRow>, AppError> {
    let rows = sqlx::query(
        "SELECT reward_no, kind, asset, amount, earned, reversed, offer, reservation_id, explanations, release_at FROM rewards \
         WHERE tenant_id = $1 AND program_id = $2 AND order_id = $3 ORDER BY reward_no",
    )
    .bind(tenant)
    .bind(program)
    .bind(order)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let (offer, valid_days) = parse(&r.try_get::<String, _>("offer")?)?;
            Ok(RewardRow {
                no: r.try_get("reward_no")?,
                reward: Reward {
                    kind: parse(&r.try_get::<String, _>("kind")?)?,
                    asset: r.try_get("asset")?,
                    amount: r.try_get("amount")?,
                    earned: r.try_get("earned")?,
                    offer,
                    valid_days,
                    explanations: parse(&r.try_get::<String, _>("explanations")?)?,
                },
                reversed: r.try_get("reversed")?,
                reservation_id: r.try_get("reservation_id")?,
                release_at: r.try_get("release_at")?,
            })
        })
        .collect()
}

/// Adds to a reward's reversed amount.
pub async fn add_reversed(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
    no: i64,
    amount: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE rewards SET reversed = reversed + $1 WHERE tenant_id = $2 AND program_id = $3 AND order_id = $4 AND reward_no = $5",
    )
    .bind(amount)
    .bind(tenant)
    .bind(program)
    .bind(order)
    .bind(no)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Units returned per line so far.
pub async fn returned(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
) -> Result<Vec<(String, std::collections::BTreeMap<String, u32>)>, AppError> {
    let rows = sqlx::query("SELECT return_id, lines FROM returns WHERE tenant_id = $1 AND program_id = $2 AND order_id = $3")
        .bind(tenant)
        .bind(program)
        .bind(order)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("return_id")?,
                parse(&r.try_get::<String, _>("lines")?)?,
            ))
        })
        .collect()
}

/// Records a return.
pub async fn insert_return(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
    return_id: &str,
    lines: &std::collections::BTreeMap<String, u32>,
    at: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO returns (tenant_id, program_id, order_id, return_id, lines, occurred_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(program)
    .bind(order)
    .bind(return_id)
    .bind(json(lines)?)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
