//! How a checkout session ends: confirmed into a purchase (its holds
//! captured and its codes redeemed through the outbox, in the purchase's
//! transaction), cancelled by the caller, or lapsed by its timer (what it
//! holds given back through the outbox).
use boomerang_common::{
    db::Conn,
    error::AppError,
    jobs::{Handler, Job},
    tenant::TenantId,
};
use boomerang_proto::accrual::v1 as pb;
use prost::Message as _;
use tracing::instrument;

use super::sessions::{decode, event, give_back, not_found, restate};
use crate::{
    accrual::{
        Accrual, Prepared, PurchaseInput,
        effects::Effects,
        outbound::{CheckoutStep, Outbound, Step},
    },
    domain::session::{self, Holds, State},
    repo::{self, Move},
    views,
};

/// A session confirmation priced, ready for [`Accrual::confirm_checkout_in_op`].
#[derive(Debug)]
pub struct Confirmation {
    session_id: String,
    order_id: String,
    /// None when confirmed as this order already.
    purchase: Option<Prepared>,
}

/// A session about to end, with what a reserving one was found to hold.
#[derive(Debug)]
pub struct Ending {
    session_id: String,
    taken: Option<Holds>,
}

fn not_confirmable(why: session::NotConfirmable, session: &str) -> AppError {
    AppError::Refused {
        reason: why.reason().into(),
        message: why.message(session),
        limit: false,
    }
}

impl Accrual {
    /// Checks a session can be confirmed as `order_id` and prices its
    /// purchase (campaign budget reserved, as a recorded purchase does).
    #[instrument(name = "boomerang.accrual.checkout.prepare_confirm", skip_all,
                 fields(tenant = %tenant, session = %session, order = %order_id), err(level = "info"))]
    pub async fn prepare_confirm(
        &self,
        tenant: &TenantId,
        session: &str,
        order_id: &str,
    ) -> Result<Confirmation, AppError> {
        let row = self
            .session_row(tenant, session)
            .await?
            .ok_or_else(|| not_found(session))?;
        let now = self.clock().now();
        let fresh = session::confirmable(row.state, row.expires_at, now, &row.order_id, order_id)
            .map_err(|why| not_confirmable(why, session))?;
        let confirmation = |purchase| Confirmation {
            session_id: session.into(),
            order_id: order_id.into(),
            purchase,
        };
        if !fresh {
            return Ok(confirmation(None));
        }
        let p = &row.plan;
        let purchase = PurchaseInput {
            program_id: p.program_id.clone(),
            order_id: order_id.into(),
            customer: p.customer.clone(),
            currency: p.currency.clone(),
            lines: p.lines.clone(),
            channel: p.channel,
            store: p.store.clone(),
            occurred_at_us: now,
            // The session's request: the same order confirmed again by it is
            // answered as recorded, by anything else refused.
            request_hash: row.request_hash.clone(),
            coupon_offers: p.coupon_offers.clone(),
        };
        let prepared = self.prepare(tenant, purchase).await?;
        Ok(confirmation(Some(prepared)))
    }

    /// Confirms in the caller's transaction: under the session's lock, the
    /// purchase stored, the captures and redemptions enqueued, the session
    /// confirmed.
    #[instrument(name = "boomerang.accrual.checkout.confirm", skip_all,
                 fields(tenant = %tenant, session = %c.session_id), err(level = "info"))]
    pub async fn confirm_checkout_in_op(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        c: Confirmation,
    ) -> Result<pb::CheckoutSession, AppError> {
        let t = tenant.as_str();
        let row = repo::get_session(conn, self.db(), t, &c.session_id, true)
            .await?
            .ok_or_else(|| not_found(&c.session_id))?;
        let now = self.clock().now();
        let fresh =
            session::confirmable(row.state, row.expires_at, now, &row.order_id, &c.order_id)
                .map_err(|why| not_confirmable(why, &c.session_id))?;
        if !fresh {
            // Confirmed as this order already.
            return decode(&row.view);
        }
        let Some(purchase) = c.purchase else {
            return Err(AppError::Aborted(
                "the session moved meanwhile, retry".into(),
            ));
        };
        let recorded = self.store(conn, tenant, purchase).await?;
        let mut fx = Effects::default();
        let steps = row
            .holds
            .wallet()
            .map(|h| Step::Capture(h.into()))
            .chain(row.holds.redemptions().map(|r| Step::Redeem(r.into())));
        for step in steps {
            fx.send(Outbound::Checkout(CheckoutStep {
                session: row.session_id.clone(),
                step: Some(step),
            }));
        }
        let said = format!("confirmed as order {}", c.order_id);
        fx.tell(event(pb::EventType::CheckoutConfirmed, &row, said));
        let view = pb::CheckoutSession {
            order_id: c.order_id.clone(),
            rewards: recorded
                .rewards
                .iter()
                .map(|r| views::to_reward(&c.order_id, r, false, now))
                .collect(),
            ..restate(&row, State::Confirmed)?
        };
        let bytes = view.encode_to_vec();
        let moved = Move {
            session_id: &row.session_id,
            from: State::Reserved,
            to: State::Confirmed,
            holds: &row.holds,
            view: &bytes,
            order_id: &c.order_id,
            refusal: None,
            answer: None,
        };
        if !repo::move_session(conn, t, moved, now).await? {
            return Err(AppError::Aborted(
                "the session moved meanwhile, retry".into(),
            ));
        }
        self.write_effects(conn, tenant, fx).await?;
        Ok(view)
    }

    /// Reads a session about to end; a reserving one's holds are taken (each
    /// call keyed, so this finds what its reservation took) so they can be
    /// given back.
    #[instrument(name = "boomerang.accrual.checkout.prepare_end", skip_all,
                 fields(tenant = %tenant, session = %session), err(level = "info"))]
    pub async fn prepare_end(&self, tenant: &TenantId, session: &str) -> Result<Ending, AppError> {
        let row = self
            .session_row(tenant, session)
            .await?
            .ok_or_else(|| not_found(session))?;
        let taken = match row.state {
            State::Reserving => Some(self.take(tenant, &row).await?.0),
            _ => None,
        };
        Ok(Ending {
            session_id: session.into(),
            taken,
        })
    }

    /// Ends a session in the caller's transaction (cancelled or lapsed),
    /// giving back what it holds; one ended already answers as it stands. A
    /// confirmed session cannot be cancelled, and does not lapse.
    #[instrument(name = "boomerang.accrual.checkout.end", skip_all,
                 fields(tenant = %tenant, session = %e.session_id, to = to.as_str()), err(level = "info"))]
    pub async fn end_checkout_in_op(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        e: Ending,
        to: State,
    ) -> Result<pb::CheckoutSession, AppError> {
        let t = tenant.as_str();
        let row = repo::get_session(conn, self.db(), t, &e.session_id, true)
            .await?
            .ok_or_else(|| not_found(&e.session_id))?;
        let holds = match (row.state, e.taken) {
            (State::Reserved, _) => row.holds.clone(),
            (State::Reserving, Some(taken)) => taken,
            (State::Reserving, None) => {
                return Err(AppError::Aborted(
                    "the session moved meanwhile, retry".into(),
                ));
            }
            (State::Confirmed, _) if to == State::Cancelled => {
                let why = session::NotConfirmable::Confirmed;
                return Err(AppError::Refused {
                    reason: why.reason().into(),
                    message: format!(
                        "checkout {} is confirmed; return the order instead",
                        e.session_id
                    ),
                    limit: false,
                });
            }
            (State::Confirmed, _) => return decode(&row.view),
            (State::Refused | State::Cancelled | State::Lapsed, taken) => {
                // Ended meanwhile; what this call found held (a hold a
                // refusal did not know of) goes back too, keyed as the
                // ending's own give-backs, so nothing is given back twice.
                let mut fx = Effects::default();
                give_back(&mut fx, &row.session_id, &taken.unwrap_or_default());
                self.write_effects(conn, tenant, fx).await?;
                return decode(&row.view);
            }
        };
        let mut fx = Effects::default();
        give_back(&mut fx, &row.session_id, &holds);
        let kind = if to == State::Lapsed {
            pb::EventType::CheckoutLapsed
        } else {
            pb::EventType::CheckoutCancelled
        };
        fx.tell(event(kind, &row, format!("checkout {}", to.as_str())));
        let view = restate(&row, to)?;
        let bytes = view.encode_to_vec();
        let moved = Move {
            session_id: &row.session_id,
            from: row.state,
            to,
            holds: &holds,
            view: &bytes,
            order_id: "",
            refusal: None,
            answer: None,
        };
        if !repo::move_session(conn, t, moved, self.clock().now()).await? {
            return Err(AppError::Aborted(
                "the session moved meanwhile, retry".into(),
            ));
        }
        self.write_effects(conn, tenant, fx).await?;
        Ok(view)
    }

    /// An order returned in full gives back the uses of the codes its
    /// checkout redeemed (campaign-svc honours it where the codes' batch
    /// gives uses back: a voucher does), in the return's transaction.
    pub(crate) async fn give_back_codes_of(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        program: &str,
        order: &str,
    ) -> Result<(), AppError> {
        let Some(row) = repo::session_of_order(conn, tenant.as_str(), program, order).await? else {
            return Ok(());
        };
        let mut fx = Effects::default();
        for r in row.holds.redemptions() {
            fx.send(Outbound::Checkout(CheckoutStep {
                session: row.session_id.clone(),
                step: Some(Step::Returned(r.into())),
            }));
        }
        self.write_effects(conn, tenant, fx).await
    }

    /// Lapses a session at its expiry (its timer), unless it ended before.
    #[instrument(name = "boomerang.accrual.checkout.lapse", skip_all,
                 fields(tenant = %tenant, session = %session), err(level = "info"))]
    pub async fn lapse_checkout(&self, tenant: &TenantId, session: &str) -> Result<(), AppError> {
        let ending = self.prepare_end(tenant, session).await?;
        let mut tx = self.db().begin().await?;
        self.end_checkout_in_op(&mut tx, tenant, ending, State::Lapsed)
            .await?;
        tx.commit().await?;
        self.committed();
        Ok(())
    }
}

/// The lapse timer: ends each session unconfirmed at its expiry.
#[derive(Clone, Debug)]
pub struct CheckoutLapses(pub Accrual);

impl Handler for CheckoutLapses {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let tenant = TenantId::parse(&job.tenant).map_err(anyhow::Error::msg)?;
        match self.0.lapse_checkout(&tenant, &job.dedupe_key).await {
            // Gone with its tenant's data: nothing holds anything.
            Err(AppError::NotFound(_)) => Ok(()),
            other => Ok(other?),
        }
    }
}
