//! Calling the webhooks. Due deliveries (the oldest pending one of each
//! webhook's customer, so a customer's events arrive in order) are claimed
//! with a lease and POSTed, signed, each within the configured timeout, at
//! most `per_webhook` at once to one webhook and `in_flight` in all: a slow
//! receiver holds its own permits, nobody else's. A 2xx delivers; anything
//! else is tried again on the retry schedule, then parked as a dead letter.
//! A sender that dies mid-call leaves the lease to lapse, and the delivery
//! is sent again with the same `webhook-id` (receivers de-duplicate on it).
use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use boomerang_common::error::AppError;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::{sync::Semaphore, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::Notifier;
use crate::{
    domain::{retry::Next, signature::Secret, target::Target},
    repo::{AttemptRow, DeliveryRow, Outcome, deliveries, webhooks},
};

/// How long past its timeout a claimed delivery stays claimed.
const LEASE_MARGIN_US: i64 = 30_000_000;
/// Longest error text kept per attempt.
const MAX_ERROR: usize = 256;

/// Resolves webhook hosts, keeping only addresses a delivery may reach.
#[derive(Debug)]
struct Guard {
    allow_private: bool,
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| Target::may_connect(a.ip(), allow))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no address a webhook may reach").into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// The HTTP client webhooks are called with: the timeout, no redirects (a
/// redirect could lead inside), the guarded resolver.
pub fn client(n: &Notifier) -> anyhow::Result<reqwest::Client> {
    let d = n.delivery();
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_millis(d.timeout_ms))
        .connect_timeout(Duration::from_millis(d.timeout_ms.min(5_000)))
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve (and reach) what the guard refuses.
        .no_proxy()
        .dns_resolver(Arc::new(Guard {
            allow_private: d.allow_private_targets,
        }))
        .user_agent(concat!("Boomerang-Webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(d.per_webhook)
        .build()?)
}

/// Calls webhooks until stopped.
#[derive(Clone, Debug)]
pub struct Sender {
    notifier: Notifier,
    http: reqwest::Client,
    all: Arc<Semaphore>,
    per_webhook: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl Sender {
    /// A sender for `notifier`'s deliveries.
    pub fn new(notifier: Notifier) -> anyhow::Result<Self> {
        Ok(Self {
            http: client(&notifier)?,
            all: Arc::new(Semaphore::new(notifier.delivery().in_flight)),
            per_webhook: Arc::default(),
            notifier,
        })
    }

    /// Sends due deliveries until `stop`, then waits for the calls in flight.
    pub async fn run(self, stop: CancellationToken) {
        let poll = Duration::from_millis(self.notifier.delivery().poll_ms);
        let mut calls = JoinSet::new();
        while !stop.is_cancelled() {
            if let Err(e) = self.round(&mut calls).await {
                tracing::warn!(error = %e, "webhook deliveries not read");
            }
            while calls.try_join_next().is_some() {}
            // Every call that ends, and every delivery queued, wakes it.
            tokio::select! {
                () = stop.cancelled() => {}
                () = self.notifier.woken() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
        while calls.join_next().await.is_some() {}
    }

    fn lane(&self, webhook: &str) -> Arc<Semaphore> {
        let mut lanes = self
            .per_webhook
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let cap = self.notifier.delivery().per_webhook;
        lanes
            .entry(webhook.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(cap)))
            .clone()
    }

    /// Claims what is due and has permits, and starts calling it; how many.
    async fn round(&self, calls: &mut JoinSet<()>) -> Result<usize, AppError> {
        let free = self.all.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let n = &self.notifier;
        let now = n.clock().now();
        let limit = i64::try_from(free).unwrap_or(i64::MAX);
        let per_webhook = i64::try_from(n.delivery().per_webhook).unwrap_or(i64::MAX);
        let due = deliveries::due(n.db(), now, limit, per_webhook).await?;
        let mut picked = Vec::new();
        for d in due {
            let Ok(one) = self.all.clone().try_acquire_owned() else {
                break;
            };
            let Ok(lane) = self.lane(&d.webhook_id).try_acquire_owned() else {
                continue;
            };
            picked.push((d, one, lane));
        }
        if picked.is_empty() {
            return Ok(0);
        }
        let timeout = i64::try_from(n.delivery().timeout_ms).unwrap_or(60_000) * 1_000;
        let until = now + timeout + LEASE_MARGIN_US;
        let mut tx = n.db().begin().await?;
        let mut claimed = Vec::with_capacity(picked.len());
        for p in picked {
            if deliveries::claim(&mut tx, p.0.id, now, until).await? {
                claimed.push(p);
            }
        }
        // Its claim fences what the attempt records: a sender whose lease
        // lapsed (and whose delivery another took) changes nothing.
        tx.commit().await?;
        let started = claimed.len();
        for (d, one, lane) in claimed {
            let sender = self.clone();
            calls.spawn(async move {
                if let Err(e) = sender.deliver(&d, until).await {
                    tracing::warn!(delivery = d.id, error = %e, "delivery attempt not recorded");
                }
                // The permits go first, then the sender looks again: the
                // next of this lane may be due, and this webhook has room.
                drop((one, lane));
                sender.notifier.wake();
            });
        }
        Ok(started)
    }

    /// One attempt of `d`, recorded with what it ends the delivery as.
    #[instrument(name = "boomerang.notify.deliveries.send", skip_all,
                 fields(tenant = %d.tenant_id, webhook = %d.webhook_id, event = %d.event_id), err(level = "info"))]
    async fn deliver(&self, d: &DeliveryRow, lease: i64) -> Result<(), AppError> {
        let n = &self.notifier;
        let hook = {
            let mut conn = n.db().pool().acquire().await?;
            webhooks::get(&mut conn, &d.tenant_id, &d.webhook_id).await?
        };
        let Some(hook) = hook.filter(|w| w.state == "active") else {
            // Paused or deleted since it was claimed: the lease lapses and
            // it waits with the webhook (a deleted one's was dropped).
            return Ok(());
        };
        let started = n.clock().now();
        let clock = Instant::now();
        let (status, error) = match self.call(&hook, d, started).await {
            Ok(status) if (200..300).contains(&status) => (status, String::new()),
            Ok(status) => (status, format!("HTTP {status}")),
            Err(e) => (0, e.chars().take(MAX_ERROR).collect()),
        };
        let latency_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
        let attempt = d.attempts + 1;
        let outcome = if error.is_empty() {
            Outcome::Delivered
        } else {
            let first = if d.first_attempt_at == 0 {
                started
            } else {
                d.first_attempt_at
            };
            let round = u32::try_from(attempt - d.replayed_after).unwrap_or(u32::MAX);
            match n
                .policy()
                .next(round, first, n.clock().now(), rand::random())
            {
                Next::At(at) => Outcome::RetryAt(at),
                Next::DeadLetter => Outcome::Dead,
            }
        };
        let row = AttemptRow {
            delivery_id: d.id,
            n: attempt,
            at: started,
            status_code: i64::from(status),
            latency_ms,
            error,
        };
        let mut tx = n.db().begin().await?;
        if !deliveries::attempted(&mut tx, &row, outcome, lease).await? {
            tracing::warn!(
                delivery = d.id,
                "lease lapsed before the attempt was recorded; another sender has it"
            );
            return Ok(());
        }
        tx.commit().await?;
        let label = match outcome {
            Outcome::Delivered => {
                let lag = (n.clock().now() - d.occurred_at).max(0) as f64 / 1e6;
                metrics::histogram!("boomerang_notify_delivery_lag_seconds").record(lag);
                "delivered"
            }
            Outcome::RetryAt(_) => "failed",
            Outcome::Dead => "dead_letter",
        };
        metrics::counter!("boomerang_notify_deliveries_total", "outcome" => label).increment(1);
        Ok(())
    }

    /// POSTs `d` to `hook`, signed; the receiver's status.
    async fn call(
        &self,
        hook: &webhooks::WebhookRow,
        d: &DeliveryRow,
        now: i64,
    ) -> Result<u16, String> {
        let allow = self.notifier.delivery().allow_private_targets;
        let target = Target::parse(&hook.url, allow).map_err(|e| format!("target refused: {e}"))?;
        let ts = now / 1_000_000;
        let body = d.body.as_bytes();
        let mut signatures = vec![sign(&hook.secret, &d.event_id, ts, body)?];
        if !hook.previous_secret.is_empty() && hook.previous_until > now {
            signatures.push(sign(&hook.previous_secret, &d.event_id, ts, body)?);
        }
        let answer = self
            .http
            .post(target.url())
            .header(
                "content-type",
                "application/cloudevents+json; charset=utf-8",
            )
            .header("webhook-id", &d.event_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signatures.join(" "))
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(answer.status().as_u16())
    }
}

fn sign(secret: &str, id: &str, ts: i64, body: &[u8]) -> Result<String, String> {
    Ok(Secret::parse(secret)?.sign(id, ts, body))
}

/// What went wrong with a call, with its causes (no response body).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
