//! What-if: a draft program priced over the purchases recorded in a window
//! (`domain::simulation`), read-only, a page of purchases at a time.
use std::collections::BTreeMap;

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
/// What-ifs one replica runs at once; more wait their turn.
pub const AT_ONCE: usize = 2;
/// Purchases read per page (the connection is given back between pages).
const PAGE: i64 = 500;
const DAY_US: i64 = 86_400_000_000;

impl Accrual {
    /// What `draft` of program `id` would have given the purchases recorded
    /// in `[from, to)` (defaults: the 30 days before now): the window priced
    /// and the report. NOT_FOUND for a program never published;
    /// INVALID_ARGUMENT for a draft in another currency (its purchases'
    /// amounts are in the program's).
    #[instrument(name = "boomerang.accrual.simulations.simulate_program", skip_all, fields(tenant = %tenant, program = %id, purchases), err(level = "info"))]
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
        let (latest, live, _) = self.program(tenant, id, None).await?;
        if draft.currency != live.currency {
            return Err(AppError::invalid(
                "program.currency",
                format!(
                    "program {id} earns on {} orders; a what-if keeps its currency",
                    live.currency
                ),
            ));
        }
        let _turn = self
            .inner
            .simulations
            .acquire()
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        // Purchases earlier in a capped period than the window count toward its caps.
        let warm_from = draft
            .per_period_caps
            .iter()
            .filter_map(|c| caps::period_of(c.period, &draft.timezone, from))
            .map(|(start, _, _)| start)
            .fold(from, i64::min);
        let mut simulator = Simulator::new(draft, latest, format!("draft:{id}"));
        // The versions that priced the purchases, read once each.
        let mut versions: BTreeMap<i64, Program> = BTreeMap::from([(latest, live)]);
        let mut after = (warm_from, String::new());
        loop {
            let page = {
                let mut conn = self.db().pool().acquire().await?;
                repo::recorded_page(
                    &mut conn,
                    tenant.as_str(),
                    id,
                    (after.0, &after.1),
                    to,
                    PAGE,
                )
                .await?
            };
            for p in &page {
                if p.occurred_at < from {
                    simulator.warm_up(p);
                    continue;
                }
                if let std::collections::btree_map::Entry::Vacant(entry) = versions.entry(p.version)
                {
                    entry.insert(self.program(tenant, id, Some(p.version)).await?.1);
                }
                simulator.add(p, versions.get(&p.version));
            }
            match page.last() {
                Some(last) if page.len() as i64 == PAGE => {
                    after = (last.occurred_at, last.order_id.clone())
                }
                _ => break,
            }
            // Pricing a page is CPU work: let other tasks of this worker run.
            tokio::task::yield_now().await;
        }
        let report = simulator.finish();
        tracing::Span::current().record("purchases", report.all.purchases);
        Ok(((from, to), report))
    }
}
