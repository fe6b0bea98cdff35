//! Conversions between `boomerang.campaign.v1` messages and the domain:
//! requests validated here with field violations, responses rendered here.
use std::str::FromStr;

use boomerang_common::{
    error::{AppError, Violations},
    money::{Asset, wire},
    time::{from_timestamp, to_timestamp},
};
use boomerang_proto::{campaign::v1 as pb, common::v1 as pc};
use rust_decimal::Decimal;

use crate::{
    campaigns::{CampaignView, Reserve},
    domain::{
        lifecycle::Status,
        schedule::{self, Schedule, Window},
        spec::{Budget, CampaignSpec, Caps, Conditions, Effect, Money, Stacking, Variant},
    },
    repo::{
        budget::Reservation,
        campaigns::{AuditRow, VersionRow},
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
    let mut instant =
        |field: &str, ts: Option<&prost_types::Timestamp>| match ts.and_then(from_timestamp) {
            Some(t) => t,
            None => {
                v.add(field, "required");
                0
            }
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

fn channel_name(c: i32) -> Option<&'static str> {
    match pc::Channel::try_from(c) {
        Ok(pc::Channel::Online) => Some("online"),
        Ok(pc::Channel::Store) => Some("store"),
        Ok(pc::Channel::App) => Some("app"),
        _ => None,
    }
}

/// Validates a campaign spec.
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
    let c = s.conditions.clone().unwrap_or_default();
    let channels: Vec<String> = c
        .channels
        .iter()
        .filter_map(|x| channel_name(*x).map(str::to_owned))
        .collect();
    if channels.len() != c.channels.len() {
        v.add("spec.conditions.channels", "unknown channel");
    }
    let conditions = Conditions {
        categories: list(&mut v, "spec.conditions.categories", &c.categories),
        channels,
        stores: list(&mut v, "spec.conditions.stores", &c.stores),
        segments: list(&mut v, "spec.conditions.segments", &c.segments),
        tiers: list(&mut v, "spec.conditions.tiers", &c.tiers),
        min_order_amount: money(
            &mut v,
            "spec.conditions.min_order_amount",
            c.min_order_amount.as_ref(),
        ),
        first_purchase_only: c.first_purchase_only,
    };
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
            Some(Budget { total, per_day })
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

/// An effect on the wire.
pub fn to_effect(e: &Effect) -> pb::Effect {
    use pb::effect::Kind;
    let kind = match e {
        Effect::PointsMultiplier { multiplier } => Kind::PointsMultiplier(pb::PointsMultiplier {
            multiplier: multiplier.clone(),
        }),
        Effect::ExtraPercent { asset, percent } => Kind::ExtraPercent(pb::ExtraPercent {
            asset: asset.clone(),
            percent: percent.clone(),
        }),
        Effect::FixedBonus { amount } => Kind::FixedBonus(pb::FixedBonus {
            amount: Some(amount.to_wire()),
        }),
        Effect::NextPurchaseVoucher {
            value,
            min_next_order,
            valid_days,
        } => Kind::NextPurchaseVoucher(pb::NextPurchaseVoucher {
            value: Some(value.to_wire()),
            min_next_order: min_next_order.as_ref().map(Money::to_wire),
            valid_days: *valid_days,
        }),
    };
    pb::Effect { kind: Some(kind) }
}

fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Conditions on the wire.
pub fn to_conditions(c: &Conditions) -> pb::Conditions {
    let channel = |s: &String| match s.as_str() {
        "online" => pc::Channel::Online as i32,
        "store" => pc::Channel::Store as i32,
        _ => pc::Channel::App as i32,
    };
    pb::Conditions {
        categories: c.categories.clone(),
        channels: c.channels.iter().map(channel).collect(),
        stores: c.stores.clone(),
        segments: c.segments.clone(),
        tiers: c.tiers.clone(),
        min_order_amount: c.min_order_amount.as_ref().map(Money::to_wire),
        first_purchase_only: c.first_purchase_only,
    }
}

/// Caps on the wire.
pub fn to_caps(c: &Caps) -> pb::CampaignCaps {
    pb::CampaignCaps {
        per_customer: c.per_customer.as_ref().map(Money::to_wire),
        per_order: c.per_order.as_ref().map(Money::to_wire),
    }
}

/// Stacking on the wire.
pub fn to_stacking(s: Stacking) -> i32 {
    match s {
        Stacking::Stackable => pb::Stacking::Stackable as i32,
        Stacking::Exclusive => pb::Stacking::Exclusive as i32,
    }
}

fn to_spec(s: &CampaignSpec) -> pb::CampaignSpec {
    pb::CampaignSpec {
        name: s.name.clone(),
        description: s.description.clone(),
        terms: s.terms.clone(),
        schedule: Some(pb::Schedule {
            timezone: s.schedule.timezone.clone(),
            starts_at: Some(to_timestamp(s.schedule.starts_at)),
            ends_at: Some(to_timestamp(s.schedule.ends_at)),
            windows: s
                .schedule
                .windows
                .iter()
                .map(|w| pb::RecurringWindow {
                    days: w.days.iter().map(|d| i32::from(*d)).collect(),
                    start_time: hhmm(w.start_minute),
                    end_time: hhmm(w.end_minute),
                })
                .collect(),
        }),
        effect: s.effect.as_ref().map(to_effect),
        conditions: Some(to_conditions(&s.conditions)),
        caps: Some(to_caps(&s.caps)),
        priority: s.priority,
        stacking: to_stacking(s.stacking),
        variants: s
            .variants
            .iter()
            .map(|v| pb::Variant {
                name: v.name.clone(),
                weight: v.weight,
                effect: v.effect.as_ref().map(to_effect),
            })
            .collect(),
        budgets: s
            .budgets
            .iter()
            .map(|b| pb::Budget {
                total: Some(b.total.to_wire()),
                per_day: b.per_day.map(|d| wire(d, b.total.code())),
            })
            .collect(),
    }
}

/// Status on the wire.
pub fn to_status(s: Status) -> i32 {
    (match s {
        Status::Draft => pb::CampaignStatus::Draft,
        Status::Scheduled => pb::CampaignStatus::Scheduled,
        Status::Active => pb::CampaignStatus::Active,
        Status::Paused => pb::CampaignStatus::Paused,
        Status::Ended => pb::CampaignStatus::Ended,
        Status::Archived => pb::CampaignStatus::Archived,
    }) as i32
}

/// Status from the wire.
pub fn from_status(s: i32) -> Option<Status> {
    match pb::CampaignStatus::try_from(s).ok()? {
        pb::CampaignStatus::Unspecified => None,
        pb::CampaignStatus::Draft => Some(Status::Draft),
        pb::CampaignStatus::Scheduled => Some(Status::Scheduled),
        pb::CampaignStatus::Active => Some(Status::Active),
        pb::CampaignStatus::Paused => Some(Status::Paused),
        pb::CampaignStatus::Ended => Some(Status::Ended),
        pb::CampaignStatus::Archived => Some(Status::Archived),
    }
}

/// A version on the wire, with the campaign's current status.
pub fn to_campaign(id: &str, status: Status, v: &VersionRow) -> pb::Campaign {
    pb::Campaign {
        campaign_id: id.to_owned(),
        version: u32::try_from(v.version).unwrap_or_default(),
        status: to_status(status),
        spec: Some(to_spec(&v.spec)),
        created_at: Some(to_timestamp(v.created_at)),
        effective_from: v.effective_from.map(to_timestamp),
        effective_to: v.effective_to.map(to_timestamp),
    }
}

impl From<&CampaignView> for pb::Campaign {
    fn from(c: &CampaignView) -> Self {
        to_campaign(&c.head.id, c.head.status, &c.version)
    }
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
    v.check()?;
    Ok(Reserve {
        campaign,
        amount: amount.ok_or_else(|| AppError::invalid("amount", "required"))?,
        ttl,
        allow_partial: r.allow_partial,
        customer,
        order,
        variant,
    })
}

/// A reservation id from the wire.
pub fn reservation_id(raw: &str) -> Result<i64, AppError> {
    raw.strip_prefix("rs_")
        .and_then(|n| i64::from_str(n).ok())
        .ok_or_else(|| AppError::invalid("reservation_id", "not a reservation id (rs_...)"))
}

/// A reservation on the wire.
pub fn to_reservation(r: &Reservation) -> pb::Reservation {
    let status = match r.status.as_str() {
        "reserved" => pb::ReservationStatus::Reserved,
        "confirmed" => pb::ReservationStatus::Confirmed,
        "released" => pb::ReservationStatus::Released,
        "expired" => pb::ReservationStatus::Expired,
        _ => pb::ReservationStatus::Unspecified,
    };
    pb::Reservation {
        reservation_id: crate::campaigns::reservation_ref(r.id),
        campaign_id: r.campaign_id.clone(),
        requested: Some(wire(r.requested, &r.asset)),
        granted: Some(wire(r.granted, &r.asset)),
        confirmed: Some(wire(r.confirmed, &r.asset)),
        status: status as i32,
        expires_at: Some(to_timestamp(r.expires_at)),
    }
}

/// An audit entry on the wire.
pub fn to_audit(a: &AuditRow) -> pb::AuditEvent {
    pb::AuditEvent {
        event_id: format!("au_{}", a.id),
        campaign_id: a.campaign_id.clone(),
        action: a.action.clone(),
        actor: a.actor.clone(),
        occurred_at: Some(to_timestamp(a.occurred_at)),
        before: a.before.clone(),
        after: a.after.clone(),
    }
}

/// Budget figures on the wire.
pub fn to_figures(
    asset: &str,
    total: i64,
    reserved: i64,
    confirmed: i64,
    released: i64,
) -> pb::BudgetFigures {
    pb::BudgetFigures {
        asset: asset.to_owned(),
        total: Some(wire(total, asset)),
        reserved: Some(wire(reserved, asset)),
        confirmed: Some(wire(confirmed, asset)),
        released: Some(wire(released, asset)),
    }
}
