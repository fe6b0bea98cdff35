//! gRPC handlers of `boomerang.accrual.v1.CheckoutService`: parse the cart
//! (field violations), one facade call, render.
use boomerang_common::{
    error::{AppError, Violations},
    money::wire,
    tenant::tenant_of,
};
use boomerang_proto::{
    accrual::v1::{self as pb, checkout_service_server::CheckoutService},
    common::v1 as pc,
};
use tonic::{Request, Response, Status};

use super::convert::{self, MAX_ORDER_MINOR, id, money, text};
use crate::{
    accrual::{
        Accrual,
        checkout::{CartInput, Evaluation, Why},
    },
    domain::rewards::Line,
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
}

impl CheckoutServiceHandler {
    /// Handlers over `accrual`.
    pub fn new(accrual: Accrual) -> Self {
        Self { accrual }
    }
}

/// Validates a cart: every bad field at once.
fn cart(c: Option<&pb::Cart>) -> Result<CartInput, AppError> {
    let Some(c) = c else {
        return Err(AppError::invalid("cart", "required"));
    };
    let mut v = Violations::new();
    let program_id = id(&mut v, "cart.program_id", &c.program_id);
    let customer = id(&mut v, "cart.customer_id", &c.customer_id);
    let known = boomerang_common::money::Asset::builtin(&c.currency).is_some();
    if !known {
        v.add("cart.currency", "a known currency, e.g. EUR");
    }
    if c.lines.is_empty() || c.lines.len() > MAX_LINES {
        v.add("cart.lines", format!("1 to {MAX_LINES} lines"));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut total: i64 = 0;
    let lines: Vec<Line> = c
        .lines
        .iter()
        .take(MAX_LINES)
        .enumerate()
        .map(|(i, l)| {
            let f = format!("cart.lines[{i}]");
            let line_id = id(&mut v, &format!("{f}.line_id"), &l.line_id);
            if !seen.insert(line_id.clone()) {
                v.add(format!("{f}.line_id"), "line ids are unique in a cart");
            }
            if l.unit_price.is_none() {
                v.add(format!("{f}.unit_price"), "required");
            }
            let unit = money(
                &mut v,
                &format!("{f}.unit_price"),
                l.unit_price.as_ref(),
                false,
            );
            if known && unit.as_ref().is_some_and(|m| m.code() != c.currency) {
                v.add(format!("{f}.unit_price.asset"), "the cart's currency");
            }
            if !(1..=10_000).contains(&l.quantity) {
                v.add(format!("{f}.quantity"), "1 to 10000");
            }
            let unit = unit.map_or(0, |m| m.minor());
            total = total.saturating_add(unit.saturating_mul(i64::from(l.quantity)));
            Line {
                line_id,
                sku: text(&mut v, &format!("{f}.sku"), &l.sku, 128),
                category: text(&mut v, &format!("{f}.category"), &l.category, 128),
                unit_price: unit,
                quantity: l.quantity,
                discount: 0,
            }
        })
        .collect();
    if total > MAX_ORDER_MINOR {
        v.add(
            "cart.lines",
            "a cart is at most 10^10 minor units of its currency",
        );
    }
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
    let points = money(
        &mut v,
        "cart.pay_with_points",
        c.pay_with_points.as_ref(),
        false,
    );
    if points.as_ref().is_some_and(|m| m.code() != "PTS") {
        v.add("cart.pay_with_points.asset", "PTS");
    }
    let cashback = money(
        &mut v,
        "cart.pay_with_cashback",
        c.pay_with_cashback.as_ref(),
        false,
    );
    if known && cashback.as_ref().is_some_and(|m| m.code() != c.currency) {
        v.add("cart.pay_with_cashback.asset", "the cart's currency");
    }
    let store = text(&mut v, "cart.store_id", &c.store_id, 128);
    v.known::<pc::Channel>("cart.channel", c.channel);
    v.check()?;
    Ok(CartInput {
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
    })
}

fn refusal(w: Why) -> i32 {
    let r = match w {
        Why::Unknown => pb::CodeRefusal::Unknown,
        Why::Expired => pb::CodeRefusal::Expired,
        Why::NotYetValid => pb::CodeRefusal::NotYetValid,
        Why::UsedUp => pb::CodeRefusal::UsedUp,
        Why::UsedUpByCustomer => pb::CodeRefusal::UsedUpByCustomer,
        Why::NotYours => pb::CodeRefusal::NotYours,
        Why::BelowMinimum => pb::CodeRefusal::BelowMinimum,
        Why::NotCombinable => pb::CodeRefusal::NotCombinable,
        Why::ConditionsNotMet => pb::CodeRefusal::ConditionsNotMet,
        Why::CampaignNotRunning => pb::CodeRefusal::CampaignNotRunning,
        Why::Duplicate => pb::CodeRefusal::Duplicate,
    };
    r as i32
}

fn evaluated(e: &Evaluation, now: i64) -> pb::EvaluateCartResponse {
    let cur = |minor: i64| Some(wire(minor, &e.currency));
    let pts = |n: i64| Some(wire(n, "PTS"));
    pb::EvaluateCartResponse {
        lines: e
            .lines
            .iter()
            .map(|l| {
                let off: i64 = l.discounts.iter().map(|(_, d)| d).sum();
                pb::LineEffect {
                    line_id: l.line_id.clone(),
                    subtotal: cur(l.subtotal),
                    discounts: l
                        .discounts
                        .iter()
                        .map(|(code, d)| pb::LineDiscount {
                            code: code.clone(),
                            amount: cur(*d),
                        })
                        .collect(),
                    total: cur(l.subtotal - off),
                }
            })
            .collect(),
        codes: e
            .codes
            .iter()
            .map(|c| pb::CodeVerdict {
                code: c.code.clone(),
                accepted: c.why.is_none(),
                refusal: c.why.map_or(0, refusal),
                message: c.message.clone(),
                campaign_id: c.campaign.clone(),
                discount: cur(c.discount),
            })
            .collect(),
        subtotal: cur(e.subtotal),
        discount: cur(e.discount),
        payment: Some(pb::Payment {
            points_available: pts(e.held.0),
            points_payable: pts(e.paid.points_payable),
            points_used: pts(e.paid.points_used),
            points_value: cur(e.paid.points_value),
            cashback_available: cur(e.held.1),
            cashback_payable: cur(e.paid.cashback_payable),
            cashback_used: cur(e.paid.cashback_used),
        }),
        to_pay: cur(e.to_pay),
        earn: e
            .earn
            .rewards
            .iter()
            .map(|r| convert::to_reward("cart", r, true, now))
            .collect(),
        skipped: e.earn.skipped.iter().map(convert::to_explanation).collect(),
    }
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
}
