//! Credits written in groups (one transaction for what is queued) have the
//! effect of credits written one by one: exactly once per key, replays
//! answered byte for byte, a refused credit alone, balances, lots, timers
//! and events as the single path leaves them, on both backends.
mod support;

use std::collections::{BTreeMap, BTreeSet};

use boomerang_common::{backend_tests, time::to_timestamp};
use boomerang_proto::{common::v1::ClawbackPolicy, wallet::v1 as pb};
use prost::Message as _;
use sqlx::Row as _;
use support::{DAY, Wallet, check::check, eur};
use tonic::Code;

const CUSTOMERS: usize = 12;

/// Credit `n` of a client: pending, available or expiring, on a few customers.
fn credit(worker: usize, n: usize, now: i64) -> pb::CreditRequest {
    let i = worker * 100 + n;
    let cents = 1 + (i * 37 % 500);
    pb::CreditRequest {
        idempotency_key: format!("k-{worker}-{n}"),
        customer_id: format!("c-{}", i % CUSTOMERS),
        amount: Some(eur(&format!("{}.{:02}", cents / 100, cents % 100))),
        release_at: i.is_multiple_of(3).then(|| to_timestamp(now + DAY)),
        expires_at: i.is_multiple_of(5).then(|| to_timestamp(now + 30 * DAY)),
        source: Some(pb::Source {
            kind: "order".into(),
            reference: format!("o-{i}"),
            rule_version: "program:p@1".into(),
            inputs: String::new(),
        }),
        ..Default::default()
    }
}

async fn count(w: &Wallet, sql: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query(sql)
        .fetch_one(w.db.pool())
        .await?
        .try_get::<i64, _>(0)?)
}

backend_tests! {
    async fn sixty_four_clients_of_credits_in_groups_are_each_written_once(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        let now = w.now();
        let mut calls = tokio::task::JoinSet::new();
        for worker in 0..64 {
            let mut client = w.client.clone();
            calls.spawn(async move {
                let mut answers = Vec::new();
                for n in 0..8 {
                    let req = credit(worker, n, now);
                    let first = client.credit(req.clone()).await?.into_inner();
                    answers.push((req, first));
                }
                anyhow::Ok(answers)
            });
            // Beside them, what a group must answer alone.
            let mut client = w.client.clone();
            calls.spawn(async move {
                let mut req = credit(worker, 0, now);
                req.idempotency_key = format!("past-{worker}");
                req.expires_at = Some(to_timestamp(now - 1));
                let refused = client.credit(req).await.err().map(|s| s.code());
                anyhow::ensure!(refused == Some(Code::InvalidArgument), "an expiry in the past: {refused:?}");
                Ok(Vec::new())
            });
        }
        let mut answers = Vec::new();
        while let Some(done) = calls.join_next().await {
            answers.extend(done??);
        }
        assert_eq!(answers.len(), 64 * 8);
        let ids: BTreeSet<_> = answers.iter().map(|(_, a)| a.credit_id.clone()).collect();
        assert_eq!(ids.len(), answers.len(), "every credit has its own id");

        // Replays, concurrent and each a key already written: the first answer, byte for byte.
        let mut replays = tokio::task::JoinSet::new();
        for (req, first) in answers.iter().step_by(7).cloned() {
            let mut client = w.client.clone();
            replays.spawn(async move {
                let again = client.credit(req.clone()).await?.into_inner();
                assert_eq!(again.encode_to_vec(), first.encode_to_vec());
                let other = pb::CreditRequest { amount: Some(eur("9.99")), ..req };
                let refused = client.credit(other).await.err().map(|s| s.code());
                anyhow::ensure!(refused == Some(Code::AlreadyExists), "another payload: {refused:?}");
                anyhow::Ok(())
            });
        }
        while let Some(done) = replays.join_next().await {
            done??;
        }

        // Exactly one credit, transaction and key per answer; balances add up.
        assert_eq!(count(&w, "SELECT COUNT(*) FROM credits").await?, 512);
        assert_eq!(count(&w, "SELECT COUNT(*) FROM transactions").await?, 512);
        assert_eq!(count(&w, "SELECT COUNT(*) FROM idempotency_keys WHERE scope = 'wallet.Credit'").await?, 512);
        assert_eq!(count(&w, "SELECT COUNT(*) FROM events WHERE type = 'credited'").await?, 512);
        let pending = answers.iter().filter(|(r, _)| r.release_at.is_some()).count();
        assert_eq!(count(&w, "SELECT COUNT(*) FROM jobs WHERE queue = 'wallet.settle'").await?, i64::try_from(pending)?);
        let expiring = answers.iter().filter(|(r, _)| r.expires_at.is_some()).count();
        assert_eq!(count(&w, "SELECT COUNT(*) FROM jobs WHERE queue = 'wallet.expire'").await?, i64::try_from(expiring)?);
        let mut owed: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for (req, _) in &answers {
            let cents: i64 = req.amount.as_ref().map_or(0, |m| m.amount.replace('.', "").parse().unwrap_or(0));
            let entry = owed.entry(req.customer_id.clone()).or_default();
            if req.release_at.is_some() { entry.1 += cents } else { entry.0 += cents }
        }
        for (customer, (available, pending)) in owed {
            let (a, p, _) = w.balance(&customer, "EUR").await?;
            let cents = |s: &str| s.replace('.', "").parse::<i64>().unwrap_or(-1);
            assert_eq!((cents(&a), cents(&p)), (available, pending), "{customer}");
        }

        // The timers still run: every pending credit settles.
        w.advance_days(2);
        support::eventually("settlements", || async {
            Ok(count(&w, "SELECT COUNT(*) FROM credits WHERE status = 'pending'").await? == 0)
        }).await?;
        w.stop().await?;
        check(&w.db, &BTreeSet::new()).await
    }

    async fn credits_in_one_group_pay_back_a_debt_in_arrival_order(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        // Spent, then clawed back: a debt of 10.00 that arriving money pays first.
        let first = w.credit("seed", "c-1", eur("10.00")).await?;
        let hold = w.client.authorize(pb::AuthorizeRequest {
            idempotency_key: "h".into(), customer_id: "c-1".into(), amount: Some(eur("10.00")),
            ttl: None, reference: "order".into(),
        }).await?.into_inner().hold.unwrap_or_default();
        w.client.capture(pb::CaptureRequest { idempotency_key: "c".into(), hold_id: hold.hold_id, amount: None }).await?;
        w.client.reverse(pb::ReverseRequest {
            idempotency_key: "returned".into(),
            customer_id: "c-1".into(),
            credit_id: first.credit_id,
            amount: Some(eur("10.00")),
            clawback_policy: ClawbackPolicy::AllowNegative as i32,
            ..Default::default()
        }).await?;
        assert_eq!(w.balance("c-1", "EUR").await?.0, "-10.00");
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..16 {
            let mut client = w.client.clone();
            calls.spawn(async move {
                client.credit(pb::CreditRequest {
                    idempotency_key: format!("pay-{i}"),
                    customer_id: "c-1".into(),
                    amount: Some(eur("1.00")),
                    ..Default::default()
                }).await.map(drop)
            });
        }
        while let Some(done) = calls.join_next().await {
            done??;
        }
        let (available, _, _) = w.balance("c-1", "EUR").await?;
        assert_eq!(available, "6.00");
        w.stop().await?;
        check(&w.db, &BTreeSet::from(["c-1".to_owned()])).await
    }
}
