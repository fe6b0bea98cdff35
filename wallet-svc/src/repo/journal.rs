//! Posting transactions: lock customer accounts, insert the transaction and
//! its balanced postings, update customer balances, all in the caller's
//! database transaction.
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use boomerang_common::{db::Conn, error::AppError};
use sqlx::Row as _;

use crate::domain::{AccountKind, AccountRef, Balances, Posting, command::Source, posting};

/// A committed transaction, as responses show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    /// Transaction id.
    pub id: i64,
    /// When.
    pub posted_at: i64,
    /// Its legs (zero legs dropped).
    pub postings: Vec<Posting>,
    /// Why.
    pub source: Source,
    /// Statement text.
    pub description: String,
}

/// A locked customer account: its balances when locked and now.
#[derive(Clone, Copy, Debug)]
pub struct Locked {
    /// Row id.
    pub id: i64,
    /// When locked.
    pub before: Balances,
    /// After this operation's postings so far.
    pub after: Balances,
}

/// Ids of committed system accounts, shared by every operation of a process:
/// system accounts are never locked, so after the first sight no query is needed.
#[derive(Clone, Debug, Default)]
pub struct SystemAccounts(Arc<Mutex<HashMap<SystemKey, i64>>>);

/// Tenant, account and asset of a system account.
type SystemKey = (String, AccountRef, String);

impl SystemAccounts {
    fn get(&self, key: &SystemKey) -> Option<i64> {
        self.0.lock().ok()?.get(key).copied()
    }

    fn remember(&self, key: SystemKey, id: i64) {
        if let Ok(mut known) = self.0.lock() {
            known.insert(key, id);
        }
    }

    /// The id of a system account of `tenant`, created on first use.
    pub async fn id(
        &self,
        conn: &mut Conn,
        tenant: &str,
        account: &AccountRef,
        asset: &str,
        now: i64,
    ) -> Result<i64, AppError> {
        let key = (tenant.to_owned(), account.clone(), asset.to_owned());
        if let Some(id) = self.get(&key) {
            return Ok(id);
        }
        let (id, existed) = super::ensure_account(conn, tenant, account, asset, now).await?;
        // Only a row committed before this transaction may be shared: ours could roll back.
        if existed {
            self.remember(key, id);
        }
        Ok(id)
    }
}

/// One ledger operation inside one database transaction.
pub struct Journal<'a> {
    tenant: &'a str,
    now: i64,
    customers: BTreeMap<(String, String), Locked>,
    systems: BTreeMap<(AccountRef, String), i64>,
    known: SystemAccounts,
}

impl<'a> Journal<'a> {
    /// A journal for `tenant` at `now`.
    pub fn new(known: &SystemAccounts, tenant: &'a str, now: i64) -> Self {
        Self {
            tenant,
            now,
            customers: BTreeMap::new(),
            systems: BTreeMap::new(),
            known: known.clone(),
        }
    }

    /// The operation's time.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The tenant.
    pub fn tenant(&self) -> &'a str {
        self.tenant
    }

    /// Locks customer accounts (creating them on first use), in a fixed order
    /// so concurrent operations never deadlock. One upsert per account: on
    /// PostgreSQL its DO UPDATE takes the row lock; SQLite's write lock
    /// already serialises writers.
    pub async fn lock(
        &mut self,
        conn: &mut Conn,
        mut keys: Vec<(String, String)>,
    ) -> Result<(), AppError> {
        keys.sort();
        keys.dedup();
        for (customer, asset) in keys {
            if self
                .customers
                .contains_key(&(customer.clone(), asset.clone()))
            {
                continue;
            }
            let row = sqlx::query(
                "INSERT INTO accounts (tenant_id, kind, ref, asset, created_at) VALUES ($1, 'customer', $2, $3, $4) \
                 ON CONFLICT (tenant_id, kind, ref, asset) DO UPDATE SET kind = excluded.kind \
                 RETURNING id, available, pending, held",
            )
            .bind(self.tenant)
            .bind(&customer)
            .bind(&asset)
            .bind(self.now)
            .fetch_one(&mut *conn)
            .await?;
            let balances = Balances {
                available: row.try_get("available")?,
                pending: row.try_get("pending")?,
                held: row.try_get("held")?,
            };
            self.customers.insert(
                (customer, asset),
                Locked {
                    id: row.try_get("id")?,
                    before: balances,
                    after: balances,
                },
            );
        }
        Ok(())
    }

    /// A locked customer account.
    pub fn customer(&self, customer: &str, asset: &str) -> Result<Locked, AppError> {
        self.customers
            .get(&(customer.to_owned(), asset.to_owned()))
            .copied()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("customer account not locked")))
    }

    /// The id of a system account (never locked).
    pub async fn system(
        &mut self,
        conn: &mut Conn,
        account: &AccountRef,
        asset: &str,
    ) -> Result<i64, AppError> {
        let key = (account.clone(), asset.to_owned());
        if let Some(id) = self.systems.get(&key) {
            return Ok(*id);
        }
        let id = self
            .known
            .id(conn, self.tenant, account, asset, self.now)
            .await?;
        self.systems.insert(key, id);
        Ok(id)
    }

    /// Posts a balanced transaction; customer layers may not go below zero
    /// except available when `allow_negative`. Long because the overdraft
    /// check and the writes must stay in this order in one place.
    pub async fn post(
        &mut self,
        conn: &mut Conn,
        kind: &str,
        source: &Source,
        description: &str,
        postings: Vec<Posting>,
        allow_negative: bool,
    ) -> Result<Posted, AppError> {
        let postings = posting::balanced(postings)?;
        let row = sqlx::query(
            "INSERT INTO transactions (tenant_id, kind, source_kind, source_ref, rule_version, inputs, description, posted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(self.tenant)
        .bind(kind)
        .bind(&source.kind)
        .bind(&source.reference)
        .bind(&source.rule_version)
        .bind(&source.inputs)
        .bind(description)
        .bind(self.now)
        .fetch_one(&mut *conn)
        .await?;
        let tx_id: i64 = row.try_get("id")?;
        let mut rows = Vec::with_capacity(postings.len());
        for p in &postings {
            let (account_id, balance_after) = if p.account.kind == AccountKind::Customer {
                let key = (p.account.id.clone(), p.asset.clone());
                let locked = self.customers.get_mut(&key).ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!("posting to an unlocked customer account"))
                })?;
                let after = locked.after.apply(p.layer, p.amount)?;
                (locked.id, Some(after))
            } else {
                (self.system(conn, &p.account, &p.asset).await?, None)
            };
            rows.push((account_id, balance_after));
        }
        // Overdraft is judged on the net effect of all legs, not leg by leg.
        for ((_, asset), locked) in &self.customers {
            locked.after.check(&locked.before, allow_negative, asset)?;
        }
        // All legs in one statement.
        let values: Vec<String> = (0..postings.len())
            .map(|i| {
                let b = i * 5;
                format!(
                    "($1, $2, ${}, ${}, ${}, ${}, ${}, $3)",
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO postings (tenant_id, transaction_id, account_id, layer, asset, amount, balance_after, posted_at) VALUES {}",
            values.join(", ")
        );
        let mut insert = sqlx::query(&sql)
            .bind(self.tenant)
            .bind(tx_id)
            .bind(self.now);
        for (p, (account_id, balance_after)) in postings.iter().zip(rows) {
            insert = insert
                .bind(account_id)
                .bind(p.layer.as_str())
                .bind(p.asset.as_str())
                .bind(p.amount)
                .bind(balance_after);
        }
        insert.execute(&mut *conn).await?;
        // Counted once written: what could still fail is the commit itself.
        for p in &postings {
            metrics::counter!("boomerang_ledger_postings_total", "asset" => p.asset.clone())
                .increment(1);
        }
        Ok(Posted {
            id: tx_id,
            posted_at: self.now,
            postings,
            source: source.clone(),
            description: description.to_owned(),
        })
    }

    /// Writes changed customer balances. Call once, before commit.
    pub async fn save(&self, conn: &mut Conn) -> Result<(), AppError> {
        for locked in self.customers.values().filter(|l| l.after != l.before) {
            sqlx::query(
                "UPDATE accounts SET available = $1, pending = $2, held = $3 WHERE id = $4",
            )
            .bind(locked.after.available)
            .bind(locked.after.pending)
            .bind(locked.after.held)
            .bind(locked.id)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}
