//! The experiment report: a campaign's arms, the customers each was shown to
//! in a period, what they bought in the window after, and each arm tested
//! against the control (`domain::experiment`).
use std::collections::BTreeMap;

use boomerang_common::{error::AppError, tenant::TenantId};
use tracing::instrument;

use super::Accrual;
use crate::{
    domain::experiment::{self, Arm, MeanTest, RateTest},
    repo,
};

/// What the report asks.
#[derive(Clone, Debug)]
pub struct ExperimentQuery {
    /// Program whose purchases are read.
    pub program_id: String,
    /// Campaign with variants.
    pub campaign_id: String,
    /// Exposures in `[from, to)`, unix micros.
    pub from_us: Option<i64>,
    /// End of the period.
    pub to_us: Option<i64>,
    /// Window after an exposure, days.
    pub within_days: u32,
    /// The arm compared against; empty means the one without a reward.
    pub control: String,
}

/// An experiment's figures.
#[derive(Clone, Debug)]
pub struct ExperimentReport {
    /// Program currency.
    pub currency: String,
    /// Window, days.
    pub within_days: u32,
    /// The control arm.
    pub control: String,
    /// Every arm, by name.
    pub arms: Vec<Arm>,
    /// Every other arm against the control: (arm, conversion, revenue).
    pub comparisons: Vec<(String, RateTest, MeanTest)>,
    /// Exposed customers whose window has not ended.
    pub maturing: u64,
}

impl Accrual {
    /// The experiment report of a campaign over one program's purchases.
    #[instrument(name = "boomerang.accrual.reports.experiment", skip_all,
                 fields(tenant = %tenant, program = %q.program_id, campaign = %q.campaign_id), err(level = "info"))]
    pub async fn experiment_report(
        &self,
        tenant: &TenantId,
        q: &ExperimentQuery,
    ) -> Result<ExperimentReport, AppError> {
        let t = tenant.as_str();
        let mut conn = self.db().pool().acquire().await?;
        let (_, program, _) = repo::program(&mut conn, t, &q.program_id, None).await?;
        drop(conn);
        let declared = self
            .upstream()
            .campaign_arms(tenant, &q.campaign_id)
            .await?;
        if declared.is_empty() {
            return Err(AppError::Precondition(format!(
                "campaign {} has no variants: there is no experiment to report",
                q.campaign_id
            )));
        }
        let control = if q.control.is_empty() {
            let mut unrewarded = declared.iter().filter(|(_, rewarded)| !rewarded);
            match (unrewarded.next(), unrewarded.next()) {
                (Some((name, _)), None) => name.clone(),
                _ => {
                    return Err(AppError::invalid(
                        "control_variant",
                        "the campaign has no single arm without a reward: name the control",
                    ));
                }
            }
        } else if declared.iter().any(|(name, _)| *name == q.control) {
            q.control.clone()
        } else {
            return Err(AppError::invalid(
                "control_variant",
                format!("campaign {} has no variant {:?}", q.campaign_id, q.control),
            ));
        };
        let mut arms: BTreeMap<String, Arm> = declared
            .into_iter()
            .map(|(variant, rewarded)| {
                let arm = Arm {
                    variant: variant.clone(),
                    rewarded,
                    ..Arm::default()
                };
                (variant, arm)
            })
            .collect();
        let within = i64::from(q.within_days) * 86_400_000_000;
        let period = (q.from_us.unwrap_or(i64::MIN), q.to_us.unwrap_or(i64::MAX));
        let ids = (q.program_id.as_str(), q.campaign_id.as_str());
        let exposed = repo::exposed(self.db(), t, ids, period, within).await?;
        let now = self.clock().now();
        let mut maturing = 0;
        for e in exposed {
            // An arm a later version dropped is still reported.
            let arm = arms.entry(e.variant.clone()).or_insert_with(|| Arm {
                variant: e.variant.clone(),
                rewarded: e.rewarded,
                ..Arm::default()
            });
            arm.exposed += 1;
            if e.at.saturating_add(within) > now {
                maturing += 1;
                continue;
            }
            arm.converted += u64::from(e.later > 0);
            arm.revenues.push(e.revenue);
        }
        let base = arms.get(&control).cloned().unwrap_or_default();
        let comparisons = arms
            .values()
            .filter(|a| a.variant != control)
            .map(|a| {
                let rates = experiment::compare_rates(&base, a);
                let means = experiment::compare_means(&base, a);
                (a.variant.clone(), rates, means)
            })
            .collect();
        Ok(ExperimentReport {
            currency: program.currency,
            within_days: q.within_days,
            control,
            arms: arms.into_values().collect(),
            comparisons,
            maturing,
        })
    }
}
