//! The outbox relay: delivers wallet credits and reversals and campaign
//! budget confirmations and releases, each with its job's deterministic key as
//! the idempotency key, so a redelivery after a crash has no second effect.
use boomerang_common::jobs::{Handler, Job};
use boomerang_proto::{campaign::v1 as cpb, wallet::v1 as wpb};
use prost::Message as _;
use tonic::Code;

use super::{
    Accrual,
    members::CREDIT,
    purchases::{CONFIRM, RELEASE, REVERSE},
    upstream::call,
};

/// Every topic the relay delivers.
pub const TOPICS: [&str; 4] = [CREDIT, REVERSE, CONFIRM, RELEASE];

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
}

impl Handler for Relay {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let upstream = self.accrual.upstream();
        let key = job.dedupe_key.clone();
        let sent = match self.topic {
            CREDIT => {
                let mut m = wpb::CreditRequest::decode(job.payload.as_slice())?;
                m.idempotency_key = key;
                upstream
                    .wallet
                    .clone()
                    .credit(call(&job.tenant, m)?)
                    .await
                    .map(drop)
            }
            REVERSE => {
                let mut m = wpb::ReverseRequest::decode(job.payload.as_slice())?;
                m.idempotency_key = key;
                upstream
                    .wallet
                    .clone()
                    .reverse(call(&job.tenant, m)?)
                    .await
                    .map(drop)
            }
            CONFIRM => {
                let mut m = cpb::ConfirmBudgetRequest::decode(job.payload.as_slice())?;
                m.idempotency_key = key;
                upstream
                    .campaign
                    .clone()
                    .confirm_budget(call(&job.tenant, m)?)
                    .await
                    .map(drop)
            }
            _ => {
                let mut m = cpb::ReleaseBudgetRequest::decode(job.payload.as_slice())?;
                m.idempotency_key = key;
                upstream
                    .campaign
                    .clone()
                    .release_budget(call(&job.tenant, m)?)
                    .await
                    .map(drop)
            }
        };
        match sent {
            Ok(()) => Ok(()),
            // Refused for good (bad request, or a budget reservation that lapsed
            // before its confirmation arrived): retrying cannot help.
            Err(s)
                if matches!(s.code(), Code::InvalidArgument | Code::AlreadyExists)
                    || (self.topic == CONFIRM && s.code() == Code::FailedPrecondition) =>
            {
                tracing::error!(topic = self.topic, key = %job.dedupe_key, status = ?s, "delivery refused for good");
                Ok(())
            }
            // Anything else (unavailable, a reversal arriving before its credit) is retried.
            Err(s) => Err(anyhow::anyhow!(
                "{}: {:?} {}",
                self.topic,
                s.code(),
                s.message()
            )),
        }
    }
}
