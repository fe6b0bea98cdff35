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

/// A position in the log; `Cursor::default()` is its start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    commit_order: i64,
    seq: i64,
}

impl Cursor {
    /// At `(commit_order, seq)`.
    pub fn new(commit_order: i64, seq: i64) -> Self {
        Self { commit_order, seq }
    }

    /// `(commit_order, seq)`.
    pub fn parts(self) -> (i64, i64) {
        (self.commit_order, self.seq)
    }

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

/// Which events of a service's log a watcher wants; an empty part wants all.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Event types (the service's enum values).
    pub types: Vec<i32>,
    /// The one program, campaign... the events are about.
    pub scope: String,
    /// The customer.
    pub customer: String,
}

impl Filter {
    /// Whether an event of `kind`, about `scope` and `customer`, is wanted.
    pub fn keeps(&self, kind: i32, scope: &str, customer: &str) -> bool {
        (self.types.is_empty() || self.types.contains(&kind))
            && (self.scope.is_empty() || self.scope == scope)
            && (self.customer.is_empty() || self.customer == customer)
    }
}

/// One event of [`append_many`]: its type name, subject and encoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent<'a> {
    /// Type name.
    pub kind: &'a str,
    /// Who it is about.
    pub subject: &'a str,
    /// The encoded message.
    pub payload: Vec<u8>,
}

/// Appends `events` in the caller's transaction with one statement, in order.
pub async fn append_many(
    conn: &mut Conn,
    db: &Db,
    tenant: &TenantId,
    events: &[NewEvent<'_>],
    now: i64,
) -> Result<(), AppError> {
    use crate::db::{Col, json_param, json_rows, unhex};
    if events.is_empty() {
        return Ok(());
    }
    let backend = db.backend();
    let rows = json_rows(
        backend,
        1,
        &[
            ("i", Col::Int),
            ("ty", Col::Text),
            ("s", Col::Text),
            ("p", Col::Text),
        ],
    );
    // In the given order: `seq` is handed out row by row.
    let sql = format!(
        "INSERT INTO event_log (commit_order, tenant_id, type, subject, payload, occurred_at) \
         SELECT {order}, $2, r.ty, r.s, {payload}, $3 FROM {rows} ORDER BY r.i",
        order = commit_order_sql(backend),
        payload = unhex(backend, "r.p"),
    );
    let rows: Vec<serde_json::Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            serde_json::json!({ "i": i, "ty": e.kind, "s": e.subject, "p": hex::encode(&e.payload) })
        })
        .collect();
    sqlx::query(&sql)
        .bind(json_param(&rows)?)
        .bind(tenant.as_str())
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
    let page = page(db, Some(tenant), cursor, limit).await?;
    Ok(page.into_iter().map(|(_, e)| e).collect())
}

/// Every tenant's events after `cursor`, oldest first, at most `limit`,
/// each with its tenant (for notify-svc, which delivers them all).
pub async fn after_any(
    db: &Db,
    cursor: Cursor,
    limit: i64,
) -> Result<Vec<(String, Event)>, AppError> {
    page(db, None, cursor, limit).await
}

async fn page(
    db: &Db,
    tenant: Option<&TenantId>,
    cursor: Cursor,
    limit: i64,
) -> Result<Vec<(String, Event)>, AppError> {
    let visible = visible_sql(db.backend());
    // One tenant's page walks event_log_tenant, every tenant's event_log_order.
    let whose = if tenant.is_some() {
        "tenant_id = $1"
    } else {
        "$1 = ''"
    };
    let sql = format!(
        "SELECT tenant_id, commit_order, seq, type, subject, payload, occurred_at FROM event_log \
         WHERE {whose} AND (commit_order > $2 OR (commit_order = $2 AND seq > $3)) {visible} \
         ORDER BY commit_order, seq LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(tenant.map_or("", TenantId::as_str))
        .bind(cursor.commit_order)
        .bind(cursor.seq)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            let event = Event {
                cursor: Cursor {
                    commit_order: r.try_get("commit_order")?,
                    seq: r.try_get("seq")?,
                },
                kind: r.try_get("type")?,
                subject: r.try_get("subject")?,
                payload: r.try_get("payload")?,
                occurred_at: r.try_get("occurred_at")?,
            };
            Ok((r.try_get("tenant_id")?, event))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Follows a log read page by page with `read` (events after a cursor, oldest
/// first, each with its cursor and `None` when the reader filters it out): the
/// backlog, then new pages as `committed` wakes it or every poll. A service
/// with its own event table (wallet-svc) pages it with the visibility rules of
/// [`commit_order_sql`] and [`visible_sql`]. Ends when the receiver is dropped.
pub fn follow<T, F, Fut>(
    committed: Arc<Notify>,
    cursor: Cursor,
    read: F,
) -> mpsc::Receiver<Result<T, AppError>>
where
    T: Send + 'static,
    F: Fn(Cursor) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<(Cursor, Option<T>)>, AppError>> + Send,
{
    let (tx, rx) = mpsc::channel(PAGE as usize);
    tokio::spawn(async move {
        let mut cursor = cursor;
        loop {
            // Register interest before reading, so a commit in between is not missed.
            let woken = committed.notified();
            let batch = match read(cursor).await {
                Ok(batch) => batch,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let full = batch.len() >= PAGE as usize;
            for (at, item) in batch {
                cursor = at;
                if let Some(item) = item
                    && tx.send(Ok(item)).await.is_err()
                {
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

/// Follows the `event_log` of `tenant` after `cursor`: each event decoded as
/// the service's message `M`, given its cursor by `keep`, which also says
/// whether the watcher wants it (its filter). The backlog, then new events
/// as they commit (see [`follow`]).
pub fn watch<M, K>(
    db: Db,
    committed: Arc<Notify>,
    tenant: TenantId,
    cursor: Cursor,
    keep: K,
) -> mpsc::Receiver<Result<M, AppError>>
where
    M: prost::Message + Default + Send + 'static,
    K: Fn(&mut M, Cursor) -> bool + Clone + Send + Sync + 'static,
{
    follow(committed, cursor, move |after| {
        let (db, tenant, keep) = (db.clone(), tenant.clone(), keep.clone());
        async move {
            let page = self::after(&db, &tenant, after, PAGE).await?;
            page.into_iter()
                .map(|e| {
                    let mut m = M::decode(e.payload.as_slice())
                        .map_err(|err| AppError::Internal(err.into()))?;
                    let kept = keep(&mut m, e.cursor);
                    Ok((e.cursor, kept.then_some(m)))
                })
                .collect()
        }
    })
}

/// Follows every tenant's `event_log` after `cursor`, each event decoded as
/// `M` and given its cursor by `stamp`, with its tenant: the backlog, then
/// new events as they commit (see [`follow`]). For service-only streams.
pub fn watch_all<M, S>(
    db: Db,
    committed: Arc<Notify>,
    cursor: Cursor,
    stamp: S,
) -> mpsc::Receiver<Result<(String, M), AppError>>
where
    M: prost::Message + Default + Send + 'static,
    S: Fn(&mut M, Cursor) + Clone + Send + Sync + 'static,
{
    follow(committed, cursor, move |after| {
        let (db, stamp) = (db.clone(), stamp.clone());
        async move {
            let page = after_any(&db, after, PAGE).await?;
            page.into_iter()
                .map(|(tenant, e)| {
                    let mut m = M::decode(e.payload.as_slice())
                        .map_err(|err| AppError::Internal(err.into()))?;
                    stamp(&mut m, e.cursor);
                    Ok((e.cursor, Some((tenant, m))))
                })
                .collect()
        }
    })
}

/// The SQL value of a new event's `commit_order`: 0 on SQLite (one writer,
/// commits in `seq` order), the writing transaction's id on PostgreSQL.
pub fn commit_order_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "0",
        Backend::Postgres => "pg_current_xact_id()::text::bigint",
    }
}

/// The SQL condition (starting with AND) a reader adds so that no event can
/// still commit behind its cursor: on PostgreSQL, only events of transactions
/// older than every transaction still running.
pub fn visible_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "",
        Backend::Postgres => {
            "AND commit_order < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        }
    }
}

/// Events read per page.
pub const PAGE: i64 = 256;
