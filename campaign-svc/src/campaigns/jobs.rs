//! Campaign timers: start, end, reservation lapse, coupon generation, coupon
//! lapse, and a voucher's moments told. Each runs in its own transaction and
//! re-checks the state, so late or repeated runs change nothing.
use boomerang_common::{
    error::AppError,
    jobs::{Handler, Job, NotYet},
    tenant::TenantId,
};

use super::{
    Campaigns,
    budget::LAPSE,
    coupons::{self, GENERATE, Moment, TOLD, Told},
    lifecycle::{END, START},
};

/// Every queue the campaigns run.
pub const QUEUES: [&str; 6] = [START, END, LAPSE, GENERATE, coupons::LAPSE, TOLD];

/// Runs one queue's jobs.
#[derive(Clone, Debug)]
pub struct Timer {
    campaigns: Campaigns,
    queue: &'static str,
}

impl Timer {
    /// The handler of `queue`.
    pub fn new(campaigns: Campaigns, queue: &'static str) -> Self {
        Self { campaigns, queue }
    }

    /// Runs `job`; `Ok(Some(_))` is a job that must wait for what it names
    /// (nothing it did is kept).
    async fn run(&self, job: &Job) -> Result<Option<NotYet>, AppError> {
        let tenant =
            TenantId::parse(&job.tenant).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
        let mut tx = self.campaigns.db().begin().await?;
        match self.queue {
            START | END => {
                let id = String::from_utf8(job.payload.clone())
                    .map_err(|e| AppError::Internal(e.into()))?;
                if self.queue == START {
                    self.campaigns.on_start(&mut tx, &tenant, &id).await?;
                } else {
                    self.campaigns.on_end(&mut tx, &tenant, &id).await?;
                }
            }
            GENERATE => {
                let (campaign, batch, chunk) = coupons::parse_chunk_key(&job.dedupe_key)
                    .ok_or_else(|| bad_key(&job.dedupe_key))?;
                self.campaigns
                    .generate(&mut tx, &tenant, (campaign, batch, chunk))
                    .await?;
            }
            TOLD => {
                let (moment, code) =
                    Moment::parse(&job.dedupe_key).ok_or_else(|| bad_key(&job.dedupe_key))?;
                let told = self
                    .campaigns
                    .tell_voucher(&mut tx, &tenant, moment, code)
                    .await?;
                if told == Told::Held {
                    return Ok(Some(NotYet(format!(
                        "voucher {code} is held by a checkout"
                    ))));
                }
            }
            coupons::LAPSE => {
                let id = job
                    .dedupe_key
                    .strip_prefix("cr_")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| bad_key(&job.dedupe_key))?;
                self.campaigns
                    .release_coupon(&mut tx, &tenant, id, true)
                    .await?;
            }
            _ => {
                let id = job
                    .dedupe_key
                    .strip_prefix("rs_")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| bad_key(&job.dedupe_key))?;
                self.campaigns
                    .release(&mut tx, &tenant, id, None, None, true)
                    .await?;
            }
        }
        tx.commit().await?;
        self.campaigns.changed(tenant.as_str());
        Ok(None)
    }
}

fn bad_key(key: &str) -> AppError {
    AppError::Internal(anyhow::anyhow!("bad job key {key}"))
}

impl Handler for Timer {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        match self.run(job).await {
            Ok(None) => Ok(()),
            Ok(Some(wait)) => Err(wait.into()),
            Err(e) => Err(anyhow::anyhow!("{e}")),
        }
    }
}
