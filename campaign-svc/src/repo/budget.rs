//! Budget slots, per-day and per-customer use, and reservations.
//!
//! Every check-and-take is one locked row: a conditional UPDATE, or a row
//! read `FOR UPDATE` on PostgreSQL (SQLite's single writer serialises), so
//! reserved + confirmed never passes a limit whatever the concurrency.
use boomerang_common::{
    db::{Backend, Conn, Db},
    error::AppError,
};
use sqlx::{Row as _, any::AnyRow};

use crate::domain::budget::split;

/// Identifies a campaign's budget in one asset.
#[derive(Clone, Copy, Debug)]
pub struct Key<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Campaign.
    pub campaign: &'a str,
    /// Asset.
    pub asset: &'a str,
}

/// Sets a budget's total (new campaign or new version), split over `slots`
/// rows. What each row already holds stays its own; the rest of the total, if
/// any, is shared out over the first `slots` rows (rows beyond, from a time of
/// more slots, keep only what they hold), so lowering a budget below what is
/// used grants nothing more.
pub async fn set_total(
    conn: &mut Conn,
    db: &Db,
    k: Key<'_>,
    total: i64,
    slots: i64,
) -> Result<(), AppError> {
    let sql = format!(
        "SELECT slot, reserved + confirmed AS used FROM budget_slots \
         WHERE tenant_id = $1 AND campaign_id = $2 AND asset = $3 ORDER BY slot {}",
        db.for_update()
    );
    let rows = sqlx::query(&sql)
        .bind(k.tenant)
        .bind(k.campaign)
        .bind(k.asset)
        .fetch_all(&mut *conn)
        .await?;
    let slots = usize::try_from(slots.max(1)).unwrap_or(1);
    let mut used = vec![0i64; slots];
    for r in rows {
        let slot = usize::try_from(r.try_get::<i64, _>("slot")?).unwrap_or(usize::MAX);
        if slot >= used.len() && slot < 4_096 {
            used.resize(slot + 1, 0);
        }
        if let Some(u) = used.get_mut(slot) {
            *u = r.try_get("used")?;
        }
    }
    let free = (total - used.iter().sum::<i64>()).max(0);
    let shares = split(free, i64::try_from(slots).unwrap_or(1));
    for (slot, held) in used.into_iter().enumerate() {
        let share = shares.get(slot).copied().unwrap_or(0);
        sqlx::query(
            "INSERT INTO budget_slots (tenant_id, campaign_id, asset, slot, capacity) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, campaign_id, asset, slot) DO UPDATE SET capacity = excluded.capacity",
        )
        .bind(k.tenant)
        .bind(k.campaign)
        .bind(k.asset)
        .bind(i64::try_from(slot).unwrap_or_default())
        .bind(held + share)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// What a budget has left, read without locks: in all, and in its fullest slot.
#[derive(Clone, Copy, Debug)]
pub struct Left {
    /// Sum over the slots.
    pub free: i64,
    /// The most one slot has.
    pub most: i64,
}

/// Records that the budget of `total` fell to its low mark with `left`
/// unreserved; false when that was recorded before (it is told once). On
/// PostgreSQL a concurrent first record is waited for, so false means committed.
pub async fn told_low(
    conn: &mut Conn,
    k: Key<'_>,
    total: i64,
    left: i64,
    now: i64,
) -> Result<bool, AppError> {
    let done = sqlx::query(
        "INSERT INTO budget_low_told (tenant_id, campaign_id, asset, total, left_minor, told_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(k.tenant)
    .bind(k.campaign)
    .bind(k.asset)
    .bind(total)
    .bind(left)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What the budget has left, without locking: to refuse at once rather than
/// queue on locked slots, and to know whether one slot can give it all.
pub async fn left(conn: &mut Conn, k: Key<'_>) -> Result<Left, AppError> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(capacity - reserved - confirmed), 0) AS BIGINT) AS free, \
                CAST(COALESCE(MAX(capacity - reserved - confirmed), 0) AS BIGINT) AS most FROM budget_slots \
         WHERE tenant_id = $1 AND campaign_id = $2 AND asset = $3 AND capacity - reserved - confirmed > 0",
    )
    .bind(k.tenant)
    .bind(k.campaign)
    .bind(k.asset)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Left {
        free: row.try_get("free")?,
        most: row.try_get("most")?,
    })
}

/// Takes up to `need` from the slots; returns (slot, amount) taken.
///
/// When one slot had the whole amount (`left`), it comes from one slot, in
/// one statement: the first that nobody holds (SKIP LOCKED; the first tried
/// depends on `start`, of `slots`), or else the first in slot order that has
/// it, waiting for it. Only when no slot has it all does a last pass take
/// what each slot has, locking all in slot order. Callers take last, just
/// before they commit, so a slot is held for as short as can be.
///
/// Never a cycle of waits: a transaction waits for slots only in slot order
/// and only when it holds none. A locking read keeps the lock of a row it
/// rejected on recheck (PostgreSQL), so the locks of an attempt that found
/// nothing are rolled back to a savepoint before the next one.
pub async fn take(
    conn: &mut Conn,
    db: &Db,
    k: Key<'_>,
    need: i64,
    (start, slots): (i64, i64),
    left: Left,
) -> Result<Vec<(i64, i64)>, AppError> {
    let pg = db.backend() == Backend::Postgres;
    if left.most >= need {
        // The outer check too: whatever the plan, a slot never goes below zero.
        let one = |order: &str, lock: &str| {
            format!(
                "UPDATE budget_slots SET reserved = reserved + $4 \
                 WHERE tenant_id = $1 AND campaign_id = $2 AND asset = $3 AND capacity - reserved - confirmed >= $4 \
                   AND slot = (SELECT slot FROM budget_slots WHERE tenant_id = $1 AND campaign_id = $2 AND asset = $3 \
                     AND capacity - reserved - confirmed >= $4 ORDER BY {order} LIMIT 1 {lock}) \
                 RETURNING slot"
            )
        };
        if pg {
            sqlx::query("SAVEPOINT budget_take")
                .execute(&mut *conn)
                .await?;
        }
        let unheld = sqlx::query(&one("(slot + $5) % $6", db.skip_locked()))
            .bind(k.tenant)
            .bind(k.campaign)
            .bind(k.asset)
            .bind(need)
            .bind(start)
            .bind(slots.max(1))
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = unheld {
            return Ok(vec![(row.try_get("slot")?, need)]);
        }
        if pg {
            sqlx::query("ROLLBACK TO SAVEPOINT budget_take")
                .execute(&mut *conn)
                .await?;
            let waited = sqlx::query(&one("slot", db.for_update()))
                .bind(k.tenant)
                .bind(k.campaign)
                .bind(k.asset)
                .bind(need)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(row) = waited {
                return Ok(vec![(row.try_get("slot")?, need)]);
            }
            sqlx::query("ROLLBACK TO SAVEPOINT budget_take")
                .execute(&mut *conn)
                .await?;
        }
    }
    let sql = format!(
        "SELECT slot, capacity - reserved - confirmed AS free FROM budget_slots \
         WHERE tenant_id = $1 AND campaign_id = $2 AND asset = $3 AND capacity - reserved - confirmed > 0 \
         ORDER BY slot {}",
        db.for_update()
    );
    let rows = sqlx::query(&sql)
        .bind(k.tenant)
        .bind(k.campaign)
        .bind(k.asset)
        .fetch_all(&mut *conn)
        .await?;
    let mut taken = Vec::new();
    let mut left = need;
    for r in rows {
        let (slot, free): (i64, i64) = (r.try_get("slot")?, r.try_get("free")?);
        let n = free.min(left);
        if n > 0 {
            move_slot(conn, k, slot, n, 0).await?;
            taken.push((slot, n));
            left -= n;
        }
    }
    Ok(taken)
}

/// Adds `reserved` and `confirmed` deltas to a slot.
pub async fn move_slot(
    conn: &mut Conn,
    k: Key<'_>,
    slot: i64,
    reserved: i64,
    confirmed: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE budget_slots SET reserved = reserved + $5, confirmed = confirmed + $6 \
         WHERE tenant_id = $1 AND campaign_id = $2 AND asset = $3 AND slot = $4",
    )
    .bind(k.tenant)
    .bind(k.campaign)
    .bind(k.asset)
    .bind(slot)
    .bind(reserved)
    .bind(confirmed)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A use counter (per day or per customer): locks its row and returns its use.
pub async fn lock_use(
    conn: &mut Conn,
    k: Key<'_>,
    table: Counter,
    who: &str,
) -> Result<i64, AppError> {
    let (t, col) = table.names();
    let sql = format!(
        "INSERT INTO {t} (tenant_id, campaign_id, asset, {col}, used) VALUES ($1, $2, $3, $4, 0) \
         ON CONFLICT (tenant_id, campaign_id, asset, {col}) DO UPDATE SET used = {t}.used RETURNING used"
    );
    let row = sqlx::query(&sql)
        .bind(k.tenant)
        .bind(k.campaign)
        .bind(k.asset)
        .bind(who)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get("used")?)
}

/// Adds `delta` to a use counter, creating it at `delta`.
pub async fn bump(
    conn: &mut Conn,
    k: Key<'_>,
    table: Counter,
    who: &str,
    delta: i64,
) -> Result<(), AppError> {
    let (t, col) = table.names();
    let sql = format!(
        "INSERT INTO {t} (tenant_id, campaign_id, asset, {col}, used) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, campaign_id, asset, {col}) DO UPDATE SET used = {t}.used + excluded.used"
    );
    sqlx::query(&sql)
        .bind(k.tenant)
        .bind(k.campaign)
        .bind(k.asset)
        .bind(who)
        .bind(delta)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Which use counter.
#[derive(Clone, Copy, Debug)]
pub enum Counter {
    /// Per local day.
    Day,
    /// Per customer.
    Customer,
    /// Per order.
    Order,
}

impl Counter {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::Day => ("budget_days", "day"),
            Self::Customer => ("participants", "customer_id"),
            Self::Order => ("order_use", "order_id"),
        }
    }
}

/// A reservation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// Id.
    pub id: i64,
    /// Campaign.
    pub campaign_id: String,
    /// Asset.
    pub asset: String,
    /// Customer.
    pub customer_id: String,
    /// Order.
    pub order_id: String,
    /// Variant.
    pub variant: String,
    /// Local day of the reservation.
    pub day: String,
    /// Asked.
    pub requested: i64,
    /// Granted.
    pub granted: i64,
    /// Confirmed.
    pub confirmed: i64,
    /// Given back.
    pub released: i64,
    /// reserved | confirmed | released | expired.
    pub status: String,
    /// Lapse time.
    pub expires_at: i64,
    /// The order's eligible amount (minor units of `order_currency`), net
    /// of returns: the revenue the campaign is credited with.
    pub order_amount: i64,
    /// The order's currency ("" when not said).
    pub order_currency: String,
    /// What one unit of `asset` is worth in `order_currency` ("" when unpriced).
    pub unit_value: String,
    /// Where the order was placed ("online", "store", "app"; "" when not said).
    pub channel: String,
    /// The store ("" when none).
    pub store_id: String,
}

fn reservation(r: &AnyRow) -> Result<Reservation, sqlx::Error> {
    Ok(Reservation {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        asset: r.try_get("asset")?,
        customer_id: r.try_get("customer_id")?,
        order_id: r.try_get("order_id")?,
        variant: r.try_get("variant")?,
        day: r.try_get("day")?,
        requested: r.try_get("requested")?,
        granted: r.try_get("granted")?,
        confirmed: r.try_get("confirmed")?,
        released: r.try_get("released")?,
        status: r.try_get("status")?,
        expires_at: r.try_get("expires_at")?,
        order_amount: r.try_get("order_amount")?,
        order_currency: r.try_get("order_currency")?,
        unit_value: r.try_get("unit_value")?,
        channel: r.try_get("channel")?,
        store_id: r.try_get("store_id")?,
    })
}

/// Inserts a reservation and its slot parts; returns its id.
pub async fn insert_reservation(
    conn: &mut Conn,
    tenant: &str,
    r: &Reservation,
    now: i64,
) -> Result<i64, AppError> {
    let row = sqlx::query(
        "INSERT INTO reservations (tenant_id, campaign_id, asset, customer_id, order_id, variant, day, requested, \
         granted, status, expires_at, created_at, order_amount, order_currency, unit_value, channel, store_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'reserved', $10, $11, $12, $13, $14, $15, $16) RETURNING id",
    )
    .bind(tenant)
    .bind(&r.campaign_id)
    .bind(&r.asset)
    .bind(&r.customer_id)
    .bind(&r.order_id)
    .bind(&r.variant)
    .bind(&r.day)
    .bind(r.requested)
    .bind(r.granted)
    .bind(r.expires_at)
    .bind(now)
    .bind(r.order_amount)
    .bind(&r.order_currency)
    .bind(&r.unit_value)
    .bind(&r.channel)
    .bind(&r.store_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// Records which slots a reservation took from, and how much each gave.
pub async fn insert_parts(
    conn: &mut Conn,
    r: &Reservation,
    parts: &[(i64, i64)],
) -> Result<(), AppError> {
    for (slot, amount) in parts {
        sqlx::query(
            "INSERT INTO reservation_slots (reservation_id, slot, amount) VALUES ($1, $2, $3)",
        )
        .bind(r.id)
        .bind(slot)
        .bind(amount)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A reservation by id, within the tenant, locked on PostgreSQL.
pub async fn get_reservation(
    conn: &mut Conn,
    db: &Db,
    tenant: &str,
    id: i64,
) -> Result<Option<Reservation>, AppError> {
    let sql = format!(
        "SELECT id, campaign_id, asset, customer_id, order_id, variant, day, requested, granted, confirmed, released, \
         status, expires_at, order_amount, order_currency, unit_value, channel, store_id FROM reservations \
         WHERE tenant_id = $1 AND id = $2 {}",
        db.for_update()
    );
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(reservation).transpose()?)
}

/// A reservation's part in one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// Slot.
    pub slot: i64,
    /// Granted from it.
    pub amount: i64,
    /// Confirmed in it, net of what was given back.
    pub confirmed: i64,
}

/// A reservation's slot parts, by slot.
pub async fn parts(conn: &mut Conn, id: i64) -> Result<Vec<Part>, AppError> {
    let rows = sqlx::query(
        "SELECT slot, amount, confirmed FROM reservation_slots WHERE reservation_id = $1 ORDER BY slot",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Part {
                slot: r.try_get("slot")?,
                amount: r.try_get("amount")?,
                confirmed: r.try_get("confirmed")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Records what a reservation holds confirmed in a slot.
pub async fn set_part_confirmed(
    conn: &mut Conn,
    id: i64,
    slot: i64,
    confirmed: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE reservation_slots SET confirmed = $1 WHERE reservation_id = $2 AND slot = $3",
    )
    .bind(confirmed)
    .bind(id)
    .bind(slot)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a reservation's new state.
pub async fn update_reservation(conn: &mut Conn, r: &Reservation) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE reservations SET granted = $1, confirmed = $2, released = $3, status = $4, order_amount = $5 \
         WHERE id = $6",
    )
    .bind(r.granted)
    .bind(r.confirmed)
    .bind(r.released)
    .bind(&r.status)
    .bind(r.order_amount)
    .bind(r.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
