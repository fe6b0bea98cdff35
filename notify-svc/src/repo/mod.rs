//! SQL of notify-svc: webhooks, the cursor of each followed log, and
//! deliveries with their attempts.
pub mod bus;
pub mod deliveries;
pub mod webhooks;

use boomerang_common::{
    db::{Conn, Migrations},
    error::AppError,
};
use sqlx::Row as _;

pub use deliveries::{AttemptRow, DeliveryRow, NewDelivery, Outcome};
pub use webhooks::WebhookRow;

/// This service's migrations, one folder per backend.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Where notify-svc stands in `source`'s log ("" at its start).
pub async fn cursor(conn: &mut Conn, source: &str) -> Result<String, AppError> {
    let row = sqlx::query("SELECT cursor FROM follow_cursors WHERE source = $1")
        .bind(source)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("cursor")?,
        None => String::new(),
    })
}

/// Moves `source`'s cursor from `from` to `to`; false when another replica
/// moved it meanwhile (the caller rolls back and starts again from there).
pub async fn advance(
    conn: &mut Conn,
    source: &str,
    from: &str,
    to: &str,
    now: i64,
) -> Result<bool, AppError> {
    let done = sqlx::query(
        "INSERT INTO follow_cursors (source, cursor, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at \
         WHERE follow_cursors.cursor = $4",
    )
    .bind(source)
    .bind(to)
    .bind(now)
    .bind(from)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
