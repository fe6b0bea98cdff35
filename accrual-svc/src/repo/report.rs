//! SQL of the program report.
use boomerang_common::{db::Db, error::AppError};
use sqlx::Row as _;

/// A program's figures over a period.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Members enrolled in the period.
    pub enrolled: i64,
    /// Members with a purchase in the period.
    pub active: i64,
    /// Of those, members with two or more.
    pub repeat: i64,
    /// Purchases.
    pub purchases: i64,
    /// Eligible revenue, minor units of the currency.
    pub revenue: i64,
    /// (asset, issued, reversed) of rewards on the period's purchases.
    pub rewards: Vec<(String, i64, i64)>,
    /// (orders, eligible total) of members' purchases in the period made since enrolment.
    pub since_enrolment: (i64, i64),
    /// (orders, eligible total) of the same members' purchases made before enrolment.
    pub before_enrolment: (i64, i64),
}

/// Figures of `program` for purchases and enrolments in `[from, to)`.
pub async fn report(
    db: &Db,
    tenant: &str,
    program: &str,
    from: i64,
    to: i64,
) -> Result<Report, AppError> {
    // Every figure is one row of a query over ($1 tenant, $2 program, $3 from, $4 to).
    let fetch = |sql: &'static str| async move {
        sqlx::query(sql)
            .bind(tenant)
            .bind(program)
            .bind(from)
            .bind(to)
            .fetch_one(db.pool())
            .await
    };
    let one = |sql| async move { Ok::<i64, AppError>(fetch(sql).await?.try_get("n")?) };
    // (orders, their eligible total)
    let pair = |sql| async move {
        let row = fetch(sql).await?;
        Ok::<(i64, i64), AppError>((row.try_get("n")?, row.try_get("total")?))
    };
    let rows = sqlx::query(
        "SELECT r.asset, CAST(SUM(r.amount) AS BIGINT) AS issued, CAST(SUM(r.reversed) AS BIGINT) AS reversed \
         FROM rewards r JOIN purchases p ON p.tenant_id = r.tenant_id AND p.program_id = r.program_id AND p.order_id = r.order_id \
         WHERE p.tenant_id = $1 AND p.program_id = $2 AND p.occurred_at >= $3 AND p.occurred_at < $4 GROUP BY r.asset ORDER BY r.asset",
    )
    .bind(tenant)
    .bind(program)
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?;
    Ok(Report {
        enrolled: one("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM members WHERE tenant_id = $1 AND program_id = $2 AND enrolled_at >= $3 AND enrolled_at < $4").await?,
        active: one("SELECT CAST(COUNT(DISTINCT customer_id) AS BIGINT) AS n FROM purchases WHERE tenant_id = $1 AND program_id = $2 AND occurred_at >= $3 AND occurred_at < $4 AND review <> 'rejected'").await?,
        repeat: one("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM (SELECT customer_id FROM purchases WHERE tenant_id = $1 AND program_id = $2 AND occurred_at >= $3 AND occurred_at < $4 AND review <> 'rejected' GROUP BY customer_id HAVING COUNT(*) > 1) repeaters").await?,
        purchases: one("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM purchases WHERE tenant_id = $1 AND program_id = $2 AND occurred_at >= $3 AND occurred_at < $4 AND review <> 'rejected'").await?,
        since_enrolment: pair("SELECT CAST(COUNT(*) AS BIGINT) AS n, CAST(COALESCE(SUM(p.eligible), 0) AS BIGINT) AS total FROM purchases p \
            JOIN members m ON m.tenant_id = p.tenant_id AND m.program_id = p.program_id AND m.customer_id = p.customer_id \
            WHERE p.tenant_id = $1 AND p.program_id = $2 AND p.occurred_at >= $3 AND p.occurred_at < $4 AND p.occurred_at >= m.enrolled_at").await?,
        before_enrolment: pair("SELECT CAST(COUNT(*) AS BIGINT) AS n, CAST(COALESCE(SUM(b.eligible), 0) AS BIGINT) AS total FROM purchases b \
            JOIN members m ON m.tenant_id = b.tenant_id AND m.program_id = b.program_id AND m.customer_id = b.customer_id \
            WHERE b.tenant_id = $1 AND b.program_id = $2 AND b.occurred_at < m.enrolled_at \
            AND EXISTS (SELECT 1 FROM purchases p WHERE p.tenant_id = b.tenant_id AND p.program_id = b.program_id \
              AND p.customer_id = b.customer_id AND p.occurred_at >= $3 AND p.occurred_at < $4 AND p.occurred_at >= m.enrolled_at)").await?,
        revenue: one("SELECT CAST(COALESCE(SUM(eligible), 0) AS BIGINT) AS n FROM purchases WHERE tenant_id = $1 AND program_id = $2 AND occurred_at >= $3 AND occurred_at < $4 AND review <> 'rejected'").await?,
        rewards: rows
            .iter()
            .map(|r| Ok((r.try_get("asset")?, r.try_get("issued")?, r.try_get("reversed")?)))
            .collect::<Result<_, sqlx::Error>>()?,
    })
}
