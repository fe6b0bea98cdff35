//! The accrual facade, one module per aggregate: programs and members
//! (`members`), purchases (`purchases`: preview, prepare, store), returns,
//! review of held purchases, tiers, points conversion, checkout, reports
//! (`reports`, `experiments`, `exports`) and events.
//! Each mutation commits its state and its [`outbound`] messages in one
//! transaction; the [`relay`] delivers them through the [`upstream`] port with
//! deterministic idempotency keys.
pub mod checkout;
pub mod conversion;
pub mod effects;
pub mod events;
pub mod experiments;
pub mod exports;
pub mod guests;
pub mod members;
pub mod outbound;
mod programs;
pub mod purchases;
pub mod relay;
pub mod reports;
pub mod returns;
pub mod review;
pub mod simulation_jobs;
pub mod simulations;
pub mod tiers;
pub mod upstream;

use std::sync::Arc;

use boomerang_common::{db::Db, time::Clock};
use tokio::sync::Notify;

pub use members::{MemberChange, MemberView};
pub use purchases::{Prepared, PurchaseInput, Recorded, RecordedReward};
pub use returns::{ReturnInput, Returned};
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
    programs: programs::Programs,
    /// What-ifs running at once on this replica (each reads a window of purchases).
    simulations: tokio::sync::Semaphore,
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
                programs: programs::Programs::default(),
                simulations: tokio::sync::Semaphore::new(simulations::AT_ONCE),
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
    boomerang_common::id::reference(format!("program:{id}@{version}"))
}
