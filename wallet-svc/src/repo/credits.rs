//! Credits and their lots.
use boomerang_common::{db::Conn, error::AppError};
use sqlx::{Row as _, any::AnyRow};

use crate::domain::{
    command::{Source, TaxTreatment},
    lot::{Lot, Take},
};

/// A credit as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditRow {
    /// Id (also its lot id).
    pub id: i64,
    /// Customer account.
    pub account_id: i64,
    /// Funding account it came from (reversals pay back there).
    pub funding_id: i64,
    /// Originally credited.
    pub amount: i64,
    /// Still pending.
    pub pending: i64,
    /// Released and unspent.
    pub remaining: i64,
    /// Reversed so far.
    pub reversed: i64,
    /// Expired to breakage.
    pub expired: i64,
    /// pending | available | expired.
    pub status: String,
    /// Release time.
    pub release_at: Option<i64>,
    /// Expiry time.
    pub expires_at: Option<i64>,
    /// Source kind.
    pub source_kind: String,
    /// Source reference.
    pub source_ref: String,
    /// Rule version.
    pub rule_version: String,
}

const COLUMNS: &str = "id, account_id, funding_id, amount, pending, remaining, reversed, expired, status, \
                       release_at, expires_at, source_kind, source_ref, rule_version";

fn from_row(r: &AnyRow) -> Result<CreditRow, sqlx::Error> {
    Ok(CreditRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        funding_id: r.try_get("funding_id")?,
        amount: r.try_get("amount")?,
        pending: r.try_get("pending")?,
        remaining: r.try_get("remaining")?,
        reversed: r.try_get("reversed")?,
        expired: r.try_get("expired")?,
        status: r.try_get("status")?,
        release_at: r.try_get("release_at")?,
        expires_at: r.try_get("expires_at")?,
        source_kind: r.try_get("source_kind")?,
        source_ref: r.try_get("source_ref")?,
        rule_version: r.try_get("rule_version")?,
    })
}

/// What a new credit is.
pub struct NewCredit<'a> {
    /// Customer account.
    pub account_id: i64,
    /// Funding account.
    pub funding_id: i64,
    /// The crediting transaction.
    pub transaction_id: i64,
    /// Amount.
    pub amount: i64,
    /// Pending (not yet released).
    pub pending: bool,
    /// Release time.
    pub release_at: Option<i64>,
    /// Expiry.
    pub expires_at: Option<i64>,
    /// Why.
    pub source: &'a Source,
    /// Labels as JSON.
    pub labels: String,
    /// Tax.
    pub tax: TaxTreatment,
}

/// Inserts a credit; returns its id.
pub async fn insert(
    conn: &mut Conn,
    tenant: &str,
    c: NewCredit<'_>,
    now: i64,
) -> Result<i64, AppError> {
    let (pending, remaining, status) = if c.pending {
        (c.amount, 0, "pending")
    } else {
        (0, c.amount, "available")
    };
    let row = sqlx::query(
        "INSERT INTO credits (tenant_id, account_id, funding_id, transaction_id, amount, pending, remaining, \
         status, release_at, expires_at, source_kind, source_ref, rule_version, labels, tax_treatment, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
    )
    .bind(tenant)
    .bind(c.account_id)
    .bind(c.funding_id)
    .bind(c.transaction_id)
    .bind(c.amount)
    .bind(pending)
    .bind(remaining)
    .bind(status)
    .bind(c.release_at)
    .bind(c.expires_at)
    .bind(&c.source.kind)
    .bind(&c.source.reference)
    .bind(&c.source.rule_version)
    .bind(c.labels)
    .bind(c.tax.as_str())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// A credit by id, within the tenant.
pub async fn get(conn: &mut Conn, tenant: &str, id: i64) -> Result<Option<CreditRow>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM credits WHERE tenant_id = $1 AND id = $2");
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// A customer account's credits with a source reference, oldest first.
pub async fn by_source(
    conn: &mut Conn,
    account_id: i64,
    source_ref: &str,
) -> Result<Vec<CreditRow>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM credits WHERE account_id = $1 AND source_ref = $2 ORDER BY id"
    );
    let rows = sqlx::query(&sql)
        .bind(account_id)
        .bind(source_ref)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Sets the release time of a held credit (held with no release time: set
/// once, guarded by `release_at IS NULL`). Scheduling metadata, not history.
pub async fn schedule_release(conn: &mut Conn, id: i64, at: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE credits SET release_at = $1 WHERE id = $2 AND release_at IS NULL")
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Spendable lots of an account: soonest-expiring first, then those that never expire.
pub async fn spendable(conn: &mut Conn, account_id: i64) -> Result<Vec<Lot>, AppError> {
    let rows = sqlx::query(
        "SELECT id, remaining FROM credits \
         WHERE account_id = $1 AND status = 'available' AND remaining > 0 \
         ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, id",
    )
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Lot {
                id: r.try_get("id")?,
                remaining: r.try_get("remaining")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Takes from lots; records the consumption under `transaction_id` when given.
pub async fn consume(
    conn: &mut Conn,
    takes: &[Take],
    transaction_id: Option<i64>,
) -> Result<(), AppError> {
    for t in takes {
        sqlx::query("UPDATE credits SET remaining = remaining - $1 WHERE id = $2")
            .bind(t.amount)
            .bind(t.id)
            .execute(&mut *conn)
            .await?;
    }
    match transaction_id {
        Some(tx) => record_consumption(conn, takes, tx).await,
        None => Ok(()),
    }
}

/// Gives back to lots what a hold had earmarked.
pub async fn restore(conn: &mut Conn, takes: &[Take]) -> Result<(), AppError> {
    for t in takes {
        sqlx::query("UPDATE credits SET remaining = remaining + $1 WHERE id = $2")
            .bind(t.amount)
            .bind(t.id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Records a reversal of `from_pending` and `from_available` on a credit.
pub async fn reverse(
    conn: &mut Conn,
    id: i64,
    from_pending: i64,
    from_available: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE credits SET pending = pending - $1, reversed = reversed + $2 WHERE id = $3",
    )
    .bind(from_pending)
    .bind(from_pending + from_available)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Releases a pending credit: its pending part becomes its spendable lot.
/// Returns the amount released (0 when already released).
pub async fn release(conn: &mut Conn, id: i64) -> Result<i64, AppError> {
    let row = sqlx::query(
        "UPDATE credits SET remaining = remaining + pending, pending = 0, status = 'available' \
         WHERE id = $1 AND status = 'pending' RETURNING remaining",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(r) => r.try_get("remaining")?,
        None => 0,
    })
}

/// Expires a lot's remainder; returns what expired (0 when nothing was left).
pub async fn expire(conn: &mut Conn, id: i64) -> Result<i64, AppError> {
    let row = sqlx::query(
        "SELECT remaining FROM credits WHERE id = $1 AND status <> 'pending' AND remaining > 0",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let remaining: i64 = match row {
        Some(r) => r.try_get("remaining")?,
        None => return Ok(0),
    };
    sqlx::query("UPDATE credits SET remaining = 0, expired = expired + remaining, status = 'expired' WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(remaining)
}

/// The assets of a customer's credits with a source reference.
pub async fn assets_by_source(
    conn: &mut Conn,
    tenant: &str,
    customer: &str,
    source_ref: &str,
) -> Result<Vec<String>, AppError> {
    let rows = sqlx::query(
        "SELECT DISTINCT a.asset FROM credits c JOIN accounts a ON a.id = c.account_id \
         WHERE a.tenant_id = $1 AND a.kind = 'customer' AND a.ref = $2 AND c.source_ref = $3 ORDER BY a.asset",
    )
    .bind(tenant)
    .bind(customer)
    .bind(source_ref)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| r.try_get("asset"))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Records that a transaction consumed lots already taken out of `remaining`
/// (a capture spending what its hold earmarked).
pub async fn record_consumption(
    conn: &mut Conn,
    takes: &[Take],
    transaction_id: i64,
) -> Result<(), AppError> {
    for t in takes {
        sqlx::query(
            "INSERT INTO lot_consumptions (transaction_id, credit_id, amount) VALUES ($1, $2, $3)",
        )
        .bind(transaction_id)
        .bind(t.id)
        .bind(t.amount)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
