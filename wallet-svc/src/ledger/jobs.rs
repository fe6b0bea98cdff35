//! The ledger's timers, run by durable job runners: settle pending credits,
//! expire lots, warn before expiry, lapse holds. Each runs in its own
//! transaction and is idempotent, so a retry after a crash changes nothing.
use boomerang_common::{
    error::AppError,
    jobs::{Handler, Job},
    tenant::TenantId,
};

use super::{Ledger, credit, hold, parse_ref};
use crate::domain::hold::HoldStatus;

/// Every queue the ledger runs.
pub const QUEUES: [&str; 4] = [credit::SETTLE, credit::EXPIRE, credit::WARN, hold::LAPSE];

/// Runs one queue's jobs against the ledger.
#[derive(Clone, Debug)]
pub struct Timer {
    ledger: Ledger,
    queue: &'static str,
}

impl Timer {
    /// The handler of `queue`.
    pub fn new(ledger: Ledger, queue: &'static str) -> Self {
        Self { ledger, queue }
    }

    async fn run(&self, job: &Job) -> Result<(), AppError> {
        let tenant =
            TenantId::parse(&job.tenant).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
        let bad_key = || AppError::Internal(anyhow::anyhow!("bad job key {}", job.dedupe_key));
        let db = self.ledger.db().clone();
        let mut tx = db.begin().await?;
        match self.queue {
            credit::SETTLE | credit::EXPIRE | credit::WARN => {
                let id = parse_ref("cr", &job.dedupe_key).ok_or_else(bad_key)?;
                match self.queue {
                    credit::SETTLE => self.ledger.settle(&mut tx, &tenant, id).await?,
                    credit::EXPIRE => self.ledger.expire(&mut tx, &tenant, id).await?,
                    _ => self.ledger.warn_expiry(&mut tx, &tenant, id).await?,
                }
            }
            _ => {
                let id = parse_ref("hd", &job.dedupe_key).ok_or_else(bad_key)?;
                self.ledger
                    .release(&mut tx, &tenant, id, HoldStatus::Expired)
                    .await?;
            }
        }
        tx.commit().await?;
        self.ledger.committed();
        Ok(())
    }
}

impl Handler for Timer {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        self.run(job).await.map_err(|e| anyhow::anyhow!("{e}"))
    }
}
