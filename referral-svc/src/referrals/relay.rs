//! The outbox relay: wallet credits and reversals delivered with the job's key.
use boomerang_common::{
    channel::acting_for,
    jobs::{Handler, Job, Permanent},
    tenant::TenantId,
};
use boomerang_proto::wallet::v1 as wpb;
use prost::Message as _;

use super::{CREDIT, Referrals};

/// Delivers wallet credits and reversals with the job's key.
#[derive(Clone, Debug)]
pub struct Relay {
    referrals: Referrals,
    topic: &'static str,
}

impl Relay {
    /// The relay of `topic`.
    pub fn new(referrals: Referrals, topic: &'static str) -> Self {
        Self { referrals, topic }
    }
}

impl Handler for Relay {
    #[tracing::instrument(name = "boomerang.referral.relay.deliver", skip_all, fields(topic = self.topic, key = %job.dedupe_key), err(level = "info"))]
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let tenant = TenantId::parse(&job.tenant).map_err(anyhow::Error::msg)?;
        let mut wallet = self.referrals.wallet.clone();
        let sent = if self.topic == CREDIT {
            let mut m = wpb::CreditRequest::decode(job.payload.as_slice())?;
            m.idempotency_key = job.dedupe_key.clone();
            wallet.credit(acting_for(&tenant, m)).await.map(drop)
        } else {
            let mut m = wpb::ReverseRequest::decode(job.payload.as_slice())?;
            m.idempotency_key = job.dedupe_key.clone();
            wallet.reverse(acting_for(&tenant, m)).await.map(drop)
        };
        match sent {
            Ok(()) => Ok(()),
            // A refusal of our own request as invalid is a bug to surface: parked
            // at once for an operator, never a silent success.
            Err(s) if s.code() == tonic::Code::InvalidArgument => {
                Err(Permanent(format!("{}: {}", self.topic, s.message())).into())
            }
            // Anything else is retried, then parked after max_attempts.
            Err(s) => Err(anyhow::anyhow!(
                "{}: {:?} {}",
                self.topic,
                s.code(),
                s.message()
            )),
        }
    }
}
