//! The invariant checker: reads every service's database and reports each
//! promise about money that does not hold. `boomerang check` runs it, and so
//! do the crash and end-to-end tests after they drain.
//!
//! Run it on a quiet system (no request or job in flight): a reward on its
//! way from accrual to the wallet is, for that moment, in one and not the
//! other.
use std::collections::BTreeMap;

use boomerang_common::db::{DatabaseConfig, Db};
use sqlx::{Row, any::AnyRow};

use crate::Databases;

/// What the checker found.
#[derive(Debug, Default)]
pub struct Report {
    /// How many things of each kind were checked.
    pub checked: BTreeMap<&'static str, usize>,
    /// Every promise broken, one line each.
    pub violations: Vec<String>,
}

impl Report {
    /// True when every invariant holds.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    fn count(&mut self, what: &'static str, n: usize) {
        *self.checked.entry(what).or_default() += n;
    }

    fn broken(&mut self, what: String) {
        self.violations.push(what);
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let checked: Vec<String> = self
            .checked
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        writeln!(f, "checked {}", checked.join(", "))?;
        if self.ok() {
            return writeln!(f, "every invariant holds");
        }
        writeln!(f, "{} violations:", self.violations.len())?;
        for v in &self.violations {
            writeln!(f, "  {v}")?;
        }
        Ok(())
    }
}

/// Checks every invariant over the suite's databases (`now` in unix
/// microseconds decides which jobs are due).
pub async fn check(dbs: &Databases, now: i64) -> anyhow::Result<Report> {
    let wallet = open(&dbs.wallet, &wallet_svc::repo::MIGRATIONS).await?;
    let accrual = open(&dbs.accrual, &accrual_svc::repo::MIGRATIONS).await?;
    let campaign = open(&dbs.campaign, &campaign_svc::repo::MIGRATIONS).await?;
    let referral = open(&dbs.referral, &referral_svc::repo::MIGRATIONS).await?;
    let mut report = Report::default();
    ledger(&wallet, &mut report).await?;
    let credited = credits_by_reference(&wallet).await?;
    accrual_rewards(&accrual, &credited, &mut report).await?;
    referral_rewards(&referral, &credited, &mut report).await?;
    budgets(&campaign, &mut report).await?;
    for (name, db) in [
        ("wallet", &wallet),
        ("accrual", &accrual),
        ("campaign", &campaign),
        ("referral", &referral),
    ] {
        jobs(name, db, now, &mut report).await?;
    }
    for db in [wallet, accrual, campaign, referral] {
        db.close().await;
    }
    Ok(report)
}

async fn open(
    cfg: &DatabaseConfig,
    migrations: &boomerang_common::db::Migrations,
) -> anyhow::Result<Db> {
    let cfg = DatabaseConfig {
        max_connections: 2,
        ..cfg.clone()
    };
    Db::connect(&cfg, migrations).await
}

async fn all(db: &Db, sql: &str) -> anyhow::Result<Vec<AnyRow>> {
    Ok(sqlx::query(sql).fetch_all(db.pool()).await?)
}

fn int(row: &AnyRow, col: &str) -> anyhow::Result<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}

fn text(row: &AnyRow, col: &str) -> anyhow::Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

/// Postings balance; balances equal postings, lots, pending credits and open
/// holds; no customer below zero but by an ALLOW_NEGATIVE reversal.
async fn ledger(db: &Db, r: &mut Report) -> anyhow::Result<()> {
    let transactions = all(db, "SELECT COUNT(*) AS n FROM transactions").await?;
    r.count(
        "ledger transactions",
        usize::try_from(int(&transactions[0], "n")?)?,
    );
    for row in all(
        db,
        "SELECT transaction_id, asset, CAST(SUM(amount) AS BIGINT) AS off FROM postings \
         GROUP BY transaction_id, asset HAVING SUM(amount) <> 0",
    )
    .await?
    {
        r.broken(format!(
            "wallet: transaction {} is off by {} in {}",
            int(&row, "transaction_id")?,
            int(&row, "off")?,
            text(&row, "asset")?
        ));
    }
    let sum = |table: &str, col: &str, filter: &str| {
        format!(
            "(SELECT CAST(COALESCE(SUM({col}), 0) AS BIGINT) FROM {table} x \
             WHERE x.account_id = a.id {filter})"
        )
    };
    let sql = format!(
        "SELECT a.id, a.tenant_id, a.kind, a.ref, a.asset, a.available, a.pending, a.held, \
         {} AS p_available, {} AS p_pending, {} AS p_held, \
         {} AS lots, {} AS pending_credits, {} AS open_holds, \
         (SELECT COUNT(*) FROM postings p JOIN transactions t ON t.id = p.transaction_id \
          WHERE p.account_id = a.id AND t.kind = 'reverse' AND p.layer = 'available' \
          AND p.balance_after < 0) AS negative_reversals \
         FROM accounts a ORDER BY a.id",
        sum("postings", "amount", "AND x.layer = 'available'"),
        sum("postings", "amount", "AND x.layer = 'pending'"),
        sum("postings", "amount", "AND x.layer = 'held'"),
        sum("credits", "remaining", ""),
        sum("credits", "pending", ""),
        sum("holds", "amount - captured", "AND x.status = 'authorized'"),
    );
    let accounts = all(db, &sql).await?;
    r.count("ledger accounts", accounts.len());
    for a in &accounts {
        let who = format!(
            "wallet: {}/{} {} {}",
            text(a, "tenant_id")?,
            text(a, "kind")?,
            text(a, "ref")?,
            text(a, "asset")?
        );
        // Funding, campaign and redemption accounts keep no stored balance
        // (every reward would contend on their row): postings are their balance.
        if text(a, "kind")? != "customer" {
            continue;
        }
        let stored = (int(a, "available")?, int(a, "pending")?, int(a, "held")?);
        let posted = (
            int(a, "p_available")?,
            int(a, "p_pending")?,
            int(a, "p_held")?,
        );
        if stored != posted {
            r.broken(format!(
                "{who}: balances {stored:?} but postings sum to {posted:?}"
            ));
        }
        if stored.1 < 0 || stored.2 < 0 {
            r.broken(format!("{who}: negative pending or held {stored:?}"));
        }
        if stored.0 < 0 && int(a, "negative_reversals")? == 0 {
            r.broken(format!(
                "{who}: available {} without an ALLOW_NEGATIVE reversal",
                stored.0
            ));
        }
        let lots = int(a, "lots")?;
        if lots != stored.0.max(0) {
            r.broken(format!(
                "{who}: lots hold {lots}, available is {}",
                stored.0
            ));
        }
        let pending = int(a, "pending_credits")?;
        if pending != stored.1 {
            r.broken(format!(
                "{who}: pending credits {pending}, pending is {}",
                stored.1
            ));
        }
        let holds = int(a, "open_holds")?;
        if holds != stored.2 {
            r.broken(format!("{who}: open holds {holds}, held is {}", stored.2));
        }
    }
    Ok(())
}

/// The wallet's credits by (tenant, source reference): how many, amount, reversed.
/// (References of accrual and referral rewards never collide: see each one's format.)
async fn credits_by_reference(
    wallet: &Db,
) -> anyhow::Result<BTreeMap<(String, String), (i64, i64, i64)>> {
    let rows = all(
        wallet,
        "SELECT tenant_id, source_ref, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS amount, \
         CAST(SUM(reversed) AS BIGINT) AS reversed FROM credits GROUP BY tenant_id, source_ref",
    )
    .await?;
    rows.iter()
        .map(|c| {
            Ok((
                (text(c, "tenant_id")?, text(c, "source_ref")?),
                (int(c, "n")?, int(c, "amount")?, int(c, "reversed")?),
            ))
        })
        .collect()
}

/// One reward on one side, compared with the wallet's credit for it.
fn compare(r: &mut Report, who: &str, owed: (i64, i64), credited: Option<&(i64, i64, i64)>) {
    let (amount, reversed) = owed;
    if reversed < 0 || reversed > amount {
        r.broken(format!("{who}: reversed {reversed} of {amount}"));
    }
    match credited {
        None if amount > 0 => r.broken(format!("{who}: {amount} earned, never credited")),
        None => {}
        Some(&(n, c_amount, c_reversed)) => {
            if n != 1 {
                r.broken(format!("{who}: credited {n} times"));
            }
            if (c_amount, c_reversed) != (amount, reversed) {
                r.broken(format!(
                    "{who}: {amount} earned and {reversed} reversed, the wallet credited {c_amount} and reversed {c_reversed}"
                ));
            }
        }
    }
}

/// Every purchase reward is in the wallet exactly once, net of its returns
/// (vouchers issued as codes are at campaign-svc, not in the wallet).
async fn accrual_rewards(
    accrual: &Db,
    credited: &BTreeMap<(String, String), (i64, i64, i64)>,
    r: &mut Report,
) -> anyhow::Result<()> {
    let rewards = all(
        accrual,
        "SELECT tenant_id, program_id, order_id, reward_no, amount, reversed FROM rewards WHERE kind <> '\"voucher_code\"'",
    )
    .await?;
    r.count("purchase rewards", rewards.len());
    for w in &rewards {
        let reference = accrual_svc::accrual::outbound::RewardRef {
            program: text(w, "program_id")?,
            order: text(w, "order_id")?,
            no: int(w, "reward_no")?,
        }
        .credit_reference();
        let tenant = text(w, "tenant_id")?;
        let who = format!("accrual: {tenant} reward {reference}");
        let owed = (int(w, "amount")?, int(w, "reversed")?);
        compare(r, &who, owed, credited.get(&(tenant, reference)));
    }
    Ok(())
}

/// Every referral reward is in the wallet exactly once, never reversed past itself.
async fn referral_rewards(
    referral: &Db,
    credited: &BTreeMap<(String, String), (i64, i64, i64)>,
    r: &mut Report,
) -> anyhow::Result<()> {
    let rewards = all(
        referral,
        "SELECT tenant_id, referral_id, order_id, beneficiary, amount, reversed FROM referral_rewards",
    )
    .await?;
    r.count("referral rewards", rewards.len());
    for w in &rewards {
        let reference = referral_svc::referrals::reward_reference(
            int(w, "referral_id")?,
            &text(w, "order_id")?,
            &text(w, "beneficiary")?,
        );
        let tenant = text(w, "tenant_id")?;
        let who = format!("referral: {tenant} reward {reference}");
        let owed = (int(w, "amount")?, int(w, "reversed")?);
        compare(r, &who, owed, credited.get(&(tenant, reference)));
    }
    Ok(())
}

/// No campaign budget slot spent or reserved past its capacity.
async fn budgets(campaign: &Db, r: &mut Report) -> anyhow::Result<()> {
    let slots = all(
        campaign,
        "SELECT tenant_id, campaign_id, asset, slot, capacity, reserved, confirmed FROM budget_slots",
    )
    .await?;
    r.count("budget slots", slots.len());
    for s in &slots {
        let (capacity, reserved, confirmed) = (
            int(s, "capacity")?,
            int(s, "reserved")?,
            int(s, "confirmed")?,
        );
        if reserved < 0 || confirmed < 0 || reserved + confirmed > capacity {
            r.broken(format!(
                "campaign: {}/{} {} slot {}: {reserved} reserved and {confirmed} confirmed of {capacity}",
                text(s, "tenant_id")?,
                text(s, "campaign_id")?,
                text(s, "asset")?,
                int(s, "slot")?
            ));
        }
    }
    Ok(())
}

/// No job due and not done (stuck or failing), none parked without its error.
async fn jobs(name: &str, db: &Db, now: i64, r: &mut Report) -> anyhow::Result<()> {
    let rows = sqlx::query(
        "SELECT id, queue, dedupe_key, attempts, last_error, run_at, failed_at, done_at FROM jobs \
         WHERE done_at IS NULL AND (failed_at IS NOT NULL OR run_at <= $1)",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let total = all(db, "SELECT COUNT(*) AS n FROM jobs").await?;
    r.count("jobs", usize::try_from(int(&total[0], "n")?)?);
    for j in &rows {
        let error: Option<String> = j.try_get("last_error")?;
        let failed: Option<i64> = j.try_get("failed_at")?;
        let job = format!(
            "{name}: job {} ({} {}, {} attempts)",
            int(j, "id")?,
            text(j, "queue")?,
            text(j, "dedupe_key")?,
            int(j, "attempts")?
        );
        let error = error.unwrap_or_default();
        match failed {
            Some(_) if error.is_empty() => r.broken(format!("{job}: parked without its error")),
            Some(_) => r.broken(format!("{job}: parked for an operator: {error}")),
            None => r.broken(format!("{job}: due and not done: {error}")),
        }
    }
    Ok(())
}
