//! What-if jobs: a what-if too large to answer inline, priced a chunk of
//! pages per job run. Each run reads the job's checkpoint, prices on from
//! it, and in one transaction moves the checkpoint over the step it read
//! (so of two runners on one step only one moves it) and schedules the next
//! step's run. A runner that stops mid-chunk leaves the checkpoint where it
//! was; the run's lease lapses and another runner prices that chunk again.
//! A cancelled job's next run finds it not running and does nothing.
use boomerang_common::{
    db::Conn,
    error::AppError,
    jobs::{self, Handler, Job},
    tenant::TenantId,
};
use tracing::instrument;

use super::{
    Accrual,
    simulations::{Answer, Ask, Checkpoint},
};
use crate::repo::{self, SimulationRow};

/// The queue of what-if runs.
pub const SIMULATION_STEP: &str = "simulation.step";
/// Job queue removing a what-if job [`KEPT_FOR`] after it ended.
pub const SIMULATION_FORGET: &str = "simulation.forget";
/// How long a job that ended is kept, micros: 7 days.
pub const KEPT_FOR: i64 = 7 * 86_400 * 1_000_000;
/// Pages priced per run unless configured (10,000 purchases, about 0.2 s
/// here), well inside a job's lease.
pub const CHUNK: u32 = 20;

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<Self, AppError> {
        Ok(match s {
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            other => {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "a what-if job in state {other:?}"
                )));
            }
        })
    }
}

/// A what-if job as its caller sees it.
#[derive(Clone, Debug)]
pub struct SimulationJob {
    pub id: String,
    pub state: JobState,
    pub read: u64,
    pub total: u64,
    pub created_at: i64,
    pub updated_at: i64,
    pub ask: Ask,
    /// Once succeeded.
    pub answer: Option<Answer>,
    pub error: String,
}

impl SimulationJob {
    fn of(row: SimulationRow) -> Result<Self, AppError> {
        Self::read(row, true)
    }

    /// A job, and its answer once succeeded when `answered`.
    fn read(row: SimulationRow, answered: bool) -> Result<Self, AppError> {
        let state = JobState::parse(&row.state)?;
        let ask: Ask = repo::parse(&row.ask)?;
        let answer = match state {
            JobState::Succeeded if answered => {
                Some(repo::parse::<Checkpoint>(&row.checkpoint)?.answer(&ask)?)
            }
            _ => None,
        };
        Ok(Self {
            id: row.simulation_id,
            state,
            read: u64::try_from(row.purchases_read).unwrap_or_default(),
            total: u64::try_from(row.purchases_total).unwrap_or_default(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            ask,
            answer,
            error: row.error,
        })
    }
}

impl Accrual {
    /// Starts `ask` as job `id`, in the caller's transaction; `total` is
    /// the purchases of its window ([`Accrual::purchases_in`], counted
    /// before: not in a write transaction).
    #[instrument(name = "boomerang.accrual.simulations.start", skip_all, fields(tenant = %tenant, simulation = %id), err(level = "info"))]
    pub async fn start_simulation(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: &str,
        (ask, total): (Ask, u64),
    ) -> Result<SimulationJob, AppError> {
        let now = self.clock().now();
        let row = SimulationRow {
            simulation_id: id.to_owned(),
            ask: repo::json(&ask)?,
            state: JobState::Running.as_str().into(),
            step: 0,
            purchases_read: 0,
            purchases_total: i64::try_from(total).unwrap_or(i64::MAX),
            checkpoint: repo::json(&Checkpoint::start(&ask))?,
            error: String::new(),
            created_at: now,
            updated_at: now,
        };
        repo::insert_simulation(conn, tenant.as_str(), &row).await?;
        jobs::schedule(
            conn,
            tenant,
            SIMULATION_STEP,
            &format!("{id}:0"),
            now,
            now,
            id.as_bytes(),
        )
        .await?;
        SimulationJob::of(row)
    }

    /// Job `id` as it stands; NOT_FOUND if there is none.
    #[instrument(name = "boomerang.accrual.simulations.get", skip_all, fields(tenant = %tenant, simulation = %id), err(level = "info"))]
    pub async fn simulation(&self, tenant: &TenantId, id: &str) -> Result<SimulationJob, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        SimulationJob::of(repo::simulation(&mut conn, tenant.as_str(), id, false).await?)
    }

    /// A page of the tenant's jobs newest first (in `state`, or any), after
    /// `after` (created_at, id), without their answers.
    #[instrument(name = "boomerang.accrual.simulations.list", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn simulations(
        &self,
        tenant: &TenantId,
        state: Option<JobState>,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<SimulationJob>, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        let state = state.map_or("", JobState::as_str);
        let rows = repo::list_simulations(&mut conn, tenant.as_str(), state, after, limit).await?;
        rows.into_iter()
            .map(|row| SimulationJob::read(row, false))
            .collect()
    }

    /// Removes job `id` once it has ended ([`KEPT_FOR`] after).
    #[instrument(name = "boomerang.accrual.simulations.forget", skip_all, fields(tenant = %tenant, simulation = %id), err(level = "info"))]
    async fn forget_simulation(&self, tenant: &TenantId, id: &str) -> Result<(), AppError> {
        let mut conn = self.db().single().await?;
        repo::forget_simulation(&mut conn, tenant.as_str(), id).await?;
        conn.finish().await?;
        Ok(())
    }

    /// Stops job `id`, in the caller's transaction: FAILED_PRECONDITION once
    /// it has succeeded or failed; a cancelled one is answered as it is.
    #[instrument(name = "boomerang.accrual.simulations.cancel", skip_all, fields(tenant = %tenant, simulation = %id), err(level = "info"))]
    pub async fn cancel_simulation(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: &str,
    ) -> Result<SimulationJob, AppError> {
        let now = self.clock().now();
        if repo::cancel_simulation(conn, tenant.as_str(), id, now).await? {
            forget_later(conn, tenant, id, now).await?;
        }
        let job = SimulationJob::of(repo::simulation(conn, tenant.as_str(), id, false).await?)?;
        match job.state {
            JobState::Cancelled => Ok(job),
            done => Err(AppError::Precondition(format!(
                "what-if {id} has {}: there is nothing to cancel",
                done.as_str()
            ))),
        }
    }

    /// Run `step` of job `id`: `chunk` pages priced from its checkpoint. A run of
    /// a step the job has passed (run again after its commit) does nothing.
    /// A job whose question cannot be answered, whose state does not read,
    /// or whose `last` attempt failed is FAILED with the reason, not left
    /// running behind a parked run.
    #[instrument(name = "boomerang.accrual.simulations.step", skip_all, fields(tenant = %tenant, simulation = %id, step), err(level = "info"))]
    async fn step_simulation(
        &self,
        tenant: &TenantId,
        (id, step): (&str, i64),
        (chunk, last): (usize, bool),
    ) -> Result<(), AppError> {
        tracing::Span::current().record("step", step);
        let mut row = {
            let mut conn = self.db().pool().acquire().await?;
            match repo::simulation(&mut conn, tenant.as_str(), id, true).await {
                Err(AppError::NotFound(_)) => return Ok(()),
                found => found?,
            }
        };
        if row.state != JobState::Running.as_str() || row.step != step {
            return Ok(());
        }
        let priced = match (
            repo::parse::<Ask>(&row.ask),
            repo::parse::<Checkpoint>(&row.checkpoint),
        ) {
            (Ok(ask), Ok(at)) => self.advance(tenant, &ask, at, Some(chunk)).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        let state = match priced {
            Ok(at) => {
                row.purchases_read = i64::try_from(at.seen).unwrap_or(i64::MAX);
                row.checkpoint = repo::json(&at)?;
                if at.after.is_none() {
                    JobState::Succeeded
                } else {
                    JobState::Running
                }
            }
            Err(e @ (AppError::NotFound(_) | AppError::Invalid(_) | AppError::Internal(_))) => {
                row.error = failure(&e);
                JobState::Failed
            }
            Err(e) if last => {
                row.error = failure(&e);
                JobState::Failed
            }
            Err(e) => return Err(e),
        };
        row.state = state.as_str().into();
        let now = self.clock().now();
        row.updated_at = now;
        let mut tx = self.db().begin().await?;
        let moved = repo::advance_simulation(&mut tx, tenant.as_str(), &row).await?;
        if moved && state != JobState::Running {
            forget_later(&mut tx, tenant, id, now).await?;
        }
        if moved && state == JobState::Running {
            let next = format!("{id}:{}", step + 1);
            jobs::schedule(
                &mut tx,
                tenant,
                SIMULATION_STEP,
                &next,
                now,
                now,
                id.as_bytes(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Schedules job `id`'s removal [`KEPT_FOR`] after `now`, when it ended.
async fn forget_later(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    now: i64,
) -> Result<(), AppError> {
    let key = format!("{id}:forget");
    jobs::schedule(
        conn,
        tenant,
        SIMULATION_FORGET,
        &key,
        now + KEPT_FOR,
        now,
        id.as_bytes(),
    )
    .await?;
    Ok(())
}

/// Why a job failed, as its caller reads it (bounded).
fn failure(e: &AppError) -> String {
    let why = match e {
        AppError::Internal(_) => "an internal error (see the service's logs)".to_owned(),
        e => e.to_string(),
    };
    why.chars().take(512).collect()
}

/// The runner's handler of [`SIMULATION_STEP`]: the job `{id}:{step}`.
pub struct SimulationSteps {
    pub accrual: Accrual,
    /// Pages a run prices (`simulation_chunk_pages`).
    pub chunk: u32,
    /// The runner's attempts before it parks a run.
    pub max_attempts: u32,
}

impl Handler for SimulationSteps {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let tenant = TenantId::parse(&job.tenant).map_err(anyhow::Error::msg)?;
        let (id, step) = job
            .dedupe_key
            .rsplit_once(':')
            .and_then(|(id, step)| Some((id, step.parse::<i64>().ok()?)))
            .ok_or_else(|| anyhow::anyhow!("a what-if run keyed {:?}", job.dedupe_key))?;
        let chunk = usize::try_from(self.chunk.max(1)).unwrap_or(1);
        let last = job.attempts >= i64::from(self.max_attempts);
        self.accrual
            .step_simulation(&tenant, (id, step), (chunk, last))
            .await?;
        Ok(())
    }
}

/// The runner's handler of [`SIMULATION_FORGET`]: the job `{id}:forget`.
pub struct SimulationForgets(pub Accrual);

impl Handler for SimulationForgets {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let tenant = TenantId::parse(&job.tenant).map_err(anyhow::Error::msg)?;
        let id = job
            .dedupe_key
            .strip_suffix(":forget")
            .ok_or_else(|| anyhow::anyhow!("a what-if removal keyed {:?}", job.dedupe_key))?;
        self.0.forget_simulation(&tenant, id).await?;
        Ok(())
    }
}
