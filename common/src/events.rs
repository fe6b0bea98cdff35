//! A durable, gap-free event log behind a service's `WatchEvents`.
//!
//! Events are appended in the transaction that caused them, as an encoded
//! message of the service's own contract. Readers page by `(commit_order, seq)`.
//! On SQLite the single writer commits in `seq` order and `commit_order` is 0.
//! On PostgreSQL sequence values are handed out before commit, so a later
//! `seq` can commit first: `commit_order` is the writing transaction's id, and
//! readers only read events of transactions older than every transaction still
//! running (`pg_snapshot_xmin`), so nothing appears behind a reader's cursor —
//! no gaps, no duplicates, across restarts and replicas.
use std::{sync::Arc, time::Duration};

use sqlx::Row as _;
use tokio::sync::{Notify, mpsc};

use crate::{
    db::{Backend, Conn, Db},
    error::AppError,
    tenant::TenantId,
};

/// How often a watcher looks for events committed by other replicas.
const POLL: Duration = Duration::from_millis(250);
/// Events read per query.
const PAGE: i64 = 256;

/// A position in the log; `Cursor::default()` is its start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    commit_order: i64,
    seq: i64,
}

impl Cursor {
    /// Parses a cursor this log handed out ("" is the start).
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        if raw.is_empty() {
            return Ok(Self::default());
        }
        raw.split_once('.')
            .and_then(|(c, s)| Some((c.parse().ok()?, s.parse().ok()?)))
            .map(|(commit_order, seq)| Self { commit_order, seq })
            .ok_or_else(|| AppError::invalid("from_cursor", "not a cursor from this stream"))
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.commit_order, self.seq)
    }
}

/// A stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Where it is in the log.
    pub cursor: Cursor,
    /// Type name, e.g. "tier_changed".
    pub kind: String,
    /// Who it is about (a customer id), for filtering.
    pub subject: String,
    /// The encoded message.
    pub payload: Vec<u8>,
    /// When, unix microseconds.
    pub occurred_at: i64,
}

/// Appends an event in the caller's transaction.
pub async fn append(
    conn: &mut Conn,
    db: &Db,
    tenant: &TenantId,
    kind: &str,
    subject: &str,
    payload: &[u8],
    now: i64,
) -> Result<(), AppError> {
    let order = match db.backend() {
        Backend::Sqlite => "0",
        Backend::Postgres => "pg_current_xact_id()::text::bigint",
    };
    let sql = format!(
        "INSERT INTO event_log (commit_order, tenant_id, type, subject, payload, occurred_at) \
         VALUES ({order}, $1, $2, $3, $4, $5)"
    );
    sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(kind)
        .bind(subject)
        .bind(payload)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Events after `cursor`, oldest first, at most `limit`.
pub async fn after(
    db: &Db,
    tenant: &TenantId,
    cursor: Cursor,
    limit: i64,
) -> Result<Vec<Event>, AppError> {
    let visible = match db.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => {
            "AND commit_order < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        }
    };
    let sql = format!(
        "SELECT commit_order, seq, type, subject, payload, occurred_at FROM event_log \
         WHERE tenant_id = $1 AND (commit_order > $2 OR (commit_order = $2 AND seq > $3)) {visible} \
         ORDER BY commit_order, seq LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(cursor.commit_order)
        .bind(cursor.seq)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Event {
                cursor: Cursor {
                    commit_order: r.try_get("commit_order")?,
                    seq: r.try_get("seq")?,
                },
                kind: r.try_get("type")?,
                subject: r.try_get("subject")?,
                payload: r.try_get("payload")?,
                occurred_at: r.try_get("occurred_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Streams the tenant's events after `cursor` that `wanted` keeps: the
/// backlog, then new ones as they commit (woken by `committed`, or by polling
/// for other replicas' commits). Ends when the receiver is dropped.
pub fn watch(
    db: Db,
    committed: Arc<Notify>,
    tenant: TenantId,
    cursor: Cursor,
    wanted: impl Fn(&Event) -> bool + Send + 'static,
) -> mpsc::Receiver<Result<Event, AppError>> {
    let (tx, rx) = mpsc::channel(PAGE as usize);
    tokio::spawn(async move {
        let mut cursor = cursor;
        loop {
            // Register interest before reading, so a commit in between is not missed.
            let woken = committed.notified();
            let batch = match after(&db, &tenant, cursor, PAGE).await {
                Ok(batch) => batch,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let full = batch.len() == PAGE as usize;
            for e in batch {
                cursor = e.cursor;
                if wanted(&e) && tx.send(Ok(e)).await.is_err() {
                    return;
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                () = tx.closed() => return,
                () = woken => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    });
    rx
}
