//! gRPC handler of `boomerang.accrual.v1.SimulationService`: parse the draft
//! (a program's field violations as UpsertProgram gives them, a campaign's
//! as campaign-svc does), one facade call, render.
use std::collections::BTreeMap;

use boomerang_common::{
    error::{AppError, Violations},
    idempotency::{self, IdempotencyKey, Mutations},
    money::wire,
    tenant::{TenantId, tenant_of},
    time::{instant, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{self as pb, simulation_service_server::SimulationService},
    common::v1 as pc,
};
use tonic::{Request, Response, Status};

use super::{convert, program};
use crate::{
    accrual::{
        Accrual,
        simulation_jobs::{JobState, SimulationJob},
        simulations::{Answer, Ask, What},
    },
    domain::{
        program::Program,
        simulation::{
            Report, Slice, Totals,
            campaign::{CampaignReport, Draft},
        },
    },
};

/// Most customers listed.
const MAX_TOP: u32 = 100;

/// The `SimulationService` implementation.
#[derive(Clone, Debug)]
pub struct SimulationServiceHandler {
    accrual: Accrual,
    mutations: Mutations,
}

impl SimulationServiceHandler {
    /// Handlers over `accrual`.
    pub fn new(accrual: Accrual) -> Self {
        Self {
            mutations: super::mutations(&accrual),
            accrual,
        }
    }

    /// The question of a SimulateProgram request, checked and its window resolved.
    async fn ask_program(
        &self,
        tenant: &TenantId,
        req: &pb::SimulateProgramRequest,
        at: &str,
    ) -> Result<Ask, AppError> {
        let (id, draft) = program::program(req.program.as_ref()).map_err(|e| e.under(at))?;
        let mut v = Violations::new();
        let window = window(&mut v, at, req.from.as_ref(), req.to.as_ref());
        let top = top_customers(&mut v, at, req.top_customers);
        v.check()?;
        self.accrual
            .ask_program(tenant, &id, draft, window, top)
            .await
            .map_err(|e| e.under(at))
    }

    /// The question of a SimulateCampaign request, checked (by campaign-svc
    /// too) and its window resolved.
    async fn ask_campaign(
        &self,
        tenant: &TenantId,
        req: &pb::SimulateCampaignRequest,
        at: &str,
    ) -> Result<Ask, AppError> {
        let mut v = Violations::new();
        let program_id = convert::id(&mut v, &format!("{at}program_id"), &req.program_id);
        let campaign_id = convert::id(&mut v, &format!("{at}campaign_id"), &req.campaign_id);
        let window = window(&mut v, at, req.from.as_ref(), req.to.as_ref());
        let top = top_customers(&mut v, at, req.top_customers);
        if !v.is_empty() {
            // Every refusal at once: campaign-svc's of the spec too.
            let checked = self.accrual.check_campaign(tenant, req.spec.as_ref()).await;
            if let Err(AppError::Invalid(theirs)) = checked {
                for (field, why) in theirs.iter() {
                    v.add(format!("{at}{field}"), why);
                }
            }
            return Err(AppError::Invalid(v));
        }
        let ids = (program_id.as_str(), campaign_id.as_str());
        self.accrual
            .ask_campaign(tenant, ids, req.spec.as_ref(), window, top)
            .await
            .map_err(|e| e.under(at))
    }
}

#[tonic::async_trait]
impl SimulationService for SimulationServiceHandler {
    async fn simulate_program(
        &self,
        req: Request<pb::SimulateProgramRequest>,
    ) -> Result<Response<pb::SimulateProgramResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let ask = self.ask_program(&tenant, req.get_ref(), "").await?;
        let answer = self.accrual.simulate(&tenant, &ask).await?;
        match answered(&ask, &answer)? {
            pb::simulation::Answer::Program(r) => Ok(Response::new(r)),
            pb::simulation::Answer::Campaign(_) => Err(mismatch().into()),
        }
    }

    async fn simulate_campaign(
        &self,
        req: Request<pb::SimulateCampaignRequest>,
    ) -> Result<Response<pb::SimulateCampaignResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let ask = self.ask_campaign(&tenant, req.get_ref(), "").await?;
        let answer = self.accrual.simulate(&tenant, &ask).await?;
        match answered(&ask, &answer)? {
            pb::simulation::Answer::Campaign(r) => Ok(Response::new(r)),
            pb::simulation::Answer::Program(_) => Err(mismatch().into()),
        }
    }

    async fn start_simulation(
        &self,
        req: Request<pb::StartSimulationRequest>,
    ) -> Result<Response<pb::StartSimulationResponse>, Status> {
        use pb::start_simulation_request::What as Asked;
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let key = IdempotencyKey::new(&tenant, "accrual.StartSimulation", &req.idempotency_key)?;
        if let Some(first) = idempotency::peek(self.accrual.db(), &key, &req).await? {
            return Ok(Response::new(first));
        }
        let ask = match &req.what {
            Some(Asked::Program(p)) => self.ask_program(&tenant, p, "program.").await?,
            Some(Asked::Campaign(c)) => self.ask_campaign(&tenant, c, "campaign.").await?,
            None => return Err(AppError::invalid("what", "program or campaign").into()),
        };
        // Derived from the request, so a replay names the same job.
        let digest = idempotency::request_hash(&req);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let id = format!("sim-{hex}");
        let total = self.accrual.purchases_in(&tenant, &ask).await?;
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "accrual.StartSimulation",
                &req.idempotency_key,
                &req,
                move |conn| {
                    Box::pin(async move {
                        let job = a.start_simulation(conn, &t, &id, (ask, total)).await?;
                        Ok(pb::StartSimulationResponse {
                            simulation: Some(simulation(&job)?),
                        })
                    })
                },
            )
            .await
    }

    async fn get_simulation(
        &self,
        req: Request<pb::GetSimulationRequest>,
    ) -> Result<Response<pb::GetSimulationResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let mut v = Violations::new();
        let id = convert::id(&mut v, "simulation_id", &req.get_ref().simulation_id);
        v.check()?;
        let job = self.accrual.simulation(&tenant, &id).await?;
        Ok(Response::new(pb::GetSimulationResponse {
            simulation: Some(simulation(&job)?),
        }))
    }

    async fn list_simulations(
        &self,
        req: Request<pb::ListSimulationsRequest>,
    ) -> Result<Response<pb::ListSimulationsResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let state = match pb::SimulationState::try_from(req.state) {
            Ok(pb::SimulationState::Unspecified) => None,
            Ok(pb::SimulationState::Running) => Some(JobState::Running),
            Ok(pb::SimulationState::Succeeded) => Some(JobState::Succeeded),
            Ok(pb::SimulationState::Failed) => Some(JobState::Failed),
            Ok(pb::SimulationState::Cancelled) => Some(JobState::Cancelled),
            Err(_) => {
                v.add("state", "unknown state");
                None
            }
        };
        let (size, raw) = boomerang_common::paging::page(req.page.as_ref());
        let after = match raw.split_once('.') {
            _ if raw.is_empty() => None,
            Some((at, id)) if !id.is_empty() && boomerang_common::id::check(id).is_ok() => {
                at.parse::<i64>().ok().map(|at| (at, id))
            }
            _ => None,
        };
        if !raw.is_empty() && after.is_none() {
            v.add("page.page_token", "not a token from this list");
        }
        v.check()?;
        let mut jobs = self
            .accrual
            .simulations(&tenant, state, after, size + 1)
            .await?;
        let next = boomerang_common::paging::next(&mut jobs, size, token);
        Ok(Response::new(pb::ListSimulationsResponse {
            simulations: jobs.iter().map(simulation).collect::<Result<_, _>>()?,
            next_page_token: next,
        }))
    }

    async fn cancel_simulation(
        &self,
        req: Request<pb::CancelSimulationRequest>,
    ) -> Result<Response<pb::CancelSimulationResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let id = convert::id(&mut v, "simulation_id", &req.simulation_id);
        v.check()?;
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "accrual.CancelSimulation",
                &req.idempotency_key,
                &req,
                move |conn| {
                    Box::pin(async move {
                        let job = a.cancel_simulation(conn, &t, &id).await?;
                        Ok(pb::CancelSimulationResponse {
                            simulation: Some(simulation(&job)?),
                        })
                    })
                },
            )
            .await
    }
}

fn mismatch() -> AppError {
    AppError::Internal(anyhow::anyhow!("a what-if answered another question"))
}

/// `from` and `to` of a request (fields under `at`).
fn window(
    v: &mut Violations,
    at: &str,
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
) -> (Option<i64>, Option<i64>) {
    (
        instant(v, &format!("{at}from"), from),
        instant(v, &format!("{at}to"), to),
    )
}

/// The number of customers asked for (absent: 10).
fn top_customers(v: &mut Violations, at: &str, asked: Option<u32>) -> u32 {
    let top = asked.unwrap_or(10);
    if top > MAX_TOP {
        v.add(
            format!("{at}top_customers"),
            format!("0 to {MAX_TOP} (absent means 10)"),
        );
    }
    top
}

/// A job as the API shows it.
fn simulation(job: &SimulationJob) -> Result<pb::Simulation, AppError> {
    let state = match job.state {
        JobState::Running => pb::SimulationState::Running,
        JobState::Succeeded => pb::SimulationState::Succeeded,
        JobState::Failed => pb::SimulationState::Failed,
        JobState::Cancelled => pb::SimulationState::Cancelled,
    };
    let answer = job.answer.as_ref().map(|a| answered(&job.ask, a));
    Ok(pb::Simulation {
        simulation_id: job.id.clone(),
        state: state as i32,
        purchases_read: job.read,
        purchases_total: job.total,
        created_at: Some(to_timestamp(job.created_at)),
        updated_at: Some(to_timestamp(job.updated_at)),
        answer: answer.transpose()?,
        error: job.error.clone(),
        program_id: job.ask.program.clone(),
        campaign_id: match &job.ask.what {
            What::Campaign { draft, .. } => draft.campaign_id.clone(),
            What::Program { .. } => String::new(),
        },
    })
}

/// A list page's token: the last job's start and id, "created_at.id".
fn token(job: &SimulationJob) -> String {
    format!("{}.{}", job.created_at, job.id)
}

/// The answer to `ask` as SimulateProgram or SimulateCampaign gives it.
fn answered(ask: &Ask, answer: &Answer) -> Result<pb::simulation::Answer, AppError> {
    use pb::simulation::Answer as A;
    match (&ask.what, answer) {
        (What::Program { draft, .. }, Answer::Program(r)) => {
            Ok(A::Program(program_answer(ask, draft, r)))
        }
        (What::Campaign { draft, program }, Answer::Campaign(r)) => {
            Ok(A::Campaign(campaign_answer(ask, draft, program, r)))
        }
        _ => Err(mismatch()),
    }
}

fn program_answer(ask: &Ask, draft: &Program, report: &Report) -> pb::SimulateProgramResponse {
    let (from, to) = ask.window;
    pb::SimulateProgramResponse {
        program_id: ask.program.clone(),
        from: Some(to_timestamp(from)),
        to: Some(to_timestamp(to)),
        purchases: report.all.purchases,
        purchases_by_other_versions: report.other_versions,
        totals: totals(&report.all.totals),
        cost_delta: Some(cost(&report.all, draft)),
        by_tier: slices(&report.by_tier, draft),
        by_channel: slices(&report.by_channel, draft),
        by_category: slices(&report.by_category, draft),
        top_customers: customers(report.top_customers(draft, ask.top as usize), draft),
    }
}

fn campaign_answer(
    ask: &Ask,
    draft: &Draft,
    program: &Program,
    report: &CampaignReport,
) -> pb::SimulateCampaignResponse {
    let (from, to) = ask.window;
    let budgets = report
        .budgets
        .iter()
        .map(|(asset, b)| pb::BudgetRun {
            asset: asset.clone(),
            total: Some(wire(b.total, asset)),
            spent: Some(wire(b.spent, asset)),
            short: Some(wire(b.short, asset)),
            runs_out_at: b.runs_out_at.map(to_timestamp),
            runs_out_on: b.runs_out_at.map(|at| draft.day(at)).unwrap_or_default(),
            ran_out_at: b.ran_out_at.map(to_timestamp),
        })
        .collect();
    pb::SimulateCampaignResponse {
        program_id: ask.program.clone(),
        campaign_id: draft.campaign_id.clone(),
        from: Some(to_timestamp(from)),
        to: Some(to_timestamp(to)),
        purchases: report.all.purchases,
        totals: totals(&report.all.totals),
        cost_delta: Some(cost(&report.all, program)),
        by_variant: slices(&report.by_variant, program),
        by_channel: slices(&report.by_channel, program),
        top_customers: customers(report.top_customers(program, ask.top as usize), program),
        budgets,
        not_priced: report.not_priced.clone(),
    }
}

fn slices(by: &BTreeMap<String, Slice>, program: &Program) -> Vec<pb::SimulationSlice> {
    by.iter()
        .map(|(key, s)| pb::SimulationSlice {
            key: key.clone(),
            purchases: s.purchases,
            totals: totals(&s.totals),
            cost_delta: Some(cost(s, program)),
        })
        .collect()
}

fn customers(top: Vec<(&str, &Slice, i64)>, program: &Program) -> Vec<pb::CustomerDelta> {
    top.into_iter()
        .map(|(customer, s, delta)| pb::CustomerDelta {
            customer_id: customer.to_owned(),
            purchases: s.purchases,
            totals: totals(&s.totals),
            cost_delta: Some(wire(delta, &program.currency)),
        })
        .collect()
}

fn totals(t: &Totals) -> Vec<pb::AssetDelta> {
    t.iter()
        .map(|(asset, (granted, simulated))| pb::AssetDelta {
            asset: asset.clone(),
            granted: Some(wire(*granted, asset)),
            simulated: Some(wire(*simulated, asset)),
            delta: Some(wire(simulated - granted, asset)),
        })
        .collect()
}

fn cost(s: &Slice, program: &Program) -> pc::Money {
    wire(s.cost_delta(program), &program.currency)
}
