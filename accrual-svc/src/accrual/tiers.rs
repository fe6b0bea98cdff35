//! Tiers: the tier in force stored by id, "tier changed" and "threshold
//! near" announced, and a durable review timer that applies a downgrade at
//! the end of the qualifying window.
use boomerang_common::{
    db::Conn,
    error::AppError,
    jobs::{self, Handler, Job},
    money::wire,
    tenant::TenantId,
};
use boomerang_proto::accrual::v1 as pb;
use tracing::instrument;

use super::{Accrual, MemberView, effects::Effects, outbound::key};
use crate::{domain::tier, repo};

/// Tier review timer.
pub const TIER_REVIEW: &str = "accrual.tier_review";

impl Accrual {
    /// Stores the member's tier in force (by id), says so when it changed or
    /// when a purchase that `added` to the qualifying amount brought the next
    /// tier within reach, and schedules the review that may downgrade it.
    /// The caller holds the member's lock.
    pub(crate) async fn refresh_tier(
        &self,
        conn: &mut Conn,
        fx: &mut Effects,
        tenant: &TenantId,
        program_id: &str,
        customer: &str,
        added: i64,
    ) -> Result<(), AppError> {
        let view = self.member(conn, tenant, program_id, customer).await?;
        self.apply_tier(conn, fx, tenant, program_id, view, added)
            .await
    }

    /// As [`Self::refresh_tier`], for a member judged already.
    #[instrument(name = "boomerang.accrual.tiers.refresh", skip_all,
                 fields(tenant = %tenant, program = %program_id, customer = %view.member.customer_id), err(level = "info"))]
    pub(crate) async fn apply_tier(
        &self,
        conn: &mut Conn,
        fx: &mut Effects,
        tenant: &TenantId,
        program_id: &str,
        view: MemberView,
        added: i64,
    ) -> Result<(), AppError> {
        let customer = view.member.customer_id.as_str();
        let policy = &view.program.tiers;
        let mut member = view.member.clone();
        // What the member held: the stored tier, or the entry tier every member
        // starts in when it asks nothing.
        let previous = member
            .tier
            .clone()
            .or_else(|| {
                let i = usize::try_from(member.legacy_tier_index?).ok()?;
                policy.tiers.get(i).map(|t| t.id.clone())
            })
            .or_else(|| {
                let first = policy.tiers.first().filter(|t| t.qualifies_at == 0)?;
                Some(first.id.clone())
            });
        member.tier = view.tier.clone();
        member.tier_review_at = view.review_at;
        repo::save_member(conn, tenant.as_str(), program_id, &member).await?;
        let event = |r#type: pb::EventType| pb::WatchEventsResponse {
            r#type: r#type as i32,
            program_id: program_id.into(),
            customer_id: customer.into(),
            ..Default::default()
        };
        if previous != member.tier {
            let changed = pb::WatchEventsResponse {
                reference: member.tier.clone().unwrap_or_default(),
                tier_id: member.tier.clone().unwrap_or_default(),
                previous_tier_id: previous.unwrap_or_default(),
                ..event(pb::EventType::TierChanged)
            };
            fx.tell(changed);
        }
        // Only a program with tiers has reviews (a review a window of 0 days away
        // would be due again at once). Scheduling is keyed by the review time,
        // so the same review is scheduled once however often this runs.
        let reviewed = !policy.tiers.is_empty() && policy.window_days > 0;
        if let Some(at) = view.review_at.filter(|_| reviewed) {
            let k = key(
                tenant,
                &[program_id, customer, "tier-review", &at.to_string()],
            );
            let payload = format!("{program_id}\n{customer}");
            jobs::schedule(
                conn,
                tenant,
                TIER_REVIEW,
                &k,
                at,
                self.clock().now(),
                payload.as_bytes(),
            )
            .await?;
        }
        let current = member
            .tier
            .as_deref()
            .and_then(|id| tier::position(policy, id));
        if let Some((next, needed)) =
            tier::nudge(policy, current, view.qualifying - added, view.qualifying)
        {
            let needed = wire(needed, &view.qualifying_asset);
            let verb = if policy.by_points { "earn" } else { "spend" };
            let reached = pb::WatchEventsResponse {
                reference: next.id.clone(),
                tier_id: next.id.clone(),
                message: format!(
                    "{verb} {} {} more to reach {}",
                    needed.amount, needed.asset, next.name
                ),
                amount: Some(needed),
                ..event(pb::EventType::TierThresholdReached)
            };
            fx.tell(reached);
        }
        Ok(())
    }
}

/// Runs tier review timers: at its review date a member's tier is
/// re-evaluated (a downgrade waits for it) and a change is announced.
#[derive(Clone, Debug)]
pub struct TierReviews(pub Accrual);

impl Handler for TierReviews {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let tenant = TenantId::parse(&job.tenant).map_err(anyhow::Error::msg)?;
        let payload = String::from_utf8(job.payload.clone())?;
        let Some((program, customer)) = payload.split_once('\n') else {
            anyhow::bail!("bad tier review job {payload:?}");
        };
        let mut tx = self.0.db().begin().await?;
        let t = tenant.as_str();
        repo::get_member(&mut tx, self.0.db(), t, program, customer, true).await?;
        let mut fx = Effects::default();
        self.0
            .refresh_tier(&mut tx, &mut fx, &tenant, program, customer, 0)
            .await?;
        self.0.write_effects(&mut tx, &tenant, fx).await?;
        tx.commit().await?;
        self.0.committed();
        Ok(())
    }
}
