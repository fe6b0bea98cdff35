//! gRPC handler of `GetExperimentReport`: parse, one facade call, render.
use boomerang_common::{error::Violations, money::wire, tenant::tenant_of, time::instant};
use boomerang_proto::accrual::v1 as pb;
use tonic::{Request, Response, Status};

use super::{convert, render::rate as text};
use crate::{
    accrual::{
        Accrual,
        experiments::{ExperimentQuery, ExperimentReport},
    },
    domain::experiment::{MeanTest, RateTest, Verdict},
};

/// Whether a campaign's arms differ.
pub(super) async fn experiment_report(
    accrual: &Accrual,
    req: Request<pb::GetExperimentReportRequest>,
) -> Result<Response<pb::GetExperimentReportResponse>, Status> {
    let tenant = tenant_of(&req)?;
    let req = req.into_inner();
    let mut v = Violations::new();
    let q = ExperimentQuery {
        program_id: convert::id(&mut v, "program_id", &req.program_id),
        campaign_id: convert::id(&mut v, "campaign_id", &req.campaign_id),
        from_us: instant(&mut v, "from", req.from.as_ref()),
        to_us: instant(&mut v, "to", req.to.as_ref()),
        within_days: match req.within_days {
            None => 30,
            Some(d @ 1..=365) => d,
            Some(_) => {
                v.add("within_days", "1 to 365 (absent means 30)");
                30
            }
        },
        control: convert::text(&mut v, "control_variant", &req.control_variant, 64),
    };
    v.check()?;
    let report = accrual.experiment_report(&tenant, &q).await?;
    Ok(Response::new(render(&report)))
}

fn verdict(v: Verdict) -> i32 {
    match v {
        Verdict::NotEnoughData => pb::Verdict::NotEnoughData,
        Verdict::NoDifference => pb::Verdict::NoDifference,
        Verdict::Higher => pb::Verdict::Higher,
        Verdict::Lower => pb::Verdict::Lower,
    }
    .into()
}

fn rates(t: &RateTest) -> pb::ProportionTest {
    pb::ProportionTest {
        difference: text(t.difference),
        ci_low: text(t.ci.map(|c| c.0)),
        ci_high: text(t.ci.map(|c| c.1)),
        z: text(t.z),
        p_value: text(t.p_value),
        mde: text(t.mde),
        verdict: verdict(t.verdict),
        reason: t.reason.clone(),
    }
}

fn means(t: &MeanTest, currency: &str) -> pb::MeanTest {
    let money = |m: Option<i64>| m.map(|m| wire(m, currency));
    pb::MeanTest {
        difference: money(t.difference),
        ci_low: money(t.ci.map(|c| c.0)),
        ci_high: money(t.ci.map(|c| c.1)),
        t: text(t.t),
        degrees_of_freedom: text(t.df),
        p_value: text(t.p_value),
        mde: money(t.mde),
        verdict: verdict(t.verdict),
        reason: t.reason.clone(),
    }
}

fn render(r: &ExperimentReport) -> pb::GetExperimentReportResponse {
    let currency = r.currency.as_str();
    pb::GetExperimentReportResponse {
        currency: r.currency.clone(),
        within_days: r.within_days,
        control_variant: r.control.clone(),
        arms: r
            .arms
            .iter()
            .map(|a| pb::ArmFigures {
                variant: a.variant.clone(),
                rewarded: a.rewarded,
                exposed: a.exposed,
                measured: a.measured(),
                converted: a.converted,
                conversion_rate: text(a.conversion_rate()),
                revenue: Some(wire(a.revenue(), currency)),
                revenue_per_customer: a.revenue_per_customer().map(|m| wire(m, currency)),
            })
            .collect(),
        comparisons: r
            .comparisons
            .iter()
            .map(|(variant, r, m)| pb::ArmComparison {
                variant: variant.clone(),
                conversion: Some(rates(r)),
                revenue_per_customer: Some(means(m, currency)),
            })
            .collect(),
        maturing: r.maturing,
    }
}
