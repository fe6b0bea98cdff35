//! Next-purchase vouchers at campaign-svc: issued as a code assigned to the
//! customer who earned one, voided when the earning order is returned
//! (both delivered from the outbox).
use boomerang_common::{channel::acting_for, error::AppError, tenant::TenantId};
use boomerang_proto::campaign::v1 as cpb;
use tracing::instrument;

use super::{CAMPAIGN, Upstream, refused};

impl Upstream {
    /// Issues a voucher (once per reference).
    #[instrument(name = "boomerang.accrual.upstream.issue_voucher", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn issue_voucher(
        &self,
        tenant: &TenantId,
        req: cpb::IssueVoucherRequest,
    ) -> Result<(), AppError> {
        let mut client = self.coupons.clone();
        let call = client.issue_voucher(acting_for(tenant, req));
        call.await.map(drop).map_err(refused(CAMPAIGN))
    }

    /// Voids a voucher: whether it is void (a used one is not). One a
    /// checkout holds now is refused with reason `VOUCHER_HELD`.
    #[instrument(name = "boomerang.accrual.upstream.void_voucher", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn void_voucher(
        &self,
        tenant: &TenantId,
        req: cpb::VoidVoucherRequest,
    ) -> Result<bool, AppError> {
        let mut client = self.coupons.clone();
        let call = client.void_voucher(acting_for(tenant, req));
        Ok(call.await.map_err(refused(CAMPAIGN))?.into_inner().voided)
    }
}
