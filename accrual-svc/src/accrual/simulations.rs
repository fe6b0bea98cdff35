//! What-if: a draft program priced over the purchases recorded in a window
//! (`domain::simulation`), read-only.
use boomerang_common::{error::AppError, tenant::TenantId};
use tracing::instrument;

use super::Accrual;
use crate::{
    domain::{
        caps,
        program::Program,
        simulation::{Report, Simulator},
    },
    repo,
};

/// Days a window defaults to.
pub const DEFAULT_DAYS: i64 = 30;
/// The longest window, days.
pub const MAX_DAYS: i64 = 400;
const DAY_US: i64 = 86_400_000_000;

impl Accrual {
    /// What `draft` of program `id` would have given the purchases recorded
    /// in `[from, to)` (defaults: the 30 days before now): the window priced
    /// and the report. NOT_FOUND for a program never published.
    #[instrument(name = "boomerang.accrual.simulations.simulate_program", skip_all, fields(tenant = %tenant, program = %id), err(level = "info"))]
    pub async fn simulate_program(
        &self,
        tenant: &TenantId,
        id: &str,
        draft: &Program,
        (from, to): (Option<i64>, Option<i64>),
    ) -> Result<((i64, i64), Report), AppError> {
        let to = to.unwrap_or_else(|| self.clock().now());
        let from = from.unwrap_or(to - DEFAULT_DAYS * DAY_US);
        if from >= to || to - from > MAX_DAYS * DAY_US {
            return Err(AppError::invalid(
                "from",
                format!("a window of up to {MAX_DAYS} days, `from` before `to`"),
            ));
        }
        let mut conn = self.db().pool().acquire().await?;
        if repo::latest_version(&mut conn, tenant.as_str(), id).await? == 0 {
            return Err(AppError::NotFound(format!("program {id}")));
        }
        // Purchases earlier in a capped period than the window count toward its caps.
        let warm_from = draft
            .per_period_caps
            .iter()
            .filter_map(|c| caps::period_of(c.period, &draft.timezone, from))
            .map(|(start, _, _)| start)
            .fold(from, i64::min);
        let mut simulator = Simulator::new(draft, format!("draft:{id}"));
        repo::recorded_purchases(&mut conn, tenant.as_str(), id, (warm_from, to), |p| {
            if p.occurred_at < from {
                simulator.warm_up(&p);
            } else {
                simulator.add(&p);
            }
        })
        .await?;
        Ok(((from, to), simulator.finish()))
    }
}
