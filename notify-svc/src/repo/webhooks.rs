//! A tenant's webhooks.
use boomerang_common::{
    db::{Backend, Conn, Db},
    error::AppError,
};
use sqlx::{Row as _, any::AnyRow};

/// A stored webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRow {
    /// Its tenant.
    pub tenant_id: String,
    /// "wh_...".
    pub id: String,
    /// Where it is called.
    pub url: String,
    /// Public type names delivered (empty: all).
    pub types: Vec<String>,
    /// For people.
    pub description: String,
    /// "active", "paused" or "deleted".
    pub state: String,
    /// `whsec_...`.
    pub secret: String,
    /// The secret before the last rotation, signing beside it until `previous_until`.
    pub previous_secret: String,
    /// Unix micros.
    pub previous_until: i64,
    /// Unix micros.
    pub created_at: i64,
    /// Unix micros.
    pub updated_at: i64,
}

impl WebhookRow {
    /// Whether it wants events of `type_name`.
    pub fn wants(&self, type_name: &str) -> bool {
        self.types.is_empty() || self.types.iter().any(|t| t == type_name)
    }
}

const COLUMNS: &str = "tenant_id, id, url, types, description, state, secret, previous_secret, \
                       previous_until, created_at, updated_at";

fn row(r: &AnyRow) -> Result<WebhookRow, sqlx::Error> {
    let types: String = r.try_get("types")?;
    Ok(WebhookRow {
        tenant_id: r.try_get("tenant_id")?,
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        types: types.split_whitespace().map(str::to_owned).collect(),
        description: r.try_get("description")?,
        state: r.try_get("state")?,
        secret: r.try_get("secret")?,
        previous_secret: r.try_get("previous_secret")?,
        previous_until: r.try_get("previous_until")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Stores a new webhook.
pub async fn insert(conn: &mut Conn, w: &WebhookRow) -> Result<(), AppError> {
    sqlx::query(&format!(
        "INSERT INTO webhooks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&w.tenant_id)
    .bind(&w.id)
    .bind(&w.url)
    .bind(w.types.join(" "))
    .bind(&w.description)
    .bind(&w.state)
    .bind(&w.secret)
    .bind(&w.previous_secret)
    .bind(w.previous_until)
    .bind(w.created_at)
    .bind(w.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes back every changeable field of `w`.
pub async fn update(conn: &mut Conn, w: &WebhookRow) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE webhooks SET url = $3, types = $4, description = $5, state = $6, secret = $7, \
         previous_secret = $8, previous_until = $9, updated_at = $10 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(&w.tenant_id)
    .bind(&w.id)
    .bind(&w.url)
    .bind(w.types.join(" "))
    .bind(&w.description)
    .bind(&w.state)
    .bind(&w.secret)
    .bind(&w.previous_secret)
    .bind(w.previous_until)
    .bind(w.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One webhook of `tenant`.
pub async fn get(conn: &mut Conn, tenant: &str, id: &str) -> Result<Option<WebhookRow>, AppError> {
    let r = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(r.as_ref().map(row).transpose()?)
}

/// `tenant`'s webhooks after `after` (an id), oldest first, at most `limit`.
pub async fn list(
    conn: &mut Conn,
    tenant: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<WebhookRow>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(tenant)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
}

/// The webhooks of `tenant` events are queued for: active and paused ones,
/// share-locked on PostgreSQL (a delete waits for the queueing, whose rows
/// it then drops).
pub async fn live(conn: &mut Conn, db: &Db, tenant: &str) -> Result<Vec<WebhookRow>, AppError> {
    let lock = match db.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR SHARE",
    };
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 AND state IN ('active', 'paused') ORDER BY id {lock}"
    ))
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
}

/// `tenant`'s webhooks that are not deleted.
pub async fn count_live(conn: &mut Conn, tenant: &str) -> Result<i64, AppError> {
    let r = sqlx::query(
        "SELECT COUNT(*) AS n FROM webhooks WHERE tenant_id = $1 AND state <> 'deleted'",
    )
    .bind(tenant)
    .fetch_one(&mut *conn)
    .await?;
    Ok(r.try_get("n")?)
}
