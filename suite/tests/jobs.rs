//! Parked jobs end to end, on both backends: a delivery the wallet refuses for
//! good is parked at once, listed for a platform admin through the gateway,
//! and discarded with a reason on record; a delivery parked while the wallet
//! was away is retried by the operator and lands once. Tenant keys may not
//! touch jobs.
mod support;

use boomerang_common::{
    backend_tests,
    db::Db,
    outbox,
    tenant::TenantId,
    testing::{channel, eventually},
    time::now_micros,
};
use boomerang_proto::{
    admin::v1::{self as apb, job_service_client::JobServiceClient},
    common::v1::Money,
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use gateway::limits::RateLimitConfig;
use support::{start, with_key};
use tonic::Code;

const CREDITS: &str = "accrual.wallet_credit";

fn credit(key: &str, amount: &str) -> wpb::CreditRequest {
    wpb::CreditRequest {
        idempotency_key: key.into(),
        customer_id: "alice".into(),
        amount: Some(Money {
            amount: amount.into(),
            asset: "EUR".into(),
        }),
        description: "operator test".into(),
        ..wpb::CreditRequest::default()
    }
}

fn list(include_discarded: bool) -> apb::ListParkedJobsRequest {
    apb::ListParkedJobsRequest {
        service: apb::Service::Accrual.into(),
        include_discarded,
        ..apb::ListParkedJobsRequest::default()
    }
}

backend_tests! {
    async fn parked_jobs_are_listed_retried_and_discarded_by_platform_admins(backend) -> anyhow::Result<()> {
        let (suite, dbs) = start(backend, RateLimitConfig::default()).await?;
        let admin = suite.create_key("boomerang", &["*:admin"]).await?;
        let shop_admin = suite.create_key("acme", &["*:admin"]).await?;
        let chan = channel(suite.addrs().gateway).await?;
        let mut jobs = JobServiceClient::new(chan.clone());

        // Two deliveries in accrual's outbox: one the wallet refuses for good
        // (more decimals than EUR has), one as if parked while the wallet was away.
        let accrual = Db::connect(&dbs[2].config, &accrual_svc::repo::MIGRATIONS).await?;
        let acme = TenantId::parse("acme").map_err(anyhow::Error::msg)?;
        let mut tx = accrual.begin().await?;
        outbox::enqueue(&mut tx, &acme, CREDITS, "bad-1", now_micros(), &credit("bad-1", "1.001")).await?;
        outbox::enqueue(&mut tx, &acme, CREDITS, "late-1", now_micros(), &credit("late-1", "2.50")).await?;
        sqlx::query("UPDATE jobs SET failed_at = $1, attempts = 20, last_error = 'wallet unavailable' WHERE dedupe_key = 'late-1'")
            .bind(now_micros())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        accrual.close().await;

        let parked = |jobs: &JobServiceClient<_>, admin: &str| {
            let (mut jobs, admin) = (jobs.clone(), admin.to_owned());
            async move {
                let page = jobs.list_parked_jobs(with_key(list(false), &admin)?).await?.into_inner();
                anyhow::Ok(page.jobs)
            }
        };
        eventually("the refused credit parked", || {
            let p = parked(&jobs, &admin);
            async move { Ok(p.await?.len() == 2) }
        })
        .await?;
        let listed = parked(&jobs, &admin).await?;
        let bad = listed.iter().find(|j| j.dedupe_key == "bad-1").ok_or_else(|| anyhow::anyhow!("{listed:?}"))?;
        assert_eq!(bad.attempts, 1, "a permanent refusal is parked at once: {bad:?}");
        assert_eq!(bad.state, i32::from(apb::JobState::Parked));
        assert!(bad.last_error.contains("refused for good"), "{bad:?}");
        assert_eq!((bad.tenant_id.as_str(), bad.queue.as_str()), ("acme", CREDITS));
        let late = listed.iter().find(|j| j.dedupe_key == "late-1").ok_or_else(|| anyhow::anyhow!("{listed:?}"))?;

        // Tenant keys, even admin ones, do not see or touch jobs.
        let denied = jobs.list_parked_jobs(with_key(list(false), &shop_admin)?).await.err();
        assert_eq!(denied.map(|s| s.code()), Some(Code::PermissionDenied));
        let write = suite.create_key("boomerang", &["*:write"]).await?;
        let denied = jobs.list_parked_jobs(with_key(list(false), &write)?).await.err();
        assert_eq!(denied.map(|s| s.code()), Some(Code::PermissionDenied));

        // The one parked while the wallet was away lands once retried.
        let retry = apb::RetryParkedJobRequest {
            idempotency_key: "r-1".into(),
            service: apb::Service::Accrual.into(),
            job_id: late.job_id,
        };
        let first = jobs.retry_parked_job(with_key(retry.clone(), &admin)?).await?.into_inner();
        let again = jobs.retry_parked_job(with_key(retry.clone(), &admin)?).await?.into_inner();
        assert_eq!(first, again, "a retry's replay answers the first answer");
        assert_eq!(first.job.as_ref().map(|j| (j.state, j.attempts)), Some((apb::JobState::Queued.into(), 0)));
        let wallet = WalletServiceClient::new(chan.clone());
        let reader = suite.create_key("acme", &["wallet:read"]).await?;
        eventually("the retried credit in the wallet", || {
            let (mut wallet, reader) = (wallet.clone(), reader.clone());
            async move {
                let b = wallet
                    .get_balance(with_key(wpb::GetBalanceRequest { customer_id: "alice".into(), asset: "EUR".into(), as_of: None }, &reader)?)
                    .await?
                    .into_inner();
                let available = b.balances.first().and_then(|b| b.available.as_ref()).map(|m| m.amount.clone());
                Ok(available.as_deref() == Some("2.50"))
            }
        })
        .await?;
        let other = apb::RetryParkedJobRequest { idempotency_key: "r-2".into(), ..retry };
        let not_parked = jobs.retry_parked_job(with_key(other, &admin)?).await.err();
        assert_eq!(not_parked.map(|s| s.code()), Some(Code::FailedPrecondition));

        // The refused one is discarded, with a reason on record.
        let discard = apb::DiscardParkedJobRequest {
            idempotency_key: "d-1".into(),
            service: apb::Service::Accrual.into(),
            job_id: bad.job_id,
            reason: "amount had three decimals; the shop re-sends the order".into(),
        };
        let no_reason = apb::DiscardParkedJobRequest { reason: " ".into(), ..discard.clone() };
        let refused = jobs.discard_parked_job(with_key(no_reason, &admin)?).await.err();
        assert_eq!(refused.map(|s| s.code()), Some(Code::InvalidArgument));
        let done = jobs.discard_parked_job(with_key(discard, &admin)?).await?.into_inner();
        let done = done.job.ok_or_else(|| anyhow::anyhow!("no job"))?;
        assert_eq!(done.state, i32::from(apb::JobState::Discarded));
        assert!(done.last_error.contains("three decimals") && done.last_error.contains("refused for good"), "{done:?}");
        assert!(done.discarded_at.is_some());
        assert!(parked(&jobs, &admin).await?.is_empty(), "nothing is left parked");
        let all = jobs.list_parked_jobs(with_key(list(true), &admin)?).await?.into_inner().jobs;
        assert_eq!(all.iter().map(|j| j.dedupe_key.as_str()).collect::<Vec<_>>(), ["bad-1"], "the discarded one stays on record");

        // A request for no service, or for a job that does not exist.
        let nowhere = apb::ListParkedJobsRequest::default();
        let err = jobs.list_parked_jobs(with_key(nowhere, &admin)?).await.err();
        assert_eq!(err.map(|s| s.code()), Some(Code::InvalidArgument));
        let missing = apb::RetryParkedJobRequest { idempotency_key: "r-3".into(), service: apb::Service::Wallet.into(), job_id: 999_999 };
        let err = jobs.retry_parked_job(with_key(missing, &admin)?).await.err();
        assert_eq!(err.map(|s| s.code()), Some(Code::NotFound), "the wallet's answer keeps its meaning");
        suite.stop().await?;
        Ok(())
    }
}
