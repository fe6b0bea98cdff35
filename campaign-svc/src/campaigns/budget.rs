//! Reserving, confirming and releasing budget.
use boomerang_common::{db::Conn, error::AppError, jobs, money::text, tenant::TenantId};

use super::Campaigns;
use crate::{
    domain::{budget::spread, lifecycle::Status, spec::Money},
    repo::budget::{self, Counter, Key, Reservation},
};

/// Job queue of reservation lapses.
pub const LAPSE: &str = "campaign.reservation_lapse";

/// A reservation request.
#[derive(Clone, Debug)]
pub struct Reserve {
    /// Campaign.
    pub campaign: String,
    /// Amount.
    pub amount: Money,
    /// Lifetime, micros.
    pub ttl: i64,
    /// Grant what is left.
    pub allow_partial: bool,
    /// Customer.
    pub customer: String,
    /// Order.
    pub order: String,
    /// Variant.
    pub variant: String,
    /// The order's eligible amount, for attributed revenue.
    pub order_amount: Option<Money>,
    /// What one unit of `amount`'s asset is worth in the order's currency.
    pub unit_value: String,
    /// Where the order was placed ("online", "store", "app"; "" when not said).
    pub channel: String,
    /// The store.
    pub store: String,
}

/// An amount given for a reservation, in its asset (minor units).
fn in_asset(amount: Option<Money>, r: &Reservation) -> Result<Option<i64>, AppError> {
    match amount {
        Some(m) if m.code() != r.asset => Err(AppError::invalid(
            "amount.asset",
            format!("the reservation is in {}", r.asset),
        )),
        Some(m) => Ok(Some(m.minor())),
        None => Ok(None),
    }
}

/// Public id of a reservation.
pub fn reservation_ref(id: i64) -> String {
    format!("rs_{id}")
}

impl Campaigns {
    /// Reserves budget; never more than the budget, the per-day limit, or the
    /// per-customer and per-order caps, whatever the concurrency. Locks are
    /// taken in one order everywhere: counters (order, customer, day), then slots.
    /// Long because that lock order is easiest to check in one function.
    #[tracing::instrument(name = "boomerang.campaign.budget.reserve", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn reserve(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        r: Reserve,
    ) -> Result<Reservation, AppError> {
        let now = self.clock().now();
        // Not locking the campaign row: reservations of one campaign must not queue on it.
        let (view, _) = self
            .view_with_versions(conn, tenant, &r.campaign, None, false)
            .await?;
        let spec = &view.version.spec;
        let running = matches!(view.head.status, Status::Active | Status::Scheduled)
            && spec.schedule.applies_at(now);
        if !running {
            return Err(AppError::Precondition(format!(
                "campaign {} is {} or outside its schedule; budget is reserved only while it runs",
                r.campaign,
                view.head.status.as_str()
            )));
        }
        let asset = r.amount.code();
        let limit = spec.budgets.iter().find(|b| b.total.code() == asset);
        if limit.is_none() && !spec.budgets.is_empty() {
            return Err(AppError::Precondition(format!(
                "campaign {} has no budget in {asset}",
                r.campaign
            )));
        }
        let per_order = spec.caps.per_order.as_ref().filter(|c| c.code() == asset);
        let per_customer = spec
            .caps
            .per_customer
            .as_ref()
            .filter(|c| c.code() == asset);
        if per_order.is_some() && r.order.is_empty() {
            return Err(AppError::invalid(
                "order_id",
                "required: the campaign caps each order",
            ));
        }
        if per_customer.is_some() && r.customer.is_empty() {
            return Err(AppError::invalid(
                "customer_id",
                "required: the campaign caps each customer",
            ));
        }
        let key = Key {
            tenant: tenant.as_str(),
            campaign: &r.campaign,
            asset,
        };
        let mut want = r.amount.minor();
        let mut why = "the budget is spent";
        if let Some(cap) = per_order {
            let left = cap.minor() - budget::lock_use(conn, key, Counter::Order, &r.order).await?;
            if left < want {
                (want, why) = (left, "the per-order cap is reached");
            }
        }
        if let Some(cap) = per_customer {
            let left =
                cap.minor() - budget::lock_use(conn, key, Counter::Customer, &r.customer).await?;
            if left < want {
                (want, why) = (left, "the per-customer cap is reached");
            }
        }
        // Days are counted only under a per-day limit: the counter is one row per
        // day, which would otherwise be the hot row the slots avoid.
        let per_day = limit.and_then(|b| b.per_day);
        let day = per_day
            .map(|_| spec.schedule.local_day(now))
            .unwrap_or_default();
        if let Some(per_day) = per_day {
            let left = per_day - budget::lock_use(conn, key, Counter::Day, &day).await?;
            if left < want {
                (want, why) = (left, "today's budget is spent");
            }
        }
        let want = want.max(0);
        let asked = r.amount.minor();
        let exhausted = |available: i64| {
            AppError::Exhausted(format!(
                "campaign {}: {why} (asked {}, {} available)",
                r.campaign,
                text(asked, asset),
                text(available, asset)
            ))
        };
        // What the budget can give, looked at without locks: with too little
        // left, refuse before queueing on a slot. A campaign without budgets
        // is not limited.
        let left = match limit {
            Some(_) if want > 0 => Some(budget::left(conn, key).await?),
            _ => None,
        };
        let offer = match (limit, left) {
            (None, _) => want,
            (Some(_), None) => 0,
            (Some(_), Some(l)) if r.allow_partial => want.min(l.free),
            (Some(_), Some(l)) => want * i64::from(l.free >= want),
        };
        if offer == 0 || (offer < asked && !r.allow_partial) {
            if let (Some(b), Some(l)) = (limit, left)
                && l.free <= b.low_mark()
            {
                self.check_low_later(tenant, key, &spec.name, b);
            }
            // Dropping the transaction gives back whatever was taken.
            return Err(exhausted(offer));
        }
        let mut reservation = Reservation {
            id: 0,
            campaign_id: r.campaign.clone(),
            asset: asset.to_owned(),
            customer_id: r.customer,
            order_id: r.order,
            variant: r.variant,
            day,
            requested: asked,
            granted: offer,
            confirmed: 0,
            released: 0,
            status: "reserved".into(),
            expires_at: now.saturating_add(r.ttl),
            order_amount: r.order_amount.as_ref().map_or(0, Money::minor),
            order_currency: r
                .order_amount
                .as_ref()
                .map(|m| m.code().to_owned())
                .unwrap_or_default(),
            unit_value: r.unit_value,
            channel: r.channel,
            store_id: r.store,
        };
        self.add_use(conn, key, &reservation, offer).await?;
        reservation.id =
            budget::insert_reservation(conn, tenant.as_str(), &reservation, now).await?;
        jobs::schedule(
            conn,
            tenant,
            LAPSE,
            &reservation_ref(reservation.id),
            reservation.expires_at,
            self.clock().now(),
            b"",
        )
        .await?;
        // The slots last: a slot is then held only until the commit, and
        // reservations of one campaign queue on it as briefly as can be.
        if let Some(left) = left {
            let start = i64::from(rand::random::<u16>()) % self.slots();
            let spread = (start, self.slots());
            let parts = budget::take(conn, self.db(), key, offer, spread, left).await?;
            let granted: i64 = parts.iter().map(|(_, n)| n).sum();
            if granted < offer {
                if granted == 0 || !r.allow_partial {
                    if let Some(b) = limit {
                        self.check_low_later(tenant, key, &spec.name, b);
                    }
                    return Err(exhausted(granted));
                }
                // Less than seen unlocked: a partial grant of what was there.
                self.add_use(conn, key, &reservation, granted - offer)
                    .await?;
                reservation.granted = granted;
                budget::update_reservation(conn, &reservation).await?;
            }
            budget::insert_parts(conn, &reservation, &parts).await?;
            if let Some(b) = limit {
                let after = left.free - reservation.granted;
                self.tell_if_low(conn, tenant, key, &spec.name, b, after)
                    .await?;
            }
        }
        let granted = reservation.granted;
        count_budget(&reservation.asset, "reserved", granted);
        Ok(reservation)
    }

    /// Confirms a reservation (all, or less: the rest goes back).
    #[tracing::instrument(name = "boomerang.campaign.budget.confirm", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn confirm(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: i64,
        amount: Option<Money>,
    ) -> Result<Reservation, AppError> {
        let mut r = self.reservation(conn, tenant, id).await?;
        if r.status != "reserved" {
            return Err(AppError::Precondition(format!(
                "reservation {} is {}",
                reservation_ref(id),
                r.status
            )));
        }
        if r.expires_at <= self.clock().now() {
            return Err(AppError::Precondition(format!(
                "reservation {} expired",
                reservation_ref(id)
            )));
        }
        let confirmed = in_asset(amount, &r)?.unwrap_or(r.granted);
        if confirmed > r.granted {
            return Err(AppError::Precondition(format!(
                "cannot confirm {}, only {} was granted",
                text(confirmed, &r.asset),
                text(r.granted, &r.asset)
            )));
        }
        let key = Key {
            tenant: tenant.as_str(),
            campaign: &r.campaign_id,
            asset: &r.asset,
        };
        self.add_use(conn, key, &r, confirmed - r.granted).await?;
        let parts = budget::parts(conn, id).await?;
        let held: Vec<i64> = parts.iter().map(|p| p.amount).collect();
        let moves: Vec<(i64, i64, i64)> = parts
            .iter()
            .zip(spread(confirmed, &held))
            .map(|(p, c)| (p.slot, -p.amount, c))
            .collect();
        for &(slot, _, c) in &moves {
            budget::set_part_confirmed(conn, id, slot, c).await?;
        }
        r.confirmed = confirmed;
        r.released = r.granted - confirmed;
        r.status = "confirmed".into();
        budget::update_reservation(conn, &r).await?;
        // The slots last, held only until the commit.
        for (slot, reserved, c) in moves {
            budget::move_slot(conn, key, slot, reserved, c).await?;
        }
        count_budget(&r.asset, "confirmed", confirmed);
        count_budget(&r.asset, "released", r.granted - confirmed);
        Ok(r)
    }

    /// Releases a reservation (all of it), or gives back confirmed budget (a
    /// return, wholly or in part, with what the order is worth after it).
    /// The lapse timer releases reserved budget only.
    #[tracing::instrument(name = "boomerang.campaign.budget.release", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn release(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: i64,
        amount: Option<Money>,
        order_left: Option<Money>,
        lapse: bool,
    ) -> Result<Reservation, AppError> {
        let mut r = self.reservation(conn, tenant, id).await?;
        let asked = in_asset(amount, &r)?;
        if let Some(left) = order_left {
            if !r.order_currency.is_empty() && left.code() != r.order_currency {
                return Err(AppError::invalid(
                    "order_amount.asset",
                    format!("the order is in {}", r.order_currency),
                ));
            }
            r.order_amount = left.minor().min(r.order_amount);
        }
        if asked == Some(0) {
            // Nothing given back: a return that took none of the reward.
            budget::update_reservation(conn, &r).await?;
            return Ok(r);
        }
        let key = Key {
            tenant: tenant.as_str(),
            campaign: &r.campaign_id,
            asset: &r.asset,
        };
        let released_before = r.released;
        // (slot, reserved, confirmed) deltas, applied last.
        let mut moves = Vec::new();
        match r.status.as_str() {
            "reserved" => {
                if asked.is_some_and(|n| n != r.granted) {
                    return Err(AppError::Precondition(
                        "a reservation is released whole; confirm less to keep part of it".into(),
                    ));
                }
                self.add_use(conn, key, &r, -r.granted).await?;
                for p in budget::parts(conn, id).await? {
                    moves.push((p.slot, -p.amount, 0));
                }
                r.released = r.granted;
                r.status = if lapse { "expired" } else { "released" }.into();
            }
            "confirmed" if !lapse => {
                let amount = asked.unwrap_or(r.confirmed);
                if amount > r.confirmed {
                    return Err(AppError::Precondition(format!(
                        "cannot release {}, only {} is confirmed",
                        text(amount, &r.asset),
                        text(r.confirmed, &r.asset)
                    )));
                }
                self.add_use(conn, key, &r, -amount).await?;
                let parts = budget::parts(conn, id).await?;
                let held: Vec<i64> = parts.iter().map(|p| p.confirmed).collect();
                for (p, back) in parts.iter().zip(spread(amount, &held)) {
                    budget::set_part_confirmed(conn, id, p.slot, p.confirmed - back).await?;
                    moves.push((p.slot, 0, -back));
                }
                r.confirmed -= amount;
                r.released += amount;
                if r.confirmed == 0 {
                    r.status = "released".into();
                }
            }
            _ if lapse => return Ok(r), // confirmed or released before its TTL
            other => {
                return Err(AppError::Precondition(format!(
                    "reservation {} is {other}",
                    reservation_ref(id)
                )));
            }
        }
        budget::update_reservation(conn, &r).await?;
        // The slots last, held only until the commit.
        for (slot, reserved, confirmed) in moves {
            budget::move_slot(conn, key, slot, reserved, confirmed).await?;
        }
        count_budget(&r.asset, "released", r.released - released_before);
        Ok(r)
    }

    /// Moves the order, customer and day counters by `delta` (counters before slots).
    async fn add_use(
        &self,
        conn: &mut Conn,
        key: Key<'_>,
        r: &Reservation,
        delta: i64,
    ) -> Result<(), AppError> {
        if delta == 0 {
            return Ok(());
        }
        for (counter, who) in [
            (Counter::Order, &r.order_id),
            (Counter::Customer, &r.customer_id),
            (Counter::Day, &r.day),
        ] {
            if !who.is_empty() {
                budget::bump(conn, key, counter, who, delta).await?;
            }
        }
        Ok(())
    }

    async fn reservation(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: i64,
    ) -> Result<Reservation, AppError> {
        budget::get_reservation(conn, self.db(), tenant.as_str(), id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no reservation {}", reservation_ref(id))))
    }
}

/// Budget movements for dashboards (`boomerang_campaign_budget_minor_total`,
/// in minor units: counters are integers, and so is money). Counted after the
/// writes, before the caller commits: only the commit itself could still fail.
fn count_budget(asset: &str, outcome: &'static str, minor: i64) {
    if let Ok(minor @ 1..) = u64::try_from(minor) {
        metrics::counter!("boomerang_campaign_budget_minor_total",
            "currency" => asset.to_owned(), "outcome" => outcome)
        .increment(minor);
    }
}
