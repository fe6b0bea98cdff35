//! What-if: a draft program or campaign priced over the purchases recorded
//! in a window (`domain::simulation`), read-only, a page of purchases at a
//! time. Inline here; as a durable job in [`super::simulation_jobs`], which
//! goes on from a [`Checkpoint`] a chunk of pages at a time.
use std::collections::{BTreeMap, btree_map::Entry};

use boomerang_common::{error::AppError, tenant::TenantId};
use boomerang_proto::campaign::v1::CampaignSpec;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::Accrual;
use crate::{
    domain::{
        caps,
        program::Program,
        simulation::{
            Recorded, Report, Simulator, Snapshot,
            campaign::{CampaignReport, CampaignSimulator, CampaignSnapshot, Draft},
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
pub const PAGE: i64 = 500;
const DAY_US: i64 = 86_400_000_000;

/// A campaign draft's schedule: (starts_at, ends_at), unix micros.
pub type Run = (Option<i64>, Option<i64>);

/// A what-if as asked, its window resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ask {
    /// The program whose purchases are priced.
    pub program: String,
    /// `[from, to)`, unix micros.
    pub window: (i64, i64),
    /// Where reading starts: purchases before `from` count toward caps and
    /// budgets only.
    pub warm_from: i64,
    /// How many customers to list.
    pub top: u32,
    pub what: What,
}

/// What a what-if prices.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum What {
    /// A draft of the program, and its latest version when asked.
    Program { draft: Box<Program>, latest: i64 },
    /// A campaign draft, and the program's latest version (its currency and
    /// conversion cost the change).
    Campaign {
        draft: Box<Draft>,
        program: Box<Program>,
    },
}

/// Where a what-if stands.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last purchase read (occurred_at, order); none once done.
    pub after: Option<(i64, String)>,
    /// Purchases of the window read.
    pub seen: u64,
    pub state: State,
}

/// A simulator's state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum State {
    Program(Snapshot),
    Campaign(CampaignSnapshot),
}

/// A what-if's answer.
#[derive(Clone, Debug)]
pub enum Answer {
    Program(Report),
    Campaign(CampaignReport),
}

impl Checkpoint {
    /// Nothing read yet.
    pub fn start(ask: &Ask) -> Self {
        Self {
            after: Some((ask.warm_from, String::new())),
            seen: 0,
            state: match &ask.what {
                What::Program { .. } => State::Program(Snapshot::default()),
                // The draft's budgets, each with nothing spent.
                What::Campaign { draft, .. } => {
                    State::Campaign(CampaignSimulator::new(draft).snapshot())
                }
            },
        }
    }

    /// The report so far (all of it once `after` is none).
    pub fn answer(self, ask: &Ask) -> Result<Answer, AppError> {
        Ok(match (&ask.what, self.state) {
            (What::Campaign { draft, .. }, State::Campaign(s)) => {
                Answer::Campaign(CampaignSimulator::resume(draft, s).finish())
            }
            (What::Program { draft, latest }, State::Program(s)) => {
                Answer::Program(Simulator::resume(draft, *latest, String::new(), s).finish())
            }
            _ => return Err(mismatch()),
        })
    }
}

impl Accrual {
    /// A program's what-if, its window resolved (defaults: the 30 days
    /// before now). NOT_FOUND for a program never published;
    /// INVALID_ARGUMENT for a draft in another currency (its purchases'
    /// amounts are in the program's).
    #[instrument(name = "boomerang.accrual.simulations.ask_program", skip_all, fields(tenant = %tenant, program = %id), err(level = "info"))]
    pub async fn ask_program(
        &self,
        tenant: &TenantId,
        id: &str,
        draft: Program,
        (from, to): (Option<i64>, Option<i64>),
        top: u32,
    ) -> Result<Ask, AppError> {
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
        // Purchases earlier in a capped period than the window count toward its caps.
        let warm_from = draft
            .per_period_caps
            .iter()
            .filter_map(|c| caps::period_of(c.period, &draft.timezone, from))
            .map(|(start, _, _)| start)
            .fold(from, i64::min);
        Ok(Ask {
            program: id.to_owned(),
            window: (from, to),
            warm_from,
            top,
            what: What::Program {
                draft: Box::new(draft),
                latest,
            },
        })
    }

    /// A campaign's what-if over the purchases of program `id`: `spec` as
    /// campaign-svc takes it, and checked by it; the window defaults to the
    /// draft's run until now, and its budgets count from the draft's start.
    /// NOT_FOUND for a program never published.
    #[instrument(name = "boomerang.accrual.simulations.ask_campaign", skip_all, fields(tenant = %tenant, program = %id, campaign = %campaign), err(level = "info"))]
    pub async fn ask_campaign(
        &self,
        tenant: &TenantId,
        (id, campaign): (&str, &str),
        spec: Option<&CampaignSpec>,
        (from, to): (Option<i64>, Option<i64>),
        top: u32,
    ) -> Result<Ask, AppError> {
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
        let (_, program, _) = self.program(tenant, id, None).await?;
        // What the draft's run spent before the window counts toward its
        // budgets and per-customer caps (at most a longest window before it).
        let limited = !draft.budgets.is_empty() || draft.per_customer.is_some();
        let warm_from = starts_at
            .filter(|start| limited && *start < from)
            .map_or(from, |start| start.max(from - MAX_DAYS * DAY_US));
        Ok(Ask {
            program: id.to_owned(),
            window: (from, to),
            warm_from,
            top,
            what: What::Campaign {
                draft: Box::new(draft),
                program: Box::new(program),
            },
        })
    }

    /// Whether campaign-svc would take `spec` (its refusals, under `spec.`).
    pub async fn check_campaign(
        &self,
        tenant: &TenantId,
        spec: Option<&CampaignSpec>,
    ) -> Result<(), AppError> {
        self.upstream().campaign_draft(tenant, "", spec).await?;
        Ok(())
    }

    /// The purchases of `ask`'s window as it starts (its progress's total).
    pub async fn purchases_in(&self, tenant: &TenantId, ask: &Ask) -> Result<u64, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        let n = repo::count_window(&mut conn, tenant.as_str(), &ask.program, ask.window).await?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// `ask` answered at once.
    #[instrument(name = "boomerang.accrual.simulations.simulate", skip_all, fields(tenant = %tenant, program = %ask.program, purchases), err(level = "info"))]
    pub async fn simulate(&self, tenant: &TenantId, ask: &Ask) -> Result<Answer, AppError> {
        let _turn = self.turn().await?;
        let done = self
            .advance(tenant, ask, Checkpoint::start(ask), None)
            .await?;
        tracing::Span::current().record("purchases", done.seen);
        done.answer(ask)
    }

    /// `ask` priced on from `at`, at most `pages` pages (all: none).
    pub(super) async fn advance(
        &self,
        tenant: &TenantId,
        ask: &Ask,
        at: Checkpoint,
        pages: Option<usize>,
    ) -> Result<Checkpoint, AppError> {
        let (from, to) = ask.window;
        let Checkpoint {
            mut after,
            mut seen,
            state,
        } = at;
        let mut pages = Pages {
            after: &mut after,
            to,
            left: pages,
        };
        let mut versions = Versions::default();
        let program = ask.program.as_str();
        let state = match (&ask.what, state) {
            (What::Program { draft, latest }, State::Program(snapshot)) => {
                let source = format!("draft:{program}");
                let mut sim = Simulator::resume(draft, *latest, source, snapshot);
                while let Some(page) = pages.next(self, tenant, program).await? {
                    for p in &page {
                        if p.occurred_at < from {
                            sim.warm_up(p);
                            continue;
                        }
                        seen += 1;
                        let priced_by = versions.get(self, tenant, program, p.version).await?;
                        sim.add(p, Some(priced_by));
                    }
                }
                State::Program(sim.snapshot())
            }
            (What::Campaign { draft, .. }, State::Campaign(snapshot)) => {
                let mut sim = CampaignSimulator::resume(draft, snapshot);
                while let Some(page) = pages.next(self, tenant, program).await? {
                    seen += page.iter().filter(|p| p.occurred_at >= from).count() as u64;
                    for p in &page {
                        if !sim.rewarded(p) {
                            continue;
                        }
                        let priced_by = versions.get(self, tenant, program, p.version).await?;
                        if p.occurred_at < from {
                            sim.warm_up(p, priced_by);
                        } else {
                            sim.add(p, priced_by);
                        }
                    }
                }
                State::Campaign(sim.snapshot())
            }
            _ => return Err(mismatch()),
        };
        Ok(Checkpoint { after, seen, state })
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

fn mismatch() -> AppError {
    AppError::Internal(anyhow::anyhow!(
        "a what-if's state is not of what it prices"
    ))
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
#[derive(Default)]
struct Versions(BTreeMap<i64, Program>);

impl Versions {
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

/// The purchases of a program recorded before `to` after `after`, in the
/// order they occurred, a page at a time (at most `left`); each read with a
/// connection given back after.
struct Pages<'c> {
    after: &'c mut Option<(i64, String)>,
    to: i64,
    left: Option<usize>,
}

impl Pages<'_> {
    async fn next(
        &mut self,
        accrual: &Accrual,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Vec<Recorded>>, AppError> {
        if self.left == Some(0) {
            return Ok(None);
        }
        let Some((at, order)) = self.after.take() else {
            return Ok(None);
        };
        // Pricing a page is CPU work: let other tasks of this worker run.
        tokio::task::yield_now().await;
        // Its purchases, rewards and returns as of one moment: a return
        // recorded meanwhile is in all of them or in none.
        let page = {
            let mut read = accrual.db().snapshot().await?;
            let page =
                repo::recorded_page(&mut read, tenant.as_str(), id, (at, &order), self.to, PAGE)
                    .await?;
            read.commit().await?;
            page
        };
        *self.after = match page.last() {
            Some(last) if page.len() as i64 == PAGE => {
                Some((last.occurred_at, last.order_id.clone()))
            }
            _ => None,
        };
        self.left = self.left.map(|n| n - 1);
        Ok(Some(page))
    }
}
