//! SQL for coupon batches: a campaign's batches of codes (their rules as
//! JSON), their generation's progress, and their figures summed over codes.
use boomerang_common::{
    db::{Conn, Db},
    error::AppError,
};
use sqlx::{Row as _, any::AnyRow};

/// A batch as stored.
#[derive(Clone, Debug)]
pub struct BatchRow {
    /// Campaign.
    pub campaign_id: String,
    /// Batch.
    pub batch_id: String,
    /// Rules, JSON.
    pub rules: String,
    /// Pattern, or "".
    pub pattern: String,
    /// Codes wanted.
    pub requested: i64,
    /// Codes made.
    pub created: i64,
    /// generating, ready, failed.
    pub state: String,
    /// When.
    pub created_at: i64,
}

fn batch(r: &AnyRow) -> Result<BatchRow, AppError> {
    Ok(BatchRow {
        campaign_id: r.try_get("campaign_id")?,
        batch_id: r.try_get("batch_id")?,
        rules: r.try_get("rules")?,
        pattern: r.try_get("pattern")?,
        requested: r.try_get("requested")?,
        created: r.try_get("created")?,
        state: r.try_get("state")?,
        created_at: r.try_get("created_at")?,
    })
}

const BATCH: &str = "campaign_id, batch_id, rules, pattern, requested, created, state, created_at";

/// Inserts a batch; false when the campaign has one of that id already.
pub async fn insert_batch(conn: &mut Conn, tenant: &str, b: &BatchRow) -> Result<bool, AppError> {
    let done = sqlx::query(
        "INSERT INTO coupon_batches (tenant_id, campaign_id, batch_id, rules, pattern, requested, created, state, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(&b.campaign_id)
    .bind(&b.batch_id)
    .bind(&b.rules)
    .bind(&b.pattern)
    .bind(b.requested)
    .bind(b.created)
    .bind(&b.state)
    .bind(b.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A batch.
pub async fn get_batch(
    conn: &mut Conn,
    tenant: &str,
    campaign: &str,
    batch_id: &str,
) -> Result<Option<BatchRow>, AppError> {
    let sql = format!(
        "SELECT {BATCH} FROM coupon_batches WHERE tenant_id = $1 AND campaign_id = $2 AND batch_id = $3"
    );
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(campaign)
        .bind(batch_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(batch).transpose()
}

/// Records a batch's progress.
pub async fn set_progress(conn: &mut Conn, tenant: &str, b: &BatchRow) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE coupon_batches SET created = $4, state = $5 WHERE tenant_id = $1 AND campaign_id = $2 AND batch_id = $3",
    )
    .bind(tenant)
    .bind(&b.campaign_id)
    .bind(&b.batch_id)
    .bind(b.created)
    .bind(&b.state)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Uses held and redeemed over a batch's codes, and codes redeemed at least
/// once ([`figures_between`] of the one batch).
pub async fn batch_figures(
    db: &Db,
    tenant: &str,
    campaign: &str,
    batch_id: &str,
) -> Result<(i64, i64, i64), AppError> {
    let figures = figures_between(db, tenant, campaign, (batch_id, batch_id)).await?;
    Ok(figures
        .into_iter()
        .next()
        .map(|(_, f)| f)
        .unwrap_or_default())
}

/// A page of a campaign's batches by batch id, after `after`.
pub async fn list_batches(
    db: &Db,
    tenant: &str,
    campaign: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<BatchRow>, AppError> {
    let sql = format!(
        "SELECT {BATCH} FROM coupon_batches WHERE tenant_id = $1 AND campaign_id = $2 AND batch_id > $3 \
         ORDER BY batch_id LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(tenant)
        .bind(campaign)
        .bind(after)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(batch).collect()
}

/// [`batch_figures`] of every batch of a campaign from `first` to `last`
/// (batch ids), in one read: (batch, figures), batches without codes left out.
pub async fn figures_between(
    db: &Db,
    tenant: &str,
    campaign: &str,
    (first, last): (&str, &str),
) -> Result<Vec<(String, (i64, i64, i64))>, AppError> {
    let rows = sqlx::query(
        "SELECT batch_id, CAST(COALESCE(SUM(reserved), 0) AS BIGINT) AS reserved, CAST(COALESCE(SUM(redeemed), 0) AS BIGINT) AS redeemed, \
                CAST(COALESCE(SUM(CASE WHEN redeemed > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS codes \
         FROM coupons WHERE tenant_id = $1 AND campaign_id = $2 AND batch_id >= $3 AND batch_id <= $4 GROUP BY batch_id",
    )
    .bind(tenant)
    .bind(campaign)
    .bind(first)
    .bind(last)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("batch_id")?,
                (
                    r.try_get("reserved")?,
                    r.try_get("redeemed")?,
                    r.try_get("codes")?,
                ),
            ))
        })
        .collect()
}
