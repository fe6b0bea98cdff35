//! Uses of codes: checked, held with a TTL, redeemed, given back, lapsed.
//! Locks in one order: redemption, customer use, code.
use boomerang_common::{db::Conn, error::AppError, jobs, tenant::TenantId};
use boomerang_proto::campaign::v1 as pb;

use super::{Check, CouponView, Hold, LAPSE, redemption_ref, refused, rules_of};
use crate::{
    campaigns::{CampaignView, Campaigns},
    domain::{
        coupon::{Code, Rules, State},
        lifecycle::Status,
        spec::Stacking,
    },
    repo::coupons::{self as repo, CouponRow, RedemptionRow},
};

/// An event about a use of a code.
fn use_event(kind: pb::EventType, campaign: String, r: &RedemptionRow) -> pb::WatchEventsResponse {
    pb::WatchEventsResponse {
        r#type: kind as i32,
        campaign_id: campaign,
        customer_id: r.customer_id.clone(),
        code: r.code.clone(),
        order_id: r.order_id.clone(),
        ..Default::default()
    }
}

impl Campaigns {
    /// Holds one use of a code for `hold.customer`'s order until confirmed,
    /// released or lapsed. Refused with a reason: unknown code, campaign not
    /// running, not valid now, someone else's, used up, used up by this customer.
    #[tracing::instrument(name = "boomerang.campaign.coupons.reserve", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn reserve_coupon(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        hold: Hold,
    ) -> Result<(RedemptionRow, CouponView), AppError> {
        let now = self.clock().now();
        let code = hold.code.as_str();
        let row = repo::get_coupon(conn, tenant.as_str(), code)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no coupon {code}")))?;
        let (rules, _) = self.usable(conn, tenant, &row, &hold.customer, now).await?;
        if rules.per_customer > 0
            && !repo::take_customer_use(
                conn,
                tenant.as_str(),
                code,
                &hold.customer,
                i64::from(rules.per_customer),
            )
            .await?
        {
            return Err(refused(
                "COUPON_USED_UP_BY_CUSTOMER",
                format!(
                    "{code} is used up by this customer ({} uses each)",
                    rules.per_customer
                ),
                true,
            ));
        }
        let Some((reserved, redeemed)) = repo::take_use(conn, tenant.as_str(), code).await? else {
            return Err(refused(
                "COUPON_USED_UP",
                format!("{code} is used up"),
                true,
            ));
        };
        let mut redemption = RedemptionRow {
            id: 0,
            code: code.to_owned(),
            customer_id: hold.customer,
            order_id: hold.order,
            status: "reserved".into(),
            expires_at: now.saturating_add(hold.ttl),
            created_at: now,
        };
        redemption.id = repo::insert_redemption(conn, tenant.as_str(), &redemption).await?;
        let lapse = redemption_ref(redemption.id);
        jobs::schedule(conn, tenant, LAPSE, &lapse, redemption.expires_at, now, b"").await?;
        let row = CouponRow {
            reserved,
            redeemed,
            ..row
        };
        Ok((redemption, self.coupon_view(row)?))
    }

    /// Whether `row` can be used by `customer` at `now`, uses aside: its
    /// campaign runs, it is valid, it is not someone else's. Its rules and
    /// campaign.
    async fn usable(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        row: &CouponRow,
        customer: &str,
        now: i64,
    ) -> Result<(Rules, CampaignView), AppError> {
        let code = &row.code;
        let view = self.view(conn, tenant, &row.campaign_id, None).await?;
        // A voucher is used within its own validity, after its campaign too.
        let running = row.is_voucher()
            || matches!(view.head.status, Status::Active | Status::Scheduled)
                && view.version.spec.schedule.applies_at(now);
        if !running {
            return Err(refused(
                "CAMPAIGN_NOT_RUNNING",
                format!("the campaign of {code} is not running"),
                false,
            ));
        }
        let rules = rules_of(&row.rules)?;
        match State::at(&rules, 0, row.voided_at.is_some(), now) {
            State::Voided => {
                return Err(refused(
                    "COUPON_VOIDED",
                    format!("{code} was voided: the order that earned it was returned"),
                    false,
                ));
            }
            State::NotYetValid => {
                return Err(refused(
                    "COUPON_NOT_YET_VALID",
                    format!("{code} is not valid yet"),
                    false,
                ));
            }
            State::Expired => {
                return Err(refused(
                    "COUPON_EXPIRED",
                    format!("{code} has expired"),
                    false,
                ));
            }
            State::Available | State::UsedUp => {}
        }
        if !row.customer_id.is_empty() && row.customer_id != customer {
            return Err(refused(
                "COUPON_NOT_YOURS",
                format!("{code} is someone else's"),
                false,
            ));
        }
        Ok((rules, view))
    }

    /// Whether each code can be used by `customer` now, holding nothing:
    /// what [`Campaigns::reserve_coupon`] would answer, uses as they stand.
    #[tracing::instrument(name = "boomerang.campaign.coupons.check", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn check_coupons(
        &self,
        tenant: &TenantId,
        codes: &[Code],
        customer: &str,
    ) -> Result<Vec<Check>, AppError> {
        let now = self.clock().now();
        let mut conn = self.db().pool().acquire().await?;
        let mut checks = Vec::with_capacity(codes.len());
        for code in codes {
            let Some(row) = repo::get_coupon(&mut conn, tenant.as_str(), code.as_str()).await?
            else {
                checks.push(Check {
                    code: code.clone(),
                    coupon: None,
                    refusal: Some((
                        "COUPON_UNKNOWN".into(),
                        format!("no coupon {}", code.as_str()),
                    )),
                    priority: 0,
                    stacking: Stacking::Stackable,
                });
                continue;
            };
            let usable = self.usable(&mut conn, tenant, &row, customer, now).await;
            let (refusal, priority, stacking) = match usable {
                Ok((rules, view)) => {
                    let mine = if rules.per_customer > 0 {
                        repo::customer_uses(&mut conn, tenant.as_str(), code.as_str(), customer)
                            .await?
                    } else {
                        0
                    };
                    let spec = &view.version.spec;
                    let refusal = if rules.max_uses > 0
                        && row.reserved + row.redeemed >= i64::from(rules.max_uses)
                    {
                        Some((
                            "COUPON_USED_UP".into(),
                            format!("{} is used up", code.as_str()),
                        ))
                    } else if rules.per_customer > 0 && mine >= i64::from(rules.per_customer) {
                        Some((
                            "COUPON_USED_UP_BY_CUSTOMER".into(),
                            format!("{} is used up by this customer", code.as_str()),
                        ))
                    } else {
                        None
                    };
                    (refusal, spec.priority, spec.stacking)
                }
                Err(AppError::Refused {
                    reason, message, ..
                }) => (Some((reason, message)), 0, Stacking::Stackable),
                Err(e) => return Err(e),
            };
            checks.push(Check {
                code: code.clone(),
                coupon: Some(self.coupon_view(row)?),
                refusal,
                priority,
                stacking,
            });
        }
        Ok(checks)
    }

    /// Redeems a held use.
    #[tracing::instrument(name = "boomerang.campaign.coupons.confirm", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn confirm_coupon(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: i64,
    ) -> Result<RedemptionRow, AppError> {
        let now = self.clock().now();
        let mut r = self.redemption(conn, tenant, id).await?;
        if r.status != "reserved" {
            return Err(AppError::Precondition(format!(
                "redemption {} is {}",
                redemption_ref(id),
                r.status
            )));
        }
        if r.expires_at <= now {
            return Err(AppError::Precondition(format!(
                "redemption {} expired",
                redemption_ref(id)
            )));
        }
        repo::move_uses(conn, tenant.as_str(), &r.code, -1, 1).await?;
        r.status = "redeemed".into();
        repo::set_status(conn, tenant.as_str(), id, &r.status, now).await?;
        let campaign = repo::get_coupon(conn, tenant.as_str(), &r.code)
            .await?
            .map(|c| c.campaign_id)
            .unwrap_or_default();
        self.emit(
            conn,
            tenant,
            use_event(pb::EventType::CouponRedeemed, campaign, &r),
        )
        .await?;
        Ok(r)
    }

    /// Gives a use back: a held one always (`lapse`: by its timer), a
    /// redeemed one when its batch gives uses back.
    #[tracing::instrument(name = "boomerang.campaign.coupons.release", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn release_coupon(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: i64,
        lapse: bool,
    ) -> Result<RedemptionRow, AppError> {
        let now = self.clock().now();
        let mut r = self.redemption(conn, tenant, id).await?;
        let coupon = repo::get_coupon(conn, tenant.as_str(), &r.code)
            .await?
            .ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("redemption {id} lacks its coupon"))
            })?;
        let rules = rules_of(&coupon.rules)?;
        let (reserved, redeemed) = match r.status.as_str() {
            "reserved" => (-1, 0),
            "redeemed" if !lapse && rules.uses_given_back => (0, -1),
            "redeemed" if !lapse => {
                return Err(AppError::Precondition(format!(
                    "uses of batch {} are not given back once redeemed",
                    coupon.batch_id
                )));
            }
            _ if lapse => return Ok(r), // confirmed or released before its TTL
            other => {
                return Err(AppError::Precondition(format!(
                    "redemption {} is {other}",
                    redemption_ref(id)
                )));
            }
        };
        if rules.per_customer > 0 {
            repo::give_customer_use(conn, tenant.as_str(), &r.code, &r.customer_id).await?;
        }
        repo::move_uses(conn, tenant.as_str(), &r.code, reserved, redeemed).await?;
        r.status = if lapse { "expired" } else { "released" }.into();
        repo::set_status(conn, tenant.as_str(), id, &r.status, now).await?;
        if redeemed < 0 {
            let event = use_event(pb::EventType::CouponReleased, coupon.campaign_id, &r);
            self.emit(conn, tenant, event).await?;
        }
        Ok(r)
    }

    async fn redemption(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: i64,
    ) -> Result<RedemptionRow, AppError> {
        repo::lock_redemption(conn, self.db(), tenant.as_str(), id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no redemption {}", redemption_ref(id))))
    }
}
