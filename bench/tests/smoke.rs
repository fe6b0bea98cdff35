//! Every scenario runs for five seconds without one failed call, on SQLite
//! and (unless opted out) PostgreSQL: the figures are not checked, only that
//! the bench measures a working system.
use boomerang_bench::{Common, drive::Run, purchase, wallet};
use boomerang_common::testing::{postgres_enabled, postgres_url};

fn common(database_url: &str) -> Common {
    Common {
        database_url: database_url.to_owned(),
        clients: vec![4],
        seconds: 5,
        warmup: 0,
        rate: 0.0,
        json: false,
        no_group_commit: false,
        address: None,
        key_file: None,
    }
}

fn clean(runs: &[Run]) {
    assert!(!runs.is_empty());
    for r in runs {
        assert_eq!(r.failed(), 0, "{}", r.line());
        assert!(r.ok > 0, "{}", r.line());
    }
}

fn urls() -> Vec<String> {
    let mut urls = vec![String::new()];
    if postgres_enabled() {
        urls.push(postgres_url());
    }
    urls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_credit() -> anyhow::Result<()> {
    for url in urls() {
        clean(&wallet::credit(&common(&url), 1_000).await?);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_capture() -> anyhow::Result<()> {
    for url in urls() {
        clean(&wallet::capture(&common(&url), 200).await?);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchase_until_delivered() -> anyhow::Result<()> {
    for url in urls() {
        let runs = purchase::purchases(&common(&url), 50).await?;
        clean(&runs);
        assert!(runs.iter().all(|r| r.extra.contains_key("delivered_per_s")));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_overhead() -> anyhow::Result<()> {
    clean(&purchase::gateway_overhead(&common("")).await?);
    Ok(())
}
