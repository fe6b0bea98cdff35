//! Multi-row statements for group commit: each writes every row of a batch
//! in one round trip, fed as one JSON parameter (`db::json_rows`), so one
//! prepared statement serves any batch size on both backends.
use std::collections::HashMap;

use boomerang_common::{
    db::{Backend, Col, Conn, json_param, json_rows},
    error::AppError,
    events::commit_order_sql,
    jobs::{NewJob, schedule_many_sql},
};
use serde::Serialize;
use sqlx::Row as _;

use crate::domain::Balances;

/// Reserves `n` transaction ids and `n` credit ids, so rows can be written
/// with their ids known (no reliance on the order of `RETURNING`).
async fn reserve_ids(
    conn: &mut Conn,
    backend: Backend,
    n: usize,
) -> Result<Vec<(i64, i64)>, AppError> {
    let count = i64::try_from(n).map_err(|e| AppError::Internal(e.into()))?;
    match backend {
        Backend::Postgres => {
            let rows = sqlx::query(
                "SELECT nextval('transactions_id_seq') AS tx, nextval('credits_id_seq') AS cr \
                 FROM generate_series(1, $1)",
            )
            .bind(count)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("tx")?, r.try_get("cr")?)))
                .collect::<Result<_, sqlx::Error>>()
                .map_err(AppError::from)
        }
        Backend::Sqlite => {
            // The write lock is held (BEGIN IMMEDIATE): nobody else can take these.
            let row = sqlx::query(
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM transactions) AS tx, \
                 (SELECT COALESCE(MAX(id), 0) FROM credits) AS cr",
            )
            .fetch_one(&mut *conn)
            .await?;
            let (tx, cr): (i64, i64) = (row.try_get("tx")?, row.try_get("cr")?);
            Ok((1..=count).map(|i| (tx + i, cr + i)).collect())
        }
    }
}

/// Transaction and credit ids reserved ahead on PostgreSQL, a block per
/// round trip (sequences give each id once, whatever rolls back; an id
/// reserved and never used is a gap, as a rolled-back insert leaves). SQLite
/// reserves per batch, under its write lock.
#[derive(Debug, Default)]
pub struct Ids(std::sync::Mutex<std::collections::VecDeque<(i64, i64)>>);

/// Ids reserved per round trip.
const ID_BLOCK: usize = 1_024;

impl Ids {
    /// `n` pairs of (transaction id, credit id).
    pub async fn take(
        &self,
        conn: &mut Conn,
        backend: Backend,
        n: usize,
    ) -> Result<Vec<(i64, i64)>, AppError> {
        if backend == Backend::Sqlite {
            return reserve_ids(conn, backend, n).await;
        }
        let mut taken = self.pop(n);
        if taken.len() < n {
            let mut fresh = reserve_ids(conn, backend, (n - taken.len()).max(ID_BLOCK)).await?;
            let rest = fresh.split_off(n - taken.len());
            taken.extend(fresh);
            if let Ok(mut ids) = self.0.lock() {
                ids.extend(rest);
            }
        }
        Ok(taken)
    }

    fn pop(&self, n: usize) -> Vec<(i64, i64)> {
        match self.0.lock() {
            Ok(mut ids) => {
                let k = n.min(ids.len());
                ids.drain(..k).collect()
            }
            Err(_) => Vec::new(),
        }
    }
}

/// A customer account of a batch: tenant, customer, asset.
pub type CustomerKey = (String, String, String);

/// Locks customer accounts (creating them on first use) in key order, as
/// `Journal::lock` does, so batches and single operations never deadlock.
/// Returns each account's id and balances.
pub async fn lock_customers(
    conn: &mut Conn,
    backend: Backend,
    keys: &[CustomerKey],
    now: i64,
) -> Result<HashMap<CustomerKey, (i64, Balances)>, AppError> {
    #[derive(Serialize)]
    struct Row<'a> {
        t: &'a str,
        c: &'a str,
        a: &'a str,
    }
    let mut sorted: Vec<&CustomerKey> = keys.iter().collect();
    sorted.sort();
    sorted.dedup();
    let rows: Vec<Row<'_>> = sorted.iter().map(|(t, c, a)| Row { t, c, a }).collect();
    let sql = format!(
        "INSERT INTO accounts (tenant_id, kind, ref, asset, created_at) \
         SELECT r.t, 'customer', r.c, r.a, $2 FROM {} WHERE true \
         ON CONFLICT (tenant_id, kind, ref, asset) DO UPDATE SET kind = excluded.kind \
         RETURNING id, tenant_id, ref, asset, available, pending, held",
        json_rows(
            backend,
            1,
            &[("t", Col::Text), ("c", Col::Text), ("a", Col::Text)]
        )
    );
    let rows = sqlx::query(&sql)
        .bind(json_param(&rows)?)
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            let key = (
                r.try_get("tenant_id")?,
                r.try_get("ref")?,
                r.try_get("asset")?,
            );
            let balances = Balances {
                available: r.try_get("available")?,
                pending: r.try_get("pending")?,
                held: r.try_get("held")?,
            };
            Ok((key, (r.try_get("id")?, balances)))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// A journal transaction row.
#[derive(Serialize)]
pub struct TransactionRow<'a> {
    /// Reserved id.
    pub id: i64,
    /// Tenant.
    pub t: &'a str,
    /// Source kind.
    pub sk: &'a str,
    /// Source reference.
    pub sr: &'a str,
    /// Rule version.
    pub rv: &'a str,
    /// Inputs.
    pub i: &'a str,
    /// Description.
    pub d: &'a str,
}

/// A posting row.
#[derive(Serialize)]
pub struct PostingRow<'a> {
    /// Tenant.
    pub t: &'a str,
    /// Transaction.
    pub tx: i64,
    /// Account.
    pub a: i64,
    /// Layer.
    pub l: &'static str,
    /// Asset.
    pub s: &'a str,
    /// Signed amount.
    pub m: i64,
    /// The customer layer's balance after it.
    pub b: Option<i64>,
}

/// A credit (and lot) row.
#[derive(Serialize)]
pub struct CreditRow<'a> {
    /// Reserved id.
    pub id: i64,
    /// Tenant.
    pub t: &'a str,
    /// Customer account.
    pub a: i64,
    /// Funding account.
    pub f: i64,
    /// Transaction.
    pub tx: i64,
    /// Amount.
    pub m: i64,
    /// Pending part.
    pub p: i64,
    /// Spendable part.
    pub r: i64,
    /// pending | available.
    pub st: &'static str,
    /// Release time.
    pub ra: Option<i64>,
    /// Expiry.
    pub ea: Option<i64>,
    /// Source kind.
    pub sk: &'a str,
    /// Source reference.
    pub sr: &'a str,
    /// Rule version.
    pub rv: &'a str,
    /// Labels, JSON.
    pub lb: String,
    /// Tax treatment.
    pub tt: &'static str,
}

/// A lot consumption row (a credit paying back a negative balance).
#[derive(Serialize)]
pub struct ConsumptionRow {
    /// Transaction.
    pub tx: i64,
    /// Credit.
    pub c: i64,
    /// Amount.
    pub m: i64,
}

/// An event row.
#[derive(Serialize)]
pub struct EventRow<'a> {
    /// Tenant.
    pub t: &'a str,
    /// Type.
    pub k: &'static str,
    /// Customer.
    pub c: &'a str,
    /// Asset.
    pub s: &'a str,
    /// Amount.
    pub m: i64,
    /// Reference.
    pub r: String,
    /// Source kind.
    pub sk: &'a str,
    /// Source reference.
    pub sr: &'a str,
}

/// New balances of a locked customer account.
#[derive(Serialize)]
pub struct BalanceRow {
    /// Account.
    pub id: i64,
    /// Available.
    pub av: i64,
    /// Pending.
    pub pe: i64,
    /// Held.
    pub he: i64,
}

/// Everything a batch of credits writes.
#[derive(Default)]
pub struct CreditRows<'a> {
    /// Transactions.
    pub transactions: Vec<TransactionRow<'a>>,
    /// Their postings.
    pub postings: Vec<PostingRow<'a>>,
    /// Credits.
    pub credits: Vec<CreditRow<'a>>,
    /// Debt paid back from arriving lots.
    pub consumptions: Vec<ConsumptionRow>,
    /// Events.
    pub events: Vec<EventRow<'a>>,
    /// Changed balances.
    pub balances: Vec<BalanceRow>,
    /// Settlement, expiry and warning timers.
    pub jobs: Vec<NewJob<'a>>,
}

/// The tables a group writes, in the order of their statements.
#[derive(Clone, Copy, Debug)]
enum Table {
    Transactions,
    Postings,
    Credits,
    Consumptions,
    Events,
    Balances,
    Jobs,
}

impl Table {
    const ALL: [Self; 7] = [
        Self::Transactions,
        Self::Postings,
        Self::Credits,
        Self::Consumptions,
        Self::Events,
        Self::Balances,
        Self::Jobs,
    ];

    /// Whether its statement takes the time (`$now`).
    fn uses_now(self) -> bool {
        !matches!(self, Self::Consumptions | Self::Balances)
    }

    /// Its statement: `$json` its rows, `$now` the time.
    fn sql(self, backend: Backend, json: usize, now: usize) -> String {
        use Col::{Int, Text};
        let rows = |cols: &[(&str, Col)]| json_rows(backend, json, cols);
        match self {
            Self::Transactions => format!(
                "INSERT INTO transactions (id, tenant_id, kind, source_kind, source_ref, rule_version, inputs, description, posted_at) \
             SELECT r.id, r.t, 'credit', r.sk, r.sr, r.rv, r.i, r.d, ${now} FROM {}",
                rows(&[
                    ("id", Int),
                    ("t", Text),
                    ("sk", Text),
                    ("sr", Text),
                    ("rv", Text),
                    ("i", Text),
                    ("d", Text)
                ])
            ),
            Self::Postings => format!(
                "INSERT INTO postings (tenant_id, transaction_id, account_id, layer, asset, amount, balance_after, posted_at) \
             SELECT r.t, r.tx, r.a, r.l, r.s, r.m, r.b, ${now} FROM {}",
                rows(&[
                    ("t", Text),
                    ("tx", Int),
                    ("a", Int),
                    ("l", Text),
                    ("s", Text),
                    ("m", Int),
                    ("b", Int)
                ])
            ),
            Self::Credits => format!(
                "INSERT INTO credits (id, tenant_id, account_id, funding_id, transaction_id, amount, pending, remaining, \
             status, release_at, expires_at, source_kind, source_ref, rule_version, labels, tax_treatment, created_at) \
             SELECT r.id, r.t, r.a, r.f, r.tx, r.m, r.p, r.r, r.st, r.ra, r.ea, r.sk, r.sr, r.rv, r.lb, r.tt, ${now} FROM {}",
                rows(&[
                    ("id", Int),
                    ("t", Text),
                    ("a", Int),
                    ("f", Int),
                    ("tx", Int),
                    ("m", Int),
                    ("p", Int),
                    ("r", Int),
                    ("st", Text),
                    ("ra", Int),
                    ("ea", Int),
                    ("sk", Text),
                    ("sr", Text),
                    ("rv", Text),
                    ("lb", Text),
                    ("tt", Text),
                ])
            ),
            Self::Consumptions => format!(
                "INSERT INTO lot_consumptions (transaction_id, credit_id, amount) SELECT r.tx, r.c, r.m FROM {}",
                rows(&[("tx", Int), ("c", Int), ("m", Int)])
            ),
            Self::Events => format!(
                "INSERT INTO events (commit_order, tenant_id, type, customer_id, asset, amount, reference, \
             source_kind, source_ref, occurred_at) \
             SELECT {}, r.t, r.k, r.c, r.s, r.m, r.r, r.sk, r.sr, ${now} FROM {}",
                commit_order_sql(backend),
                rows(&[
                    ("t", Text),
                    ("k", Text),
                    ("c", Text),
                    ("s", Text),
                    ("m", Int),
                    ("r", Text),
                    ("sk", Text),
                    ("sr", Text)
                ])
            ),
            Self::Balances => format!(
                "UPDATE accounts SET available = r.av, pending = r.pe, held = r.he FROM {} WHERE accounts.id = r.id",
                rows(&[("id", Int), ("av", Int), ("pe", Int), ("he", Int)])
            ),
            Self::Jobs => schedule_many_sql(backend, json, now),
        }
    }
}

/// Writes a batch's rows. On PostgreSQL, one statement for all tables (each
/// table's insert a data-modifying CTE: one round trip, foreign keys checked
/// at its end); on SQLite, in-process, one statement per table.
pub async fn write_credits(
    conn: &mut Conn,
    backend: Backend,
    rows: &CreditRows<'_>,
    now: i64,
) -> Result<(), AppError> {
    let parts = [
        json_param(&rows.transactions)?,
        json_param(&rows.postings)?,
        json_param(&rows.credits)?,
        json_param(&rows.consumptions)?,
        json_param(&rows.events)?,
        json_param(&rows.balances)?,
        json_param(&rows.jobs)?,
    ];
    match backend {
        Backend::Postgres => {
            let now_param = parts.len() + 1;
            let ctes: Vec<String> = Table::ALL
                .iter()
                .enumerate()
                .map(|(i, t)| format!("w{i} AS ({})", t.sql(backend, i + 1, now_param)))
                .collect();
            let sql = format!("WITH {} SELECT 1", ctes.join(", "));
            let mut query = sqlx::query(&sql);
            for p in parts {
                query = query.bind(p);
            }
            query.bind(now).execute(&mut *conn).await?;
        }
        Backend::Sqlite => {
            for (table, p) in Table::ALL.into_iter().zip(parts) {
                if p == "[]" {
                    continue;
                }
                let sql = table.sql(backend, 1, 2);
                let query = sqlx::query(&sql).bind(p);
                if table.uses_now() {
                    query.bind(now)
                } else {
                    query
                }
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(())
}
