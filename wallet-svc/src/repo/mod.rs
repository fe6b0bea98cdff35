//! SQL for the ledger. Functions take the caller's connection (inside its
//! transaction); database errors become [`AppError`]s here.
pub mod batch;
pub mod credits;
pub mod events;
pub mod holds;
pub mod journal;
pub mod reads;

use boomerang_common::{
    db::{Conn, Migrations},
    error::AppError,
};
use sqlx::Row as _;

use crate::domain::{AccountKind, AccountRef};

/// This service's migrations, one folder per backend.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// An account row's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    /// Row id.
    pub id: i64,
    /// Kind and id.
    pub account: AccountRef,
    /// Asset code.
    pub asset: String,
}

/// The id of an account, created on first use, and whether it existed
/// before this transaction. Does not lock it.
pub async fn ensure_account(
    conn: &mut Conn,
    tenant: &str,
    account: &AccountRef,
    asset: &str,
    now: i64,
) -> Result<(i64, bool), AppError> {
    let find = || {
        sqlx::query("SELECT id FROM accounts WHERE tenant_id = $1 AND kind = $2 AND ref = $3 AND asset = $4")
            .bind(tenant)
            .bind(account.kind.as_str())
            .bind(&account.id)
            .bind(asset)
    };
    if let Some(row) = find().fetch_optional(&mut *conn).await? {
        return Ok((row.try_get("id")?, true));
    }
    let inserted = sqlx::query(
        "INSERT INTO accounts (tenant_id, kind, ref, asset, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(tenant)
    .bind(account.kind.as_str())
    .bind(&account.id)
    .bind(asset)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(row) => Ok((row.try_get("id")?, false)),
        // A concurrent transaction created it and committed meanwhile.
        None => Ok((find().fetch_one(&mut *conn).await?.try_get("id")?, true)),
    }
}

/// An account row by id, within the tenant.
pub async fn account(conn: &mut Conn, tenant: &str, id: i64) -> Result<AccountRow, AppError> {
    let row = sqlx::query("SELECT kind, ref, asset FROM accounts WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let kind: String = row.try_get("kind")?;
    let kind = AccountKind::parse(&kind)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown account kind {kind}")))?;
    Ok(AccountRow {
        id,
        account: AccountRef::system(kind, &row.try_get::<String, _>("ref")?),
        asset: row.try_get("asset")?,
    })
}
