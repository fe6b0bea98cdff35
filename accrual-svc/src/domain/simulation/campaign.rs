//! What-if of a campaign, pure: the purchases its offer rewarded priced
//! again under a draft of it, by the computation RecordPurchase uses with
//! the program version that priced each, then the draft's caps and budgets
//! in the order the purchases occurred.
//!
//! A customer's arm is picked by the draft's weights ([`arms::pick`]), as
//! campaign-svc picks it at each purchase. Not seen: purchases the live
//! campaign did not reward (its other conditions, an arm without reward,
//! an exclusive campaign that won, a budget or cap already spent), so a
//! draft that widens who qualifies is priced on those it rewarded. Its
//! coupon codes' rewards keep their own effect and are not counted.
//!
//! Net of returns: what a purchase was granted less what its returns took
//! back, and the draft's reward after each return in turn
//! ([`super::after_returns`]); what a return takes back goes back to the
//! budget, the day and the customer it was taken from when the return was
//! recorded, as a reservation released.
use std::collections::BTreeMap;

use boomerang_common::arms;
use jiff::{Timestamp, tz::TimeZone};
use serde::{Deserialize, Serialize};

use super::{Pending, Recorded, Slice, sums, top};
use crate::domain::{
    program::Program,
    rewards::{self, Effect, Offer, Reward},
};

/// An arm of the draft.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Arm {
    pub name: String,
    pub weight: u32,
    /// None: no reward (a control).
    pub effect: Option<Effect>,
}

/// A budget of the draft, minor units of `asset`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Budget {
    pub asset: String,
    pub total: i64,
    pub per_day: Option<i64>,
}

/// What of a campaign draft prices a purchase; amounts are (minor, asset).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Draft {
    pub campaign_id: String,
    /// The effect when there are no variants.
    pub effect: Option<Effect>,
    pub variants: Vec<Arm>,
    /// Lines it is limited to (empty: every eligible line).
    pub categories: Vec<String>,
    pub min_order: Option<(i64, String)>,
    pub per_order: Option<(i64, String)>,
    pub per_customer: Option<(i64, String)>,
    pub budgets: Vec<Budget>,
    /// The schedule's zone (IANA name): a per-day budget's days.
    pub timezone: String,
    /// Who it is for, as far as a recorded purchase tells.
    #[serde(default)]
    pub admits: Admits,
    /// What of the draft, against the live campaign, this what-if does not
    /// price ([`not_priced`]).
    #[serde(default)]
    pub not_priced: Vec<String>,
}

/// The conditions of a draft a recorded purchase answers: its channel
/// ("online", "store", "app"), store and tier id as recorded (an empty
/// list: any), and the schedule's run, `[from, until)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Admits {
    pub channels: Vec<String>,
    pub stores: Vec<String>,
    pub tiers: Vec<String>,
    pub run: (i64, i64),
}

impl Default for Admits {
    fn default() -> Self {
        Self {
            channels: Vec::new(),
            stores: Vec::new(),
            tiers: Vec::new(),
            run: (i64::MIN, i64::MAX),
        }
    }
}

impl Admits {
    /// Whether `p` meets them, as campaign-svc's targeting would have found.
    /// A purchase recorded before channels and stores were kept has neither
    /// (""): unknown, so admitted.
    fn admit(&self, p: &Recorded) -> bool {
        let any = |list: &[String], value: &str| list.is_empty() || list.iter().any(|x| x == value);
        let known = |list: &[String], value: &str| value.is_empty() || any(list, value);
        let tier = p.tier.as_ref().map_or("", |(id, _)| id.as_str());
        known(&self.channels, &p.channel)
            && known(&self.stores, &p.store)
            && any(&self.tiers, tier)
            && (self.run.0..self.run.1).contains(&p.occurred_at)
    }
}

/// A campaign's targeting, each part comparable, for [`not_priced`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Targeting {
    pub categories: Vec<String>,
    pub channels: Vec<String>,
    pub stores: Vec<String>,
    pub segments: Vec<String>,
    pub tiers: Vec<String>,
    /// (minor, asset)
    pub min_order: Option<(i64, String)>,
    pub first_purchase_only: bool,
    /// `[from, until)`
    pub run: (i64, i64),
    /// The schedule's timezone and windows, as given (compared whole).
    pub windows: String,
    pub priority: i32,
    pub stacking: i32,
}

/// What a what-if of `draft` cannot price, against the `live` campaign: it
/// prices the purchases the live campaign rewarded, with the draft's
/// categories, minimum order, channels, stores, tiers and run checked on
/// them; a draft that admits more, or asks what a purchase does not record,
/// is said so here, once each.
pub fn not_priced(live: &Targeting, draft: &Targeting) -> Vec<String> {
    let wider = |live: &[String], draft: &[String]| {
        !live.is_empty() && (draft.is_empty() || draft.iter().any(|x| !live.contains(x)))
    };
    let mut widened = Vec::new();
    for (name, l, d) in [
        ("categories", &live.categories, &draft.categories),
        ("channels", &live.channels, &draft.channels),
        ("stores", &live.stores, &draft.stores),
        ("segments", &live.segments, &draft.segments),
        ("tiers", &live.tiers, &draft.tiers),
    ] {
        if wider(l, d) {
            widened.push(name);
        }
    }
    let lower = match (&live.min_order, &draft.min_order) {
        (Some(_), None) => true,
        (Some((l, la)), Some((d, da))) => d < l || la != da,
        _ => false,
    };
    if lower {
        widened.push("minimum order");
    }
    if live.first_purchase_only && !draft.first_purchase_only {
        widened.push("first purchase only");
    }
    if draft.run.0 < live.run.0 || draft.run.1 > live.run.1 {
        widened.push("schedule");
    }
    let mut out = Vec::new();
    if !widened.is_empty() {
        out.push(format!(
            "purchases the live campaign did not reward are not priced, though the draft admits more ({})",
            widened.join(", ")
        ));
    }
    if live.segments != draft.segments && !draft.segments.is_empty() {
        out.push(
            "segments are not checked: a purchase does not record its member's segment".into(),
        );
    }
    if draft.first_purchase_only && !live.first_purchase_only {
        out.push("first purchase only is not checked".into());
    }
    if live.windows != draft.windows {
        out.push("the schedule's windows are not checked".into());
    }
    if (live.priority, live.stacking) != (draft.priority, draft.stacking) {
        out.push(
            "priority and stacking are not priced: other campaigns' offers are as they were".into(),
        );
    }
    out
}

impl Draft {
    /// The customer's arm and its effect: the draft's weights pick it, as
    /// campaign-svc does at every purchase (arms are not sticky), so an
    /// unchanged draft gives each customer the arm they were in.
    fn arm(&self, customer: &str) -> (String, Option<Effect>) {
        if self.variants.is_empty() {
            return (String::new(), self.effect.clone());
        }
        let weights: Vec<u32> = self.variants.iter().map(|a| a.weight).collect();
        arms::pick(&self.campaign_id, customer, &weights)
            .and_then(|i| self.variants.get(i))
            .map_or((String::new(), None), |a| {
                (a.name.clone(), a.effect.clone())
            })
    }

    /// The local day of `at` in the draft's zone.
    pub fn day(&self, at: i64) -> String {
        day(&self.zone(), at)
    }

    fn zone(&self) -> TimeZone {
        TimeZone::get(&self.timezone).unwrap_or(TimeZone::UTC)
    }
}

/// The local day of `at` in `zone`, "2026-11-14".
fn day(zone: &TimeZone, at: i64) -> String {
    Timestamp::from_microsecond(at)
        .map(|ts| ts.to_zoned(zone.clone()).date().to_string())
        .unwrap_or_default()
}

/// A budget's run, minor units.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetRun {
    pub total: i64,
    /// Taken from the draft's start to the end of the window.
    pub spent: i64,
    /// Wanted but not given for lack of budget (total or day).
    pub short: i64,
    /// The purchase at which the total would have run out.
    pub runs_out_at: Option<i64>,
    /// The first purchase whose campaign reward the live campaign cut.
    pub ran_out_at: Option<i64>,
}

/// What the draft would have given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignReport {
    pub all: Slice,
    /// By arm ("" without variants).
    pub by_variant: BTreeMap<String, Slice>,
    pub by_channel: BTreeMap<String, Slice>,
    pub by_customer: BTreeMap<String, Slice>,
    /// By asset, one per budget of the draft.
    pub budgets: BTreeMap<String, BudgetRun>,
    /// What this what-if does not price ([`not_priced`]).
    #[serde(default)]
    pub not_priced: Vec<String>,
}

impl CampaignReport {
    /// The `n` customers whose rewards change most (see [`super::Report::top_customers`]).
    pub fn top_customers(&self, program: &Program, n: usize) -> Vec<(&str, &Slice, i64)> {
        top(&self.by_customer, program, n)
    }
}

/// A [`CampaignSimulator`]'s state between two runs of a what-if job.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CampaignSnapshot {
    spent_day: Vec<((String, String), i64)>,
    spent_customer: Vec<((String, String), i64)>,
    #[serde(default)]
    given_back: Vec<(i64, Release)>,
    report: CampaignReport,
}

/// What a return gives back: (asset, day, customer, minor units).
type Release = (String, String, String, i64);

/// How a coupon code's reward names its offer's variant ("coupon:CODE").
const COUPON: &str = "coupon:";

/// Prices, in the order they occurred, the purchases a campaign rewarded.
pub struct CampaignSimulator<'a> {
    draft: &'a Draft,
    /// The draft's zone, looked up once.
    zone: TimeZone,
    source_ref: String,
    /// Taken per asset, per (asset, day) and per (asset, customer).
    spent_day: BTreeMap<(String, String), i64>,
    spent_customer: BTreeMap<(String, String), i64>,
    /// Releases by returns later than the purchases priced so far.
    given_back: Pending<Release>,
    report: CampaignReport,
}

impl<'a> CampaignSimulator<'a> {
    pub fn new(draft: &'a Draft) -> Self {
        let budgets = draft
            .budgets
            .iter()
            .map(|b| {
                let run = BudgetRun {
                    total: b.total,
                    ..BudgetRun::default()
                };
                (b.asset.clone(), run)
            })
            .collect();
        Self {
            draft,
            zone: draft.zone(),
            source_ref: format!("draft:campaign:{}", draft.campaign_id),
            spent_day: BTreeMap::new(),
            spent_customer: BTreeMap::new(),
            given_back: Pending::default(),
            report: CampaignReport {
                budgets,
                not_priced: draft.not_priced.clone(),
                ..CampaignReport::default()
            },
        }
    }

    /// A purchase before the window, since the draft's start: it takes from
    /// the budgets and caps, not in the report.
    pub fn warm_up(&mut self, p: &Recorded, priced_by: &Program) {
        self.price(p, priced_by);
    }

    /// A purchase in the window, priced when recorded by `priced_by`.
    pub fn add(&mut self, p: &Recorded, priced_by: &Program) {
        let Some((arm, simulated)) = self.price(p, priced_by) else {
            return;
        };
        let granted: Vec<Reward> = p.granted().filter(|r| self.theirs(r)).collect();
        let granted = sums(granted.iter());
        let simulated = sums(simulated.iter());
        let r = &mut self.report;
        r.all.add(&granted, &simulated);
        for slice in [
            r.by_variant.entry(arm).or_default(),
            r.by_channel.entry(p.channel.clone()).or_default(),
            r.by_customer.entry(p.customer.clone()).or_default(),
        ] {
            slice.add(&granted, &simulated);
        }
    }

    /// The report, its budgets' spending net of every return recorded.
    pub fn finish(mut self) -> CampaignReport {
        self.give_back_until(i64::MAX);
        self.report
    }

    /// Where it stands, to go on later with [`Self::resume`].
    pub fn snapshot(self) -> CampaignSnapshot {
        CampaignSnapshot {
            spent_day: self.spent_day.into_iter().collect(),
            spent_customer: self.spent_customer.into_iter().collect(),
            given_back: self.given_back.into_vec(),
            report: self.report,
        }
    }

    /// Goes on from `snapshot` (taken under the same draft).
    pub fn resume(draft: &'a Draft, snapshot: CampaignSnapshot) -> Self {
        Self {
            spent_day: snapshot.spent_day.into_iter().collect(),
            spent_customer: snapshot.spent_customer.into_iter().collect(),
            given_back: Pending::from_vec(snapshot.given_back),
            report: snapshot.report,
            ..Self::new(draft)
        }
    }

    /// Whether the campaign rewarded `p` (its own reward, not a coupon's):
    /// the purchases it prices.
    pub fn rewarded(&self, p: &Recorded) -> bool {
        p.rewards.iter().any(|r| self.theirs(r))
    }

    /// Whether `r` is the campaign's own reward (not one of its coupon
    /// codes': a coupon keeps its own effect).
    fn theirs(&self, r: &Reward) -> bool {
        r.offer.as_ref().is_some_and(|o| {
            o.campaign_id == self.draft.campaign_id && !o.variant.starts_with(COUPON)
        })
    }

    /// The customer's arm and the campaign's rewards under the draft, after
    /// its caps and budgets; none for a purchase it did not reward.
    fn price(&mut self, p: &Recorded, program: &Program) -> Option<(String, Vec<Reward>)> {
        let draft = self.draft;
        // What returns released before RecordPurchase priced it.
        self.give_back_until(p.recorded_at);
        if !self.rewarded(p) {
            return None;
        }
        // The live campaign cut this purchase's reward: its budget (or a cap) ran short.
        let cut = p
            .rewards
            .iter()
            .find(|r| self.theirs(r) && r.earned > r.amount)
            .map(|r| r.asset.clone());
        if let Some(run) = cut.and_then(|asset| self.report.budgets.get_mut(&asset)) {
            run.ran_out_at = run.ran_out_at.or(Some(p.occurred_at));
        }
        // A purchase the draft's conditions leave out gets nothing from it.
        let (arm, effect) = draft.arm(&p.customer);
        let effect = effect.filter(|_| draft.admits.admit(p));
        // A minimum in another currency than the order's: no order qualifies.
        let min_order = draft.min_order.as_ref().map(|(minor, asset)| {
            if *asset == program.currency {
                *minor
            } else {
                i64::MAX
            }
        });
        // Its offers as recorded (one per reward), the campaign's own replaced by the draft's.
        let mut offers: Vec<Offer> = Vec::new();
        for reward in &p.rewards {
            let Some(offer) = &reward.offer else {
                continue;
            };
            if !self.theirs(reward) {
                offers.push(offer.clone());
            } else if let Some(effect) = &effect {
                offers.push(Offer {
                    campaign_id: draft.campaign_id.clone(),
                    version: 0,
                    variant: arm.clone(),
                    effect: effect.clone(),
                    categories: draft.categories.clone(),
                    min_order,
                });
            }
        }
        let tier = p.tier.as_ref().map(|(id, m)| (id.as_str(), m.as_str()));
        let kept: Vec<u32> = p.lines.iter().map(|l| l.quantity).collect();
        let computed = rewards::compute(program, &self.source_ref, &p.lines, &kept, tier, &offers);
        let mut given: Vec<Reward> = computed
            .rewards
            .into_iter()
            .filter(|r| self.theirs(r))
            .collect();
        let day = if draft.budgets.iter().any(|b| b.per_day.is_some()) {
            day(&self.zone, p.occurred_at)
        } else {
            String::new()
        };
        let mut per_order: BTreeMap<String, i64> = BTreeMap::new();
        for reward in &mut given {
            let asset = reward.asset.clone();
            let mut want = reward.amount;
            if let Some((cap, _)) = draft.per_order.as_ref().filter(|(_, a)| *a == asset) {
                let used = per_order.entry(asset.clone()).or_default();
                want = want.min(cap.saturating_sub(*used));
            }
            let key = (asset.clone(), p.customer.clone());
            if let Some((cap, _)) = draft.per_customer.as_ref().filter(|(_, a)| *a == asset) {
                let spent = self.spent_customer.get(&key).copied().unwrap_or(0);
                want = want.min(cap.saturating_sub(spent));
            }
            want = want.max(0);
            let budget = draft.budgets.iter().find(|b| b.asset == asset);
            let amount = match budget {
                // A campaign with budgets gives nothing in an asset without one.
                None if !draft.budgets.is_empty() => 0,
                None => want,
                Some(b) => self.take(b, want, &day, p.occurred_at),
            };
            reward.amount = amount;
            let order = per_order.entry(asset).or_default();
            *order = order.saturating_add(amount);
            let customer = self.spent_customer.entry(key).or_default();
            *customer = customer.saturating_add(amount);
        }
        if !p.returns.is_empty() {
            let (kept, taken) =
                super::after_returns(program, &self.source_ref, p, tier, &offers, given);
            // Released to what limits the draft: its budgets and customer cap.
            let limited = !draft.budgets.is_empty() || draft.per_customer.is_some();
            for (at, i, minor) in taken.into_iter().filter(|_| limited) {
                if let Some(r) = kept.get(i) {
                    let (asset, customer) = (r.asset.clone(), p.customer.clone());
                    self.given_back
                        .push(at, (asset, day.clone(), customer, minor));
                }
            }
            given = kept;
        }
        given.retain(|r| r.amount > 0);
        Some((arm, given))
    }

    /// Gives back what returns recorded by `at` released: to the budget, its
    /// day and the customer's cap.
    fn give_back_until(&mut self, at: i64) {
        for (asset, day, customer, minor) in self.given_back.take_due(at) {
            if let Some(run) = self.report.budgets.get_mut(&asset) {
                run.spent = run.spent.saturating_sub(minor).max(0);
            }
            for spent in [
                self.spent_day.get_mut(&(asset.clone(), day)),
                self.spent_customer.get_mut(&(asset, customer)),
            ]
            .into_iter()
            .flatten()
            {
                *spent = spent.saturating_sub(minor).max(0);
            }
        }
    }

    /// What budget `b` gives of `want` at `at` (on `day`), taken.
    fn take(&mut self, b: &Budget, want: i64, day: &str, at: i64) -> i64 {
        let day_key = (b.asset.clone(), day.to_owned());
        let Some(run) = self.report.budgets.get_mut(&b.asset) else {
            return 0;
        };
        let left = b.total.saturating_sub(run.spent);
        let today = b
            .per_day
            .map(|cap| cap.saturating_sub(self.spent_day.get(&day_key).copied().unwrap_or(0)));
        let want_today = want.min(today.unwrap_or(i64::MAX)).max(0);
        let given = want_today.min(left).max(0);
        if left < want_today && run.runs_out_at.is_none() {
            run.runs_out_at = Some(at);
        }
        run.spent = run.spent.saturating_add(given);
        run.short = run.short.saturating_add(want - given);
        if b.per_day.is_some() {
            let today = self.spent_day.entry(day_key).or_default();
            *today = today.saturating_add(given);
        }
        given
    }
}

#[cfg(test)]
mod tests;
