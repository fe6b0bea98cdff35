//! Checkout sessions: created with their plan, moved between states by
//! conditional updates, read back as they were answered.
use boomerang_common::{
    db::{Conn, Db},
    error::AppError,
};
use sqlx::Row as _;

use super::{internal, json, parse};
use crate::domain::session::{Holds, Plan, State, StoredRefusal};

/// A session as stored.
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// The session.
    pub session_id: String,
    /// Where it is.
    pub state: State,
    /// Hash of the ReserveCheckout request.
    pub request_hash: Vec<u8>,
    /// What it asks to hold and records.
    pub plan: Plan,
    /// What it holds.
    pub holds: Holds,
    /// The session as it stands (encoded `CheckoutSession`).
    pub view: Vec<u8>,
    /// ReserveCheckout's answer once reserved (empty before).
    pub answer: Vec<u8>,
    /// What a refused session answers.
    pub refusal: Option<StoredRefusal>,
    /// The order it became.
    pub order_id: String,
    /// When it lapses.
    pub expires_at: i64,
}

/// Creates a session in state reserving; `false` when the id is taken.
pub async fn insert_session(
    conn: &mut Conn,
    tenant: &str,
    s: &SessionRow,
    now: i64,
) -> Result<bool, AppError> {
    let inserted = sqlx::query(
        "INSERT INTO checkout_sessions (tenant_id, session_id, program_id, customer_id, state, request_hash, \
         plan, holds, view, answer, refusal, order_id, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '', '', $11, $12, $12) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(&s.session_id)
    .bind(&s.plan.program_id)
    .bind(&s.plan.customer)
    .bind(s.state.as_str())
    .bind(&s.request_hash)
    .bind(json(&s.plan)?)
    .bind(json(&s.holds)?)
    .bind(&s.view)
    .bind(&s.answer)
    .bind(s.expires_at)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

const SESSION: &str = "SELECT session_id, state, request_hash, plan, holds, view, answer, refusal, \
     order_id, expires_at FROM checkout_sessions";

/// A session; locked on PostgreSQL when `lock` (its moves serialise on it).
pub async fn get_session(
    conn: &mut Conn,
    db: &Db,
    tenant: &str,
    session: &str,
    lock: bool,
) -> Result<Option<SessionRow>, AppError> {
    let sql = format!(
        "{SESSION} WHERE tenant_id = $1 AND session_id = $2 {}",
        if lock { db.for_update() } else { "" }
    );
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(session)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(session_row).transpose()
}

/// The session confirmed as `order` of `program`, if the order came from one.
pub async fn session_of_order(
    conn: &mut Conn,
    tenant: &str,
    program: &str,
    order: &str,
) -> Result<Option<SessionRow>, AppError> {
    let sql = format!(
        "{SESSION} WHERE tenant_id = $1 AND program_id = $2 AND order_id = $3 AND state = 'confirmed'"
    );
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(program)
        .bind(order)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(session_row).transpose()
}

fn session_row(r: &sqlx::any::AnyRow) -> Result<SessionRow, AppError> {
    let state: String = r.try_get("state")?;
    let refusal: String = r.try_get("refusal")?;
    Ok(SessionRow {
        session_id: r.try_get("session_id")?,
        state: State::parse(&state).ok_or_else(|| internal(format!("session state {state}")))?,
        request_hash: r.try_get("request_hash")?,
        plan: parse(&r.try_get::<String, _>("plan")?)?,
        holds: parse(&r.try_get::<String, _>("holds")?)?,
        view: r.try_get("view")?,
        answer: r.try_get("answer")?,
        refusal: if refusal.is_empty() {
            None
        } else {
            Some(parse(&refusal)?)
        },
        order_id: r.try_get("order_id")?,
        expires_at: r.try_get("expires_at")?,
    })
}

/// A session's move from `from` to `to`, with what it holds, its answer,
/// its order and its refusal.
#[derive(Debug)]
pub struct Move<'a> {
    /// The session.
    pub session_id: &'a str,
    /// The state it must be in.
    pub from: State,
    /// The state it goes to.
    pub to: State,
    /// What it holds after.
    pub holds: &'a Holds,
    /// Its answer after.
    pub view: &'a [u8],
    /// Its order ('' until confirmed).
    pub order_id: &'a str,
    /// Its refusal, when refused.
    pub refusal: Option<&'a StoredRefusal>,
    /// ReserveCheckout's answer, when this move makes it.
    pub answer: Option<&'a [u8]>,
}

/// Moves a session if it is still in `m.from`; says whether it was.
pub async fn move_session(
    conn: &mut Conn,
    tenant: &str,
    m: Move<'_>,
    now: i64,
) -> Result<bool, AppError> {
    let refusal = m.refusal.map(json).transpose()?.unwrap_or_default();
    let sql = format!(
        "UPDATE checkout_sessions SET state = $3, holds = $4, view = $5, order_id = $6, refusal = $7, \
         updated_at = $8{} WHERE tenant_id = $1 AND session_id = $2 AND state = $9",
        if m.answer.is_some() {
            ", answer = $10"
        } else {
            ""
        }
    );
    let mut q = sqlx::query(&sql)
        .bind(tenant)
        .bind(m.session_id)
        .bind(m.to.as_str())
        .bind(json(m.holds)?)
        .bind(m.view)
        .bind(m.order_id)
        .bind(refusal)
        .bind(now)
        .bind(m.from.as_str());
    if let Some(answer) = m.answer {
        q = q.bind(answer);
    }
    let moved = q.execute(&mut *conn).await?.rows_affected();
    Ok(moved == 1)
}
