//! gRPC handler of `boomerang.accrual.v1.SimulationService`: parse the draft
//! (a program's field violations as UpsertProgram gives them), one facade
//! call, render.
use std::collections::BTreeMap;

use boomerang_common::{
    error::Violations,
    money::wire,
    tenant::tenant_of,
    time::{instant, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{self as pb, simulation_service_server::SimulationService},
    common::v1 as pc,
};
use tonic::{Request, Response, Status};

use super::{convert, program};
use crate::{
    accrual::Accrual,
    domain::{
        program::Program,
        simulation::{Slice, Totals},
    },
};

/// Most customers listed.
const MAX_TOP: u32 = 100;

/// The `SimulationService` implementation.
#[derive(Clone, Debug)]
pub struct SimulationServiceHandler {
    accrual: Accrual,
}

impl SimulationServiceHandler {
    /// Handlers over `accrual`.
    pub fn new(accrual: Accrual) -> Self {
        Self { accrual }
    }
}

#[tonic::async_trait]
impl SimulationService for SimulationServiceHandler {
    async fn simulate_program(
        &self,
        req: Request<pb::SimulateProgramRequest>,
    ) -> Result<Response<pb::SimulateProgramResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let (id, draft) = program::program(req.program.as_ref())?;
        let mut v = Violations::new();
        let window = (
            instant(&mut v, "from", req.from.as_ref()),
            instant(&mut v, "to", req.to.as_ref()),
        );
        let top = top_customers(&mut v, req.top_customers);
        v.check()?;
        let ((from, to), report) = self
            .accrual
            .simulate_program(&tenant, &id, &draft, window)
            .await?;
        Ok(Response::new(pb::SimulateProgramResponse {
            program_id: id.clone(),
            from: Some(to_timestamp(from)),
            to: Some(to_timestamp(to)),
            purchases: report.all.purchases,
            purchases_by_other_versions: report.other_versions,
            totals: totals(&report.all.totals),
            cost_delta: Some(cost(&report.all, &draft)),
            by_tier: slices(&report.by_tier, &draft),
            by_channel: slices(&report.by_channel, &draft),
            by_category: slices(&report.by_category, &draft),
            top_customers: customers(report.top_customers(&draft, top), &draft),
        }))
    }

    async fn simulate_campaign(
        &self,
        req: Request<pb::SimulateCampaignRequest>,
    ) -> Result<Response<pb::SimulateCampaignResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let program_id = convert::id(&mut v, "program_id", &req.program_id);
        let campaign_id = convert::id(&mut v, "campaign_id", &req.campaign_id);
        let window = (
            instant(&mut v, "from", req.from.as_ref()),
            instant(&mut v, "to", req.to.as_ref()),
        );
        let top = top_customers(&mut v, req.top_customers);
        v.check()?;
        let ((from, to), draft, report, program) = self
            .accrual
            .simulate_campaign(
                &tenant,
                &program_id,
                &campaign_id,
                req.spec.as_ref(),
                window,
            )
            .await?;
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
        Ok(Response::new(pb::SimulateCampaignResponse {
            program_id,
            campaign_id: draft.campaign_id.clone(),
            from: Some(to_timestamp(from)),
            to: Some(to_timestamp(to)),
            purchases: report.all.purchases,
            totals: totals(&report.all.totals),
            cost_delta: Some(cost(&report.all, &program)),
            by_variant: slices(&report.by_variant, &program),
            by_channel: slices(&report.by_channel, &program),
            top_customers: customers(report.top_customers(&program, top), &program),
            budgets,
        }))
    }
}

/// The number of customers asked for (absent: 10).
fn top_customers(v: &mut Violations, asked: Option<u32>) -> usize {
    let top = asked.unwrap_or(10);
    if top > MAX_TOP {
        v.add("top_customers", format!("0 to {MAX_TOP} (absent means 10)"));
    }
    top as usize
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

fn cost(s: &Slice, draft: &Program) -> pc::Money {
    wire(s.cost_delta(draft), &draft.currency)
}
