//! One client's calls are not held back ~40 ms each by delayed ACKs (Nagle's
//! algorithm on a server socket without `TCP_NODELAY`), on both backends.
//! Not a benchmark: the bound sits far from both the stall and a slow machine.
mod support;

use std::time::{Duration, Instant};

use boomerang_common::{backend_tests, testing::channel};
use boomerang_proto::{
    accrual::v1::{self as pb, accrual_service_client::AccrualServiceClient},
    common::v1::{Channel, Money},
};
use support::{start, with_key};

backend_tests! {
    async fn sequential_previews_do_not_wait_for_delayed_acks(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, gateway::limits::RateLimitConfig::default()).await?;
        suite.demo_program("acme").await?;
        let key = suite.create_key("acme", &["*:write"]).await?;
        let mut accrual = AccrualServiceClient::new(channel(suite.addrs().gateway).await?);
        accrual.enroll_member(with_key(pb::EnrollMemberRequest { idempotency_key: "e".into(), program_id: "demo".into(), customer_id: "ann".into(), ..Default::default() }, &key)?).await?;
        let purchase = pb::Purchase {
            program_id: "demo".into(), order_id: "o-1".into(), customer_id: "ann".into(), currency: "EUR".into(),
            channel: Channel::Online as i32, occurred_at: Some(boomerang_common::time::to_timestamp(suite.clock().now())),
            lines: vec![pb::PurchaseLine { line_id: "1".into(), sku: "shoe".into(), category: "shoes".into(), unit_price: Some(Money { amount: "90.00".into(), asset: "EUR".into() }), quantity: 1, ..Default::default() }],
            ..Default::default()
        };
        let preview = || with_key(pb::PreviewPurchaseRequest { purchase: Some(purchase.clone()) }, &key);
        accrual.preview_purchase(preview()?).await?; // every hop connected
        let mut took = Vec::new();
        for _ in 0..21 {
            let started = Instant::now();
            accrual.preview_purchase(preview()?).await?;
            took.push(started.elapsed());
        }
        took.sort();
        // With the stall every preview takes about 44 ms; without it a few ms.
        // The median, so one pause of a loaded machine does not decide.
        let median = took[took.len() / 2];
        assert!(median < Duration::from_millis(30), "median preview {median:?}: replies wait for delayed ACKs");
        suite.stop().await
    }
}
