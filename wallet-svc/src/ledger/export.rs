//! Statements for finance and BI: every entry of one customer, or of every
//! customer, in a period, as CSV or NDJSON rows streamed in chunks, read a
//! page at a time (an export of any size holds one page in memory), by
//! customer account then oldest first. Entries of the last [`SETTLING`] are
//! left out: a posting's id is taken before its transaction commits, so a
//! page read past it could miss one still committing.
use boomerang_common::{
    error::AppError,
    export::{self, Format, Sink},
    money::wire,
    tenant::TenantId,
};
use tokio::sync::mpsc;

use super::{Ledger, transaction_ref};
use crate::repo::reads::{self, EntryRow};

/// The columns of a statements export.
pub const COLUMNS: [&str; 12] = [
    "posted_at",
    "customer_id",
    "entry_id",
    "transaction_id",
    "asset",
    "layer",
    "amount",
    "balance_after",
    "source_kind",
    "source_ref",
    "rule_version",
    "description",
];

/// Entries read per page.
const PAGE: i64 = 500;

/// How recent an entry may be and still be exported, micros: longer than
/// any write transaction runs.
pub const SETTLING: i64 = 60_000_000;

/// Which entries.
#[derive(Clone, Debug, Default)]
pub struct StatementFilter {
    /// One customer, or "" for every customer.
    pub customer: String,
    /// One asset, or "" for all.
    pub asset: String,
    /// Posted in `[from, to)`, unix micros.
    pub from: Option<i64>,
    /// End of the period.
    pub to: Option<i64>,
}

fn row(customer: &str, e: &EntryRow) -> Vec<String> {
    let posted = jiff::Timestamp::from_microsecond(e.posted_at)
        .map_or_else(|_| e.posted_at.to_string(), |t| t.to_string());
    vec![
        posted,
        customer.to_owned(),
        format!("en_{}", e.id),
        transaction_ref(e.transaction_id),
        e.asset.clone(),
        e.layer.clone(),
        wire(e.amount, &e.asset).amount,
        wire(e.balance_after, &e.asset).amount,
        e.source_kind.clone(),
        e.source_ref.clone(),
        e.rule_version.clone(),
        e.description.clone(),
    ]
}

impl Ledger {
    /// The statement lines `filter` selects, by customer account then oldest
    /// first, written as `format` in chunks; an error ends the stream.
    pub fn export_statements(
        &self,
        tenant: TenantId,
        filter: StatementFilter,
        format: Format,
    ) -> mpsc::Receiver<Result<Vec<u8>, AppError>> {
        let this = self.clone();
        let span =
            tracing::info_span!("boomerang.wallet.ledger.export_statements", tenant = %tenant);
        export::spawn(span, move |sink| async move {
            this.write_statements(&tenant, &filter, format, &sink).await
        })
    }

    async fn write_statements(
        &self,
        tenant: &TenantId,
        f: &StatementFilter,
        format: Format,
        sink: &Sink,
    ) -> Result<(), AppError> {
        if !sink.send(export::header(format, &COLUMNS)).await {
            return Ok(());
        }
        let settled = self.clock().now().saturating_sub(SETTLING);
        let period = (
            f.from.unwrap_or(i64::MIN),
            f.to.unwrap_or(i64::MAX).min(settled),
        );
        let mut after = (0, 0);
        loop {
            let page = reads::statement_page(
                self.db(),
                tenant.as_str(),
                (&f.customer, &f.asset),
                period,
                after,
                PAGE,
            )
            .await?;
            let mut out = String::new();
            for (customer, _, e) in &page {
                out.push_str(&export::row(format, &COLUMNS, &row(customer, e)));
            }
            if !sink.send(out).await {
                return Ok(());
            }
            match page.last() {
                Some((_, account, last)) if page.len() as i64 == PAGE => {
                    after = (*account, last.id)
                }
                _ => return Ok(()),
            }
        }
    }
}
