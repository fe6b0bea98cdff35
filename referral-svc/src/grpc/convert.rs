//! Conversions between `boomerang.referral.v1` messages and the domain.
use boomerang_common::{
    error::{AppError, Violations},
    money::Sign,
    time::to_timestamp,
};
use boomerang_proto::{common::v1 as pc, referral::v1 as pb};
use rust_decimal::Decimal;

use crate::{
    domain::program::{Money, Program, ReferrerReward},
    repo::{CodeRow, ReferralRow},
};

/// A required id (`common::id`: 1-128 printable characters, no surrounding spaces).
pub fn id(v: &mut Violations, field: &str, value: &str) -> String {
    boomerang_common::id::field(v, field, value)
}

/// A positive amount in a known asset.
pub fn money(v: &mut Violations, field: &str, m: Option<&pc::Money>) -> Option<Money> {
    let amount = boomerang_common::money::field(v, field, m, Sign::Positive)?;
    // A bonus or reward is one wallet credit: never more than one may carry.
    if amount.minor() > boomerang_common::money::MAX_REQUEST_MINOR {
        let most = boomerang_common::money::text(
            boomerang_common::money::MAX_REQUEST_MINOR,
            amount.code(),
        );
        v.add(
            format!("{field}.amount"),
            format!("more than one credit may carry (at most {most})"),
        );
        return None;
    }
    Some(amount)
}

/// Validates a program.
pub fn program(p: Option<&pb::ReferralProgram>) -> Result<Program, AppError> {
    let p = p.cloned().unwrap_or_default();
    let mut v = Violations::new();
    let referee_bonus = money(&mut v, "program.referee_bonus", p.referee_bonus.as_ref());
    let referrer_reward = match p.referrer_reward.and_then(|r| r.kind) {
        Some(pb::referrer_reward::Kind::Percent(pct)) => {
            let percent = Decimal::from_str_exact(&pct)
                .ok()
                .filter(|d| *d > Decimal::ZERO && *d <= Decimal::from(100));
            if percent.is_none() {
                v.add(
                    "program.referrer_reward.percent",
                    "a percent above 0 and at most 100",
                );
            }
            // Stored as the decimal, not as written: "5.0" and "5" are one program.
            percent.map(|d| ReferrerReward::Percent {
                percent: d.normalize().to_string(),
            })
        }
        Some(pb::referrer_reward::Kind::Fixed(m)) => {
            money(&mut v, "program.referrer_reward.fixed", Some(&m))
                .map(|amount| ReferrerReward::Fixed { amount })
        }
        None => None,
    };
    if referee_bonus.is_none() && referrer_reward.is_none() {
        v.add(
            "program",
            "give a referee bonus, a referrer reward, or both",
        );
    }
    let min_order = money(
        &mut v,
        "program.min_order_amount",
        p.min_order_amount.as_ref(),
    );
    if p.attribution_window_days > 3_650 || p.period_days > 3_650 || p.reward_months > 120 {
        v.add("program", "windows of at most 10 years");
    }
    let trigger = v.known("program.referee_bonus_trigger", p.referee_bonus_trigger);
    v.check()?;
    Ok(Program {
        referee_bonus,
        bonus_on_enrolment: trigger == Some(pb::RefereeBonusTrigger::OnEnrolment),
        referrer_reward,
        max_rewarded_purchases: p.max_rewarded_purchases,
        reward_months: p.reward_months,
        min_order,
        attribution_window_days: p.attribution_window_days,
        max_referrals_per_period: p.max_referrals_per_period,
        period_days: if p.period_days == 0 {
            30
        } else {
            p.period_days
        },
    })
}

/// A program on the wire.
pub fn to_program(version: i64, published_at: i64, p: &Program) -> pb::ReferralProgram {
    pb::ReferralProgram {
        version: u32::try_from(version).unwrap_or_default(),
        referee_bonus: p.referee_bonus.as_ref().map(Money::to_wire),
        referee_bonus_trigger: (if p.bonus_on_enrolment {
            pb::RefereeBonusTrigger::OnEnrolment
        } else {
            pb::RefereeBonusTrigger::OnFirstPurchase
        }) as i32,
        referrer_reward: p.referrer_reward.as_ref().map(|r| pb::ReferrerReward {
            kind: Some(match r {
                ReferrerReward::Percent { percent } => {
                    pb::referrer_reward::Kind::Percent(percent.clone())
                }
                ReferrerReward::Fixed { amount } => {
                    pb::referrer_reward::Kind::Fixed(amount.to_wire())
                }
            }),
        }),
        max_rewarded_purchases: p.max_rewarded_purchases,
        reward_months: p.reward_months,
        min_order_amount: p.min_order.as_ref().map(Money::to_wire),
        attribution_window_days: p.attribution_window_days,
        max_referrals_per_period: p.max_referrals_per_period,
        period_days: p.period_days,
        published_at: Some(to_timestamp(published_at)),
    }
}

/// A code on the wire.
pub fn to_code(c: &CodeRow) -> pb::ReferralCode {
    pb::ReferralCode {
        code: c.code.clone(),
        referrer_customer_id: c.referrer_id.clone(),
        enabled: c.enabled,
        expires_at: c.expires_at.map(to_timestamp),
        created_at: Some(to_timestamp(c.created_at)),
    }
}

/// A refusal reason on the wire.
pub fn to_reason(r: &str) -> pb::RefusalReason {
    match r {
        "self_referral" => pb::RefusalReason::SelfReferral,
        "existing_customer" => pb::RefusalReason::ExistingCustomer,
        "already_attributed" => pb::RefusalReason::AlreadyAttributed,
        "velocity" => pb::RefusalReason::Velocity,
        "code_disabled" => pb::RefusalReason::CodeDisabled,
        "code_expired" => pb::RefusalReason::CodeExpired,
        "referrer_limit" => pb::RefusalReason::ReferrerLimit,
        _ => pb::RefusalReason::Unspecified,
    }
}

/// A referral on the wire, with what the referrer earned from it.
pub fn to_referral(r: &ReferralRow, purchases: u32, earned: Vec<pc::Money>) -> pb::Referral {
    pb::Referral {
        referral_id: format!("rf_{}", r.id),
        code: r.code.clone(),
        referrer_customer_id: r.referrer_id.clone(),
        referee_customer_id: r.referee_id.clone(),
        status: (match r.status.as_str() {
            "attributed" => pb::ReferralStatus::Attributed,
            "converted" => pb::ReferralStatus::Converted,
            _ => pb::ReferralStatus::Refused,
        }) as i32,
        refusal_reason: to_reason(&r.refusal) as i32,
        attributed_at: Some(to_timestamp(r.attributed_at)),
        rewarded_purchases: purchases,
        referrer_earned: earned,
        program_version: u32::try_from(r.program_version).unwrap_or_default(),
    }
}
