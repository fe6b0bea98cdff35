//! SQL of experiments: exposures, written in the purchase's transaction, and
//! what the report reads of them.
use boomerang_common::{
    db::{Conn, Db},
    error::AppError,
};
use sqlx::Row as _;

use crate::domain::experiment::Exposure;

/// The purchase a customer was exposed at.
pub struct Seen<'a> {
    /// Program.
    pub program: &'a str,
    /// Customer.
    pub customer: &'a str,
    /// Order.
    pub order: &'a str,
    /// When it occurred (unix micros).
    pub at: i64,
}

/// Records the customer's exposure to each campaign of `exposures`, keeping
/// the first: a purchase recorded late but made earlier takes the place of
/// a later one.
pub async fn expose(
    conn: &mut Conn,
    tenant: &str,
    seen: &Seen<'_>,
    exposures: &[Exposure],
) -> Result<(), AppError> {
    for e in exposures {
        sqlx::query(
            "INSERT INTO exposures (tenant_id, program_id, campaign_id, customer_id, variant, rewarded, order_id, occurred_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (tenant_id, program_id, campaign_id, customer_id) DO UPDATE \
             SET variant = excluded.variant, rewarded = excluded.rewarded, order_id = excluded.order_id, \
                 occurred_at = excluded.occurred_at \
             WHERE excluded.occurred_at < exposures.occurred_at",
        )
        .bind(tenant)
        .bind(seen.program)
        .bind(&e.campaign_id)
        .bind(seen.customer)
        .bind(&e.variant)
        .bind(i64::from(e.rewarded))
        .bind(seen.order)
        .bind(seen.at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A customer exposed, and what they bought in the window after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exposed {
    /// Their arm.
    pub variant: String,
    /// Whether it rewards.
    pub rewarded: bool,
    /// When they were exposed (unix micros).
    pub at: i64,
    /// Purchases after the exposing one, within the window, with an
    /// eligible amount left.
    pub later: i64,
    /// Eligible amount of their purchases in the window, the exposing one
    /// included, minor units.
    pub revenue: i64,
}

/// The customers exposed to `campaign` in `[from, to)` by a purchase not
/// rejected at review, each with their purchases (not rejected) in
/// `[exposed, exposed + within)`; "later" counts those after the exposing
/// one that kept an eligible amount (not wholly returned).
pub async fn exposed(
    db: &Db,
    tenant: &str,
    (program, campaign): (&str, &str),
    (from, to): (i64, i64),
    within: i64,
) -> Result<Vec<Exposed>, AppError> {
    let rows = sqlx::query(
        "SELECT e.variant, e.rewarded, e.occurred_at, \
                CAST(COUNT(CASE WHEN p.occurred_at > e.occurred_at AND p.eligible > 0 THEN 1 END) AS BIGINT) AS later, \
                CAST(COALESCE(SUM(p.eligible), 0) AS BIGINT) AS revenue \
         FROM exposures e \
         JOIN purchases x ON x.tenant_id = e.tenant_id AND x.program_id = e.program_id \
           AND x.order_id = e.order_id AND x.review <> 'rejected' \
         LEFT JOIN purchases p ON p.tenant_id = e.tenant_id AND p.program_id = e.program_id \
           AND p.customer_id = e.customer_id AND p.occurred_at >= e.occurred_at \
           AND p.occurred_at < e.occurred_at + $6 AND p.review <> 'rejected' \
         WHERE e.tenant_id = $1 AND e.program_id = $2 AND e.campaign_id = $3 \
           AND e.occurred_at >= $4 AND e.occurred_at < $5 \
         GROUP BY e.customer_id, e.variant, e.rewarded, e.occurred_at",
    )
    .bind(tenant)
    .bind(program)
    .bind(campaign)
    .bind(from)
    .bind(to)
    .bind(within)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Exposed {
                variant: r.try_get("variant")?,
                rewarded: r.try_get::<i64, _>("rewarded")? != 0,
                at: r.try_get("occurred_at")?,
                later: r.try_get("later")?,
                revenue: r.try_get("revenue")?,
            })
        })
        .collect()
}
