//! The campaign report's SQL: budget figures, participants, figures per
//! variant, and what the rewarded orders brought in and cost.
use boomerang_common::{db::Db, error::AppError};
use sqlx::{Row as _, any::AnyRow};

use crate::{campaigns::Place, domain::report::Rewarded};

/// Budget figures of one asset: (total, reserved, confirmed, released).
pub async fn figures(
    db: &Db,
    tenant: &str,
    campaign: &str,
) -> Result<Vec<(String, i64, i64, i64, i64)>, AppError> {
    let rows = sqlx::query(
        "SELECT s.asset, CAST(SUM(s.capacity) AS BIGINT) AS total, CAST(SUM(s.reserved) AS BIGINT) AS reserved, \
                CAST(SUM(s.confirmed) AS BIGINT) AS confirmed, \
                CAST(COALESCE((SELECT SUM(r.released) FROM reservations r WHERE r.tenant_id = s.tenant_id \
                   AND r.campaign_id = s.campaign_id AND r.asset = s.asset), 0) AS BIGINT) AS released \
         FROM budget_slots s WHERE s.tenant_id = $1 AND s.campaign_id = $2 GROUP BY s.tenant_id, s.campaign_id, s.asset \
         ORDER BY s.asset",
    )
    .bind(tenant)
    .bind(campaign)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("asset")?,
                r.try_get("total")?,
                r.try_get("reserved")?,
                r.try_get("confirmed")?,
                r.try_get("released")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// The rows `sql` reads over ($1 tenant, $2 campaign, $3 from, $4 to).
async fn over_period(
    db: &Db,
    sql: &str,
    tenant: &str,
    campaign: &str,
    (from, to): (i64, i64),
) -> Result<Vec<AnyRow>, AppError> {
    Ok(sqlx::query(sql)
        .bind(tenant)
        .bind(campaign)
        .bind(from)
        .bind(to)
        .fetch_all(db.pool())
        .await?)
}

/// The count (`n`) `sql` reads over ($1 tenant, $2 campaign, $3 from, $4 to).
async fn count(
    db: &Db,
    sql: &str,
    tenant: &str,
    campaign: &str,
    period: (i64, i64),
) -> Result<i64, AppError> {
    let rows = over_period(db, sql, tenant, campaign, period).await?;
    Ok(rows
        .first()
        .map(|r| r.try_get("n"))
        .transpose()?
        .unwrap_or(0))
}

/// Per variant: (variant, asset, participants, reserved, confirmed, released).
pub async fn by_variant(
    db: &Db,
    tenant: &str,
    campaign: &str,
    (from, to): (i64, i64),
) -> Result<Vec<(String, String, i64, i64, i64, i64)>, AppError> {
    // Participants as the campaign counts them: granted and not wholly given
    // back, each customer once whatever the assets.
    let rows = over_period(
        db,
        "SELECT variant, asset, \
                CAST((SELECT COUNT(DISTINCT p.customer_id) FROM reservations p \
                      WHERE p.tenant_id = $1 AND p.campaign_id = $2 AND p.variant = r.variant \
                        AND p.granted > p.released AND p.status IN ('reserved', 'confirmed') \
                        AND p.created_at >= $3 AND p.created_at < $4) AS BIGINT) AS participants, \
                CAST(SUM(CASE WHEN status = 'reserved' THEN granted ELSE 0 END) AS BIGINT) AS reserved, \
                CAST(SUM(confirmed) AS BIGINT) AS confirmed, \
                CAST(SUM(released) AS BIGINT) AS released \
         FROM reservations r WHERE tenant_id = $1 AND campaign_id = $2 AND granted > 0 \
           AND created_at >= $3 AND created_at < $4 \
         GROUP BY variant, asset ORDER BY variant, asset",
        tenant,
        campaign,
        (from, to),
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("variant")?,
                r.try_get("asset")?,
                r.try_get("participants")?,
                r.try_get("reserved")?,
                r.try_get("confirmed")?,
                r.try_get("released")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Distinct customers with budget granted and not wholly given back.
pub async fn participants(
    db: &Db,
    tenant: &str,
    campaign: &str,
    (from, to): (i64, i64),
) -> Result<i64, AppError> {
    count(
        db,
        "SELECT CAST(COUNT(DISTINCT customer_id) AS BIGINT) AS n FROM reservations \
         WHERE tenant_id = $1 AND campaign_id = $2 AND granted > released AND status IN ('reserved', 'confirmed') \
           AND created_at >= $3 AND created_at < $4",
        tenant,
        campaign,
        (from, to),
    )
    .await
}

/// Confirmed reservations with an order currency, grouped per variant,
/// channel, store, currency, asset and unit value.
pub async fn rewarded(
    db: &Db,
    tenant: &str,
    campaign: &str,
    (from, to): (i64, i64),
) -> Result<Vec<Place>, AppError> {
    let rows = over_period(
        db,
        "SELECT variant, channel, store_id, order_currency, asset, unit_value, CAST(COUNT(*) AS BIGINT) AS orders, \
                CAST(SUM(order_amount) AS BIGINT) AS revenue, CAST(SUM(confirmed) AS BIGINT) AS confirmed \
         FROM reservations WHERE tenant_id = $1 AND campaign_id = $2 AND confirmed > 0 AND order_currency <> '' \
           AND created_at >= $3 AND created_at < $4 \
         GROUP BY variant, channel, store_id, order_currency, asset, unit_value \
         ORDER BY variant, channel, store_id, order_currency, asset, unit_value",
        tenant,
        campaign,
        (from, to),
    )
    .await?;
    rows.iter()
        .map(|r| {
            let rewarded = Rewarded {
                currency: r.try_get("order_currency")?,
                asset: r.try_get("asset")?,
                unit_value: r.try_get("unit_value")?,
                orders: r.try_get("orders")?,
                revenue: r.try_get("revenue")?,
                confirmed: r.try_get("confirmed")?,
            };
            Ok(Place {
                variant: r.try_get("variant")?,
                channel: r.try_get("channel")?,
                store: r.try_get("store_id")?,
                rewarded,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Orders rewarded: reservations confirmed and not wholly given back.
pub async fn rewarded_orders(
    db: &Db,
    tenant: &str,
    campaign: &str,
    (from, to): (i64, i64),
) -> Result<i64, AppError> {
    count(
        db,
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM reservations \
         WHERE tenant_id = $1 AND campaign_id = $2 AND confirmed > 0 AND created_at >= $3 AND created_at < $4",
        tenant,
        campaign,
        (from, to),
    )
    .await
}

/// Uses of the campaign's codes redeemed by orders in the period and not
/// given back.
pub async fn redemptions(
    db: &Db,
    tenant: &str,
    campaign: &str,
    (from, to): (i64, i64),
) -> Result<i64, AppError> {
    count(
        db,
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM coupon_redemptions r \
         JOIN coupons c ON c.tenant_id = r.tenant_id AND c.code = r.code \
         WHERE r.tenant_id = $1 AND c.campaign_id = $2 AND r.status = 'redeemed' \
           AND r.created_at >= $3 AND r.created_at < $4",
        tenant,
        campaign,
        (from, to),
    )
    .await
}
