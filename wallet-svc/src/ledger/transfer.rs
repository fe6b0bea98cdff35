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
            // The gift becomes a lot of the receiver, without expiry.
            self.new_lot(
                conn,
                &j,
                id,
                &asset,
                amount,
                giver.id,
                &posted,
                TaxTreatment::Gift,
            )
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
                self.new_lot(
                    conn,
                    &j,
                    &customer,
                    &asset,
                    delta,
                    account.id,
                    &posted,
                    TaxTreatment::None,
                )
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

    /// A spendable lot without expiry for money that arrived by transfer or posting.
    #[allow(clippy::too_many_arguments)]
    async fn new_lot(
        &self,
        conn: &mut Conn,
        j: &Journal<'_>,
        customer: &str,
        asset: &str,
        amount: i64,
        from_account: i64,
        posted: &Posted,
        tax: TaxTreatment,
    ) -> Result<(), AppError> {
        let account = j.customer(customer, asset)?;
        let id = credits::insert(
            conn,
            j.tenant(),
            credits::NewCredit {
                account_id: account.id,
                funding_id: from_account,
                transaction_id: posted.id,
                amount,
                pending: false,
                release_at: None,
                expires_at: None,
                source: &posted.source,
                labels: "{}".into(),
                tax,
            },
            j.now(),
        )
        .await?;
        self.repay_debt(conn, id, account.before.available, amount, posted.id)
            .await
    }
}
