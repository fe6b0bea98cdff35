//! The reward computation: base earn rules with thresholds, category
//! multipliers, exclusions, the tier multiplier and per-order caps, then the
//! campaigns' effects; every factor is an explanation line, and each reward
//! is rounded once, at the end, with the program's rounding mode.
use std::collections::BTreeMap;

use boomerang_common::money::{Amount, Asset, Rounding as MoneyRounding};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::program::{Basis, Program, Rounding};

/// One order line, with how many units are kept (not returned).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Line id.
    pub line_id: String,
    /// SKU.
    pub sku: String,
    /// Category.
    pub category: String,
    /// Unit price, minor units of the order currency.
    pub unit_price: i64,
    /// Units bought.
    pub quantity: u32,
    /// Discount on the whole line as bought, minor units.
    pub discount: i64,
}

/// A campaign's effect as accrual applies it (a snapshot kept with the purchase,
/// so a return recomputes with the same version).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Effect {
    /// Multiply the points earned on matching lines.
    PointsMultiplier {
        /// Decimal >= 1.
        multiplier: String,
    },
    /// Extra percent of matching lines, in `asset` units.
    ExtraPercent {
        /// Asset credited.
        asset: String,
        /// Decimal percent.
        percent: String,
    },
    /// A fixed amount.
    FixedBonus {
        /// Minor units.
        minor: i64,
        /// Asset.
        asset: String,
    },
    /// A voucher for a next order, issued as a code assigned to the
    /// customer (campaign-svc), usable from the end of the return window.
    Voucher {
        /// Minor units.
        minor: i64,
        /// Asset.
        asset: String,
        /// Days valid.
        valid_days: u32,
        /// Smallest next order it applies to, minor units.
        #[serde(default)]
        min_next_order: Option<i64>,
        /// Usable at once rather than from the end of the return window.
        #[serde(default)]
        usable_at_once: bool,
    },
}

/// A campaign that applies to the order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// Campaign id.
    pub campaign_id: String,
    /// Version.
    pub version: u32,
    /// Variant.
    pub variant: String,
    /// Effect.
    pub effect: Effect,
    /// Categories it is limited to (empty: every eligible line).
    pub categories: Vec<String>,
    /// Minimum eligible order, minor units (kept so a return re-checks it).
    #[serde(default)]
    pub min_order: Option<i64>,
}

/// Why an amount is what it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// Rule name.
    pub rule: String,
    /// Versioned source, e.g. "program:p-1@2".
    pub source_ref: String,
    /// Sentence.
    pub description: String,
    /// The base it was applied to: (decimal amount, asset).
    pub base: Option<(String, String)>,
    /// What `base` is multiplied by: "0.05" for 5%, "1.5" for a tier's x1.5;
    /// a campaign's extra on points already earned is the multiplier less one
    /// ("1" for double points). When the step has an exact result, base x
    /// rate is `unrounded`.
    pub rate: String,
    /// Exact result before rounding.
    pub unrounded: String,
    /// Rounded result: (minor, asset).
    pub result: Option<(i64, String)>,
    /// Considered but gave nothing.
    pub skipped: bool,
    /// Why skipped.
    pub skip_reason: String,
}

/// Kinds of reward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The program's earn rules.
    Base,
    /// A campaign's extra.
    Campaign,
    /// A campaign's voucher credited to the wallet, as rewards recorded
    /// before vouchers were codes are: their returns still reverse the credit.
    Voucher,
    /// A campaign's voucher issued as a code assigned to the customer
    /// (campaign-svc), never a wallet credit.
    VoucherCode,
}

impl Kind {
    /// Its stored name: "base", "campaign", "voucher", "voucher_code".
    pub fn name(self) -> &'static str {
        match self {
            Self::Base => "base",
            Self::Campaign => "campaign",
            Self::Voucher => "voucher",
            Self::VoucherCode => "voucher_code",
        }
    }

    /// Whether a recomputed reward of kind `other` is this stored one: a
    /// voucher is the same reward whether it was credited or issued as a code.
    pub fn matches(self, other: Self) -> bool {
        let voucher = |k| matches!(k, Self::Voucher | Self::VoucherCode);
        self == other || voucher(self) && voucher(other)
    }
}

/// One computed reward.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reward {
    /// Kind.
    pub kind: Kind,
    /// Asset.
    pub asset: String,
    /// Rounded amount, minor units (what is credited).
    pub amount: i64,
    /// What the rules earned before a campaign budget cut it (= amount otherwise).
    #[serde(default)]
    pub earned: i64,
    /// The campaign, for campaign rewards.
    pub offer: Option<Offer>,
    /// Days a voucher is valid.
    pub valid_days: Option<u32>,
    /// Every step.
    pub explanations: Vec<Explanation>,
}

/// The whole computation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Computed {
    /// Eligible amount, minor units of the order currency.
    pub eligible: i64,
    /// Rewards (zero amounts dropped).
    pub rewards: Vec<Reward>,
    /// Rules considered that gave nothing.
    pub skipped: Vec<Explanation>,
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap_or(Decimal::ZERO)
}

fn scale_of(asset: &str) -> u32 {
    Asset::builtin(asset).map_or(0, |a| a.scale())
}

/// `minor` units of `asset` as a decimal (a built-in asset's scale, else 0).
pub(crate) fn units(minor: i64, asset: &str) -> Decimal {
    Decimal::new(minor, scale_of(asset))
}

fn round(value: Decimal, asset: &str, mode: Rounding) -> i64 {
    let mode = match mode {
        Rounding::Down => MoneyRounding::Down,
        Rounding::HalfUp => MoneyRounding::HalfUp,
        Rounding::HalfEven => MoneyRounding::HalfEven,
        Rounding::Up => MoneyRounding::Up,
    };
    let asset = Asset::builtin(asset).unwrap_or_else(|| Asset::new(asset, 0));
    Amount::round(value.max(Decimal::ZERO), &asset, mode).map_or(0, |a| a.minor())
}

/// The net of a line's kept units, in currency units: price times kept units,
/// less the kept share of the line discount.
fn net(line: &Line, kept: u32, currency: &str) -> Decimal {
    if line.quantity == 0 {
        return Decimal::ZERO;
    }
    let gross = units(line.unit_price, currency) * Decimal::from(kept);
    let discount =
        units(line.discount, currency) * Decimal::from(kept) / Decimal::from(line.quantity);
    (gross - discount).max(Decimal::ZERO)
}

/// What the base earn of `lines` (all units) is computed on, per category:
/// their net amounts times the category's multiplier; an excluded category
/// weighs nothing. For sharing a purchase's rewards among its categories.
pub fn category_weights(program: &Program, lines: &[Line]) -> BTreeMap<String, Decimal> {
    let mut out: BTreeMap<String, Decimal> = BTreeMap::new();
    for line in lines {
        let weight = if program.excluded_categories.contains(&line.category) {
            Decimal::ZERO
        } else {
            let mult = program
                .category_multipliers
                .iter()
                .find(|(cat, _)| *cat == line.category)
                .map_or(Decimal::ONE, |(_, m)| dec(m));
            net(line, line.quantity, &program.currency)
                .checked_mul(mult)
                .unwrap_or(Decimal::MAX)
        };
        let total = out.entry(line.category.clone()).or_default();
        *total = total.checked_add(weight).unwrap_or(*total);
    }
    out
}

/// Computes the rewards of `lines` (with `kept[i]` units of line i) under
/// `program` version `version`, for a member with `tier_multiplier`, with `offers`.
///
/// Long on purpose: every factor of a reward (rate, threshold, category,
/// tier, campaign multiplier, per-order cap) works on the exact decimal in
/// this one pass and each reward is rounded once at its end; split into
/// steps, the rounding point and the explanation order would drift apart.
pub fn compute(
    program: &Program,
    program_ref: &str,
    lines: &[Line],
    kept: &[u32],
    tier: Option<(&str, &str)>,
    offers: &[Offer],
) -> Computed {
    let currency = program.currency.as_str();
    let excluded = |c: &str| program.excluded_categories.iter().any(|x| x == c);
    let mult = |c: &str| {
        program
            .category_multipliers
            .iter()
            .find(|(cat, _)| cat == c)
            .map_or(Decimal::ONE, |(_, m)| dec(m))
    };
    let eligible_lines: Vec<(&Line, Decimal)> = lines
        .iter()
        .zip(kept)
        .filter(|(l, k)| **k > 0 && !excluded(&l.category))
        .map(|(l, k)| (l, net(l, *k, currency)))
        .collect();
    let eligible: Decimal = eligible_lines.iter().map(|(_, n)| *n).sum();
    let eligible_minor = round(eligible, currency, Rounding::Down);
    let mut out = Computed {
        eligible: eligible_minor,
        ..Computed::default()
    };
    let line = |rule: &str, description: String| Explanation {
        rule: rule.into(),
        source_ref: program_ref.into(),
        description,
        ..Explanation::default()
    };
    let tier_multiplier = tier.map_or(Decimal::ONE, |(_, m)| dec(m));

    // Per rule, per line contributions before rounding (campaigns multiply their share).
    let mut base_by_line: Vec<(String, Vec<Decimal>)> = Vec::new();
    if eligible_minor < program.min_order {
        out.skipped.push(Explanation {
            skipped: true,
            skip_reason: format!(
                "eligible amount {eligible} {currency} is below the program minimum of {} {currency}",
                units(program.min_order, currency)
            ),
            ..line("min_order", "no base earn below the minimum order".into())
        });
    } else {
        for rule in &program.earn_rules {
            let mut steps = Vec::new();
            let passed = program
                .thresholds
                .iter()
                .filter(|t| t.asset == rule.asset)
                .filter(|t| {
                    if t.inclusive {
                        eligible_minor >= t.over
                    } else {
                        eligible_minor > t.over
                    }
                })
                .max_by_key(|t| t.over);
            let rate = passed.map_or(rule.rate.as_str(), |t| t.rate.as_str());
            let factor = match rule.basis {
                Basis::Percent => dec(rate) / Decimal::from(100),
                Basis::PerCurrencyUnit => dec(rate),
            };
            let per_line: Vec<Decimal> = eligible_lines
                .iter()
                .map(|(l, n)| *n * mult(&l.category) * factor * tier_multiplier)
                .collect();
            let unrounded: Decimal = per_line.iter().sum();
            let unit = match rule.basis {
                Basis::Percent => format!("{rate}% of the eligible amount"),
                Basis::PerCurrencyUnit => format!("{rate} {} per {currency}", rule.asset),
            };
            steps.push(Explanation {
                base: Some((eligible.to_string(), currency.into())),
                rate: factor.normalize().to_string(),
                unrounded: (eligible * factor).to_string(),
                ..line(
                    "base_earn",
                    format!("{unit} ({} {currency} eligible)", eligible.normalize()),
                )
            });
            if let Some(t) = passed {
                steps.push(Explanation {
                    base: Some((eligible.to_string(), currency.into())),
                    rate: factor.normalize().to_string(),
                    ..line(
                        "threshold",
                        format!(
                            "order {} {} {currency}: rate {} instead of {}",
                            if t.inclusive { "at or above" } else { "above" },
                            units(t.over, currency),
                            t.rate,
                            rule.rate
                        ),
                    )
                });
            }
            for (l, n) in &eligible_lines {
                let m = mult(&l.category);
                if m != Decimal::ONE {
                    steps.push(Explanation {
                        base: Some((n.to_string(), currency.into())),
                        rate: m.to_string(),
                        ..line(
                            "category_multiplier",
                            format!("category {} x{m} on line {}", l.category, l.line_id),
                        )
                    });
                }
            }
            if let Some((id, m)) = tier.filter(|(_, m)| dec(m) != Decimal::ONE) {
                steps.push(Explanation {
                    rate: m.into(),
                    ..line("tier_multiplier", format!("tier {id} x{m}"))
                });
            }
            let mut total = unrounded;
            if let Some(cap) = program
                .per_order_caps
                .iter()
                .find(|c| c.code() == rule.asset)
            {
                let cap_units = units(cap.minor(), cap.code());
                if total > cap_units {
                    steps.push(Explanation {
                        unrounded: total.to_string(),
                        ..line(
                            "cap",
                            format!("capped at {cap_units} {} per order", cap.code()),
                        )
                    });
                    total = cap_units;
                }
            }
            let amount = round(total, &rule.asset, program.rounding);
            // Campaign multipliers build on what the rule actually earned: scale the
            // per-line shares down when the cap cut the total.
            let per_line: Vec<Decimal> = if total < unrounded && unrounded > Decimal::ZERO {
                per_line.iter().map(|p| *p * total / unrounded).collect()
            } else {
                per_line
            };
            steps.push(Explanation {
                unrounded: total.to_string(),
                result: Some((amount, rule.asset.clone())),
                ..line(
                    "rounding",
                    format!(
                        "rounded {:?} to {} decimals",
                        program.rounding,
                        scale_of(&rule.asset)
                    )
                    .to_lowercase(),
                )
            });
            base_by_line.push((rule.asset.clone(), per_line));
            if amount > 0 {
                out.rewards.push(Reward {
                    kind: Kind::Base,
                    asset: rule.asset.clone(),
                    amount,
                    earned: amount,
                    offer: None,
                    valid_days: None,
                    explanations: steps,
                });
            }
        }
    }

    for offer in offers {
        let source = format!("campaign:{}@{}", offer.campaign_id, offer.version);
        let matches =
            |l: &Line| offer.categories.is_empty() || offer.categories.contains(&l.category);
        // Conditions hold on what is kept: after a return a fixed bonus or a
        // voucher goes when no matching line or the minimum order is left.
        let matching: Decimal = eligible_lines
            .iter()
            .filter(|(l, _)| matches(l))
            .map(|(_, n)| *n)
            .sum();
        let below_min = offer.min_order.is_some_and(|m| eligible_minor < m);
        if matching <= Decimal::ZERO || below_min {
            out.skipped.push(Explanation {
                rule: "campaign".into(),
                source_ref: source.clone(),
                description: format!("campaign {} not applied", offer.campaign_id),
                skipped: true,
                skip_reason: if below_min {
                    "below the campaign's minimum order".into()
                } else {
                    "no matching line".into()
                },
                ..Explanation::default()
            });
            continue;
        }
        let campaign_line = |description: String| Explanation {
            rule: "campaign".into(),
            source_ref: source.clone(),
            description,
            ..Explanation::default()
        };
        let (asset, unrounded, mut step, kind, valid_days) = match &offer.effect {
            Effect::PointsMultiplier { multiplier } => {
                let m = dec(multiplier);
                let share: Decimal = base_by_line
                    .iter()
                    .filter(|(a, _)| a == "PTS")
                    .flat_map(|(_, per_line)| per_line.iter().zip(&eligible_lines))
                    .filter(|(_, (l, _))| matches(l))
                    .map(|(p, _)| *p)
                    .sum();
                let extra = share * (m - Decimal::ONE);
                // The step is the extra: its rate is the multiplier less one.
                let step = Explanation {
                    base: Some((share.to_string(), "PTS".into())),
                    rate: (m - Decimal::ONE).normalize().to_string(),
                    unrounded: extra.to_string(),
                    ..campaign_line(format!(
                        "x{multiplier} points on matching lines: {share} PTS earn {extra} more"
                    ))
                };
                ("PTS".to_owned(), extra, step, Kind::Campaign, None)
            }
            Effect::ExtraPercent { asset, percent } => {
                let base = matching;
                let extra = base * dec(percent) / Decimal::from(100);
                let step = Explanation {
                    base: Some((base.to_string(), currency.into())),
                    rate: (dec(percent) / Decimal::from(100)).normalize().to_string(),
                    unrounded: extra.to_string(),
                    ..campaign_line(format!("extra {percent}% of {base} {currency}"))
                };
                (asset.clone(), extra, step, Kind::Campaign, None)
            }
            Effect::FixedBonus { minor, asset } => {
                let v = units(*minor, asset);
                let step = Explanation {
                    unrounded: v.to_string(),
                    ..campaign_line(format!("fixed bonus {v} {asset}"))
                };
                (asset.clone(), v, step, Kind::Campaign, None)
            }
            Effect::Voucher {
                minor,
                asset,
                valid_days,
                ..
            } => {
                let v = units(*minor, asset);
                let step = Explanation {
                    unrounded: v.to_string(),
                    ..campaign_line(format!(
                        "voucher of {v} {asset} for a next order, valid {valid_days} days"
                    ))
                };
                (asset.clone(), v, step, Kind::VoucherCode, Some(*valid_days))
            }
        };
        let amount = round(unrounded, &asset, program.rounding);
        step.result = Some((amount, asset.clone()));
        if amount > 0 {
            out.rewards.push(Reward {
                kind,
                asset,
                amount,
                earned: amount,
                offer: Some(offer.clone()),
                valid_days,
                explanations: vec![step],
            });
        } else {
            step.skipped = true;
            step.skip_reason = "nothing to earn on this order".into();
            out.skipped.push(step);
        }
    }
    out
}

#[cfg(test)]
mod tests;
