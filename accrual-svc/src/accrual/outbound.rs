//! Everything accrual-svc delivers after its transaction commits: one typed
//! enum, each message with its topic, its deterministic idempotency key and
//! its encoding. `Accrual::enqueue` is the only way to write accrual's outbox; the
//! relay decodes a job back into an [`Outbound`] and matches on it.
//!
//! Encoding: a protobuf envelope (`Envelope`, a oneof over the messages) on
//! the `*.v2` topics. Jobs enqueued by a binary from before this envelope
//! (bare requests, or two length-delimited requests glued together) are still
//! decoded from their old topics, so an upgrade drains what is in flight;
//! that reading goes away once no release writes the old topics.
use boomerang_common::{
    db::Conn, error::AppError, idempotency::derived_key, outbox, tenant::TenantId,
};
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

/// Everything accrual-svc delivers after its transaction commits.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Outbound {
    /// A reward credit.
    #[prost(message, tag = "1")]
    Credit(RewardCredit),
    /// A welcome or birthday bonus.
    #[prost(message, tag = "2")]
    Bonus(BonusCredit),
    /// A campaign reward: budget first, then the credit.
    #[prost(message, tag = "3")]
    ConfirmThenCredit(ConfirmThenCredit),
    /// A reversal, then the budget it frees.
    #[prost(message, tag = "4")]
    ReverseThenRelease(ReverseThenRelease),
    /// A held credit released after review.
    #[prost(message, tag = "5")]
    Release(Release),
    /// A purchase for referral-svc.
    #[prost(message, tag = "6")]
    ReferralPurchase(ReferralPurchase),
    /// A return for referral-svc.
    #[prost(message, tag = "7")]
    ReferralReturn(ReferralReturn),
}

/// How an [`Outbound`] is stored.
#[derive(Clone, PartialEq, prost::Message)]
struct Envelope {
    #[prost(oneof = "Outbound", tags = "1, 2, 3, 4, 5, 6, 7")]
    message: Option<Outbound>,
}

/// A queue the relay delivers: one per upstream effect, so a slow wallet
/// never holds back referral notices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// Wallet credits (rewards and bonuses).
    WalletCredit,
    /// Campaign budget confirmations, then the credit.
    BudgetConfirm,
    /// Wallet reversals, then the budget given back.
    WalletReverse,
    /// Wallet releases of held credits.
    WalletRelease,
    /// Purchases for referral-svc.
    ReferralPurchase,
    /// Returns for referral-svc.
    ReferralReturn,
    /// Read only: a topic written before the envelope (see the module doc).
    Legacy(LegacyTopic),
}

/// The topics written before the envelope, with their encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegacyTopic {
    /// A bare `CreditRequest`.
    WalletCredit,
    /// `ConfirmBudgetRequest` then `CreditRequest`, length-delimited.
    BudgetConfirm,
    /// `ReverseRequest` then an optional `ReleaseBudgetRequest`, length-delimited;
    /// the reward as JSON in the reversal's `source.inputs`.
    WalletReverse,
    /// `ReleaseCreditRequest` then a `Source` whose `inputs` hold the reward as JSON.
    WalletRelease,
    /// A bare `OnPurchaseRequest`.
    ReferralPurchase,
    /// A bare `OnReturnRequest`.
    ReferralReturn,
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
        Self::Legacy(LegacyTopic::WalletCredit),
        Self::Legacy(LegacyTopic::BudgetConfirm),
        Self::Legacy(LegacyTopic::WalletReverse),
        Self::Legacy(LegacyTopic::WalletRelease),
        Self::Legacy(LegacyTopic::ReferralPurchase),
        Self::Legacy(LegacyTopic::ReferralReturn),
    ];

    /// The queue's name in the jobs table.
    pub fn name(self) -> &'static str {
        match self {
            Self::WalletCredit => "accrual.wallet_credit.v2",
            Self::BudgetConfirm => "accrual.budget_confirm.v2",
            Self::WalletReverse => "accrual.wallet_reverse.v2",
            Self::WalletRelease => "accrual.wallet_release.v2",
            Self::ReferralPurchase => "accrual.referral_purchase.v2",
            Self::ReferralReturn => "accrual.referral_return.v2",
            Self::Legacy(LegacyTopic::WalletCredit) => "accrual.wallet_credit",
            Self::Legacy(LegacyTopic::BudgetConfirm) => "accrual.budget_confirm",
            Self::Legacy(LegacyTopic::WalletReverse) => "accrual.wallet_reverse",
            Self::Legacy(LegacyTopic::WalletRelease) => "accrual.wallet_release",
            Self::Legacy(LegacyTopic::ReferralPurchase) => "accrual.referral_purchase",
            Self::Legacy(LegacyTopic::ReferralReturn) => "accrual.referral_return",
        }
    }

    /// The queues that may hold a reward's credit, in either encoding.
    pub fn credit_queues() -> [&'static str; 4] {
        [
            Self::WalletCredit.name(),
            Self::BudgetConfirm.name(),
            Self::Legacy(LegacyTopic::WalletCredit).name(),
            Self::Legacy(LegacyTopic::BudgetConfirm).name(),
        ]
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
        }
    }

    /// The stored payload.
    pub fn to_payload(&self) -> Vec<u8> {
        Envelope {
            message: Some(self.clone()),
        }
        .encode_to_vec()
    }

    /// A job's payload on `topic` back into its message.
    pub fn from_payload(topic: Topic, payload: &[u8]) -> anyhow::Result<Self> {
        match topic {
            Topic::Legacy(old) => legacy::decode(old, payload),
            _ => Envelope::decode(payload)?
                .message
                .ok_or_else(|| anyhow::anyhow!("{}: empty outbox envelope", topic.name())),
        }
    }
}

impl super::Accrual {
    /// Enqueues `message` in the caller's transaction: the only way accrual
    /// writes its outbox. False when the same message was already enqueued.
    pub async fn enqueue(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        message: &Outbound,
    ) -> Result<bool, AppError> {
        let (topic, k) = (message.topic().name(), message.key(tenant));
        let now = self.clock().now();
        outbox::enqueue_raw(conn, tenant, topic, &k, now, &message.to_payload()).await
    }
}

/// Reading what a binary from before the envelope enqueued.
mod legacy {
    use boomerang_proto::wallet::v1 as wpb;
    use prost::Message;

    use super::{
        ConfirmThenCredit, LegacyTopic, Outbound, ReferralPurchase, ReferralReturn, Release,
        ReverseThenRelease, RewardCredit, RewardRef,
    };

    /// The reward an old reversal or release carried as JSON.
    #[derive(serde::Deserialize)]
    struct OldRewardRef {
        program: String,
        order: String,
        no: i64,
    }

    fn reward(source: Option<&wpb::Source>) -> RewardRef {
        source
            .and_then(|s| serde_json::from_str::<OldRewardRef>(&s.inputs).ok())
            .map(|r| RewardRef::new(&r.program, &r.order, r.no))
            .unwrap_or_default()
    }

    fn unpack<A: Message + Default, B: Message + Default>(
        mut payload: &[u8],
    ) -> anyhow::Result<(A, Option<B>)> {
        let first = A::decode_length_delimited(&mut payload)?;
        let then = if payload.is_empty() {
            None
        } else {
            Some(B::decode_length_delimited(&mut payload)?)
        };
        Ok((first, then))
    }

    /// An old payload of `topic` as the message it meant. The job keeps its
    /// stored key, so the identifying fields an old payload lacks (a bonus's
    /// occasion, a notice's order) are not needed to deliver it.
    pub(super) fn decode(topic: LegacyTopic, payload: &[u8]) -> anyhow::Result<Outbound> {
        use boomerang_proto::{campaign::v1 as cpb, referral::v1 as rpb};
        Ok(match topic {
            LegacyTopic::WalletCredit => Outbound::Credit(RewardCredit {
                reward: RewardRef::default(),
                credit: wpb::CreditRequest::decode(payload)?,
            }),
            LegacyTopic::BudgetConfirm => {
                let (confirm, credit) =
                    unpack::<cpb::ConfirmBudgetRequest, wpb::CreditRequest>(payload)?;
                Outbound::ConfirmThenCredit(ConfirmThenCredit {
                    reward: RewardRef::default(),
                    confirm,
                    credit: credit.unwrap_or_default(),
                })
            }
            LegacyTopic::WalletReverse => {
                let (reverse, release) =
                    unpack::<wpb::ReverseRequest, cpb::ReleaseBudgetRequest>(payload)?;
                Outbound::ReverseThenRelease(ReverseThenRelease {
                    reward: reward(reverse.source.as_ref()),
                    return_id: String::new(),
                    reverse,
                    release,
                })
            }
            LegacyTopic::WalletRelease => {
                let (release, source) = unpack::<wpb::ReleaseCreditRequest, wpb::Source>(payload)?;
                Outbound::Release(Release {
                    reward: reward(source.as_ref()),
                    release,
                })
            }
            LegacyTopic::ReferralPurchase => Outbound::ReferralPurchase(ReferralPurchase {
                program: String::new(),
                order: String::new(),
                notice: rpb::OnPurchaseRequest::decode(payload)?,
            }),
            LegacyTopic::ReferralReturn => Outbound::ReferralReturn(ReferralReturn {
                program: String::new(),
                order: String::new(),
                return_id: String::new(),
                notice: rpb::OnReturnRequest::decode(payload)?,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> anyhow::Result<TenantId> {
        TenantId::parse("acme").map_err(anyhow::Error::msg)
    }

    #[test]
    fn every_message_round_trips_through_its_topic() -> anyhow::Result<()> {
        let reward = RewardRef::new("p", "o-1", 2);
        let messages = [
            Outbound::Credit(RewardCredit {
                reward: reward.clone(),
                credit: wpb::CreditRequest {
                    customer_id: "c-1".into(),
                    ..Default::default()
                },
            }),
            Outbound::ReverseThenRelease(ReverseThenRelease {
                reward: reward.clone(),
                return_id: "r-1".into(),
                reverse: wpb::ReverseRequest::default(),
                release: Some(cpb::ReleaseBudgetRequest::default()),
            }),
            Outbound::Release(Release {
                reward,
                release: wpb::ReleaseCreditRequest::default(),
            }),
        ];
        for m in messages {
            assert_eq!(Outbound::from_payload(m.topic(), &m.to_payload())?, m);
        }
        Ok(())
    }

    #[test]
    fn keys_are_the_ones_accrual_always_derived() -> anyhow::Result<()> {
        let t = tenant()?;
        let reward = RewardRef::new("p", "o-1", 2);
        let credit = Outbound::Credit(RewardCredit {
            reward: reward.clone(),
            credit: wpb::CreditRequest::default(),
        });
        assert_eq!(credit.key(&t), "acc:acme:p:o-1:2");
        assert_eq!(reward.credit_keys(&t)[0], credit.key(&t));
        let welcome = Outbound::Bonus(BonusCredit {
            program: "p".into(),
            customer: "c-1".into(),
            occasion: Occasion {
                kind: "welcome".into(),
                year: String::new(),
            },
            credit: wpb::CreditRequest::default(),
        });
        assert_eq!(welcome.key(&t), "acc:acme:p:c-1:welcome");
        let rejected = Outbound::ReverseThenRelease(ReverseThenRelease {
            reward,
            return_id: String::new(),
            reverse: wpb::ReverseRequest::default(),
            release: None,
        });
        assert_eq!(rejected.key(&t), "acc:acme:p:o-1:rejected:2");
        Ok(())
    }

    #[test]
    fn old_payloads_are_still_read() -> anyhow::Result<()> {
        let reverse = wpb::ReverseRequest {
            source: Some(wpb::Source {
                inputs: r#"{"program":"p","order":"o-1","no":3}"#.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let payload = reverse.encode_length_delimited_to_vec();
        let Outbound::ReverseThenRelease(m) =
            Outbound::from_payload(Topic::Legacy(LegacyTopic::WalletReverse), &payload)?
        else {
            anyhow::bail!("not a reversal");
        };
        assert_eq!(m.reward, RewardRef::new("p", "o-1", 3));
        assert!(m.release.is_none());
        Ok(())
    }
}
