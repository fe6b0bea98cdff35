//! What-if, pure: recorded purchases priced again under a draft program by
//! the computation RecordPurchase uses, compared with what they were
//! granted. Deterministic: the same purchases in the same order give the
//! same report.
//!
//! Each purchase keeps its lines, its member's tier (the draft's multiplier
//! for that tier id; none when the draft has no such tier), and the campaign
//! offers it received; a campaign reward its budget cut then keeps the cut
//! in proportion ([`returns::still_earned`]), since that budget was spent.
//! Per-period caps count what the draft would have earned in the period,
//! purchases before the window in it included ([`Simulator::warm_up`]).
//!
//! Net of returns, as RecordReturn takes back: what a purchase was granted
//! is what it was credited less what its returns took back, and what the
//! draft gives it is what it keeps after each of its returns in turn
//! ([`after_returns`]); what a return takes back of a base reward gives the
//! cap's period that room back from the moment the return was recorded.
pub mod campaign;
mod returns;

pub use returns::{Pending, after_returns};

use std::collections::BTreeMap;

use boomerang_common::money::{Amount, Asset, Rounding};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{
    caps::{self, Room},
    program::Program,
    rewards::{self, Kind, Line, Reward},
};

/// A purchase as recorded.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub order_id: String,
    /// The program version that priced it.
    pub version: i64,
    pub customer: String,
    /// "online", "store", "app" or "".
    pub channel: String,
    /// Its store ("" none).
    pub store: String,
    pub occurred_at: i64,
    /// When RecordPurchase priced it: the returns recorded by then had
    /// given their room back.
    pub recorded_at: i64,
    pub lines: Vec<Line>,
    /// (id, multiplier) at the purchase.
    pub tier: Option<(String, String)>,
    /// What it was credited (amount), and earned before a budget cut.
    pub rewards: Vec<Reward>,
    /// What returns took back of each of `rewards` (same order; missing: 0).
    pub reversed: Vec<i64>,
    /// Its returns in the order recorded: (when recorded, units per line id).
    pub returns: Vec<(i64, BTreeMap<String, u32>)>,
}

impl Recorded {
    /// What it was granted: each reward credited less what returns took back.
    pub fn granted(&self) -> impl Iterator<Item = Reward> + '_ {
        self.rewards.iter().enumerate().map(|(i, r)| Reward {
            amount: r.amount - self.reversed.get(i).copied().unwrap_or(0),
            ..r.clone()
        })
    }
}

/// Minor units, per asset.
type Amounts = Vec<(String, i64)>;

/// Granted and simulated minor units, per asset.
pub type Totals = BTreeMap<String, (i64, i64)>;

/// A part of the purchases: how many, and their totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    pub purchases: u64,
    pub totals: Totals,
}

impl Slice {
    fn add(&mut self, granted: &[(String, i64)], simulated: &[(String, i64)]) {
        self.purchases += 1;
        for (asset, minor) in granted {
            let total = &mut self.totals.entry(asset.clone()).or_default().0;
            *total = total.saturating_add(*minor);
        }
        for (asset, minor) in simulated {
            let total = &mut self.totals.entry(asset.clone()).or_default().1;
            *total = total.saturating_add(*minor);
        }
    }

    /// Whether any asset's total changed.
    pub fn changed(&self) -> bool {
        self.totals.values().any(|(g, s)| g != s)
    }

    /// The size of the change over every asset, minor units (for ordering).
    fn size(&self) -> u128 {
        self.totals
            .values()
            .map(|(g, s)| u128::from(s.abs_diff(*g)))
            .sum()
    }

    /// Simulated minus granted in the program's currency, minor units:
    /// points at the conversion, rounded toward zero once; assets with no
    /// price left out.
    pub fn cost_delta(&self, program: &Program) -> i64 {
        let total: Decimal = self
            .totals
            .iter()
            .filter_map(|(asset, (granted, simulated))| {
                let value = program.unit_value(asset)?;
                Some(rewards::units(simulated.saturating_sub(*granted), asset) * value)
            })
            .sum();
        let currency =
            Asset::builtin(&program.currency).unwrap_or_else(|| Asset::new(&program.currency, 0));
        Amount::round(total, &currency, Rounding::Down).map_or(
            if total.is_sign_negative() {
                i64::MIN
            } else {
                i64::MAX
            },
            |a| a.minor(),
        )
    }
}

/// What the draft would have given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub all: Slice,
    /// Purchases priced by another version than the latest: what they were
    /// granted is that version's.
    pub other_versions: u64,
    /// By tier id as recorded ("" none).
    pub by_tier: BTreeMap<String, Slice>,
    /// By channel.
    pub by_channel: BTreeMap<String, Slice>,
    /// By customer.
    pub by_customer: BTreeMap<String, Slice>,
    /// By category, each purchase's rewards shared among its categories
    /// (see [`rewards::category_weights`]); "" what nothing weighs.
    pub by_category: BTreeMap<String, Slice>,
}

impl Report {
    /// The `n` customers whose rewards change most: by the size of their
    /// cost change, then of their changes in every asset, ties by id.
    pub fn top_customers(&self, program: &Program, n: usize) -> Vec<(&str, &Slice, i64)> {
        top(&self.by_customer, program, n)
    }
}

/// The `n` customers of `by_customer` whose rewards change most.
fn top<'r>(
    by_customer: &'r BTreeMap<String, Slice>,
    program: &Program,
    n: usize,
) -> Vec<(&'r str, &'r Slice, i64)> {
    let mut all: Vec<_> = by_customer
        .iter()
        .filter(|(_, s)| s.changed())
        .map(|(c, s)| (c.as_str(), s, s.cost_delta(program)))
        .collect();
    all.sort_by(|a, b| {
        b.2.unsigned_abs()
            .cmp(&a.2.unsigned_abs())
            .then(b.1.size().cmp(&a.1.size()))
            .then(a.0.cmp(b.0))
    });
    all.truncate(n);
    all
}

/// A [`Simulator`]'s state between two runs of a what-if job.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Snapshot {
    earned: Vec<((String, String, String), i64)>,
    #[serde(default)]
    given_back: Vec<(i64, GiveBack)>,
    report: Report,
}

/// Room a return gives back to a cap's period: ((customer, asset, period
/// label), minor units).
type GiveBack = ((String, String, String), i64);

/// Prices recorded purchases, in the order they occurred, under a draft.
pub struct Simulator<'a> {
    program: &'a Program,
    /// The program's latest version.
    latest: i64,
    source_ref: String,
    /// Base earned under the draft per (customer, asset, period label).
    earned: BTreeMap<(String, String, String), i64>,
    /// Room returns give back later than the purchases priced so far.
    given_back: Pending<GiveBack>,
    report: Report,
}

impl<'a> Simulator<'a> {
    /// Prices under `program`, the draft of a program whose latest version
    /// is `latest`.
    pub fn new(program: &'a Program, latest: i64, source_ref: String) -> Self {
        Self {
            program,
            latest,
            source_ref,
            earned: BTreeMap::new(),
            given_back: Pending::default(),
            report: Report::default(),
        }
    }

    /// A purchase before the window in a capped period: it counts toward
    /// the period's caps, not in the report.
    pub fn warm_up(&mut self, p: &Recorded) {
        self.price(p);
    }

    /// A purchase in the window, priced when recorded by `recorded` (the
    /// version that priced it, for sharing what it was granted among its
    /// categories; the draft's shares when unknown).
    pub fn add(&mut self, p: &Recorded, recorded: Option<&Program>) {
        let simulated = self.price(p);
        let granted: Vec<Reward> = p.granted().collect();
        let granted = sums(granted.iter());
        let simulated = sums(simulated.iter());
        self.by_category(p, recorded, &granted, &simulated);
        let tier = p.tier.as_ref().map_or("", |(id, _)| id.as_str());
        let r = &mut self.report;
        r.all.add(&granted, &simulated);
        if p.version != self.latest {
            r.other_versions += 1;
        }
        for slice in [
            r.by_tier.entry(tier.to_owned()).or_default(),
            r.by_channel.entry(p.channel.clone()).or_default(),
            r.by_customer.entry(p.customer.clone()).or_default(),
        ] {
            slice.add(&granted, &simulated);
        }
    }

    /// `p`'s granted and simulated amounts shared among its categories.
    fn by_category(
        &mut self,
        p: &Recorded,
        recorded: Option<&Program>,
        granted: &[(String, i64)],
        simulated: &[(String, i64)],
    ) {
        let old = rewards::category_weights(recorded.unwrap_or(self.program), &p.lines);
        let new = rewards::category_weights(self.program, &p.lines);
        // One category that weighs on both sides has it all (most purchases).
        if let ([(category, w_old)], [(_, w_new)]) = (
            old.iter().collect::<Vec<_>>().as_slice(),
            new.iter().collect::<Vec<_>>().as_slice(),
        ) && !w_old.is_zero()
            && !w_new.is_zero()
        {
            let slice = self
                .report
                .by_category
                .entry((*category).clone())
                .or_default();
            slice.add(granted, simulated);
            return;
        }
        let mut by_category: BTreeMap<String, (Amounts, Amounts)> = p
            .lines
            .iter()
            .map(|l| (l.category.clone(), Default::default()))
            .collect();
        for (category, minor) in shares(granted, &old) {
            by_category.entry(category).or_default().0.push(minor);
        }
        for (category, minor) in shares(simulated, &new) {
            by_category.entry(category).or_default().1.push(minor);
        }
        for (category, (granted, simulated)) in by_category {
            self.report
                .by_category
                .entry(category)
                .or_default()
                .add(&granted, &simulated);
        }
    }

    pub fn finish(self) -> Report {
        self.report
    }

    /// Where it stands, to go on later with [`Self::resume`].
    pub fn snapshot(self) -> Snapshot {
        Snapshot {
            earned: self.earned.into_iter().collect(),
            given_back: self.given_back.into_vec(),
            report: self.report,
        }
    }

    /// Goes on from `snapshot` (taken under the same draft).
    pub fn resume(
        program: &'a Program,
        latest: i64,
        source_ref: String,
        snapshot: Snapshot,
    ) -> Self {
        Self {
            earned: snapshot.earned.into_iter().collect(),
            given_back: Pending::from_vec(snapshot.given_back),
            report: snapshot.report,
            ..Self::new(program, latest, source_ref)
        }
    }

    /// What the draft gives `p`, its per-period caps as they stand, net of
    /// its returns.
    fn price(&mut self, p: &Recorded) -> Vec<Reward> {
        let program = self.program;
        // The room returns gave back before RecordPurchase priced it.
        self.give_back_until(p.recorded_at);
        let tier = p.tier.as_ref().and_then(|(id, _)| {
            program
                .tiers
                .tiers
                .iter()
                .find(|t| &t.id == id)
                .map(|t| (t.id.as_str(), t.multiplier.as_str()))
        });
        let offers: Vec<_> = p.rewards.iter().filter_map(|r| r.offer.clone()).collect();
        let kept: Vec<u32> = p.lines.iter().map(|l| l.quantity).collect();
        let mut computed =
            rewards::compute(program, &self.source_ref, &p.lines, &kept, tier, &offers);
        let periods = caps::periods(&program.per_period_caps, &program.timezone, p.occurred_at);
        let rooms: Vec<Room> = periods
            .into_iter()
            .map(|(cap, _, _, period)| {
                let asset = cap.cap.code().to_owned();
                let earned = self
                    .earned
                    .get(&(p.customer.clone(), asset.clone(), period.clone()))
                    .copied()
                    .unwrap_or(0);
                Room {
                    asset,
                    cap: cap.cap.minor(),
                    earned,
                    period,
                }
            })
            .collect();
        caps::apply(&mut computed, &rooms, &self.source_ref);
        // Each (asset, period) once, though two caps may name it.
        let mut counted: Vec<(&str, &str)> = Vec::new();
        for reward in computed.rewards.iter().filter(|r| r.kind == Kind::Base) {
            for room in rooms.iter().filter(|room| room.asset == reward.asset) {
                if counted.contains(&(room.asset.as_str(), room.period.as_str())) {
                    continue;
                }
                counted.push((room.asset.as_str(), room.period.as_str()));
                let earned = self
                    .earned
                    .entry((p.customer.clone(), room.asset.clone(), room.period.clone()))
                    .or_default();
                *earned = earned.saturating_add(reward.amount);
            }
        }
        let periods: Vec<(String, String)> = counted
            .iter()
            .map(|(a, p)| ((*a).to_owned(), (*p).to_owned()))
            .collect();
        for reward in computed.rewards.iter_mut().filter(|r| r.offer.is_some()) {
            let cut = p.rewards.iter().find(|r| {
                r.kind.matches(reward.kind)
                    && r.asset == reward.asset
                    && r.offer.as_ref().map(|o| &o.campaign_id)
                        == reward.offer.as_ref().map(|o| &o.campaign_id)
                    && r.earned > r.amount
            });
            if let Some(cut) = cut {
                reward.amount = super::returns::still_earned(cut.amount, cut.earned, reward.amount);
            }
        }
        if p.returns.is_empty() {
            return computed.rewards;
        }
        let (mut kept, taken) = after_returns(
            program,
            &self.source_ref,
            p,
            tier,
            &offers,
            computed.rewards,
        );
        // What a return takes back of a base reward, its cap's period has again.
        for (at, i, minor) in taken {
            let Some(reward) = kept.get(i).filter(|r| r.kind == Kind::Base) else {
                continue;
            };
            for (_, period) in periods.iter().filter(|(a, _)| *a == reward.asset) {
                let key = (p.customer.clone(), reward.asset.clone(), period.clone());
                self.given_back.push(at, (key, minor));
            }
        }
        kept.retain(|r| r.amount != 0);
        kept
    }

    /// Gives the caps' periods the room returns recorded by `at` gave back.
    fn give_back_until(&mut self, at: i64) {
        for (key, minor) in self.given_back.take_due(at) {
            let earned = self.earned.entry(key).or_default();
            *earned = earned.saturating_sub(minor);
        }
    }
}

/// Each asset's amount shared among the categories by `weights` (largest
/// remainder: the parts add up to the amount), as (category, (asset,
/// minor)); all to "" when nothing weighs.
fn shares(
    amounts: &[(String, i64)],
    weights: &BTreeMap<String, Decimal>,
) -> Vec<(String, (String, i64))> {
    let total: Decimal = weights
        .values()
        .fold(Decimal::ZERO, |a, w| a.checked_add(*w).unwrap_or(a));
    let mut out = Vec::new();
    for (asset, amount) in amounts {
        if total.is_zero() {
            out.push((String::new(), (asset.clone(), *amount)));
            continue;
        }
        let exact: Vec<(&String, Decimal)> = weights
            .iter()
            .map(|(c, w)| {
                let part = w
                    .checked_div(total)
                    .and_then(|share| Decimal::from(*amount).checked_mul(share))
                    .unwrap_or_default();
                (c, part)
            })
            .collect();
        let mut parts: Vec<(&String, i64, Decimal)> = exact
            .iter()
            .map(|(c, x)| {
                let whole = x.trunc();
                (*c, i64::try_from(whole).unwrap_or_default(), *x - whole)
            })
            .collect();
        let mut left = amount - parts.iter().map(|(_, m, _)| *m).sum::<i64>();
        // The units left go to the largest remainders (then in category order).
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by(|a, b| parts[*b].2.abs().cmp(&parts[*a].2.abs()));
        for i in order {
            if left == 0 {
                break;
            }
            let step = left.signum();
            parts[i].1 += step;
            left -= step;
        }
        out.extend(
            parts
                .into_iter()
                .map(|(c, minor, _)| (c.clone(), (asset.clone(), minor))),
        );
    }
    out
}

/// Minor units per asset.
fn sums<'r>(rewards: impl Iterator<Item = &'r Reward>) -> Vec<(String, i64)> {
    let mut out: BTreeMap<&str, i64> = BTreeMap::new();
    for r in rewards {
        let total = out.entry(r.asset.as_str()).or_default();
        *total = total.saturating_add(r.amount);
    }
    out.into_iter().map(|(a, m)| (a.to_owned(), m)).collect()
}

#[cfg(test)]
mod tests;
