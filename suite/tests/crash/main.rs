//! The crash test: the five services as separate processes on PostgreSQL, a
//! mixed load of purchases, returns (concurrent ones of one order too),
//! checkout holds and captures, checkout sessions (confirmed, cancelled,
//! left to lapse), and referred customers, while a random
//! service is killed with SIGKILL every 2-5 s and restarted. Then the load
//! stops, deliveries drain, and the client's record of what was acknowledged
//! must match the ledger to the cent, with every invariant holding.
//!
//! 60 s by default (CI); `BOOMERANG_CRASH_SECS=600 cargo test -p boomerang
//! --test crash -- --nocapture` for a longer run. PostgreSQL only: SIGKILL
//! against a shared database server is the production failure it models.
mod cluster;
mod load;

use std::time::Duration;

use boomerang_common::{testing::postgres_enabled, time::now_micros};
use cluster::{ADMIN_KEY, Cluster, Svc};
use load::{Client, shop_key, work};
use tonic::transport::Channel;

fn run_for() -> Duration {
    let secs = std::env::var("BOOMERANG_CRASH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

async fn gateway(cluster: &Cluster) -> anyhow::Result<Channel> {
    Ok(
        Channel::from_shared(format!("http://{}", cluster.addr(Svc::Gateway)))?
            .connect_timeout(Duration::from_secs(1))
            .connect_lazy(),
    )
}

/// Kills a random service every 2-5 s and restarts it, until `until`.
async fn chaos(cluster: &mut Cluster, until: tokio::time::Instant) -> anyhow::Result<()> {
    while tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(2_000 + rand::random::<u64>() % 3_000)).await;
        let victim = Svc::ALL[rand::random::<u32>() as usize % Svc::ALL.len()];
        cluster.crash(victim).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn money_survives_kill_9_of_any_service() -> anyhow::Result<()> {
    anyhow::ensure!(
        postgres_enabled(),
        "the crash test needs PostgreSQL (BOOMERANG_TEST_POSTGRES=off is not allowed here)"
    );
    let mut cluster = Cluster::start(1).await?;
    let outcome = run(&mut cluster).await;
    if let Err(e) = &outcome {
        eprintln!("crash test failed: {e:#}\n{}", cluster.tails());
    }
    outcome
}

async fn run(cluster: &mut Cluster) -> anyhow::Result<()> {
    let chan = gateway(cluster).await?;
    let client = Client::new(chan.clone(), shop_key(chan.clone(), ADMIN_KEY).await?);
    client.set_up().await?;

    let started = std::time::Instant::now();
    let until = tokio::time::Instant::now() + run_for();
    let workers = 4;
    let tasks: Vec<_> = (0..workers)
        .map(|w| tokio::spawn(work(client.clone(), w, workers, until)))
        .collect();
    chaos(cluster, until).await?;
    for t in tasks {
        t.await??;
    }

    // Quiet now: every delivery must land, every invariant hold.
    let load_secs = started.elapsed().as_secs_f64();
    let databases = cluster.databases();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let report = loop {
        let report = boomerang::check::check(&databases, now_micros()).await?;
        // Every checkout session ended: nothing is held any more.
        let settled = report.ok() && client.holding().await?.is_empty();
        if settled || tokio::time::Instant::now() > deadline {
            break report;
        }
        if std::env::var_os("BOOMERANG_CRASH_VERBOSE").is_some() {
            eprintln!("draining: {report}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    anyhow::ensure!(report.ok(), "{report}");
    let holding = client.holding().await?;
    anyhow::ensure!(
        holding.is_empty(),
        "holds nothing captures or voids: {}",
        holding.join(", ")
    );

    let off = client.ledger_differences().await?;
    let record = client.record.lock().map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "crash test: {load_secs:.0} s of load, drained in {:.1} s, {} kills (each followed by a restart), acknowledged {:?}, refused {:?}, {} retries; {report}",
        started.elapsed().as_secs_f64() - load_secs,
        cluster.kills,
        record.acknowledged,
        record.refused,
        record.retries,
    );
    anyhow::ensure!(
        off.is_empty(),
        "the ledger differs from what was acknowledged:\n{}",
        off.join("\n")
    );
    anyhow::ensure!(
        cluster.kills > 0 || run_for() < Duration::from_secs(5),
        "nothing was killed"
    );
    Ok(())
}
