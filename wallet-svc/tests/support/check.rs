//! The ledger's invariants, read straight from the database.
use std::collections::BTreeSet;

use boomerang_common::db::Db;
use sqlx::Row as _;

/// The invariants, read straight from the database.
pub async fn check(db: &Db, negative_allowed: &BTreeSet<String>) -> anyhow::Result<()> {
    let unbalanced = sqlx::query(
        "SELECT transaction_id, asset FROM postings GROUP BY transaction_id, asset HAVING SUM(amount) <> 0",
    )
    .fetch_all(db.pool())
    .await?;
    anyhow::ensure!(
        unbalanced.is_empty(),
        "{} unbalanced transactions",
        unbalanced.len()
    );

    // Every posting and credit points at its transaction and accounts (what
    // foreign keys checked before group commit wrote these rows in bulk).
    for (orphans, what) in [
        (
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM postings p \
             LEFT JOIN transactions t ON t.id = p.transaction_id LEFT JOIN accounts a ON a.id = p.account_id \
             WHERE t.id IS NULL OR a.id IS NULL",
            "postings without their transaction or account",
        ),
        (
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM credits c \
             LEFT JOIN transactions t ON t.id = c.transaction_id LEFT JOIN accounts a ON a.id = c.account_id \
             LEFT JOIN accounts f ON f.id = c.funding_id WHERE t.id IS NULL OR a.id IS NULL OR f.id IS NULL",
            "credits without their transaction or accounts",
        ),
    ] {
        let n: i64 = sqlx::query(orphans)
            .fetch_one(db.pool())
            .await?
            .try_get("n")?;
        anyhow::ensure!(n == 0, "{n} {what}");
    }

    let accounts = sqlx::query(
        "SELECT id, ref, available, pending, held FROM accounts WHERE kind = 'customer'",
    )
    .fetch_all(db.pool())
    .await?;
    for a in accounts {
        let id: i64 = a.try_get("id")?;
        let customer: String = a.try_get("ref")?;
        let stored: (i64, i64, i64) = (
            a.try_get("available")?,
            a.try_get("pending")?,
            a.try_get("held")?,
        );
        let sum = |layer: &'static str| {
            let pool = db.pool().clone();
            async move {
                let row = sqlx::query(
                    "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM postings WHERE account_id = $1 AND layer = $2",
                )
                .bind(id)
                .bind(layer)
                .fetch_one(&pool)
                .await?;
                anyhow::Ok(row.try_get::<i64, _>("s")?)
            }
        };
        let summed = (
            sum("available").await?,
            sum("pending").await?,
            sum("held").await?,
        );
        anyhow::ensure!(
            stored == summed,
            "{customer}: stored {stored:?} != postings {summed:?}"
        );
        anyhow::ensure!(
            stored.1 >= 0 && stored.2 >= 0,
            "{customer}: negative pending or held {stored:?}"
        );
        anyhow::ensure!(
            stored.0 >= 0 || negative_allowed.contains(&customer),
            "{customer}: overdrawn without ALLOW_NEGATIVE: {stored:?}"
        );
        // Each leg's balance_after is the running sum of the layer, in posting order:
        // whatever wrote them (one by one or in groups), they were applied in that order.
        let legs = sqlx::query(
            "SELECT layer, amount, balance_after FROM postings WHERE account_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(db.pool())
        .await?;
        let mut running = std::collections::HashMap::<String, i64>::new();
        for leg in legs {
            let layer: String = leg.try_get("layer")?;
            let sum = running.entry(layer.clone()).or_default();
            *sum += leg.try_get::<i64, _>("amount")?;
            let after: Option<i64> = leg.try_get("balance_after")?;
            anyhow::ensure!(
                after == Some(*sum),
                "{customer}: {layer} leg says balance_after {after:?}, running sum is {sum}"
            );
        }
        let one = |sql: &'static str| {
            let pool = db.pool().clone();
            async move {
                let row = sqlx::query(sql).bind(id).fetch_one(&pool).await?;
                anyhow::Ok(row.try_get::<i64, _>("s")?)
            }
        };
        let lots = one("SELECT CAST(COALESCE(SUM(remaining), 0) AS BIGINT) AS s FROM credits WHERE account_id = $1").await?;
        anyhow::ensure!(
            lots == stored.0.max(0),
            "{customer}: lots {lots} != spendable {}",
            stored.0
        );
        let pending = one("SELECT CAST(COALESCE(SUM(pending), 0) AS BIGINT) AS s FROM credits WHERE account_id = $1").await?;
        anyhow::ensure!(
            pending == stored.1,
            "{customer}: pending credits {pending} != pending {}",
            stored.1
        );
        let held = one("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM holds WHERE account_id = $1 AND status = 'authorized'").await?;
        anyhow::ensure!(
            held == stored.2,
            "{customer}: open holds {held} != held {}",
            stored.2
        );
    }
    Ok(())
}
