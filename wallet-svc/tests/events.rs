//! WatchEvents: durable, resumable by cursor across a restart, live, per tenant.
mod support;

use std::time::Duration;

use boomerang_common::backend_tests;
use boomerang_proto::wallet::v1 as pb;
use support::{Client, Wallet, eur};

/// Reads `n` events from a new stream after `cursor`.
async fn read(
    client: &mut Client,
    cursor: &str,
    n: usize,
) -> anyhow::Result<Vec<pb::WatchEventsResponse>> {
    let mut stream = client
        .watch_events(pb::WatchEventsRequest {
            from_cursor: cursor.into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut got = Vec::new();
    while got.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.message()).await??;
        got.push(next.ok_or_else(|| anyhow::anyhow!("stream ended"))?);
    }
    Ok(got)
}

fn amounts(events: &[pb::WatchEventsResponse]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.amount.clone().unwrap_or_default().amount)
        .collect()
}

backend_tests! {
    async fn watch_resumes_after_a_restart_without_gaps_or_duplicates(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        for (i, amount) in ["1.00", "2.00", "3.00"].iter().enumerate() {
            w.credit(&format!("k-{i}"), "c-1", eur(amount)).await?;
        }
        let first = read(&mut w.client, "", 3).await?;
        assert_eq!(amounts(&first), ["1.00", "2.00", "3.00"]);
        assert!(first.iter().all(|e| e.r#type == pb::EventType::Credited as i32));
        let cursor = first[1].cursor.clone(); // the client saw two of them before it went away

        let mut w = w.restart().await?;
        w.credit("k-3", "c-1", eur("4.00")).await?;
        let resumed = read(&mut w.client, &cursor, 2).await?;
        assert_eq!(amounts(&resumed), ["3.00", "4.00"]);

        // Live: a stream open before the commit receives it.
        let mut live = w.client.clone();
        let cursor = resumed[1].cursor.clone();
        let waiting = tokio::spawn(async move { read(&mut live, &cursor, 1).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        w.credit("k-4", "c-1", eur("5.00")).await?;
        assert_eq!(amounts(&waiting.await??), ["5.00"]);

        // Another tenant's stream sees none of it.
        let mut beta = w.as_tenant("beta").await?;
        beta.credit(pb::CreditRequest { idempotency_key: "b".into(), customer_id: "x".into(), amount: Some(eur("9.00")), ..Default::default() }).await?;
        assert_eq!(amounts(&read(&mut beta, "", 1).await?), ["9.00"]);
        Ok(())
    }

    async fn a_tenant_cannot_see_or_touch_another_tenants_wallet(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        let credit = w.credit("k", "c-1", eur("10.00")).await?;
        let hold = w.authorize("h", "c-1", eur("1.00"), 600).await?;
        let mut beta = w.as_tenant("beta").await?;
        let balance = beta.get_balance(pb::GetBalanceRequest { customer_id: "c-1".into(), ..Default::default() }).await?.into_inner();
        assert!(balance.balances.is_empty());
        let reverse = beta.reverse(pb::ReverseRequest {
            idempotency_key: "r".into(), customer_id: "c-1".into(), credit_id: credit.credit_id, ..Default::default()
        }).await;
        assert_eq!(reverse.err().map(|s| s.code()), Some(tonic::Code::NotFound));
        let capture = beta.capture(pb::CaptureRequest { idempotency_key: "c".into(), hold_id: hold, amount: None }).await;
        assert_eq!(capture.err().map(|s| s.code()), Some(tonic::Code::NotFound));
        let statement = beta.list_entries(pb::ListEntriesRequest { customer_id: "c-1".into(), ..Default::default() }).await?.into_inner();
        assert!(statement.entries.is_empty());
        assert_eq!(w.balance("c-1", "EUR").await?, ("9.00".into(), "0.00".into(), "1.00".into()));
        Ok(())
    }
}
