//! Purchases of customers who are not members (guests): they earn nothing
//! and are kept so the program report can compare members with non-members.
use boomerang_common::{db::Conn, error::AppError, tenant::TenantId};
use tracing::instrument;

use super::{Accrual, PurchaseInput, program_ref};
use crate::{domain::rewards, repo};

impl Accrual {
    /// Records a guest purchase in the caller's transaction; its eligible
    /// amount, by the program's latest rules. The same order again answers
    /// as it was; with other content, or as a member's order, it is
    /// ALREADY_EXISTS; a member's purchase is RecordPurchase's.
    #[instrument(name = "boomerang.accrual.guests.record", skip_all,
                 fields(tenant = %tenant, program = %p.program_id, order = %p.order_id), err(level = "info"))]
    pub async fn record_guest(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        p: &PurchaseInput,
    ) -> Result<i64, AppError> {
        let t = tenant.as_str();
        // An order recorded already answers as it was, whoever enrolled since.
        if let Some(stored) = self.guest_recorded(conn, t, p).await? {
            return Ok(stored);
        }
        // Member, order and latest version in one read, as pricing reads them.
        let order = Some(p.order_id.as_str());
        let standing = repo::standing(conn, t, &p.program_id, &p.customer, order).await?;
        if standing.order_recorded {
            return Err(AppError::AlreadyExists(format!(
                "order {} was recorded as a member's purchase",
                p.order_id
            )));
        }
        if standing.member.is_some() {
            return Err(AppError::Precondition(format!(
                "{} is a member of {}: RecordPurchase records (and rewards) their purchases",
                p.customer, p.program_id
            )));
        }
        let version = standing.version(&p.program_id)?;
        let program = self
            .program_at(conn, tenant, &p.program_id, version)
            .await?;
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
        if repo::insert_guest(conn, t, &guest, self.clock().now()).await? {
            return Ok(eligible);
        }
        // Recorded concurrently: that one's answer, or the conflict.
        self.guest_recorded(conn, t, p)
            .await?
            .ok_or_else(|| AppError::Aborted("concurrent record of the same order, retry".into()))
    }

    /// The eligible amount of `p`'s order if a guest purchase already holds
    /// it with the same content; ALREADY_EXISTS with other content.
    async fn guest_recorded(
        &self,
        conn: &mut Conn,
        tenant: &str,
        p: &PurchaseInput,
    ) -> Result<Option<i64>, AppError> {
        match repo::guest_order(conn, tenant, &p.program_id, &p.order_id).await? {
            None => Ok(None),
            Some((hash, eligible)) if hash == p.request_hash => Ok(Some(eligible)),
            Some(_) => Err(AppError::AlreadyExists(format!(
                "order {} was recorded with other content",
                p.order_id
            ))),
        }
    }
}
