//! Events out on NATS JetStream, on both backends: every public event is
//! published once on `<prefix>.<tenant>.<type>` with `Nats-Msg-Id` = the
//! event's id, though notify-svc is killed (SIGKILL) while publishing and
//! started again: the stream holds each event exactly once, none lost.
//! Needs the NATS server with JetStream on 127.0.0.1:4222.
mod support;

use std::{collections::BTreeSet, process::Stdio, time::Duration};

use boomerang_common::{
    backend_tests,
    testing::{TestDb, channel},
};
use boomerang_proto::{accrual::v1 as apb, common::v1::Money};
use support::{start, with_key};
use tokio::process::{Child, Command};

const NATS: &str = "nats://127.0.0.1:4222";

/// `boomerang serve notify` on its own database, following the suite's
/// services and publishing under `prefix` into `stream`.
async fn notify(
    suite: &boomerang::Suite,
    db: &TestDb,
    prefix: &str,
    stream: &str,
) -> anyhow::Result<Child> {
    let a = suite.addrs();
    let mut vars = vec![
        ("SERVER__LISTEN", "127.0.0.1:0".to_owned()),
        ("DATABASE__URL", db.config.url.clone()),
        ("TELEMETRY__FILTER", "warn".into()),
        (
            "INTERNAL_AUTH__KEY",
            boomerang_common::testing::internal_auth().key,
        ),
        ("SOURCES__ACCRUAL", format!("http://{}", a.accrual)),
        ("SOURCES__WALLET", format!("http://{}", a.wallet)),
        ("SOURCES__CAMPAIGN", format!("http://{}", a.campaign)),
        ("SOURCES__REFERRAL", format!("http://{}", a.referral)),
        ("DELIVERY__POLL_MS", "20".into()),
        ("NATS__URL", NATS.into()),
        ("NATS__STREAM", stream.into()),
        ("NATS__SUBJECT_PREFIX", prefix.into()),
        ("NATS__MAX_AGE_S", "3600".into()),
        ("NATS__DUPLICATE_WINDOW_S", "600".into()),
    ];
    if let Some(schema) = &db.config.schema {
        vars.push(("DATABASE__SCHEMA", schema.clone()));
    }
    Ok(Command::new(env!("CARGO_BIN_EXE_boomerang"))
        .args(["serve", "notify"])
        .envs(
            vars.iter()
                .map(|(k, v)| (format!("BOOMERANG_NOTIFY__{k}"), v)),
        )
        .env_remove("RUST_LOG")
        .env_remove(boomerang_common::config::CONFIG_FILE_ENV)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()?)
}

/// Every message of `stream`: (subject, Nats-Msg-Id, the CloudEvent).
async fn messages(
    js: &async_nats::jetstream::Context,
    stream: &str,
) -> anyhow::Result<Vec<(String, String, serde_json::Value)>> {
    let mut s = js.get_stream(stream).await?;
    let state = s.info().await?.state.clone();
    let mut out = Vec::new();
    if state.messages == 0 {
        return Ok(out);
    }
    for seq in state.first_sequence..=state.last_sequence {
        let m = s.get_raw_message(seq).await?;
        let id = m
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        out.push((
            m.subject.to_string(),
            id,
            serde_json::from_slice(&m.payload)?,
        ));
    }
    Ok(out)
}

async fn purchases(
    gw: tonic::transport::Channel,
    key: String,
    from: usize,
    to: usize,
) -> anyhow::Result<()> {
    let mut accrual = apb::accrual_service_client::AccrualServiceClient::new(gw);
    for i in from..to {
        let line = apb::PurchaseLine {
            line_id: "l".into(),
            sku: "s".into(),
            category: "shoes".into(),
            unit_price: Some(Money {
                amount: "20.00".into(),
                asset: "EUR".into(),
            }),
            quantity: 1,
            discount: None,
        };
        let p = apb::Purchase {
            program_id: "demo".into(),
            order_id: format!("o-{i}"),
            customer_id: "ann".into(),
            currency: "EUR".into(),
            lines: vec![line],
            channel: boomerang_proto::common::v1::Channel::Online as i32,
            store_id: String::new(),
            occurred_at: Some(boomerang_common::time::to_timestamp(
                boomerang_common::time::now_micros(),
            )),
        };
        let record = apb::RecordPurchaseRequest {
            idempotency_key: format!("o-{i}"),
            purchase: Some(p),
        };
        accrual.record_purchase(with_key(record, &key)?).await?;
    }
    Ok(())
}

backend_tests! {
    async fn every_event_is_on_jetstream_once_though_notify_is_killed_while_publishing(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let gw = channel(suite.addrs().gateway).await?;
        suite.demo_program("shop").await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        let enrol = apb::EnrollMemberRequest { idempotency_key: "e".into(), program_id: "demo".into(), customer_id: "ann".into(), ..Default::default() };
        apb::accrual_service_client::AccrualServiceClient::new(gw.clone()).enroll_member(with_key(enrol, &key)?).await?;
        let run = format!("{:08x}", rand::random::<u32>());
        let (prefix, stream) = (format!("t{run}"), format!("T{run}"));
        let db = TestDb::fresh(backend, "notify_nats").await?;
        let nats = async_nats::connect(NATS).await.map_err(|e| {
            anyhow::anyhow!("these tests need NATS with JetStream on {NATS} (start it with `nats-server -js`): {e}")
        })?;
        let js = async_nats::jetstream::new(nats);

        // Purchases keep coming while notify-svc is killed twice.
        let buying = tokio::spawn(purchases(gw.clone(), key.clone(), 0, 150));
        let mut child = notify(&suite, &db, &prefix, &stream).await?;
        for _ in 0..2 {
            let seen = loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if let Ok(mut s) = js.get_stream(&stream).await {
                    let n = s.info().await?.state.messages;
                    if n > 0 {
                        break n;
                    }
                }
            };
            child.start_kill()?;
            child.wait().await?;
            println!("killed after {seen} messages");
            child = notify(&suite, &db, &prefix, &stream).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        buying.await??;
        let expected = 2 * 150; // 1.00 EUR and 20 PTS pending per purchase
        for _ in 0..300 {
            if messages(&js, &stream).await?.len() >= expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Anything more (a duplicate) would have come by now.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = messages(&js, &stream).await?;
        let ids: BTreeSet<&str> = got.iter().map(|(_, id, _)| id.as_str()).collect();
        assert_eq!((got.len(), ids.len()), (expected, expected), "each event once");
        // The crash's worst moment, for sure: an event JetStream acknowledged
        // is still queued (its removal never committed). Sent again, dropped.
        let queue = boomerang_common::db::Db::connect(&db.config, &notify_svc::repo::MIGRATIONS).await?;
        let (_, id, event) = &got[0];
        let mut conn = queue.pool().acquire().await?;
        notify_svc::repo::bus::queue(&mut conn, id, &got[0].0, &event.to_string(), 0).await?;
        for _ in 0..100 {
            if notify_svc::repo::bus::backlog(&queue).await? == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(notify_svc::repo::bus::backlog(&queue).await?, 0, "published again");
        assert_eq!(messages(&js, &stream).await?.len(), expected, "and dropped as a duplicate");
        child.start_kill()?;
        js.delete_stream(&stream).await?;
        for (subject, id, event) in &got {
            assert_eq!(subject, &format!("{prefix}.shop.reward.pending"));
            assert_eq!(event["id"].as_str(), Some(id.as_str()));
            assert_eq!(event["type"].as_str(), Some("boomerang.reward.pending.v1"));
            assert_eq!(event["tenant"].as_str(), Some("shop"));
        }
        suite.stop().await
    }
}
