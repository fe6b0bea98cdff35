//! Exactly-once effects over at-least-once delivery: the outbox relay across a
//! crash, competing job runners, and idempotency keys. Both backends.
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use boomerang_common::{
    backend_tests,
    db::{Db, Migrations},
    error::AppError,
    idempotency::{self, Claim, IdempotencyKey},
    jobs::{self, Handler, Job, Runner, RunnerConfig},
    outbox,
    tenant::TenantId,
    testing::{TestBackend, TestDb},
    time::now_micros,
};
use boomerang_proto::{common::v1::Money, wallet::v1::CreditRequest};
use prost::Message as _;
use sqlx::{Executor as _, Row as _};
use tokio::sync::Notify;

static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
static PLUMBING_ONLY: Migrations = Migrations {
    sqlite: &NONE,
    postgres: &NONE,
};

async fn fresh(backend: TestBackend, name: &str) -> anyhow::Result<(Db, TestDb)> {
    let test_db = TestDb::fresh(backend, name).await?;
    let db = Db::connect(&test_db.config, &PLUMBING_ONLY).await?;
    Ok((db, test_db))
}

fn fast(lease_ms: u64) -> RunnerConfig {
    RunnerConfig {
        poll_interval_ms: 10,
        lease_ms,
        backoff_base_ms: 10,
        ..RunnerConfig::default()
    }
}

fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"))
}

/// A downstream service that applies each credit once per idempotency key.
#[derive(Clone)]
struct Receiver {
    db: Db,
}

impl Receiver {
    async fn new(db: Db) -> anyhow::Result<Self> {
        db.pool()
            .execute("CREATE TABLE effects (order_ref TEXT NOT NULL)")
            .await?;
        Ok(Self { db })
    }

    async fn credit(&self, req: &CreditRequest) -> Result<CreditRequest, AppError> {
        let key = IdempotencyKey::new(&tenant(), "test.Credit", &req.idempotency_key)?;
        let mut tx = self.db.begin().await?;
        if let Claim::Replay(first) = idempotency::claim(&mut tx, &key, req, now_micros()).await? {
            return Ok(first);
        }
        sqlx::query("INSERT INTO effects (order_ref) VALUES ($1)")
            .bind(&req.customer_id)
            .execute(&mut *tx)
            .await?;
        idempotency::complete(&mut tx, &key, req).await?;
        tx.commit().await?;
        Ok(req.clone())
    }

    async fn effects(&self) -> anyhow::Result<i64> {
        let row = self
            .db
            .pool()
            .fetch_one("SELECT COUNT(*) AS n FROM effects")
            .await?;
        Ok(row.try_get("n")?)
    }
}

/// The relay's handler: sends, then (the first time) "crashes" before the job is marked done.
struct Relay {
    receiver: Receiver,
    crash_after_send: AtomicBool,
    crashed: Arc<Notify>,
}

impl Handler for Relay {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let mut req = CreditRequest::decode(job.payload.as_slice())?;
        req.idempotency_key = job.dedupe_key.clone();
        self.receiver.credit(&req).await?;
        if self.crash_after_send.swap(false, Ordering::SeqCst) {
            self.crashed.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

async fn job_state(db: &Db) -> anyhow::Result<(Option<i64>, i64)> {
    let row = db
        .pool()
        .fetch_one("SELECT done_at, attempts FROM jobs")
        .await?;
    Ok((row.try_get("done_at")?, row.try_get("attempts")?))
}

backend_tests! {
    async fn outbox_delivers_once_across_a_crash_between_send_and_mark(backend) -> anyhow::Result<()> {
        let (sender, _s) = fresh(backend, "sender").await?;
        let (receiver_db, _r) = fresh(backend, "receiver").await?;
        let receiver = Receiver::new(receiver_db).await?;

        // The business write and its message commit together.
        let message = CreditRequest {
            customer_id: "c-1".into(),
            amount: Some(Money { amount: "5.00".into(), asset: "EUR".into() }),
            ..CreditRequest::default()
        };
        let mut tx = sender.begin().await?;
        outbox::enqueue(&mut tx, &tenant(), "test.credit", "acme:order-1:v1", now_micros(), &message).await?;
        // Enqueueing the same fact again (a retried request) adds nothing.
        outbox::enqueue(&mut tx, &tenant(), "test.credit", "acme:order-1:v1", now_micros(), &message).await?;
        tx.commit().await?;

        let crashed = Arc::new(Notify::new());
        let first = outbox::relay(sender.clone(), "test.credit", Relay {
            receiver: receiver.clone(),
            crash_after_send: AtomicBool::new(true),
            crashed: crashed.clone(),
        }, fast(300));
        let running = tokio::spawn(first.run_until(std::future::pending()));
        tokio::time::timeout(Duration::from_secs(10), crashed.notified()).await?;
        running.abort(); // the relay process dies after the call, before marking the job done
        let _ = running.await;
        assert_eq!(receiver.effects().await?, 1);
        assert_eq!(job_state(&sender).await?.0, None, "not marked done before the crash");

        // After a restart the lease lapses and the message is sent again, with the same key.
        let second = outbox::relay(sender.clone(), "test.credit", Relay {
            receiver: receiver.clone(),
            crash_after_send: AtomicBool::new(false),
            crashed,
        }, fast(300));
        let running = tokio::spawn(second.run_until(std::future::pending()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let attempts = loop {
            let (done, attempts) = job_state(&sender).await?;
            if done.is_some() {
                break attempts;
            }
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "job never completed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        running.abort();
        assert_eq!(attempts, 2, "delivered twice");
        assert_eq!(receiver.effects().await?, 1, "applied once");
        Ok(())
    }

    async fn a_past_due_job_runs_once_with_two_runners_competing(backend) -> anyhow::Result<()> {
        let (db, _t) = fresh(backend, "jobs").await?;
        let mut tx = db.begin().await?;
        let past = now_micros() - 3_600_000_000;
        for i in 0..40 {
            jobs::schedule(&mut tx, &tenant(), "test.settle", &format!("job-{i}"), past, now_micros(), b"").await?;
        }
        tx.commit().await?;

        #[derive(Clone, Default)]
        struct Count(Arc<Mutex<HashMap<String, u32>>>);
        impl Handler for Count {
            async fn handle(&self, job: &Job) -> anyhow::Result<()> {
                tokio::time::sleep(Duration::from_millis(2)).await;
                let mut runs = self.0.lock().map_err(|e| anyhow::anyhow!("{e}"))?;
                *runs.entry(job.dedupe_key.clone()).or_default() += 1;
                Ok(())
            }
        }
        let runs = Count::default();
        let small_batches = RunnerConfig { batch_size: 3, ..fast(30_000) };
        let a = Runner::new(db.clone(), "test.settle", runs.clone(), small_batches.clone());
        let b = Runner::new(db.clone(), "test.settle", runs.clone(), small_batches);
        let (ran_a, ran_b) = tokio::join!(drain(&a), drain(&b));
        let (ran_a, ran_b) = (ran_a?, ran_b?);
        assert_eq!(ran_a + ran_b, 40);
        let runs = runs.0.lock().map_err(|e| anyhow::anyhow!("{e}"))?;
        assert_eq!(runs.len(), 40);
        assert!(runs.values().all(|&n| n == 1), "a job ran twice: {runs:?}");
        Ok(())
    }

    async fn a_waiting_job_is_never_given_up_and_a_refused_one_is_parked_at_once(backend) -> anyhow::Result<()> {
        let (db, _t) = fresh(backend, "waiting").await?;
        let mut tx = db.begin().await?;
        jobs::schedule(&mut tx, &tenant(), "test.wait", "w-1", 0, now_micros(), b"").await?;
        jobs::schedule(&mut tx, &tenant(), "test.wait", "fail-1", 0, now_micros(), b"").await?;
        jobs::schedule(&mut tx, &tenant(), "test.wait", "never-1", 0, now_micros(), b"").await?;
        tx.commit().await?;
        struct Waits;
        impl Handler for Waits {
            async fn handle(&self, job: &Job) -> anyhow::Result<()> {
                if job.dedupe_key.starts_with("w-") {
                    Err(jobs::NotYet("the credit is on its way".into()).into())
                } else if job.dedupe_key.starts_with("never-") {
                    Err(jobs::Permanent("refused as invalid".into()).into())
                } else {
                    anyhow::bail!("refused")
                }
            }
        }
        let cfg = RunnerConfig { max_attempts: 2, backoff_base_ms: 1, backoff_max_ms: 1, ..fast(30_000) };
        let runner = Runner::new(db.clone(), "test.wait", Waits, cfg);
        for _ in 0..5 {
            runner.run_once().await?;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let rows = db.pool().fetch_all("SELECT dedupe_key, attempts, failed_at FROM jobs ORDER BY dedupe_key").await?;
        let state: Vec<(String, i64, bool)> = rows.iter().map(|r| {
            Ok::<_, sqlx::Error>((r.try_get("dedupe_key")?, r.try_get("attempts")?, r.try_get::<Option<i64>, _>("failed_at")?.is_some()))
        }).collect::<Result<_, _>>()?;
        assert_eq!(state[0], ("fail-1".to_owned(), 2, true), "an error gives up after max_attempts");
        assert_eq!(state[1], ("never-1".to_owned(), 1, true), "a permanent refusal is parked at once");
        assert_eq!((state[2].0.as_str(), state[2].2), ("w-1", false), "NotYet is retried past max_attempts");
        assert!(state[2].1 > 2, "{state:?}");
        Ok(())
    }

    async fn idempotency_replays_same_payload_and_refuses_another(backend) -> anyhow::Result<()> {
        let (db, _t) = fresh(backend, "idem").await?;
        let receiver = Receiver::new(db).await?;
        let req = CreditRequest {
            idempotency_key: "k-1".into(),
            customer_id: "c-1".into(),
            ..CreditRequest::default()
        };
        receiver.credit(&req).await?;
        receiver.credit(&req).await?;
        assert_eq!(receiver.effects().await?, 1);
        let other = CreditRequest { customer_id: "c-2".into(), ..req.clone() };
        let err = receiver.credit(&other).await.err();
        assert!(matches!(err, Some(AppError::AlreadyExists(_))), "{err:?}");
        assert_eq!(receiver.effects().await?, 1);
        Ok(())
    }
}

/// Runs batches until none is due; returns how many jobs this runner ran.
async fn drain<H: Handler>(runner: &Runner<H>) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let n = runner.run_once().await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}
