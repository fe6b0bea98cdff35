//! What a stored purchase sends later (its rewards' credits, the referral
//! notice) and what it tells event watchers.
use std::collections::BTreeMap;

use boomerang_common::{
    db::Conn, error::AppError, money::wire, tenant::TenantId, time::to_timestamp,
};
use boomerang_proto::{
    accrual::v1 as pb, campaign::v1 as cpb, referral::v1 as rpb, wallet::v1 as wpb,
};

use super::{PurchaseInput, RecordedReward};
use crate::{
    accrual::{
        Accrual,
        effects::Effects,
        members::points_expiry,
        outbound::{self, ConfirmThenCredit, Outbound, ReferralPurchase, RewardRef, VoucherIssue},
        program_ref,
    },
    domain::{
        fraud::Flag,
        program::Program,
        rewards::{Effect, Kind, Offer, Reward},
        tax,
    },
    repo::{self, RewardRow},
};

/// A purchase being stored: what its rewards are credited under.
pub(super) struct Storing<'a> {
    /// The purchase.
    pub p: &'a PurchaseInput,
    /// Program version.
    pub version: i64,
    /// That version.
    pub program: &'a Program,
    /// When its rewards become available.
    pub release_at_us: Option<i64>,
    /// Held back for review: pending until approved.
    pub held: bool,
    /// Now.
    pub now: i64,
}

/// What watchers hear of a stored purchase.
#[derive(Clone, Copy)]
pub(super) struct Announcement<'a> {
    /// The purchase.
    pub p: &'a PurchaseInput,
    /// The program currency.
    pub currency: &'a str,
    /// Its eligible amount.
    pub eligible: i64,
    /// Fraud flags raised, with their reasons.
    pub flagged: &'a [(Flag, String)],
    /// Rewards held back for review.
    pub held: bool,
    /// Its rewards.
    pub rewards: &'a [RecordedReward],
}

/// A purchase as referral-svc hears of it.
pub(in crate::accrual) struct Sale<'a> {
    /// Program.
    pub program_id: &'a str,
    /// Order.
    pub order: &'a str,
    /// Buyer.
    pub customer: &'a str,
    /// When it happened.
    pub occurred_at_us: i64,
}

impl Accrual {
    /// Stores each reward, numbered by its place among the computed ones, and
    /// sends its credit; a reward a period cap cut to nothing is explained
    /// in skipped and not stored.
    pub(super) async fn store_rewards(
        &self,
        conn: &mut Conn,
        fx: &mut Effects,
        tenant: &TenantId,
        s: &Storing<'_>,
        rewards: Vec<Reward>,
        reservations: &BTreeMap<usize, String>,
    ) -> Result<Vec<RecordedReward>, AppError> {
        let rows: Vec<RewardRow> = rewards
            .into_iter()
            .enumerate()
            .filter(|(_, reward)| reward.amount != 0)
            .map(|(i, reward)| RewardRow {
                no: i64::try_from(i).unwrap_or_default(),
                reward,
                reversed: 0,
                reservation_id: reservations.get(&i).cloned().unwrap_or_default(),
                release_at: s.release_at_us.unwrap_or(s.now),
            })
            .collect();
        let (program, order) = (&s.p.program_id, &s.p.order_id);
        let backend = self.db().backend();
        repo::insert_rewards(conn, backend, tenant.as_str(), program, order, &rows).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                if let Some(credit) = reward_credit(s, &row) {
                    fx.send(credit);
                }
                RecordedReward {
                    no: row.no,
                    reward: row.reward,
                    reversed: 0,
                    release_at_us: s.release_at_us,
                    held: s.held,
                }
            })
            .collect())
    }

    /// Hands a purchase of `eligible` to referral-svc through the outbox, keyed
    /// by program and order (once, whether from the record or its approval).
    pub(in crate::accrual) fn tell_referral(
        fx: &mut Effects,
        sale: &Sale<'_>,
        eligible: i64,
        currency: &str,
        release_at_us: Option<i64>,
    ) {
        if eligible <= 0 {
            return;
        }
        let notice = rpb::OnPurchaseRequest {
            referee_customer_id: sale.customer.into(),
            order_id: RewardRef::order_reference(sale.program_id, sale.order),
            order_amount: Some(wire(eligible, currency)),
            occurred_at: Some(to_timestamp(sale.occurred_at_us)),
            release_at: release_at_us.map(to_timestamp),
            ..Default::default()
        };
        let message = Outbound::ReferralPurchase(ReferralPurchase {
            program: sale.program_id.into(),
            order: sale.order.into(),
            notice,
        });
        fx.send(message);
    }

    /// The events of a stored purchase: recorded, flagged, and a pending reward each.
    pub(super) fn announce(fx: &mut Effects, a: &Announcement<'_>) {
        let Announcement {
            p,
            currency,
            eligible,
            flagged,
            held,
            rewards,
        } = *a;
        let event = |r#type: pb::EventType| pb::WatchEventsResponse {
            r#type: r#type as i32,
            program_id: p.program_id.clone(),
            customer_id: p.customer.clone(),
            reference: p.order_id.clone(),
            ..Default::default()
        };
        let recorded = pb::WatchEventsResponse {
            amount: Some(wire(eligible, currency)),
            ..event(pb::EventType::PurchaseRecorded)
        };
        fx.tell(recorded);
        if !flagged.is_empty() {
            let reasons: Vec<&str> = flagged.iter().map(|(_, why)| why.as_str()).collect();
            let tail = if held {
                "; rewards held for review"
            } else {
                ""
            };
            let flagged_event = pb::WatchEventsResponse {
                message: format!("{}{tail}", reasons.join("; ")),
                ..event(pb::EventType::PurchaseFlagged)
            };
            fx.tell(flagged_event);
        }
        for r in rewards.iter().filter(|r| r.release_at_us.is_some()) {
            let pending = pb::WatchEventsResponse {
                amount: Some(wire(r.reward.amount, &r.reward.asset)),
                release_at: r.release_at_us.map(to_timestamp),
                ..event(pb::EventType::RewardPending)
            };
            fx.tell(pending);
        }
    }
}

/// The budget confirmation of a campaign reward.
fn confirmation(r: &RewardRow) -> Option<cpb::ConfirmBudgetRequest> {
    (!r.reservation_id.is_empty()).then(|| cpb::ConfirmBudgetRequest {
        reservation_id: r.reservation_id.clone(),
        amount: Some(wire(r.reward.amount, &r.reward.asset)),
        ..Default::default()
    })
}

/// The voucher a stored reward is, as a code assigned to the customer:
/// usable from the end of the return window (`release_at_us`, or at once if
/// its campaign says so), for its days, on a next order of at least its
/// minimum. Held for review, it is not issued until approved
/// (`after_review`), but its budget is confirmed when recorded.
pub(in crate::accrual) fn voucher_issue(
    sale: &Sale<'_>,
    release_at_us: Option<i64>,
    r: &RewardRow,
    (held, after_review): (bool, bool),
) -> Option<Outbound> {
    let reward = &r.reward;
    let of = RewardRef::new(sale.program_id, sale.order, r.no);
    let (campaign, min_next_order, at_once) = match &reward.offer {
        Some(Offer {
            campaign_id,
            effect:
                Effect::Voucher {
                    min_next_order,
                    usable_at_once,
                    ..
                },
            ..
        }) => (campaign_id.clone(), *min_next_order, *usable_at_once),
        other => (
            other
                .as_ref()
                .map(|o| o.campaign_id.clone())
                .unwrap_or_default(),
            None,
            false,
        ),
    };
    let from = if at_once {
        sale.occurred_at_us
    } else {
        release_at_us.unwrap_or(sale.occurred_at_us)
    };
    let days = i64::from(reward.valid_days.unwrap_or_default().max(1));
    let issue = cpb::IssueVoucherRequest {
        campaign_id: campaign,
        customer_id: sale.customer.into(),
        reference: of.credit_reference(),
        value: Some(wire(reward.amount, &reward.asset)),
        min_order: min_next_order.map(|m| wire(m, &reward.asset)),
        valid_from: Some(to_timestamp(from)),
        valid_until: Some(to_timestamp(from + days * 86_400_000_000)),
        ..Default::default()
    };
    let confirm = if after_review { None } else { confirmation(r) };
    if held && confirm.is_none() {
        return None;
    }
    Some(Outbound::VoucherIssue(VoucherIssue {
        reward: of,
        confirm,
        issue: (!held).then_some(issue),
        after_review,
    }))
}

/// The credit of a stored reward: at once, or, for a campaign
/// reward, once its budget is confirmed (a reservation that lapsed before
/// the relay got to it pays nothing). A voucher is a code, not a credit,
/// issued once its purchase is not held for review.
fn reward_credit(c: &Storing<'_>, r: &RewardRow) -> Option<Outbound> {
    let p = c.p;
    let reward = &r.reward;
    if reward.kind == Kind::VoucherCode {
        let sale = Sale {
            program_id: &p.program_id,
            order: &p.order_id,
            customer: &p.customer,
            occurred_at_us: p.occurred_at_us,
        };
        return voucher_issue(&sale, c.release_at_us, r, (c.held, false));
    }
    let from = c.release_at_us.unwrap_or(p.occurred_at_us);
    let expires_at = points_expiry(c.program, &reward.asset, from);
    let (kind, rule_version, funded_by) = match &reward.offer {
        Some(o) => (
            "campaign",
            format!("campaign:{}@{}", o.campaign_id, o.version),
            wpb::AccountRef {
                kind: wpb::AccountKind::Campaign as i32,
                id: o.campaign_id.clone(),
            },
        ),
        None => (
            "order",
            program_ref(&p.program_id, c.version),
            wpb::AccountRef {
                kind: wpb::AccountKind::Funding as i32,
                id: p.program_id.clone(),
            },
        ),
    };
    let of = RewardRef::new(&p.program_id, &p.order_id, r.no);
    let credit = wpb::CreditRequest {
        customer_id: p.customer.clone(),
        amount: Some(wire(reward.amount, &reward.asset)),
        funded_by: Some(funded_by),
        release_at: c.release_at_us.map(to_timestamp),
        expires_at: expires_at.map(to_timestamp),
        source: Some(wpb::Source {
            kind: kind.into(),
            reference: of.credit_reference(),
            rule_version,
            inputs: serde_json::json!({ "order": p.order_id, "reward": r.no }).to_string(),
        }),
        // Cashback is a price reduction of this purchase; points and
        // vouchers change no taxable base (the tax report says the same).
        tax_treatment: if tax::is_discount(&reward.asset, reward.kind.name(), &c.program.currency) {
            wpb::TaxTreatment::Discount
        } else {
            wpb::TaxTreatment::None
        } as i32,
        description: format!("reward for order {}", p.order_id),
        // Held for review: pending until ReviewPurchase approves it.
        hold_release: c.held,
        ..Default::default()
    };
    Some(match confirmation(r) {
        None => Outbound::Credit(outbound::RewardCredit { reward: of, credit }),
        Some(confirm) => Outbound::ConfirmThenCredit(ConfirmThenCredit {
            reward: of,
            confirm,
            credit,
        }),
    })
}
