//! Exports for finance and BI: a period's rewards, or the tax report, as
//! CSV or NDJSON rows streamed in chunks of whole rows. The tax report's
//! rows are GetTaxReport's own figures; rewards are read a page at a time,
//! so an export of any size holds one page in memory.
use boomerang_common::{error::AppError, money::wire, tenant::TenantId};
use tokio::sync::mpsc;
use tracing::Instrument as _;

use super::Accrual;
use crate::{
    domain::{
        export::{self, Format},
        tax::{self, TaxLine},
    },
    repo::{self, ExportedReward},
};

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    /// Every reward of the period's purchases.
    Rewards,
    /// The tax report's lines and total.
    TaxReport,
}

/// Rewards read per page.
const PAGE: i64 = 500;

fn time(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map_or_else(|_| us.to_string(), |t| t.to_string())
}

/// A reward's row; cashback (the program currency, not a voucher) is a
/// price discount, the rest changes no taxable base.
fn reward_row(r: &ExportedReward, currency: &str) -> Vec<String> {
    let discount = tax::is_discount(&r.asset, &r.kind, currency);
    vec![
        r.order_id.clone(),
        r.customer_id.clone(),
        time(r.occurred_at),
        r.channel.clone(),
        r.store_id.clone(),
        r.kind.clone(),
        r.campaign_id.clone(),
        r.asset.clone(),
        wire(r.amount, &r.asset).amount,
        wire(r.reversed, &r.asset).amount,
        wire(r.amount - r.reversed, &r.asset).amount,
        if discount { "discount" } else { "none" }.to_owned(),
    ]
}

fn tax_row(l: &TaxLine, channel: &str, currency: &str) -> Vec<String> {
    let other: Vec<String> = l
        .other
        .iter()
        .map(|(asset, n)| boomerang_common::money::text(*n, asset))
        .collect();
    vec![
        channel.to_owned(),
        l.store.clone(),
        l.purchases.to_string(),
        wire(l.revenue, currency).amount,
        wire(l.cashback, currency).amount,
        wire(l.taxable_base(), currency).amount,
        currency.to_owned(),
        other.join("; "),
    ]
}

impl Accrual {
    /// The rows of `what` for `program_id` over `[from, to)`, written as
    /// `format`, in chunks; an error ends the stream.
    pub fn export(
        &self,
        tenant: TenantId,
        program_id: String,
        what: What,
        format: Format,
        period: (Option<i64>, Option<i64>),
    ) -> mpsc::Receiver<Result<Vec<u8>, AppError>> {
        let (tx, rx) = mpsc::channel(4);
        let this = self.clone();
        let span = tracing::info_span!("boomerang.accrual.exports.rows", tenant = %tenant, program = %program_id);
        let writer_tx = tx.clone();
        let writer = tokio::spawn(
            async move {
                let tx = writer_tx;
                if let Err(e) = this
                    .write(&tenant, &program_id, what, format, period, &tx)
                    .await
                {
                    let _ = tx.send(Err(e)).await;
                }
            }
            .instrument(span),
        );
        // A writer that died mid-way ends the stream with an error, never
        // with a short file that looks whole.
        tokio::spawn(async move {
            if let Err(e) = writer.await {
                let stopped = AppError::Internal(anyhow::anyhow!("export stopped: {e}"));
                let _ = tx.send(Err(stopped)).await;
            }
        });
        rx
    }

    async fn write(
        &self,
        tenant: &TenantId,
        program_id: &str,
        what: What,
        format: Format,
        (from_us, to_us): (Option<i64>, Option<i64>),
        tx: &mpsc::Sender<Result<Vec<u8>, AppError>>,
    ) -> Result<(), AppError> {
        let send = |chunk: String| async move {
            // A receiver gone (the client hung up) ends the export quietly.
            tx.send(Ok(chunk.into_bytes())).await.is_ok()
        };
        match what {
            What::TaxReport => {
                let r = self.tax_report(tenant, program_id, from_us, to_us).await?;
                let mut out = export::header(format, &export::TAX);
                for l in &r.lines {
                    out.push_str(&export::row(
                        format,
                        &export::TAX,
                        &tax_row(l, &l.channel, &r.currency),
                    ));
                }
                out.push_str(&export::row(
                    format,
                    &export::TAX,
                    &tax_row(&r.total, "total", &r.currency),
                ));
                send(out).await;
            }
            What::Rewards => {
                let mut conn = self.db().pool().acquire().await?;
                let (_, program, _) =
                    repo::program(&mut conn, tenant.as_str(), program_id, None).await?;
                drop(conn);
                let period = (from_us.unwrap_or(i64::MIN), to_us.unwrap_or(i64::MAX));
                let header = export::header(format, &export::REWARDS);
                if !header.is_empty() && !send(header).await {
                    return Ok(());
                }
                let mut after = None;
                loop {
                    let page = repo::rewards_page(
                        self.db(),
                        tenant.as_str(),
                        program_id,
                        period,
                        after,
                        PAGE,
                    )
                    .await?;
                    let mut out = String::new();
                    for r in &page {
                        out.push_str(&export::row(
                            format,
                            &export::REWARDS,
                            &reward_row(r, &program.currency),
                        ));
                    }
                    if !out.is_empty() && !send(out).await {
                        return Ok(());
                    }
                    match page.last() {
                        Some(last) if page.len() as i64 == PAGE => {
                            after = Some((last.occurred_at, last.order_id.clone(), last.no));
                        }
                        _ => return Ok(()),
                    }
                }
            }
        }
        Ok(())
    }
}
