//! SQL of guest purchases (customers who are not members) and the program
//! report's members-against-guests sums.
use boomerang_common::{
    db::{Conn, Db},
    error::AppError,
};
use sqlx::Row as _;

/// A guest purchase as stored.
pub struct NewGuestPurchase<'a> {
    /// Program.
    pub program: &'a str,
    /// Order.
    pub order_id: &'a str,
    /// The shopper.
    pub customer: &'a str,
    /// Hash of the request that recorded it.
    pub request_hash: &'a [u8],
    /// Eligible amount, minor units.
    pub eligible: i64,
    /// Channel ("online", "store", "app").
    pub channel: &'a str,
    /// Store.
    pub store: &'a str,
    /// When it occurred (unix micros).
    pub occurred_at: i64,
}

/// Inserts a guest purchase; false when the order was recorded already
/// (concurrently: the caller reads it again).
pub async fn insert_guest(
    conn: &mut Conn,
    tenant: &str,
    g: &NewGuestPurchase<'_>,
    now: i64,
) -> Result<bool, AppError> {
    let inserted = sqlx::query(
        "INSERT INTO guest_purchases (tenant_id, program_id, order_id, customer_id, request_hash, eligible, \
         channel, store_id, occurred_at, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(g.program)
    .bind(g.order_id)
    .bind(g.customer)
    .bind(g.request_hash)
    .bind(g.eligible)
    .bind(g.channel)
    .bind(g.store)
    .bind(g.occurred_at)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// A guest order as stored: (request hash, eligible).
pub async fn guest_order(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
) -> Result<Option<(Vec<u8>, i64)>, AppError> {
    let row = sqlx::query(
        "SELECT request_hash, eligible FROM guest_purchases WHERE tenant_id = $1 AND program_id = $2 AND order_id = $3",
    )
    .bind(tenant)
    .bind(program)
    .bind(order)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| Ok((r.try_get("request_hash")?, r.try_get("eligible")?)))
        .transpose()
}

/// Shoppers of one kind over a period: (customers, purchases, eligible revenue).
pub type Spent = (i64, i64, i64);

/// Members' purchases (recorded, not rejected) and guests' purchases made
/// while not a member, in `[from, to)`: (members, guests).
pub async fn spent(
    db: &Db,
    tenant: &str,
    program: &str,
    (from, to): (i64, i64),
) -> Result<(Spent, Spent), AppError> {
    let sums = |table: &str, extra: &str| {
        format!(
            "SELECT CAST(COUNT(DISTINCT customer_id) AS BIGINT) AS customers, CAST(COUNT(*) AS BIGINT) AS purchases, \
             CAST(COALESCE(SUM(eligible), 0) AS BIGINT) AS revenue FROM {table} \
             WHERE tenant_id = $1 AND program_id = $2 AND occurred_at >= $3 AND occurred_at < $4{extra}"
        )
    };
    let mut out = [(0, 0, 0); 2];
    for (i, sql) in [
        sums("purchases", " AND review <> 'rejected'"),
        sums(
            "guest_purchases g",
            " AND NOT EXISTS (SELECT 1 FROM members m WHERE m.tenant_id = g.tenant_id \
              AND m.program_id = g.program_id AND m.customer_id = g.customer_id AND m.enrolled_at <= g.occurred_at)",
        ),
    ]
    .iter()
    .enumerate()
    {
        let row = sqlx::query(sql)
            .bind(tenant)
            .bind(program)
            .bind(from)
            .bind(to)
            .fetch_one(db.pool())
            .await?;
        out[i] = (
            row.try_get("customers")?,
            row.try_get("purchases")?,
            row.try_get("revenue")?,
        );
    }
    Ok((out[0], out[1]))
}
