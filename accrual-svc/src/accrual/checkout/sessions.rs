//! Checkout sessions. `ReserveCheckout` evaluates the cart once and stores
//! the session with its plan (what to hold, the purchase to record) and its
//! lapse timer, in one transaction; it then takes the holds upstream (a use
//! of each code, the points and the cashback), each call keyed by session,
//! so a retry, a cancel or the lapse finds what an earlier call took. A
//! refused hold ends the session with its reason and gives back what was
//! held. `ConfirmCheckout` records the purchase and, in the same
//! transaction, enqueues the captures and redemptions; `CancelCheckout` and
//! the lapse enqueue the give-backs. Upstream holds outlive the session by
//! [`HOLD_GRACE_US`], so a confirmation made before the session expires is
//! captured unless a service stays down longer than that (then the capture
//! is parked for an operator); the lapse gives holds back at the session's
//! expiry.
use boomerang_common::{error::AppError, jobs, tenant::TenantId, time::to_timestamp};
use boomerang_proto::accrual::v1 as pb;
use prost::Message as _;
use tracing::instrument;

use super::{CartInput, POINTS};
use crate::{
    accrual::{
        Accrual,
        effects::Effects,
        outbound::{self, CheckoutStep, Outbound, Step},
        upstream::{BalanceHold, CouponHold},
    },
    domain::session::{Holds, Plan, State, StoredRefusal},
    repo::{self, Move, SessionRow},
    views,
};

/// The session lapse timer's queue.
pub const CHECKOUT_LAPSE: &str = "accrual.checkout_lapse";

/// How long upstream holds outlive their session: a confirmation accepted
/// just before the session expires has this long to be captured, however
/// long a service is down meanwhile (the lapse gives holds back at the
/// session's expiry; the grace only matters when accrual is down too).
pub const HOLD_GRACE_US: i64 = 12 * 3_600 * 1_000_000;

/// A session asked for.
#[derive(Clone, Debug)]
pub struct Reservation {
    /// The session (the request's idempotency key).
    pub session_id: String,
    /// The cart.
    pub cart: CartInput,
    /// How long it holds, microseconds.
    pub ttl_us: i64,
    /// Hash of the request: the same session with another cart is refused.
    pub request_hash: Vec<u8>,
}

pub(super) fn not_found(session: &str) -> AppError {
    AppError::NotFound(format!("no checkout session {session}"))
}

pub(super) fn decode(view: &[u8]) -> Result<pb::CheckoutSession, AppError> {
    pb::CheckoutSession::decode(view)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored session undecodable: {e}")))
}

fn wire_state(s: State) -> pb::CheckoutState {
    match s {
        State::Reserving => pb::CheckoutState::Reserving,
        State::Reserved => pb::CheckoutState::Reserved,
        State::Confirmed => pb::CheckoutState::Confirmed,
        State::Cancelled => pb::CheckoutState::Cancelled,
        State::Lapsed => pb::CheckoutState::Lapsed,
        State::Refused => pb::CheckoutState::Refused,
    }
}

/// The stored view moved to `state`.
pub(super) fn restate(row: &SessionRow, state: State) -> Result<pb::CheckoutSession, AppError> {
    Ok(pb::CheckoutSession {
        state: wire_state(state) as i32,
        ..decode(&row.view)?
    })
}

/// What ReserveCheckout answers for a session past reserving: its first
/// answer; the refusal of a refused one; as it stands, one that ended before
/// it was ever reserved.
fn first_answer(row: &SessionRow) -> Result<pb::CheckoutSession, AppError> {
    match (&row.refusal, row.answer.is_empty()) {
        (Some(why), _) => Err(refused(why)),
        (None, false) => decode(&row.answer),
        (None, true) => decode(&row.view),
    }
}

fn refused(r: &StoredRefusal) -> AppError {
    AppError::Refused {
        reason: r.reason.clone(),
        message: r.message.clone(),
        limit: r.limit,
    }
}

/// Whether an upstream error may pass on a retry (nothing was decided):
/// transport, a conflict, a bug, shed load or a rate limit. A refusal with a
/// reason (a code used up) is not.
fn transient(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Unavailable(_)
            | AppError::Aborted(_)
            | AppError::Internal(_)
            | AppError::Exhausted(_)
            | AppError::RateLimited { .. }
    )
}

/// What a session refused while reserving answers from then on.
fn refusal_of(e: AppError) -> StoredRefusal {
    match e {
        AppError::Refused {
            reason,
            message,
            limit,
        } => StoredRefusal {
            reason,
            message,
            limit,
        },
        other => StoredRefusal {
            reason: "CHECKOUT_HOLD_REFUSED".into(),
            message: other.to_string().chars().take(512).collect(),
            limit: false,
        },
    }
}

/// The session's plan: what the evaluation used and the purchase it priced.
fn plan(cart: &CartInput, e: &super::Evaluation, ttl_us: i64) -> Plan {
    Plan {
        program_id: cart.program_id.clone(),
        customer: cart.customer.clone(),
        currency: cart.currency.clone(),
        channel: cart.channel,
        store: cart.store.clone(),
        lines: e.purchase.lines.clone(),
        coupon_offers: e.purchase.coupon_offers.clone(),
        codes: e.codes.iter().map(|v| v.code.clone()).collect(),
        points: e.paid.points_used,
        cashback: e.paid.cashback_used,
        hold_ttl_us: ttl_us + HOLD_GRACE_US,
    }
}

/// The steps that give back what a session holds.
pub(super) fn give_back(fx: &mut Effects, session: &str, holds: &Holds) {
    let steps = holds
        .wallet()
        .map(|h| Step::Void(h.into()))
        .chain(holds.redemptions().map(|r| Step::GiveBack(r.into())));
    for step in steps {
        fx.send(Outbound::Checkout(CheckoutStep {
            session: session.into(),
            step: Some(step),
        }));
    }
}

/// An event about a session.
pub(super) fn event(
    kind: pb::EventType,
    row: &SessionRow,
    message: String,
) -> pb::WatchEventsResponse {
    pb::WatchEventsResponse {
        r#type: kind as i32,
        program_id: row.plan.program_id.clone(),
        customer_id: row.plan.customer.clone(),
        reference: row.session_id.clone(),
        message,
        ..Default::default()
    }
}

impl Accrual {
    /// A session as it stands.
    #[instrument(name = "boomerang.accrual.checkout.get", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn checkout(
        &self,
        tenant: &TenantId,
        session: &str,
    ) -> Result<pb::CheckoutSession, AppError> {
        let row = self.session_row(tenant, session).await?;
        decode(&row.ok_or_else(|| not_found(session))?.view)
    }

    pub(super) async fn session_row(
        &self,
        tenant: &TenantId,
        session: &str,
    ) -> Result<Option<SessionRow>, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        repo::get_session(&mut conn, self.db(), tenant.as_str(), session, false).await
    }

    /// Holds what a cart uses for its TTL (see the module). The same session
    /// and request answer the first answer; a session left reserving (a
    /// crash, an upstream unreachable) is finished.
    #[instrument(name = "boomerang.accrual.checkout.reserve", skip_all,
                 fields(tenant = %tenant, session = %r.session_id), err(level = "info"))]
    pub async fn reserve_checkout(
        &self,
        tenant: &TenantId,
        r: Reservation,
    ) -> Result<pb::CheckoutSession, AppError> {
        let row = match self.session_row(tenant, &r.session_id).await? {
            Some(row) => row,
            None => self.open(tenant, &r).await?,
        };
        if row.request_hash != r.request_hash {
            return Err(AppError::AlreadyExists(format!(
                "checkout session {} was reserved for another cart; use a new session id",
                r.session_id
            )));
        }
        match row.state {
            State::Reserving => self.hold(tenant, row).await,
            _ => first_answer(&row),
        }
    }

    /// Evaluates the cart and stores the session, reserving, with its lapse
    /// timer; a session opened meanwhile by a concurrent request is that one.
    async fn open(&self, tenant: &TenantId, r: &Reservation) -> Result<SessionRow, AppError> {
        let e = self.evaluate(tenant, r.cart.clone()).await?;
        // A code asked for and refused is no discount to reserve silently
        // without: the reservation is refused with its reason, holding nothing.
        if let Some((v, why)) = e.codes.iter().find_map(|v| Some((v, v.why?))) {
            let (reason, limit) = why.reason();
            let message = if v.message.is_empty() {
                format!("code {} cannot be used ({reason})", v.code)
            } else {
                v.message.clone()
            };
            return Err(AppError::Refused {
                reason: reason.into(),
                message,
                limit,
            });
        }
        let now = self.clock().now();
        let expires_at = now.saturating_add(r.ttl_us);
        let view = pb::CheckoutSession {
            session_id: r.session_id.clone(),
            state: pb::CheckoutState::Reserving as i32,
            program_id: r.cart.program_id.clone(),
            customer_id: r.cart.customer.clone(),
            expires_at: Some(to_timestamp(expires_at)),
            cart: Some(views::evaluated(&e, now)),
            order_id: String::new(),
            rewards: vec![],
        };
        let row = SessionRow {
            session_id: r.session_id.clone(),
            state: State::Reserving,
            request_hash: r.request_hash.clone(),
            plan: plan(&r.cart, &e, r.ttl_us),
            holds: Holds::default(),
            view: view.encode_to_vec(),
            answer: Vec::new(),
            refusal: None,
            order_id: String::new(),
            expires_at,
        };
        let mut tx = self.db().begin().await?;
        if repo::insert_session(&mut tx, tenant.as_str(), &row, now).await? {
            let id = &r.session_id;
            jobs::schedule(&mut tx, tenant, CHECKOUT_LAPSE, id, expires_at, now, &[]).await?;
            tx.commit().await?;
            return Ok(row);
        }
        drop(tx);
        self.session_row(tenant, &r.session_id)
            .await?
            .ok_or_else(|| AppError::Aborted("concurrent reservation of the session, retry".into()))
    }

    /// Takes what a session asks to hold, each call keyed by session, so a
    /// second call finds what the first took: what is held, and the first
    /// refusal. An upstream out of reach is an error (what it held is found
    /// again by the next call).
    pub(super) async fn take(
        &self,
        tenant: &TenantId,
        row: &SessionRow,
    ) -> Result<(Holds, Option<AppError>), AppError> {
        let (plan, sid, up) = (&row.plan, row.session_id.as_str(), self.upstream());
        let key = |kind: &str, what: &str| outbound::key(tenant, &["checkout", sid, kind, what]);
        let coupons = futures::future::join_all(plan.codes.iter().map(|code| {
            let hold = CouponHold {
                key: key("coupon", code),
                code,
                customer: &plan.customer,
                session: sid,
                ttl_us: plan.hold_ttl_us,
            };
            async move { (code.clone(), up.reserve_coupon(tenant, hold).await) }
        }));
        let balance = |asset: &str, minor: i64| {
            let (asset, hold_key) = (asset.to_owned(), key("hold", asset));
            async move {
                if minor == 0 {
                    return Ok(None);
                }
                let hold = BalanceHold {
                    key: hold_key,
                    customer: &plan.customer,
                    minor,
                    asset: &asset,
                    session: sid,
                    ttl_us: plan.hold_ttl_us,
                };
                up.authorize(tenant, hold).await.map(Some)
            }
        };
        let (coupons, points, cashback) = tokio::join!(
            coupons,
            balance(POINTS, plan.points),
            balance(&plan.currency, plan.cashback),
        );
        let mut holds = Holds::default();
        let mut first_refusal = None;
        let mut outcome = |e: AppError| {
            if transient(&e) {
                return Err(e);
            }
            first_refusal.get_or_insert(e);
            Ok(())
        };
        for (code, held) in coupons {
            match held {
                Ok(redemption) => holds.coupons.push((code, redemption)),
                Err(e) => outcome(e)?,
            }
        }
        match points {
            Ok(hold) => holds.points = hold,
            Err(e) => outcome(e)?,
        }
        match cashback {
            Ok(hold) => holds.cashback = hold,
            Err(e) => outcome(e)?,
        }
        Ok((holds, first_refusal))
    }

    /// Takes a reserving session's holds, then moves it to reserved, or to
    /// refused giving back what was held.
    async fn hold(
        &self,
        tenant: &TenantId,
        row: SessionRow,
    ) -> Result<pb::CheckoutSession, AppError> {
        let (holds, refusal) = self.take(tenant, &row).await?;
        let mut tx = self.db().begin().await?;
        let t = tenant.as_str();
        let current = repo::get_session(&mut tx, self.db(), t, &row.session_id, true)
            .await?
            .ok_or_else(|| not_found(&row.session_id))?;
        if current.state != State::Reserving {
            // Finished by a concurrent request, or ended meanwhile.
            drop(tx);
            return first_answer(&current);
        }
        let mut fx = Effects::default();
        let refusal = refusal.map(refusal_of);
        let to = if refusal.is_some() {
            give_back(&mut fx, &row.session_id, &holds);
            State::Refused
        } else {
            State::Reserved
        };
        let view = restate(&current, to)?.encode_to_vec();
        let moved = Move {
            session_id: &row.session_id,
            from: State::Reserving,
            to,
            holds: &holds,
            view: &view,
            order_id: "",
            refusal: refusal.as_ref(),
            answer: (to == State::Reserved).then_some(view.as_slice()),
        };
        repo::move_session(&mut tx, t, moved, self.clock().now()).await?;
        self.write_effects(&mut tx, tenant, fx).await?;
        tx.commit().await?;
        match refusal {
            Some(why) => Err(refused(&why)),
            None => decode(&view),
        }
    }
}
