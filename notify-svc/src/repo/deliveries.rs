//! Deliveries: an event on its way to one webhook, and the log of its
//! attempts. A delivery is claimed with a lease (`locked_until`), so a
//! crashed sender's deliveries are sent again once it lapses; only the
//! oldest pending delivery of a webhook's customer (its lane) is due, so a
//! customer's events arrive in order.
use boomerang_common::{
    db::{Conn, Db},
    error::AppError,
};
use sqlx::{Row as _, any::AnyRow};

/// A delivery to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery<'a> {
    /// Its tenant.
    pub tenant_id: &'a str,
    /// The webhook.
    pub webhook_id: &'a str,
    /// The CloudEvent id.
    pub event_id: &'a str,
    /// The CloudEvent type.
    pub event_type: &'a str,
    /// The customer ("" when none).
    pub subject: &'a str,
    /// The CloudEvent as sent.
    pub body: &'a str,
    /// When the event happened, unix micros.
    pub occurred_at: i64,
}

/// A stored delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRow {
    /// Its id.
    pub id: i64,
    /// Its tenant.
    pub tenant_id: String,
    /// The webhook.
    pub webhook_id: String,
    /// The CloudEvent id.
    pub event_id: String,
    /// The CloudEvent type.
    pub event_type: String,
    /// The customer.
    pub subject: String,
    /// The CloudEvent as sent.
    pub body: String,
    /// When the event happened, unix micros.
    pub occurred_at: i64,
    /// "pending", "delivered" or "dead".
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// When first attempted since queued or replayed (0: never).
    pub first_attempt_at: i64,
    /// Attempts before the last replay (the retry schedule starts again).
    pub replayed_after: i64,
    /// When next due.
    pub next_at: i64,
    /// When queued.
    pub created_at: i64,
    /// When delivered (0: not).
    pub delivered_at: i64,
}

/// One attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRow {
    /// Its delivery.
    pub delivery_id: i64,
    /// 1 for the first.
    pub n: i64,
    /// When it started, unix micros.
    pub at: i64,
    /// The receiver's status (0: none came).
    pub status_code: i64,
    /// Milliseconds until the answer.
    pub latency_ms: i64,
    /// What went wrong ("" when delivered).
    pub error: String,
}

/// What an attempt ends the delivery as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Delivered,
    /// Tried again at this instant.
    RetryAt(i64),
    /// Out of budget: parked.
    Dead,
}

const COLUMNS: &str = "id, tenant_id, webhook_id, event_id, event_type, subject, body, occurred_at, \
                       state, attempts, first_attempt_at, replayed_after, next_at, created_at, delivered_at";

fn row(r: &AnyRow) -> Result<DeliveryRow, sqlx::Error> {
    Ok(DeliveryRow {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        webhook_id: r.try_get("webhook_id")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        occurred_at: r.try_get("occurred_at")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        first_attempt_at: r.try_get("first_attempt_at")?,
        replayed_after: r.try_get("replayed_after")?,
        next_at: r.try_get("next_at")?,
        created_at: r.try_get("created_at")?,
        delivered_at: r.try_get("delivered_at")?,
    })
}

/// Queues a delivery, due now; a second queueing of the same event for the
/// same webhook (a source read again) is nothing.
pub async fn queue(conn: &mut Conn, d: &NewDelivery<'_>, now: i64) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO deliveries (tenant_id, webhook_id, event_id, event_type, subject, body, \
         occurred_at, state, next_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8) \
         ON CONFLICT (tenant_id, webhook_id, event_id) DO NOTHING",
    )
    .bind(d.tenant_id)
    .bind(d.webhook_id)
    .bind(d.event_id)
    .bind(d.event_type)
    .bind(d.subject)
    .bind(d.body)
    .bind(d.occurred_at)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Due deliveries of active webhooks, each the oldest pending one of its
/// lane (webhook and customer), oldest first, at most `limit` in all and
/// `per_webhook` of one webhook (a webhook with a backlog does not crowd
/// the others out); unclaimed.
/// The lanes' heads come first, from one grouped pass over the pending rows
/// (materialized, so no plan turns it into a pass per row), then their rows
/// by key.
pub async fn due(
    db: &Db,
    now: i64,
    limit: i64,
    per_webhook: i64,
) -> Result<Vec<DeliveryRow>, AppError> {
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("d.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = sqlx::query(&format!(
        "WITH h AS MATERIALIZED (SELECT MIN(id) AS head FROM deliveries WHERE state = 'pending' \
             GROUP BY tenant_id, webhook_id, subject), \
         r AS (SELECT d.id, ROW_NUMBER() OVER (PARTITION BY d.tenant_id, d.webhook_id \
                 ORDER BY d.next_at, d.id) AS n \
             FROM h JOIN deliveries d ON d.id = h.head \
             JOIN webhooks w ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id \
             WHERE d.next_at <= $1 AND d.locked_until < $1 AND w.state = 'active') \
         SELECT {cols} FROM r JOIN deliveries d ON d.id = r.id WHERE r.n <= $3 \
         ORDER BY d.next_at, d.id LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .bind(per_webhook)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
}

/// Claims `id` until `until` unless another sender holds it; whether it did.
pub async fn claim(conn: &mut Conn, id: i64, now: i64, until: i64) -> Result<bool, AppError> {
    let done = sqlx::query(
        "UPDATE deliveries SET locked_until = $3 WHERE id = $1 AND state = 'pending' \
         AND locked_until < $2 AND next_at <= $2",
    )
    .bind(id)
    .bind(now)
    .bind(until)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records attempt `a` and what it ends the delivery as, if the delivery
/// is still held by the claim that set `lease`; whether it was.
pub async fn attempted(
    conn: &mut Conn,
    a: &AttemptRow,
    outcome: Outcome,
    lease: i64,
) -> Result<bool, AppError> {
    let (state, next_at, delivered_at) = match outcome {
        Outcome::Delivered => ("delivered", 0, a.at),
        Outcome::RetryAt(at) => ("pending", at, 0),
        Outcome::Dead => ("dead", 0, 0),
    };
    let moved = sqlx::query(
        "UPDATE deliveries SET state = $2, next_at = $3, delivered_at = $4, attempts = $5, \
         first_attempt_at = CASE WHEN first_attempt_at = 0 THEN $6 ELSE first_attempt_at END, \
         locked_until = 0 WHERE id = $1 AND state = 'pending' AND locked_until = $7",
    )
    .bind(a.delivery_id)
    .bind(state)
    .bind(next_at)
    .bind(delivered_at)
    .bind(a.n)
    .bind(a.at)
    .bind(lease)
    .execute(&mut *conn)
    .await?;
    if moved.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO delivery_attempts (delivery_id, n, at, status_code, latency_ms, error) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (delivery_id, n) DO NOTHING",
    )
    .bind(a.delivery_id)
    .bind(a.n)
    .bind(a.at)
    .bind(a.status_code)
    .bind(a.latency_ms)
    .bind(&a.error)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// A webhook's deliveries (in `state` unless empty) before id `before`
/// (0: the newest), newest first, at most `limit`.
pub async fn list(
    conn: &mut Conn,
    tenant: &str,
    webhook: &str,
    state: &str,
    before: i64,
    limit: i64,
) -> Result<Vec<DeliveryRow>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM deliveries WHERE tenant_id = $1 AND webhook_id = $2 \
         AND ($3 = '' OR state = $3) AND ($4 = 0 OR id < $4) ORDER BY id DESC LIMIT $5"
    ))
    .bind(tenant)
    .bind(webhook)
    .bind(state)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
}

/// The latest attempts (at most `per` each) of `deliveries`, newest first.
pub async fn attempts(
    conn: &mut Conn,
    deliveries: &[i64],
    per: i64,
) -> Result<Vec<AttemptRow>, AppError> {
    let mut out = Vec::new();
    for id in deliveries {
        let rows = sqlx::query(
            "SELECT delivery_id, n, at, status_code, latency_ms, error FROM delivery_attempts \
             WHERE delivery_id = $1 ORDER BY n DESC LIMIT $2",
        )
        .bind(id)
        .bind(per)
        .fetch_all(&mut *conn)
        .await?;
        for r in &rows {
            out.push(AttemptRow {
                delivery_id: r.try_get("delivery_id")?,
                n: r.try_get("n")?,
                at: r.try_get("at")?,
                status_code: r.try_get("status_code")?,
                latency_ms: r.try_get("latency_ms")?,
                error: r.try_get("error")?,
            });
        }
    }
    Ok(out)
}

/// Queues dead letters of a webhook again with a fresh budget: those in
/// `ids`, or every one when `ids` is empty; how many.
pub async fn replay(
    conn: &mut Conn,
    tenant: &str,
    webhook: &str,
    ids: &[i64],
    now: i64,
) -> Result<u64, AppError> {
    let reset = "UPDATE deliveries SET state = 'pending', next_at = $3, first_attempt_at = 0, \
                 replayed_after = attempts, locked_until = 0 WHERE tenant_id = $1 AND webhook_id = $2 AND state = 'dead'";
    if ids.is_empty() {
        let done = sqlx::query(reset)
            .bind(tenant)
            .bind(webhook)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        return Ok(done.rows_affected());
    }
    let mut replayed = 0;
    for id in ids {
        let done = sqlx::query(&format!("{reset} AND id = $4"))
            .bind(tenant)
            .bind(webhook)
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        replayed += done.rows_affected();
    }
    Ok(replayed)
}

/// Dead letters in all (the metric).
pub async fn dead_letters(db: &Db) -> Result<i64, AppError> {
    let r = sqlx::query("SELECT COUNT(*) AS n FROM deliveries WHERE state = 'dead'")
        .fetch_one(db.pool())
        .await?;
    Ok(r.try_get("n")?)
}

/// Drops what a deleted webhook was not delivered yet.
pub async fn drop_pending(conn: &mut Conn, tenant: &str, webhook: &str) -> Result<(), AppError> {
    sqlx::query(
        "DELETE FROM deliveries WHERE tenant_id = $1 AND webhook_id = $2 AND state = 'pending'",
    )
    .bind(tenant)
    .bind(webhook)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
