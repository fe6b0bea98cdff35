//! Checkout holds.
use boomerang_common::{db::Conn, error::AppError};
use sqlx::Row as _;

use crate::domain::{hold::HoldStatus, lot::Take};

/// A hold as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldRow {
    /// Id.
    pub id: i64,
    /// Customer account.
    pub account_id: i64,
    /// Held.
    pub amount: i64,
    /// Captured.
    pub captured: i64,
    /// State.
    pub status: HoldStatus,
    /// Caller's reference.
    pub reference: String,
    /// Lapse time.
    pub expires_at: i64,
}

/// Inserts an authorized hold; returns its id.
pub async fn insert(
    conn: &mut Conn,
    tenant: &str,
    account_id: i64,
    amount: i64,
    reference: &str,
    expires_at: i64,
    now: i64,
) -> Result<i64, AppError> {
    let row = sqlx::query(
        "INSERT INTO holds (tenant_id, account_id, amount, status, reference, expires_at, created_at) \
         VALUES ($1, $2, $3, 'authorized', $4, $5, $6) RETURNING id",
    )
    .bind(tenant)
    .bind(account_id)
    .bind(amount)
    .bind(reference)
    .bind(expires_at)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// A hold by id, within the tenant.
pub async fn get(conn: &mut Conn, tenant: &str, id: i64) -> Result<Option<HoldRow>, AppError> {
    let row = sqlx::query(
        "SELECT id, account_id, amount, captured, status, reference, expires_at FROM holds \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let status: String = r.try_get("status")?;
    Ok(Some(HoldRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        amount: r.try_get("amount")?,
        captured: r.try_get("captured")?,
        status: HoldStatus::parse(&status)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("hold status {status}")))?,
        reference: r.try_get("reference")?,
        expires_at: r.try_get("expires_at")?,
    }))
}

/// Moves a hold to its final state.
pub async fn finish(
    conn: &mut Conn,
    id: i64,
    status: HoldStatus,
    captured: i64,
) -> Result<(), AppError> {
    sqlx::query("UPDATE holds SET status = $1, captured = $2 WHERE id = $3")
        .bind(status.as_str())
        .bind(captured)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records the lots a hold earmarked.
pub async fn earmark(conn: &mut Conn, hold_id: i64, takes: &[Take]) -> Result<(), AppError> {
    for t in takes {
        sqlx::query("INSERT INTO hold_lots (hold_id, credit_id, amount) VALUES ($1, $2, $3)")
            .bind(hold_id)
            .bind(t.id)
            .bind(t.amount)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The lots a hold earmarked, in the order they were taken.
pub async fn earmarked(conn: &mut Conn, hold_id: i64) -> Result<Vec<Take>, AppError> {
    let rows = sqlx::query(
        "SELECT h.credit_id, h.amount FROM hold_lots h JOIN credits c ON c.id = h.credit_id \
         WHERE h.hold_id = $1 ORDER BY CASE WHEN c.expires_at IS NULL THEN 1 ELSE 0 END, c.expires_at, c.id",
    )
    .bind(hold_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Take {
                id: r.try_get("credit_id")?,
                amount: r.try_get("amount")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}
