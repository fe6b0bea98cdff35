//! `events`: what notify-svc delivers per second from a backlog, to one
//! local webhook receiver and to NATS JetStream. Purchases make the backlog
//! first (two `reward.pending` each); then a notify-svc of its own, on a
//! fresh database with one webhook and a fresh stream, follows the logs from
//! their start and delivers everything. Each figure is the events delivered
//! (2xx from the receiver; acknowledged by JetStream) over the time from its
//! start to the last one.
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use boomerang_common::{config::ServerConfig, db::Db};
use tokio_util::sync::CancellationToken;

use crate::{
    Common,
    drive::Run,
    purchase::{Shop, record},
};

/// The NATS server the figure is taken against.
const NATS: &str = "nats://127.0.0.1:4222";

/// A receiver answering 204 to every POST, counting them.
async fn receiver() -> anyhow::Result<(String, Arc<AtomicU64>)> {
    let got = Arc::new(AtomicU64::new(0));
    let counted = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, got))
}

/// A run of `n` events delivered in `seconds`.
fn run(scenario: &str, backend: &str, n: u64, seconds: f64) -> Run {
    Run {
        scenario: scenario.into(),
        backend: backend.into(),
        clients: 1,
        seconds,
        ok: n,
        per_second: n as f64 / seconds.max(1e-9),
        p50_ms: 0.0,
        p90_ms: 0.0,
        p99_ms: 0.0,
        p999_ms: 0.0,
        max_ms: 0.0,
        errors: Default::default(),
        first_errors: Default::default(),
        extra: Default::default(),
    }
}

/// Makes `purchases` purchases (16 at a time) and waits for their rewards.
async fn backlog(shop: &Shop, purchases: u32, members: u32) -> anyhow::Result<()> {
    let mut buying = tokio::task::JoinSet::new();
    for part in 0..16u32 {
        let (channel, auth) = (shop.channel.clone(), shop.auth.clone());
        buying.spawn(async move {
            for i in (part..purchases).step_by(16) {
                record(channel.clone(), &auth, members, format!("ev-{i}")).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = buying.join_next().await {
        done??;
    }
    shop.drained().await?;
    Ok(())
}

/// The events figure: a backlog of `purchases` purchases delivered to a
/// webhook and to JetStream by a notify-svc started after it.
pub async fn events(common: &Common, purchases: u32) -> anyhow::Result<Vec<Run>> {
    let members = 100;
    let shop = Shop::open(common, "events", members).await?;
    backlog(&shop, purchases, members).await?;
    let expected = u64::from(purchases) * 2;

    let (url, received) = receiver().await?;
    let tag = format!("{:08x}", rand::random::<u32>());
    let a = shop.addrs();
    let mut cfg = notify_svc::Config {
        server: ServerConfig::on("127.0.0.1:0".parse()?),
        // Not "events_notify": the suite's own notify-svc has that one.
        database: shop.env.database("events_out", 8),
        internal_auth: shop.env.auth().clone(),
        sources: notify_svc::config::Sources {
            accrual: format!("http://{}", a.accrual),
            wallet: format!("http://{}", a.wallet),
            campaign: format!("http://{}", a.campaign),
            referral: format!("http://{}", a.referral),
        },
        ..notify_svc::Config::default()
    };
    cfg.delivery.allow_private_targets = true;
    cfg.nats.url = NATS.into();
    cfg.nats.stream = format!("BENCH{tag}");
    cfg.nats.subject_prefix = format!("bench{tag}");
    let app = notify_svc::App::build(cfg.clone()).await?;
    // The webhook, before anything is followed.
    let db = Db::connect(&cfg.database, &notify_svc::repo::MIGRATIONS).await?;
    let mut conn = db.pool().acquire().await?;
    let hook = notify_svc::repo::WebhookRow {
        tenant_id: crate::env::TENANT.into(),
        id: format!("wh_{tag}"),
        url,
        types: vec![],
        description: "bench".into(),
        state: "active".into(),
        secret: notify_svc::domain::signature::Secret::generate().reveal(),
        previous_secret: String::new(),
        previous_until: 0,
        created_at: 0,
        updated_at: 0,
    };
    notify_svc::repo::webhooks::insert(&mut conn, &hook).await?;
    drop(conn);

    let nats = async_nats::connect(NATS).await.map_err(|e| {
        anyhow::anyhow!(
            "the events figure needs NATS with JetStream on {NATS} (`nats-server -js`): {e}"
        )
    })?;
    let js = async_nats::jetstream::new(nats);
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let started = Instant::now();
    let serving = tokio::spawn(app.run_until(async move { stopped.cancelled().await }));
    let (mut to_hook, mut to_nats) = (None, None);
    while to_hook.is_none() || to_nats.is_none() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "{expected} events not delivered in 2 minutes: {} to the webhook, JetStream done: {}",
            received.load(Ordering::Relaxed),
            to_nats.is_some()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        if to_hook.is_none() && received.load(Ordering::Relaxed) >= expected {
            to_hook = Some(started.elapsed());
        }
        if to_nats.is_none()
            && let Ok(mut s) = js.get_stream(&cfg.nats.stream).await
            && s.info().await?.state.messages >= expected
        {
            to_nats = Some(started.elapsed());
        }
    }
    stop.cancel();
    serving.await??;
    js.delete_stream(&cfg.nats.stream).await?;
    db.close().await;
    let backend = if common.database_url.is_empty() {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let runs = vec![
        run(
            "events to a webhook",
            backend,
            received.load(Ordering::Relaxed),
            to_hook.map_or(0.0, |d| d.as_secs_f64()),
        ),
        run(
            "events to JetStream",
            backend,
            expected,
            to_nats.map_or(0.0, |d| d.as_secs_f64()),
        ),
    ];
    for r in &runs {
        common.report(r.clone());
    }
    shop.close().await?;
    Ok(runs)
}
