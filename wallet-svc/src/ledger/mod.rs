//! The ledger facade: each operation runs inside the caller's database
//! transaction (claimed idempotency key first), locks the customer accounts it
//! touches, posts balanced transactions, keeps lots, schedules its timers and
//! appends its events, so all of it commits or none of it does.
mod credit;
mod credit_batch;
mod export;
pub mod group;
mod hold;
pub mod jobs;
mod read;
mod transfer;

use std::sync::Arc;

use boomerang_common::{
    db::{Conn, Db},
    error::AppError,
    tenant::TenantId,
    time::Clock,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::{
    domain::{
        AccountRef, Layer, Posting,
        command::Source,
        lot::{self, Take},
    },
    repo::{
        credits, events,
        journal::{Journal, SystemAccounts},
    },
};

pub use crate::repo::journal::Posted;

pub use credit::{Credited, Reversed};
pub use export::StatementFilter;
pub use hold::{Captured, HoldView};
pub use read::{Page, WatchFilter};
pub use transfer::Transferred;

/// Ledger settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// Days before a lot expires that EXPIRING_SOON is emitted.
    pub expiry_warning_days: u32,
    /// Hold lifetime when the request gives none, seconds.
    pub default_hold_ttl_s: u64,
    /// Longest hold lifetime, seconds.
    pub max_hold_ttl_s: u64,
    /// Credits written in groups.
    pub group_commit: group::GroupCommitConfig,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            expiry_warning_days: 7,
            default_hold_ttl_s: 15 * 60,
            max_hold_ttl_s: 7 * 24 * 3_600,
            group_commit: group::GroupCommitConfig::default(),
        }
    }
}

/// The ledger of one service instance.
#[derive(Clone, Debug)]
pub struct Ledger {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    clock: Clock,
    cfg: LedgerConfig,
    system_accounts: SystemAccounts,
    /// Ids reserved ahead for credits written in groups.
    ids: crate::repo::batch::Ids,
    /// Wakes event watchers and job runners after a commit in this process.
    committed: Arc<Notify>,
}

impl Ledger {
    /// A ledger over a migrated database.
    pub fn new(db: Db, clock: Clock, cfg: LedgerConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                cfg,
                system_accounts: SystemAccounts::default(),
                ids: crate::repo::batch::Ids::default(),
                committed: Arc::new(Notify::new()),
            }),
        }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Settings.
    pub fn config(&self) -> &LedgerConfig {
        &self.inner.cfg
    }

    /// A journal for one operation of `tenant`, now.
    fn journal<'t>(&self, tenant: &'t TenantId) -> Journal<'t> {
        Journal::new(
            &self.inner.system_accounts,
            tenant.as_str(),
            self.clock().now(),
        )
    }

    /// Tells watchers something was committed.
    pub fn committed(&self) {
        self.inner.committed.notify_waiters();
    }

    /// Takes `amount` from an account's lots, soonest-expiring first, recording
    /// the consumption under `transaction`.
    async fn spend_lots(
        &self,
        conn: &mut Conn,
        account_id: i64,
        amount: i64,
        transaction: Option<i64>,
    ) -> Result<Vec<Take>, AppError> {
        let lots = credits::spendable(conn, account_id).await?;
        let (takes, uncovered) = lot::take(&lots, amount);
        if uncovered > 0 {
            // Only a negative balance (an allowed clawback) leaves less in lots than is spent.
            tracing::debug!(account_id, uncovered, "spend not covered by lots");
        }
        credits::consume(conn, &takes, transaction).await?;
        Ok(takes)
    }

    /// Money arriving on lots first pays back a negative available balance
    /// (left by an ALLOW_NEGATIVE clawback): the lots give up that much.
    async fn repay_debt(
        &self,
        conn: &mut Conn,
        arriving: &[Take],
        available_before: i64,
        transaction: i64,
    ) -> Result<(), AppError> {
        let debt = -available_before;
        if debt <= 0 {
            return Ok(());
        }
        let lots: Vec<lot::Lot> = arriving
            .iter()
            .map(|t| lot::Lot {
                id: t.id,
                remaining: t.amount,
            })
            .collect();
        let (paid, _) = lot::take(&lots, debt);
        credits::consume(conn, &paid, Some(transaction)).await
    }

    /// Expires lots whose time has passed (after a hold gave them back).
    async fn expire_lapsed(
        &self,
        conn: &mut Conn,
        journal: &mut Journal<'_>,
        customer: &str,
        asset: &str,
        lots: &[Take],
    ) -> Result<(), AppError> {
        for t in lots {
            let due = credits::get(conn, journal.tenant(), t.id)
                .await?
                .and_then(|c| c.expires_at)
                .is_some_and(|at| at <= journal.now());
            if due {
                self.expire_lot(conn, journal, customer, asset, t.id)
                    .await?;
            }
        }
        Ok(())
    }

    /// Moves a lot's remainder to breakage.
    async fn expire_lot(
        &self,
        conn: &mut Conn,
        journal: &mut Journal<'_>,
        customer: &str,
        asset: &str,
        credit_id: i64,
    ) -> Result<(), AppError> {
        let expired = credits::expire(conn, credit_id).await?;
        if expired == 0 {
            return Ok(());
        }
        let source = Source {
            kind: "expiry".into(),
            reference: credit_ref(credit_id),
            ..Source::default()
        };
        let postings = vec![
            Posting::new(
                AccountRef::customer(customer),
                Layer::Available,
                asset,
                -expired,
            ),
            Posting::new(AccountRef::breakage(), Layer::Available, asset, expired),
        ];
        journal
            .post(
                conn,
                "expire",
                &source,
                "expired points or cashback",
                postings,
                false,
            )
            .await?;
        let event = events::NewEvent {
            kind: "expired",
            customer: customer.to_owned(),
            asset: asset.to_owned(),
            amount: expired,
            reference: credit_ref(credit_id),
            source_kind: source.kind,
            source_ref: source.reference,
        };
        events::append(conn, self.db(), journal.tenant(), &event, journal.now()).await
    }
}

/// Public id of a credit (and its lot).
pub fn credit_ref(id: i64) -> String {
    format!("cr_{id}")
}

/// Public id of a hold.
pub fn hold_ref(id: i64) -> String {
    format!("hd_{id}")
}

/// Public id of a transaction.
pub fn transaction_ref(id: i64) -> String {
    format!("tx_{id}")
}

/// Parses a public id with its prefix.
pub fn parse_ref(prefix: &str, s: &str) -> Option<i64> {
    s.strip_prefix(prefix)?.strip_prefix('_')?.parse().ok()
}
