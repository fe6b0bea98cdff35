//! SQL for programs, members, purchases, rewards and returns.
use boomerang_common::{
    db::{Conn, Db, Migrations},
    error::AppError,
};
use sqlx::{Row as _, any::AnyRow};

use crate::domain::{
    fraud::{Flag, History},
    program::Program,
    rewards::{Line, Reward},
};

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

fn json<T: serde::Serialize>(v: &T) -> Result<String, AppError> {
    serde_json::to_string(v).map_err(internal)
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, AppError> {
    serde_json::from_str(s).map_err(internal)
}

/// Publishes a new version of a program; returns it.
pub async fn publish(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
    program: &Program,
    now: i64,
) -> Result<i64, AppError> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS v FROM programs WHERE tenant_id = $1 AND program_id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let version = row.try_get::<i64, _>("v")? + 1;
    sqlx::query("INSERT INTO programs (tenant_id, program_id, version, spec, published_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(tenant)
        .bind(id)
        .bind(version)
        .bind(json(program)?)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(version)
}

/// A program version (latest when `version` is None): (version, program, published_at).
pub async fn program(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
    version: Option<i64>,
) -> Result<(i64, Program, i64), AppError> {
    let row = sqlx::query(
        "SELECT version, spec, published_at FROM programs WHERE tenant_id = $1 AND program_id = $2 \
         AND ($3 = 0 OR version = $3) ORDER BY version DESC LIMIT 1",
    )
    .bind(tenant)
    .bind(id)
    .bind(version.unwrap_or(0))
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("no program {id}")))?;
    Ok((
        row.try_get("version")?,
        parse(&row.try_get::<String, _>("spec")?)?,
        row.try_get("published_at")?,
    ))
}

/// A member row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRow {
    /// Customer.
    pub customer_id: String,
    /// "MM-DD" or "".
    pub birthday: String,
    /// Segment.
    pub segment: String,
    /// Opt-in channels, JSON.
    pub opt_ins: String,
    /// Tier id.
    pub tier: Option<String>,
    /// The tier as an index into the program's tiers, of rows written before
    /// tiers were kept by id; `tier` wins when set.
    pub legacy_tier_index: Option<i64>,
    /// Tier review time.
    pub tier_review_at: Option<i64>,
    /// Enrolled.
    pub enrolled_at: i64,
}

fn member(r: &AnyRow) -> Result<MemberRow, sqlx::Error> {
    Ok(MemberRow {
        customer_id: r.try_get("customer_id")?,
        birthday: r.try_get("birthday")?,
        segment: r.try_get("segment")?,
        opt_ins: r.try_get("opt_ins")?,
        tier: r.try_get("tier_id")?,
        legacy_tier_index: r.try_get("tier")?,
        tier_review_at: r.try_get("tier_review_at")?,
        enrolled_at: r.try_get("enrolled_at")?,
    })
}

/// Enrols; false when already a member (left as it is).
pub async fn enroll(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    m: &MemberRow,
) -> Result<bool, AppError> {
    let n = sqlx::query(
        "INSERT INTO members (tenant_id, program_id, customer_id, birthday, segment, opt_ins, enrolled_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(program)
    .bind(&m.customer_id)
    .bind(&m.birthday)
    .bind(&m.segment)
    .bind(&m.opt_ins)
    .bind(m.enrolled_at)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A member, locked on PostgreSQL when `lock` (its purchases serialise on it).
pub async fn get_member(
    conn: &mut Conn,
    db: &Db,
    tenant: &str,
    program: &str,
    customer: &str,
    lock: bool,
) -> Result<MemberRow, AppError> {
    let sql = format!(
        "SELECT customer_id, birthday, segment, opt_ins, tier_id, tier, tier_review_at, enrolled_at FROM members \
         WHERE tenant_id = $1 AND program_id = $2 AND customer_id = $3 {}",
        if lock { db.for_update() } else { "" }
    );
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(program)
        .bind(customer)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(member).transpose()?.ok_or_else(|| {
        AppError::NotFound(format!(
            "customer {customer} is not a member of program {program}"
        ))
    })
}

/// Saves a member's details and tier; a legacy tier index is kept until a
/// tier id replaces it.
pub async fn save_member(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    m: &MemberRow,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE members SET birthday = $1, segment = $2, opt_ins = $3, tier_id = $4, \
         tier = CASE WHEN $4 IS NULL THEN tier ELSE NULL END, tier_review_at = $5 \
         WHERE tenant_id = $6 AND program_id = $7 AND customer_id = $8",
    )
    .bind(&m.birthday)
    .bind(&m.segment)
    .bind(&m.opt_ins)
    .bind(&m.tier)
    .bind(m.tier_review_at)
    .bind(tenant)
    .bind(program)
    .bind(&m.customer_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What counts toward a tier since `since`: eligible spend, or points earned
/// (net of reversals); purchases held for review or rejected do not count.
pub async fn qualifying(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    customer: &str,
    since: i64,
    by_points: bool,
) -> Result<i64, AppError> {
    let sql = if by_points {
        "SELECT CAST(COALESCE(SUM(r.amount - r.reversed), 0) AS BIGINT) AS q FROM rewards r JOIN purchases p \
         ON p.tenant_id = r.tenant_id AND p.program_id = r.program_id AND p.order_id = r.order_id \
         WHERE p.tenant_id = $1 AND p.program_id = $2 AND p.customer_id = $3 AND p.occurred_at >= $4 AND r.asset = 'PTS' \
         AND p.review NOT IN ('held', 'rejected')"
    } else {
        "SELECT CAST(COALESCE(SUM(eligible), 0) AS BIGINT) AS q FROM purchases \
         WHERE tenant_id = $1 AND program_id = $2 AND customer_id = $3 AND occurred_at >= $4 \
         AND review NOT IN ('held', 'rejected')"
    };
    let row = sqlx::query(sql)
        .bind(tenant)
        .bind(program)
        .bind(customer)
        .bind(since)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get("q")?)
}

/// What the member earned from the earn rules (base rewards) in `asset` on
/// purchases that occurred in `[from, to)`, net of returns.
#[allow(clippy::too_many_arguments)]
pub async fn base_earned(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    customer: &str,
    asset: &str,
    from: i64,
    to: i64,
) -> Result<i64, AppError> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(r.amount - r.reversed), 0) AS BIGINT) AS earned FROM rewards r \
         JOIN purchases p ON p.tenant_id = r.tenant_id AND p.program_id = r.program_id AND p.order_id = r.order_id \
         WHERE p.tenant_id = $1 AND p.program_id = $2 AND p.customer_id = $3 \
         AND p.occurred_at >= $4 AND p.occurred_at < $5 AND r.asset = $6 AND r.kind = '\"base\"'",
    )
    .bind(tenant)
    .bind(program)
    .bind(customer)
    .bind(from)
    .bind(to)
    .bind(asset)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("earned")?)
}

/// Whether the customer bought before (first-purchase campaigns).
pub async fn has_purchases(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    customer: &str,
) -> Result<bool, AppError> {
    let row = sqlx::query("SELECT 1 AS one FROM purchases WHERE tenant_id = $1 AND program_id = $2 AND customer_id = $3 LIMIT 1")
        .bind(tenant)
        .bind(program)
        .bind(customer)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// A stored purchase.
#[derive(Clone, Debug)]
pub struct PurchaseRow {
    /// Customer.
    pub customer_id: String,
    /// Program version used.
    pub program_version: i64,
    /// Hash of the request that recorded it.
    pub request_hash: Vec<u8>,
    /// Lines.
    pub lines: Vec<Line>,
    /// Tier (id, multiplier) at the purchase.
    pub tier: Option<(String, String)>,
    /// When.
    pub occurred_at: i64,
    /// Fraud flags raised.
    pub flags: Vec<Flag>,
    /// Review state: "" (none), "held", "approved", "rejected".
    pub review: String,
}

/// What a purchase stores.
pub struct NewPurchase<'a> {
    /// Order.
    pub order_id: &'a str,
    /// Row.
    pub row: &'a PurchaseRow,
    /// Eligible amount.
    pub eligible: i64,
}

/// Inserts a purchase; false when the order is already recorded (a concurrent
/// record of it committed first: PostgreSQL waits for it, SQLite serialises writers).
pub async fn insert_purchase(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    p: NewPurchase<'_>,
    now: i64,
) -> Result<bool, AppError> {
    let inserted = sqlx::query(
        "INSERT INTO purchases (tenant_id, program_id, order_id, customer_id, program_version, request_hash, lines, \
         eligible, tier, occurred_at, recorded_at, flags, review) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(program)
    .bind(p.order_id)
    .bind(&p.row.customer_id)
    .bind(p.row.program_version)
    .bind(&p.row.request_hash)
    .bind(json(&p.row.lines)?)
    .bind(p.eligible)
    .bind(json(&p.row.tier)?)
    .bind(p.row.occurred_at)
    .bind(now)
    .bind(json(&p.row.flags)?)
    .bind(&p.row.review)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// A purchase, locked on PostgreSQL (returns of one order serialise on it).
pub async fn get_purchase(
    conn: &mut Conn,
    db: &Db,
    tenant: &str,
    program: &str,
    order: &str,
) -> Result<Option<PurchaseRow>, AppError> {
    let sql = format!(
        "SELECT customer_id, program_version, request_hash, lines, tier, occurred_at, flags, review FROM purchases \
         WHERE tenant_id = $1 AND program_id = $2 AND order_id = $3 {}",
        db.for_update()
    );
    let Some(r) = sqlx::query(&sql)
        .bind(tenant)
        .bind(program)
        .bind(order)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(PurchaseRow {
        customer_id: r.try_get("customer_id")?,
        program_version: r.try_get("program_version")?,
        request_hash: r.try_get("request_hash")?,
        lines: parse(&r.try_get::<String, _>("lines")?)?,
        tier: parse(&r.try_get::<String, _>("tier")?)?,
        occurred_at: r.try_get("occurred_at")?,
        flags: parse(&r.try_get::<String, _>("flags")?)?,
        review: r.try_get("review")?,
    }))
}

/// Whether a job of `queues` with one of `keys` is not done yet (due, retrying
/// or given up on, awaiting an operator).
pub async fn jobs_pending(
    db: &Db,
    tenant: &str,
    queues: &[&str; 4],
    keys: &[String; 2],
) -> Result<bool, AppError> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM jobs WHERE tenant_id = $1 AND queue IN ($2, $3, $6, $7) \
         AND dedupe_key IN ($4, $5) AND done_at IS NULL LIMIT 1",
    )
    .bind(tenant)
    .bind(queues[0])
    .bind(queues[1])
    .bind(&keys[0])
    .bind(&keys[1])
    .bind(queues[2])
    .bind(queues[3])
    .fetch_optional(db.pool())
    .await?;
    Ok(row.is_some())
}

/// Sets a purchase's review state.
pub async fn set_review(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
    review: &str,
) -> Result<(), AppError> {
    sqlx::query("UPDATE purchases SET review = $1 WHERE tenant_id = $2 AND program_id = $3 AND order_id = $4")
        .bind(review)
        .bind(tenant)
        .bind(program)
        .bind(order)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The member's history for fraud checks of a purchase at `at`: purchases in
/// the hour before it, and orders and returned orders since `since`.
pub async fn fraud_history(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    customer: &str,
    at: i64,
    since: i64,
) -> Result<History, AppError> {
    let hour = 3_600_000_000;
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN p.occurred_at > $4 AND p.occurred_at <= $5 THEN 1 ELSE 0 END), 0) AS BIGINT) AS last_hour, \
         CAST(COALESCE(SUM(CASE WHEN p.occurred_at >= $6 AND p.occurred_at <= $5 THEN 1 ELSE 0 END), 0) AS BIGINT) AS orders, \
         CAST(COALESCE(SUM(CASE WHEN p.occurred_at >= $6 AND p.occurred_at <= $5 AND EXISTS (SELECT 1 FROM returns r WHERE r.tenant_id = p.tenant_id \
           AND r.program_id = p.program_id AND r.order_id = p.order_id) THEN 1 ELSE 0 END), 0) AS BIGINT) AS returned \
         FROM purchases p WHERE p.tenant_id = $1 AND p.program_id = $2 AND p.customer_id = $3 \
         AND p.occurred_at >= $7",
    )
    .bind(tenant)
    .bind(program)
    .bind(customer)
    .bind(at - hour)
    .bind(at)
    .bind(since)
    .bind((at - hour).min(since))
    .fetch_one(&mut *conn)
    .await?;
    Ok(History {
        last_hour: row.try_get("last_hour")?,
        orders: row.try_get("orders")?,
        returned: row.try_get("returned")?,
    })
}

/// Updates a purchase's eligible amount after a return.
pub async fn set_eligible(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
    eligible: i64,
) -> Result<(), AppError> {
    sqlx::query("UPDATE purchases SET eligible = $1 WHERE tenant_id = $2 AND program_id = $3 AND order_id = $4")
        .bind(eligible)
        .bind(tenant)
        .bind(program)
        .bind(order)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A stored reward.
#[derive(Clone, Debug)]
pub struct RewardRow {
    /// Number within the order.
    pub no: i64,
    /// The reward as computed.
    pub reward: Reward,
    /// Reversed so far.
    pub reversed: i64,
    /// Campaign budget reservation ("" without).
    pub reservation_id: String,
    /// When it becomes available.
    pub release_at: i64,
}

/// Inserts a reward.
pub async fn insert_reward(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
    r: &RewardRow,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO rewards (tenant_id, program_id, order_id, reward_no, kind, asset, amount, earned, offer, \
         reservation_id, explanations, release_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tenant)
    .bind(program)
    .bind(order)
    .bind(r.no)
    .bind(json(&r.reward.kind)?)
    .bind(&r.reward.asset)
    .bind(r.reward.amount)
    .bind(r.reward.earned.max(r.reward.amount))
    .bind(json(&(&r.reward.offer, r.reward.valid_days))?)
    .bind(&r.reservation_id)
    .bind(json(&r.reward.explanations)?)
    .bind(r.release_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An order's rewards.
pub async fn rewards(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
) -> Result<Vec<RewardRow>, AppError> {
    let rows = sqlx::query(
        "SELECT reward_no, kind, asset, amount, earned, reversed, offer, reservation_id, explanations, release_at FROM rewards \
         WHERE tenant_id = $1 AND program_id = $2 AND order_id = $3 ORDER BY reward_no",
    )
    .bind(tenant)
    .bind(program)
    .bind(order)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let (offer, valid_days) = parse(&r.try_get::<String, _>("offer")?)?;
            Ok(RewardRow {
                no: r.try_get("reward_no")?,
                reward: Reward {
                    kind: parse(&r.try_get::<String, _>("kind")?)?,
                    asset: r.try_get("asset")?,
                    amount: r.try_get("amount")?,
                    earned: r.try_get("earned")?,
                    offer,
                    valid_days,
                    explanations: parse(&r.try_get::<String, _>("explanations")?)?,
                },
                reversed: r.try_get("reversed")?,
                reservation_id: r.try_get("reservation_id")?,
                release_at: r.try_get("release_at")?,
            })
        })
        .collect()
}

/// Adds to a reward's reversed amount.
pub async fn add_reversed(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
    no: i64,
    amount: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE rewards SET reversed = reversed + $1 WHERE tenant_id = $2 AND program_id = $3 AND order_id = $4 AND reward_no = $5",
    )
    .bind(amount)
    .bind(tenant)
    .bind(program)
    .bind(order)
    .bind(no)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Units returned per line so far.
pub async fn returned(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
) -> Result<Vec<(String, std::collections::BTreeMap<String, u32>)>, AppError> {
    let rows = sqlx::query("SELECT return_id, lines FROM returns WHERE tenant_id = $1 AND program_id = $2 AND order_id = $3")
        .bind(tenant)
        .bind(program)
        .bind(order)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("return_id")?,
                parse(&r.try_get::<String, _>("lines")?)?,
            ))
        })
        .collect()
}

/// Records a return.
pub async fn insert_return(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
    return_id: &str,
    lines: &std::collections::BTreeMap<String, u32>,
    at: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO returns (tenant_id, program_id, order_id, return_id, lines, occurred_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(program)
    .bind(order)
    .bind(return_id)
    .bind(json(lines)?)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

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
