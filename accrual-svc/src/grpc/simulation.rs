//! gRPC handler of `boomerang.accrual.v1.SimulationService`: parse the draft
//! (field violations as UpsertProgram gives them), one facade call, render.
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

use super::program;
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
        let top = req.top_customers.unwrap_or(10);
        if top > MAX_TOP {
            v.add("top_customers", format!("0 to {MAX_TOP} (absent means 10)"));
        }
        v.check()?;
        let ((from, to), report) = self
            .accrual
            .simulate_program(&tenant, &id, &draft, window)
            .await?;
        let slices = |by: &std::collections::BTreeMap<String, Slice>| {
            by.iter()
                .map(|(key, s)| pb::SimulationSlice {
                    key: key.clone(),
                    purchases: s.purchases,
                    totals: totals(&s.totals),
                    cost_delta: Some(cost(s, &draft)),
                })
                .collect()
        };
        Ok(Response::new(pb::SimulateProgramResponse {
            program_id: id.clone(),
            from: Some(to_timestamp(from)),
            to: Some(to_timestamp(to)),
            purchases: report.all.purchases,
            purchases_by_other_versions: report.other_versions,
            totals: totals(&report.all.totals),
            cost_delta: Some(cost(&report.all, &draft)),
            by_tier: slices(&report.by_tier),
            by_channel: slices(&report.by_channel),
            by_category: slices(&report.by_category),
            top_customers: report
                .top_customers(&draft, top as usize)
                .into_iter()
                .map(|(customer, s, delta)| pb::CustomerDelta {
                    customer_id: customer.to_owned(),
                    purchases: s.purchases,
                    totals: totals(&s.totals),
                    cost_delta: Some(wire(delta, &draft.currency)),
                })
                .collect(),
        }))
    }
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
