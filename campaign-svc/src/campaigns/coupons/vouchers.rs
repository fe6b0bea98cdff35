//! Vouchers: a campaign's next-purchase voucher, issued (by accrual, for the
//! purchase that earned it) as a single-use code assigned to that customer,
//! with its own value, minimum order and validity, in the campaign's
//! [`VOUCHERS`] batch; voided unused when the earning order is returned.
use boomerang_common::{db::Conn, error::AppError, tenant::TenantId, time::to_timestamp};
use boomerang_proto::campaign::v1 as pb;

use super::CouponView;
use crate::{
    campaigns::Campaigns,
    domain::{
        coupon::{CouponEffect, Pattern, Rules, Scope},
        spec::{Conditions, Money},
    },
    repo::coupons::{self as repo, BatchRow, CouponRow, NewVoucher},
};

/// The batch of a campaign's vouchers (made with its first voucher).
pub const VOUCHERS: &str = "vouchers";
/// How voucher codes are spelled: 12 characters without look-alikes.
const SPELLING: &str = "V-****-****-****";
/// Draws before giving up on a free code (each collides with odds 31^-12).
const DRAWS: usize = 8;

/// A voucher to issue.
#[derive(Clone, Debug)]
pub struct Voucher {
    /// Its campaign.
    pub campaign: String,
    /// Whose.
    pub customer: String,
    /// What earned it.
    pub reference: String,
    /// Its value.
    pub value: Money,
    /// Smallest next order it applies to.
    pub min_order: Option<Money>,
    /// First instant of use.
    pub valid_from: i64,
    /// First instant no longer usable.
    pub valid_until: i64,
}

impl Voucher {
    /// Its code's rules: one use, by its customer, within its validity, off
    /// an order of at least its minimum; given back when that order is
    /// cancelled or returned.
    fn rules(&self) -> Rules {
        Rules {
            max_uses: 1,
            per_customer: 1,
            valid_from: Some(self.valid_from),
            valid_until: Some(self.valid_until),
            conditions: Conditions {
                min_order_amount: self.min_order.clone(),
                ..Conditions::default()
            },
            effect: CouponEffect::AmountOff {
                amount: self.value.clone(),
                scope: Scope::Order,
            },
            uses_given_back: true,
        }
    }
}

/// An amount as people read it: "5.00 EUR".
fn spoken(m: &Money) -> String {
    format!("{m} {}", m.asset().code())
}

/// An event about a voucher.
fn voucher_event(kind: pb::EventType, row: &CouponRow) -> pb::WatchEventsResponse {
    pb::WatchEventsResponse {
        r#type: kind as i32,
        campaign_id: row.campaign_id.clone(),
        customer_id: row.customer_id.clone(),
        code: row.code.clone(),
        ..Default::default()
    }
}

fn json(rules: &Rules) -> Result<String, AppError> {
    serde_json::to_string(rules).map_err(|e| AppError::Internal(e.into()))
}

impl Campaigns {
    /// Issues a voucher, once per reference (a second issue answers the first).
    #[tracing::instrument(name = "boomerang.campaign.vouchers.issue", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn issue_voucher(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        v: Voucher,
    ) -> Result<CouponView, AppError> {
        let t = tenant.as_str();
        if let Some(row) = repo::voucher(conn, t, &v.reference).await? {
            return self.coupon_view(row);
        }
        // The campaign exists (NOT_FOUND otherwise).
        self.view(conn, tenant, &v.campaign, None).await?;
        let now = self.clock().now();
        let rules = json(&v.rules())?;
        let batch = BatchRow {
            campaign_id: v.campaign.clone(),
            batch_id: VOUCHERS.into(),
            rules: rules.clone(),
            pattern: SPELLING.into(),
            requested: 0,
            created: 0,
            state: "ready".into(),
            created_at: now,
        };
        repo::insert_batch(conn, t, &batch).await?;
        let spelling =
            Pattern::parse(SPELLING).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
        for _ in 0..DRAWS {
            let code = spelling.generate(&mut rand::rng());
            let new = NewVoucher {
                campaign: &v.campaign,
                batch: VOUCHERS,
                code: code.as_str(),
                customer: &v.customer,
                rules: &rules,
                reference: &v.reference,
            };
            let inserted = repo::insert_voucher(conn, t, new, now).await?;
            // One voucher per reference: a concurrent issue under another key won.
            if !inserted && let Some(row) = repo::voucher(conn, t, &v.reference).await? {
                return self.coupon_view(row);
            }
            if inserted {
                let row = repo::get_coupon(conn, t, code.as_str()).await?;
                let row = row.ok_or_else(|| AppError::Internal(anyhow::anyhow!("voucher lost")))?;
                let issued = pb::WatchEventsResponse {
                    amount: Some(v.value.to_wire()),
                    valid_from: Some(to_timestamp(v.valid_from)),
                    valid_until: Some(to_timestamp(v.valid_until)),
                    message: format!(
                        "voucher {} takes {} off an order{}",
                        code.as_str(),
                        spoken(&v.value),
                        v.min_order
                            .as_ref()
                            .map(|m| format!(" of at least {}", spoken(m)))
                            .unwrap_or_default()
                    ),
                    ..voucher_event(pb::EventType::VoucherIssued, &row)
                };
                self.emit(conn, tenant, issued).await?;
                return self.coupon_view(row);
            }
        }
        Err(AppError::Internal(anyhow::anyhow!(
            "no free voucher code in {DRAWS} draws"
        )))
    }

    /// Voids the voucher of `reference` unless it was used; the code, and
    /// whether it is void. One a checkout holds now is refused
    /// (`VOUCHER_HELD`, nothing stored): void it again once that ends.
    #[tracing::instrument(name = "boomerang.campaign.vouchers.void", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn void_voucher(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        reference: &str,
    ) -> Result<(CouponView, bool), AppError> {
        let t = tenant.as_str();
        let now_void = repo::void_voucher(conn, t, reference, self.clock().now()).await?;
        let row = repo::voucher(conn, t, reference)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no voucher for {reference}")))?;
        if now_void {
            let voided = voucher_event(pb::EventType::VoucherVoided, &row);
            self.emit(conn, tenant, voided).await?;
        } else if row.voided_at.is_none() && row.redeemed == 0 && row.reserved > 0 {
            return Err(AppError::Refused {
                reason: "VOUCHER_HELD".into(),
                message: format!(
                    "voucher {} is held by a checkout; void it once that ends",
                    row.code
                ),
                limit: false,
            });
        }
        let voided = row.voided_at.is_some();
        Ok((self.coupon_view(row)?, voided))
    }
}
