//! Domain to wire, for the handlers and for the answers accrual stores
//! (a checkout session's answer is stored so a replay answers byte for byte).
use boomerang_common::{money::wire, time::to_timestamp};
use boomerang_proto::{accrual::v1 as pb, common::v1 as pc};

use crate::{
    accrual::{
        RecordedReward,
        checkout::{Evaluation, Why},
    },
    domain::rewards::{Explanation, Kind},
};

/// An explanation on the wire.
pub fn to_explanation(e: &Explanation) -> pc::Explanation {
    pc::Explanation {
        rule: e.rule.clone(),
        source_ref: e.source_ref.clone(),
        description: e.description.clone(),
        base: e.base.as_ref().map(|(amount, asset)| pc::Money {
            amount: amount.clone(),
            asset: asset.clone(),
        }),
        rate: e.rate.clone(),
        unrounded: e.unrounded.clone(),
        result: e.result.as_ref().map(|(minor, asset)| wire(*minor, asset)),
        skipped: e.skipped,
        skip_reason: e.skip_reason.clone(),
    }
}

/// A reward on the wire; `now` decides pending or available.
pub fn to_reward(order: &str, r: &RecordedReward, preview: bool, now: i64) -> pb::Reward {
    let status = if preview {
        pb::RewardStatus::Preview
    } else if r.reversed >= r.reward.amount {
        pb::RewardStatus::Reversed
    } else if r.reversed > 0 {
        pb::RewardStatus::PartlyReversed
    } else if r.held {
        pb::RewardStatus::Held
    } else if r.release_at_us.is_some_and(|t| t > now) {
        pb::RewardStatus::Pending
    } else {
        pb::RewardStatus::Available
    };
    pb::Reward {
        reward_id: format!("{order}#{}", r.no),
        kind: (match r.reward.kind {
            Kind::Base => pb::RewardKind::Base,
            Kind::Campaign => pb::RewardKind::Campaign,
            Kind::Voucher | Kind::VoucherCode => pb::RewardKind::Voucher,
        }) as i32,
        amount: Some(wire(r.reward.amount - r.reversed, &r.reward.asset)),
        status: status as i32,
        release_at: r.release_at_us.filter(|_| !preview).map(to_timestamp),
        campaign_id: r
            .reward
            .offer
            .as_ref()
            .map(|o| o.campaign_id.clone())
            .unwrap_or_default(),
        campaign_version: r.reward.offer.as_ref().map_or(0, |o| o.version),
        explanations: r.reward.explanations.iter().map(to_explanation).collect(),
    }
}

/// A code's refusal on the wire.
fn refusal(w: Why) -> i32 {
    let r = match w {
        Why::Unknown => pb::CodeRefusal::Unknown,
        Why::Expired => pb::CodeRefusal::Expired,
        Why::NotYetValid => pb::CodeRefusal::NotYetValid,
        Why::UsedUp => pb::CodeRefusal::UsedUp,
        Why::UsedUpByCustomer => pb::CodeRefusal::UsedUpByCustomer,
        Why::NotYours => pb::CodeRefusal::NotYours,
        Why::BelowMinimum => pb::CodeRefusal::BelowMinimum,
        Why::NotCombinable => pb::CodeRefusal::NotCombinable,
        Why::ConditionsNotMet => pb::CodeRefusal::ConditionsNotMet,
        Why::CampaignNotRunning => pb::CodeRefusal::CampaignNotRunning,
        Why::Duplicate => pb::CodeRefusal::Duplicate,
        Why::Voided => pb::CodeRefusal::Voided,
    };
    r as i32
}

/// An evaluated cart on the wire.
pub fn evaluated(e: &Evaluation, now: i64) -> pb::EvaluateCartResponse {
    let cur = |minor: i64| Some(wire(minor, &e.currency));
    let pts = |n: i64| Some(wire(n, "PTS"));
    pb::EvaluateCartResponse {
        lines: e
            .lines
            .iter()
            .map(|l| {
                let off: i64 = l.discounts.iter().map(|(_, d)| d).sum();
                pb::LineEffect {
                    line_id: l.line_id.clone(),
                    subtotal: cur(l.subtotal),
                    discounts: l
                        .discounts
                        .iter()
                        .map(|(code, d)| pb::LineDiscount {
                            code: code.clone(),
                            amount: cur(*d),
                        })
                        .collect(),
                    total: cur(l.subtotal - off),
                }
            })
            .collect(),
        codes: e
            .codes
            .iter()
            .map(|c| pb::CodeVerdict {
                code: c.code.clone(),
                accepted: c.why.is_none(),
                refusal: c.why.map_or(0, refusal),
                message: c.message.clone(),
                campaign_id: c.campaign.clone(),
                discount: cur(c.discount),
            })
            .collect(),
        subtotal: cur(e.subtotal),
        discount: cur(e.discount),
        payment: Some(pb::Payment {
            points_available: pts(e.held.0),
            points_payable: pts(e.paid.points_payable),
            points_used: pts(e.paid.points_used),
            points_value: cur(e.paid.points_value),
            cashback_available: cur(e.held.1),
            cashback_payable: cur(e.paid.cashback_payable),
            cashback_used: cur(e.paid.cashback_used),
        }),
        to_pay: cur(e.to_pay),
        earn: e
            .earn
            .rewards
            .iter()
            .map(|r| to_reward("cart", r, true, now))
            .collect(),
        skipped: e.earn.skipped.iter().map(to_explanation).collect(),
    }
}
