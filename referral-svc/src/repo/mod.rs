//! SQL for referral programs, codes, referrals, rewards and customers seen.
use boomerang_common::{
    db::{Conn, Db, Migrations, is_unique_violation},
    error::AppError,
    versions,
};
use sqlx::{Row as _, any::AnyRow};

use crate::domain::program::Program;

/// How errors name the tenant's referral program.
const PROGRAM: &str = "the referral program";

/// This service's migrations, one folder per backend.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("{e}"))
}

/// The latest program version, 0 when there is none.
pub async fn latest_version(conn: &mut Conn, tenant: &str) -> Result<i64, AppError> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS v FROM referral_programs WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("v")?)
}

/// The version a publish over `expected` gets when `latest` is live:
/// FAILED_PRECONDITION when the program moved since it was read.
pub fn next_version(latest: i64, expected: Option<i64>) -> Result<i64, AppError> {
    versions::next(PROGRAM, latest, expected)
}

/// Publishes a program version over `expected` (the latest version it must
/// be, 0 for none; any when absent); returns it.
pub async fn publish(
    conn: &mut Conn,
    tenant: &str,
    p: &Program,
    expected: Option<i64>,
    now: i64,
) -> Result<i64, AppError> {
    let version = next_version(latest_version(conn, tenant).await?, expected)?;
    let inserted = sqlx::query(
        "INSERT INTO referral_programs (tenant_id, version, spec, published_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(version)
    .bind(serde_json::to_string(p).map_err(internal)?)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    versions::inserted(PROGRAM, version, inserted, expected)
}

/// A program version (latest when 0): (version, program, published_at).
pub async fn program(
    conn: &mut Conn,
    tenant: &str,
    version: i64,
) -> Result<Option<(i64, Program, i64)>, AppError> {
    let row = sqlx::query(
        "SELECT version, spec, published_at FROM referral_programs WHERE tenant_id = $1 AND ($2 = 0 OR version = $2) \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(tenant)
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let spec: String = r.try_get("spec")?;
    Ok(Some((
        r.try_get("version")?,
        serde_json::from_str(&spec).map_err(internal)?,
        r.try_get("published_at")?,
    )))
}

/// A referral code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRow {
    /// Code (upper case).
    pub code: String,
    /// Owner.
    pub referrer_id: String,
    /// Owner's normalised e-mail.
    pub referrer_email: String,
    /// Usable.
    pub enabled: bool,
    /// Expiry.
    pub expires_at: Option<i64>,
    /// Created.
    pub created_at: i64,
}

/// Inserts a code; ALREADY_EXISTS when taken.
pub async fn insert_code(conn: &mut Conn, tenant: &str, c: &CodeRow) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO codes (tenant_id, code, referrer_id, referrer_email, enabled, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, 1, $5, $6)",
    )
    .bind(tenant)
    .bind(&c.code)
    .bind(&c.referrer_id)
    .bind(&c.referrer_email)
    .bind(c.expires_at)
    .bind(c.created_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| if is_unique_violation(&e) { AppError::AlreadyExists(format!("code {} is taken", c.code)) } else { e.into() })?;
    Ok(())
}

/// A code by its canonical form.
pub async fn get_code(
    conn: &mut Conn,
    tenant: &str,
    code: &str,
) -> Result<Option<CodeRow>, AppError> {
    let row = sqlx::query(
        "SELECT code, referrer_id, referrer_email, enabled, expires_at, created_at FROM codes WHERE tenant_id = $1 AND code = $2",
    )
    .bind(tenant)
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(CodeRow {
        code: r.try_get("code")?,
        referrer_id: r.try_get("referrer_id")?,
        referrer_email: r.try_get("referrer_email")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        expires_at: r.try_get("expires_at")?,
        created_at: r.try_get("created_at")?,
    }))
}

/// Disables a code.
pub async fn disable_code(conn: &mut Conn, tenant: &str, code: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE codes SET enabled = 0 WHERE tenant_id = $1 AND code = $2")
        .bind(tenant)
        .bind(code)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A referral (accepted or refused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferralRow {
    /// Id.
    pub id: i64,
    /// Code used.
    pub code: String,
    /// Referrer.
    pub referrer_id: String,
    /// Referee.
    pub referee_id: String,
    /// attributed | converted | refused.
    pub status: String,
    /// Refusal reason name, "" when accepted.
    pub refusal: String,
    /// Program version at attribution.
    pub program_version: i64,
    /// When.
    pub attributed_at: i64,
    /// Normalised e-mail.
    pub email: String,
    /// IP.
    pub ip: String,
    /// Device.
    pub device: String,
}

const REFERRAL: &str = "id, code, referrer_id, referee_id, status, refusal, program_version, attributed_at, email, ip, device";

fn referral(r: &AnyRow) -> Result<ReferralRow, sqlx::Error> {
    Ok(ReferralRow {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        referrer_id: r.try_get("referrer_id")?,
        referee_id: r.try_get("referee_id")?,
        status: r.try_get("status")?,
        refusal: r.try_get("refusal")?,
        program_version: r.try_get("program_version")?,
        attributed_at: r.try_get("attributed_at")?,
        email: r.try_get("email")?,
        ip: r.try_get("ip")?,
        device: r.try_get("device")?,
    })
}

/// Inserts a referral; None when a live one for the referee exists (the
/// partial unique index decides between racing attributions).
pub async fn insert_referral(
    conn: &mut Conn,
    tenant: &str,
    r: &ReferralRow,
) -> Result<Option<i64>, AppError> {
    let row = sqlx::query(
        "INSERT INTO referrals (tenant_id, code, referrer_id, referee_id, status, refusal, email, ip, device, \
         program_version, attributed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(tenant)
    .bind(&r.code)
    .bind(&r.referrer_id)
    .bind(&r.referee_id)
    .bind(&r.status)
    .bind(&r.refusal)
    .bind(&r.email)
    .bind(&r.ip)
    .bind(&r.device)
    .bind(r.program_version)
    .bind(r.attributed_at)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| r.try_get("id"))
        .transpose()
        .map_err(AppError::from)
}

/// The referee's live (not refused) referral.
pub async fn live_referral(
    conn: &mut Conn,
    tenant: &str,
    referee: &str,
) -> Result<Option<ReferralRow>, AppError> {
    let sql = format!(
        "SELECT {REFERRAL} FROM referrals WHERE tenant_id = $1 AND referee_id = $2 AND status <> 'refused'"
    );
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(referee)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(referral).transpose()?)
}

/// The referee's live referral, locked on PostgreSQL (SQLite's writer lock covers it).
pub async fn live_referral_locked(
    conn: &mut Conn,
    db: &Db,
    tenant: &str,
    referee: &str,
) -> Result<Option<ReferralRow>, AppError> {
    let sql = format!(
        "SELECT {REFERRAL} FROM referrals WHERE tenant_id = $1 AND referee_id = $2 AND status <> 'refused' {}",
        db.for_update()
    );
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(referee)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(referral).transpose()?)
}

/// Marks an attributed referral converted; true only for the call that did it.
pub async fn convert(conn: &mut Conn, tenant: &str, id: i64) -> Result<bool, AppError> {
    let n = sqlx::query("UPDATE referrals SET status = 'converted' WHERE tenant_id = $1 AND id = $2 AND status = 'attributed'")
        .bind(tenant)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// A referral by id.
pub async fn get_referral(
    conn: &mut Conn,
    tenant: &str,
    id: i64,
) -> Result<Option<ReferralRow>, AppError> {
    let sql = format!("SELECT {REFERRAL} FROM referrals WHERE tenant_id = $1 AND id = $2");
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(referral).transpose()?)
}

/// A referrer's referrals, newest first, ids below `before`.
pub async fn by_referrer(
    db: &Db,
    tenant: &str,
    referrer: &str,
    before: i64,
    limit: i64,
) -> Result<Vec<ReferralRow>, AppError> {
    let sql = format!(
        "SELECT {REFERRAL} FROM referrals WHERE tenant_id = $1 AND referrer_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(tenant)
        .bind(referrer)
        .bind(before)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    Ok(rows.iter().map(referral).collect::<Result<_, _>>()?)
}

/// Attributions (any outcome) from this IP or device since `since`.
pub async fn recent_from(
    conn: &mut Conn,
    tenant: &str,
    ip: &str,
    device: &str,
    since: i64,
) -> Result<i64, AppError> {
    let row = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM referrals WHERE tenant_id = $1 AND attributed_at >= $4 \
         AND ((ip <> '' AND ip = $2) OR (device <> '' AND device = $3))",
    )
    .bind(tenant)
    .bind(ip)
    .bind(device)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("n")?)
}

/// A referrer's accepted attributions since `since`.
pub async fn accepted_since(
    conn: &mut Conn,
    tenant: &str,
    referrer: &str,
    since: i64,
) -> Result<i64, AppError> {
    let row = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM referrals WHERE tenant_id = $1 AND referrer_id = $2 \
         AND status <> 'refused' AND attributed_at >= $3",
    )
    .bind(tenant)
    .bind(referrer)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("n")?)
}

/// The device a customer signed up with when referred, if any.
pub async fn device_of(
    conn: &mut Conn,
    tenant: &str,
    customer: &str,
) -> Result<Option<String>, AppError> {
    let row = sqlx::query("SELECT device FROM referrals WHERE tenant_id = $1 AND referee_id = $2 AND device <> '' LIMIT 1")
        .bind(tenant)
        .bind(customer)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| r.try_get("device"))
        .transpose()
        .map_err(AppError::from)
}

/// Whether the customer bought before; records this order as seen.
pub async fn seen_before(
    conn: &mut Conn,
    tenant: &str,
    customer: &str,
    order: Option<&str>,
) -> Result<bool, AppError> {
    let row = sqlx::query(
        "SELECT first_order FROM customers_seen WHERE tenant_id = $1 AND customer_id = $2",
    )
    .bind(tenant)
    .bind(customer)
    .fetch_optional(&mut *conn)
    .await?;
    let first: Option<String> = row.map(|r| r.try_get("first_order")).transpose()?;
    if let (None, Some(order)) = (&first, order) {
        sqlx::query("INSERT INTO customers_seen (tenant_id, customer_id, first_order) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(tenant)
            .bind(customer)
            .bind(order)
            .execute(&mut *conn)
            .await?;
    }
    // The same order again (a redelivery) is not an earlier purchase.
    Ok(first.is_some_and(|f| Some(f.as_str()) != order))
}

/// A reward paid for a referee's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewardRow {
    /// Referral.
    pub referral_id: i64,
    /// Order.
    pub order_id: String,
    /// "referrer" or "referee".
    pub beneficiary: String,
    /// Asset.
    pub asset: String,
    /// Paid.
    pub amount: i64,
    /// Order amount.
    pub order_amount: i64,
    /// Reversed so far.
    pub reversed: i64,
    /// Order amount returned so far.
    pub returned: i64,
}

/// Inserts a reward; false when this order already paid it.
pub async fn insert_reward(
    conn: &mut Conn,
    tenant: &str,
    r: &RewardRow,
    now: i64,
) -> Result<bool, AppError> {
    let n = sqlx::query(
        "INSERT INTO referral_rewards (tenant_id, referral_id, order_id, beneficiary, asset, amount, order_amount, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(r.referral_id)
    .bind(&r.order_id)
    .bind(&r.beneficiary)
    .bind(&r.asset)
    .bind(r.amount)
    .bind(r.order_amount)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Rewards of a referral (of one order, or all with `order` empty).
pub async fn rewards(
    conn: &mut Conn,
    tenant: &str,
    referral: i64,
    order: &str,
) -> Result<Vec<RewardRow>, AppError> {
    rewards_query(conn, tenant, referral, order, "").await
}

/// The rewards of one order of a referral, locked on PostgreSQL: returns of
/// one order serialise on them, so each computes its reversal from the state
/// the previous one left (SQLite's single writer already serialises).
pub async fn order_rewards_locked(
    conn: &mut Conn,
    db: &Db,
    tenant: &str,
    referral: i64,
    order: &str,
) -> Result<Vec<RewardRow>, AppError> {
    rewards_query(conn, tenant, referral, order, db.for_update()).await
}

async fn rewards_query(
    conn: &mut Conn,
    tenant: &str,
    referral: i64,
    order: &str,
    lock: &str,
) -> Result<Vec<RewardRow>, AppError> {
    let sql = format!(
        "SELECT referral_id, order_id, beneficiary, asset, amount, order_amount, reversed, returned FROM referral_rewards \
         WHERE tenant_id = $1 AND referral_id = $2 AND ($3 = '' OR order_id = $3) ORDER BY order_id, beneficiary {lock}"
    );
    let rows = sqlx::query(&sql)
        .bind(tenant)
        .bind(referral)
        .bind(order)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(RewardRow {
                referral_id: r.try_get("referral_id")?,
                order_id: r.try_get("order_id")?,
                beneficiary: r.try_get("beneficiary")?,
                asset: r.try_get("asset")?,
                amount: r.try_get("amount")?,
                order_amount: r.try_get("order_amount")?,
                reversed: r.try_get("reversed")?,
                returned: r.try_get("returned")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Records a return against a reward.
pub async fn add_return(
    conn: &mut Conn,
    tenant: &str,
    r: &RewardRow,
    returned: i64,
    reversed: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE referral_rewards SET returned = returned + $1, reversed = reversed + $2 \
         WHERE tenant_id = $3 AND referral_id = $4 AND order_id = $5 AND beneficiary = $6",
    )
    .bind(returned)
    .bind(reversed)
    .bind(tenant)
    .bind(r.referral_id)
    .bind(&r.order_id)
    .bind(&r.beneficiary)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Counts for the funnel between `from` and `to`: (codes, accepted, refused by reason, converted).
pub async fn funnel(
    db: &Db,
    tenant: &str,
    from: i64,
    to: i64,
) -> Result<(i64, i64, Vec<(String, i64)>, i64), AppError> {
    let one = |sql: &'static str| async move {
        let row = sqlx::query(sql)
            .bind(tenant)
            .bind(from)
            .bind(to)
            .fetch_one(db.pool())
            .await?;
        Ok::<i64, AppError>(row.try_get("n")?)
    };
    let codes = one("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM codes WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3").await?;
    let accepted = one("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM referrals WHERE tenant_id = $1 AND status <> 'refused' AND attributed_at >= $2 AND attributed_at < $3").await?;
    let converted = one("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM referrals WHERE tenant_id = $1 AND status = 'converted' AND attributed_at >= $2 AND attributed_at < $3").await?;
    let rows = sqlx::query(
        "SELECT refusal, CAST(COUNT(*) AS BIGINT) AS n FROM referrals WHERE tenant_id = $1 AND status = 'refused' \
         AND attributed_at >= $2 AND attributed_at < $3 GROUP BY refusal ORDER BY refusal",
    )
    .bind(tenant)
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?;
    let refused = rows
        .iter()
        .map(|r| Ok((r.try_get("refusal")?, r.try_get("n")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((codes, accepted, refused, converted))
}

/// Rewards paid (net of reversals) per asset, optionally for one referrer.
pub async fn paid(db: &Db, tenant: &str, referrer: &str) -> Result<Vec<(String, i64)>, AppError> {
    let rows = sqlx::query(
        "SELECT w.asset, CAST(SUM(w.amount - w.reversed) AS BIGINT) AS n FROM referral_rewards w \
         JOIN referrals r ON r.id = w.referral_id AND r.tenant_id = w.tenant_id WHERE w.tenant_id = $1 AND ($2 = '' OR (r.referrer_id = $2 AND w.beneficiary = 'referrer')) \
         GROUP BY w.asset ORDER BY w.asset",
    )
    .bind(tenant)
    .bind(referrer)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("asset")?, r.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}
