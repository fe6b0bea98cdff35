//! Conversions between `boomerang.campaign.v1` messages and the domain:
//! requests validated here with field violations, responses rendered here.
use std::str::FromStr;

use boomerang_common::{
    error::{AppError, Violations},
    money::Asset,
};
use boomerang_proto::{campaign::v1 as pb, common::v1 as pc};
use rust_decimal::Decimal;

use crate::{
    campaigns::Reserve,
    domain::{
        schedule::{self, Schedule, Window},
        spec::{Budget, CampaignSpec, Caps, Conditions, Effect, Money, Stacking, Variant},
    },
};

const MAX_LIST: usize = 100;

/// A required campaign id: an id (`common::id`) of at most 64 letters,
/// digits, `-`, `_` and `.`, the campaign's own naming rule on top.
pub fn id(v: &mut Violations, field: &str, value: &str) -> String {
    let ok = boomerang_common::id::check(value).is_ok()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        v.add(
            field,
            "1-64 characters of letters, digits, '-', '_' and '.'",
        );
    }
    value.to_owned()
}

fn text(v: &mut Violations, field: &str, value: &str, max: usize, required: bool) -> String {
    if required && value.trim().is_empty() {
        v.add(field, "required");
    } else if value.chars().count() > max {
        v.add(field, format!("at most {max} characters"));
    }
    value.to_owned()
}

fn list(v: &mut Violations, field: &str, values: &[String]) -> Vec<String> {
    if values.len() > MAX_LIST {
        v.add(field, format!("at most {MAX_LIST} entries"));
    }
    if values
        .iter()
        .any(|x| x.is_empty() || x.chars().count() > 128)
    {
        v.add(field, "entries of 1-128 characters");
    }
    values.to_vec()
}

/// A positive amount in a known asset.
pub fn money(v: &mut Violations, field: &str, m: Option<&pc::Money>) -> Option<Money> {
    boomerang_common::money::field(v, field, m, boomerang_common::money::Sign::Positive)
}

fn decimal(
    v: &mut Violations,
    field: &str,
    s: &str,
    min_exclusive: Decimal,
    max: Decimal,
    what: &str,
) -> String {
    match Decimal::from_str_exact(s) {
        Ok(d) if d > min_exclusive && d <= max => d.normalize().to_string(),
        _ => {
            v.add(field, what.to_owned());
            String::new()
        }
    }
}

fn to_domain_effect(v: &mut Violations, field: &str, e: &pb::Effect) -> Option<Effect> {
    use pb::effect::Kind;
    match e.kind.as_ref() {
        None => {
            v.add(field, "give one effect");
            None
        }
        Some(Kind::PointsMultiplier(m)) => {
            // A multiplier below 1 would take points away; above 100 is a typo.
            let ok = Decimal::from_str_exact(&m.multiplier)
                .is_ok_and(|d| d >= Decimal::ONE && d <= Decimal::from(100));
            if !ok {
                v.add(
                    format!("{field}.points_multiplier.multiplier"),
                    "a decimal from 1 to 100",
                );
            }
            Some(Effect::PointsMultiplier {
                multiplier: m.multiplier.clone(),
            })
        }
        Some(Kind::ExtraPercent(p)) => {
            if Asset::builtin(&p.asset).is_none() {
                v.add(format!("{field}.extra_percent.asset"), "unknown asset");
            }
            let percent = decimal(
                v,
                &format!("{field}.extra_percent.percent"),
                &p.percent,
                Decimal::ZERO,
                Decimal::from(100),
                "a percent above 0 and at most 100",
            );
            Some(Effect::ExtraPercent {
                asset: p.asset.clone(),
                percent,
            })
        }
        Some(Kind::FixedBonus(b)) => {
            let amount = money(v, &format!("{field}.fixed_bonus.amount"), b.amount.as_ref());
            if b.amount.is_none() {
                v.add(format!("{field}.fixed_bonus.amount"), "required");
            }
            amount.map(|amount| Effect::FixedBonus { amount })
        }
        Some(Kind::NextPurchaseVoucher(x)) => {
            let value = money(
                v,
                &format!("{field}.next_purchase_voucher.value"),
                x.value.as_ref(),
            );
            if x.value.is_none() {
                v.add(format!("{field}.next_purchase_voucher.value"), "required");
            }
            let min_next_order = money(
                v,
                &format!("{field}.next_purchase_voucher.min_next_order"),
                x.min_next_order.as_ref(),
            );
            if !(1..=3_650).contains(&x.valid_days) {
                v.add(
                    format!("{field}.next_purchase_voucher.valid_days"),
                    "1 to 3650 days",
                );
            }
            value.map(|value| Effect::NextPurchaseVoucher {
                value,
                min_next_order,
                valid_days: x.valid_days,
                usable_at_once: x.usable_at_once,
            })
        }
    }
}

fn weekday(d: i32) -> Option<u8> {
    match pb::Weekday::try_from(d) {
        Ok(pb::Weekday::Unspecified) | Err(_) => None,
        Ok(w) => u8::try_from(w as i32).ok(),
    }
}

fn schedule(v: &mut Violations, s: Option<&pb::Schedule>) -> Schedule {
    let Some(s) = s else {
        v.add("spec.schedule", "required");
        return Schedule {
            timezone: String::new(),
            starts_at: 0,
            ends_at: 0,
            windows: vec![],
        };
    };
    if let Err(e) = schedule::zone(&s.timezone) {
        v.add("spec.schedule.timezone", e);
    }
    let mut instant = |field: &str, ts: Option<&prost_types::Timestamp>| {
        if ts.is_none() {
            v.add(field, "required");
        }
        boomerang_common::time::instant(v, field, ts).unwrap_or(0)
    };
    let starts_at = instant("spec.schedule.starts_at", s.starts_at.as_ref());
    let ends_at = instant("spec.schedule.ends_at", s.ends_at.as_ref());
    if ends_at <= starts_at && ends_at != 0 {
        v.add("spec.schedule.ends_at", "must be after starts_at");
    }
    if s.windows.len() > 28 {
        v.add("spec.schedule.windows", "at most 28 windows");
    }
    let windows = s
        .windows
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let field = format!("spec.schedule.windows[{i}]");
            let days: Vec<u8> = w.days.iter().filter_map(|d| weekday(*d)).collect();
            if days.is_empty() || days.len() != w.days.len() {
                v.add(format!("{field}.days"), "one or more weekdays");
            }
            let start = v
                .field(
                    &format!("{field}.start_time"),
                    schedule::minute_of_day(&w.start_time),
                )
                .unwrap_or(0);
            let end = v
                .field(
                    &format!("{field}.end_time"),
                    schedule::minute_of_day(&w.end_time),
                )
                .unwrap_or(0);
            if end < start {
                v.add(format!("{field}.end_time"), "must not be before start_time");
            }
            Window {
                days,
                start_minute: start,
                end_minute: end,
            }
        })
        .collect();
    Schedule {
        timezone: s.timezone.clone(),
        starts_at,
        ends_at,
        windows,
    }
}

/// Conditions on a cart, checked field by field under `prefix`.
pub fn conditions(v: &mut Violations, prefix: &str, c: Option<&pb::Conditions>) -> Conditions {
    let c = c.cloned().unwrap_or_default();
    let channels: Vec<String> = c
        .channels
        .iter()
        .filter_map(|x| pc::channel_name(*x).map(str::to_owned))
        .collect();
    if c.channels.len() > 8 {
        v.add(format!("{prefix}.channels"), "at most 8 channels");
    } else if channels.len() != c.channels.len() {
        v.add(format!("{prefix}.channels"), "unknown channel");
    }
    Conditions {
        categories: list(v, &format!("{prefix}.categories"), &c.categories),
        channels,
        stores: list(v, &format!("{prefix}.stores"), &c.stores),
        segments: list(v, &format!("{prefix}.segments"), &c.segments),
        tiers: list(v, &format!("{prefix}.tiers"), &c.tiers),
        min_order_amount: money(
            v,
            &format!("{prefix}.min_order_amount"),
            c.min_order_amount.as_ref(),
        ),
        first_purchase_only: c.first_purchase_only,
    }
}

/// A decimal percent above 0 and at most 100, normalised; "" with a violation otherwise.
pub fn percent(v: &mut Violations, field: &str, s: &str) -> String {
    decimal(
        v,
        field,
        s,
        Decimal::ZERO,
        Decimal::from(100),
        "a percent above 0 and at most 100",
    )
}

/// Validates a campaign spec: every bad field of the message reported at
/// once, section after section in message order (hence its length).
pub fn spec(s: Option<&pb::CampaignSpec>) -> Result<CampaignSpec, AppError> {
    let mut v = Violations::new();
    let Some(s) = s else {
        return Err(AppError::invalid("spec", "required"));
    };
    let name = text(&mut v, "spec.name", &s.name, 128, true);
    let description = text(&mut v, "spec.description", &s.description, 2_000, false);
    let terms = text(&mut v, "spec.terms", &s.terms, 20_000, true);
    let schedule = schedule(&mut v, s.schedule.as_ref());
    let effect = s
        .effect
        .as_ref()
        .and_then(|e| to_domain_effect(&mut v, "spec.effect", e));
    if s.effect.is_none() && s.variants.is_empty() {
        v.add("spec.effect", "required unless variants give the effects");
    }
    let conditions = conditions(&mut v, "spec.conditions", s.conditions.as_ref());
    let caps = s.caps.clone().unwrap_or_default();
    let caps = Caps {
        per_customer: money(&mut v, "spec.caps.per_customer", caps.per_customer.as_ref()),
        per_order: money(&mut v, "spec.caps.per_order", caps.per_order.as_ref()),
    };
    let stacking = match pb::Stacking::try_from(s.stacking) {
        Ok(pb::Stacking::Exclusive) => Stacking::Exclusive,
        Ok(_) => Stacking::Stackable,
        Err(_) => {
            v.add("spec.stacking", "unknown stacking");
            Stacking::Stackable
        }
    };
    if s.variants.len() > 10 {
        v.add("spec.variants", "at most 10 variants");
    }
    let mut names = std::collections::BTreeSet::new();
    let variants = s
        .variants
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let field = format!("spec.variants[{i}]");
            let name = text(&mut v, &format!("{field}.name"), &x.name, 64, true);
            if !names.insert(name.clone()) {
                v.add(format!("{field}.name"), "variant names must be unique");
            }
            if !(1..=10_000).contains(&x.weight) {
                v.add(format!("{field}.weight"), "1 to 10000");
            }
            let effect = x
                .effect
                .as_ref()
                .and_then(|e| to_domain_effect(&mut v, &format!("{field}.effect"), e));
            Variant {
                name,
                weight: x.weight,
                effect,
            }
        })
        .collect();
    if s.budgets.len() > 8 {
        v.add("spec.budgets", "at most 8 budgets");
    }
    let mut assets = std::collections::BTreeSet::new();
    let budgets = s
        .budgets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let field = format!("spec.budgets[{i}]");
            if b.total.is_none() {
                v.add(format!("{field}.total"), "required, above zero");
            }
            let total = money(&mut v, &format!("{field}.total"), b.total.as_ref())?;
            if !assets.insert(total.code().to_owned()) {
                v.add(format!("{field}.total.asset"), "one budget per asset");
            }
            let per_day = money(&mut v, &format!("{field}.per_day"), b.per_day.as_ref()).map(|d| {
                if d.code() != total.code() {
                    v.add(
                        format!("{field}.per_day.asset"),
                        "must be the budget's asset",
                    );
                }
                d.minor()
            });
            if b.low_percent.is_some_and(|p| p > 99) {
                v.add(format!("{field}.low_percent"), "0 to 99");
            }
            Some(Budget {
                total,
                per_day,
                low_percent: b.low_percent,
            })
        })
        .collect();
    v.check()?;
    Ok(CampaignSpec {
        name,
        description,
        terms,
        schedule,
        effect,
        conditions,
        caps,
        priority: s.priority,
        stacking,
        variants,
        budgets,
    })
}

/// Validates a reservation request; `default_ttl` in micros.
pub fn reserve(r: &pb::ReserveBudgetRequest, default_ttl: i64) -> Result<Reserve, AppError> {
    let mut v = Violations::new();
    let campaign = id(&mut v, "campaign_id", &r.campaign_id);
    if r.amount.is_none() {
        v.add("amount", "required");
    }
    let amount = money(&mut v, "amount", r.amount.as_ref());
    let ttl = match &r.ttl {
        None => default_ttl,
        Some(d) => {
            let t = d.seconds.saturating_mul(1_000_000);
            if !(1_000_000..=86_400_000_000).contains(&t) {
                v.add("ttl", "1 second to 1 day");
            }
            t
        }
    };
    let customer = text(&mut v, "customer_id", &r.customer_id, 128, false);
    let order = text(&mut v, "order_id", &r.order_id, 128, false);
    let variant = text(&mut v, "variant", &r.variant, 64, false);
    let order_amount = order_amount(&mut v, r.order_amount.as_ref());
    let channel = v
        .known::<pc::Channel>("channel", r.channel)
        .and_then(|c| pc::channel_name(c as i32))
        .unwrap_or_default()
        .to_owned();
    let store = text(&mut v, "store_id", &r.store_id, 128, false);
    // A price per unit: 0 to a million currency units, at most 12 decimals.
    let unit_value = if r.unit_value.is_empty() {
        String::new()
    } else {
        match Decimal::from_str_exact(&r.unit_value) {
            Ok(d) if d >= Decimal::ZERO && d <= Decimal::from(1_000_000) && d.scale() <= 12 => {
                d.normalize().to_string()
            }
            _ => {
                v.add(
                    "unit_value",
                    "a decimal from 0 to 1000000 with at most 12 decimals, e.g. \"0.05\"",
                );
                String::new()
            }
        }
    };
    v.check()?;
    Ok(Reserve {
        campaign,
        amount: amount.ok_or_else(|| AppError::invalid("amount", "required"))?,
        ttl,
        allow_partial: r.allow_partial,
        customer,
        order,
        variant,
        order_amount,
        unit_value,
        channel,
        store,
    })
}

/// An order's eligible amount: 0.00 (a free order) or more, in a known currency.
pub fn order_amount(v: &mut Violations, m: Option<&pc::Money>) -> Option<Money> {
    m.and_then(|m| {
        boomerang_common::money::field(
            v,
            "order_amount",
            Some(m),
            boomerang_common::money::Sign::NotNegative,
        )
    })
}

/// A reservation id from the wire.
pub fn reservation_id(raw: &str) -> Result<i64, AppError> {
    raw.strip_prefix("rs_")
        .and_then(|n| i64::from_str(n).ok())
        .ok_or_else(|| AppError::invalid("reservation_id", "not a reservation id (rs_...)"))
}
