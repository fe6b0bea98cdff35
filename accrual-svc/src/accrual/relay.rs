//! The outbox relay: delivers wallet credits, campaign budget confirmations
//! (then the campaign reward's credit) and wallet reversals (then the budget
//! given back), each call with a key derived from its job's deterministic key,
//! so a redelivery after a crash has no second effect.
use boomerang_common::{
    jobs::{Handler, Job, NotYet},
    money::{Amount, Asset},
};
use boomerang_proto::{
    campaign::v1 as cpb, common::v1 as pc, referral::v1 as rpb, wallet::v1 as wpb,
};
use prost::Message;
use tonic::Code;

use super::{
    Accrual, key,
    members::CREDIT,
    purchases::{CONFIRM, REFERRAL_PURCHASE, REFERRAL_RETURN, REVERSE},
    review::RELEASE,
    upstream::call,
};
use crate::repo;

/// Every topic the relay delivers.
pub const TOPICS: [&str; 6] = [
    CREDIT,
    REVERSE,
    CONFIRM,
    REFERRAL_PURCHASE,
    REFERRAL_RETURN,
    RELEASE,
];

/// A step and the one that follows it, in one payload.
pub fn pack(first: &impl Message, then: Option<&impl Message>) -> Vec<u8> {
    let mut out = first.encode_length_delimited_to_vec();
    if let Some(then) = then {
        out.extend(then.encode_length_delimited_to_vec());
    }
    out
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

/// The reward a reversal or a release is about, carried with it (in the
/// reversal's `source.inputs`, after the release in its payload) so that a
/// NOT_FOUND from the wallet can be told apart: its credit still on its way
/// (wait, however long) or never made (nothing to do).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RewardRef {
    /// Program.
    pub program: String,
    /// Order.
    pub order: String,
    /// Reward number.
    pub no: i64,
}

impl RewardRef {
    /// As JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The keys of the jobs that credit it: directly, or after its budget is confirmed.
    fn credit_jobs(&self, tenant: &str) -> [String; 2] {
        let no = self.no.to_string();
        [
            key(tenant, &[&self.program, &self.order, &no]),
            key(tenant, &[&self.program, &self.order, "confirm", &no]),
        ]
    }
}

fn minor(m: Option<&pc::Money>) -> i64 {
    m.and_then(|m| Asset::builtin(&m.asset).and_then(|a| Amount::parse(&m.amount, &a).ok()))
        .map_or(0, |a| a.minor())
}

/// Delivers one topic.
#[derive(Clone, Debug)]
pub struct Relay {
    accrual: Accrual,
    topic: &'static str,
}

impl Relay {
    /// The relay of `topic`.
    pub fn new(accrual: Accrual, topic: &'static str) -> Self {
        Self { accrual, topic }
    }

    async fn credit(
        &self,
        job: &Job,
        mut m: wpb::CreditRequest,
        key: String,
    ) -> anyhow::Result<()> {
        m.idempotency_key = key;
        match self
            .accrual
            .upstream()
            .wallet
            .clone()
            .credit(call(&job.tenant, m)?)
            .await
        {
            Ok(_) => Ok(()),
            Err(s) => given_up(self.topic, job, s, &[]),
        }
    }
}

/// A refusal that retrying cannot change (a budget reservation that lapsed) is
/// logged and the job done; anything else is retried, and after max_attempts
/// the job is marked failed for an operator: a request of ours refused as
/// invalid is a bug to surface, never a silent success.
fn given_up(topic: &str, job: &Job, s: tonic::Status, final_codes: &[Code]) -> anyhow::Result<()> {
    if final_codes.contains(&s.code()) {
        tracing::error!(topic, key = %job.dedupe_key, status = ?s, "delivery refused for good");
        Ok(())
    } else {
        Err(anyhow::anyhow!("{topic}: {:?} {}", s.code(), s.message()))
    }
}

impl Relay {
    /// The wallet has no credit for `reward`: wait while its credit job is not
    /// done (`NotYet`, never given up on); once done, the credit was refused for
    /// good (a lapsed campaign budget) and there is nothing to take back or release.
    async fn without_credit(
        &self,
        job: &Job,
        reward: Option<RewardRef>,
        s: tonic::Status,
    ) -> anyhow::Result<()> {
        let Some(reward) = reward else {
            return given_up(self.topic, job, s, &[]);
        };
        let keys = reward.credit_jobs(&job.tenant);
        if repo::jobs_pending(self.accrual.db(), &job.tenant, &[CREDIT, CONFIRM], &keys).await? {
            return Err(NotYet(format!("the credit of {reward:?} is not delivered yet")).into());
        }
        tracing::warn!(
            topic = self.topic,
            ?reward,
            "the reward was never credited: nothing to do"
        );
        Ok(())
    }
}

impl Handler for Relay {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let upstream = self.accrual.upstream();
        let key = job.dedupe_key.clone();
        match self.topic {
            CREDIT => {
                let m = wpb::CreditRequest::decode(job.payload.as_slice())?;
                self.credit(job, m, key).await
            }
            REFERRAL_PURCHASE => {
                let mut m = rpb::OnPurchaseRequest::decode(job.payload.as_slice())?;
                m.idempotency_key = key;
                match upstream
                    .referral
                    .clone()
                    .on_purchase(call(&job.tenant, m)?)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(s) => given_up(self.topic, job, s, &[]),
                }
            }
            REFERRAL_RETURN => {
                let mut m = rpb::OnReturnRequest::decode(job.payload.as_slice())?;
                m.idempotency_key = key;
                match upstream
                    .referral
                    .clone()
                    .on_return(call(&job.tenant, m)?)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(s) => given_up(self.topic, job, s, &[]),
                }
            }
            RELEASE => {
                let (mut m, reward) =
                    unpack::<wpb::ReleaseCreditRequest, wpb::Source>(&job.payload)?;
                m.idempotency_key = key;
                match upstream
                    .wallet
                    .clone()
                    .release_credit(call(&job.tenant, m)?)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(s) if s.code() == Code::NotFound => {
                        let reward = reward.and_then(|r| serde_json::from_str(&r.inputs).ok());
                        self.without_credit(job, reward, s).await
                    }
                    // Already released: nothing left to do.
                    Err(s) => given_up(self.topic, job, s, &[Code::FailedPrecondition]),
                }
            }
            CONFIRM => {
                let (mut confirm, credit) =
                    unpack::<cpb::ConfirmBudgetRequest, wpb::CreditRequest>(&job.payload)?;
                confirm.idempotency_key = key.clone();
                match upstream
                    .campaign
                    .clone()
                    .confirm_budget(call(&job.tenant, confirm)?)
                    .await
                {
                    Ok(_) => match credit {
                        Some(credit) => {
                            let k = boomerang_common::idempotency::derived_key(
                                "acc",
                                &[&key, "credit"],
                            );
                            self.credit(job, credit, k).await
                        }
                        None => Ok(()),
                    },
                    // Lapsed before we confirmed: the campaign pays nothing, so neither does the wallet.
                    Err(s) => given_up(
                        self.topic,
                        job,
                        s,
                        &[Code::FailedPrecondition, Code::NotFound],
                    ),
                }
            }
            _ => {
                let (mut reverse, release) =
                    unpack::<wpb::ReverseRequest, cpb::ReleaseBudgetRequest>(&job.payload)?;
                reverse.idempotency_key = key.clone();
                let reward = reverse
                    .source
                    .as_ref()
                    .and_then(|s| serde_json::from_str::<RewardRef>(&s.inputs).ok());
                let done = match upstream
                    .wallet
                    .clone()
                    .reverse(call(&job.tenant, reverse)?)
                    .await
                {
                    Ok(done) => done.into_inner(),
                    Err(s) if s.code() == Code::NotFound => {
                        return self.without_credit(job, reward, s).await;
                    }
                    Err(s) => return given_up(self.topic, job, s, &[]),
                };
                let taken =
                    minor(done.reversed_pending.as_ref()) + minor(done.reversed_available.as_ref());
                let Some(mut release) = release.filter(|_| taken > 0) else {
                    return Ok(());
                };
                let planned = minor(release.amount.as_ref());
                if let Some(amount) = release.amount.as_mut() {
                    let asset = Asset::builtin(&amount.asset)
                        .unwrap_or_else(|| Asset::new(&amount.asset, 0));
                    amount.amount = Amount::from_minor(taken.min(planned), &asset)
                        .map_or_else(|_| amount.amount.clone(), |a| a.to_string());
                }
                release.idempotency_key =
                    boomerang_common::idempotency::derived_key("acc", &[&key, "release"]);
                match upstream
                    .campaign
                    .clone()
                    .release_budget(call(&job.tenant, release)?)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(s) => given_up(self.topic, job, s, &[Code::FailedPrecondition]),
                }
            }
        }
    }
}
