//! Parked jobs for operators: `boomerang.admin.v1.JobService`, as each
//! service serves it over its own `jobs` table.
//!
//! A job's state is read off its columns, so no schema change (and no
//! rollback hazard) was needed for it: `failed_at` set means the service gave
//! up on it (parked); `done_at` set as well means an operator discarded it,
//! and `last_error` then says who, when and why, followed by the error it was
//! parked with. Retrying clears `failed_at`, resets the attempts and makes it
//! due now; the runner takes it on its next poll.
use boomerang_proto::admin::v1::{self as pb, job_service_server::JobService};
use futures::FutureExt as _;
use sqlx::{Row, any::AnyRow};
use tonic::{Request, Response, Status};

use crate::{
    db::{Conn, Db},
    error::{AppError, Violations},
    idempotency::Mutations,
    tenant::{TenantId, actor_of, tenant_of},
    time::{Clock, to_timestamp},
};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;
/// The longest discard reason kept on record.
pub const MAX_REASON: usize = 500;
/// How much of the error a job was parked with a discarded job keeps.
const KEPT_ERROR: usize = 1_000;

const COLUMNS: &str =
    "id, tenant_id, queue, dedupe_key, attempts, last_error, created_at, failed_at, done_at";

/// A service's `JobService`: its own parked jobs.
#[derive(Clone, Debug)]
pub struct JobAdmin {
    db: Db,
    clock: Clock,
    service: pb::Service,
    mutations: Mutations,
}

impl JobAdmin {
    /// The jobs in `db` of `service` (requests naming another service are refused).
    pub fn new(db: Db, clock: Clock, service: pb::Service) -> Self {
        Self {
            mutations: Mutations::new(db.clone(), clock.clone()),
            db,
            clock,
            service,
        }
    }

    fn check_service(&self, v: &mut Violations, raw: i32) {
        match v.known::<pb::Service>("service", raw) {
            Some(s) if s == self.service => {}
            Some(s) => v.add(
                "service",
                format!(
                    "this is {}, not {}",
                    self.service.as_str_name(),
                    s.as_str_name()
                ),
            ),
            None if raw == 0 => v.add("service", "required"),
            None => {}
        }
    }

    fn render(&self, row: &AnyRow) -> Result<pb::Job, AppError> {
        let failed_at: Option<i64> = row.try_get("failed_at")?;
        let done_at: Option<i64> = row.try_get("done_at")?;
        let state = match (failed_at, done_at) {
            (Some(_), Some(_)) => pb::JobState::Discarded,
            (Some(_), None) => pb::JobState::Parked,
            (None, Some(_)) => pb::JobState::Done,
            (None, None) => pb::JobState::Queued,
        };
        let attempts: i64 = row.try_get("attempts")?;
        let created_at: i64 = row.try_get("created_at")?;
        Ok(pb::Job {
            job_id: row.try_get("id")?,
            service: self.service.into(),
            tenant_id: row.try_get("tenant_id")?,
            queue: row.try_get("queue")?,
            dedupe_key: row.try_get("dedupe_key")?,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            last_error: row
                .try_get::<Option<String>, _>("last_error")?
                .unwrap_or_default(),
            state: state.into(),
            created_at: Some(to_timestamp(created_at)),
            parked_at: failed_at.map(to_timestamp),
            discarded_at: failed_at.and(done_at).map(to_timestamp),
        })
    }

    async fn job(&self, conn: &mut Conn, id: i64) -> Result<pb::Job, AppError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no job {id}")))?;
        self.render(&row)
    }

    /// The job after a conditional update of a parked one: NOT_FOUND when
    /// there is none, FAILED_PRECONDITION when it is not parked.
    async fn settled(
        &self,
        conn: &mut Conn,
        id: i64,
        changed: u64,
        verb: &str,
    ) -> Result<pb::Job, AppError> {
        let job = self.job(conn, id).await?;
        if changed == 0 {
            let state = pb::JobState::try_from(job.state).unwrap_or_default();
            return Err(AppError::Precondition(format!(
                "job {id} is {}, not parked: only a parked job can be {verb}",
                state.as_str_name()
            )));
        }
        Ok(job)
    }
}

fn job_id(v: &mut Violations, raw: i64) -> i64 {
    if raw <= 0 {
        v.add("job_id", "required: a job id from ListParkedJobs");
    }
    raw
}

#[tonic::async_trait]
impl JobService for JobAdmin {
    #[tracing::instrument(name = "boomerang.jobs.admin.list", skip_all)]
    async fn list_parked_jobs(
        &self,
        req: Request<pb::ListParkedJobsRequest>,
    ) -> Result<Response<pb::ListParkedJobsResponse>, Status> {
        tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        self.check_service(&mut v, req.service);
        if !req.tenant_id.is_empty() {
            v.field("tenant_id", TenantId::parse(&req.tenant_id));
        }
        let page = req.page.unwrap_or_default();
        let after: i64 = if page.page_token.is_empty() {
            0
        } else {
            v.field(
                "page.page_token",
                page.page_token
                    .parse::<i64>()
                    .map_err(|_| "not a token from this list"),
            )
            .unwrap_or(0)
        };
        v.check()?;
        let size = if page.page_size == 0 {
            DEFAULT_PAGE
        } else {
            page.page_size.min(MAX_PAGE)
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE failed_at IS NOT NULL AND id > $1 \
             AND ($2 = '' OR tenant_id = $2) AND ($3 = 1 OR done_at IS NULL) \
             ORDER BY id LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(&req.tenant_id)
            .bind(i64::from(req.include_discarded))
            .bind(i64::from(size) + 1)
            .fetch_all(self.db.pool())
            .await
            .map_err(AppError::from)?;
        let more = rows.len() > size as usize;
        let jobs = rows
            .iter()
            .take(size as usize)
            .map(|r| self.render(r))
            .collect::<Result<Vec<_>, _>>()?;
        let next_page_token = match jobs.last() {
            Some(last) if more => last.job_id.to_string(),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListParkedJobsResponse {
            jobs,
            next_page_token,
        }))
    }

    #[tracing::instrument(name = "boomerang.jobs.admin.retry", skip_all)]
    async fn retry_parked_job(
        &self,
        req: Request<pb::RetryParkedJobRequest>,
    ) -> Result<Response<pb::RetryParkedJobResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let actor = actor_of(&req);
        let req = req.into_inner();
        let mut v = Violations::new();
        self.check_service(&mut v, req.service);
        let id = job_id(&mut v, req.job_id);
        v.check()?;
        let now = self.clock.now();
        let this = self.clone();
        self.mutations
            .run(
                &tenant,
                "jobs.retry",
                &req.idempotency_key,
                &req,
                move |conn| {
                    async move {
                        let changed = sqlx::query(
                            "UPDATE jobs SET failed_at = NULL, attempts = 0, run_at = $1, \
                         locked_until = NULL WHERE id = $2 AND failed_at IS NOT NULL \
                         AND done_at IS NULL",
                        )
                        .bind(now)
                        .bind(id)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                        let job = this.settled(conn, id, changed, "retried").await?;
                        tracing::info!(job = id, queue = %job.queue, actor, "parked job retried");
                        Ok(pb::RetryParkedJobResponse { job: Some(job) })
                    }
                    .boxed()
                },
            )
            .await
    }

    #[tracing::instrument(name = "boomerang.jobs.admin.discard", skip_all)]
    async fn discard_parked_job(
        &self,
        req: Request<pb::DiscardParkedJobRequest>,
    ) -> Result<Response<pb::DiscardParkedJobResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let actor = actor_of(&req);
        let req = req.into_inner();
        let mut v = Violations::new();
        self.check_service(&mut v, req.service);
        let id = job_id(&mut v, req.job_id);
        let reason = req.reason.trim();
        if reason.is_empty() {
            v.add("reason", "required: why the job is given up on");
        } else if reason.chars().count() > MAX_REASON {
            v.add("reason", format!("at most {MAX_REASON} characters"));
        }
        v.check()?;
        let now = self.clock.now();
        let record = format!("discarded by {actor}: {reason}");
        let this = self.clone();
        self.mutations
            .run(&tenant, "jobs.discard", &req.idempotency_key, &req, move |conn| {
                async move {
                    let before: Option<String> =
                        sqlx::query_scalar("SELECT last_error FROM jobs WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&mut *conn)
                            .await?
                            .flatten();
                    let parked_with: String = before.unwrap_or_default().chars().take(KEPT_ERROR).collect();
                    let changed = sqlx::query(
                        "UPDATE jobs SET done_at = $1, last_error = $2 \
                         WHERE id = $3 AND failed_at IS NOT NULL AND done_at IS NULL",
                    )
                    .bind(now)
                    .bind(format!("{record} (parked with: {parked_with})"))
                    .bind(id)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                    let job = this.settled(conn, id, changed, "discarded").await?;
                    tracing::warn!(job = id, queue = %job.queue, actor, reason = %record, "parked job discarded");
                    Ok(pb::DiscardParkedJobResponse { job: Some(job) })
                }
                .boxed()
            })
            .await
    }
}
