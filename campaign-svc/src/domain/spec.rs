//! What a campaign version says, as validated and stored (JSON).
use serde::{Deserialize, Serialize};

use super::schedule::Schedule;

pub use boomerang_common::money::Amount as Money;

/// What a campaign gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Effect {
    /// Multiply the points a purchase earns (decimal string, 1 to 100).
    PointsMultiplier {
        /// e.g. "2".
        multiplier: String,
    },
    /// An extra percent of the eligible amount (decimal string, 0 < p <= 100).
    ExtraPercent {
        /// Asset credited.
        asset: String,
        /// e.g. "5".
        percent: String,
    },
    /// A fixed reward.
    FixedBonus {
        /// The amount.
        amount: Money,
    },
    /// A voucher for a next order.
    NextPurchaseVoucher {
        /// Voucher value.
        value: Money,
        /// Minimum next order.
        min_next_order: Option<Money>,
        /// Validity in days.
        valid_days: u32,
        /// Usable at once, not only once the earning order's return window ends.
        #[serde(default)]
        usable_at_once: bool,
    },
}

/// Who and what qualifies; empty lists mean any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conditions {
    /// Categories.
    pub categories: Vec<String>,
    /// Channels: "online", "store", "app".
    pub channels: Vec<String>,
    /// Store ids.
    pub stores: Vec<String>,
    /// Segments.
    pub segments: Vec<String>,
    /// Tiers.
    pub tiers: Vec<String>,
    /// Minimum eligible order amount.
    pub min_order_amount: Option<Money>,
    /// Only a first purchase.
    pub first_purchase_only: bool,
}

/// Limits per customer and per order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caps {
    /// Per customer over the campaign.
    pub per_customer: Option<Money>,
    /// Per order.
    pub per_order: Option<Money>,
}

/// How a campaign combines with others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stacking {
    /// Combines with others.
    #[default]
    Stackable,
    /// Only the highest-priority exclusive campaign applies.
    Exclusive,
}

/// An experiment arm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Name.
    pub name: String,
    /// Relative weight.
    pub weight: u32,
    /// Effect; None is a control arm (no reward).
    pub effect: Option<Effect>,
}

/// A budget in one asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Total.
    pub total: Money,
    /// Per local day.
    pub per_day: Option<i64>,
    /// `budget.low` is told at this percent of the total left (None: 10).
    #[serde(default)]
    pub low_percent: Option<u32>,
}

impl Budget {
    /// The low mark's default percent.
    pub const LOW_PERCENT: u32 = 10;

    /// The low mark in minor units: `budget.low` is told when at most this
    /// much is left unreserved (rounded down, so 10% of 0.05 EUR is 0).
    pub fn low_mark(&self) -> i64 {
        let percent = i64::from(self.low_percent.unwrap_or(Self::LOW_PERCENT));
        // i128: a total near i64::MAX times 99 does not fit in i64.
        i64::try_from(i128::from(self.total.minor()) * i128::from(percent) / 100).unwrap_or(0)
    }
}

/// A campaign version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignSpec {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Terms shown to customers.
    pub terms: String,
    /// When.
    pub schedule: Schedule,
    /// Effect (without variants).
    pub effect: Option<Effect>,
    /// Who qualifies.
    pub conditions: Conditions,
    /// Limits.
    pub caps: Caps,
    /// Priority among exclusive campaigns.
    pub priority: i32,
    /// Stacking.
    pub stacking: Stacking,
    /// Experiment arms.
    pub variants: Vec<Variant>,
    /// Budgets.
    pub budgets: Vec<Budget>,
}
