//! Facade results rendered as `boomerang.accrual.v1` responses.
use boomerang_common::money::wire;
use boomerang_proto::accrual::v1 as pb;
use rust_decimal::Decimal;

use super::convert::{fraud_flag, to_explanation, to_member, to_reward};
use crate::{
    accrual::{
        MemberView, Recorded, RecordedReward, Returned,
        conversion::Converted,
        reports::{ProgramReport, TaxReport},
    },
    domain::{program::Money, tax::TaxLine},
    repo,
};

/// Rewards of `order` as they stand at `now`.
pub fn rewards(order: &str, rewards: &[RecordedReward], now: i64) -> Vec<pb::Reward> {
    rewards
        .iter()
        .map(|r| to_reward(order, r, false, now))
        .collect()
}

/// A new member, with the welcome bonus it was given.
pub fn enrolled(
    program_id: &str,
    view: &MemberView,
    welcome: Option<&Money>,
) -> pb::EnrollMemberResponse {
    let rewards = welcome
        .map(|m| pb::Reward {
            reward_id: format!("welcome:{program_id}"),
            kind: pb::RewardKind::Welcome as i32,
            amount: Some(wire(m.minor(), m.code())),
            status: pb::RewardStatus::Available as i32,
            ..Default::default()
        })
        .into_iter()
        .collect();
    pb::EnrollMemberResponse {
        member: Some(to_member(program_id, view)),
        rewards,
    }
}

/// What a purchase would earn.
pub fn previewed(order: &str, done: &Recorded, now: i64) -> pb::PreviewPurchaseResponse {
    pb::PreviewPurchaseResponse {
        program_version: u32::try_from(done.program_version).unwrap_or_default(),
        rewards: done
            .rewards
            .iter()
            .map(|r| to_reward(order, r, true, now))
            .collect(),
        skipped: done.skipped.iter().map(to_explanation).collect(),
    }
}

/// A recorded purchase.
pub fn recorded(order: &str, done: &Recorded, now: i64) -> pb::RecordPurchaseResponse {
    pb::RecordPurchaseResponse {
        purchase_id: order.to_owned(),
        program_version: u32::try_from(done.program_version).unwrap_or_default(),
        rewards: rewards(order, &done.rewards, now),
        skipped: done.skipped.iter().map(to_explanation).collect(),
        flags: done.flags.iter().map(|f| fraud_flag(*f) as i32).collect(),
        held_for_review: done.held,
    }
}

/// A recorded return.
pub fn returned(order: &str, done: &Returned, now: i64) -> pb::RecordReturnResponse {
    pb::RecordReturnResponse {
        rewards: rewards(order, &done.rewards, now),
        reversed: done
            .reversed
            .iter()
            .map(|(asset, minor)| wire(*minor, asset))
            .collect(),
        not_reversed: vec![],
        explanations: done.explanations.iter().map(to_explanation).collect(),
    }
}

/// A points conversion.
pub fn converted(done: &Converted) -> pb::ConvertPointsResponse {
    pb::ConvertPointsResponse {
        points_spent: Some(wire(done.points, "PTS")),
        credited: Some(done.value.to_wire()),
        transaction_id: done.transaction_id.clone(),
    }
}

pub(super) fn rate(d: Option<Decimal>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// A program report.
pub fn report(r: &ProgramReport) -> pb::GetProgramReportResponse {
    let f = &r.figures;
    let money = |minor: i64| Some(wire(minor, &r.currency));
    let totals = r
        .totals
        .iter()
        .map(|t| {
            let of = |m: Option<i64>| m.map(|m| wire(m, &t.asset));
            pb::AssetTotals {
                asset: t.asset.clone(),
                issued: of(t.issued),
                reversed: of(t.reversed),
                redeemed: of(t.redeemed),
                expired: of(t.expired),
                pending: of(t.pending),
                available: of(t.available),
                liability: of(t.liability),
                redemption_rate: rate(t.redemption_rate),
                breakage_rate: rate(t.breakage_rate),
                liability_aging: t
                    .aging
                    .iter()
                    .map(|(from_days, to_days, outstanding)| pb::LiabilityAge {
                        from_days: *from_days,
                        to_days: *to_days,
                        outstanding: of(Some(*outstanding)),
                    })
                    .collect(),
            }
        })
        .collect();
    // In the enum's order: online, store, app.
    let mut channels: Vec<pb::ChannelFigures> = r
        .channels
        .iter()
        .map(
            |(channel, purchases, members, revenue)| pb::ChannelFigures {
                channel: channel_of(channel) as i32,
                purchases: u64::try_from(*purchases).unwrap_or_default(),
                members: u64::try_from(*members).unwrap_or_default(),
                revenue: money(*revenue),
            },
        )
        .collect();
    channels.sort_by_key(|c| c.channel);
    let per_member = |total: i64, members: i64| (members > 0).then(|| total / members);
    let shoppers = |(customers, purchases, revenue): repo::Spent| pb::Shoppers {
        customers: u64::try_from(customers).unwrap_or_default(),
        purchases: u64::try_from(purchases).unwrap_or_default(),
        revenue: money(revenue),
        spend_per_customer: per_member(revenue, customers).and_then(money),
        average_order: per_member(revenue, purchases).and_then(money),
        purchases_per_customer: rate((customers > 0).then(|| {
            (Decimal::from(purchases) / Decimal::from(customers))
                .round_dp(4)
                .normalize()
        })),
    };
    let tier_values = r
        .tier_values
        .iter()
        .map(|v| pb::TierValue {
            tier_id: v.tier.clone(),
            members: u64::try_from(v.members).unwrap_or_default(),
            purchases: u64::try_from(v.purchases).unwrap_or_default(),
            revenue: money(v.revenue),
            rewards_cost: money(v.cost),
            lifetime_value: per_member(v.revenue - v.cost, v.members).and_then(money),
            revenue_per_member: per_member(v.revenue, v.members).and_then(money),
        })
        .collect();
    pb::GetProgramReportResponse {
        members_enrolled: u64::try_from(f.enrolled).unwrap_or_default(),
        active_members: u64::try_from(f.active).unwrap_or_default(),
        purchases: u64::try_from(f.purchases).unwrap_or_default(),
        revenue: money(f.revenue),
        totals,
        retention_rate: rate(r.retention_rate),
        roi: rate(r.roi),
        average_order_value: r.average_order.and_then(money),
        average_order_value_before_enrolment: r.average_order_before.and_then(money),
        omnichannel_members: u64::try_from(r.omnichannel).unwrap_or_default(),
        omnichannel_share: rate(r.omnichannel_share),
        repeat_rate: rate(r.repeat_rate),
        repeat_within_days: r.repeat_within_days,
        channels,
        tier_values,
        members: Some(shoppers(r.shoppers.0)),
        guests: Some(shoppers(r.shoppers.1)),
        cohorts: r
            .cohorts
            .iter()
            .map(|c| pb::Cohort {
                month: c.month.clone(),
                enrolled: u64::try_from(c.enrolled).unwrap_or_default(),
                retention: c
                    .retention
                    .iter()
                    .map(|(k, n, share)| pb::Retention {
                        months_after: *k,
                        buying: u64::try_from(*n).unwrap_or_default(),
                        share: rate(*share),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// A stored channel name ("online") on the wire.
fn channel_of(name: &str) -> boomerang_proto::common::v1::Channel {
    use boomerang_proto::common::v1::Channel;
    match name {
        "online" => Channel::Online,
        "store" => Channel::Store,
        "app" => Channel::App,
        _ => Channel::Unspecified,
    }
}

/// The tax report (its lines already in channel order, then store).
pub fn tax_report(r: &TaxReport) -> pb::GetTaxReportResponse {
    let line = |l: &TaxLine| pb::TaxLine {
        channel: channel_of(&l.channel) as i32,
        store_id: l.store.clone(),
        purchases: u64::try_from(l.purchases).unwrap_or_default(),
        revenue: Some(wire(l.revenue, &r.currency)),
        cashback: Some(wire(l.cashback, &r.currency)),
        taxable_base: Some(wire(l.taxable_base(), &r.currency)),
        other_rewards: l.other.iter().map(|(a, n)| wire(*n, a)).collect(),
    };
    pb::GetTaxReportResponse {
        lines: r.lines.iter().map(line).collect(),
        total: Some(line(&r.total)),
    }
}
