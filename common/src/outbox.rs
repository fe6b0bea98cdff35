//! The transactional outbox: cross-service effects that survive crashes.
//!
//! A service writes its own state and [`enqueue`]s the message for another
//! service in the same transaction. The relay is a [`jobs::Runner`] on the
//! topic's queue whose handler makes the call with `job.dedupe_key` as the
//! request's idempotency key. A crash after the call but before the job is
//! marked done makes the relay call again with the same key; the receiver
//! replays its first answer. Nothing is lost (the message committed with the
//! state) and nothing is doubled (the key).
use prost::Message;

use crate::{
    db::{Backend, Conn, json_param},
    error::AppError,
    jobs::{self, Handler, NewJob, Runner, RunnerConfig},
    tenant::TenantId,
};

/// Enqueues `message` for `topic` in the caller's transaction (`now_micros`
/// from the service's clock). `key` must be
/// deterministic (derived from the business fact, e.g. tenant, order and
/// version), so a retried request enqueues nothing twice.
pub async fn enqueue(
    conn: &mut Conn,
    tenant: &TenantId,
    topic: &str,
    key: &str,
    now_micros: i64,
    message: &impl Message,
) -> Result<bool, AppError> {
    enqueue_raw(
        conn,
        tenant,
        topic,
        key,
        now_micros,
        &message.encode_to_vec(),
    )
    .await
}

/// As [`enqueue`], with a payload already encoded (e.g. several messages).
pub async fn enqueue_raw(
    conn: &mut Conn,
    tenant: &TenantId,
    topic: &str,
    key: &str,
    now_micros: i64,
    payload: &[u8],
) -> Result<bool, AppError> {
    // Due at once (run_at 0), whatever clock the relay judges due-ness by.
    jobs::schedule(conn, tenant, topic, key, 0, now_micros, payload).await
}

/// One message of [`enqueue_many`]: its topic, deterministic key and encoded payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing<'a> {
    /// The topic (the relay's queue).
    pub topic: &'a str,
    /// Deterministic key, as for [`enqueue`].
    pub key: String,
    /// The encoded message.
    pub payload: Vec<u8>,
}

/// Enqueues `messages` in the caller's transaction with one statement, as
/// [`enqueue`] would each (a key enqueued before keeps its first message).
pub async fn enqueue_many(
    conn: &mut Conn,
    backend: Backend,
    tenant: &TenantId,
    messages: &[Outgoing<'_>],
    now_micros: i64,
) -> Result<(), AppError> {
    if messages.is_empty() {
        return Ok(());
    }
    // Due at once (run_at 0), whatever clock the relay judges due-ness by.
    let traceparent = crate::telemetry::current_traceparent();
    let jobs: Vec<NewJob<'_>> = messages
        .iter()
        .map(|m| NewJob {
            tenant: tenant.as_str(),
            queue: m.topic,
            dedupe_key: m.key.clone(),
            run_at: 0,
            traceparent: traceparent.clone(),
            payload: hex::encode(&m.payload),
        })
        .collect();
    sqlx::query(&jobs::schedule_many_sql(backend, 1, 2))
        .bind(json_param(&jobs)?)
        .bind(now_micros)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The relay for one topic: a job runner whose handler delivers.
pub fn relay<H: Handler>(
    db: crate::db::Db,
    topic: &'static str,
    deliver: H,
    cfg: RunnerConfig,
) -> Runner<H> {
    Runner::new(db, topic, deliver, cfg).delivering()
}
