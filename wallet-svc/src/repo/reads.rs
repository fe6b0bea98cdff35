//! Reads: balances, statements, expiring lots. Outside write transactions.
use boomerang_common::{db::Db, error::AppError};
use sqlx::Row as _;

use crate::domain::{Balances, Layer};

/// A customer's balances per asset, now (stored) or as of an instant (summed).
pub async fn balances(
    db: &Db,
    tenant: &str,
    customer: &str,
    asset: Option<&str>,
    as_of: Option<i64>,
) -> Result<Vec<(String, Balances)>, AppError> {
    let accounts = sqlx::query(
        "SELECT id, asset, available, pending, held FROM accounts \
         WHERE tenant_id = $1 AND kind = 'customer' AND ref = $2 AND ($3 = '' OR asset = $3) ORDER BY asset",
    )
    .bind(tenant)
    .bind(customer)
    .bind(asset.unwrap_or(""))
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(accounts.len());
    for a in accounts {
        let asset: String = a.try_get("asset")?;
        let balances = match as_of {
            None => Balances {
                available: a.try_get("available")?,
                pending: a.try_get("pending")?,
                held: a.try_get("held")?,
            },
            Some(t) => summed(db, a.try_get("id")?, Some(t)).await?,
        };
        out.push((asset, balances));
    }
    Ok(out)
}

/// An account's balances summed from its postings (up to `as_of`, inclusive).
pub async fn summed(db: &Db, account_id: i64, as_of: Option<i64>) -> Result<Balances, AppError> {
    // SUM(bigint) is NUMERIC on PostgreSQL; cast back for the Any driver.
    let rows = sqlx::query(
        "SELECT layer, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM postings \
         WHERE account_id = $1 AND posted_at <= $2 GROUP BY layer",
    )
    .bind(account_id)
    .bind(as_of.unwrap_or(i64::MAX))
    .fetch_all(db.pool())
    .await?;
    let mut b = Balances::default();
    for r in rows {
        let layer: String = r.try_get("layer")?;
        if let Some(layer) = Layer::parse(&layer) {
            b.apply(layer, r.try_get("total")?)?;
        }
    }
    Ok(b)
}

/// One statement line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRow {
    /// Posting id (the page cursor).
    pub id: i64,
    /// Transaction id.
    pub transaction_id: i64,
    /// When.
    pub posted_at: i64,
    /// Layer.
    pub layer: String,
    /// Asset.
    pub asset: String,
    /// Signed amount.
    pub amount: i64,
    /// Layer balance after.
    pub balance_after: i64,
    /// Source kind.
    pub source_kind: String,
    /// Source reference.
    pub source_ref: String,
    /// Rule version.
    pub rule_version: String,
    /// Description.
    pub description: String,
}

/// Filters of a statement page.
#[derive(Clone, Debug, Default)]
pub struct EntryFilter<'a> {
    /// Asset or "".
    pub asset: &'a str,
    /// Layer or "".
    pub layer: &'a str,
    /// From (inclusive).
    pub from: Option<i64>,
    /// To (exclusive).
    pub to: Option<i64>,
    /// Posting ids below this (the page cursor); None for the first page.
    pub before_id: Option<i64>,
}

/// A customer's statement, newest first.
pub async fn entries(
    db: &Db,
    tenant: &str,
    customer: &str,
    f: &EntryFilter<'_>,
    limit: i64,
) -> Result<Vec<EntryRow>, AppError> {
    let rows = sqlx::query(
        "SELECT p.id, p.transaction_id, p.posted_at, p.layer, p.asset, p.amount, p.balance_after, \
                t.source_kind, t.source_ref, t.rule_version, t.description \
         FROM postings p JOIN accounts a ON a.id = p.account_id JOIN transactions t ON t.id = p.transaction_id \
         WHERE a.tenant_id = $1 AND a.kind = 'customer' AND a.ref = $2 \
           AND ($3 = '' OR p.asset = $3) AND ($4 = '' OR p.layer = $4) \
           AND p.posted_at >= $5 AND p.posted_at < $6 AND p.id < $7 \
         ORDER BY p.id DESC LIMIT $8",
    )
    .bind(tenant)
    .bind(customer)
    .bind(f.asset)
    .bind(f.layer)
    .bind(f.from.unwrap_or(i64::MIN))
    .bind(f.to.unwrap_or(i64::MAX))
    .bind(f.before_id.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(entry_row)
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// A page of statement lines of one customer (or every customer, `customer`
/// empty) posted in `[from, to)`, by customer account then oldest first,
/// after `after` (account id, posting id): (customer, line). Walks
/// `postings_account (account_id, id)`.
pub async fn statement_page(
    db: &Db,
    tenant: &str,
    (customer, asset): (&str, &str),
    (from, to): (i64, i64),
    after: (i64, i64),
    limit: i64,
) -> Result<Vec<(String, i64, EntryRow)>, AppError> {
    let rows = sqlx::query(
        "SELECT a.ref, p.account_id, p.id, p.transaction_id, p.posted_at, p.layer, p.asset, p.amount, p.balance_after, \
                t.source_kind, t.source_ref, t.rule_version, t.description \
         FROM postings p JOIN accounts a ON a.id = p.account_id JOIN transactions t ON t.id = p.transaction_id \
         WHERE p.tenant_id = $1 AND a.tenant_id = $1 AND a.kind = 'customer' AND ($2 = '' OR a.ref = $2) \
           AND ($3 = '' OR a.asset = $3) AND p.posted_at >= $4 AND p.posted_at < $5 \
           AND (p.account_id, p.id) > ($6, $7) \
         ORDER BY p.account_id, p.id LIMIT $8",
    )
    .bind(tenant)
    .bind(customer)
    .bind(asset)
    .bind(from)
    .bind(to)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("ref")?, r.try_get("account_id")?, entry_row(r)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

fn entry_row(r: &sqlx::any::AnyRow) -> Result<EntryRow, sqlx::Error> {
    Ok(EntryRow {
        id: r.try_get("id")?,
        transaction_id: r.try_get("transaction_id")?,
        posted_at: r.try_get("posted_at")?,
        layer: r.try_get("layer")?,
        asset: r.try_get("asset")?,
        amount: r.try_get("amount")?,
        balance_after: r
            .try_get::<Option<i64>, _>("balance_after")?
            .unwrap_or_default(),
        source_kind: r.try_get("source_kind")?,
        source_ref: r.try_get("source_ref")?,
        rule_version: r.try_get("rule_version")?,
        description: r.try_get("description")?,
    })
}

/// An expiring lot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LotRow {
    /// Credit id.
    pub id: i64,
    /// Asset.
    pub asset: String,
    /// Originally credited.
    pub amount: i64,
    /// Unspent.
    pub remaining: i64,
    /// Expiry.
    pub expires_at: i64,
}

/// A customer's lots with a remainder expiring before `until`, soonest first,
/// after the (expires_at, id) cursor.
pub async fn expiring_lots(
    db: &Db,
    tenant: &str,
    customer: &str,
    asset: &str,
    until: i64,
    after: (i64, i64),
    limit: i64,
) -> Result<Vec<LotRow>, AppError> {
    let rows = sqlx::query(
        "SELECT c.id, a.asset, c.amount, c.remaining, c.expires_at FROM credits c \
         JOIN accounts a ON a.id = c.account_id \
         WHERE a.tenant_id = $1 AND a.kind = 'customer' AND a.ref = $2 AND ($3 = '' OR a.asset = $3) \
           AND c.status = 'available' AND c.remaining > 0 AND c.expires_at IS NOT NULL AND c.expires_at <= $4 \
           AND (c.expires_at > $5 OR (c.expires_at = $5 AND c.id > $6)) \
         ORDER BY c.expires_at, c.id LIMIT $7",
    )
    .bind(tenant)
    .bind(customer)
    .bind(asset)
    .bind(until)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LotRow {
                id: r.try_get("id")?,
                asset: r.try_get("asset")?,
                amount: r.try_get("amount")?,
                remaining: r.try_get("remaining")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// What customers are owed, per tenant and asset, in minor units: (tenant,
/// asset, available, pending, held). For the liability gauges.
pub async fn liability(db: &Db) -> Result<Vec<(String, String, i64, i64, i64)>, AppError> {
    let rows = sqlx::query(
        // BIGINT casts: PostgreSQL sums BIGINTs as NUMERIC.
        "SELECT tenant_id, asset, CAST(SUM(available) AS BIGINT) AS available, \
         CAST(SUM(pending) AS BIGINT) AS pending, CAST(SUM(held) AS BIGINT) AS held \
         FROM accounts WHERE kind = 'customer' GROUP BY tenant_id, asset",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("tenant_id")?,
                r.try_get("asset")?,
                r.try_get("available")?,
                r.try_get("pending")?,
                r.try_get("held")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// The ages the liability is told by, days: `[from, to)`, the last open.
pub const AGES: [(u32, u32); 5] = [(0, 30), (30, 90), (90, 180), (180, 365), (365, 0)];

/// What the credits of one asset paid by a system account became, minor units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Funded {
    /// The asset.
    pub asset: String,
    /// Credited, reversed, pending, available, expired (what is none of
    /// those was redeemed).
    pub totals: [i64; 5],
    /// Pending plus available, by the credits' age now (see [`AGES`]).
    pub aging: [i64; 5],
}

/// What the credits paid by one system account (kind, id) in `[from, to)`
/// became, per asset, and their outstanding part by age at `now`.
pub async fn funding_summary(
    db: &Db,
    tenant: &str,
    funder: (&str, &str),
    (from, to): (i64, i64),
    now: i64,
) -> Result<Vec<Funded>, AppError> {
    const DAY: i64 = 86_400_000_000;
    // Credit made after $6 is younger than 30 days, after $7 than 90, ...
    let rows = sqlx::query(
        "SELECT f.asset, CAST(SUM(c.amount) AS BIGINT) AS credited, CAST(SUM(c.reversed) AS BIGINT) AS reversed, \
         CAST(SUM(c.pending) AS BIGINT) AS pending, CAST(SUM(c.remaining) AS BIGINT) AS available, \
         CAST(SUM(c.expired) AS BIGINT) AS expired, \
         CAST(SUM(CASE WHEN c.created_at > $6 THEN c.pending + c.remaining ELSE 0 END) AS BIGINT) AS a0, \
         CAST(SUM(CASE WHEN c.created_at <= $6 AND c.created_at > $7 THEN c.pending + c.remaining ELSE 0 END) AS BIGINT) AS a1, \
         CAST(SUM(CASE WHEN c.created_at <= $7 AND c.created_at > $8 THEN c.pending + c.remaining ELSE 0 END) AS BIGINT) AS a2, \
         CAST(SUM(CASE WHEN c.created_at <= $8 AND c.created_at > $9 THEN c.pending + c.remaining ELSE 0 END) AS BIGINT) AS a3, \
         CAST(SUM(CASE WHEN c.created_at <= $9 THEN c.pending + c.remaining ELSE 0 END) AS BIGINT) AS a4 \
         FROM credits c JOIN accounts f ON f.id = c.funding_id \
         WHERE c.tenant_id = $1 AND f.tenant_id = $1 AND f.kind = $2 AND f.ref = $3 \
         AND c.created_at >= $4 AND c.created_at < $5 GROUP BY f.asset ORDER BY f.asset",
    )
    .bind(tenant)
    .bind(funder.0)
    .bind(funder.1)
    .bind(from)
    .bind(to)
    .bind(now - 30 * DAY)
    .bind(now - 90 * DAY)
    .bind(now - 180 * DAY)
    .bind(now - 365 * DAY)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let get = |c: &str| r.try_get::<i64, _>(c);
            Ok(Funded {
                asset: r.try_get("asset")?,
                totals: [
                    get("credited")?,
                    get("reversed")?,
                    get("pending")?,
                    get("available")?,
                    get("expired")?,
                ],
                aging: [get("a0")?, get("a1")?, get("a2")?, get("a3")?, get("a4")?],
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}
