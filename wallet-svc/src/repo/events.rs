//! The durable event log behind WatchEvents: the wallet's own table (typed
//! columns, filtered by SQL indexes), with the ordering and visibility rules
//! of `common::events` (no gaps, no duplicates across commit reordering).
use boomerang_common::{
    db::{Conn, Db},
    error::AppError,
    events,
};
use sqlx::Row as _;

/// An event to append.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewEvent {
    /// Type name, e.g. "credited".
    pub kind: &'static str,
    /// Customer.
    pub customer: String,
    /// Asset.
    pub asset: String,
    /// Amount, minor units.
    pub amount: i64,
    /// Transaction, credit, hold or lot id.
    pub reference: String,
    /// Source kind.
    pub source_kind: String,
    /// Source reference.
    pub source_ref: String,
}

/// A stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Whose.
    pub tenant: String,
    /// Commit order.
    pub commit_order: i64,
    /// Sequence.
    pub seq: i64,
    /// The event.
    pub event: NewEvent,
    /// When.
    pub occurred_at: i64,
}

/// Appends an event in the caller's transaction.
pub async fn append(
    conn: &mut Conn,
    db: &Db,
    tenant: &str,
    e: &NewEvent,
    now: i64,
) -> Result<(), AppError> {
    let order = events::commit_order_sql(db.backend());
    let sql = format!(
        "INSERT INTO events (commit_order, tenant_id, type, customer_id, asset, amount, reference, \
         source_kind, source_ref, occurred_at) VALUES ({order}, $1, $2, $3, $4, $5, $6, $7, $8, $9)"
    );
    sqlx::query(&sql)
        .bind(tenant)
        .bind(e.kind)
        .bind(&e.customer)
        .bind(&e.asset)
        .bind(e.amount)
        .bind(&e.reference)
        .bind(&e.source_kind)
        .bind(&e.source_ref)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether an event of `kind` about `reference` was already written.
pub async fn exists(
    conn: &mut Conn,
    tenant: &str,
    kind: &str,
    reference: &str,
) -> Result<bool, AppError> {
    let row = sqlx::query(
        "SELECT 1 AS found FROM events WHERE tenant_id = $1 AND type = $2 AND reference = $3 LIMIT 1",
    )
    .bind(tenant)
    .bind(kind)
    .bind(reference)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.is_some())
}

/// Events of `tenant` (every tenant's when `None`: notify-svc delivers
/// them all) after `(commit_order, seq)`, oldest first, at most `limit`.
pub async fn after(
    db: &Db,
    tenant: Option<&str>,
    cursor: (i64, i64),
    limit: i64,
) -> Result<Vec<Event>, AppError> {
    let visible = events::visible_sql(db.backend());
    // One tenant's page walks events_tenant, every tenant's events_order.
    let whose = if tenant.is_some() {
        "tenant_id = $1"
    } else {
        "$1 = ''"
    };
    let sql = format!(
        "SELECT tenant_id, commit_order, seq, type, customer_id, asset, amount, reference, source_kind, source_ref, occurred_at \
         FROM events WHERE {whose} AND (commit_order > $2 OR (commit_order = $2 AND seq > $3)) {visible} \
         ORDER BY commit_order, seq LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(tenant.unwrap_or_default())
        .bind(cursor.0)
        .bind(cursor.1)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("type")?;
            Ok(Event {
                tenant: r.try_get("tenant_id")?,
                commit_order: r.try_get("commit_order")?,
                seq: r.try_get("seq")?,
                event: NewEvent {
                    kind: event_kind(&kind),
                    customer: r.try_get("customer_id")?,
                    asset: r.try_get("asset")?,
                    amount: r.try_get("amount")?,
                    reference: r.try_get("reference")?,
                    source_kind: r.try_get("source_kind")?,
                    source_ref: r.try_get("source_ref")?,
                },
                occurred_at: r.try_get("occurred_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Event type names, as stored.
pub const KINDS: &[&str] = &[
    "credited",
    "reward_available",
    "reversed",
    "hold_authorized",
    "hold_captured",
    "hold_released",
    "transferred",
    "expiring_soon",
    "expired",
    "transaction_posted",
];

fn event_kind(s: &str) -> &'static str {
    KINDS
        .iter()
        .find(|k| **k == s)
        .copied()
        .unwrap_or("unknown")
}
