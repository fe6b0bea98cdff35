//! The campaign report: budget figures as they stand, and what the
//! reservations of a period rewarded (participants, variants, attribution,
//! rewarded orders, redemptions).
use boomerang_common::{error::AppError, tenant::TenantId};

use super::Campaigns;
use crate::{
    domain::report::Rewarded,
    repo::{campaigns as repo, report},
};

impl Campaigns {
    /// Budget figures as they stand; participants, per-variant figures,
    /// attribution, rewarded orders and redemptions of `[from, to)`.
    #[tracing::instrument(name = "boomerang.campaign.budget.report", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn report(
        &self,
        tenant: &TenantId,
        campaign: &str,
        (from, to): (Option<i64>, Option<i64>),
    ) -> Result<Report, AppError> {
        let t = tenant.as_str();
        repo::get_head(self.db(), t, campaign).await?;
        let period = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
        Ok(Report {
            budgets: report::figures(self.db(), t, campaign).await?,
            participants: report::participants(self.db(), t, campaign, period).await?,
            variants: report::by_variant(self.db(), t, campaign, period).await?,
            rewarded: report::rewarded(self.db(), t, campaign, period).await?,
            rewarded_orders: report::rewarded_orders(self.db(), t, campaign, period).await?,
            redemptions: report::redemptions(self.db(), t, campaign, period).await?,
        })
    }
}

/// Rewarded orders of one variant, channel and store.
#[derive(Clone, Debug)]
pub struct Place {
    /// Variant.
    pub variant: String,
    /// Channel ("" when not said).
    pub channel: String,
    /// Store.
    pub store: String,
    /// What they brought in.
    pub rewarded: Rewarded,
}

/// A campaign report.
#[derive(Clone, Debug)]
pub struct Report {
    /// (asset, total, reserved, confirmed, released).
    pub budgets: Vec<(String, i64, i64, i64, i64)>,
    /// Distinct customers.
    pub participants: i64,
    /// (variant, asset, participants, reserved, confirmed, released).
    pub variants: Vec<(String, String, i64, i64, i64, i64)>,
    /// What the rewarded orders brought in, per variant, channel and store
    /// (domain::report::attribute).
    pub rewarded: Vec<Place>,
    /// Orders rewarded.
    pub rewarded_orders: i64,
    /// Code uses redeemed.
    pub redemptions: i64,
}
