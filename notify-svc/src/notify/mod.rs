//! The facade of notify-svc, split by aggregate: [`webhooks`] (a tenant's
//! endpoints and their secrets), [`deliveries`] (the delivery log and
//! dead-letter replays), [`follow`] (reading each service's event log into
//! deliveries), [`send`] (calling the webhooks) and [`bus`] (publishing on
//! NATS JetStream).
pub mod bus;
pub mod deliveries;
pub mod follow;
pub mod send;
pub mod webhooks;

use std::sync::Arc;

use boomerang_common::{db::Db, time::Clock};

use crate::{config::DeliveryConfig, domain::retry::Policy};

/// notify-svc's operations over its database.
#[derive(Clone, Debug)]
pub struct Notifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    clock: Clock,
    delivery: DeliveryConfig,
    /// The subject prefix on NATS when events are published there.
    bus: Option<String>,
    /// Woken when deliveries are queued or replayed, so the sender does
    /// not wait for its next poll.
    queued: tokio::sync::Notify,
    /// Woken when events are queued for NATS.
    to_publish: tokio::sync::Notify,
}

impl Notifier {
    /// Over `db`, on `clock`, delivering as `delivery` says, and queueing
    /// every event for NATS under subject prefix `bus` when given.
    pub fn new(db: Db, clock: Clock, delivery: DeliveryConfig, bus: Option<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                delivery,
                bus,
                queued: tokio::sync::Notify::new(),
                to_publish: tokio::sync::Notify::new(),
            }),
        }
    }

    /// The NATS subject prefix, when events are published there.
    pub fn bus(&self) -> Option<&str> {
        self.inner.bus.as_deref()
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Delivery settings.
    pub fn delivery(&self) -> &DeliveryConfig {
        &self.inner.delivery
    }

    /// The retry schedule.
    pub fn policy(&self) -> Policy {
        let ms = |v: u64| i64::try_from(v.saturating_mul(1_000)).unwrap_or(i64::MAX);
        let d = &self.inner.delivery;
        Policy {
            first_us: ms(d.retry_first_ms),
            longest_us: ms(d.retry_longest_ms),
            budget_us: ms(d.retry_budget_ms),
        }
    }

    /// Wakes the sender.
    pub(crate) fn wake(&self) {
        self.inner.queued.notify_one();
    }

    /// Waits until woken.
    pub(crate) async fn woken(&self) {
        self.inner.queued.notified().await;
    }

    /// Wakes the publisher.
    pub(crate) fn wake_publisher(&self) {
        self.inner.to_publish.notify_one();
    }

    /// Waits until events are queued for NATS.
    pub(crate) async fn published_wanted(&self) {
        self.inner.to_publish.notified().await;
    }
}
