//! Transfers (donations, gifts) and operator transactions.
use std::collections::BTreeMap;

use boomerang_common::{db::Conn, error::AppError, tenant::TenantId};

use super::{Ledger, Posted};
use crate::{
    domain::{
        AccountKind, AccountRef, Layer, Posting,
        command::{Destination, PostTransaction, Source, TaxTreatment, Transfer},
        lot::Take,
    },
    repo::{credits, events, journal::Journal},
};

/// A transfer.
#[derive(Clone, Debug)]
pub struct Transferred {
    /// The transaction.
    pub transaction: Posted,
    /// Lots consumed from the giver.
    pub lots: Vec<Take>,
}

impl Ledger {
    /// Moves available balance from a customer to a cause or another customer.
    #[tracing::instrument(name = "boomerang.wallet.ledger.transfer", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn transfer(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        cmd: Transfer,
    ) -> Result<Transferred, AppError> {
        let mut j = self.journal(tenant);
        let asset = cmd.amount.asset().code().to_owned();
        let amount = cmd.amount.minor();
        let mut lock = vec![(cmd.from.clone(), asset.clone())];
        let (to, kind) = match &cmd.to {
            Destination::Customer(id) => {
                lock.push((id.clone(), asset.clone()));
                (AccountRef::customer(id), "gift")
            }
            Destination::Cause(id) => (AccountRef::system(AccountKind::Cause, id), "donation"),
        };
        j.lock(conn, lock).await?;
        let source = Source {
            kind: kind.into(),
            reference: to.id.clone(),
            ..Source::default()
        };
        let postings = vec![
            Posting::new(
                AccountRef::customer(&cmd.from),
                Layer::Available,
                &asset,
                -amount,
            ),
            Posting::new(to.clone(), Layer::Available, &asset, amount),
        ];
        let posted = j
            .post(conn, "transfer", &source, &cmd.description, postings, false)
            .await?;
        let giver = j.customer(&cmd.from, &asset)?;
        let lots = self
            .spend_lots(conn, giver.id, amount, Some(posted.id))
            .await?;
        if let Destination::Customer(id) = &cmd.to {
            // The gift arrives as lots expiring when the giver's would have:
            // passing points around never strips their expiry.
            let receiver = j.customer(id, &asset)?;
            let mut arriving = Vec::with_capacity(lots.len());
            for t in &lots {
                let expires_at = credits::get(conn, tenant.as_str(), t.id)
                    .await?
                    .and_then(|c| c.expires_at);
                let lot = NewLot {
                    amount: t.amount,
                    funding_id: giver.id,
                    expires_at,
                    tax: TaxTreatment::Gift,
                };
                let id = self.new_lot(conn, &j, id, &asset, &posted, lot).await?;
                arriving.push(Take {
                    id,
                    amount: t.amount,
                });
            }
            self.repay_debt(conn, &arriving, receiver.before.available, posted.id)
                .await?;
        }
        let event = events::NewEvent {
            kind: "transferred",
            customer: cmd.from.clone(),
            asset,
            amount,
            reference: super::transaction_ref(posted.id),
            source_kind: source.kind,
            source_ref: source.reference,
        };
        events::append(conn, self.db(), tenant.as_str(), &event, j.now()).await?;
        j.save(conn).await?;
        Ok(Transferred {
            transaction: posted,
            lots,
        })
    }

    /// Posts an operator's balanced multi-leg transaction.
    #[tracing::instrument(name = "boomerang.wallet.ledger.post_transaction", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn post_transaction(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        cmd: PostTransaction,
    ) -> Result<Posted, AppError> {
        let mut j = self.journal(tenant);
        let customers: Vec<(String, String)> = cmd
            .legs
            .iter()
            .filter(|l| l.account.is_customer())
            .map(|l| (l.account.id.clone(), l.amount.asset().code().to_owned()))
            .collect();
        j.lock(conn, customers).await?;
        let postings: Vec<Posting> = cmd
            .legs
            .iter()
            .map(|l| {
                Posting::new(
                    l.account.clone(),
                    l.layer,
                    l.amount.asset().code(),
                    l.amount.minor(),
                )
            })
            .collect();
        let posted = j
            .post(conn, "post", &cmd.source, &cmd.description, postings, false)
            .await?;
        // Net change per customer account: money in becomes a lot, money out consumes lots.
        let mut net: BTreeMap<(String, String), i64> = BTreeMap::new();
        for l in cmd.legs.iter().filter(|l| l.account.is_customer()) {
            *net.entry((l.account.id.clone(), l.amount.asset().code().to_owned()))
                .or_default() += l.amount.minor();
        }
        for ((customer, asset), delta) in net {
            let account = j.customer(&customer, &asset)?;
            if delta < 0 {
                self.spend_lots(conn, account.id, -delta, Some(posted.id))
                    .await?;
            } else if delta > 0 {
                // Funded by the transaction's first system leg in the asset, so a
                // reversal pays back there; only customers: treated as a gift.
                let source = cmd
                    .legs
                    .iter()
                    .find(|l| !l.account.is_customer() && l.amount.asset().code() == asset)
                    .map(|l| l.account.clone());
                let funding_id = match source {
                    Some(account) => j.system(conn, &account, &asset).await?,
                    None => account.id,
                };
                let lot = NewLot {
                    amount: delta,
                    funding_id,
                    expires_at: None,
                    tax: TaxTreatment::None,
                };
                let id = self
                    .new_lot(conn, &j, &customer, &asset, &posted, lot)
                    .await?;
                let arriving = [Take { id, amount: delta }];
                self.repay_debt(conn, &arriving, account.before.available, posted.id)
                    .await?;
            }
            let event = events::NewEvent {
                kind: "transaction_posted",
                customer,
                asset,
                amount: delta,
                reference: super::transaction_ref(posted.id),
                source_kind: cmd.source.kind.clone(),
                source_ref: cmd.source.reference.clone(),
            };
            events::append(conn, self.db(), tenant.as_str(), &event, j.now()).await?;
        }
        j.save(conn).await?;
        Ok(posted)
    }

    /// A spendable lot for money that arrived by transfer or posting; returns its id.
    async fn new_lot(
        &self,
        conn: &mut Conn,
        j: &Journal<'_>,
        customer: &str,
        asset: &str,
        posted: &Posted,
        lot: NewLot,
    ) -> Result<i64, AppError> {
        let account = j.customer(customer, asset)?;
        let id = credits::insert(
            conn,
            j.tenant(),
            credits::NewCredit {
                account_id: account.id,
                funding_id: lot.funding_id,
                transaction_id: posted.id,
                amount: lot.amount,
                pending: false,
                release_at: None,
                expires_at: lot.expires_at,
                source: &posted.source,
                labels: "{}".into(),
                tax: lot.tax,
            },
            j.now(),
        )
        .await?;
        if let Some(expires_at) = lot.expires_at {
            self.schedule_expiry(conn, j.tenant(), id, expires_at, j.now())
                .await?;
        }
        Ok(id)
    }
}

/// A lot arriving from another account.
struct NewLot {
    amount: i64,
    funding_id: i64,
    expires_at: Option<i64>,
    tax: TaxTreatment,
}
