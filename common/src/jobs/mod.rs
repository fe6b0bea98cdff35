//! Durable jobs: rows whose time has come.
//!
//! A job is scheduled with [`schedule`] in the same transaction as the write
//! that needs it (a pending credit and its settlement, an order and its outbox
//! message), so neither exists without the other. [`Runner`]s poll for due
//! jobs of one queue and lease a batch (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so replicas never take the same row; SQLite's single writer
//! does the same). A job is marked done after its handler succeeds; if the
//! runner dies in between, the lease lapses and another runner retries it.
//! Delivery is therefore at least once, and handlers make the effect exactly
//! once by keying it on [`Job::dedupe_key`] (an idempotency key downstream, a
//! conditional update locally).
//!
//! A job that cannot succeed is parked (`failed_at`), never retried forever
//! nor silently dropped; [`admin`] lets an operator list, retry or discard it.
pub mod admin;

use std::{future::Future, sync::Arc, time::Duration};

use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use tokio::{sync::Notify, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::{
    db::{Conn, Db},
    error::AppError,
    tenant::TenantId,
    time::{Clock, micros},
};

/// A leased job.
#[derive(Clone, Debug)]
pub struct Job {
    /// Row id.
    pub id: i64,
    /// The tenant it belongs to.
    pub tenant: String,
    /// Deterministic key given at scheduling; use it as the downstream idempotency key.
    pub dedupe_key: String,
    /// What the handler needs.
    pub payload: Vec<u8>,
    /// 1 on the first attempt.
    pub attempts: i64,
    /// W3C trace context of the request that scheduled it.
    pub traceparent: Option<String>,
}

/// A handler's answer meaning "not yet": the job waits for another effect
/// (e.g. a reversal for a credit still on its way). It is retried with the
/// usual backoff but never given up on, whatever `max_attempts` says.
#[derive(Debug)]
pub struct NotYet(pub String);

impl std::fmt::Display for NotYet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not yet: {}", self.0)
    }
}

impl std::error::Error for NotYet {}

/// A handler's answer meaning "never": retrying cannot change it (another
/// service refused the request as invalid). The job is parked as failed at
/// once, for an operator, instead of being retried `max_attempts` times.
#[derive(Debug)]
pub struct Permanent(pub String);

impl std::fmt::Display for Permanent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused for good: {}", self.0)
    }
}

impl std::error::Error for Permanent {}

/// Runs jobs of one queue. The effect must be idempotent on `job.dedupe_key`.
pub trait Handler: Send + Sync + 'static {
    /// Does the work; an error schedules a retry with backoff.
    fn handle(&self, job: &Job) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// How a runner polls and retries.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunnerConfig {
    /// Sleep between polls when idle.
    pub poll_interval_ms: u64,
    /// How long a leased job is ours before another runner may take it.
    pub lease_ms: u64,
    /// Jobs leased per poll (and run concurrently).
    pub batch_size: u32,
    /// Attempts before a job is marked failed and left for an operator.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    /// Longest retry delay.
    pub backoff_max_ms: u64,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            poll_interval_ms: 500,
            lease_ms: 30_000,
            batch_size: 32,
            max_attempts: 20,
            backoff_base_ms: 500,
            backoff_max_ms: 300_000,
        }
    }
}

impl RunnerConfig {
    /// Checks the values make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.poll_interval_ms == 0 || self.lease_ms == 0 || self.batch_size == 0 {
            return Err("jobs: poll_interval_ms, lease_ms and batch_size must be > 0".into());
        }
        if self.max_attempts == 0 {
            return Err("jobs: max_attempts must be > 0".into());
        }
        Ok(())
    }

    fn backoff(&self, attempts: i64) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        let ms = self.backoff_base_ms.saturating_mul(1 << exp);
        Duration::from_millis(ms.min(self.backoff_max_ms))
    }
}

/// Schedules a job in the caller's transaction to run at `run_at_micros`
/// (`now_micros`, from the service's clock, is when it was scheduled).
/// Scheduling the same (tenant, queue, dedupe_key) twice keeps the first;
/// returns whether it was new.
/// The current trace context is stored with it, so the job's run (an outbox
/// delivery, a timer) continues the trace of the request that scheduled it.
pub async fn schedule(
    conn: &mut Conn,
    tenant: &TenantId,
    queue: &str,
    dedupe_key: &str,
    run_at_micros: i64,
    now_micros: i64,
    payload: &[u8],
) -> Result<bool, AppError> {
    let inserted = sqlx::query(
        "INSERT INTO jobs (tenant_id, queue, dedupe_key, payload, run_at, created_at, traceparent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(queue)
    .bind(dedupe_key)
    .bind(payload)
    .bind(run_at_micros)
    .bind(now_micros)
    .bind(crate::telemetry::current_traceparent())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// A job for [`schedule_many_sql`].
#[derive(Clone, Debug, Serialize)]
pub struct NewJob<'a> {
    /// Tenant.
    #[serde(rename = "t")]
    pub tenant: &'a str,
    /// Queue.
    #[serde(rename = "q")]
    pub queue: &'a str,
    /// Deterministic key.
    #[serde(rename = "k")]
    pub dedupe_key: String,
    /// Due time, unix microseconds.
    #[serde(rename = "at")]
    pub run_at: i64,
    /// W3C trace context of the request that scheduled it.
    #[serde(rename = "tp")]
    pub traceparent: Option<String>,
    /// The payload, hex-encoded (empty: none, as for a timer).
    #[serde(rename = "p")]
    pub payload: String,
}

/// The statement that schedules many jobs at once (as
/// [`schedule`], a (tenant, queue, key) seen before keeps the first): `$json` the jobs as JSON
/// ([`NewJob`]s), `$now` the time; for embedding in a service's own multi-row statement.
pub fn schedule_many_sql(backend: crate::db::Backend, json: usize, now: usize) -> String {
    use crate::db::{Col, json_rows};
    let rows = json_rows(
        backend,
        json,
        &[
            ("t", Col::Text),
            ("q", Col::Text),
            ("k", Col::Text),
            ("at", Col::Int),
            ("tp", Col::Text),
            ("p", Col::Text),
        ],
    );
    format!(
        "INSERT INTO jobs (tenant_id, queue, dedupe_key, payload, run_at, created_at, traceparent) \
         SELECT r.t, r.q, r.k, {payload}, r.at, ${now}, r.tp FROM {rows} WHERE true ON CONFLICT DO NOTHING",
        payload = crate::db::unhex(backend, "r.p"),
    )
}

/// Polls one queue and runs its due jobs.
pub struct Runner<H> {
    db: Db,
    queue: &'static str,
    handler: Arc<H>,
    cfg: RunnerConfig,
    wake: Arc<Notify>,
    clock: Clock,
    kind: &'static str,
}

/// How often a runner samples its queue's backlog for metrics.
const BACKLOG_SAMPLE: Duration = Duration::from_secs(15);

impl<H: Handler> Runner<H> {
    /// A runner for `queue`.
    pub fn new(db: Db, queue: &'static str, handler: H, cfg: RunnerConfig) -> Self {
        Self {
            db,
            queue,
            handler: Arc::new(handler),
            cfg,
            wake: Arc::new(Notify::new()),
            clock: Clock::system(),
            kind: "timer",
        }
    }

    /// Labels its metrics `kind="outbox"` (deliveries to other services)
    /// instead of `"timer"`.
    pub fn delivering(mut self) -> Self {
        self.kind = "outbox";
        self
    }

    /// Decides what is due by `clock` (tests use a manual one).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Notify it after committing a job due now, to skip the poll wait.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until `shutdown` resolves; a batch in flight finishes first.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let idle = Duration::from_millis(self.cfg.poll_interval_ms);
        let mut sampled: Option<tokio::time::Instant> = None;
        loop {
            if sampled.is_none_or(|at| at.elapsed() >= BACKLOG_SAMPLE) {
                sampled = Some(tokio::time::Instant::now());
                if let Err(e) = self.sample_backlog().await {
                    tracing::debug!(queue = self.queue, error = ?e, "backlog sample failed");
                }
            }
            let ran = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(queue = self.queue, error = ?e, "job poll failed");
                    0
                }
            };
            if ran > 0 {
                continue; // more may be due: poll again at once
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(idle) => {}
            }
        }
        tracing::debug!(queue = self.queue, "job runner stopped");
    }

    /// Publishes how many jobs are due and not done, and how long the oldest
    /// has waited (for the outbox: the delivery lag).
    async fn sample_backlog(&self) -> sqlx::Result<()> {
        let now = self.clock.now();
        let row = sqlx::query(
            // Outbox messages are due at once (run_at 0): their age counts from creation.
            "SELECT COUNT(*) AS due, MIN(CASE WHEN run_at = 0 THEN created_at ELSE run_at END) AS oldest FROM jobs \
             WHERE queue = $1 AND done_at IS NULL AND failed_at IS NULL AND run_at <= $2",
        )
        .bind(self.queue)
        .bind(now)
        .fetch_one(self.db.pool())
        .await?;
        let due: i64 = row.try_get("due")?;
        let oldest: Option<i64> = row.try_get("oldest")?;

        let labels = [("queue", self.queue), ("kind", self.kind)];
        #[allow(clippy::cast_precision_loss)] // gauges
        {
            metrics::gauge!("boomerang_jobs_backlog", &labels).set(due as f64);
            let age = oldest.map_or(0, |t| (now - t).max(0));
            metrics::gauge!("boomerang_jobs_oldest_due_seconds", &labels).set(age as f64 / 1e6);
        }
        Ok(())
    }

    /// Leases one batch of due jobs and runs it; returns how many ran. The
    /// jobs that succeeded are marked done together, in one statement.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let jobs = self.lease().await?;
        let n = jobs.len();
        let done: Vec<i64> = futures::stream::iter(jobs)
            .map(|job| self.run(job))
            .buffer_unordered(n.max(1))
            .filter_map(std::future::ready)
            .collect()
            .await;
        if let Err(e) = self.mark_done(&done).await {
            // The leases will lapse and the jobs run again; their effects are idempotent.
            tracing::warn!(queue = self.queue, jobs = done.len(), error = ?e, "could not record jobs done");
        }
        Ok(n)
    }

    async fn lease(&self) -> anyhow::Result<Vec<Job>> {
        let now = self.clock.now();
        let sql = format!(
            "UPDATE jobs SET locked_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE queue = $2 AND done_at IS NULL \
               AND failed_at IS NULL AND run_at <= $3 \
               AND (locked_until IS NULL OR locked_until < $3) \
               ORDER BY run_at, id LIMIT $4 {}) \
             RETURNING id, tenant_id, dedupe_key, payload, attempts, run_at, created_at, traceparent",
            self.db.skip_locked()
        );
        let lease = micros(Duration::from_millis(self.cfg.lease_ms));
        let mut conn = self.db.single().await?;
        let rows = sqlx::query(&sql)
            .bind(now.saturating_add(lease))
            .bind(self.queue)
            .bind(now)
            .bind(i64::from(self.cfg.batch_size))
            .fetch_all(&mut *conn)
            .await?;
        conn.finish().await?;
        rows.iter()
            .map(|r| {
                let lag = lag_micros(now, r.try_get("run_at")?, r.try_get("created_at")?);
                metrics::histogram!("boomerang_job_lag_seconds", "queue" => self.queue)
                    .record(lag as f64 / 1e6);
                Ok(Job {
                    id: r.try_get("id")?,
                    tenant: r.try_get("tenant_id")?,
                    dedupe_key: r.try_get("dedupe_key")?,
                    payload: r.try_get("payload")?,
                    attempts: r.try_get("attempts")?,
                    traceparent: r.try_get("traceparent")?,
                })
            })
            .collect()
    }

    /// Runs a job; its id when it succeeded (a failure is recorded here).
    async fn run(&self, job: Job) -> Option<i64> {
        let span = tracing::info_span!(
            "job.run",
            queue = self.queue,
            job = job.id,
            attempt = job.attempts
        );
        if let Some(traceparent) = &job.traceparent {
            crate::telemetry::adopt_traceparent(&span, traceparent);
        }
        let result = self.handler.handle(&job).instrument(span).await;
        let outcome = if result.is_ok() { "done" } else { "retry" };
        metrics::counter!("boomerang_jobs_total", "queue" => self.queue, "outcome" => outcome)
            .increment(1);
        match result {
            Ok(()) => Some(job.id),
            Err(e) => {
                tracing::warn!(queue = self.queue, job = job.id, attempts = job.attempts, error = ?e, "job failed");
                if let Err(e) = self.mark_failed(&job, &e).await {
                    // The lease will lapse and the job run again; its effect is idempotent.
                    tracing::warn!(queue = self.queue, job = job.id, error = ?e, "could not record job outcome");
                }
                None
            }
        }
    }

    async fn mark_done(&self, ids: &[i64]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let backend = self.db.backend();
        let sql = format!(
            "UPDATE jobs SET done_at = $1, locked_until = NULL, last_error = NULL WHERE {}",
            crate::db::in_ids(backend, "id", 2)
        );
        let mut conn = self.db.single().await?;
        sqlx::query(&sql)
            .bind(self.clock.now())
            .bind(crate::db::ids_param(backend, ids))
            .execute(&mut *conn)
            .await?;
        conn.finish().await?;
        Ok(())
    }

    async fn mark_failed(&self, job: &Job, err: &anyhow::Error) -> sqlx::Result<()> {
        let now = self.clock.now();
        let waiting = err.downcast_ref::<NotYet>().is_some();
        let refused = err.downcast_ref::<Permanent>().is_some();
        let give_up = refused || (!waiting && job.attempts >= i64::from(self.cfg.max_attempts));
        if give_up {
            metrics::counter!("boomerang_jobs_parked_total", "queue" => self.queue).increment(1);
        }
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE jobs SET locked_until = NULL, run_at = $1, last_error = $2, failed_at = $3 \
             WHERE id = $4",
        )
        .bind(now.saturating_add(micros(self.cfg.backoff(job.attempts))))
        .bind(format!("{err:#}").chars().take(2_000).collect::<String>())
        .bind(give_up.then_some(now))
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
}

/// How long a job taken at `now` waited: since it was due (`run_at`), or for
/// an outbox message (due at once: `run_at` 0) since it was written.
fn lag_micros(now: i64, run_at: i64, created_at: i64) -> i64 {
    let due = if run_at == 0 { created_at } else { run_at };
    (now - due).max(0)
}

/// Runners started beside a server and stopped with it.
#[derive(Debug, Default)]
pub struct Background {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    /// Starts `runner` until [`Background::stop`].
    pub fn spawn<H: Handler>(&mut self, runner: Runner<H>) {
        let stop = self.stop.clone();
        self.tasks.push(tokio::spawn(async move {
            runner
                .run_until(async move { stop.cancelled().await })
                .await;
        }));
    }

    /// Stops every runner once its batch in flight is done.
    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "job runner ended abnormally");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_from_when_a_job_was_due() {
        let now = 1_767_225_600_000_000;
        // An outbox message written 2 s ago: 2 s, not 56 years since the epoch.
        assert_eq!(lag_micros(now, 0, now - 2_000_000), 2_000_000);
        // A timer due 1 s ago.
        assert_eq!(
            lag_micros(now, now - 1_000_000, now - 86_400_000_000),
            1_000_000
        );
        // Taken early (clock skew between replicas): no negative lag.
        assert_eq!(lag_micros(now, now + 5, now), 0);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let cfg = RunnerConfig {
            backoff_base_ms: 100,
            backoff_max_ms: 1_000,
            ..RunnerConfig::default()
        };
        assert_eq!(cfg.backoff(1), Duration::from_millis(100));
        assert_eq!(cfg.backoff(2), Duration::from_millis(200));
        assert_eq!(cfg.backoff(4), Duration::from_millis(800));
        assert_eq!(cfg.backoff(5), Duration::from_millis(1_000));
        assert_eq!(cfg.backoff(500), Duration::from_millis(1_000));
    }
}
