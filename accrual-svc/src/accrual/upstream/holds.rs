//! What a checkout session holds upstream: a coupon use at campaign-svc, a
//! points or cashback hold at the wallet; taken when it is reserved, then
//! captured and redeemed, or given back (from the outbox). Every call is
//! keyed, so a retry finds the hold the first call took.
use boomerang_common::{channel::acting_for, error::AppError, money::wire, tenant::TenantId};
use boomerang_proto::{campaign::v1 as cpb, wallet::v1 as wpb};
use tracing::instrument;

use super::{CAMPAIGN, Upstream, WALLET, refused};

/// A TTL in microseconds as a wire duration (whole seconds, rounded up).
fn duration(us: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: us.saturating_add(999_999) / 1_000_000,
        nanos: 0,
    }
}

/// A use of a code held for a session.
#[derive(Clone, Debug)]
pub struct CouponHold<'a> {
    /// Deterministic key (session and code).
    pub key: String,
    /// The code.
    pub code: &'a str,
    /// Who uses it.
    pub customer: &'a str,
    /// The session, as the redemption's order.
    pub session: &'a str,
    /// How long it is held, microseconds.
    pub ttl_us: i64,
}

/// Balance held for a session.
#[derive(Clone, Debug)]
pub struct BalanceHold<'a> {
    /// Deterministic key (session and asset).
    pub key: String,
    /// Whose.
    pub customer: &'a str,
    /// How much, minor units of `asset`.
    pub minor: i64,
    /// "PTS" or the cart's currency.
    pub asset: &'a str,
    /// The session, as the hold's reference.
    pub session: &'a str,
    /// How long it is held, microseconds.
    pub ttl_us: i64,
}

impl Upstream {
    /// Holds one use of a code; the redemption's id.
    #[instrument(name = "boomerang.accrual.upstream.reserve_coupon", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn reserve_coupon(
        &self,
        tenant: &TenantId,
        h: CouponHold<'_>,
    ) -> Result<String, AppError> {
        let ask = cpb::ReserveCouponRequest {
            idempotency_key: h.key,
            code: h.code.to_owned(),
            customer_id: h.customer.to_owned(),
            order_id: h.session.to_owned(),
            ttl: Some(duration(h.ttl_us)),
        };
        let done = self
            .coupons
            .clone()
            .reserve_coupon(acting_for(tenant, ask))
            .await
            .map_err(refused(CAMPAIGN))?
            .into_inner();
        Ok(done.redemption.unwrap_or_default().redemption_id)
    }

    /// Redeems a held use (delivered from the outbox).
    #[instrument(name = "boomerang.accrual.upstream.confirm_coupon", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn confirm_coupon(
        &self,
        tenant: &TenantId,
        key: String,
        redemption: &str,
    ) -> Result<(), AppError> {
        let ask = cpb::ConfirmCouponRequest {
            idempotency_key: key,
            redemption_id: redemption.to_owned(),
        };
        let mut client = self.coupons.clone();
        let call = client.confirm_coupon(acting_for(tenant, ask));
        call.await.map(drop).map_err(refused(CAMPAIGN))
    }

    /// Gives a held use back (delivered from the outbox).
    #[instrument(name = "boomerang.accrual.upstream.release_coupon", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn release_coupon(
        &self,
        tenant: &TenantId,
        key: String,
        redemption: &str,
    ) -> Result<(), AppError> {
        let ask = cpb::ReleaseCouponRequest {
            idempotency_key: key,
            redemption_id: redemption.to_owned(),
        };
        let mut client = self.coupons.clone();
        let call = client.release_coupon(acting_for(tenant, ask));
        call.await.map(drop).map_err(refused(CAMPAIGN))
    }

    /// Holds available balance; the hold's id.
    #[instrument(name = "boomerang.accrual.upstream.authorize", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn authorize(
        &self,
        tenant: &TenantId,
        h: BalanceHold<'_>,
    ) -> Result<String, AppError> {
        let ask = wpb::AuthorizeRequest {
            idempotency_key: h.key,
            customer_id: h.customer.to_owned(),
            amount: Some(wire(h.minor, h.asset)),
            ttl: Some(duration(h.ttl_us)),
            reference: h.session.to_owned(),
        };
        let done = self
            .wallet
            .clone()
            .authorize(acting_for(tenant, ask))
            .await
            .map_err(refused(WALLET))?
            .into_inner();
        Ok(done.hold.unwrap_or_default().hold_id)
    }

    /// Spends a whole hold (delivered from the outbox).
    #[instrument(name = "boomerang.accrual.upstream.capture", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn capture(
        &self,
        tenant: &TenantId,
        key: String,
        hold: &str,
    ) -> Result<(), AppError> {
        let ask = wpb::CaptureRequest {
            idempotency_key: key,
            hold_id: hold.to_owned(),
            amount: None,
        };
        let mut client = self.wallet.clone();
        let call = client.capture(acting_for(tenant, ask));
        call.await.map(drop).map_err(refused(WALLET))
    }

    /// Releases a hold unspent (delivered from the outbox).
    #[instrument(name = "boomerang.accrual.upstream.void", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn void(&self, tenant: &TenantId, key: String, hold: &str) -> Result<(), AppError> {
        let ask = wpb::VoidRequest {
            idempotency_key: key,
            hold_id: hold.to_owned(),
            reason: "checkout given back".into(),
        };
        let mut client = self.wallet.clone();
        let call = client.void(acting_for(tenant, ask));
        call.await.map(drop).map_err(refused(WALLET))
    }
}
