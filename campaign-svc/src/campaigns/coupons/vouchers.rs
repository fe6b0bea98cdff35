//! Vouchers: a campaign's next-purchase voucher, issued (by accrual, for the
//! purchase that earned it) as a single-use code assigned to that customer,
//! with its own value, minimum order and validity, in the campaign's
//! [`VOUCHERS`] batch; voided unused when the earning order is returned.
//! Its customer is told when it is issued, when it becomes usable, and when
//! it expires unused (two timers, [`TOLD`]).
use boomerang_common::{db::Conn, error::AppError, jobs, tenant::TenantId, time::to_timestamp};
use boomerang_proto::campaign::v1 as pb;

use super::CouponView;
use crate::{
    campaigns::Campaigns,
    domain::{
        coupon::{CouponEffect, Pattern, Rules, Scope},
        spec::{Conditions, Money},
    },
    repo::{
        batches::{self as batch_rows, BatchRow},
        coupons::{self as repo, CouponRow, NewVoucher},
    },
};

/// The batch of a campaign's vouchers (made with its first voucher).
pub const VOUCHERS: &str = "vouchers";
/// How voucher codes are spelled: 12 characters without look-alikes.
const SPELLING: &str = "V-****-****-****";
/// Draws before giving up on a free code (each collides with odds 31^-12).
const DRAWS: usize = 8;
/// Job queue telling a voucher's moments: usable (`va_<code>`), expired
/// unused (`ve_<code>`).
pub const TOLD: &str = "campaign.voucher_told";

/// A voucher's moment a [`TOLD`] job tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    /// Its validity began.
    Available,
    /// Its validity ended.
    Expired,
}

impl Moment {
    fn prefix(self) -> &'static str {
        match self {
            Self::Available => "va_",
            Self::Expired => "ve_",
        }
    }

    /// The job key telling `code`'s moment.
    fn key(self, code: &str) -> String {
        format!("{}{code}", self.prefix())
    }

    /// The moment and code of a job key.
    pub fn parse(key: &str) -> Option<(Self, &str)> {
        [Self::Available, Self::Expired]
            .into_iter()
            .find_map(|m| Some((m, key.strip_prefix(m.prefix())?)))
    }
}

/// What telling a moment found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Told {
    /// Told, or nothing to tell (voided or used).
    Done,
    /// A checkout holds the voucher: whether it expires unused is known once
    /// that hold ends.
    Held,
}

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

/// "voucher V-... takes 5.00 EUR off an order of at least 50.00 EUR".
fn offer(code: &str, value: &Money, min_order: Option<&Money>) -> String {
    let min = min_order
        .map(|m| format!(" of at least {}", spoken(m)))
        .unwrap_or_default();
    format!("voucher {code} takes {} off an order{min}", spoken(value))
}

/// An instant as people read it: "2027-01-20 10:00 UTC".
fn spoken_at(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
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
        batch_rows::insert_batch(conn, t, &batch).await?;
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
                    message: offer(code.as_str(), &v.value, v.min_order.as_ref()),
                    ..voucher_event(pb::EventType::VoucherIssued, &row)
                };
                self.emit(conn, tenant, issued).await?;
                for (moment, at) in [
                    (Moment::Available, v.valid_from.max(now)),
                    (Moment::Expired, v.valid_until),
                ] {
                    let key = moment.key(code.as_str());
                    jobs::schedule(conn, tenant, TOLD, &key, at, now, b"").await?;
                }
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

    /// Tells the customer `code`'s moment (a [`TOLD`] job): usable now, or
    /// expired unused. A voucher voided or used by then has nothing to tell;
    /// one a checkout holds at its expiry waits for that hold to end.
    #[tracing::instrument(name = "boomerang.campaign.vouchers.tell", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn tell_voucher(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        moment: Moment,
        code: &str,
    ) -> Result<Told, AppError> {
        let row = repo::get_coupon(conn, tenant.as_str(), code)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("voucher {code} lost")))?;
        if row.voided_at.is_some() || row.redeemed > 0 {
            return Ok(Told::Done);
        }
        if moment == Moment::Expired && row.reserved > 0 {
            return Ok(Told::Held);
        }
        let rules = super::rules_of(&row.rules)?;
        let CouponEffect::AmountOff { amount, .. } = &rules.effect else {
            return Err(AppError::Internal(anyhow::anyhow!("{code} is no voucher")));
        };
        let until = rules.valid_until.unwrap_or_default();
        let (kind, message) = match moment {
            Moment::Available => (
                pb::EventType::VoucherAvailable,
                format!(
                    "{} until {}",
                    offer(code, amount, rules.conditions.min_order_amount.as_ref()),
                    spoken_at(until)
                ),
            ),
            Moment::Expired => (
                pb::EventType::VoucherExpired,
                format!("voucher {code} for {} expired unused", spoken(amount)),
            ),
        };
        let event = pb::WatchEventsResponse {
            amount: Some(amount.to_wire()),
            valid_from: rules.valid_from.map(to_timestamp),
            valid_until: Some(to_timestamp(until)),
            message,
            ..voucher_event(kind, &row)
        };
        self.emit(conn, tenant, event).await?;
        Ok(Told::Done)
    }
}
