//! SQL of the program report.
use boomerang_common::{db::Db, error::AppError};
use sqlx::Row as _;

use crate::domain::rewards::Offer;

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

/// The rows `sql` reads over ($1 tenant, $2 program, $3 from, $4 to).
async fn over_period(
    db: &Db,
    sql: &str,
    tenant: &str,
    program: &str,
    (from, to): (i64, i64),
) -> Result<Vec<sqlx::any::AnyRow>, AppError> {
    Ok(sqlx::query(sql)
        .bind(tenant)
        .bind(program)
        .bind(from)
        .bind(to)
        .fetch_all(db.pool())
        .await?)
}

/// Members who bought in more than one channel in `[from, to)`, and per
/// channel: (channel, purchases, members, eligible revenue).
pub async fn channels(
    db: &Db,
    tenant: &str,
    program: &str,
    from: i64,
    to: i64,
) -> Result<(i64, Vec<(String, i64, i64, i64)>), AppError> {
    const PERIOD: &str = "tenant_id = $1 AND program_id = $2 AND occurred_at >= $3 AND occurred_at < $4 \
                          AND review <> 'rejected' AND channel <> ''";
    let omni_sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM (SELECT customer_id FROM purchases WHERE {PERIOD} \
         GROUP BY customer_id HAVING COUNT(DISTINCT channel) > 1) omni"
    );
    let omni = over_period(db, &omni_sql, tenant, program, (from, to)).await?;
    let omni = omni
        .first()
        .map(|r| r.try_get("n"))
        .transpose()?
        .unwrap_or(0);
    let per_sql = format!(
        "SELECT channel, CAST(COUNT(*) AS BIGINT) AS purchases, CAST(COUNT(DISTINCT customer_id) AS BIGINT) AS members, \
                CAST(COALESCE(SUM(eligible), 0) AS BIGINT) AS revenue \
         FROM purchases WHERE {PERIOD} GROUP BY channel ORDER BY channel"
    );
    let rows = over_period(db, &per_sql, tenant, program, (from, to)).await?;
    let per = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get("channel")?,
                r.try_get("purchases")?,
                r.try_get("members")?,
                r.try_get("revenue")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((omni, per))
}

/// Members whose first purchase in `[from, to)` was followed by another
/// within `within` microseconds (the later one may fall after `to`).
pub async fn came_back(
    db: &Db,
    tenant: &str,
    program: &str,
    (from, to): (i64, i64),
    within: i64,
) -> Result<i64, AppError> {
    let row = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM \
           (SELECT customer_id, MIN(occurred_at) AS first FROM purchases \
            WHERE tenant_id = $1 AND program_id = $2 AND occurred_at >= $3 AND occurred_at < $4 AND review <> 'rejected' \
            GROUP BY customer_id) f \
         WHERE EXISTS (SELECT 1 FROM purchases p WHERE p.tenant_id = $1 AND p.program_id = $2 \
           AND p.customer_id = f.customer_id AND p.review <> 'rejected' \
           AND p.occurred_at > f.first AND p.occurred_at <= f.first + $5)",
    )
    .bind(tenant)
    .bind(program)
    .bind(from)
    .bind(to)
    .bind(within)
    .fetch_one(db.pool())
    .await?;
    Ok(row.try_get("n")?)
}

/// What the members of one stored tier brought in over their history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TierValue {
    /// Tier id as stored (none: never judged, or a row from before ids).
    pub stored: Option<String>,
    /// The legacy tier index of rows from before ids.
    pub legacy: Option<i64>,
    /// Members enrolled before `to`.
    pub members: i64,
    /// Their purchases before `to`.
    pub purchases: i64,
    /// Eligible amount of those, minor units.
    pub revenue: i64,
    /// Their rewards in the currency, net of reversals.
    pub cost: i64,
}

/// Per stored tier: the members enrolled before `to`, and
/// their purchases before `to` (not rejected) with the rewards in
/// `currency` they kept.
pub async fn tier_values(
    db: &Db,
    tenant: &str,
    program: &str,
    currency: &str,
    to: i64,
) -> Result<Vec<TierValue>, AppError> {
    let rows = sqlx::query(
        "SELECT m.tier_id, CAST(m.tier AS BIGINT) AS legacy, CAST(COUNT(*) AS BIGINT) AS members, \
                CAST(COALESCE(SUM(s.orders), 0) AS BIGINT) AS purchases, \
                CAST(COALESCE(SUM(s.revenue), 0) AS BIGINT) AS revenue, \
                CAST(COALESCE(SUM(s.cost), 0) AS BIGINT) AS cost \
         FROM members m LEFT JOIN ( \
           SELECT p.customer_id, COUNT(*) AS orders, SUM(p.eligible) AS revenue, \
                  SUM((SELECT COALESCE(SUM(r.amount - r.reversed), 0) FROM rewards r \
                       WHERE r.tenant_id = p.tenant_id AND r.program_id = p.program_id \
                         AND r.order_id = p.order_id AND r.asset = $4)) AS cost \
           FROM purchases p WHERE p.tenant_id = $1 AND p.program_id = $2 AND p.occurred_at < $3 \
             AND p.review <> 'rejected' GROUP BY p.customer_id \
         ) s ON s.customer_id = m.customer_id \
         WHERE m.tenant_id = $1 AND m.program_id = $2 AND m.enrolled_at < $3 \
         GROUP BY m.tier_id, m.tier",
    )
    .bind(tenant)
    .bind(program)
    .bind(to)
    .bind(currency)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TierValue {
                stored: r.try_get("tier_id")?,
                legacy: r.try_get("legacy")?,
                members: r.try_get("members")?,
                purchases: r.try_get("purchases")?,
                revenue: r.try_get("revenue")?,
                cost: r.try_get("cost")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// A cohort: members enrolled in `[from, to)`, and of them how many bought
/// in each of the `windows` (`[start, end)`, up to four).
pub async fn cohort(
    db: &Db,
    tenant: &str,
    program: &str,
    (from, to): (i64, i64),
    windows: &[(i64, i64)],
) -> Result<(i64, Vec<i64>), AppError> {
    let bought = |i: usize| {
        format!(
            "CAST(COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM purchases p WHERE p.tenant_id = m.tenant_id \
               AND p.program_id = m.program_id AND p.customer_id = m.customer_id AND p.review <> 'rejected' \
               AND p.occurred_at >= ${a} AND p.occurred_at < ${b}) THEN 1 ELSE 0 END), 0) AS BIGINT) AS w{i}",
            a = 5 + 2 * i,
            b = 6 + 2 * i
        )
    };
    let columns: Vec<String> = (0..windows.len()).map(bought).collect();
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n{}{} FROM members m \
         WHERE m.tenant_id = $1 AND m.program_id = $2 AND m.enrolled_at >= $3 AND m.enrolled_at < $4",
        if columns.is_empty() { "" } else { ", " },
        columns.join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(tenant)
        .bind(program)
        .bind(from)
        .bind(to);
    for (start, end) in windows {
        q = q.bind(*start).bind(*end);
    }
    let row = q.fetch_one(db.pool()).await?;
    let buying = (0..windows.len())
        .map(|i| row.try_get(format!("w{i}").as_str()))
        .collect::<Result<_, _>>()?;
    Ok((row.try_get("n")?, buying))
}

/// The tax report's sums per channel and store, over `[from, to)`:
/// (channel, store, purchases, eligible revenue) and (channel, store,
/// asset, rewards credited net of reversals, vouchers left out).
pub type TaxSums = (
    Vec<(String, String, i64, i64)>,
    Vec<(String, String, String, i64)>,
);

/// Sums of the tax report (see [`TaxSums`]).
pub async fn tax(
    db: &Db,
    tenant: &str,
    program: &str,
    from: i64,
    to: i64,
) -> Result<TaxSums, AppError> {
    let sales = over_period(
        db,
        "SELECT channel, store_id, CAST(COUNT(*) AS BIGINT) AS purchases, \
                CAST(COALESCE(SUM(eligible), 0) AS BIGINT) AS revenue FROM purchases \
         WHERE tenant_id = $1 AND program_id = $2 AND occurred_at >= $3 AND occurred_at < $4 AND review <> 'rejected' \
         GROUP BY channel, store_id",
        tenant,
        program,
        (from, to),
    )
    .await?;
    let rewards = over_period(
        db,
        "SELECT p.channel, p.store_id, r.asset, CAST(COALESCE(SUM(r.amount - r.reversed), 0) AS BIGINT) AS kept \
         FROM rewards r JOIN purchases p ON p.tenant_id = r.tenant_id AND p.program_id = r.program_id AND p.order_id = r.order_id \
         WHERE p.tenant_id = $1 AND p.program_id = $2 AND p.occurred_at >= $3 AND p.occurred_at < $4 \
           AND p.review <> 'rejected' AND r.kind NOT LIKE '%voucher%' \
         GROUP BY p.channel, p.store_id, r.asset",
        tenant,
        program,
        (from, to),
    )
    .await?;
    let sales = sales
        .iter()
        .map(|r| {
            Ok((
                r.try_get("channel")?,
                r.try_get("store_id")?,
                r.try_get("purchases")?,
                r.try_get("revenue")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    let rewards = rewards
        .iter()
        .map(|r| {
            Ok((
                r.try_get("channel")?,
                r.try_get("store_id")?,
                r.try_get("asset")?,
                r.try_get("kept")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((sales, rewards))
}

/// A reward as exported, with its purchase's facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedReward {
    /// Order.
    pub order_id: String,
    /// Reward number within the order.
    pub no: i64,
    /// Buyer.
    pub customer_id: String,
    /// When the purchase happened.
    pub occurred_at: i64,
    /// Channel.
    pub channel: String,
    /// Store.
    pub store_id: String,
    /// Kind ("base", "campaign", "voucher", "voucher_code").
    pub kind: String,
    /// The campaign that gave it ("" for the program's own rules).
    pub campaign_id: String,
    /// Asset.
    pub asset: String,
    /// Credited.
    pub amount: i64,
    /// Reversed so far.
    pub reversed: i64,
}

/// A page of the rewards of purchases in `[from, to)`, in (occurred_at,
/// order, reward) order, after `after`.
pub async fn rewards_page(
    db: &Db,
    tenant: &str,
    program: &str,
    (from, to): (i64, i64),
    after: Option<(i64, String, i64)>,
    limit: i64,
) -> Result<Vec<ExportedReward>, AppError> {
    let (at, order, no) = after.unwrap_or((i64::MIN, String::new(), -1));
    let rows = sqlx::query(
        "SELECT p.order_id, r.reward_no, p.customer_id, p.occurred_at, p.channel, p.store_id, r.kind, r.offer, \
                r.asset, r.amount, r.reversed \
         FROM purchases p JOIN rewards r ON r.tenant_id = p.tenant_id AND r.program_id = p.program_id AND r.order_id = p.order_id \
         WHERE p.tenant_id = $1 AND p.program_id = $2 AND p.occurred_at >= $3 AND p.occurred_at < $4 AND p.review <> 'rejected' \
           AND (p.occurred_at > $5 OR (p.occurred_at = $5 AND (p.order_id > $6 OR (p.order_id = $6 AND r.reward_no > $7)))) \
         ORDER BY p.occurred_at, p.order_id, r.reward_no LIMIT $8",
    )
    .bind(tenant)
    .bind(program)
    .bind(from)
    .bind(to)
    .bind(at)
    .bind(order)
    .bind(no)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ExportedReward {
                order_id: r.try_get("order_id")?,
                no: r.try_get("reward_no")?,
                customer_id: r.try_get("customer_id")?,
                occurred_at: r.try_get("occurred_at")?,
                channel: r.try_get("channel")?,
                store_id: r.try_get("store_id")?,
                kind: r.try_get::<String, _>("kind")?.trim_matches('"').to_owned(),
                campaign_id: super::parse::<(Option<Offer>, Option<u32>)>(
                    &r.try_get::<String, _>("offer")?,
                )?
                .0
                .map(|o| o.campaign_id)
                .unwrap_or_default(),
                asset: r.try_get("asset")?,
                amount: r.try_get("amount")?,
                reversed: r.try_get("reversed")?,
            })
        })
        .collect()
}
