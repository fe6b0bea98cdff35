//! Every scenario runs for five seconds without one failed call, on SQLite
//! and (unless opted out) PostgreSQL: the figures are not checked, only that
//! the bench measures a working system.
use boomerang_bench::{
    Common, campaign, checkout, drive::Run, events, mixed, purchase, simulate, wallet,
};
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
        budget_slots: 8,
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

/// PostgreSQL runs take turns: each starts the whole suite with pools of up
/// to 88 connections, its relays and timers busy under load, and the server
/// takes 100 (in parallel they ran out of connections now and then).
static POSTGRES_TURN: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// A turn on PostgreSQL for a run on `url` ("" is SQLite, which needs none).
async fn turn(url: &str) -> anyhow::Result<Option<tokio::sync::SemaphorePermit<'static>>> {
    if url.is_empty() {
        return Ok(None);
    }
    Ok(Some(POSTGRES_TURN.acquire().await?))
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
        let _turn = turn(&url).await?;
        clean(&wallet::credit(&common(&url), 1_000).await?);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_capture() -> anyhow::Result<()> {
    for url in urls() {
        let _turn = turn(&url).await?;
        clean(&wallet::capture(&common(&url), 200).await?);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchase_until_delivered() -> anyhow::Result<()> {
    for url in urls() {
        let _turn = turn(&url).await?;
        let runs = purchase::purchases(&common(&url), 50).await?;
        clean(&runs);
        delivered(&runs);
    }
    Ok(())
}

/// Every run waited for its outbox, and nothing was parked as failed.
fn delivered(runs: &[Run]) {
    for r in runs {
        assert!(r.extra.contains_key("delivered_per_s"), "{}", r.line());
        assert_eq!(r.extra.get("parked"), Some(&0.0), "{}", r.line());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchase_hot_campaign() -> anyhow::Result<()> {
    for url in urls() {
        let _turn = turn(&url).await?;
        let runs = purchase::hot_campaign(&common(&url), 50).await?;
        clean(&runs);
        delivered(&runs);
        // 1% of 90.00 EUR a purchase, reserved from the one budget.
        let used = runs
            .iter()
            .map(|r| r.extra.get("budget_used_eur").copied().unwrap_or(0.0));
        assert!(
            used.clone().all(|u| u > 0.0),
            "{:?}",
            used.collect::<Vec<_>>()
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_reserve_on_slots_and_one_row() -> anyhow::Result<()> {
    for url in urls() {
        let _turn = turn(&url).await?;
        for slots in [8, 1] {
            let opts = Common {
                budget_slots: slots,
                ..common(&url)
            };
            clean(&campaign::reserve(&opts).await?);
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_day() -> anyhow::Result<()> {
    for url in urls() {
        let _turn = turn(&url).await?;
        let runs = mixed::mixed(&common(&url), 50).await?;
        clean(&runs);
        delivered(&runs);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_overhead() -> anyhow::Result<()> {
    clean(&purchase::gateway_overhead(&common("")).await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_out() -> anyhow::Result<()> {
    for url in urls() {
        let _turn = turn(&url).await?;
        clean(&events::events(&common(&url), 50).await?);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_cart() -> anyhow::Result<()> {
    for url in urls() {
        let _turn = turn(&url).await?;
        clean(&checkout::evaluate(&common(&url), 20).await?);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate() -> anyhow::Result<()> {
    for url in urls() {
        let _turn = turn(&url).await?;
        let priced = simulate::simulate(&common(&url), 500, 10).await?;
        assert_eq!(priced.purchases, 500, "{priced:?}");
        assert_ne!(priced.cost_delta, "0.00 EUR", "{priced:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coupon_batch() -> anyhow::Result<()> {
    for url in urls() {
        let _turn = turn(&url).await?;
        let made = campaign::coupon_batch(&common(&url), 15_000).await?;
        assert_eq!(made.codes, 15_000, "{made:?}");
    }
    Ok(())
}
