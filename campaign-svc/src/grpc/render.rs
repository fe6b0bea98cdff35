//! Campaigns, reservations, audit events and reports rendered as
//! `boomerang.campaign.v1` messages.
use boomerang_common::{money::wire, time::to_timestamp};
use boomerang_proto::{campaign::v1 as pb, common::v1 as pc};

use crate::{
    campaigns::{CampaignView, Place, Report},
    domain::{
        lifecycle::Status,
        report::{Rewarded, attribute},
        spec::{CampaignSpec, Caps, Conditions, Effect, Money, Stacking},
    },
    repo::{
        budget::Reservation,
        campaigns::{AuditRow, VersionRow},
    },
};

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
            usable_at_once,
        } => Kind::NextPurchaseVoucher(pb::NextPurchaseVoucher {
            value: Some(value.to_wire()),
            min_next_order: min_next_order.as_ref().map(Money::to_wire),
            valid_days: *valid_days,
            usable_at_once: *usable_at_once,
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
                low_percent: b.low_percent,
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

/// The campaign report: budget figures, participants, and what the rewarded
/// orders brought in and cost, for the campaign and per variant.
pub fn to_report(report: &Report) -> pb::GetCampaignReportResponse {
    let mut variants: Vec<pb::VariantReport> = Vec::new();
    for (name, asset, participants, reserved, confirmed, released) in &report.variants {
        // The budget is the campaign's, shared by its variants.
        let total = report
            .budgets
            .iter()
            .find(|b| b.0 == *asset)
            .map_or(0, |b| b.1);
        let figures = to_figures(asset, total, *reserved, *confirmed, *released);
        match variants.iter_mut().find(|v| v.variant == *name) {
            Some(v) => v.budgets.push(figures),
            None => variants.push(pb::VariantReport {
                variant: name.clone(),
                participants: u64::try_from(*participants).unwrap_or_default(),
                budgets: vec![figures],
                attribution: to_attribution(report, |p| p.variant == *name),
            }),
        }
    }
    let attribution = to_attribution(report, |_| true);
    // Per channel and store, in the channel enum's order then store.
    let mut places: Vec<(i32, String)> = report
        .rewarded
        .iter()
        .map(|p| (channel_of(&p.channel), p.store.clone()))
        .collect();
    places.sort();
    places.dedup();
    let places = places
        .into_iter()
        .map(|(channel, store_id)| pb::PlaceAttribution {
            attribution: to_attribution(report, |p| {
                channel_of(&p.channel) == channel && p.store == store_id
            }),
            channel,
            store_id,
        })
        .collect();
    pb::GetCampaignReportResponse {
        places,
        budgets: report
            .budgets
            .iter()
            .map(|(a, t, r, c, rel)| to_figures(a, *t, *r, *c, *rel))
            .collect(),
        participants: u64::try_from(report.participants).unwrap_or_default(),
        variants,
        attributed_revenue: match attribution.as_slice() {
            [one] => one.revenue.clone(),
            _ => None,
        },
        attribution,
        rewarded_orders: u64::try_from(report.rewarded_orders).unwrap_or_default(),
        redemptions: u64::try_from(report.redemptions).unwrap_or_default(),
    }
}

/// A stored channel name ("online") as the wire enum's value.
fn channel_of(name: &str) -> i32 {
    boomerang_proto::common::v1::Channel::from_str_name(&format!("CHANNEL_{}", name.to_uppercase()))
        .map_or(0, |c| c as i32)
}

/// Revenue, cost and ROI per currency of the rewarded orders `keep` keeps.
fn to_attribution(report: &Report, keep: impl Fn(&Place) -> bool) -> Vec<pb::Attribution> {
    let rows: Vec<Rewarded> = report
        .rewarded
        .iter()
        .filter(|p| keep(p))
        .map(|p| p.rewarded.clone())
        .collect();
    attribute(&rows)
        .into_iter()
        .map(|a| pb::Attribution {
            orders: u64::try_from(a.orders).unwrap_or_default(),
            revenue: Some(wire(a.revenue, &a.currency)),
            cost: Some(wire(a.cost, &a.currency)),
            roi: a.roi.map(|r| r.to_string()).unwrap_or_default(),
            unpriced: a
                .unpriced
                .iter()
                .map(|(asset, minor)| wire(*minor, asset))
                .collect(),
            currency: a.currency,
        })
        .collect()
}
