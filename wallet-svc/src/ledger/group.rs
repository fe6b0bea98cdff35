//! Group commit of credits: a writer task per shard takes every credit
//! queued (up to `max_batch`), writes them in one transaction and answers
//! each caller after the commit. A customer's credits always go to the same
//! shard, so they are written in the order they arrived. A credit refused
//! alone (invalid, a balance overflow) is answered alone; if the batch itself
//! fails, each credit is written again on its own, so one bad credit never
//! fails its neighbours.
use std::{hash::BuildHasher as _, marker::PhantomData, time::Duration};

use boomerang_common::{
    db::Backend,
    error::AppError,
    idempotency::{self, IdempotencyKey},
    telemetry::current_traceparent,
    tenant::TenantId,
};
use futures::future::BoxFuture;
use prost::Message;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::{
    Credited, Ledger,
    credit_batch::{Item, Outcome},
};
use crate::domain::command::Credit;

/// The idempotency scope of credits.
pub const SCOPE: &str = "wallet.Credit";

/// Group commit settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupCommitConfig {
    /// Off: each credit in its own transaction, as before group commit.
    pub enabled: bool,
    /// Writer tasks, each with its own transaction in flight (customers are
    /// spread over them by hash).
    pub shards: usize,
    /// Most credits written in one transaction.
    pub max_batch: usize,
    /// Longest wait, microseconds, for callers to join a batch under load.
    pub linger_us: u64,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            shards: 2,
            max_batch: 128,
            linger_us: 1_000,
        }
    }
}

impl GroupCommitConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), String> {
        if self.shards == 0 || self.shards > 64 || self.max_batch == 0 || self.max_batch > 1_000 {
            return Err("ledger.group_commit: shards must be 1..=64 and max_batch 1..=1000".into());
        }
        if self.linger_us > 100_000 {
            return Err("ledger.group_commit.linger_us must be at most 100000 (0.1 s)".into());
        }
        Ok(())
    }
}

struct Queued<R> {
    item: Item,
    reply: oneshot::Sender<Result<R, AppError>>,
}

/// Credits answered as `R` (the wire response), written in groups.
pub struct Credits<R> {
    ledger: Ledger,
    /// None when group commit is off.
    shards: Option<Vec<mpsc::Sender<Queued<R>>>>,
    hasher: std::collections::hash_map::RandomState,
    _answer: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for Credits<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credits")
            .field("shards", &self.shards.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

impl<R> Credits<R>
where
    R: Message + Default + From<Credited> + 'static,
{
    /// Starts the writers; they stop when this is dropped and their queues are empty.
    pub fn start(ledger: &Ledger, cfg: &GroupCommitConfig) -> Self {
        // SQLite has one writer: more shards would only queue on its lock.
        let n = match ledger.db().backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => cfg.shards.max(1),
        };
        let linger = Duration::from_micros(cfg.linger_us);
        let shards = cfg.enabled.then(|| {
            (0..n)
                .map(|_| {
                    let (tx, rx) = mpsc::channel(cfg.max_batch.max(1) * 4);
                    tokio::spawn(writer(ledger.clone(), rx, cfg.max_batch.max(1), linger));
                    tx
                })
                .collect()
        });
        Self {
            ledger: ledger.clone(),
            shards,
            hasher: std::collections::hash_map::RandomState::new(),
            _answer: PhantomData,
        }
    }

    /// Credits a customer once per idempotency key; the answer comes after
    /// the commit of the batch it was written in.
    #[tracing::instrument(name = "boomerang.wallet.ledger.credit", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn credit(
        &self,
        tenant: &TenantId,
        key: &str,
        request: &impl Message,
        cmd: Credit,
    ) -> Result<R, AppError> {
        let key = IdempotencyKey::new(tenant, SCOPE, key)?;
        let item = Item {
            key,
            hash: idempotency::request_hash(request),
            cmd,
            traceparent: current_traceparent(),
        };
        let Some(shards) = &self.shards else {
            return alone(&self.ledger, item).await;
        };
        let spread = self
            .hasher
            .hash_one((tenant.as_str(), item.cmd.customer.as_str()));
        let shard = usize::try_from(spread % shards.len() as u64).unwrap_or(0);
        let (reply, answer) = oneshot::channel();
        shards[shard]
            .send(Queued { item, reply })
            .await
            .map_err(|_| AppError::Unavailable("wallet is shutting down".into()))?;
        answer
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("credit writer stopped")))?
    }
}

/// One shard's writer: what is queued, in one transaction, until the queue
/// closes. Under load (the last batch had company) it waits up to `linger`
/// for as many callers as last time, who are on their way back: else a batch
/// of 31 and one of 1 alternate, and the lone one costs as much as the 31.
async fn writer<R>(
    ledger: Ledger,
    mut queue: mpsc::Receiver<Queued<R>>,
    max_batch: usize,
    linger: Duration,
) where
    R: Message + Default + From<Credited> + 'static,
{
    let mut batch = Vec::with_capacity(max_batch);
    let mut last = 0;
    while queue.recv_many(&mut batch, max_batch).await > 0 {
        let deadline = tokio::time::Instant::now() + linger;
        while batch.len() < last.min(max_batch) {
            let room = max_batch - batch.len();
            let more = queue.recv_many(&mut batch, room);
            match tokio::time::timeout_at(deadline, more).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        last = batch.len();
        metrics::histogram!("boomerang_wallet_group_commit_size").record(batch.len() as f64);
        let (items, replies): (Vec<Item>, Vec<_>) =
            batch.drain(..).map(|q| (q.item, q.reply)).unzip();
        write(&ledger, items, replies).await;
    }
}

async fn write<R>(
    ledger: &Ledger,
    items: Vec<Item>,
    replies: Vec<oneshot::Sender<Result<R, AppError>>>,
) where
    R: Message + Default + From<Credited> + 'static,
{
    match in_one_transaction::<R>(ledger, &items).await {
        Ok(outcomes) => {
            ledger.committed();
            for ((item, reply), outcome) in items.into_iter().zip(replies).zip(outcomes) {
                match outcome {
                    Outcome::Credited(answer) => {
                        let _ = reply.send(Ok(answer));
                    }
                    Outcome::Refused(e) => {
                        let _ = reply.send(Err(e));
                    }
                    Outcome::Replay => {
                        let db = ledger.db().clone();
                        tokio::spawn(async move {
                            let answer = idempotency::replay(&db, &item.key, &item.hash).await;
                            let _ = reply.send(answer);
                        });
                    }
                }
            }
        }
        // Nothing was written and a retry can succeed: every caller is told so.
        Err(AppError::Unavailable(why)) => {
            for reply in replies {
                let _ = reply.send(Err(AppError::Unavailable(why.clone())));
            }
        }
        Err(AppError::Aborted(why)) => {
            for reply in replies {
                let _ = reply.send(Err(AppError::Aborted(why.clone())));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, size = items.len(), "group commit failed: writing each credit alone");
            metrics::counter!("boomerang_wallet_group_commit_fallbacks_total").increment(1);
            for (item, reply) in items.into_iter().zip(replies) {
                let _ = reply.send(alone(ledger, item).await);
            }
        }
    }
}

async fn in_one_transaction<R>(ledger: &Ledger, items: &[Item]) -> Result<Vec<Outcome<R>>, AppError>
where
    R: Message + Default + From<Credited>,
{
    let mut tx = ledger.db().begin().await?;
    let outcomes = ledger.credit_batch(&mut tx, items).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// A credit in its own transaction, as before group commit.
async fn alone<R>(ledger: &Ledger, item: Item) -> Result<R, AppError>
where
    R: Message + Default + From<Credited> + 'static,
{
    let Item { key, hash, cmd, .. } = item;
    let tenant = key.tenant().clone();
    let now = ledger.clock().now();
    let work = ledger.clone();
    let answer = idempotency::once_hashed(
        ledger.db(),
        &key,
        &hash,
        now,
        move |conn| -> BoxFuture<'_, Result<R, AppError>> {
            Box::pin(async move { work.credit(conn, &tenant, cmd).await.map(R::from) })
        },
        |_| None,
    )
    .await;
    if answer.is_ok() {
        ledger.committed();
    }
    answer
}
