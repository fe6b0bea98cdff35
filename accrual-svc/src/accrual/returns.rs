//! Returns: the order recomputed without the returned units, with the same
//! program and campaign versions; each reward takes back the difference
//! through the wallet (then gives its campaign budget back), and referral-svc
//! hears of the returned amount.
use std::collections::BTreeMap;

use boomerang_common::{
    db::Conn,
    error::AppError,
    money::{text, wire},
    tenant::TenantId,
};
use boomerang_proto::{
    accrual::v1 as pb, campaign::v1 as cpb, referral::v1 as rpb, wallet::v1 as wpb,
};
use tracing::instrument;

use super::{
    Accrual, RecordedReward,
    outbound::{OrderWorth, Outbound, ReferralReturn, ReverseThenRelease, RewardRef, VoucherVoid},
    program_ref,
    purchases::{HELD, REJECTED, recorded},
};
use crate::{
    domain::{
        program::Clawback,
        returns::{self, OverReturn},
        rewards::{self, Explanation, Kind, Offer, Reward},
    },
    repo::{self, RewardRow},
};

/// A return as asked.
#[derive(Clone, Debug)]
pub struct ReturnInput {
    /// Program.
    pub program_id: String,
    /// Order.
    pub order_id: String,
    /// Return id.
    pub return_id: String,
    /// Units per line id.
    pub lines: BTreeMap<String, u32>,
}

/// What a return did.
#[derive(Clone, Debug)]
pub struct Returned {
    /// Rewards after the return.
    pub rewards: Vec<RecordedReward>,
    /// Reversal asked of the wallet, per asset.
    pub reversed: BTreeMap<String, i64>,
    /// How the difference was computed.
    pub explanations: Vec<Explanation>,
}

impl From<OverReturn> for AppError {
    fn from(e: OverReturn) -> Self {
        AppError::Precondition(e.to_string())
    }
}

/// Why a reward is taken back: the source of the wallet reversal.
pub(super) struct Cause<'a> {
    /// Source kind ("return", "review_rejected").
    pub kind: &'a str,
    /// Its reference (the return id, the order).
    pub reference: &'a str,
    /// The program version that priced the order.
    pub rule_version: &'a str,
    /// The return, if one: its id keys the reversal.
    pub return_id: &'a str,
    /// What the order is worth after it (eligible amount, minor units, and
    /// currency), for the revenue its campaigns are credited with.
    pub order_left: Option<(i64, &'a str)>,
}

/// The message that takes `amount` of reward `row` back through the wallet
/// under `policy`, then gives its campaign budget back for what the wallet
/// actually took. A voucher is voided whole, unless it was used.
pub(super) fn take_back(
    reward: RewardRef,
    customer: &str,
    row: &RewardRow,
    amount: i64,
    policy: Clawback,
    cause: &Cause<'_>,
) -> Outbound {
    let money = || Some(wire(amount, &row.reward.asset));
    let release = (!row.reservation_id.is_empty()).then(|| cpb::ReleaseBudgetRequest {
        reservation_id: row.reservation_id.clone(),
        amount: money(),
        order_amount: cause
            .order_left
            .map(|(minor, currency)| wire(minor, currency)),
        ..Default::default()
    });
    if row.reward.kind == Kind::VoucherCode {
        let void = cpb::VoidVoucherRequest {
            reference: reward.credit_reference(),
            ..Default::default()
        };
        return Outbound::VoucherVoid(VoucherVoid {
            reward,
            return_id: cause.return_id.into(),
            void,
            release,
        });
    }
    let reverse = wpb::ReverseRequest {
        customer_id: customer.into(),
        source_reference: reward.credit_reference(),
        amount: money(),
        clawback_policy: clawback(policy) as i32,
        source: Some(wpb::Source {
            kind: cause.kind.into(),
            reference: cause.reference.into(),
            rule_version: cause.rule_version.into(),
            inputs: serde_json::json!({ "order": reward.order, "reward": reward.no }).to_string(),
        }),
        ..Default::default()
    };
    Outbound::ReverseThenRelease(ReverseThenRelease {
        reward,
        return_id: cause.return_id.into(),
        reverse,
        release,
    })
}

fn clawback(c: Clawback) -> boomerang_proto::common::v1::ClawbackPolicy {
    use boomerang_proto::common::v1::ClawbackPolicy as P;
    match c {
        Clawback::OnlyPending => P::OnlyPending,
        Clawback::WithinBalance => P::WithinBalance,
        Clawback::AllowNegative => P::AllowNegative,
    }
}

impl Accrual {
    /// Records a return in the caller's transaction: recomputes the order
    /// without the returned units with the same program and campaign versions,
    /// and takes back the difference. Returns of one order serialise on the
    /// purchase row; a return id seen before answers as it did. Long because
    /// it is the return's transaction read top-down, one call a step.
    #[instrument(name = "boomerang.accrual.returns.record", skip_all,
                 fields(tenant = %tenant, order = %r.order_id, return_id = %r.return_id), err(level = "info"))]
    pub async fn record_return(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        r: ReturnInput,
    ) -> Result<Returned, AppError> {
        let t = tenant.as_str();
        let (program_id, order) = (r.program_id.as_str(), r.order_id.as_str());
        let purchase = repo::get_purchase(conn, self.db(), t, program_id, order)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no order {order}")))?;
        let rows = repo::rewards(conn, t, program_id, order).await?;
        let earlier = repo::returned(conn, t, program_id, order).await?;
        if let Some((_, lines)) = earlier.iter().find(|(id, _)| *id == r.return_id) {
            if *lines != r.lines {
                return Err(AppError::AlreadyExists(format!(
                    "return {} of order {order} was recorded with other lines",
                    r.return_id
                )));
            }
            return Ok(Returned {
                rewards: recorded(rows, purchase.review == HELD),
                reversed: BTreeMap::new(),
                explanations: vec![],
            });
        }
        let kept_before = returns::kept_after(&purchase.lines, earlier.iter().map(|(_, l)| l))?;
        if let Some(id) = r
            .lines
            .keys()
            .find(|id| !purchase.lines.iter().any(|l| &l.line_id == *id))
        {
            return Err(AppError::invalid(
                "lines",
                format!("order {order} has no line {id}"),
            ));
        }
        let mut kept = kept_before.clone();
        returns::subtract(&purchase.lines, &mut kept, &r.lines)?;
        if kept.iter().all(|&k| k == 0) {
            self.give_back_codes_of(conn, tenant, program_id, order)
                .await?;
        }
        let (_, program, _) =
            repo::program(conn, t, program_id, Some(purchase.program_version)).await?;
        let offers: Vec<Offer> = rows.iter().filter_map(|x| x.reward.offer.clone()).collect();
        let pref = program_ref(program_id, purchase.program_version);
        let tier = purchase
            .tier
            .as_ref()
            .map(|(a, b)| (a.as_str(), b.as_str()));
        let after = rewards::compute(&program, &pref, &purchase.lines, &kept, tier, &offers);
        let mut reversed: BTreeMap<String, i64> = BTreeMap::new();
        let mut explanations = Vec::new();
        let cause = Cause {
            kind: "return",
            reference: &r.return_id,
            rule_version: &pref,
            return_id: &r.return_id,
            order_left: Some((after.eligible, &program.currency)),
        };
        let mut touched = Vec::new();
        for TakeBack { row, amount, why } in take_backs(&rows, &after.rewards, &pref) {
            touched.push(row.no);
            explanations.push(why);
            let reward = RewardRef::new(program_id, order, row.no);
            let customer = &purchase.customer_id;
            let message = take_back(reward, customer, row, amount, program.clawback, &cause);
            self.enqueue(conn, tenant, message).await?;
            repo::add_reversed(conn, t, program_id, order, row.no, amount).await?;
            *reversed.entry(row.reward.asset.clone()).or_default() += amount;
        }
        // A campaign whose reward the return left whole still hears what the
        // order is worth now (its attributed revenue is net of returns).
        for row in rows
            .iter()
            .filter(|row| !row.reservation_id.is_empty() && !touched.contains(&row.no))
        {
            let worth = OrderWorth {
                reward: RewardRef::new(program_id, order, row.no),
                return_id: r.return_id.clone(),
                release: cpb::ReleaseBudgetRequest {
                    reservation_id: row.reservation_id.clone(),
                    amount: Some(wire(0, &row.reward.asset)),
                    order_amount: Some(wire(after.eligible, &program.currency)),
                    ..Default::default()
                },
            };
            self.enqueue(conn, tenant, Outbound::OrderWorth(worth))
                .await?;
        }
        let now = self.clock().now();
        repo::insert_return(conn, t, program_id, order, &r.return_id, &r.lines, now).await?;
        let before =
            rewards::compute(&program, &pref, &purchase.lines, &kept_before, tier, &[]).eligible;
        // referral-svc hears of a held or rejected purchase only once approved.
        let told = purchase.review != HELD && purchase.review != REJECTED;
        if told && before > after.eligible {
            let returned = wire(before - after.eligible, &program.currency);
            self.tell_referral_return(conn, tenant, &r, &purchase.customer_id, returned)
                .await?;
        }
        repo::set_eligible(conn, t, program_id, order, after.eligible).await?;
        let returned = pb::WatchEventsResponse {
            r#type: pb::EventType::ReturnRecorded as i32,
            program_id: program_id.into(),
            customer_id: purchase.customer_id.clone(),
            reference: r.return_id.clone(),
            message: format!("return {} of order {order}", r.return_id),
            ..Default::default()
        };
        self.emit(conn, tenant, returned).await?;
        let rows = repo::rewards(conn, t, program_id, order).await?;
        Ok(Returned {
            rewards: recorded(rows, purchase.review == HELD),
            reversed,
            explanations,
        })
    }
    /// Hands the amount a return took off a purchase to referral-svc through
    /// the outbox, keyed by program, order and return.
    async fn tell_referral_return(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        r: &ReturnInput,
        customer: &str,
        returned: boomerang_proto::common::v1::Money,
    ) -> Result<(), AppError> {
        let notice = rpb::OnReturnRequest {
            referee_customer_id: customer.into(),
            order_id: RewardRef::order_reference(&r.program_id, &r.order_id),
            return_id: r.return_id.clone(),
            returned_amount: Some(returned),
            ..Default::default()
        };
        let message = Outbound::ReferralReturn(ReferralReturn {
            program: r.program_id.clone(),
            order: r.order_id.clone(),
            return_id: r.return_id.clone(),
            notice,
        });
        self.enqueue(conn, tenant, message).await?;
        Ok(())
    }
}

/// What one reward takes back after a return.
struct TakeBack<'a> {
    row: &'a RewardRow,
    amount: i64,
    why: Explanation,
}

/// What each stored reward takes back, given what the kept units earn now
/// (`after`): the reward matched by kind, asset and campaign, kept in
/// proportion when its budget cut it, never below what was already reversed.
fn take_backs<'a>(rows: &'a [RewardRow], after: &[Reward], pref: &str) -> Vec<TakeBack<'a>> {
    let mut out = Vec::new();
    for row in rows {
        let credited = row.reward.amount;
        let (now_earned, amount) = returns::taken_back(&row.reward, row.reversed, after);
        if amount == 0 {
            continue;
        }
        let why = Explanation {
            rule: "return".into(),
            source_ref: pref.to_owned(),
            description: format!(
                "order now earns {} instead of {}: {} taken back",
                text(now_earned, &row.reward.asset),
                text(credited - row.reversed, &row.reward.asset),
                text(amount, &row.reward.asset),
            ),
            result: Some((now_earned, row.reward.asset.clone())),
            ..Explanation::default()
        };
        out.push(TakeBack { row, amount, why });
    }
    out
}
