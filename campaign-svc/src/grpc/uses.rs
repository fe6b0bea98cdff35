//! ConfirmCoupon and ReleaseCoupon: one held use moved (redeemed, or given
//! back), once per idempotency key.
use boomerang_common::{db::Conn, tenant::TenantId};
use boomerang_proto::campaign::v1 as pb;
use futures::future::BoxFuture;
use tonic::{Response, Status};

use super::coupons::{CouponServiceHandler, redemption_id, to_redemption};

/// What becomes of a held use: redeemed, or given back.
#[derive(Clone, Copy, Debug)]
pub(super) enum UseMove {
    Confirm,
    Release,
}

/// Moves one use (`raw` the redemption id) once per idempotency key
/// (`key`), answering the redemption after it as `answer` makes it.
pub(super) async fn move_use<R: prost::Message + Default + 'static>(
    handler: &CouponServiceHandler,
    tenant: &TenantId,
    to: UseMove,
    (key, raw): (&str, &str),
    request: &impl prost::Message,
    answer: impl FnOnce(pb::CouponRedemption) -> R + Send + 'static,
) -> Result<Response<R>, Status> {
    let id = redemption_id(raw)?;
    let scope = match to {
        UseMove::Confirm => "campaign.ConfirmCoupon",
        UseMove::Release => "campaign.ReleaseCoupon",
    };
    let (c, t) = (handler.campaigns.clone(), tenant.clone());
    handler
        .mutations
        .run(
            tenant,
            scope,
            key,
            request,
            move |conn: &mut Conn| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let r = match to {
                        UseMove::Confirm => c.confirm_coupon(conn, &t, id).await?,
                        UseMove::Release => c.release_coupon(conn, &t, id, false).await?,
                    };
                    Ok(answer(to_redemption(&r)))
                })
            },
        )
        .await
}
