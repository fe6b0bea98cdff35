//! Exports for finance and BI: a period's rewards, or the tax report, as
//! CSV or NDJSON rows streamed in chunks of whole rows. The tax report's
//! rows are GetTaxReport's own figures; rewards are read a page at a time,
//! so an export of any size holds one page in memory.
use boomerang_common::{error::AppError, export::Sink, money::wire, tenant::TenantId};
use tokio::sync::mpsc;

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
        let this = self.clone();
        let span = tracing::info_span!("boomerang.accrual.exports.rows", tenant = %tenant, program = %program_id);
        boomerang_common::export::spawn(span, move |sink| async move {
            this.write(&tenant, &program_id, what, format, period, &sink)
                .await
        })
    }

    async fn write(
        &self,
        tenant: &TenantId,
        program_id: &str,
        what: What,
        format: Format,
        (from_us, to_us): (Option<i64>, Option<i64>),
        sink: &Sink,
    ) -> Result<(), AppError> {
        let send = |chunk: String| sink.send(chunk);
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
                if !send(export::header(format, &export::REWARDS)).await {
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
                    if !send(out).await {
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
