//! The campaign facade: each mutation runs in the caller's transaction
//! (idempotency key claimed first), writes its audit entry and its timers
//! (start, end, reservation lapse) in that same transaction.
mod budget;
mod cache;
pub mod coupons;
pub mod events;
pub mod jobs;
mod lifecycle;
mod low;
mod report;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use boomerang_common::{db::Db, time::Clock};
use tokio::sync::Notify;

pub use budget::{Reserve, reservation_ref};
pub use lifecycle::CampaignView;
pub use report::{Place, Report};

use cache::ApplicableCache;

/// Campaigns of one service instance.
#[derive(Clone, Debug)]
pub struct Campaigns {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    clock: Clock,
    cache: ApplicableCache,
    slots: i64,
    committed: Arc<Notify>,
    /// Budgets (tenant, campaign, asset, total) whose `budget.low` was told
    /// and committed: not asked for again.
    told_low: Mutex<HashSet<(String, String, String, i64)>>,
    /// Budgets a refusal is looking at now (one look at a time each), and
    /// whether another refusal came meanwhile (then it looks again).
    looking_low: Mutex<HashMap<(String, String, String, i64), bool>>,
}

impl Campaigns {
    /// Over a migrated database, budgets split over `slots` rows.
    pub fn new(db: Db, clock: Clock, slots: u32) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                cache: ApplicableCache::default(),
                slots: i64::from(slots.max(1)),
                committed: Arc::new(Notify::new()),
                told_low: Mutex::default(),
                looking_low: Mutex::default(),
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

    /// Rows a budget's free capacity is split over.
    pub fn slots(&self) -> i64 {
        self.inner.slots
    }

    /// Forgets cached applicable campaigns of `tenant` (after any change)
    /// and wakes this replica's event watchers.
    pub fn changed(&self, tenant: &str) {
        self.inner.cache.invalidate(tenant);
        self.committed();
    }

    /// Wakes this replica's event watchers (after a commit that may have
    /// appended events).
    pub fn committed(&self) {
        self.inner.committed.notify_waiters();
    }

    fn committed_signal(&self) -> Arc<Notify> {
        self.inner.committed.clone()
    }
}
