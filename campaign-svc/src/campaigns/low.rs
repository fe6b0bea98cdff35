//! `budget.low`: telling, once per campaign, asset and total, that a
//! reservation left a budget at or below its low mark; and looking again
//! after a refusal, when reservations racing over the mark all missed it.
use boomerang_common::{db::Conn, error::AppError, money::wire, tenant::TenantId};
use boomerang_proto::campaign::v1 as pb;

use super::Campaigns;
use crate::{
    domain::spec::Budget,
    repo::budget::{self, Key},
};

impl Campaigns {
    /// Tells `budget.low` once per campaign, asset and total, when a
    /// reservation leaves the budget at or below its low mark. `left` was
    /// read before this reservation without locks, so reservations racing
    /// over the mark can each see more left than there is: the next one
    /// after them tells it. Asked of the database until one told it and
    /// committed, then remembered here.
    pub(super) async fn tell_if_low(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        key: Key<'_>,
        name: &str,
        b: &Budget,
        left: i64,
    ) -> Result<(), AppError> {
        let total = b.total.minor();
        if left > b.low_mark() {
            return Ok(());
        }
        let id = (
            key.tenant.to_owned(),
            key.campaign.to_owned(),
            key.asset.to_owned(),
            total,
        );
        let remembered = &self.inner.told_low;
        if remembered.lock().is_ok_and(|set| set.contains(&id)) {
            return Ok(());
        }
        let now = self.clock().now();
        if !budget::told_low(conn, key, total, left.max(0), now).await? {
            if let Ok(mut set) = remembered.lock() {
                set.insert(id);
            }
            return Ok(());
        }
        let (left, total) = (wire(left.max(0), key.asset), b.total.to_wire());
        let percent = b.low_percent.unwrap_or(Budget::LOW_PERCENT);
        let event = pb::WatchEventsResponse {
            r#type: pb::EventType::BudgetLow as i32,
            campaign_id: key.campaign.to_owned(),
            message: format!(
                "campaign {name} has {} {} of its {} {} budget left ({percent}% or less)",
                left.amount, left.asset, total.amount, total.asset
            ),
            amount: Some(left),
            budget_total: Some(total),
            ..Default::default()
        };
        self.emit(conn, tenant, event).await
    }

    /// After a refusal for want of budget: looks at the committed budget in a
    /// transaction of its own, once the refusal's is gone, and tells
    /// `budget.low` if it is at or below the mark and nobody told it yet
    /// (reservations racing over the mark can all have seen more left than
    /// there was). A failed look is logged; the next refusal looks again.
    pub(super) fn check_low_later(&self, tenant: &TenantId, key: Key<'_>, name: &str, b: &Budget) {
        let id = (
            key.tenant.to_owned(),
            key.campaign.to_owned(),
            key.asset.to_owned(),
            b.total.minor(),
        );
        if self
            .inner
            .told_low
            .lock()
            .is_ok_and(|set| set.contains(&id))
        {
            return;
        }
        // A burst of refusals looks one at a time: a refusal that finds a
        // look under way marks it to look once more after (it may have
        // looked before this refusal's rivals committed).
        let start =
            self.inner
                .looking_low
                .lock()
                .is_ok_and(|mut looking| match looking.get_mut(&id) {
                    Some(again) => {
                        *again = true;
                        false
                    }
                    None => {
                        looking.insert(id.clone(), false);
                        true
                    }
                });
        if !start {
            return;
        }
        let (this, tenant, name, b) = (self.clone(), tenant.clone(), name.to_owned(), b.clone());
        tokio::spawn(async move {
            let key = Key {
                tenant: tenant.as_str(),
                campaign: &id.1,
                asset: &id.2,
            };
            loop {
                let looked = async {
                    let mut tx = this.db().begin().await?;
                    let left = budget::left(&mut tx, key).await?.free;
                    this.tell_if_low(&mut tx, &tenant, key, &name, &b, left)
                        .await?;
                    tx.commit().await?;
                    Ok::<_, AppError>(())
                };
                match looked.await {
                    Ok(()) => this.committed(),
                    Err(e) => {
                        tracing::warn!(campaign = key.campaign, error = %e, "budget low mark not checked");
                    }
                }
                // Once more if a refusal came meanwhile; else done.
                let again = this.inner.looking_low.lock().is_ok_and(|mut looking| {
                    match looking.get_mut(&id) {
                        Some(again) if *again => {
                            *again = false;
                            true
                        }
                        _ => {
                            looking.remove(&id);
                            false
                        }
                    }
                });
                if !again {
                    return;
                }
            }
        });
    }
}
