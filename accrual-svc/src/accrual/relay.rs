//! The outbox relay: decodes each job into its [`Outbound`] message and
//! delivers it through the upstream port, every call with a key derived from
//! the job's deterministic key, so a redelivery after a crash has no second
//! effect.
use boomerang_common::{
    error::AppError,
    idempotency::derived_key,
    jobs::{Handler, Job, NotYet, Permanent},
    money,
    tenant::TenantId,
};
use tracing::instrument;

use super::{
    Accrual,
    outbound::{
        BonusCredit, CheckoutStep, ConfirmThenCredit, Outbound, Release, ReverseThenRelease,
        RewardCredit, RewardRef, Step, Topic, VoucherIssue, VoucherVoid,
    },
};
use crate::repo;

/// Delivers one topic.
#[derive(Clone, Debug)]
pub struct Relay {
    accrual: Accrual,
    topic: Topic,
}

/// A refusal that retrying cannot change (a lapsed reservation) is logged and
/// the job done; a request of ours refused as invalid is parked as failed at
/// once for an operator (a bug to surface, never a silent success); anything
/// else is retried, and parked after max_attempts.
fn settle(topic: Topic, job: &Job, e: AppError, for_good: bool) -> anyhow::Result<()> {
    if for_good {
        tracing::error!(topic = topic.name(), key = %job.dedupe_key, error = %e, "delivery refused for good");
        Ok(())
    } else if matches!(e, AppError::Invalid(_)) {
        // Our own request refused as invalid: retrying cannot help; parked at once.
        Err(Permanent(format!("{}: {e}", topic.name())).into())
    } else {
        Err(anyhow::anyhow!("{}: {e}", topic.name()))
    }
}

impl Relay {
    /// The relay of `topic`.
    pub fn new(accrual: Accrual, topic: Topic) -> Self {
        Self { accrual, topic }
    }

    /// The wallet had no credit for `reward` when asked. While the credit's
    /// own job is not done, wait (`NotYet`, never given up on). Once it is
    /// done, the credit either reached the wallet after we asked (its job
    /// finished meanwhile) or was refused for good (a lapsed reservation):
    /// `Ok` says "ask the wallet again"; only a second NOT_FOUND then means
    /// there is nothing to take back or release. A message without its
    /// reward (none of ours) is retried.
    async fn credit_settled(
        &self,
        tenant: &TenantId,
        job: &Job,
        reward: &RewardRef,
        e: AppError,
    ) -> anyhow::Result<()> {
        if reward.order.is_empty() {
            return settle(self.topic, job, e, false);
        }
        let keys = reward.credit_keys(tenant);
        let queues = Topic::credit_queues();
        if repo::jobs_pending(self.accrual.db(), tenant.as_str(), &queues, &keys).await? {
            return Err(NotYet(format!("the credit of {reward:?} is not delivered yet")).into());
        }
        Ok(())
    }

    /// Confirms a campaign reward's budget reservation: whether it was (one
    /// that lapsed before we confirmed pays nothing, in the wallet or as a
    /// voucher; that is logged and the job done).
    async fn confirmed(
        &self,
        tenant: &TenantId,
        job: &Job,
        mut confirm: boomerang_proto::campaign::v1::ConfirmBudgetRequest,
    ) -> anyhow::Result<bool> {
        confirm.idempotency_key = job.dedupe_key.clone();
        match self
            .accrual
            .upstream()
            .confirm_budget(tenant, confirm)
            .await
        {
            Ok(()) => Ok(true),
            Err(e @ (AppError::Precondition(_) | AppError::NotFound(_))) => {
                settle(self.topic, job, e, true).map(|()| false)
            }
            Err(e) => settle(self.topic, job, e, false).map(|()| false),
        }
    }

    /// Gives budget back after what took a reward back (keyed from the job;
    /// a reservation released before is done).
    async fn release_budget(
        &self,
        tenant: &TenantId,
        job: &Job,
        mut release: boomerang_proto::campaign::v1::ReleaseBudgetRequest,
    ) -> anyhow::Result<()> {
        release.idempotency_key = derived_key("acc", &[&job.dedupe_key, "release"]);
        match self
            .accrual
            .upstream()
            .release_budget(tenant, release)
            .await
        {
            Ok(()) => Ok(()),
            Err(e @ AppError::Precondition(_)) => settle(self.topic, job, e, true),
            Err(e) => settle(self.topic, job, e, false),
        }
    }

    /// A reward whose credit's job is done and which the wallet still does not know.
    fn never_credited(&self, reward: &RewardRef) {
        tracing::warn!(
            topic = self.topic.name(),
            ?reward,
            "the reward was never credited: nothing to do"
        );
    }

    async fn confirm_then_credit(
        &self,
        tenant: &TenantId,
        job: &Job,
        m: ConfirmThenCredit,
    ) -> anyhow::Result<()> {
        if !self.confirmed(tenant, job, m.confirm).await? {
            return Ok(());
        }
        let up = self.accrual.upstream();
        let mut credit = m.credit;
        credit.idempotency_key = derived_key("acc", &[&job.dedupe_key, "credit"]);
        match up.credit(tenant, credit).await {
            Ok(()) => Ok(()),
            Err(e) => settle(self.topic, job, e, false),
        }
    }

    async fn reverse_then_release(
        &self,
        tenant: &TenantId,
        job: &Job,
        m: ReverseThenRelease,
    ) -> anyhow::Result<()> {
        let up = self.accrual.upstream();
        let mut reverse = m.reverse;
        reverse.idempotency_key = job.dedupe_key.clone();
        let taken = match up.reverse(tenant, reverse.clone()).await {
            Ok(taken) => taken,
            Err(e @ AppError::NotFound(_)) => {
                self.credit_settled(tenant, job, &m.reward, e).await?;
                match up.reverse(tenant, reverse).await {
                    Ok(taken) => taken,
                    Err(AppError::NotFound(_)) => {
                        self.never_credited(&m.reward);
                        return Ok(());
                    }
                    Err(e) => return settle(self.topic, job, e, false),
                }
            }
            Err(e) => return settle(self.topic, job, e, false),
        };
        // The budget given back is what the wallet took, never more than
        // planned; when it took nothing, the order's worth is still told.
        let Some(mut release) = m.release.filter(|r| taken > 0 || r.order_amount.is_some()) else {
            return Ok(());
        };
        if let Some(amount) = release.amount.as_mut() {
            let planned = money::minor_of(Some(amount)).map_err(anyhow::Error::new)?;
            *amount = money::wire(taken.min(planned), &amount.asset);
        }
        self.release_budget(tenant, job, release).await
    }

    async fn release(&self, tenant: &TenantId, job: &Job, m: Release) -> anyhow::Result<()> {
        let mut release = m.release;
        release.idempotency_key = job.dedupe_key.clone();
        let up = self.accrual.upstream();
        let mut sent = up.release_credit(tenant, release.clone()).await;
        if let Err(e @ AppError::NotFound(_)) = sent {
            self.credit_settled(tenant, job, &m.reward, e).await?;
            sent = up.release_credit(tenant, release).await;
        }
        match sent {
            Ok(()) => Ok(()),
            Err(AppError::NotFound(_)) => {
                self.never_credited(&m.reward);
                Ok(())
            }
            // Already released: nothing left to do.
            Err(e @ AppError::Precondition(_)) => settle(self.topic, job, e, true),
            Err(e) => settle(self.topic, job, e, false),
        }
    }
}

impl Relay {
    /// A checkout session's hold captured, redeemed or given back. Giving
    /// back what is held no longer (lapsed, given back before) is done; a
    /// capture or redemption of what is held no longer is parked at once for
    /// an operator: the order was recorded as paid with it.
    async fn checkout(&self, tenant: &TenantId, job: &Job, m: CheckoutStep) -> anyhow::Result<()> {
        let up = self.accrual.upstream();
        let key = job.dedupe_key.clone();
        let Some(step) = m.step else {
            let why = format!(
                "{}: a step of {} without action",
                self.topic.name(),
                m.session
            );
            return Err(Permanent(why).into());
        };
        if let Step::Returned(r) = &step {
            // Not before its redemption reached campaign-svc (a held use
            // given back would be free again whatever its batch says).
            let redeem = Outbound::Checkout(CheckoutStep {
                session: m.session.clone(),
                step: Some(Step::Redeem(r.clone())),
            });
            let (queue, key) = (self.topic.name(), redeem.key(tenant));
            if repo::job_pending(self.accrual.db(), tenant.as_str(), queue, &key).await? {
                return Err(NotYet(format!("the redemption {r} is not delivered yet")).into());
            }
        }
        let (sent, giving_back) = match &step {
            Step::Capture(hold) => (up.capture(tenant, key, hold).await, false),
            Step::Void(hold) => (up.void(tenant, key, hold).await, true),
            Step::Redeem(r) => (up.confirm_coupon(tenant, key, r).await, false),
            Step::GiveBack(r) | Step::Returned(r) => {
                (up.release_coupon(tenant, key, r).await, true)
            }
        };
        match sent {
            Ok(()) => Ok(()),
            Err(
                e @ (AppError::Precondition(_) | AppError::Refused { .. } | AppError::NotFound(_)),
            ) => {
                if giving_back {
                    settle(self.topic, job, e, true)
                } else {
                    Err(Permanent(format!("{}: {e}", self.topic.name())).into())
                }
            }
            Err(e) => settle(self.topic, job, e, false),
        }
    }
}

impl Relay {
    /// Confirms a voucher's budget (a lapsed reservation issues nothing),
    /// then issues it.
    async fn voucher_issue(
        &self,
        tenant: &TenantId,
        job: &Job,
        m: VoucherIssue,
    ) -> anyhow::Result<()> {
        if let Some(confirm) = m.confirm
            && !self.confirmed(tenant, job, confirm).await?
        {
            return Ok(());
        }
        // Held for review: confirmed only; issued once approved.
        let Some(mut issue) = m.issue else {
            return Ok(());
        };
        issue.idempotency_key = derived_key("acc", &[&job.dedupe_key, "issue"]);
        match self.accrual.upstream().issue_voucher(tenant, issue).await {
            Ok(()) => Ok(()),
            Err(e) => settle(self.topic, job, e, false),
        }
    }

    /// Voids a voucher, then gives its budget back if it was voided unused.
    /// One not issued yet is waited for while its issue is on its way, one
    /// held by a checkout until that checkout ends (confirmed: used, and
    /// kept; cancelled or lapsed: voided).
    async fn voucher_void(
        &self,
        tenant: &TenantId,
        job: &Job,
        m: VoucherVoid,
    ) -> anyhow::Result<()> {
        let up = self.accrual.upstream();
        let mut void = m.void;
        void.idempotency_key = job.dedupe_key.clone();
        let held = |e: &AppError| matches!(e, AppError::Refused { reason, .. } if reason == "VOUCHER_HELD");
        let voided = match up.void_voucher(tenant, void.clone()).await {
            Ok(voided) => voided,
            Err(e) if held(&e) => return Err(NotYet(e.to_string()).into()),
            Err(AppError::NotFound(_)) => {
                let issue = Topic::VoucherIssue.name();
                let keys = m.reward.voucher_keys(tenant);
                let db = self.accrual.db();
                if repo::jobs_pending(db, tenant.as_str(), &[issue, issue], &keys).await? {
                    return Err(
                        NotYet(format!("the voucher of {:?} is not issued yet", m.reward)).into(),
                    );
                }
                match up.void_voucher(tenant, void).await {
                    Ok(voided) => voided,
                    Err(e) if held(&e) => return Err(NotYet(e.to_string()).into()),
                    Err(AppError::NotFound(_)) => {
                        self.never_credited(&m.reward);
                        return Ok(());
                    }
                    Err(e) => return settle(self.topic, job, e, false),
                }
            }
            Err(e) => return settle(self.topic, job, e, false),
        };
        let Some(release) = m.release.filter(|_| voided) else {
            return Ok(());
        };
        self.release_budget(tenant, job, release).await
    }
}

impl Handler for Relay {
    #[instrument(name = "boomerang.accrual.relay.deliver", skip_all, fields(topic = self.topic.name(), key = %job.dedupe_key), err(level = "info"))]
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let tenant = TenantId::parse(&job.tenant).map_err(anyhow::Error::msg)?;
        let up = self.accrual.upstream();
        let key = job.dedupe_key.clone();
        let sent = match Outbound::from_payload(self.topic, &job.payload)? {
            Outbound::Credit(RewardCredit { mut credit, .. })
            | Outbound::Bonus(BonusCredit { mut credit, .. }) => {
                credit.idempotency_key = key;
                up.credit(&tenant, credit).await
            }
            Outbound::ConfirmThenCredit(m) => {
                return self.confirm_then_credit(&tenant, job, m).await;
            }
            Outbound::ReverseThenRelease(m) => {
                return self.reverse_then_release(&tenant, job, m).await;
            }
            Outbound::Release(m) => return self.release(&tenant, job, m).await,
            Outbound::ReferralPurchase(m) => {
                let mut notice = m.notice;
                notice.idempotency_key = key;
                up.on_purchase(&tenant, notice).await
            }
            Outbound::ReferralReturn(m) => {
                let mut notice = m.notice;
                notice.idempotency_key = key;
                up.on_return(&tenant, notice).await
            }
            Outbound::Checkout(m) => return self.checkout(&tenant, job, m).await,
            Outbound::VoucherIssue(m) => return self.voucher_issue(&tenant, job, m).await,
            Outbound::VoucherVoid(m) => return self.voucher_void(&tenant, job, m).await,
            Outbound::OrderWorth(m) => return self.release_budget(&tenant, job, m.release).await,
        };
        sent.or_else(|e| settle(self.topic, job, e, false))
    }
}
