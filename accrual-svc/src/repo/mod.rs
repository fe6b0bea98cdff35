//! SQL only: programs and members here; purchases, rewards and returns in
//! [`purchases`]; the program report in [`report`].
mod checkout;
mod experiments;
mod guests;
mod purchases;
mod report;
mod simulation;

pub use checkout::*;
pub use experiments::*;
pub use guests::*;
pub use purchases::*;
pub use report::*;
pub use simulation::*;

use boomerang_common::{
    db::{Conn, Db, Migrations},
    error::AppError,
};
use sqlx::{Row as _, any::AnyRow};

use crate::domain::program::Program;

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

/// A stored JSON column's text.
pub(crate) fn json<T: serde::Serialize>(v: &T) -> Result<String, AppError> {
    serde_json::to_string(v).map_err(internal)
}

/// A stored JSON column read back.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, AppError> {
    serde_json::from_str(s).map_err(internal)
}

/// The latest version of a program; 0 when it does not exist.
pub async fn latest_version(conn: &mut Conn, tenant: &str, id: &str) -> Result<i64, AppError> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS v FROM programs WHERE tenant_id = $1 AND program_id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("v")?)
}

/// The version publishing over `latest` gives, when the latest is the
/// version `expected` (any when absent); FAILED_PRECONDITION otherwise.
pub fn next_version(id: &str, latest: i64, expected: Option<i64>) -> Result<i64, AppError> {
    boomerang_common::versions::next(&format!("program {id}"), latest, expected)
}

/// Publishes a new version of a program over `expected` (the latest version
/// it must be, 0 for none; any when absent); returns it.
pub async fn publish(
    conn: &mut Conn,
    tenant: &str,
    (id, program): (&str, &Program),
    expected: Option<i64>,
    now: i64,
) -> Result<i64, AppError> {
    let latest = latest_version(conn, tenant, id).await?;
    let version = next_version(id, latest, expected)?;
    let inserted = sqlx::query(
        "INSERT INTO programs (tenant_id, program_id, version, spec, published_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(id)
    .bind(version)
    .bind(json(program)?)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    boomerang_common::versions::inserted(&format!("program {id}"), version, inserted, expected)
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

/// What pricing needs to know first, in one read: the program's latest
/// version, the member, and whether they bought before.
#[derive(Clone, Debug)]
pub struct Standing {
    /// The program's latest version; `None`: no such program.
    pub version: Option<i64>,
    /// The member; `None`: not a member.
    pub member: Option<MemberRow>,
    /// Whether the member has recorded purchases.
    pub bought_before: bool,
    /// Whether the order asked about is recorded already.
    pub order_recorded: bool,
    /// The order id is a guest's purchase already.
    pub order_as_guest: bool,
}

impl Standing {
    /// The latest version, or NOT_FOUND.
    pub fn version(&self, program: &str) -> Result<i64, AppError> {
        self.version
            .ok_or_else(|| AppError::NotFound(format!("no program {program}")))
    }

    /// The member, or NOT_FOUND.
    pub fn member(self, program: &str, customer: &str) -> Result<MemberRow, AppError> {
        self.member.ok_or_else(|| not_a_member(program, customer))
    }

    /// The member; a customer who is none yet, of a program that enrols
    /// on the first purchase (`auto_enroll`), as the member they would be if
    /// enrolled `now`; else NOT_FOUND.
    pub fn member_or_newcomer(
        self,
        program: &str,
        customer: &str,
        auto_enroll: bool,
        now: i64,
    ) -> Result<MemberRow, AppError> {
        match self.member {
            Some(m) => Ok(m),
            None if auto_enroll => Ok(MemberRow::newcomer(customer, now)),
            None => Err(not_a_member(program, customer)),
        }
    }
}

impl MemberRow {
    /// A customer enrolled at `now` with nothing but their id.
    pub fn newcomer(customer: &str, now: i64) -> Self {
        Self {
            customer_id: customer.into(),
            birthday: String::new(),
            segment: String::new(),
            opt_ins: "[]".into(),
            tier: None,
            legacy_tier_index: None,
            tier_review_at: None,
            enrolled_at: now,
        }
    }
}

fn not_a_member(program: &str, customer: &str) -> AppError {
    AppError::NotFound(format!(
        "customer {customer} is not a member of program {program}"
    ))
}

/// The [`Standing`] of `customer` in `program`, and whether `order` is recorded.
pub async fn standing(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    customer: &str,
    order: Option<&str>,
) -> Result<Standing, AppError> {
    let row = sqlx::query(
        "SELECT v.version, m.customer_id, m.birthday, m.segment, m.opt_ins, m.tier_id, m.tier, m.tier_review_at, m.enrolled_at, \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM purchases p WHERE p.tenant_id = $1 AND p.program_id = $2 AND p.customer_id = $3) \
         THEN 1 ELSE 0 END AS BIGINT) AS bought, \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM purchases o WHERE o.tenant_id = $1 AND o.program_id = $2 AND o.order_id = $4) \
         THEN 1 ELSE 0 END AS BIGINT) AS recorded, \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM guest_purchases g WHERE g.tenant_id = $1 AND g.program_id = $2 AND g.order_id = $4) \
         THEN 1 ELSE 0 END AS BIGINT) AS as_guest \
         FROM (SELECT MAX(version) AS version FROM programs WHERE tenant_id = $1 AND program_id = $2) v \
         LEFT JOIN members m ON m.tenant_id = $1 AND m.program_id = $2 AND m.customer_id = $3",
    )
    .bind(tenant)
    .bind(program)
    .bind(customer)
    .bind(order.unwrap_or_default())
    .fetch_one(&mut *conn)
    .await?;
    let known: Option<String> = row.try_get("customer_id")?;
    Ok(Standing {
        version: row.try_get("version")?,
        member: known.is_some().then(|| member(&row)).transpose()?,
        bought_before: row.try_get::<i64, _>("bought")? == 1,
        order_recorded: row.try_get::<i64, _>("recorded")? == 1,
        order_as_guest: row.try_get::<i64, _>("as_guest")? == 1,
    })
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
    row.as_ref()
        .map(member)
        .transpose()?
        .ok_or_else(|| not_a_member(program, customer))
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
pub async fn base_earned(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    customer: &str,
    asset: &str,
    (from, to): (i64, i64),
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
