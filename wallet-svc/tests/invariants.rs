//! Ledger invariants under random operations and under concurrency, on both
//! backends: every transaction balances per asset, every customer balance
//! equals the sum of its postings, lots add up to what is spendable, no
//! overdraft unless a clawback allowed it, and exactly-once under races.
mod support;

use std::collections::BTreeSet;

use boomerang_common::backend_tests;
use boomerang_proto::{common::v1::ClawbackPolicy, wallet::v1 as pb};
use proptest::{
    prelude::*,
    test_runner::{Config as ProptestConfig, TestRunner},
};
use support::{Wallet, check::check, eur};
use tonic::Code;

#[derive(Clone, Debug)]
enum Op {
    Credit {
        customer: usize,
        cents: i64,
        pending_days: Option<i64>,
        expiry_days: Option<i64>,
    },
    Advance {
        days: i64,
    },
    Reverse {
        customer: usize,
        credit: usize,
        cents: Option<i64>,
        policy: i32,
    },
    Authorize {
        customer: usize,
        cents: i64,
    },
    Capture {
        hold: usize,
        cents: Option<i64>,
    },
    Void {
        hold: usize,
    },
    Transfer {
        from: usize,
        to: usize,
        cents: i64,
    },
    Donate {
        customer: usize,
        cents: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let customer = 0usize..3;
    let cents = 1i64..5_000;
    prop_oneof![
        4 => (customer.clone(), cents.clone(), proptest::option::of(1i64..20), proptest::option::of(1i64..40))
            .prop_map(|(customer, cents, pending_days, expiry_days)| Op::Credit {
                customer, cents, pending_days,
                // Expiry after release, as the API requires.
                expiry_days: expiry_days.map(|d| d + pending_days.unwrap_or(0)),
            }),
        2 => (1i64..15).prop_map(|days| Op::Advance { days }),
        2 => (customer.clone(), 0usize..8, proptest::option::of(cents.clone()), 1i32..4)
            .prop_map(|(customer, credit, cents, policy)| Op::Reverse { customer, credit, cents, policy }),
        3 => (customer.clone(), cents.clone()).prop_map(|(customer, cents)| Op::Authorize { customer, cents }),
        2 => (0usize..8, proptest::option::of(cents.clone())).prop_map(|(hold, cents)| Op::Capture { hold, cents }),
        1 => (0usize..8).prop_map(|hold| Op::Void { hold }),
        2 => (customer.clone(), customer.clone(), cents.clone()).prop_map(|(from, to, cents)| Op::Transfer { from, to, cents }),
        1 => (customer, cents).prop_map(|(customer, cents)| Op::Donate { customer, cents }),
    ]
}

fn euros(cents: i64) -> boomerang_proto::common::v1::Money {
    eur(&format!("{}.{:02}", cents / 100, cents % 100))
}

/// Applies ops; refusals (no balance, wrong state) are fine, anything else is not.
async fn apply(w: &mut Wallet, ops: &[Op]) -> anyhow::Result<BTreeSet<String>> {
    let customers = ["alice", "bob", "carol"];
    let mut credits: Vec<(String, String)> = Vec::new();
    let mut holds: Vec<String> = Vec::new();
    let mut negative_allowed = BTreeSet::new();
    for (i, op) in ops.iter().enumerate() {
        let key = format!("op-{i}");
        let day = |d: i64| {
            Some(boomerang_common::time::to_timestamp(
                w.now() + d * support::DAY,
            ))
        };
        let result: Result<(), tonic::Status> = match op.clone() {
            Op::Credit {
                customer,
                cents,
                pending_days,
                expiry_days,
            } => {
                let req = pb::CreditRequest {
                    idempotency_key: key,
                    customer_id: customers[customer].into(),
                    amount: Some(euros(cents)),
                    release_at: pending_days.and_then(day),
                    expires_at: expiry_days.and_then(day),
                    ..Default::default()
                };
                w.client
                    .credit(req)
                    .await
                    .map(|r| credits.push((customers[customer].into(), r.into_inner().credit_id)))
            }
            Op::Advance { days } => {
                w.advance_days(days);
                tokio::time::sleep(std::time::Duration::from_millis(30)).await;
                Ok(())
            }
            Op::Reverse {
                customer,
                credit,
                cents,
                policy,
            } => {
                let Some((owner, credit_id)) = credits.get(credit).cloned() else {
                    continue;
                };
                let customer_id = if customer == 0 {
                    owner
                } else {
                    customers[customer].into()
                };
                if policy == ClawbackPolicy::AllowNegative as i32 {
                    negative_allowed.insert(customer_id.clone());
                }
                let req = pb::ReverseRequest {
                    idempotency_key: key,
                    customer_id,
                    credit_id,
                    amount: cents.map(euros),
                    clawback_policy: policy,
                    ..Default::default()
                };
                w.client.reverse(req).await.map(drop)
            }
            Op::Authorize { customer, cents } => w
                .authorize(&key, customers[customer], euros(cents), 3_600 * 24 * 3)
                .await
                .map(|h| holds.push(h)),
            Op::Capture { hold, cents } => {
                let Some(hold_id) = holds.get(hold).cloned() else {
                    continue;
                };
                w.client
                    .capture(pb::CaptureRequest {
                        idempotency_key: key,
                        hold_id,
                        amount: cents.map(euros),
                    })
                    .await
                    .map(drop)
            }
            Op::Void { hold } => {
                let Some(hold_id) = holds.get(hold).cloned() else {
                    continue;
                };
                w.client
                    .void(pb::VoidRequest {
                        idempotency_key: key,
                        hold_id,
                        reason: String::new(),
                    })
                    .await
                    .map(drop)
            }
            Op::Transfer { from, to, cents } => {
                let req = pb::TransferRequest {
                    idempotency_key: key,
                    from_customer_id: customers[from].into(),
                    destination: Some(pb::transfer_request::Destination::ToCustomerId(
                        customers[to].into(),
                    )),
                    amount: Some(euros(cents)),
                    description: String::new(),
                };
                w.client.transfer(req).await.map(drop)
            }
            Op::Donate { customer, cents } => {
                let req = pb::TransferRequest {
                    idempotency_key: key,
                    from_customer_id: customers[customer].into(),
                    destination: Some(pb::transfer_request::Destination::ToCauseId("trees".into())),
                    amount: Some(euros(cents)),
                    description: String::new(),
                };
                w.client.transfer(req).await.map(drop)
            }
        };
        if let Err(status) = result {
            let expected = matches!(
                status.code(),
                Code::FailedPrecondition | Code::NotFound | Code::InvalidArgument
            );
            anyhow::ensure!(expected, "{op:?} failed unexpectedly: {status:?}");
        }
    }
    Ok(negative_allowed)
}

backend_tests! {
    async fn random_operations_keep_the_ledger_consistent(backend) -> anyhow::Result<()> {
        let cases = if backend == boomerang_common::testing::TestBackend::Sqlite { 24 } else { 12 };
        let mut runner = TestRunner::new(ProptestConfig { cases, max_shrink_iters: 50, ..ProptestConfig::default() });
        let handle = tokio::runtime::Handle::current();
        let outcome = runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
            tokio::task::block_in_place(|| {
                handle.block_on(async {
                    let mut w = Wallet::start(backend).await?;
                    let negative = apply(&mut w, &ops).await?;
                    w.stop().await?; // a consistent state: no timer commits mid-check
                    check(&w.db, &negative).await
                })
            })
            .map_err(|e| TestCaseError::fail(format!("{e:#}")))
        });
        outcome.map_err(|e| anyhow::anyhow!("{e}"))
    }

    async fn known_edge_cases_keep_the_ledger_consistent(backend) -> anyhow::Result<()> {
        let cases = vec![
            // A hold outlives an ALLOW_NEGATIVE clawback: releasing it pays the debt first.
            vec![
                Op::Credit { customer: 0, cents: 10_000, pending_days: None, expiry_days: None },
                Op::Authorize { customer: 0, cents: 10_000 },
                Op::Reverse { customer: 0, credit: 0, cents: Some(5_000), policy: ClawbackPolicy::AllowNegative as i32 },
                Op::Void { hold: 0 },
            ],
            // Released after its expiry: expires at release.
            vec![
                Op::Credit { customer: 1, cents: 700, pending_days: Some(2), expiry_days: Some(3) },
                Op::Advance { days: 10 },
            ],
            // A gift of expiring points keeps their expiry.
            vec![
                Op::Credit { customer: 0, cents: 900, pending_days: None, expiry_days: Some(5) },
                Op::Transfer { from: 0, to: 2, cents: 900 },
                Op::Advance { days: 6 },
            ],
        ];
        for ops in cases {
            let mut w = Wallet::start(backend).await?;
            let negative = apply(&mut w, &ops).await?;
            w.stop().await?;
            check(&w.db, &negative).await.map_err(|e| anyhow::anyhow!("{ops:?}: {e}"))?;
        }
        Ok(())
    }

    async fn sixty_four_concurrent_spends_of_a_balance_for_ten(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        w.credit("seed", "c-1", eur("100.00")).await?;
        let mut spends = tokio::task::JoinSet::new();
        for i in 0..64 {
            let mut client = w.client.clone();
            spends.spawn(async move {
                let hold = client.authorize(pb::AuthorizeRequest {
                    idempotency_key: format!("a-{i}"), customer_id: "c-1".into(), amount: Some(eur("10.00")),
                    ttl: None, reference: format!("order-{i}"),
                }).await?.into_inner().hold.unwrap_or_default();
                client.capture(pb::CaptureRequest { idempotency_key: format!("c-{i}"), hold_id: hold.hold_id, amount: None }).await?;
                Ok::<_, tonic::Status>(())
            });
        }
        let (mut ok, mut refused) = (0, 0);
        while let Some(done) = spends.join_next().await {
            match done? {
                Ok(()) => ok += 1,
                Err(s) if s.code() == Code::FailedPrecondition => refused += 1,
                Err(s) => anyhow::bail!("unexpected {s:?}"),
            }
        }
        assert_eq!((ok, refused), (10, 54));
        assert_eq!(w.balance("c-1", "EUR").await?, ("0.00".into(), "0.00".into(), "0.00".into()));
        w.stop().await?;
        check(&w.db, &BTreeSet::new()).await
    }

    async fn a_replayed_key_under_concurrency_has_one_effect(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let mut client = w.client.clone();
            calls.spawn(async move {
                client.credit(pb::CreditRequest {
                    idempotency_key: "same".into(), customer_id: "c-1".into(), amount: Some(eur("1.00")), ..Default::default()
                }).await.map(|r| r.into_inner().credit_id)
            });
        }
        let mut ids = BTreeSet::new();
        while let Some(done) = calls.join_next().await {
            match done? {
                Ok(id) => { ids.insert(id); }
                // A racing duplicate may be told to retry; it never applies twice.
                Err(s) if s.code() == Code::Aborted => {}
                Err(s) => anyhow::bail!("unexpected {s:?}"),
            }
        }
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_eq!(w.balance("c-1", "EUR").await?.0, "1.00");
        Ok(())
    }
}
