//! A shop at checkout: campaigns with coupon codes, carts, and calls
//! through the gateway with its key.
use boomerang_common::time::{now_micros, to_timestamp};
use boomerang_proto::{
    accrual::v1::{
        self as apb, accrual_service_client::AccrualServiceClient,
        checkout_service_client::CheckoutServiceClient,
    },
    campaign::v1::{
        self as cpb, campaign_service_client::CampaignServiceClient,
        coupon_service_client::CouponServiceClient,
    },
    common::v1::Money,
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use tonic::transport::Channel;

use super::with_key;

/// `message` with the key, for calls that answer a `Status`.
fn keyed<T>(message: T, key: &str) -> Result<tonic::Request<T>, tonic::Status> {
    with_key(message, key).map_err(|e| tonic::Status::internal(e.to_string()))
}

pub fn money(amount: &str, asset: &str) -> Money {
    Money {
        amount: amount.into(),
        asset: asset.into(),
    }
}

pub fn eur(amount: &str) -> Option<Money> {
    Some(money(amount, "EUR"))
}

/// A campaign running since an hour ago, of `priority` and `stacking`.
pub fn campaign(priority: i32, stacking: cpb::Stacking) -> cpb::CampaignSpec {
    let hour = 3_600_000_000;
    cpb::CampaignSpec {
        name: "Checkout codes".into(),
        terms: "Codes at checkout.".into(),
        schedule: Some(cpb::Schedule {
            timezone: "Europe/Rome".into(),
            starts_at: Some(to_timestamp(now_micros() - hour)),
            ends_at: Some(to_timestamp(now_micros() + 720 * hour)),
            windows: vec![],
        }),
        effect: Some(cpb::Effect {
            kind: Some(cpb::effect::Kind::ExtraPercent(cpb::ExtraPercent {
                asset: "PTS".into(),
                percent: "1".into(),
            })),
        }),
        conditions: Some(cpb::Conditions {
            categories: vec!["none-at-all".into()],
            ..Default::default()
        }),
        priority,
        stacking: stacking as i32,
        ..Default::default()
    }
}

pub fn off(
    kind: cpb::coupon_effect::Kind,
    min_order: Option<Money>,
    categories: &[&str],
) -> cpb::CouponRules {
    cpb::CouponRules {
        max_uses: 1,
        conditions: Some(cpb::Conditions {
            min_order_amount: min_order,
            categories: categories.iter().map(|c| (*c).into()).collect(),
            ..Default::default()
        }),
        effect: Some(cpb::CouponEffect { kind: Some(kind) }),
        ..Default::default()
    }
}

pub fn percent(p: &str, scope: cpb::DiscountScope) -> cpb::coupon_effect::Kind {
    cpb::coupon_effect::Kind::PercentOff(cpb::PercentOff {
        percent: p.into(),
        scope: scope as i32,
    })
}

pub fn line(id: &str, category: &str, price: &str) -> apb::CartLine {
    apb::CartLine {
        line_id: id.into(),
        sku: format!("sku-{id}"),
        category: category.into(),
        unit_price: eur(price),
        quantity: 1,
    }
}

pub fn cart(lines: Vec<apb::CartLine>, codes: &[&str]) -> apb::Cart {
    apb::Cart {
        program_id: "demo".into(),
        customer_id: "ann".into(),
        currency: "EUR".into(),
        lines,
        coupon_codes: codes.iter().map(|c| (*c).into()).collect(),
        channel: boomerang_proto::common::v1::Channel::Online as i32,
        ..Default::default()
    }
}

pub struct Shop {
    /// The gateway.
    pub gw: Channel,
    /// The shop's API key.
    pub key: String,
}

impl Shop {
    /// Tenant "shop" with the demo program and a key that writes everything.
    pub async fn open(suite: &boomerang::Suite) -> anyhow::Result<Self> {
        suite.demo_program("shop").await?;
        Ok(Self {
            key: suite.create_key("shop", &["*:write"]).await?,
            gw: boomerang_common::testing::channel(suite.addrs().gateway).await?,
        })
    }

    /// Enrols `customer` in the demo program and credits them `eur` and
    /// `pts` available (unless zero), then waits for the 50 PTS welcome bonus.
    pub async fn member(&self, customer: &str, eur: &str, pts: &str) -> anyhow::Result<()> {
        let mut accrual = AccrualServiceClient::new(self.gw.clone());
        let enrol = apb::EnrollMemberRequest {
            idempotency_key: format!("e-{customer}"),
            program_id: "demo".into(),
            customer_id: customer.into(),
            ..Default::default()
        };
        accrual.enroll_member(with_key(enrol, &self.key)?).await?;
        let mut wallet = WalletServiceClient::new(self.gw.clone());
        let given = [money(eur, "EUR"), money(pts, "PTS")];
        for m in given
            .into_iter()
            .filter(|m| !m.amount.trim_matches(['0', '.']).is_empty())
        {
            let credit = wpb::CreditRequest {
                idempotency_key: format!("{customer}-{}", m.asset),
                customer_id: customer.into(),
                amount: Some(m),
                ..Default::default()
            };
            wallet.credit(with_key(credit, &self.key)?).await?;
        }
        let welcomed = pts.parse::<i64>()? + 50;
        boomerang_common::testing::eventually("the welcome bonus arrived", || async move {
            Ok(self.balance(customer, "PTS").await?.0 == welcomed.to_string())
        })
        .await
    }

    /// A customer's (available, held) in `asset`, as decimals.
    pub async fn balance(&self, customer: &str, asset: &str) -> anyhow::Result<(String, String)> {
        let mut wallet = WalletServiceClient::new(self.gw.clone());
        let read = wpb::GetBalanceRequest {
            customer_id: customer.into(),
            ..Default::default()
        };
        let balances = wallet
            .get_balance(with_key(read, &self.key)?)
            .await?
            .into_inner()
            .balances;
        let b = balances
            .into_iter()
            .find(|b| b.asset == asset)
            .unwrap_or_default();
        let decimal = |m: Option<Money>| m.map(|m| m.amount).unwrap_or_else(|| "0".into());
        Ok((decimal(b.available), decimal(b.held)))
    }

    /// A code as campaign-svc has it.
    pub async fn coupon(&self, code: &str) -> anyhow::Result<cpb::Coupon> {
        let mut c = CouponServiceClient::new(self.gw.clone());
        let read = cpb::GetCouponRequest { code: code.into() };
        let got = c.get_coupon(with_key(read, &self.key)?).await?.into_inner();
        Ok(got.coupon.unwrap_or_default())
    }

    /// Reserves `cart` as `session` for `ttl_secs`.
    pub async fn reserve(
        &self,
        session: &str,
        cart: apb::Cart,
        ttl_secs: i64,
    ) -> Result<apb::CheckoutSession, tonic::Status> {
        let req = apb::ReserveCheckoutRequest {
            session_id: session.into(),
            cart: Some(cart),
            ttl: Some(prost_types::Duration {
                seconds: ttl_secs,
                nanos: 0,
            }),
        };
        let mut c = CheckoutServiceClient::new(self.gw.clone());
        let done = c.reserve_checkout(keyed(req, &self.key)?).await?;
        Ok(done.into_inner().session.unwrap_or_default())
    }

    /// Confirms `session` as `order`, with idempotency key `key`.
    pub async fn confirm(
        &self,
        key: &str,
        session: &str,
        order: &str,
    ) -> Result<apb::CheckoutSession, tonic::Status> {
        let req = apb::ConfirmCheckoutRequest {
            idempotency_key: key.into(),
            session_id: session.into(),
            order_id: order.into(),
        };
        let mut c = CheckoutServiceClient::new(self.gw.clone());
        let done = c.confirm_checkout(keyed(req, &self.key)?).await?;
        Ok(done.into_inner().session.unwrap_or_default())
    }

    /// Cancels `session`, with idempotency key `key`.
    pub async fn cancel(
        &self,
        key: &str,
        session: &str,
    ) -> Result<apb::CheckoutSession, tonic::Status> {
        let req = apb::CancelCheckoutRequest {
            idempotency_key: key.into(),
            session_id: session.into(),
        };
        let mut c = CheckoutServiceClient::new(self.gw.clone());
        let done = c.cancel_checkout(keyed(req, &self.key)?).await?;
        Ok(done.into_inner().session.unwrap_or_default())
    }

    /// A session as it stands.
    pub async fn session(&self, session: &str) -> Result<apb::CheckoutSession, tonic::Status> {
        let req = apb::GetCheckoutRequest {
            session_id: session.into(),
        };
        let mut c = CheckoutServiceClient::new(self.gw.clone());
        let done = c.get_checkout(keyed(req, &self.key)?).await?;
        Ok(done.into_inner().session.unwrap_or_default())
    }

    pub async fn evaluate(
        &self,
        cart: apb::Cart,
    ) -> Result<apb::EvaluateCartResponse, tonic::Status> {
        let mut c = CheckoutServiceClient::new(self.gw.clone());
        let req = keyed(apb::EvaluateCartRequest { cart: Some(cart) }, &self.key)?;
        Ok(c.evaluate_cart(req).await?.into_inner())
    }

    pub async fn campaign(&self, id: &str, spec: cpb::CampaignSpec) -> anyhow::Result<()> {
        let mut c = CampaignServiceClient::new(self.gw.clone());
        let create = cpb::CreateCampaignRequest {
            idempotency_key: format!("c-{id}"),
            campaign_id: id.into(),
            spec: Some(spec),
            ..Default::default()
        };
        c.create_campaign(with_key(create, &self.key)?).await?;
        let schedule = cpb::ScheduleCampaignRequest {
            idempotency_key: format!("s-{id}"),
            campaign_id: id.into(),
        };
        c.schedule_campaign(with_key(schedule, &self.key)?).await?;
        Ok(())
    }

    pub async fn code(
        &self,
        campaign: &str,
        code: &str,
        customer: &str,
        rules: cpb::CouponRules,
    ) -> anyhow::Result<()> {
        let mut c = CouponServiceClient::new(self.gw.clone());
        let given = cpb::create_coupon_batch_request::Codes::Given(cpb::GivenCodes {
            codes: vec![cpb::GivenCode {
                code: code.into(),
                customer_id: customer.into(),
            }],
        });
        let req = cpb::CreateCouponBatchRequest {
            idempotency_key: format!("b-{code}"),
            campaign_id: campaign.into(),
            batch_id: code.to_lowercase(),
            rules: Some(rules),
            codes: Some(given),
            validate_only: false,
        };
        c.create_coupon_batch(with_key(req, &self.key)?).await?;
        Ok(())
    }
}

pub fn amount(m: &Option<Money>) -> String {
    m.as_ref()
        .map(|m| format!("{} {}", m.amount, m.asset))
        .unwrap_or_default()
}
