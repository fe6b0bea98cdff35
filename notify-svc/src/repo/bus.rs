//! Events waiting for NATS JetStream, oldest first.
use boomerang_common::{
    db::{Conn, Db},
    error::AppError,
};
use sqlx::Row as _;

/// A queued message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusRow {
    /// Its place in the queue.
    pub id: i64,
    /// The CloudEvent id (`Nats-Msg-Id`).
    pub event_id: String,
    /// `<prefix>.<tenant>.<type>`.
    pub subject: String,
    /// The CloudEvent.
    pub body: String,
}

/// Queues a message; one already queued for the event is nothing.
pub async fn queue(
    conn: &mut Conn,
    event_id: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO bus_queue (event_id, subject, body, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event_id)
    .bind(subject)
    .bind(body)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The oldest `limit` messages.
pub async fn oldest(db: &Db, limit: i64) -> Result<Vec<BusRow>, AppError> {
    let rows =
        sqlx::query("SELECT id, event_id, subject, body FROM bus_queue ORDER BY id LIMIT $1")
            .bind(limit)
            .fetch_all(db.pool())
            .await?;
    rows.iter()
        .map(|r| {
            Ok(BusRow {
                id: r.try_get("id")?,
                event_id: r.try_get("event_id")?,
                subject: r.try_get("subject")?,
                body: r.try_get("body")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Removes `ids` (acknowledged by JetStream). By id, not up to one: on
/// PostgreSQL a lower id can commit after a higher one was read.
pub async fn published(conn: &mut Conn, ids: &[i64]) -> Result<(), AppError> {
    if ids.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    sqlx::query(&format!(
        "DELETE FROM bus_queue WHERE id IN ({})",
        list.join(",")
    ))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Messages waiting (the metric).
pub async fn backlog(db: &Db) -> Result<i64, AppError> {
    let r = sqlx::query("SELECT COUNT(*) AS n FROM bus_queue")
        .fetch_one(db.pool())
        .await?;
    Ok(r.try_get("n")?)
}
