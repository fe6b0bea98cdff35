//! Purchases into rewards. A record is two steps around the caller's
//! idempotency transaction: [`Accrual::prepare`] prices the purchase (program,
//! tier, campaigns at `occurred_at`) and reserves campaign budget, outside any
//! transaction; [`Accrual::store`] then locks the member, applies per-period
//! caps and fraud flags, and stores the purchase, its rewards, their outbox
//! messages, events and the tier in the caller's transaction.
mod credits;
mod pricing;

use boomerang_common::{db::Conn, error::AppError, tenant::TenantId};
use tracing::instrument;

pub(super) use credits::{Sale, voucher_issue};

use super::{Accrual, effects::Effects, program_ref};
use crate::{
    domain::{
        caps,
        fraud::{self, Flag},
        program::Program,
        rewards::{Computed, Explanation, Line, Reward},
    },
    repo::{self, PurchaseRow, RewardRow},
};

/// The review state of a purchase whose rewards are held back.
pub(super) const HELD: &str = "held";
/// The review state of a purchase rejected after review.
pub(super) const REJECTED: &str = "rejected";

/// A purchase as asked.
#[derive(Clone, Debug)]
pub struct PurchaseInput {
    /// Program.
    pub program_id: String,
    /// Order.
    pub order_id: String,
    /// Buyer.
    pub customer: String,
    /// Currency.
    pub currency: String,
    /// Lines.
    pub lines: Vec<Line>,
    /// Channel enum value.
    pub channel: i32,
    /// Store.
    pub store: String,
    /// When (unix micros).
    pub occurred_at_us: i64,
    /// Hash of the request (replays must match).
    pub request_hash: Vec<u8>,
    /// Rewards of coupon codes applied at checkout, priced with the
    /// campaigns that apply.
    pub coupon_offers: Vec<crate::domain::rewards::Offer>,
}

/// A reward with its state.
#[derive(Clone, Debug)]
pub struct RecordedReward {
    /// Number within the order.
    pub no: i64,
    /// The reward.
    pub reward: Reward,
    /// Reversed so far.
    pub reversed: i64,
    /// When available (None: preview or immediately), unix micros.
    pub release_at_us: Option<i64>,
    /// Held back for review.
    pub held: bool,
}

/// A recorded (or previewed) purchase.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Program version used.
    pub program_version: i64,
    /// Rewards.
    pub rewards: Vec<RecordedReward>,
    /// What gave nothing, and why.
    pub skipped: Vec<Explanation>,
    /// Fraud flags raised (recorded purchases only).
    pub flags: Vec<Flag>,
    /// Rewards held back for review.
    pub held: bool,
}

/// A purchase priced and its campaign budget reserved, ready to [`Accrual::store`].
#[derive(Debug)]
pub struct Prepared {
    input: PurchaseInput,
    stage: Stage,
}

#[derive(Debug)]
enum Stage {
    /// The order was recorded already, with the same content.
    Recorded(Recorded),
    /// New: what it earns, with the reservation of each campaign reward.
    Priced(Box<pricing::Priced>),
}

/// When rewards earned at `occurred_at_us` become available, if the program
/// has a return window.
pub(super) fn release_at(program: &Program, occurred_at_us: i64) -> Option<i64> {
    (program.return_window_days > 0)
        .then(|| occurred_at_us + i64::from(program.return_window_days) * 86_400_000_000)
}

impl Accrual {
    /// What a purchase would earn ("you will earn X"), with no effect anywhere.
    #[instrument(name = "boomerang.accrual.purchases.preview", skip_all,
                 fields(tenant = %tenant, program = %p.program_id, order = %p.order_id), err(level = "info"))]
    pub async fn preview(
        &self,
        tenant: &TenantId,
        p: &PurchaseInput,
    ) -> Result<Recorded, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        let standing =
            repo::standing(&mut conn, tenant.as_str(), &p.program_id, &p.customer, None).await?;
        let mut priced = self.price(&mut conn, tenant, p, standing).await?;
        // Per-period caps as they stand now, read without the member's lock
        // (a record re-reads them under it, in `store`).
        let rooms = self.rooms(&mut conn, tenant, p, &priced.program).await?;
        let pref = program_ref(&p.program_id, priced.version);
        caps::apply(&mut priced.computed, &rooms, &pref);
        Ok(Recorded {
            program_version: priced.version,
            rewards: priced
                .computed
                .rewards
                .into_iter()
                .enumerate()
                // Cut to nothing by a cap: explained in `skipped`, as a record
                // does, numbered as a record numbers it.
                .filter(|(_, r)| r.amount > 0)
                .map(|(i, reward)| RecordedReward {
                    no: i64::try_from(i).unwrap_or_default(),
                    reward,
                    reversed: 0,
                    release_at_us: None,
                    held: false,
                })
                .collect(),
            skipped: priced.computed.skipped,
            flags: vec![],
            held: false,
        })
    }

    /// Prices a purchase to record and reserves its campaign budget (keyed by
    /// order and campaign, so a retry reuses the reservation). An order
    /// recorded already with the same content is answered as it was.
    #[instrument(name = "boomerang.accrual.purchases.prepare", skip_all,
                 fields(tenant = %tenant, program = %p.program_id, order = %p.order_id), err(level = "info"))]
    pub async fn prepare(&self, tenant: &TenantId, p: PurchaseInput) -> Result<Prepared, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        let (t, order) = (tenant.as_str(), Some(p.order_id.as_str()));
        let mut standing = repo::standing(&mut conn, t, &p.program_id, &p.customer, order).await?;
        if standing.order_as_guest {
            return Err(AppError::AlreadyExists(format!(
                "order {} was recorded as a guest's purchase",
                p.order_id
            )));
        }
        if standing.member.is_none()
            && self
                .enrolls_on_purchase(&mut conn, tenant, &p, &standing)
                .await?
        {
            standing = repo::standing(&mut conn, t, &p.program_id, &p.customer, order).await?;
        }
        if standing.order_recorded
            && let Some(done) = self.stored(&mut conn, tenant, &p).await?
        {
            return Ok(Prepared {
                input: p,
                stage: Stage::Recorded(done),
            });
        }
        let mut priced = self.price(&mut conn, tenant, &p, standing).await?;
        drop(conn);
        self.reserve_budgets(tenant, &p, &mut priced).await?;
        Ok(Prepared {
            input: p,
            stage: Stage::Priced(Box::new(priced)),
        })
    }

    /// Enrols the buyer of `p` who is no member yet when the program says a
    /// first purchase does (`auto_enroll`): the welcome bonus once, a
    /// concurrent enrolment being the same one. Whether they were.
    async fn enrolls_on_purchase(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        p: &PurchaseInput,
        standing: &repo::Standing,
    ) -> Result<bool, AppError> {
        let Some(version) = standing.version else {
            return Ok(false);
        };
        let program = self
            .program_at(conn, tenant, &p.program_id, version)
            .await?;
        if !program.auto_enroll {
            return Ok(false);
        }
        // A member since the purchase (reports count their purchases from then).
        let since = p.occurred_at_us.min(self.clock().now());
        let newcomer = repo::MemberRow::newcomer(&p.customer, since);
        let mut tx = self.db().begin().await?;
        self.enroll(&mut tx, tenant, &p.program_id, newcomer)
            .await?;
        tx.commit().await?;
        self.committed();
        Ok(true)
    }

    /// Stores a prepared purchase in the caller's transaction: under the
    /// member's lock, caps and fraud flags, then the purchase, its rewards and
    /// their outbox messages, the referral notice, events and the tier. A
    /// concurrent record of the same order that committed first is answered as
    /// it was recorded. Long because it is the purchase's transaction read
    /// top-down, one call a step.
    #[instrument(name = "boomerang.accrual.purchases.store", skip_all,
                 fields(tenant = %tenant, order = %prepared.input.order_id, held), err(level = "info"))]
    pub async fn store(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        prepared: Prepared,
    ) -> Result<Recorded, AppError> {
        let Prepared { input: p, stage } = prepared;
        let priced = match stage {
            Stage::Recorded(done) => return Ok(done),
            Stage::Priced(priced) => priced,
        };
        let pricing::Priced {
            version,
            program,
            tier,
            mut computed,
            reservations,
            exposures,
        } = *priced;
        let now = self.clock().now();
        // Purchases of one member serialise on the member row (tier, first
        // purchase, per-period caps, fraud history).
        let member = repo::get_member(
            conn,
            self.db(),
            tenant.as_str(),
            &p.program_id,
            &p.customer,
            true,
        )
        .await?;
        // A purchase of the same member may have committed since pricing: cut
        // to the room left now, read under the lock.
        let rooms = self.rooms(conn, tenant, &p, &program).await?;
        caps::apply(&mut computed, &rooms, &program_ref(&p.program_id, version));
        let flagged = self.flags(conn, tenant, &p, &program).await?;
        let held = program.fraud.hold && !flagged.is_empty();
        tracing::Span::current().record("held", held);
        let row = PurchaseRow {
            customer_id: p.customer.clone(),
            program_version: version,
            request_hash: p.request_hash.clone(),
            lines: p.lines.clone(),
            tier,
            occurred_at: p.occurred_at_us,
            flags: flagged.iter().map(|(f, _)| *f).collect(),
            review: if held { HELD.into() } else { String::new() },
        };
        let purchase = repo::NewPurchase {
            order_id: &p.order_id,
            row: &row,
            eligible: computed.eligible,
            channel: boomerang_proto::common::v1::channel_name(p.channel).unwrap_or_default(),
            store: &p.store,
        };
        if !repo::insert_purchase(conn, tenant.as_str(), &p.program_id, purchase, now).await? {
            return self.stored(conn, tenant, &p).await?.ok_or_else(|| {
                AppError::Aborted("concurrent record of the same order, retry".into())
            });
        }
        let seen = repo::Seen {
            program: &p.program_id,
            customer: &p.customer,
            order: &p.order_id,
            at: p.occurred_at_us,
        };
        repo::expose(conn, tenant.as_str(), &seen, &exposures).await?;
        let release = release_at(&program, p.occurred_at_us);
        let added = qualifying_added(&program, &computed, held, p.occurred_at_us, now);
        let storing = credits::Storing {
            p: &p,
            version,
            program: &program,
            release_at_us: release,
            held,
            now,
        };
        let mut fx = Effects::default();
        let rewards = std::mem::take(&mut computed.rewards);
        let out = self
            .store_rewards(conn, &mut fx, tenant, &storing, rewards, &reservations)
            .await?;
        // Every purchase goes to referral-svc (it pays referrers and knows who
        // already bought); a held one only once it is approved.
        if !held {
            let sale = Sale {
                program_id: &p.program_id,
                order: &p.order_id,
                customer: &p.customer,
                occurred_at_us: p.occurred_at_us,
            };
            let (eligible, currency) = (computed.eligible, &program.currency);
            Self::tell_referral(&mut fx, &sale, eligible, currency, release);
        }
        let announcement = credits::Announcement {
            p: &p,
            currency: &program.currency,
            eligible: computed.eligible,
            flagged: &flagged,
            held,
            rewards: &out,
        };
        Self::announce(&mut fx, &announcement);
        // The tier, judged by the version this purchase was priced by, with
        // the purchase counted.
        let view = self
            .judge(conn, tenant, &p.program_id, program.clone(), member)
            .await?;
        self.apply_tier(conn, &mut fx, tenant, &p.program_id, view, added)
            .await?;
        self.write_effects(conn, tenant, fx).await?;
        Ok(Recorded {
            program_version: version,
            rewards: out,
            skipped: computed.skipped,
            flags: row.flags,
            held,
        })
    }

    /// The stored result of an order, if recorded; another content under the
    /// same order id is ALREADY_EXISTS.
    async fn stored(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        p: &PurchaseInput,
    ) -> Result<Option<Recorded>, AppError> {
        let (t, order) = (tenant.as_str(), p.order_id.as_str());
        let Some(purchase) = repo::get_purchase(conn, self.db(), t, &p.program_id, order).await?
        else {
            return Ok(None);
        };
        if purchase.request_hash != p.request_hash {
            return Err(AppError::AlreadyExists(format!(
                "order {order} was already recorded with different content; a return or a new order id is needed"
            )));
        }
        let rows = repo::rewards(conn, t, &p.program_id, order).await?;
        let held = purchase.review == HELD;
        Ok(Some(Recorded {
            program_version: purchase.program_version,
            rewards: recorded(rows, held),
            skipped: vec![],
            flags: purchase.flags,
            held,
        }))
    }

    /// The fraud flags a purchase raises, counted under the member's lock.
    async fn flags(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        p: &PurchaseInput,
        program: &Program,
    ) -> Result<Vec<(Flag, String)>, AppError> {
        let rules = &program.fraud;
        let since = p.occurred_at_us - i64::from(rules.return_window_days) * 86_400_000_000;
        let history = repo::fraud_history(
            conn,
            tenant.as_str(),
            &p.program_id,
            &p.customer,
            p.occurred_at_us,
            since,
        )
        .await?;
        Ok(fraud::flags(rules, history))
    }

    /// What the member may still earn under each per-period cap, in the
    /// periods `p` occurred in.
    async fn rooms(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        p: &PurchaseInput,
        program: &Program,
    ) -> Result<Vec<caps::Room>, AppError> {
        let mut rooms = Vec::new();
        let periods = caps::periods(
            &program.per_period_caps,
            &program.timezone,
            p.occurred_at_us,
        );
        for (cap, from, to, period) in periods {
            let asset = cap.cap.code().to_owned();
            let earned = repo::base_earned(
                conn,
                tenant.as_str(),
                &p.program_id,
                &p.customer,
                &asset,
                (from, to),
            )
            .await?;
            rooms.push(caps::Room {
                asset,
                cap: cap.cap.minor(),
                earned,
                period,
            });
        }
        Ok(rooms)
    }
}

/// What a purchase adds toward a tier (before its rewards are moved out):
/// nothing while held, nor when it occurred before the window.
fn qualifying_added(program: &Program, computed: &Computed, held: bool, at: i64, now: i64) -> i64 {
    let window = i64::from(program.tiers.window_days.max(1)) * 86_400_000_000;
    if held || at < now - window {
        0
    } else if program.tiers.by_points {
        computed
            .rewards
            .iter()
            .filter(|r| r.asset == "PTS")
            .map(|r| r.amount)
            .sum()
    } else {
        computed.eligible
    }
}

/// Stored reward rows as recorded rewards.
pub(super) fn recorded(rows: Vec<RewardRow>, held: bool) -> Vec<RecordedReward> {
    rows.into_iter()
        .map(|r| RecordedReward {
            no: r.no,
            reward: r.reward,
            reversed: r.reversed,
            release_at_us: Some(r.release_at),
            held,
        })
        .collect()
}
