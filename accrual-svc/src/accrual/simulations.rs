//! What-if: a draft program or campaign priced over the purchases recorded
//! in a window (`domain::simulation`), read-only, a page of purchases at a
//! time.
use std::collections::{BTreeMap, btree_map::Entry};

use boomerang_common::{error::AppError, tenant::TenantId};
use boomerang_proto::campaign::v1::CampaignSpec;
use tracing::instrument;

use super::Accrual;
use crate::{
    domain::{
        caps,
        program::Program,
        simulation::{
            Recorded, Report, Simulator,
            campaign::{CampaignReport, CampaignSimulator, Draft},
        },
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

/// A campaign draft's schedule: (starts_at, ends_at), unix micros.
pub type Run = (Option<i64>, Option<i64>);

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
        check_window(from, to)?;
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
        let _turn = self.turn().await?;
        // Purchases earlier in a capped period than the window count toward its caps.
        let warm_from = draft
            .per_period_caps
            .iter()
            .filter_map(|c| caps::period_of(c.period, &draft.timezone, from))
            .map(|(start, _, _)| start)
            .fold(from, i64::min);
        let mut simulator = Simulator::new(draft, latest, format!("draft:{id}"));
        let mut versions = Versions::new(latest, live);
        let mut pages = Pages::new(warm_from, to);
        while let Some(page) = pages.next(self, tenant, id).await? {
            for p in &page {
                if p.occurred_at < from {
                    simulator.warm_up(p);
                    continue;
                }
                let priced_by = versions.get(self, tenant, id, p.version).await?;
                simulator.add(p, Some(priced_by));
            }
        }
        let report = simulator.finish();
        tracing::Span::current().record("purchases", report.all.purchases);
        Ok(((from, to), report))
    }

    /// What `spec`, a draft of campaign `campaign` (as campaign-svc takes
    /// it, and checked by it), would have given the purchases of program
    /// `id` that received its offer in `[from, to)` (defaults: the draft's
    /// run until now), its budgets taken from the draft's start: the window,
    /// the draft as priced, the report and the program's latest version
    /// (its currency and conversion cost the change). NOT_FOUND for a
    /// program never published.
    #[instrument(name = "boomerang.accrual.simulations.simulate_campaign", skip_all, fields(tenant = %tenant, program = %id, campaign = %campaign, purchases), err(level = "info"))]
    pub async fn simulate_campaign(
        &self,
        tenant: &TenantId,
        id: &str,
        campaign: &str,
        spec: Option<&CampaignSpec>,
        (from, to): (Option<i64>, Option<i64>),
    ) -> Result<((i64, i64), Draft, CampaignReport, Program), AppError> {
        let (draft, (starts_at, ends_at)) = self
            .upstream()
            .campaign_draft(tenant, campaign, spec)
            .await?;
        let now = self.clock().now();
        let to = to.unwrap_or_else(|| ends_at.map_or(now, |end| end.min(now)));
        let from = from.unwrap_or_else(|| match starts_at {
            Some(start) if start < to && to - start <= MAX_DAYS * DAY_US => start,
            _ => to - DEFAULT_DAYS * DAY_US,
        });
        check_window(from, to)?;
        let (latest, live, _) = self.program(tenant, id, None).await?;
        let _turn = self.turn().await?;
        // What the draft's run spent before the window counts toward its
        // budgets and per-customer caps (at most a longest window before it).
        let limited = !draft.budgets.is_empty() || draft.per_customer.is_some();
        let warm_from = starts_at
            .filter(|start| limited && *start < from)
            .map_or(from, |start| start.max(from - MAX_DAYS * DAY_US));
        let mut simulator = CampaignSimulator::new(&draft);
        let mut versions = Versions::new(latest, live.clone());
        let mut pages = Pages::new(warm_from, to);
        while let Some(page) = pages.next(self, tenant, id).await? {
            let theirs = |p: &&Recorded| {
                p.rewards.iter().any(|r| {
                    r.offer
                        .as_ref()
                        .is_some_and(|o| o.campaign_id == draft.campaign_id)
                })
            };
            for p in page.iter().filter(theirs) {
                let priced_by = versions.get(self, tenant, id, p.version).await?;
                if p.occurred_at < from {
                    simulator.warm_up(p, priced_by);
                } else {
                    simulator.add(p, priced_by);
                }
            }
        }
        let report = simulator.finish();
        tracing::Span::current().record("purchases", report.all.purchases);
        Ok(((from, to), draft, report, live))
    }

    /// This replica's turn to run a what-if.
    async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, AppError> {
        self.inner
            .simulations
            .acquire()
            .await
            .map_err(|e| AppError::Internal(e.into()))
    }
}

fn check_window(from: i64, to: i64) -> Result<(), AppError> {
    if from >= to || to - from > MAX_DAYS * DAY_US {
        return Err(AppError::invalid(
            "from",
            format!("a window of up to {MAX_DAYS} days, `from` before `to`"),
        ));
    }
    Ok(())
}

/// The versions of a program that priced purchases, each read once.
struct Versions(BTreeMap<i64, Program>);

impl Versions {
    fn new(latest: i64, live: Program) -> Self {
        Self(BTreeMap::from([(latest, live)]))
    }

    async fn get(
        &mut self,
        accrual: &Accrual,
        tenant: &TenantId,
        id: &str,
        version: i64,
    ) -> Result<&Program, AppError> {
        Ok(match self.0.entry(version) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(accrual.program(tenant, id, Some(version)).await?.1),
        })
    }
}

/// The purchases of a program recorded in `[from, to)`, in the order they
/// occurred, a page at a time; each read with a connection given back after.
struct Pages {
    after: Option<(i64, String)>,
    to: i64,
}

impl Pages {
    fn new(from: i64, to: i64) -> Self {
        Self {
            after: Some((from, String::new())),
            to,
        }
    }

    async fn next(
        &mut self,
        accrual: &Accrual,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Vec<Recorded>>, AppError> {
        let Some((at, order)) = self.after.take() else {
            return Ok(None);
        };
        // Pricing a page is CPU work: let other tasks of this worker run.
        tokio::task::yield_now().await;
        let page = {
            let mut conn = accrual.db().pool().acquire().await?;
            repo::recorded_page(&mut conn, tenant.as_str(), id, (at, &order), self.to, PAGE).await?
        };
        if page.len() as i64 == PAGE {
            self.after = page.last().map(|l| (l.occurred_at, l.order_id.clone()));
        }
        Ok(Some(page))
    }
}
