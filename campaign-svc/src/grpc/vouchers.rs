//! gRPC handlers of CouponService's voucher RPCs (services only: accrual
//! issues a voucher for the purchase that earned it, and voids it when that
//! purchase is returned): parse, one facade call once per idempotency key,
//! render.
use boomerang_common::{
    db::Conn, error::Violations, idempotency::Mutations, tenant::tenant_of, time::instant,
};
use boomerang_proto::campaign::v1 as pb;
use futures::future::BoxFuture;
use tonic::{Request, Response, Status};

use super::{convert, coupons::to_coupon};
use crate::campaigns::{Campaigns, coupons::Voucher};

/// Issues a voucher.
pub(super) async fn issue(
    campaigns: &Campaigns,
    mutations: &Mutations,
    req: Request<pb::IssueVoucherRequest>,
) -> Result<Response<pb::IssueVoucherResponse>, Status> {
    let tenant = tenant_of(&req)?;
    let req = req.into_inner();
    let mut v = Violations::new();
    let campaign = convert::id(&mut v, "campaign_id", &req.campaign_id);
    let customer = boomerang_common::id::field(&mut v, "customer_id", &req.customer_id);
    let reference = boomerang_common::id::field(&mut v, "reference", &req.reference);
    if req.value.is_none() {
        v.add("value", "required");
    }
    let value = convert::money(&mut v, "value", req.value.as_ref());
    let min_order = convert::money(&mut v, "min_order", req.min_order.as_ref());
    if let (Some(value), Some(min)) = (&value, &min_order)
        && value.asset() != min.asset()
    {
        v.add("min_order.asset", "the value's asset");
    }
    let from = instant(&mut v, "valid_from", req.valid_from.as_ref());
    let until = instant(&mut v, "valid_until", req.valid_until.as_ref());
    match (from, until) {
        (Some(from), Some(until)) if from >= until => {
            v.add("valid_until", "after valid_from");
        }
        (None, _) if req.valid_from.is_none() => v.add("valid_from", "required"),
        (_, None) if req.valid_until.is_none() => v.add("valid_until", "required"),
        _ => {}
    }
    v.check()?;
    let (Some(value), Some(valid_from), Some(valid_until)) = (value, from, until) else {
        return Err(Status::invalid_argument(
            "value, valid_from and valid_until are required",
        ));
    };
    let voucher = Voucher {
        campaign,
        customer,
        reference,
        value,
        min_order,
        valid_from,
        valid_until,
    };
    let (c, t) = (campaigns.clone(), tenant.clone());
    mutations
        .run(
            &tenant,
            "campaign.IssueVoucher",
            &req.idempotency_key,
            &req,
            move |conn: &mut Conn| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let coupon = c.issue_voucher(conn, &t, voucher).await?;
                    Ok(pb::IssueVoucherResponse {
                        coupon: Some(to_coupon(&coupon)),
                    })
                })
            },
        )
        .await
}

/// Voids a voucher.
pub(super) async fn void(
    campaigns: &Campaigns,
    mutations: &Mutations,
    req: Request<pb::VoidVoucherRequest>,
) -> Result<Response<pb::VoidVoucherResponse>, Status> {
    let tenant = tenant_of(&req)?;
    let req = req.into_inner();
    let mut v = Violations::new();
    let reference = boomerang_common::id::field(&mut v, "reference", &req.reference);
    v.check()?;
    let (c, t) = (campaigns.clone(), tenant.clone());
    mutations
        .run(
            &tenant,
            "campaign.VoidVoucher",
            &req.idempotency_key,
            &req,
            move |conn: &mut Conn| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let (coupon, voided) = c.void_voucher(conn, &t, &reference).await?;
                    Ok(pb::VoidVoucherResponse {
                        coupon: Some(to_coupon(&coupon)),
                        voided,
                    })
                })
            },
        )
        .await
}
