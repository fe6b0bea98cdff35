//! Reserving, confirming and releasing budget.
use boomerang_common::{db::Conn, error::AppError, jobs, tenant::TenantId};

use super::Campaigns;
use crate::{
    domain::{
        budget::{SLOTS, spread},
        lifecycle::Status,
        spec::Money,
    },
    repo::{
        budget::{self, Counter, Key, Reservation},
        campaigns as repo,
    },
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
}

/// How much to give back.
#[derive(Clone, Copy, Debug)]
pub enum Release {
    /// All of it.
    All,
    /// This much.
    Amount(i64),
}

/// Public id of a reservation.
pub fn reservation_ref(id: i64) -> String {
    format!("rs_{id}")
}

impl Campaigns {
    /// Reserves budget; never more than the budget, the per-day limit, or the
    /// per-customer and per-order caps, whatever the concurrency.
    pub async fn reserve(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        r: Reserve,
    ) -> Result<Reservation, AppError> {
        let now = self.clock().now();
        let view = self.view(conn, tenant, &r.campaign, None).await?;
        let running = view.head.status == Status::Active
            || (view.head.status == Status::Scheduled
                && view.version.spec.schedule.starts_at <= now);
        if !running {
            return Err(AppError::Precondition(format!(
                "campaign {} is {}; budget is reserved only while it runs",
                r.campaign,
                view.head.status.as_str()
            )));
        }
        let spec = &view.version.spec;
        let asset = r.amount.asset.as_str();
        let key = Key {
            tenant: tenant.as_str(),
            campaign: &r.campaign,
            asset,
        };
        let mut want = r.amount.minor;
        let mut why = "the budget is spent";
        if let Some(cap) = spec.caps.per_order.as_ref().filter(|c| c.asset == asset) {
            let left = cap.minor - budget::order_use(conn, key, &r.order).await?;
            if left < want {
                (want, why) = (left, "the per-order cap is reached");
            }
        }
        if let Some(cap) = spec.caps.per_customer.as_ref().filter(|c| c.asset == asset) {
            let left =
                cap.minor - budget::lock_use(conn, key, Counter::Customer, &r.customer).await?;
            if left < want {
                (want, why) = (left, "the per-customer cap is reached");
            }
        }
        let limit = spec.budgets.iter().find(|b| b.total.asset == asset);
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
        let parts = match limit {
            // No budget in this asset: the campaign is not limited in it.
            None => Vec::new(),
            Some(_) => {
                let start = i64::from(rand::random::<u16>()) % SLOTS;
                budget::take(conn, self.db(), key, want, start).await?
            }
        };
        let granted = if limit.is_some() {
            parts.iter().map(|(_, n)| n).sum()
        } else {
            want
        };
        if granted == 0 || (granted < r.amount.minor && !r.allow_partial) {
            // Dropping the transaction gives back whatever was taken.
            return Err(AppError::Exhausted(format!(
                "campaign {}: {why} (asked {}, available {granted})",
                r.campaign, r.amount.minor
            )));
        }
        budget::lock_use(conn, key, Counter::Customer, &r.customer).await?;
        budget::add_use(conn, key, Counter::Customer, &r.customer, granted).await?;
        if !day.is_empty() {
            budget::add_use(conn, key, Counter::Day, &day, granted).await?;
        }
        let mut reservation = Reservation {
            id: 0,
            campaign_id: r.campaign.clone(),
            asset: asset.to_owned(),
            customer_id: r.customer,
            order_id: r.order,
            variant: r.variant,
            day,
            requested: r.amount.minor,
            granted,
            confirmed: 0,
            released: 0,
            status: "reserved".into(),
            expires_at: now.saturating_add(r.ttl),
        };
        reservation.id =
            budget::insert_reservation(conn, tenant.as_str(), &reservation, &parts, now).await?;
        let lapse_key = reservation_ref(reservation.id);
        jobs::schedule(conn, tenant, LAPSE, &lapse_key, reservation.expires_at, b"").await?;
        Ok(reservation)
    }

    /// Confirms a reservation (all, or less: the rest goes back).
    pub async fn confirm(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: i64,
        amount: Option<i64>,
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
        let confirmed = amount.unwrap_or(r.granted);
        if confirmed > r.granted {
            return Err(AppError::Precondition(format!(
                "cannot confirm {confirmed}, only {} was granted",
                r.granted
            )));
        }
        let key = Key {
            tenant: tenant.as_str(),
            campaign: &r.campaign_id,
            asset: &r.asset,
        };
        let parts = budget::parts(conn, id).await?;
        let held: Vec<i64> = parts.iter().map(|(_, n)| *n).collect();
        for ((slot, n), c) in parts.iter().zip(spread(confirmed, &held)) {
            budget::move_slot(conn, key, *slot, -n, c).await?;
        }
        self.give_back_use(conn, key, &r, r.granted - confirmed)
            .await?;
        r.confirmed = confirmed;
        r.released = r.granted - confirmed;
        r.status = "confirmed".into();
        budget::update_reservation(conn, &r).await?;
        Ok(r)
    }

    /// Releases a reservation, or gives back confirmed budget (a return).
    pub async fn release(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: i64,
        how: Release,
        lapse: bool,
    ) -> Result<Reservation, AppError> {
        let mut r = self.reservation(conn, tenant, id).await?;
        let key = Key {
            tenant: tenant.as_str(),
            campaign: &r.campaign_id,
            asset: &r.asset,
        };
        let parts = budget::parts(conn, id).await?;
        match r.status.as_str() {
            "reserved" => {
                for (slot, n) in &parts {
                    budget::move_slot(conn, key, *slot, -n, 0).await?;
                }
                self.give_back_use(conn, key, &r, r.granted).await?;
                r.released = r.granted;
                r.status = if lapse { "expired" } else { "released" }.into();
            }
            "confirmed" if !lapse => {
                let held = r.confirmed;
                let amount = match how {
                    Release::All => held,
                    Release::Amount(n) if n <= held => n,
                    Release::Amount(n) => {
                        return Err(AppError::Precondition(format!(
                            "cannot release {n}, only {held} is confirmed"
                        )));
                    }
                };
                // Give back from the slots in proportion to what each confirmed.
                let shares: Vec<i64> = spread(
                    r.confirmed,
                    &parts.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
                );
                for ((slot, _), c) in parts.iter().zip(spread(amount, &shares)) {
                    budget::move_slot(conn, key, *slot, 0, -c).await?;
                }
                self.give_back_use(conn, key, &r, amount).await?;
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
        Ok(r)
    }

    async fn give_back_use(
        &self,
        conn: &mut Conn,
        key: Key<'_>,
        r: &Reservation,
        amount: i64,
    ) -> Result<(), AppError> {
        if amount > 0 {
            budget::add_use(conn, key, Counter::Customer, &r.customer_id, -amount).await?;
            if !r.day.is_empty() {
                budget::add_use(conn, key, Counter::Day, &r.day, -amount).await?;
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

    /// Budget figures, participants and per-variant figures.
    pub async fn report(&self, tenant: &TenantId, campaign: &str) -> Result<Report, AppError> {
        repo::get_head(self.db(), tenant.as_str(), campaign).await?;
        Ok(Report {
            budgets: budget::figures(self.db(), tenant.as_str(), campaign).await?,
            participants: budget::participants(self.db(), tenant.as_str(), campaign).await?,
            variants: budget::by_variant(self.db(), tenant.as_str(), campaign).await?,
        })
    }
}

/// A campaign report.
#[derive(Clone, Debug)]
pub struct Report {
    /// (asset, total, reserved, confirmed, released).
    pub budgets: Vec<(String, i64, i64, i64, i64)>,
    /// Distinct customers.
    pub participants: i64,
    /// (variant, asset, participants, reserved, confirmed, released).
    pub variants: Vec<(String, String, i64, i64, i64, i64)>,
}
