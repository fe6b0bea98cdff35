//! Reads: balances, statements, expiring lots, and the event stream.
use boomerang_common::{
    error::AppError,
    events::{self as common_events, Cursor},
    tenant::TenantId,
};
use tokio::sync::mpsc;

use super::Ledger;
use crate::{
    domain::Balances,
    repo::{events, reads},
};

/// A page request: size (already bounded) and the decoded cursor.
#[derive(Clone, Debug)]
pub struct Page<C> {
    /// Items at most.
    pub size: i64,
    /// Continue after this.
    pub after: Option<C>,
}

/// Which events a watcher wants.
#[derive(Clone, Debug, Default)]
pub struct WatchFilter {
    /// Type names; empty means all.
    pub kinds: Vec<&'static str>,
    /// One customer, or all.
    pub customer: Option<String>,
}

/// A page of expiring lots and the cursor of the next page (expiry, lot id).
pub type LotPage = (Vec<reads::LotRow>, Option<(i64, i64)>);

impl Ledger {
    /// Balances per asset, now or as of an instant. An asset asked for that
    /// the customer never had is zero in every layer, not absent.
    #[tracing::instrument(name = "boomerang.wallet.ledger.balances", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn balances(
        &self,
        tenant: &TenantId,
        customer: &str,
        asset: Option<&str>,
        as_of: Option<i64>,
    ) -> Result<Vec<(String, Balances)>, AppError> {
        let mut found = reads::balances(self.db(), tenant.as_str(), customer, asset, as_of).await?;
        if let Some(asset) = asset.filter(|_| found.is_empty()) {
            found.push((asset.to_owned(), Balances::default()));
        }
        Ok(found)
    }

    /// A statement page, newest first; the next cursor is the last entry's id.
    #[tracing::instrument(name = "boomerang.wallet.ledger.entries", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn entries(
        &self,
        tenant: &TenantId,
        customer: &str,
        filter: reads::EntryFilter<'_>,
        page: Page<i64>,
    ) -> Result<(Vec<reads::EntryRow>, Option<i64>), AppError> {
        let filter = reads::EntryFilter {
            before_id: page.after,
            ..filter
        };
        let mut rows =
            reads::entries(self.db(), tenant.as_str(), customer, &filter, page.size + 1).await?;
        let next = more(&mut rows, page.size).map(|last| last.id);
        Ok((rows, next))
    }

    /// Lots expiring before `until`, soonest first.
    #[tracing::instrument(name = "boomerang.wallet.ledger.expiring_lots", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn expiring_lots(
        &self,
        tenant: &TenantId,
        customer: &str,
        asset: &str,
        until: i64,
        page: Page<(i64, i64)>,
    ) -> Result<LotPage, AppError> {
        let after = page.after.unwrap_or((i64::MIN, i64::MIN));
        let mut rows = reads::expiring_lots(
            self.db(),
            tenant.as_str(),
            customer,
            asset,
            until,
            after,
            page.size + 1,
        )
        .await?;
        let next = more(&mut rows, page.size).map(|last| (last.expires_at, last.id));
        Ok((rows, next))
    }

    /// Streams events after `cursor`: the backlog, then new ones as they commit.
    /// Ends when the receiver is dropped.
    pub fn watch(
        &self,
        tenant: TenantId,
        cursor: (i64, i64),
        filter: WatchFilter,
    ) -> mpsc::Receiver<Result<events::Event, AppError>> {
        let db = self.db().clone();
        let start = Cursor::new(cursor.0, cursor.1);
        common_events::follow(self.inner.committed.clone(), start, move |after| {
            let (db, tenant, filter) = (db.clone(), tenant.clone(), filter.clone());
            async move {
                let page = events::after(
                    &db,
                    Some(tenant.as_str()),
                    after.parts(),
                    common_events::PAGE,
                )
                .await?;
                Ok(page
                    .into_iter()
                    .map(|e| {
                        let wanted = (filter.kinds.is_empty()
                            || filter.kinds.contains(&e.event.kind))
                            && filter
                                .customer
                                .as_ref()
                                .is_none_or(|c| *c == e.event.customer);
                        (Cursor::new(e.commit_order, e.seq), wanted.then_some(e))
                    })
                    .collect())
            }
        })
    }

    /// Streams every tenant's events after `cursor`, each with its tenant
    /// (for notify-svc): the backlog, then new ones as they commit.
    pub fn follow(&self, cursor: Cursor) -> mpsc::Receiver<Result<events::Event, AppError>> {
        let db = self.db().clone();
        common_events::follow(self.inner.committed.clone(), cursor, move |after| {
            let db = db.clone();
            async move {
                let page = events::after(&db, None, after.parts(), common_events::PAGE).await?;
                Ok(page
                    .into_iter()
                    .map(|e| (Cursor::new(e.commit_order, e.seq), Some(e)))
                    .collect())
            }
        })
    }
}

/// Trims a page fetched with one extra row; returns the last kept row when there is more.
fn more<T>(rows: &mut Vec<T>, size: i64) -> Option<&T> {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if rows.len() > size {
        rows.truncate(size);
        rows.last()
    } else {
        None
    }
}
