//! A loyalty program version, as validated and stored (JSON).
use serde::{Deserialize, Serialize};

pub use boomerang_common::money::Amount as Money;

/// How an earn rate is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Percent of the eligible amount.
    Percent,
    /// Units of the asset per whole currency unit.
    PerCurrencyUnit,
}

/// A base earn rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarnRule {
    /// Asset earned.
    pub asset: String,
    /// Basis.
    pub basis: Basis,
    /// Decimal rate.
    pub rate: String,
}

/// A threshold raising a rule's rate for bigger orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threshold {
    /// Eligible amount to pass, minor units of the program currency.
    pub over: i64,
    /// True: at or above; false: strictly above.
    pub inclusive: bool,
    /// Asset of the rule it replaces.
    pub asset: String,
    /// Replacing rate.
    pub rate: String,
}

/// Rounding of a reward to its asset's scale, once, after every factor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Towards zero: never over-credit.
    #[default]
    Down,
    /// Half away from zero.
    HalfUp,
    /// Half to even.
    HalfEven,
    /// Away from zero.
    Up,
}

/// What a return does to released rewards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clawback {
    /// Only what is pending.
    OnlyPending,
    /// Down to zero available.
    #[default]
    WithinBalance,
    /// Even into a negative balance.
    AllowNegative,
}

/// A tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Qualifying amount (spend in currency minor units, or points).
    pub qualifies_at: i64,
    /// Earn multiplier, decimal.
    pub multiplier: String,
}

/// Tier qualification.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierPolicy {
    /// True: points earned count; false: spend counts.
    pub by_points: bool,
    /// Rolling window in days.
    pub window_days: u32,
    /// Lowest first.
    pub tiers: Vec<Tier>,
    /// Percent of the next tier's qualifying amount past which a purchase
    /// sends "tier threshold reached".
    #[serde(default = "default_nudge")]
    pub nudge_percent: u32,
}

fn default_nudge() -> u32 {
    80
}

/// A calendar period in the program's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Calendar day.
    Day,
    /// Calendar month.
    Month,
    /// Calendar year.
    Year,
}

/// Most a member earns from the program's earn rules in one asset per period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodCap {
    /// The cap, in the asset capped.
    pub cap: Money,
    /// Its period.
    pub period: Period,
}

/// Points to money, in whole blocks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    /// Points per block.
    pub points: i64,
    /// Money per block.
    pub value: Money,
}

/// A program version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// Name.
    pub name: String,
    /// Order currency.
    pub currency: String,
    /// IANA time zone.
    pub timezone: String,
    /// Base earn rules.
    pub earn_rules: Vec<EarnRule>,
    /// Minimum eligible order, minor units.
    pub min_order: i64,
    /// Thresholds.
    pub thresholds: Vec<Threshold>,
    /// Category multipliers (category, decimal).
    pub category_multipliers: Vec<(String, String)>,
    /// Categories that never earn.
    pub excluded_categories: Vec<String>,
    /// Per-order caps per asset.
    pub per_order_caps: Vec<Money>,
    /// Per-period caps per asset (base earn only; campaigns have their own caps).
    #[serde(default)]
    pub per_period_caps: Vec<PeriodCap>,
    /// Rounding.
    pub rounding: Rounding,
    /// Days rewards stay pending.
    pub return_window_days: u32,
    /// Months until points expire; 0 never.
    pub points_expiry_months: u32,
    /// Welcome bonus.
    pub welcome_bonus: Option<Money>,
    /// Birthday bonus.
    pub birthday_bonus: Option<Money>,
    /// Conversion.
    pub conversion: Option<Conversion>,
    /// Clawback on returns.
    pub clawback: Clawback,
    /// Tiers.
    pub tiers: TierPolicy,
    /// Fraud signals and hold-back.
    #[serde(default)]
    pub fraud: super::fraud::FraudPolicy,
    /// A purchase or checkout of a non-member enrols them first.
    #[serde(default)]
    pub auto_enroll: bool,
}

impl Program {
    /// What one unit of `asset` is worth in the program currency: 1 for the
    /// currency itself, a point at the conversion's rate (100 PTS = 5.00 EUR:
    /// 0.05; 3 PTS = 1.00 EUR: 0.333333333333, rounded down to 12 decimals);
    /// None for what has no price here.
    pub fn unit_value(&self, asset: &str) -> Option<rust_decimal::Decimal> {
        if asset == self.currency {
            return Some(rust_decimal::Decimal::ONE);
        }
        self.conversion
            .as_ref()
            .filter(|c| asset == "PTS" && c.points > 0 && c.value.code() == self.currency)
            .map(|c| {
                (c.value.to_decimal() / rust_decimal::Decimal::from(c.points))
                    .round_dp_with_strategy(12, rust_decimal::RoundingStrategy::ToZero)
                    .normalize()
            })
    }
}
