//! Conversions between `boomerang.accrual.v1` messages and the domain:
//! requests validated with field violations, responses rendered.
use boomerang_common::{
    error::{AppError, Violations},
    money::{MAX_REQUEST_MINOR, Sign, wire},
    time::{from_timestamp, to_timestamp},
};
use boomerang_proto::{accrual::v1 as pb, common::v1 as pc};

use std::collections::BTreeMap;

pub use crate::views::{to_explanation, to_reward};
use crate::{
    accrual::{MemberChange, MemberView, PurchaseInput},
    domain::{fraud::Flag, program::Money, rewards::Line},
    repo::MemberRow,
};

/// A required id (`common::id`: 1-128 printable characters, no surrounding spaces).
pub fn id(v: &mut Violations, field: &str, value: &str) -> String {
    boomerang_common::id::field(v, field, value)
}

pub(super) fn text(v: &mut Violations, field: &str, value: &str, max: usize) -> String {
    if value.chars().count() > max {
        v.add(field, format!("at most {max} characters"));
    }
    value.to_owned()
}

/// An amount in a known asset; `positive` requires > 0, else >= 0.
pub fn money(
    v: &mut Violations,
    field: &str,
    m: Option<&pc::Money>,
    positive: bool,
) -> Option<Money> {
    let sign = if positive {
        Sign::Positive
    } else {
        Sign::NotNegative
    };
    let amount = boomerang_common::money::field(v, field, m, sign)?;
    // Nothing accrual is given may exceed what one wallet credit may carry.
    if amount.minor() > MAX_REQUEST_MINOR {
        let most = boomerang_common::money::text(MAX_REQUEST_MINOR, amount.code());
        v.add(
            format!("{field}.amount"),
            format!("more than one credit may carry (at most {most})"),
        );
        return None;
    }
    Some(amount)
}

/// The channels a purchase or cart names (one is required: channel drives
/// campaign conditions and the omnichannel figures).
pub const CHANNELS: &str = "CHANNEL_ONLINE, CHANNEL_STORE or CHANNEL_APP";

/// The largest order accrual prices, in minor units of its currency
/// (10^10: a hundred million euros), so that what it earns, whatever the
/// rates and multipliers, is bounded where the order enters.
pub const MAX_ORDER_MINOR: i64 = 10_000_000_000;

/// What the bound says, in the order's currency when it is known
/// ("an order is at most 100000000.00 EUR").
fn order_bound(currency: Option<&str>) -> String {
    match currency {
        Some(c) => format!(
            "an order is at most {}",
            boomerang_common::money::text(MAX_ORDER_MINOR, c)
        ),
        None => "an order is at most 10^10 minor units of its currency (100000000.00 EUR)".into(),
    }
}

/// Validates a purchase: every bad field reported at once (long for that).
/// A line of an order or a cart, as sent.
pub(super) struct LineAsked<'a> {
    /// Line id.
    pub line_id: &'a str,
    /// SKU.
    pub sku: &'a str,
    /// Category.
    pub category: &'a str,
    /// Price of a unit.
    pub unit_price: Option<&'a pc::Money>,
    /// Units.
    pub quantity: u32,
    /// Discount on the line (a cart's lines have none).
    pub discount: Option<&'a pc::Money>,
}

/// Validates the lines of an order or a cart under `at` (`at[i].field`):
/// unique ids, a price and an optional discount in `currency` (when known),
/// 1 to 10,000 units, and the order's bound on each line and on the whole.
pub(super) fn lines<'a>(
    v: &mut Violations,
    at: &str,
    currency: Option<&str>,
    asked: impl Iterator<Item = LineAsked<'a>>,
) -> Vec<Line> {
    let mut seen = std::collections::BTreeSet::new();
    let mut total: i64 = 0;
    let lines = asked
        .enumerate()
        .map(|(i, l)| {
            let f = format!("{at}[{i}]");
            let line_id = id(v, &format!("{f}.line_id"), l.line_id);
            if !seen.insert(line_id.clone()) {
                v.add(format!("{f}.line_id"), "line ids are unique");
            }
            if l.unit_price.is_none() {
                v.add(format!("{f}.unit_price"), "required");
            }
            let unit = money(v, &format!("{f}.unit_price"), l.unit_price, false);
            let discount = money(v, &format!("{f}.discount"), l.discount, false);
            for (name, m) in [("unit_price", &unit), ("discount", &discount)] {
                if let (Some(currency), Some(m)) = (currency, m)
                    && m.code() != currency
                {
                    v.add(format!("{f}.{name}.asset"), "the order currency");
                }
            }
            if !(1..=10_000).contains(&l.quantity) {
                v.add(format!("{f}.quantity"), "1 to 10000");
            }
            let unit = unit.map_or(0, |m| m.minor());
            let discount = discount.map_or(0, |m| m.minor());
            let line_total = unit.saturating_mul(i64::from(l.quantity));
            if line_total > MAX_ORDER_MINOR {
                v.add(format!("{f}.unit_price"), order_bound(currency));
            }
            if discount > line_total {
                v.add(format!("{f}.discount"), "at most the line total");
            }
            total = total.saturating_add(line_total - discount.min(line_total));
            Line {
                line_id,
                sku: text(v, &format!("{f}.sku"), l.sku, 128),
                category: text(v, &format!("{f}.category"), l.category, 128),
                unit_price: unit,
                quantity: l.quantity,
                discount,
            }
        })
        .collect();
    if total > MAX_ORDER_MINOR {
        v.add(at, order_bound(currency));
    }
    lines
}

pub fn purchase(
    p: Option<&pb::Purchase>,
    request_hash: Vec<u8>,
    now: i64,
) -> Result<PurchaseInput, AppError> {
    let Some(p) = p else {
        return Err(AppError::invalid("purchase", "required"));
    };
    let mut v = Violations::new();
    let program_id = id(&mut v, "purchase.program_id", &p.program_id);
    let order_id = id(&mut v, "purchase.order_id", &p.order_id);
    let customer = id(&mut v, "purchase.customer_id", &p.customer_id);
    let known_currency = boomerang_common::money::Asset::builtin(&p.currency).is_some();
    if !known_currency {
        v.add("purchase.currency", "a known currency, e.g. EUR");
    }
    if p.lines.is_empty() || p.lines.len() > 500 {
        v.add("purchase.lines", "1 to 500 lines");
    }
    let asked = p.lines.iter().map(|l| LineAsked {
        line_id: &l.line_id,
        sku: &l.sku,
        category: &l.category,
        unit_price: l.unit_price.as_ref(),
        quantity: l.quantity,
        discount: l.discount.as_ref(),
    });
    let currency = known_currency.then_some(p.currency.as_str());
    let lines = lines(&mut v, "purchase.lines", currency, asked);
    // Since 2000, and not in the future beyond a day of clock skew.
    let latest = now + 86_400_000_000;
    let occurred_at = match p.occurred_at.as_ref().map(from_timestamp) {
        None => now,
        Some(Some(t)) if (946_684_800_000_000..=latest).contains(&t) => t,
        Some(_) => {
            v.add(
                "purchase.occurred_at",
                "a time since 2000 and not in the future (absent: now)",
            );
            0
        }
    };
    let store = text(&mut v, "purchase.store_id", &p.store_id, 128);
    v.required::<pc::Channel>("purchase.channel", p.channel, CHANNELS);
    v.check()?;
    Ok(PurchaseInput {
        program_id,
        order_id,
        customer,
        currency: p.currency.clone(),
        lines,
        channel: p.channel,
        store,
        occurred_at_us: occurred_at,
        request_hash,
        coupon_offers: Vec::new(),
    })
}

/// Units returned per line id (several entries of one line add up).
pub fn returned_lines(v: &mut Violations, lines: &[pb::ReturnLine]) -> BTreeMap<String, u32> {
    if lines.is_empty() || lines.len() > 500 {
        v.add("lines", "1 to 500 lines");
    }
    let mut out = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        if l.quantity == 0 || l.quantity > 10_000 {
            v.add(format!("lines[{i}].quantity"), "1 to 10000");
        }
        let line = id(v, &format!("lines[{i}].line_id"), &l.line_id);
        *out.entry(line).or_insert(0u32) += l.quantity.min(10_000);
    }
    out
}

/// The details an update changes: the mask's paths (all three when empty),
/// taken from the validated `changed`.
pub fn member_change(v: &mut Violations, changed: &MemberRow, paths: &[String]) -> MemberChange {
    if let Some(bad) = paths
        .iter()
        .find(|p| !matches!(p.as_str(), "birthday" | "segment" | "opt_ins"))
    {
        v.add(
            "update_mask",
            format!("cannot update {bad:?}; only birthday, segment, opt_ins"),
        );
    }
    let pick = |field: &str| paths.is_empty() || paths.iter().any(|p| p == field);
    MemberChange {
        birthday: pick("birthday").then(|| changed.birthday.clone()),
        segment: pick("segment").then(|| changed.segment.clone()),
        opt_ins: pick("opt_ins").then(|| changed.opt_ins.clone()),
    }
}

/// A fraud flag on the wire.
pub fn fraud_flag(f: Flag) -> pb::FraudFlag {
    match f {
        Flag::Velocity => pb::FraudFlag::Velocity,
        Flag::ReturnRate => pb::FraudFlag::ReturnRate,
    }
}

/// A member on the wire.
pub fn to_member(program_id: &str, m: &MemberView) -> pb::Member {
    let opt_ins: Vec<i32> = serde_json::from_str(&m.member.opt_ins).unwrap_or_default();
    pb::Member {
        program_id: program_id.into(),
        customer_id: m.member.customer_id.clone(),
        birthday: m.member.birthday.clone(),
        segment: m.member.segment.clone(),
        opt_ins,
        tier: Some(pb::TierProgress {
            current_tier: m.tier.clone().unwrap_or_default(),
            next_tier: m.next.as_ref().map(|(t, _)| t.clone()).unwrap_or_default(),
            qualifying: Some(wire(m.qualifying, &m.qualifying_asset)),
            needed: m.next.as_ref().map(|(_, n)| wire(*n, &m.qualifying_asset)),
            review_at: m.review_at.map(to_timestamp),
        }),
        enrolled_at: Some(to_timestamp(m.member.enrolled_at)),
    }
}

/// Validates "MM-DD".
pub fn birthday(v: &mut Violations, field: &str, s: &str) -> String {
    if !s.is_empty() {
        let days = |m: u8| match m {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let ok = s.len() == 5
            && s.split_once('-').is_some_and(|(m, d)| {
                matches!((m.parse::<u8>(), d.parse::<u8>()),
                    (Ok(m), Ok(d)) if (1..=12).contains(&m) && (1..=days(m)).contains(&d))
            });
        if !ok {
            v.add(field, "\"MM-DD\", a real day of the year, e.g. \"04-21\"");
        }
    }
    s.to_owned()
}
