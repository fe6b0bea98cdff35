//! gRPC handlers of `boomerang.accrual.v1.CheckoutService`: parse the cart
//! (field violations), one facade call, render.
use boomerang_common::{
    error::{AppError, Violations},
    idempotency::{self, IdempotencyKey, Mutations},
    tenant::tenant_of,
    time::duration,
};
use boomerang_proto::{
    accrual::v1::{self as pb, checkout_service_server::CheckoutService},
    common::v1 as pc,
};
use tonic::{Request, Response, Status};

use super::convert::{CHANNELS, LineAsked, id, lines, money, text};
use crate::{
    accrual::{
        Accrual,
        checkout::{CartInput, sessions::Reservation},
    },
    domain::session::State,
    views::evaluated,
};

/// Most lines in a cart.
const MAX_LINES: usize = 200;
/// Most codes in a cart.
const MAX_CODES: usize = 20;
/// Longest code.
const MAX_CODE: usize = 64;

/// The `CheckoutService` implementation.
#[derive(Clone, Debug)]
pub struct CheckoutServiceHandler {
    accrual: Accrual,
    mutations: Mutations,
}

impl CheckoutServiceHandler {
    /// Handlers over `accrual`.
    pub fn new(accrual: Accrual) -> Self {
        Self {
            mutations: super::mutations(&accrual),
            accrual,
        }
    }
}

/// Validates a cart: every bad field at once.
fn cart(c: Option<&pb::Cart>) -> Result<CartInput, AppError> {
    let mut v = Violations::new();
    let cart = cart_into(&mut v, c);
    v.check()?;
    Ok(cart)
}

/// A cart's fields, their violations recorded in `v`.
fn cart_into(v: &mut Violations, c: Option<&pb::Cart>) -> CartInput {
    let Some(c) = c else {
        v.add("cart", "required");
        return CartInput::default();
    };
    let program_id = id(v, "cart.program_id", &c.program_id);
    let customer = id(v, "cart.customer_id", &c.customer_id);
    let known = boomerang_common::money::Asset::builtin(&c.currency).is_some();
    if !known {
        v.add("cart.currency", "a known currency, e.g. EUR");
    }
    if c.lines.is_empty() || c.lines.len() > MAX_LINES {
        v.add("cart.lines", format!("1 to {MAX_LINES} lines"));
    }
    let asked = c.lines.iter().take(MAX_LINES).map(|l| LineAsked {
        line_id: &l.line_id,
        sku: &l.sku,
        category: &l.category,
        unit_price: l.unit_price.as_ref(),
        quantity: l.quantity,
        discount: None,
    });
    let lines = lines(v, "cart.lines", known.then_some(c.currency.as_str()), asked);
    if c.coupon_codes.len() > MAX_CODES {
        v.add("cart.coupon_codes", format!("at most {MAX_CODES} codes"));
    }
    let codes: Vec<String> = c
        .coupon_codes
        .iter()
        .take(MAX_CODES)
        .enumerate()
        .map(|(i, code)| {
            let code = code.trim().to_ascii_uppercase();
            let ok = !code.is_empty()
                && code.len() <= MAX_CODE
                && code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                v.add(
                    format!("cart.coupon_codes[{i}]"),
                    "1 to 64 letters, digits and \"-\"",
                );
            }
            code
        })
        .collect();
    let points = money(v, "cart.pay_with_points", c.pay_with_points.as_ref(), false);
    if points.as_ref().is_some_and(|m| m.code() != "PTS") {
        v.add("cart.pay_with_points.asset", "PTS");
    }
    let cashback = money(
        v,
        "cart.pay_with_cashback",
        c.pay_with_cashback.as_ref(),
        false,
    );
    if known && cashback.as_ref().is_some_and(|m| m.code() != c.currency) {
        v.add("cart.pay_with_cashback.asset", "the cart's currency");
    }
    let store = text(v, "cart.store_id", &c.store_id, 128);
    v.required::<pc::Channel>("cart.channel", c.channel, CHANNELS);
    CartInput {
        program_id,
        customer,
        currency: c.currency.clone(),
        channel: c.channel,
        channel_name: pc::channel_name(c.channel).map(str::to_owned),
        store,
        lines,
        codes,
        points: points.map_or(0, |m| m.minor()),
        cashback: cashback.map_or(0, |m| m.minor()),
    }
}

/// How long a session holds when the request says nothing.
const DEFAULT_TTL_US: i64 = 15 * 60 * 1_000_000;
/// Longest session.
const MAX_TTL_US: i64 = 12 * 3_600 * 1_000_000;

/// A required session id.
fn session_id(v: &mut Violations, raw: &str) -> String {
    id(v, "session_id", raw)
}

#[tonic::async_trait]
impl CheckoutService for CheckoutServiceHandler {
    async fn evaluate_cart(
        &self,
        req: Request<pb::EvaluateCartRequest>,
    ) -> Result<Response<pb::EvaluateCartResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let cart = cart(req.get_ref().cart.as_ref())?;
        let done = self.accrual.evaluate(&tenant, cart).await?;
        Ok(Response::new(evaluated(&done, self.accrual.clock().now())))
    }

    async fn reserve_checkout(
        &self,
        req: Request<pb::ReserveCheckoutRequest>,
    ) -> Result<Response<pb::ReserveCheckoutResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let session_id = session_id(&mut v, &req.session_id);
        let ttl_us = duration(&mut v, "ttl", req.ttl.as_ref(), DEFAULT_TTL_US, MAX_TTL_US);
        let cart = cart_into(&mut v, req.cart.as_ref());
        v.check()?;
        let asked = Reservation {
            session_id,
            cart,
            ttl_us,
            request_hash: idempotency::request_hash(&req),
        };
        let session = self.accrual.reserve_checkout(&tenant, asked).await?;
        Ok(Response::new(pb::ReserveCheckoutResponse {
            session: Some(session),
        }))
    }

    async fn confirm_checkout(
        &self,
        req: Request<pb::ConfirmCheckoutRequest>,
    ) -> Result<Response<pb::ConfirmCheckoutResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let session = session_id(&mut v, &req.session_id);
        let order = id(&mut v, "order_id", &req.order_id);
        v.check()?;
        let key = IdempotencyKey::new(&tenant, "accrual.ConfirmCheckout", &req.idempotency_key)?;
        if let Some(first) = idempotency::peek(self.accrual.db(), &key, &req).await? {
            return Ok(Response::new(first));
        }
        let confirmation = self
            .accrual
            .prepare_confirm(&tenant, &session, &order)
            .await?;
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "accrual.ConfirmCheckout",
                &req.idempotency_key,
                &req,
                move |conn| {
                    Box::pin(async move {
                        let session = a.confirm_checkout_in_op(conn, &t, confirmation).await?;
                        Ok(pb::ConfirmCheckoutResponse {
                            session: Some(session),
                        })
                    })
                },
            )
            .await
    }

    async fn cancel_checkout(
        &self,
        req: Request<pb::CancelCheckoutRequest>,
    ) -> Result<Response<pb::CancelCheckoutResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let session = session_id(&mut v, &req.session_id);
        v.check()?;
        let key = IdempotencyKey::new(&tenant, "accrual.CancelCheckout", &req.idempotency_key)?;
        if let Some(first) = idempotency::peek(self.accrual.db(), &key, &req).await? {
            return Ok(Response::new(first));
        }
        let ending = self.accrual.prepare_end(&tenant, &session).await?;
        let (a, t) = (self.accrual.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "accrual.CancelCheckout",
                &req.idempotency_key,
                &req,
                move |conn| {
                    Box::pin(async move {
                        let session = a
                            .end_checkout_in_op(conn, &t, ending, State::Cancelled)
                            .await?;
                        Ok(pb::CancelCheckoutResponse {
                            session: Some(session),
                        })
                    })
                },
            )
            .await
    }

    async fn get_checkout(
        &self,
        req: Request<pb::GetCheckoutRequest>,
    ) -> Result<Response<pb::GetCheckoutResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let mut v = Violations::new();
        let session = session_id(&mut v, &req.get_ref().session_id);
        v.check()?;
        let session = self.accrual.checkout(&tenant, &session).await?;
        Ok(Response::new(pb::GetCheckoutResponse {
            session: Some(session),
        }))
    }
}
