//! Checkout holds: authorize, capture, void, and lapse at the TTL.
use boomerang_common::{db::Conn, error::AppError, jobs, money::Amount, tenant::TenantId};

use super::{Ledger, Posted, hold_ref};
use crate::{
    domain::{
        AccountRef, Layer, Posting,
        command::{Authorize, Source},
        hold::{self, HoldStatus},
        lot::{self, Take},
    },
    repo::{self, credits, events, holds, journal::Journal},
};

/// Job queue of hold lapses.
pub const LAPSE: &str = "wallet.hold_lapse";

/// A hold, for responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldView {
    /// Id.
    pub id: i64,
    /// Customer.
    pub customer: String,
    /// Asset.
    pub asset: String,
    /// Held.
    pub amount: i64,
    /// Captured.
    pub captured: i64,
    /// State.
    pub status: HoldStatus,
    /// Lapse time.
    pub expires_at: i64,
    /// Caller's reference.
    pub reference: String,
}

/// A capture.
#[derive(Clone, Debug)]
pub struct Captured {
    /// The hold after.
    pub hold: HoldView,
    /// The spending transaction.
    pub transaction: Posted,
    /// Lots consumed.
    pub lots: Vec<Take>,
}

impl Ledger {
    /// Holds available balance; its lots are earmarked soonest-expiring first.
    #[tracing::instrument(name = "boomerang.wallet.ledger.authorize", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn authorize(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        cmd: Authorize,
    ) -> Result<HoldView, AppError> {
        let mut j = self.journal(tenant);
        let asset = cmd.amount.asset().code().to_owned();
        let amount = cmd.amount.minor();
        j.lock(conn, vec![(cmd.customer.clone(), asset.clone())])
            .await?;
        let me = AccountRef::customer(&cmd.customer);
        let source = Source {
            kind: "hold".into(),
            reference: cmd.reference.clone(),
            ..Source::default()
        };
        let postings = vec![
            Posting::new(me.clone(), Layer::Available, &asset, -amount),
            Posting::new(me, Layer::Held, &asset, amount),
        ];
        j.post(conn, "authorize", &source, "checkout hold", postings, false)
            .await?;
        let account = j.customer(&cmd.customer, &asset)?;
        let expires_at = j.now().saturating_add(cmd.ttl);
        let id = holds::insert(
            conn,
            tenant.as_str(),
            account.id,
            amount,
            &cmd.reference,
            expires_at,
            j.now(),
        )
        .await?;
        let earmarked = self.spend_lots(conn, account.id, amount, None).await?;
        holds::earmark(conn, id, &earmarked).await?;
        jobs::schedule(
            conn,
            tenant,
            LAPSE,
            &hold_ref(id),
            expires_at,
            self.clock().now(),
            b"",
        )
        .await?;
        self.hold_event(
            conn,
            &j,
            "hold_authorized",
            &cmd.customer,
            &asset,
            amount,
            id,
            &cmd.reference,
        )
        .await?;
        j.save(conn).await?;
        Ok(HoldView {
            id,
            customer: cmd.customer,
            asset,
            amount,
            captured: 0,
            status: HoldStatus::Authorized,
            expires_at,
            reference: cmd.reference,
        })
    }

    /// Spends a hold, wholly or in part; the rest goes back to available.
    /// One ledger transaction read top-down (long for that).
    #[tracing::instrument(name = "boomerang.wallet.ledger.capture", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn capture(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        hold_id: i64,
        amount: Option<(String, String)>,
    ) -> Result<Captured, AppError> {
        let (mut j, view) = self.lock_hold(conn, tenant, hold_id).await?;
        if view.status == HoldStatus::Authorized && view.expires_at <= j.now() {
            // Its lapse timer has not run yet; the hold is over all the same.
            return Err(AppError::Precondition(format!(
                "hold {} expired; authorize again",
                hold_ref(hold_id)
            )));
        }
        let asked = match amount {
            None => None,
            Some((value, asset)) => {
                if asset != view.asset {
                    return Err(AppError::invalid(
                        "amount.asset",
                        format!("the hold is in {}", view.asset),
                    ));
                }
                let asset = boomerang_common::money::Asset::builtin(&asset)
                    .ok_or_else(|| AppError::invalid("amount.asset", "unknown asset"))?;
                let a = Amount::parse(&value, &asset)
                    .map_err(|e| AppError::invalid("amount.amount", e.to_string()))?;
                if !a.is_positive() {
                    return Err(AppError::invalid("amount.amount", "must be positive"));
                }
                Some(a.minor())
            }
        };
        let (captured, released) = hold::capture(view.status, view.amount, asked, &view.asset)?;
        let me = AccountRef::customer(&view.customer);
        let source = Source {
            kind: "capture".into(),
            reference: view.reference.clone(),
            ..Source::default()
        };
        let postings = vec![
            Posting::new(me.clone(), Layer::Held, &view.asset, -view.amount),
            Posting::new(
                AccountRef::redemption(),
                Layer::Available,
                &view.asset,
                captured,
            ),
            Posting::new(me, Layer::Available, &view.asset, released),
        ];
        let posted = j
            .post(
                conn,
                "capture",
                &source,
                "checkout capture",
                postings,
                false,
            )
            .await?;
        let (spent, returned) = split(&holds::earmarked(conn, hold_id).await?, captured);
        credits::record_consumption(conn, &spent, posted.id).await?;
        self.give_back(conn, &mut j, &view, &returned, posted.id)
            .await?;
        holds::finish(conn, hold_id, HoldStatus::Captured, captured).await?;
        self.hold_event(
            conn,
            &j,
            "hold_captured",
            &view.customer,
            &view.asset,
            captured,
            hold_id,
            &view.reference,
        )
        .await?;
        j.save(conn).await?;
        Ok(Captured {
            hold: HoldView {
                captured,
                status: HoldStatus::Captured,
                ..view
            },
            transaction: posted,
            lots: spent,
        })
    }

    /// Releases a hold (Void, or the lapse job with `Expired`); the lapse is idempotent.
    #[tracing::instrument(name = "boomerang.wallet.ledger.release", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn release(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        hold_id: i64,
        to: HoldStatus,
    ) -> Result<HoldView, AppError> {
        let (mut j, view) = self.lock_hold(conn, tenant, hold_id).await?;
        if to == HoldStatus::Expired && view.status != HoldStatus::Authorized {
            return Ok(view); // captured or voided before its TTL
        }
        hold::release(view.status, "void")?;
        let me = AccountRef::customer(&view.customer);
        let source = Source {
            kind: if to == HoldStatus::Expired {
                "hold_lapse"
            } else {
                "void"
            }
            .into(),
            reference: view.reference.clone(),
            ..Source::default()
        };
        let postings = vec![
            Posting::new(me.clone(), Layer::Held, &view.asset, -view.amount),
            Posting::new(me, Layer::Available, &view.asset, view.amount),
        ];
        let posted = j
            .post(
                conn,
                "release",
                &source,
                "checkout hold released",
                postings,
                false,
            )
            .await?;
        let returned = holds::earmarked(conn, hold_id).await?;
        self.give_back(conn, &mut j, &view, &returned, posted.id)
            .await?;
        holds::finish(conn, hold_id, to, 0).await?;
        self.hold_event(
            conn,
            &j,
            "hold_released",
            &view.customer,
            &view.asset,
            view.amount,
            hold_id,
            &view.reference,
        )
        .await?;
        j.save(conn).await?;
        Ok(HoldView { status: to, ..view })
    }

    /// Gives a hold's unspent earmarks back to their lots: a negative balance
    /// is paid first, and a lot that expired meanwhile expires on the spot.
    async fn give_back(
        &self,
        conn: &mut Conn,
        j: &mut Journal<'_>,
        view: &HoldView,
        returned: &[Take],
        transaction: i64,
    ) -> Result<(), AppError> {
        credits::restore(conn, returned).await?;
        let before = j.customer(&view.customer, &view.asset)?.before.available;
        self.repay_debt(conn, returned, before, transaction).await?;
        self.expire_lapsed(conn, j, &view.customer, &view.asset, returned)
            .await
    }

    /// Loads a hold, locks its account, and reads it again under the lock.
    async fn lock_hold<'d>(
        &self,
        conn: &mut Conn,
        tenant: &'d TenantId,
        hold_id: i64,
    ) -> Result<(Journal<'d>, HoldView), AppError> {
        let not_found = || AppError::NotFound(format!("no hold {}", hold_ref(hold_id)));
        let row = holds::get(conn, tenant.as_str(), hold_id)
            .await?
            .ok_or_else(not_found)?;
        let owner = repo::account(conn, tenant.as_str(), row.account_id).await?;
        let mut j = self.journal(tenant);
        j.lock(conn, vec![(owner.account.id.clone(), owner.asset.clone())])
            .await?;
        let row = holds::get(conn, tenant.as_str(), hold_id)
            .await?
            .ok_or_else(not_found)?;
        Ok((
            j,
            HoldView {
                id: row.id,
                customer: owner.account.id,
                asset: owner.asset,
                amount: row.amount,
                captured: row.captured,
                status: row.status,
                expires_at: row.expires_at,
                reference: row.reference,
            },
        ))
    }

    #[allow(clippy::too_many_arguments)]
    async fn hold_event(
        &self,
        conn: &mut Conn,
        j: &Journal<'_>,
        kind: &'static str,
        customer: &str,
        asset: &str,
        amount: i64,
        hold_id: i64,
        reference: &str,
    ) -> Result<(), AppError> {
        let event = events::NewEvent {
            kind,
            customer: customer.to_owned(),
            asset: asset.to_owned(),
            amount,
            reference: hold_ref(hold_id),
            source_kind: "hold".into(),
            source_ref: reference.to_owned(),
        };
        events::append(conn, self.db(), j.tenant(), &event, j.now()).await
    }
}

/// Splits a hold's earmarked lots into what a capture spends and what goes back.
fn split(earmarked: &[Take], captured: i64) -> (Vec<Take>, Vec<Take>) {
    let (spent, _) = lot::take(
        &earmarked
            .iter()
            .map(|t| lot::Lot {
                id: t.id,
                remaining: t.amount,
            })
            .collect::<Vec<_>>(),
        captured,
    );
    let returned = earmarked
        .iter()
        .map(|t| {
            let used = spent.iter().find(|s| s.id == t.id).map_or(0, |s| s.amount);
            Take {
                id: t.id,
                amount: t.amount - used,
            }
        })
        .filter(|t| t.amount > 0)
        .collect();
    (spent, returned)
}
