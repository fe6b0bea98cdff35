//! The accrual facade: programs, members, purchases and returns. Each
//! mutation commits its state and its outbox messages (wallet credits and
//! reversals, campaign budget confirmations and releases) in one transaction;
//! the relay delivers them with deterministic idempotency keys.
pub mod events;
pub mod members;
pub mod purchases;
pub mod relay;
pub mod review;
pub mod upstream;

use std::sync::Arc;

use boomerang_common::{db::Db, time::Clock};
use tokio::sync::Notify;

pub use members::MemberView;
pub use purchases::{PurchaseInput, Recorded, RecordedReward, ReturnInput, Returned};
pub use upstream::Upstream;

/// Accrual of one service instance.
#[derive(Clone, Debug)]
pub struct Accrual {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    clock: Clock,
    upstream: Upstream,
    committed: Arc<Notify>,
}

impl Accrual {
    /// Over a migrated database and the upstream services.
    pub fn new(db: Db, clock: Clock, upstream: Upstream) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                upstream,
                committed: Arc::new(Notify::new()),
            }),
        }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Tells this replica's event watchers something was committed.
    pub fn committed(&self) {
        self.inner.committed.notify_waiters();
    }

    fn committed_signal(&self) -> Arc<Notify> {
        self.inner.committed.clone()
    }

    /// The upstream services.
    pub fn upstream(&self) -> &Upstream {
        &self.inner.upstream
    }
}

/// The program's reference in explanations and wallet sources.
pub fn program_ref(id: &str, version: i64) -> String {
    format!("program:{id}@{version}")
}

/// A deterministic idempotency key for an effect of this service (at most 128 characters).
pub fn key(tenant: &str, parts: &[&str]) -> String {
    let mut all = vec![tenant];
    all.extend_from_slice(parts);
    boomerang_common::idempotency::derived_key("acc", &all)
}
