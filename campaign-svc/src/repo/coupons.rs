//! SQL for coupon batches, codes, per-customer use and redemptions.
//!
//! A use is counted by one conditional update of the code's row (and of the
//! customer's row under a per-customer limit), so no code is used past its
//! limits whatever the concurrency. Locks in one order: redemption, customer
//! use, code.
use boomerang_common::{
    db::{Conn, Db},
    error::AppError,
};
use sqlx::{Row as _, any::AnyRow};

/// Rows one multi-row insert of codes writes.
const CODES_PER_INSERT: usize = 500;

/// Those of `codes` the tenant has already (in any campaign).
pub async fn taken_codes(
    conn: &mut Conn,
    tenant: &str,
    codes: &[String],
) -> Result<Vec<String>, AppError> {
    let mut taken = Vec::new();
    for chunk in codes.chunks(CODES_PER_INSERT) {
        let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT code FROM coupons WHERE tenant_id = $1 AND code IN ({})",
            list.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(tenant);
        for code in chunk {
            q = q.bind(code);
        }
        for row in q.fetch_all(&mut *conn).await? {
            taken.push(row.try_get("code")?);
        }
    }
    Ok(taken)
}

/// What every code of a batch gets.
#[derive(Clone, Copy, Debug)]
pub struct NewCodes<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Campaign.
    pub campaign: &'a str,
    /// Batch.
    pub batch: &'a str,
    /// Uses in all; 0 unlimited.
    pub max_uses: i64,
    /// Uses per customer; 0 unlimited.
    pub per_customer: i64,
    /// When.
    pub now: i64,
}

/// Inserts the codes that are new to the tenant, (code, customer) each, in
/// multi-row statements; returns the codes inserted.
pub async fn insert_codes(
    conn: &mut Conn,
    n: NewCodes<'_>,
    codes: &[(String, String)],
) -> Result<Vec<String>, AppError> {
    let mut inserted = Vec::with_capacity(codes.len());
    for chunk in codes.chunks(CODES_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = 7 + 2 * i;
                format!("($1, ${}, $2, $3, ${}, $4, $5, $6)", b, b + 1)
            })
            .collect();
        let sql = format!(
            "INSERT INTO coupons (tenant_id, code, campaign_id, batch_id, customer_id, max_uses, per_customer, created_at) \
             VALUES {} ON CONFLICT DO NOTHING RETURNING code",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql)
            .bind(n.tenant)
            .bind(n.campaign)
            .bind(n.batch)
            .bind(n.max_uses)
            .bind(n.per_customer)
            .bind(n.now);
        for (code, customer) in chunk {
            q = q.bind(code).bind(customer);
        }
        for row in q.fetch_all(&mut *conn).await? {
            inserted.push(row.try_get("code")?);
        }
    }
    Ok(inserted)
}

/// A code as stored, with its batch's rules.
#[derive(Clone, Debug)]
pub struct CouponRow {
    /// Code.
    pub code: String,
    /// Campaign.
    pub campaign_id: String,
    /// Batch.
    pub batch_id: String,
    /// Assigned customer or "".
    pub customer_id: String,
    /// Uses held.
    pub reserved: i64,
    /// Uses redeemed.
    pub redeemed: i64,
    /// Its rules, JSON: a voucher's own, else its batch's.
    pub rules: String,
    /// What earned a voucher; "" for a batch's code.
    pub reference: String,
    /// When a voucher was voided.
    pub voided_at: Option<i64>,
}

impl CouponRow {
    /// A voucher: its own validity governs, whether or not its campaign still runs.
    pub fn is_voucher(&self) -> bool {
        !self.reference.is_empty()
    }
}

fn coupon(r: &AnyRow) -> Result<CouponRow, AppError> {
    Ok(CouponRow {
        code: r.try_get("code")?,
        campaign_id: r.try_get("campaign_id")?,
        batch_id: r.try_get("batch_id")?,
        customer_id: r.try_get("customer_id")?,
        reserved: r.try_get("reserved")?,
        redeemed: r.try_get("redeemed")?,
        rules: r.try_get("rules")?,
        reference: r.try_get("reference")?,
        voided_at: r.try_get("voided_at")?,
    })
}

const COUPON: &str = "SELECT c.code, c.campaign_id, c.batch_id, c.customer_id, c.reserved, c.redeemed, \
     CASE WHEN c.rules = '' THEN b.rules ELSE c.rules END AS rules, c.reference, c.voided_at \
     FROM coupons c JOIN coupon_batches b ON b.tenant_id = c.tenant_id AND b.campaign_id = c.campaign_id AND b.batch_id = c.batch_id";

/// A code.
pub async fn get_coupon(
    conn: &mut Conn,
    tenant: &str,
    code: &str,
) -> Result<Option<CouponRow>, AppError> {
    let sql = format!("{COUPON} WHERE c.tenant_id = $1 AND c.code = $2");
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(coupon).transpose()
}

/// The voucher issued for `reference`.
pub async fn voucher(
    conn: &mut Conn,
    tenant: &str,
    reference: &str,
) -> Result<Option<CouponRow>, AppError> {
    let sql = format!("{COUPON} WHERE c.tenant_id = $1 AND c.reference = $2");
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(reference)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(coupon).transpose()
}

/// A voucher to insert: one single-use code with its own rules.
#[derive(Clone, Copy, Debug)]
pub struct NewVoucher<'a> {
    /// Campaign.
    pub campaign: &'a str,
    /// Its vouchers' batch.
    pub batch: &'a str,
    /// The code.
    pub code: &'a str,
    /// Its customer.
    pub customer: &'a str,
    /// Its rules, JSON.
    pub rules: &'a str,
    /// What earned it.
    pub reference: &'a str,
}

/// Inserts a voucher; false when the code is taken.
pub async fn insert_voucher(
    conn: &mut Conn,
    tenant: &str,
    v: NewVoucher<'_>,
    now: i64,
) -> Result<bool, AppError> {
    let done = sqlx::query(
        "INSERT INTO coupons (tenant_id, code, campaign_id, batch_id, customer_id, max_uses, per_customer, \
         created_at, rules, reference) VALUES ($1, $2, $3, $4, $5, 1, 1, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(v.code)
    .bind(v.campaign)
    .bind(v.batch)
    .bind(v.customer)
    .bind(now)
    .bind(v.rules)
    .bind(v.reference)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Voids the voucher of `reference` if no use of it is held or redeemed;
/// whether this voided it.
pub async fn void_voucher(
    conn: &mut Conn,
    tenant: &str,
    reference: &str,
    now: i64,
) -> Result<bool, AppError> {
    let done = sqlx::query(
        "UPDATE coupons SET voided_at = $3 WHERE tenant_id = $1 AND reference = $2 \
         AND voided_at IS NULL AND reserved = 0 AND redeemed = 0",
    )
    .bind(tenant)
    .bind(reference)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Which codes a list shows.
#[derive(Clone, Copy, Debug)]
pub struct Filter<'a> {
    /// Campaign, or "" with a customer.
    pub campaign: &'a str,
    /// Batch, or "".
    pub batch: &'a str,
    /// Assigned customer, or "".
    pub customer: &'a str,
    /// After this code.
    pub after: &'a str,
    /// At most.
    pub limit: i64,
}

/// A page of codes by code.
pub async fn list_coupons(
    db: &Db,
    tenant: &str,
    f: Filter<'_>,
) -> Result<Vec<CouponRow>, AppError> {
    let sql = format!(
        "{COUPON} WHERE c.tenant_id = $1 AND ($2 = '' OR c.campaign_id = $2) AND ($3 = '' OR c.batch_id = $3) \
           AND ($4 = '' OR c.customer_id = $4) AND c.code > $5 ORDER BY c.code LIMIT $6"
    );
    let rows = sqlx::query(&sql)
        .bind(tenant)
        .bind(f.campaign)
        .bind(f.batch)
        .bind(f.customer)
        .bind(f.after)
        .bind(f.limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(coupon).collect()
}

/// Takes one use of a code if it has one left; its (reserved, redeemed) after.
pub async fn take_use(
    conn: &mut Conn,
    tenant: &str,
    code: &str,
) -> Result<Option<(i64, i64)>, AppError> {
    let row = sqlx::query(
        "UPDATE coupons SET reserved = reserved + 1 WHERE tenant_id = $1 AND code = $2 \
           AND (max_uses = 0 OR reserved + redeemed < max_uses) AND voided_at IS NULL \
         RETURNING reserved, redeemed",
    )
    .bind(tenant)
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| Ok((r.try_get("reserved")?, r.try_get("redeemed")?)))
        .transpose()
}

/// Moves a code's counters.
pub async fn move_uses(
    conn: &mut Conn,
    tenant: &str,
    code: &str,
    reserved: i64,
    redeemed: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE coupons SET reserved = reserved + $3, redeemed = redeemed + $4 WHERE tenant_id = $1 AND code = $2",
    )
    .bind(tenant)
    .bind(code)
    .bind(reserved)
    .bind(redeemed)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes one of a customer's uses of a code if fewer than `limit` are held.
pub async fn take_customer_use(
    conn: &mut Conn,
    tenant: &str,
    code: &str,
    customer: &str,
    limit: i64,
) -> Result<bool, AppError> {
    let row = sqlx::query(
        "INSERT INTO coupon_customer_uses (tenant_id, code, customer_id, used) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (tenant_id, code, customer_id) DO UPDATE SET used = coupon_customer_uses.used + 1 \
         WHERE coupon_customer_uses.used < $4 RETURNING used",
    )
    .bind(tenant)
    .bind(code)
    .bind(customer)
    .bind(limit)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.is_some())
}

/// A customer's uses (held or redeemed) of a code.
pub async fn customer_uses(
    conn: &mut Conn,
    tenant: &str,
    code: &str,
    customer: &str,
) -> Result<i64, AppError> {
    let row = sqlx::query(
        "SELECT used FROM coupon_customer_uses WHERE tenant_id = $1 AND code = $2 AND customer_id = $3",
    )
    .bind(tenant)
    .bind(code)
    .bind(customer)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.try_get("used")).transpose()?.unwrap_or(0))
}

/// Gives one of a customer's uses of a code back.
pub async fn give_customer_use(
    conn: &mut Conn,
    tenant: &str,
    code: &str,
    customer: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE coupon_customer_uses SET used = used - 1 WHERE tenant_id = $1 AND code = $2 AND customer_id = $3",
    )
    .bind(tenant)
    .bind(code)
    .bind(customer)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A redemption as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedemptionRow {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Customer.
    pub customer_id: String,
    /// Order.
    pub order_id: String,
    /// reserved, redeemed, released, expired.
    pub status: String,
    /// When a held use lapses.
    pub expires_at: i64,
    /// When.
    pub created_at: i64,
}

fn redemption(r: &AnyRow) -> Result<RedemptionRow, AppError> {
    Ok(RedemptionRow {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        customer_id: r.try_get("customer_id")?,
        order_id: r.try_get("order_id")?,
        status: r.try_get("status")?,
        expires_at: r.try_get("expires_at")?,
        created_at: r.try_get("created_at")?,
    })
}

const REDEMPTION: &str = "id, code, customer_id, order_id, status, expires_at, created_at";

/// Inserts a held use; its id.
pub async fn insert_redemption(
    conn: &mut Conn,
    tenant: &str,
    r: &RedemptionRow,
) -> Result<i64, AppError> {
    let row = sqlx::query(
        "INSERT INTO coupon_redemptions (tenant_id, code, customer_id, order_id, status, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(tenant)
    .bind(&r.code)
    .bind(&r.customer_id)
    .bind(&r.order_id)
    .bind(&r.status)
    .bind(r.expires_at)
    .bind(r.created_at)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// A redemption, locked on PostgreSQL.
pub async fn lock_redemption(
    conn: &mut Conn,
    db: &Db,
    tenant: &str,
    id: i64,
) -> Result<Option<RedemptionRow>, AppError> {
    let sql = format!(
        "SELECT {REDEMPTION} FROM coupon_redemptions WHERE tenant_id = $1 AND id = $2 {}",
        db.for_update()
    );
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(redemption).transpose()
}

/// Records a redemption's status.
pub async fn set_status(
    conn: &mut Conn,
    tenant: &str,
    id: i64,
    status: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE coupon_redemptions SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(status)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A code's latest redemptions, newest first.
pub async fn redemptions_of(
    db: &Db,
    tenant: &str,
    code: &str,
    limit: i64,
) -> Result<Vec<RedemptionRow>, AppError> {
    let sql = format!(
        "SELECT {REDEMPTION} FROM coupon_redemptions WHERE tenant_id = $1 AND code = $2 ORDER BY id DESC LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(tenant)
        .bind(code)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(redemption).collect()
}
