//! The program and tax reports. The program report: accrual's own figures (members, purchases, revenue,
//! rewards issued and reversed) joined with what the wallet says became of
//! the program-funded credits (pending, available, redeemed, expired).
use std::collections::BTreeMap;

use boomerang_common::{
    error::AppError,
    money::{Amount, Wire},
    tenant::TenantId,
    time::to_timestamp,
};
use rust_decimal::Decimal;
use tracing::instrument;

use super::Accrual;
use crate::{
    domain::{
        cohorts,
        tax::{self, TaxLine},
        tier,
    },
    repo,
};

/// Per asset: rewards issued and reversed, and what became of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssetTotals {
    /// Asset.
    pub asset: String,
    /// Issued on the period's purchases, minor units.
    pub issued: Option<i64>,
    /// Reversed of those.
    pub reversed: Option<i64>,
    /// Wallet: redeemed.
    pub redeemed: Option<i64>,
    /// Wallet: expired.
    pub expired: Option<i64>,
    /// Wallet: still pending.
    pub pending: Option<i64>,
    /// Wallet: available.
    pub available: Option<i64>,
    /// Pending plus available.
    pub liability: Option<i64>,
    /// Percent of what stayed credited that was redeemed.
    pub redemption_rate: Option<Decimal>,
    /// Percent of what stayed credited that expired: breakage.
    pub breakage_rate: Option<Decimal>,
    /// Wallet: the liability by the credits' age now, (from days, to days
    /// (0: no end), outstanding).
    pub aging: Vec<(u32, u32, i64)>,
}

/// A program's figures over a period.
#[derive(Clone, Debug)]
pub struct ProgramReport {
    /// The program currency.
    pub currency: String,
    /// Accrual's counts and sums.
    pub figures: repo::Report,
    /// Per asset.
    pub totals: Vec<AssetTotals>,
    /// Percent of active members who bought twice or more.
    pub retention_rate: Option<Decimal>,
    /// Revenue per unit of cost (what stayed credited in the currency).
    pub roi: Option<Decimal>,
    /// Average order of members since enrolment, minor units.
    pub average_order: Option<i64>,
    /// Average order of the same members before enrolment.
    pub average_order_before: Option<i64>,
    /// Members who bought in more than one channel.
    pub omnichannel: i64,
    /// Their percent of active members.
    pub omnichannel_share: Option<Decimal>,
    /// Percent of active members who bought again within the window.
    pub repeat_rate: Option<Decimal>,
    /// That window, days.
    pub repeat_within_days: u32,
    /// (channel, purchases, members, eligible revenue).
    pub channels: Vec<(String, i64, i64, i64)>,
    /// Retention cohorts, oldest first.
    pub cohorts: Vec<Cohort>,
    /// Lifetime value per tier, by tier id.
    pub tier_values: Vec<TierValue>,
    /// Members' and guests' (customers, purchases, revenue) in the period.
    pub shoppers: (repo::Spent, repo::Spent),
}

/// What the members of one tier (held now) brought in over their history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TierValue {
    /// Tier id ("" for none).
    pub tier: String,
    /// Members enrolled before the period's end.
    pub members: i64,
    /// Their purchases before it.
    pub purchases: i64,
    /// Eligible amount of those, minor units.
    pub revenue: i64,
    /// Their rewards in the currency, net of reversals.
    pub cost: i64,
}

/// Members enrolled in one month, and how many of them still buy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cohort {
    /// "2026-06".
    pub month: String,
    /// Enrolled in it.
    pub enrolled: i64,
    /// (months after, buying, percent of `enrolled`).
    pub retention: Vec<(u32, i64, Option<Decimal>)>,
}

/// `a / b` to four decimals; none when `b` is zero.
fn ratio(a: i64, b: i64) -> Option<Decimal> {
    (b != 0).then(|| {
        (Decimal::from(a) / Decimal::from(b))
            .round_dp(4)
            .normalize()
    })
}

/// Average order in minor units, rounded down; none without orders.
fn average((orders, total): (i64, i64)) -> Option<i64> {
    (orders > 0).then(|| total / orders)
}

fn minor(m: Option<&Wire>) -> Result<Option<i64>, AppError> {
    m.map(|m| Amount::from_wire(m).map(|a| a.minor()))
        .transpose()
        .map_err(|e| {
            AppError::Internal(anyhow::anyhow!(
                "wallet-svc answered an amount we cannot read: {e}"
            ))
        })
}

impl Accrual {
    /// The report of `program_id` for purchases and enrolments in `[from, to)`
    /// (unix micros), "coming back" meaning within `repeat_within_days`.
    #[instrument(name = "boomerang.accrual.reports.program", skip_all, fields(tenant = %tenant, program = %program_id), err(level = "info"))]
    pub async fn program_report(
        &self,
        tenant: &TenantId,
        program_id: &str,
        from_us: Option<i64>,
        to_us: Option<i64>,
        repeat_within_days: u32,
    ) -> Result<ProgramReport, AppError> {
        let t = tenant.as_str();
        let mut conn = self.db().pool().acquire().await?;
        let (_, program, _) = repo::program(&mut conn, t, program_id, None).await?;
        drop(conn);
        let (from, to) = (from_us.unwrap_or(i64::MIN), to_us.unwrap_or(i64::MAX));
        let figures = repo::report(self.db(), t, program_id, from, to).await?;
        let funded = self
            .upstream()
            .funding_summary(
                tenant,
                program_id,
                from_us.map(to_timestamp),
                to_us.map(to_timestamp),
            )
            .await?;
        let mut by_asset: BTreeMap<String, AssetTotals> = BTreeMap::new();
        for (asset, issued, reversed) in &figures.rewards {
            let t = by_asset.entry(asset.clone()).or_default();
            t.asset.clone_from(asset);
            t.issued = Some(*issued);
            t.reversed = Some(*reversed);
        }
        for f in funded {
            let t = by_asset.entry(f.asset.clone()).or_default();
            t.asset.clone_from(&f.asset);
            let (pending, available) = (minor(f.pending.as_ref())?, minor(f.available.as_ref())?);
            let credited = minor(f.credited.as_ref())?.unwrap_or(0);
            let kept = credited - minor(f.reversed.as_ref())?.unwrap_or(0);
            t.redeemed = minor(f.redeemed.as_ref())?;
            t.expired = minor(f.expired.as_ref())?;
            t.redemption_rate = ratio(t.redeemed.unwrap_or(0) * 100, kept);
            t.breakage_rate = ratio(t.expired.unwrap_or(0) * 100, kept);
            t.aging = f
                .aging
                .iter()
                .map(|a| {
                    Ok((
                        a.from_days,
                        a.to_days,
                        minor(a.outstanding.as_ref())?.unwrap_or(0),
                    ))
                })
                .collect::<Result<_, AppError>>()?;
            t.liability = Some(pending.unwrap_or(0) + available.unwrap_or(0));
            t.pending = pending;
            t.available = available;
        }
        // Cost is what stayed credited in the order currency; points are not priced here.
        let cost: i64 = figures
            .rewards
            .iter()
            .filter(|(a, ..)| *a == program.currency)
            .map(|(_, issued, reversed)| issued - reversed)
            .sum();
        let (omnichannel, channels) = repo::channels(self.db(), t, program_id, from, to).await?;
        let within = i64::from(repeat_within_days) * 86_400_000_000;
        let came_back = repo::came_back(self.db(), t, program_id, (from, to), within).await?;
        let cohorts = self
            .cohorts(t, program_id, &program.timezone, from_us, to_us)
            .await?;
        let until = to_us.unwrap_or_else(|| self.clock().now());
        // Per tier a member holds now, read against the current policy.
        let mut tiers: BTreeMap<String, TierValue> = BTreeMap::new();
        for v in repo::tier_values(self.db(), t, program_id, &program.currency, until).await? {
            let held = tier::held(&program.tiers, v.stored.as_deref(), v.legacy);
            let tier = held.map(|t| t.id.clone()).unwrap_or_default();
            let w = tiers.entry(tier.clone()).or_insert_with(|| TierValue {
                tier,
                ..TierValue::default()
            });
            w.members += v.members;
            w.purchases += v.purchases;
            w.revenue += v.revenue;
            w.cost += v.cost;
        }
        let tier_values: Vec<TierValue> = tiers.into_values().collect();
        let shoppers = repo::spent(self.db(), t, program_id, (from, to)).await?;
        Ok(ProgramReport {
            shoppers,
            tier_values,
            omnichannel,
            omnichannel_share: ratio(omnichannel * 100, figures.active),
            repeat_rate: ratio(came_back * 100, figures.active),
            repeat_within_days,
            channels,
            cohorts,
            currency: program.currency,
            retention_rate: ratio(figures.repeat * 100, figures.active),
            roi: ratio(figures.revenue, cost),
            average_order: average(figures.since_enrolment),
            average_order_before: average(figures.before_enrolment),
            totals: by_asset.into_values().collect(),
            figures,
        })
    }
}

impl Accrual {
    /// Members by enrolment month over `[from, to)` (the latest
    /// [`cohorts::MOST`] months; from 24 months before `to` when the period
    /// has no start), and how many bought 1, 3, 6 and 12 months later.
    async fn cohorts(
        &self,
        tenant: &str,
        program_id: &str,
        tz: &str,
        from_us: Option<i64>,
        to_us: Option<i64>,
    ) -> Result<Vec<Cohort>, AppError> {
        let now = self.clock().now();
        let to = to_us.unwrap_or(now).min(now);
        let from = from_us.unwrap_or(to - 24 * 31 * 86_400_000_000);
        let mut out = Vec::new();
        for m in cohorts::months(tz, from, to) {
            let windows = cohorts::windows(tz, m.start, now);
            let spans: Vec<(i64, i64)> = windows.iter().map(|(_, s, e)| (*s, *e)).collect();
            let enrolled_in = (m.start.max(from), m.end.min(to));
            let (enrolled, buying) =
                repo::cohort(self.db(), tenant, program_id, enrolled_in, &spans).await?;
            out.push(Cohort {
                month: m.label,
                enrolled,
                retention: windows
                    .iter()
                    .zip(buying)
                    .map(|((k, ..), n)| (*k, n, ratio(n * 100, enrolled)))
                    .collect(),
            });
        }
        Ok(out)
    }
}

/// A program's tax report over a period: its currency, the lines per channel
/// and store, and their total.
#[derive(Clone, Debug)]
pub struct TaxReport {
    /// The program currency.
    pub currency: String,
    /// Per channel and store.
    pub lines: Vec<TaxLine>,
    /// All of them.
    pub total: TaxLine,
}

impl Accrual {
    /// The tax report of `program_id` for purchases in `[from, to)` (unix micros).
    #[instrument(name = "boomerang.accrual.reports.tax", skip_all, fields(tenant = %tenant, program = %program_id), err(level = "info"))]
    pub async fn tax_report(
        &self,
        tenant: &TenantId,
        program_id: &str,
        from_us: Option<i64>,
        to_us: Option<i64>,
    ) -> Result<TaxReport, AppError> {
        let t = tenant.as_str();
        let mut conn = self.db().pool().acquire().await?;
        let (_, program, _) = repo::program(&mut conn, t, program_id, None).await?;
        drop(conn);
        let (from, to) = (from_us.unwrap_or(i64::MIN), to_us.unwrap_or(i64::MAX));
        let (sales, rewards) = repo::tax(self.db(), t, program_id, from, to).await?;
        let (lines, total) = tax::lines(&program.currency, &sales, &rewards);
        Ok(TaxReport {
            currency: program.currency,
            lines,
            total,
        })
    }
}
