//! Programs on the wire: a program version validated with field violations,
//! and rendered back.
use boomerang_common::{
    error::{AppError, Violations},
    money::Asset,
    time::to_timestamp,
};
use boomerang_proto::{accrual::v1 as pb, common::v1 as pc};
use rust_decimal::Decimal;

use super::convert::{id, money, text};
use crate::domain::{
    fraud::FraudPolicy,
    program::{
        Basis, Clawback, Conversion, EarnRule, Money, Period, PeriodCap, Program, Rounding,
        Threshold, Tier, TierPolicy,
    },
};

fn rate(v: &mut Violations, field: &str, s: &str, max: u32) -> String {
    match Decimal::from_str_exact(s) {
        Ok(d) if d >= Decimal::ZERO && d <= Decimal::from(max) => d.normalize().to_string(),
        _ => {
            v.add(field, format!("a decimal from 0 to {max}"));
            String::new()
        }
    }
}

/// Validates a program: every bad field reported at once; the sections with
/// structure have their own function, the scalars are checked here in message
/// order.
pub fn program(p: Option<&pb::Program>) -> Result<(String, Program), AppError> {
    let Some(p) = p else {
        return Err(AppError::invalid("program", "required"));
    };
    let mut v = Violations::new();
    let program_id = id(&mut v, "program.program_id", &p.program_id);
    let name = text(&mut v, "program.name", &p.name, 128);
    if Asset::builtin(&p.currency).is_none() || p.currency == "PTS" {
        v.add("program.currency", "a known currency, e.g. EUR");
    }
    let timezone = if p.timezone.is_empty() {
        "UTC".to_owned()
    } else {
        p.timezone.clone()
    };
    if jiff::tz::TimeZone::get(&timezone).is_err() {
        v.add("program.timezone", "unknown IANA time zone");
    }
    if p.earn_rules.is_empty() || p.earn_rules.len() > 8 {
        v.add("program.earn_rules", "1 to 8 rules");
    }
    // An oversized list is refused before any of it is read.
    bounded_lists(&mut v, p);
    if p.earn_rules.len() > 8 || over_bounds(p) {
        return Err(AppError::Invalid(v));
    }
    let earn_rules = earn_rules(&mut v, p);
    let min_order = money(
        &mut v,
        "program.min_order_amount",
        p.min_order_amount.as_ref(),
        false,
    );
    let min_order = in_currency(&mut v, "program.min_order_amount", min_order, &p.currency)
        .map_or(0, |m| m.minor());
    let thresholds = thresholds(&mut v, p);
    let category_multipliers = p
        .category_multipliers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                c.category.clone(),
                rate(
                    &mut v,
                    &format!("program.category_multipliers[{i}].multiplier"),
                    &c.multiplier,
                    100,
                ),
            )
        })
        .collect();
    let (per_order_caps, per_period_caps) = caps(&mut v, p);
    let rounding = match v.known("program.rounding", p.rounding) {
        Some(pb::RoundingMode::HalfUp) => Rounding::HalfUp,
        Some(pb::RoundingMode::HalfEven) => Rounding::HalfEven,
        Some(pb::RoundingMode::Up) => Rounding::Up,
        _ => Rounding::Down,
    };
    if p.return_window_days > 365 {
        v.add("program.return_window_days", "at most 365");
    }
    if p.points_expiry_months > 120 {
        v.add("program.points_expiry_months", "at most 120");
    }
    let welcome_bonus = money(
        &mut v,
        "program.welcome_bonus",
        p.welcome_bonus.as_ref(),
        true,
    );
    let birthday_bonus = money(
        &mut v,
        "program.birthday_bonus",
        p.birthday_bonus.as_ref(),
        true,
    );
    let conversion = conversion(&mut v, p);
    let clawback = match v.known("program.clawback_policy", p.clawback_policy) {
        Some(pc::ClawbackPolicy::OnlyPending) => Clawback::OnlyPending,
        Some(pc::ClawbackPolicy::AllowNegative) => Clawback::AllowNegative,
        _ => Clawback::WithinBalance,
    };
    let tiers = tier_policy(&mut v, p);
    let excluded_categories = p
        .excluded_categories
        .iter()
        .enumerate()
        .map(|(i, c)| text(&mut v, &format!("program.excluded_categories[{i}]"), c, 128))
        .collect();
    let fraud = fraud_policy(&mut v, p);
    v.check()?;
    Ok((
        program_id,
        Program {
            name,
            currency: p.currency.clone(),
            timezone,
            earn_rules,
            min_order,
            thresholds,
            category_multipliers,
            excluded_categories,
            per_order_caps,
            per_period_caps,
            rounding,
            return_window_days: p.return_window_days,
            points_expiry_months: p.points_expiry_months,
            welcome_bonus,
            birthday_bonus,
            conversion,
            clawback,
            tiers,
            fraud,
            auto_enroll: p.auto_enroll,
        },
    ))
}

/// The earn rules: one per asset, 1 to 8.
fn earn_rules(v: &mut Violations, p: &pb::Program) -> Vec<EarnRule> {
    p.earn_rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let f = format!("program.earn_rules[{i}]");
            if Asset::builtin(&r.asset).is_none() {
                v.add(format!("{f}.asset"), "unknown asset");
            }
            let basis = match pb::EarnBasis::try_from(r.basis) {
                Ok(pb::EarnBasis::Percent) => Basis::Percent,
                Ok(pb::EarnBasis::PerCurrencyUnit) => Basis::PerCurrencyUnit,
                _ => {
                    v.add(format!("{f}.basis"), "PERCENT or PER_CURRENCY_UNIT");
                    Basis::Percent
                }
            };
            let max = if basis == Basis::Percent { 100 } else { 1_000 };
            if p.earn_rules[..i].iter().any(|o| o.asset == r.asset) {
                v.add(format!("{f}.asset"), "one earn rule per asset");
            }
            EarnRule {
                asset: r.asset.clone(),
                basis,
                rate: rate(v, &format!("{f}.rate"), &r.rate, max),
            }
        })
        .collect()
}

/// Thresholds raising a rule's rate, in the program currency.
fn thresholds(v: &mut Violations, p: &pb::Program) -> Vec<Threshold> {
    p.thresholds
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let f = format!("program.thresholds[{i}]");
            if t.over.is_none() {
                v.add(format!("{f}.over"), "required");
            }
            let over = money(v, &format!("{f}.over"), t.over.as_ref(), true)?;
            let over = in_currency(v, &format!("{f}.over"), Some(over), &p.currency)?;
            let rule = p.earn_rules.iter().find(|r| r.asset == t.asset);
            if rule.is_none() {
                v.add(format!("{f}.asset"), "the asset of one of the earn rules");
            }
            let max = match rule.map(|r| pb::EarnBasis::try_from(r.basis)) {
                Some(Ok(pb::EarnBasis::PerCurrencyUnit)) => 1_000,
                _ => 100,
            };
            let comparison = v.known(&format!("{f}.comparison"), t.comparison);
            let inclusive = comparison == Some(pb::ThresholdComparison::GreaterOrEqual);
            Some(Threshold {
                over: over.minor(),
                inclusive,
                asset: t.asset.clone(),
                rate: rate(v, &format!("{f}.rate"), &t.rate, max),
            })
        })
        .collect()
}

/// Per-order caps, and per-period caps with their period.
fn caps(v: &mut Violations, p: &pb::Program) -> (Vec<Money>, Vec<PeriodCap>) {
    // `asset` names what the amounts are in; empty leaves it to them.
    for (i, c) in p.caps.iter().enumerate() {
        let amounts = [c.per_order.as_ref(), c.per_period.as_ref()];
        if !c.asset.is_empty()
            && (Asset::builtin(&c.asset).is_none()
                || amounts.into_iter().flatten().any(|m| m.asset != c.asset))
        {
            v.add(
                format!("program.caps[{i}].asset"),
                "a known asset, the one of per_order and per_period",
            );
        }
    }
    let per_order_caps = p
        .caps
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            money(
                v,
                &format!("program.caps[{i}].per_order"),
                c.per_order.as_ref(),
                true,
            )
        })
        .collect();
    let per_period_caps = p
        .caps
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let field = format!("program.caps[{i}]");
            let cap = money(
                v,
                &format!("{field}.per_period"),
                c.per_period.as_ref(),
                true,
            );
            let period = match pb::CapPeriod::try_from(c.period) {
                Ok(pb::CapPeriod::Day) => Some(Period::Day),
                Ok(pb::CapPeriod::Month) => Some(Period::Month),
                Ok(pb::CapPeriod::Year) => Some(Period::Year),
                _ => None,
            };
            match (cap, period) {
                (Some(cap), Some(period)) => Some(PeriodCap { cap, period }),
                (Some(_), None) => {
                    v.add(
                        format!("{field}.period"),
                        "required with per_period: DAY, MONTH or YEAR",
                    );
                    None
                }
                (None, Some(_)) if c.per_period.is_none() => {
                    v.add(format!("{field}.per_period"), "required with a period");
                    None
                }
                _ => None,
            }
        })
        .collect();
    (per_order_caps, per_period_caps)
}

/// Points into money: a block of PTS for an amount of a currency.
fn conversion(v: &mut Violations, p: &pb::Program) -> Option<Conversion> {
    p.conversion.as_ref().and_then(|c| {
        let points = money(v, "program.conversion.points", c.points.as_ref(), true)?;
        if points.code() != "PTS" {
            v.add("program.conversion.points.asset", "PTS");
        }
        let value = money(v, "program.conversion.value", c.value.as_ref(), true)?;
        if value.code() == "PTS" {
            v.add("program.conversion.value.asset", "a currency");
        }
        Some(Conversion {
            points: points.minor(),
            value,
        })
    })
}

/// Tiers, lowest first, with unique ids and rising thresholds.
fn tier_policy(v: &mut Violations, p: &pb::Program) -> TierPolicy {
    // Absent reads as present with every field unset, so a program shown by
    // GetProgram and sent back is the same program.
    let t = p.tier_policy.clone().unwrap_or_default();
    if t.window_days > 3_660 {
        v.add(
            "program.tier_policy.window_days",
            "at most 3660 (0 means 1)",
        );
    }
    let tiers = TierPolicy {
        by_points: v.known("program.tier_policy.basis", t.basis)
            == Some(pb::TierBasis::PointsEarned),
        window_days: t.window_days.clamp(1, 3_660),
        tiers: t
            .tiers
            .iter()
            .enumerate()
            .map(|(i, x)| Tier {
                id: id(
                    v,
                    &format!("program.tier_policy.tiers[{i}].tier_id"),
                    &x.tier_id,
                ),
                name: x.name.clone(),
                qualifies_at: money(
                    v,
                    &format!("program.tier_policy.tiers[{i}].qualifies_at"),
                    x.qualifies_at.as_ref(),
                    false,
                )
                .map_or(0, |m| m.minor()),
                multiplier: if x.earn_multiplier.is_empty() {
                    "1".into()
                } else {
                    rate(
                        v,
                        &format!("program.tier_policy.tiers[{i}].earn_multiplier"),
                        &x.earn_multiplier,
                        10,
                    )
                },
            })
            .collect(),
        nudge_percent: match t.nudge_percent {
            0 => 80,
            n @ 1..=99 => n,
            _ => {
                v.add(
                    "program.tier_policy.nudge_percent",
                    "from 1 to 99 (0 means 80)",
                );
                80
            }
        },
    };
    let mut ids = std::collections::BTreeSet::new();
    for (i, t) in tiers.tiers.iter().enumerate() {
        if !ids.insert(t.id.clone()) {
            v.add(
                format!("program.tier_policy.tiers[{i}].tier_id"),
                "tier ids are unique",
            );
        }
        if i > 0 && t.qualifies_at <= tiers.tiers[i - 1].qualifies_at {
            v.add(
                format!("program.tier_policy.tiers[{i}].qualifies_at"),
                "tiers go from lowest to highest",
            );
        }
    }
    tiers
}

/// Fraud flags and whether flagged purchases are held back.
fn fraud_policy(v: &mut Violations, p: &pb::Program) -> FraudPolicy {
    // Absent reads as present with every field unset (see `tier_policy`).
    let f = p.fraud.clone().unwrap_or_default();
    for (field, value, max) in [
        ("max_purchases_per_hour", f.max_purchases_per_hour, 10_000),
        ("return_rate_window_days", f.return_rate_window_days, 3_660),
        (
            "min_orders_for_return_rate",
            f.min_orders_for_return_rate,
            10_000,
        ),
    ] {
        if value > max {
            v.add(format!("program.fraud.{field}"), format!("at most {max}"));
        }
    }
    FraudPolicy {
        max_per_hour: f.max_purchases_per_hour.min(10_000),
        max_return_rate: Some(f.max_return_rate_percent.clone())
            .filter(|r| !r.is_empty())
            .map(|r| rate(v, "program.fraud.max_return_rate_percent", &r, 100)),
        return_window_days: match f.return_rate_window_days {
            0 => 90,
            d => d.min(3_660),
        },
        min_orders: match f.min_orders_for_return_rate {
            0 => 5,
            n => n.min(10_000),
        },
        hold: f.hold_flagged,
    }
}

/// Whether a list of `p` is longer than its bound.
fn over_bounds(p: &pb::Program) -> bool {
    let tiers = p.tier_policy.as_ref().map_or(0, |t| t.tiers.len());
    p.thresholds.len() > 16
        || p.category_multipliers.len() > 100
        || p.excluded_categories.len() > 100
        || p.caps.len() > 8
        || tiers > 16
}

/// The documented bounds of a program's lists (docs/accrual.md).
fn bounded_lists(v: &mut Violations, p: &pb::Program) {
    let tiers = p.tier_policy.as_ref().map_or(0, |t| t.tiers.len());
    for (field, n, max) in [
        ("program.thresholds", p.thresholds.len(), 16),
        (
            "program.category_multipliers",
            p.category_multipliers.len(),
            100,
        ),
        (
            "program.excluded_categories",
            p.excluded_categories.len(),
            100,
        ),
        ("program.caps", p.caps.len(), 8),
        ("program.tier_policy.tiers", tiers, 16),
    ] {
        if n > max {
            v.add(field, format!("at most {max}"));
        }
    }
    for (i, c) in p.category_multipliers.iter().enumerate() {
        text(
            v,
            &format!("program.category_multipliers[{i}].category"),
            &c.category,
            128,
        );
    }
    for (i, t) in p
        .tier_policy
        .iter()
        .flat_map(|t| t.tiers.iter())
        .enumerate()
    {
        text(
            v,
            &format!("program.tier_policy.tiers[{i}].name"),
            &t.name,
            64,
        );
    }
}

/// `m`, which must be in the program `currency`.
fn in_currency(v: &mut Violations, field: &str, m: Option<Money>, currency: &str) -> Option<Money> {
    if m.as_ref().is_some_and(|m| m.code() != currency) {
        v.add(format!("{field}.asset"), "the program currency");
    }
    m
}

/// A program version on the wire: one field after another in message order
/// (long because the program is).
pub fn to_program(id: &str, version: i64, published_at: i64, p: &Program) -> pb::Program {
    let money = |minor: i64, asset: &str| Some(boomerang_common::money::wire(minor, asset));
    pb::Program {
        program_id: id.into(),
        version: u32::try_from(version).unwrap_or_default(),
        name: p.name.clone(),
        currency: p.currency.clone(),
        timezone: p.timezone.clone(),
        earn_rules: p
            .earn_rules
            .iter()
            .map(|r| pb::EarnRule {
                asset: r.asset.clone(),
                basis: (if r.basis == Basis::Percent {
                    pb::EarnBasis::Percent
                } else {
                    pb::EarnBasis::PerCurrencyUnit
                }) as i32,
                rate: r.rate.clone(),
            })
            .collect(),
        min_order_amount: money(p.min_order, &p.currency),
        thresholds: p
            .thresholds
            .iter()
            .map(|t| pb::Threshold {
                over: money(t.over, &p.currency),
                comparison: (if t.inclusive {
                    pb::ThresholdComparison::GreaterOrEqual
                } else {
                    pb::ThresholdComparison::GreaterThan
                }) as i32,
                asset: t.asset.clone(),
                rate: t.rate.clone(),
            })
            .collect(),
        category_multipliers: p
            .category_multipliers
            .iter()
            .map(|(c, m)| pb::CategoryMultiplier {
                category: c.clone(),
                multiplier: m.clone(),
            })
            .collect(),
        excluded_categories: p.excluded_categories.clone(),
        caps: p
            .per_order_caps
            .iter()
            .map(|c| pb::Cap {
                asset: c.code().to_owned(),
                per_order: Some(c.to_wire()),
                per_period: None,
                period: 0,
            })
            .chain(p.per_period_caps.iter().map(|c| pb::Cap {
                asset: c.cap.code().to_owned(),
                per_order: None,
                per_period: Some(c.cap.to_wire()),
                period: match c.period {
                    Period::Day => pb::CapPeriod::Day,
                    Period::Month => pb::CapPeriod::Month,
                    Period::Year => pb::CapPeriod::Year,
                } as i32,
            }))
            .collect(),
        rounding: (match p.rounding {
            Rounding::Down => pb::RoundingMode::Down,
            Rounding::HalfUp => pb::RoundingMode::HalfUp,
            Rounding::HalfEven => pb::RoundingMode::HalfEven,
            Rounding::Up => pb::RoundingMode::Up,
        }) as i32,
        return_window_days: p.return_window_days,
        points_expiry_months: p.points_expiry_months,
        welcome_bonus: p.welcome_bonus.as_ref().map(Money::to_wire),
        birthday_bonus: p.birthday_bonus.as_ref().map(Money::to_wire),
        auto_enroll: p.auto_enroll,
        conversion: p.conversion.as_ref().map(|c| pb::Conversion {
            points: money(c.points, "PTS"),
            value: Some(c.value.to_wire()),
        }),
        clawback_policy: (match p.clawback {
            Clawback::OnlyPending => pc::ClawbackPolicy::OnlyPending,
            Clawback::WithinBalance => pc::ClawbackPolicy::WithinBalance,
            Clawback::AllowNegative => pc::ClawbackPolicy::AllowNegative,
        }) as i32,
        tier_policy: Some(pb::TierPolicy {
            basis: (if p.tiers.by_points {
                pb::TierBasis::PointsEarned
            } else {
                pb::TierBasis::Spend
            }) as i32,
            window_days: p.tiers.window_days,
            tiers: p
                .tiers
                .tiers
                .iter()
                .map(|t| pb::Tier {
                    tier_id: t.id.clone(),
                    name: t.name.clone(),
                    qualifies_at: money(
                        t.qualifies_at,
                        if p.tiers.by_points {
                            "PTS"
                        } else {
                            &p.currency
                        },
                    ),
                    earn_multiplier: t.multiplier.clone(),
                })
                .collect(),
            nudge_percent: p.tiers.nudge_percent,
        }),
        published_at: Some(to_timestamp(published_at)),
        fraud: Some(pb::FraudPolicy {
            max_purchases_per_hour: p.fraud.max_per_hour,
            max_return_rate_percent: p.fraud.max_return_rate.clone().unwrap_or_default(),
            return_rate_window_days: p.fraud.return_window_days,
            min_orders_for_return_rate: p.fraud.min_orders,
            hold_flagged: p.fraud.hold,
        }),
    }
}
