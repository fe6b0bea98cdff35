//! Publishing on NATS JetStream. The follower queues every public event
//! (in the transaction that moves its source's cursor); the publisher sends
//! the queue oldest first on `<prefix>.<tenant>.<type>` with `Nats-Msg-Id`
//! = the event's id, and removes what JetStream acknowledged. A publisher
//! that dies between JetStream's acknowledgement and the removal sends
//! those again on restart, and JetStream drops them as duplicates (within
//! `duplicate_window_s`): a consumer sees each event once, and none is lost.
//! While NATS is unreachable, events wait in the queue.
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use tokio_util::sync::CancellationToken;

use super::Notifier;
use crate::{config::NatsConfig, repo::bus};

/// Messages published per round at most.
const BATCH: i64 = 256;
/// The longest wait before trying NATS again.
const LONGEST_PAUSE: Duration = Duration::from_secs(30);

/// The subject of an event of `type_name` (`boomerang.reward.pending.v1`)
/// for `tenant`: `<prefix>.<tenant>.reward.pending`.
pub fn subject(prefix: &str, tenant: &str, type_name: &str) -> String {
    let short = crate::domain::envelope::short_name(type_name);
    format!("{prefix}.{tenant}.{short}")
}

/// Connects and makes sure the stream exists with the configured limits.
async fn connect(cfg: &NatsConfig) -> anyhow::Result<jetstream::Context> {
    let client = async_nats::ConnectOptions::new()
        .name("boomerang-notify")
        .connect(cfg.url.as_str())
        .await?;
    let js = jetstream::new(client);
    let wanted = stream::Config {
        name: cfg.stream.clone(),
        subjects: vec![format!("{}.>", cfg.subject_prefix)],
        max_age: Duration::from_secs(cfg.max_age_s),
        max_bytes: cfg.max_bytes,
        duplicate_window: Duration::from_secs(cfg.duplicate_window_s),
        num_replicas: cfg.replicas,
        ..stream::Config::default()
    };
    js.get_or_create_stream(wanted)
        .await
        .map_err(|e| anyhow::anyhow!("stream {}: {e}", cfg.stream))?;
    Ok(js)
}

impl Notifier {
    /// Publishes the queue on JetStream until `stop`: connected again after
    /// every failure, waiting longer each time (up to 30 s).
    pub async fn publish(&self, cfg: NatsConfig, stop: CancellationToken) {
        let mut pause = Duration::from_millis(250);
        while !stop.is_cancelled() {
            match self.publish_until_failure(&cfg, &stop, &mut pause).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "NATS publishing paused");
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn publish_until_failure(
        &self,
        cfg: &NatsConfig,
        stop: &CancellationToken,
        pause: &mut Duration,
    ) -> anyhow::Result<()> {
        let js = connect(cfg).await?;
        // Connected: a later failure starts its waits short again.
        *pause = Duration::from_millis(250);
        let poll = Duration::from_millis(self.delivery().poll_ms);
        while !stop.is_cancelled() {
            let batch = bus::oldest(self.db(), BATCH).await?;
            if batch.is_empty() {
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = self.published_wanted() => {}
                    () = tokio::time::sleep(poll) => {}
                }
                continue;
            }
            // Sent back to back, acknowledged in order.
            let mut acks = Vec::with_capacity(batch.len());
            for m in &batch {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(async_nats::header::NATS_MESSAGE_ID, m.event_id.as_str());
                headers.insert("Content-Type", "application/cloudevents+json");
                let ack = js
                    .publish_with_headers(m.subject.clone(), headers, m.body.clone().into())
                    .await?;
                acks.push(ack);
            }
            let mut done = Vec::with_capacity(batch.len());
            let mut failed = None;
            for (m, ack) in batch.iter().zip(acks) {
                match ack.await {
                    Ok(_) => done.push(m.id),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let mut tx = self.db().begin().await?;
            bus::published(&mut tx, &done).await?;
            tx.commit().await?;
            metrics::counter!("boomerang_notify_published_total").increment(done.len() as u64);
            if let Some(e) = failed {
                anyhow::bail!("not acknowledged: {e}");
            }
        }
        Ok(())
    }
}
