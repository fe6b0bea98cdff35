//! Checkout sessions as a careful client runs them: reserved, then
//! confirmed, cancelled or left to lapse; and the check that nothing stays
//! held once every session ended.
use boomerang_common::money::minor_of;
use boomerang_proto::{accrual::v1 as apb, common::v1::Channel as Ch, wallet::v1 as wpb};
use tonic::Code;

use super::{CUSTOMERS, Client, PROGRAM, customer, eur_minor};

impl Client {
    /// A checkout session paying `cashback` of a cart of `price`: reserved,
    /// then confirmed, cancelled, or left to lapse after its 2 s TTL (`end`
    /// 0, 1, 2). A confirmed one spends the cashback and earns on the rest.
    pub async fn checkout_session(
        &self,
        who: &str,
        session: &str,
        (price, cashback): (i64, i64),
        end: u32,
    ) -> anyhow::Result<()> {
        let cart = apb::Cart {
            program_id: PROGRAM.into(),
            customer_id: who.into(),
            currency: "EUR".into(),
            channel: Ch::Online as i32,
            lines: vec![apb::CartLine {
                line_id: "l0".into(),
                sku: "sku-0".into(),
                category: "shoes".into(),
                unit_price: Some(eur_minor(price)),
                quantity: 1,
            }],
            pay_with_cashback: Some(eur_minor(cashback)),
            ..Default::default()
        };
        // Left to lapse: a short TTL; else long enough to outlive the chaos.
        let ttl = if end == 2 { 2 } else { 600 };
        let req = apb::ReserveCheckoutRequest {
            session_id: session.into(),
            cart: Some(cart),
            ttl: Some(prost_types::Duration {
                seconds: ttl,
                nanos: 0,
            }),
        };
        let reserved = match call!(self, checkout, reserve_checkout, req).await {
            Ok(r) => r.session.unwrap_or_default(),
            Err(s) if s.code() == Code::FailedPrecondition => {
                self.note(|r| *r.refused.entry("checkout session").or_default() += 1);
                return Ok(());
            }
            Err(s) => anyhow::bail!("reserve {session}: {s:?}"),
        };
        let payment = reserved.cart.and_then(|c| c.payment).unwrap_or_default();
        let spent = minor_of(payment.cashback_used.as_ref())?;
        match end {
            0 => {
                let req = apb::ConfirmCheckoutRequest {
                    idempotency_key: format!("confirm-{session}"),
                    session_id: session.into(),
                    order_id: format!("order-{session}"),
                };
                let done = call!(self, checkout, confirm_checkout, req)
                    .await
                    .map_err(|s| anyhow::anyhow!("confirm {session}: {s:?}"))?;
                let mut earned = 0;
                for reward in done.session.unwrap_or_default().rewards {
                    if reward.amount.as_ref().is_some_and(|m| m.asset == "EUR") {
                        earned += minor_of(reward.amount.as_ref())?;
                    }
                }
                self.note(|r| {
                    r.add(who, earned - spent);
                    *r.acknowledged.entry("checkout confirmed").or_default() += 1;
                });
            }
            1 => {
                let req = apb::CancelCheckoutRequest {
                    idempotency_key: format!("cancel-{session}"),
                    session_id: session.into(),
                };
                call!(self, checkout, cancel_checkout, req)
                    .await
                    .map_err(|s| anyhow::anyhow!("cancel {session}: {s:?}"))?;
                self.note(|r| *r.acknowledged.entry("checkout cancelled").or_default() += 1);
            }
            _ => self.note(|r| *r.acknowledged.entry("checkout left").or_default() += 1),
        }
        Ok(())
    }

    /// Customers whose wallet still holds EUR (a hold nothing will capture or void).
    pub async fn holding(&self) -> anyhow::Result<Vec<String>> {
        let mut holding = Vec::new();
        for i in 0..CUSTOMERS {
            let req = wpb::GetBalanceRequest {
                customer_id: customer(i),
                asset: "EUR".into(),
                as_of: None,
            };
            let b = call!(self, wallet, get_balance, req).await?;
            let held: i64 = b
                .balances
                .iter()
                .filter(|b| b.asset == "EUR")
                .map(|b| minor_of(b.held.as_ref()))
                .sum::<Result<i64, _>>()?;
            if held != 0 {
                holding.push(format!("{}: {held} held", customer(i)));
            }
        }
        Ok(holding)
    }
}
