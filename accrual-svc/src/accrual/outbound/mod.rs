//! Everything accrual-svc delivers after its transaction commits: one typed
//! enum, each message with its topic, its deterministic idempotency key and
//! its encoding. `Accrual::write_effects` is the only way to write accrual's
//! outbox; the relay decodes a job back into an [`Outbound`] and matches on it.
//!
//! Encodings, per topic: a credit, a budget confirmation and the referral
//! notices keep the queues and payloads they always had (the wallet or
//! referral request itself; a confirmation then its credit), so replicas of
//! the release before, still running during a rolling update, deliver and
//! find them as they did. A reversal and a release carry their reward with
//! them ([`RewardRef`]) as one protobuf message on `*.v2` queues; the old
//! queues of those two are still read ([`Topic::Legacy`]), so an upgrade
//! drains what is in flight.
use boomerang_common::{idempotency::derived_key, tenant::TenantId};
use boomerang_proto::{campaign::v1 as cpb, referral::v1 as rpb, wallet::v1 as wpb};
use prost::Message as _;

/// A reward of an order: its program, its order and its number in the order.
/// It travels with every message about that reward, so the relay can tell a
/// credit still on its way from one never made.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct RewardRef {
    /// Program.
    #[prost(string, tag = "1")]
    pub program: String,
    /// Order.
    #[prost(string, tag = "2")]
    pub order: String,
    /// Reward number within the order.
    #[prost(int64, tag = "3")]
    pub no: i64,
}

impl RewardRef {
    /// The reward `no` of `order` in `program`.
    pub fn new(program: &str, order: &str, no: i64) -> Self {
        Self {
            program: program.into(),
            order: order.into(),
            no,
        }
    }

    /// The wallet source reference of its credit: program, order and number,
    /// so orders of two programs never touch each other's credits (an id
    /// however long the program and order ids are).
    pub fn credit_reference(&self) -> String {
        boomerang_common::id::reference(format!("{}:{}#{}", self.program, self.order, self.no))
    }

    /// The order as referral-svc knows it: program and order (an id).
    pub fn order_reference(program: &str, order: &str) -> String {
        boomerang_common::id::reference(format!("{program}:{order}"))
    }

    /// The keys of the jobs that issue it as a voucher: when recorded, or
    /// when approved after a review.
    pub fn voucher_keys(&self, tenant: &TenantId) -> [String; 2] {
        let no = self.no.to_string();
        [
            key(tenant, &[&self.program, &self.order, "voucher", &no]),
            key(
                tenant,
                &[&self.program, &self.order, "voucher-approved", &no],
            ),
        ]
    }

    /// The keys of the jobs that credit it: directly, or after its budget is confirmed.
    pub fn credit_keys(&self, tenant: &TenantId) -> [String; 2] {
        let no = self.no.to_string();
        [
            key(tenant, &[&self.program, &self.order, &no]),
            key(tenant, &[&self.program, &self.order, "confirm", &no]),
        ]
    }
}

/// A reward credited without a campaign budget to confirm first.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RewardCredit {
    /// The reward.
    #[prost(message, required, tag = "1")]
    pub reward: RewardRef,
    /// The wallet credit (its idempotency key is set on delivery).
    #[prost(message, required, tag = "2")]
    pub credit: wpb::CreditRequest,
}

/// Why a bonus is paid.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Occasion {
    /// "welcome" or "birthday".
    #[prost(string, tag = "1")]
    pub kind: String,
    /// The birthday's year; empty for a welcome bonus.
    #[prost(string, tag = "2")]
    pub year: String,
}

/// A welcome or birthday bonus.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BonusCredit {
    /// Program.
    #[prost(string, tag = "1")]
    pub program: String,
    /// Member.
    #[prost(string, tag = "2")]
    pub customer: String,
    /// Welcome, or which birthday.
    #[prost(message, required, tag = "3")]
    pub occasion: Occasion,
    /// The wallet credit.
    #[prost(message, required, tag = "4")]
    pub credit: wpb::CreditRequest,
}

/// A campaign reward: its budget reservation is confirmed, then it is
/// credited; a reservation that lapsed first pays nothing.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfirmThenCredit {
    /// The reward.
    #[prost(message, required, tag = "1")]
    pub reward: RewardRef,
    /// The confirmation asked of campaign-svc.
    #[prost(message, required, tag = "2")]
    pub confirm: cpb::ConfirmBudgetRequest,
    /// The wallet credit once confirmed.
    #[prost(message, required, tag = "3")]
    pub credit: wpb::CreditRequest,
}

/// Takes (part of) a reward back, then gives its campaign budget back for
/// what the wallet actually took.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReverseThenRelease {
    /// The reward.
    #[prost(message, required, tag = "1")]
    pub reward: RewardRef,
    /// The return it follows; empty when a review rejected the purchase.
    #[prost(string, tag = "2")]
    pub return_id: String,
    /// The wallet reversal.
    #[prost(message, required, tag = "3")]
    pub reverse: wpb::ReverseRequest,
    /// The budget to give back, for a campaign reward.
    #[prost(message, optional, tag = "4")]
    pub release: Option<cpb::ReleaseBudgetRequest>,
}

/// Releases a credit held for review, on its schedule.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Release {
    /// The reward.
    #[prost(message, required, tag = "1")]
    pub reward: RewardRef,
    /// The wallet release.
    #[prost(message, required, tag = "2")]
    pub release: wpb::ReleaseCreditRequest,
}

/// A referee's purchase, for referral-svc.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReferralPurchase {
    /// Program.
    #[prost(string, tag = "1")]
    pub program: String,
    /// Order.
    #[prost(string, tag = "2")]
    pub order: String,
    /// The notice.
    #[prost(message, required, tag = "3")]
    pub notice: rpb::OnPurchaseRequest,
}

/// A referee's return, for referral-svc.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReferralReturn {
    /// Program.
    #[prost(string, tag = "1")]
    pub program: String,
    /// Order.
    #[prost(string, tag = "2")]
    pub order: String,
    /// Return.
    #[prost(string, tag = "3")]
    pub return_id: String,
    /// The notice.
    #[prost(message, required, tag = "4")]
    pub notice: rpb::OnReturnRequest,
}

/// A next-purchase voucher issued as a code assigned to its customer, once
/// its campaign budget is confirmed (a reservation that lapsed first issues
/// nothing). A purchase held for review confirms the budget when recorded
/// (the reservation would lapse while a reviewer decides) and issues the
/// code once approved, in a second message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VoucherIssue {
    /// The reward.
    #[prost(message, required, tag = "1")]
    pub reward: RewardRef,
    /// The budget confirmation, for a budgeted campaign.
    #[prost(message, optional, tag = "2")]
    pub confirm: Option<cpb::ConfirmBudgetRequest>,
    /// The voucher; absent while its purchase is held for review.
    #[prost(message, optional, tag = "3")]
    pub issue: Option<cpb::IssueVoucherRequest>,
    /// Sent by the approval of a held purchase.
    #[prost(bool, tag = "4")]
    pub after_review: bool,
}

/// A voucher voided (its order returned below the threshold, or rejected in
/// review), then its budget given back if it was voided unused.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VoucherVoid {
    /// The reward.
    #[prost(message, required, tag = "1")]
    pub reward: RewardRef,
    /// The return; empty when a review rejected the purchase.
    #[prost(string, tag = "2")]
    pub return_id: String,
    /// The void.
    #[prost(message, required, tag = "3")]
    pub void: cpb::VoidVoucherRequest,
    /// The budget to give back, for a budgeted campaign.
    #[prost(message, optional, tag = "4")]
    pub release: Option<cpb::ReleaseBudgetRequest>,
}

/// One step of a checkout session's end: a wallet hold captured or given
/// back, a code's held use redeemed or given back.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct CheckoutStep {
    /// The session.
    #[prost(string, tag = "1")]
    pub session: String,
    /// What to do.
    #[prost(oneof = "Step", tags = "2, 3, 4, 5, 6")]
    pub step: Option<Step>,
}

/// What a [`CheckoutStep`] does, and to which hold or redemption.
#[derive(Clone, PartialEq, Eq, prost::Oneof)]
pub enum Step {
    /// Spend a wallet hold (the session was confirmed).
    #[prost(string, tag = "2")]
    Capture(String),
    /// Release a wallet hold (cancelled, lapsed or refused).
    #[prost(string, tag = "3")]
    Void(String),
    /// Redeem a code's held use (confirmed).
    #[prost(string, tag = "4")]
    Redeem(String),
    /// Give a code's held use back (cancelled, lapsed or refused).
    #[prost(string, tag = "5")]
    GiveBack(String),
    /// Give a code's redeemed use back (its order returned in full), once
    /// its redemption was delivered.
    #[prost(string, tag = "6")]
    Returned(String),
}

impl Step {
    /// Its name in keys, and the hold or redemption it acts on.
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Capture(h) => ("capture", h),
            Self::Void(h) => ("void", h),
            Self::Redeem(r) => ("redeem", r),
            Self::GiveBack(r) => ("give-back", r),
            Self::Returned(r) => ("returned", r),
        }
    }
}

/// Everything accrual-svc delivers after its transaction commits.
#[derive(Clone, Debug, PartialEq)]
pub enum Outbound {
    /// A reward credit.
    Credit(RewardCredit),
    /// A welcome or birthday bonus.
    Bonus(BonusCredit),
    /// A campaign reward: budget first, then the credit.
    ConfirmThenCredit(ConfirmThenCredit),
    /// A reversal, then the budget it frees.
    ReverseThenRelease(ReverseThenRelease),
    /// A held credit released after review.
    Release(Release),
    /// A purchase for referral-svc.
    ReferralPurchase(ReferralPurchase),
    /// A return for referral-svc.
    ReferralReturn(ReferralReturn),
    /// A checkout session's hold captured, redeemed or given back.
    Checkout(CheckoutStep),
    /// A voucher issued as a code.
    VoucherIssue(VoucherIssue),
    /// A voucher voided.
    VoucherVoid(VoucherVoid),
    /// What an order is worth after a return that took none of a campaign
    /// reward back, for the revenue its campaign is credited with.
    OrderWorth(OrderWorth),
}

/// The order's worth after a return, told to a campaign whose reward it
/// left whole: a `ReleaseBudgetRequest` giving 0 back, with `order_amount`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrderWorth {
    /// The reward whose reservation it is.
    #[prost(message, required, tag = "1")]
    pub reward: RewardRef,
    /// The return.
    #[prost(string, tag = "2")]
    pub return_id: String,
    /// The release of nothing, with the order's amount left.
    #[prost(message, required, tag = "3")]
    pub release: cpb::ReleaseBudgetRequest,
}

/// A queue the relay delivers: one per upstream effect, so a slow wallet
/// never holds back referral notices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// Wallet credits (rewards and bonuses): the `CreditRequest`.
    WalletCredit,
    /// Campaign budget confirmations, then the credit: both requests,
    /// length-delimited.
    BudgetConfirm,
    /// Wallet reversals, then the budget given back: a [`ReverseThenRelease`].
    WalletReverse,
    /// Wallet releases of held credits: a [`Release`].
    WalletRelease,
    /// Purchases for referral-svc: the `OnPurchaseRequest`.
    ReferralPurchase,
    /// Returns for referral-svc: the `OnReturnRequest`.
    ReferralReturn,
    /// Checkout sessions' holds: a [`CheckoutStep`].
    Checkout,
    /// Vouchers issued: a [`VoucherIssue`].
    VoucherIssue,
    /// Vouchers voided: a [`VoucherVoid`].
    VoucherVoid,
    /// Orders' worth after returns, for campaign reports: an [`OrderWorth`].
    OrderWorth,
    /// Read only: a queue written before reversals and releases carried their reward.
    Legacy(LegacyTopic),
}

/// The queues of reversals and releases written before they carried their
/// reward, with their encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegacyTopic {
    /// `ReverseRequest` then an optional `ReleaseBudgetRequest`, length-delimited;
    /// the reward as JSON in the reversal's `source.inputs`.
    WalletReverse,
    /// `ReleaseCreditRequest` then a `Source` whose `inputs` hold the reward as JSON.
    WalletRelease,
}

impl Topic {
    /// Every topic the relay runs, the legacy ones included.
    pub const ALL: [Self; 12] = [
        Self::WalletCredit,
        Self::BudgetConfirm,
        Self::WalletReverse,
        Self::WalletRelease,
        Self::ReferralPurchase,
        Self::ReferralReturn,
        Self::Checkout,
        Self::VoucherIssue,
        Self::VoucherVoid,
        Self::OrderWorth,
        Self::Legacy(LegacyTopic::WalletReverse),
        Self::Legacy(LegacyTopic::WalletRelease),
    ];

    /// The queue's name in the jobs table.
    pub fn name(self) -> &'static str {
        match self {
            Self::WalletCredit => "accrual.wallet_credit",
            Self::BudgetConfirm => "accrual.budget_confirm",
            Self::WalletReverse => "accrual.wallet_reverse.v2",
            Self::WalletRelease => "accrual.wallet_release.v2",
            Self::ReferralPurchase => "accrual.referral_purchase",
            Self::ReferralReturn => "accrual.referral_return",
            Self::Checkout => "accrual.checkout",
            Self::VoucherIssue => "accrual.voucher_issue",
            Self::VoucherVoid => "accrual.voucher_void",
            Self::OrderWorth => "accrual.order_worth",
            Self::Legacy(LegacyTopic::WalletReverse) => "accrual.wallet_reverse",
            Self::Legacy(LegacyTopic::WalletRelease) => "accrual.wallet_release",
        }
    }

    /// The queues that may hold a reward's credit.
    pub fn credit_queues() -> [&'static str; 2] {
        [Self::WalletCredit.name(), Self::BudgetConfirm.name()]
    }
}

/// A deterministic idempotency key for an effect of accrual (at most 128 characters).
pub fn key(tenant: &TenantId, parts: &[&str]) -> String {
    let mut all = vec![tenant.as_str()];
    all.extend_from_slice(parts);
    derived_key("acc", &all)
}

impl Outbound {
    /// The queue it is delivered from.
    pub fn topic(&self) -> Topic {
        match self {
            Self::Credit(_) | Self::Bonus(_) => Topic::WalletCredit,
            Self::ConfirmThenCredit(_) => Topic::BudgetConfirm,
            Self::ReverseThenRelease(_) => Topic::WalletReverse,
            Self::Release(_) => Topic::WalletRelease,
            Self::ReferralPurchase(_) => Topic::ReferralPurchase,
            Self::ReferralReturn(_) => Topic::ReferralReturn,
            Self::Checkout(_) => Topic::Checkout,
            Self::VoucherIssue(_) => Topic::VoucherIssue,
            Self::VoucherVoid(_) => Topic::VoucherVoid,
            Self::OrderWorth(_) => Topic::OrderWorth,
        }
    }

    /// Its deterministic key: derived from the business fact (tenant, program,
    /// order, reward, return), so a retried request enqueues nothing twice and
    /// the receiver sees one idempotency key however often it is delivered.
    pub fn key(&self, tenant: &TenantId) -> String {
        match self {
            Self::Credit(m) => {
                let r = &m.reward;
                key(tenant, &[&r.program, &r.order, &r.no.to_string()])
            }
            Self::Bonus(m) if m.occasion.year.is_empty() => {
                key(tenant, &[&m.program, &m.customer, &m.occasion.kind])
            }
            Self::Bonus(m) => key(
                tenant,
                &[&m.program, &m.customer, &m.occasion.kind, &m.occasion.year],
            ),
            Self::ConfirmThenCredit(m) => {
                let r = &m.reward;
                key(
                    tenant,
                    &[&r.program, &r.order, "confirm", &r.no.to_string()],
                )
            }
            Self::ReverseThenRelease(m) if m.return_id.is_empty() => {
                let r = &m.reward;
                key(
                    tenant,
                    &[&r.program, &r.order, "rejected", &r.no.to_string()],
                )
            }
            Self::ReverseThenRelease(m) => {
                let r = &m.reward;
                let no = r.no.to_string();
                key(tenant, &[&r.program, &r.order, "return", &m.return_id, &no])
            }
            Self::Release(m) => {
                let r = &m.reward;
                key(
                    tenant,
                    &[&r.program, &r.order, "release", &r.no.to_string()],
                )
            }
            Self::ReferralPurchase(m) => key(tenant, &[&m.program, &m.order, "referral"]),
            Self::ReferralReturn(m) => key(
                tenant,
                &[&m.program, &m.order, "referral-return", &m.return_id],
            ),
            Self::Checkout(m) => {
                let (step, target) = m.step.as_ref().map_or(("none", ""), Step::parts);
                key(tenant, &["checkout", &m.session, step, target])
            }
            Self::VoucherIssue(m) => {
                let [recorded, approved] = m.reward.voucher_keys(tenant);
                if m.after_review { approved } else { recorded }
            }
            Self::VoucherVoid(m) => {
                let r = &m.reward;
                let cause = if m.return_id.is_empty() {
                    "rejected"
                } else {
                    &m.return_id
                };
                key(
                    tenant,
                    &[
                        &r.program,
                        &r.order,
                        "voucher-void",
                        cause,
                        &r.no.to_string(),
                    ],
                )
            }
            Self::OrderWorth(m) => {
                let r = &m.reward;
                let no = r.no.to_string();
                key(tenant, &[&r.program, &r.order, "worth", &m.return_id, &no])
            }
        }
    }

    /// The stored payload, in its topic's encoding.
    pub fn to_payload(&self) -> Vec<u8> {
        match self {
            Self::Credit(RewardCredit { credit, .. }) | Self::Bonus(BonusCredit { credit, .. }) => {
                credit.encode_to_vec()
            }
            Self::ConfirmThenCredit(m) => {
                let mut out = m.confirm.encode_length_delimited_to_vec();
                out.extend(m.credit.encode_length_delimited_to_vec());
                out
            }
            Self::ReverseThenRelease(m) => m.encode_to_vec(),
            Self::Release(m) => m.encode_to_vec(),
            Self::ReferralPurchase(m) => m.notice.encode_to_vec(),
            Self::ReferralReturn(m) => m.notice.encode_to_vec(),
            Self::Checkout(m) => m.encode_to_vec(),
            Self::VoucherIssue(m) => m.encode_to_vec(),
            Self::VoucherVoid(m) => m.encode_to_vec(),
            Self::OrderWorth(m) => m.encode_to_vec(),
        }
    }

    /// A job's payload on `topic` back into its message. A credit, a
    /// confirmation and a notice are their requests: what identifies them
    /// (reward, occasion, order) is in the job's stored key, not needed to
    /// deliver them, and left empty here.
    pub fn from_payload(topic: Topic, payload: &[u8]) -> anyhow::Result<Self> {
        Ok(match topic {
            Topic::WalletCredit => Self::Credit(RewardCredit {
                reward: RewardRef::default(),
                credit: wpb::CreditRequest::decode(payload)?,
            }),
            Topic::BudgetConfirm => {
                let mut rest = payload;
                let confirm = cpb::ConfirmBudgetRequest::decode_length_delimited(&mut rest)?;
                let credit = wpb::CreditRequest::decode_length_delimited(&mut rest)?;
                Self::ConfirmThenCredit(ConfirmThenCredit {
                    reward: RewardRef::default(),
                    confirm,
                    credit,
                })
            }
            Topic::WalletReverse => Self::ReverseThenRelease(ReverseThenRelease::decode(payload)?),
            Topic::WalletRelease => Self::Release(Release::decode(payload)?),
            Topic::ReferralPurchase => Self::ReferralPurchase(ReferralPurchase {
                program: String::new(),
                order: String::new(),
                notice: rpb::OnPurchaseRequest::decode(payload)?,
            }),
            Topic::ReferralReturn => Self::ReferralReturn(ReferralReturn {
                program: String::new(),
                order: String::new(),
                return_id: String::new(),
                notice: rpb::OnReturnRequest::decode(payload)?,
            }),
            Topic::Checkout => Self::Checkout(CheckoutStep::decode(payload)?),
            Topic::VoucherIssue => Self::VoucherIssue(VoucherIssue::decode(payload)?),
            Topic::VoucherVoid => Self::VoucherVoid(VoucherVoid::decode(payload)?),
            Topic::OrderWorth => Self::OrderWorth(OrderWorth::decode(payload)?),
            Topic::Legacy(old) => legacy::decode(old, payload)?,
        })
    }
}

mod legacy;
#[cfg(test)]
mod tests;
