//! Purchases of customers who are not members (guests): they earn nothing
//! and are kept so the program report can compare members with non-members.
use boomerang_common::{db::Conn, error::AppError, tenant::TenantId};
use tracing::instrument;

use super::{Accrual, PurchaseInput, program_ref};
use crate::{domain::rewards, repo};

impl Accrual {
    /// Records a guest purchase in the caller's transaction; its eligible
    /// amount, by the program's latest rules. A member's purchase is
    /// RecordPurchase's; the same order with other content is ALREADY_EXISTS.
    #[instrument(name = "boomerang.accrual.guests.record", skip_all,
                 fields(tenant = %tenant, order = %p.order_id), err(level = "info"))]
    pub async fn record_guest(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        p: &PurchaseInput,
    ) -> Result<i64, AppError> {
        let t = tenant.as_str();
        if repo::is_member(conn, t, &p.program_id, &p.customer).await? {
            return Err(AppError::Precondition(format!(
                "{} is a member of {}: RecordPurchase records (and rewards) their purchases",
                p.customer, p.program_id
            )));
        }
        let (version, program, _) = repo::program(conn, t, &p.program_id, None).await?;
        if p.currency != program.currency {
            return Err(AppError::invalid(
                "purchase.currency",
                format!(
                    "program {} counts {} orders",
                    p.program_id, program.currency
                ),
            ));
        }
        let kept: Vec<u32> = p.lines.iter().map(|l| l.quantity).collect();
        let pref = program_ref(&p.program_id, version);
        let eligible = rewards::compute(&program, &pref, &p.lines, &kept, None, &[]).eligible;
        let guest = repo::NewGuestPurchase {
            program: &p.program_id,
            order_id: &p.order_id,
            customer: &p.customer,
            request_hash: &p.request_hash,
            eligible,
            channel: boomerang_proto::common::v1::channel_name(p.channel).unwrap_or_default(),
            store: &p.store,
            occurred_at: p.occurred_at_us,
        };
        match repo::insert_guest(conn, t, &guest, self.clock().now()).await? {
            None => Ok(eligible),
            Some((hash, stored)) if hash == p.request_hash => Ok(stored),
            Some(_) => Err(AppError::AlreadyExists(format!(
                "order {} was recorded with other content",
                p.order_id
            ))),
        }
    }
}
