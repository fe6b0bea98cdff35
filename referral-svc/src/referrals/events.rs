//! What referral-svc's `WatchEvents` streams: referrals attributed, rewards
//! paid and taken back. Each event is appended in the transaction of the
//! change it reports (`common::events`), so a stream never shows what did
//! not commit.
use boomerang_common::{
    db::Conn,
    error::AppError,
    events::{self, Cursor, Filter, NewEvent},
    tenant::TenantId,
    time::to_timestamp,
};
use boomerang_proto::referral::v1 as pb;
use prost::Message as _;
use tokio::sync::mpsc;

use super::Referrals;

impl Referrals {
    /// Appends `event` in the caller's transaction (its cursor and time set here).
    pub(super) async fn emit(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        event: pb::WatchEventsResponse,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let stored = pb::WatchEventsResponse {
            cursor: String::new(),
            occurred_at: Some(to_timestamp(now)),
            ..event
        };
        let new = NewEvent {
            kind: stored.r#type().as_str_name(),
            subject: &stored.customer_id,
            payload: stored.encode_to_vec(),
        };
        events::append_many(conn, &self.db, tenant, &[new], now).await
    }

    /// The tenant's events after `cursor` that `filter` keeps, then new ones as they commit.
    pub fn watch(
        &self,
        tenant: TenantId,
        cursor: Cursor,
        filter: Filter,
    ) -> mpsc::Receiver<Result<pb::WatchEventsResponse, AppError>> {
        let keep = move |m: &mut pb::WatchEventsResponse, at: Cursor| {
            m.cursor = at.to_string();
            filter.keeps(m.r#type, "", &m.customer_id)
        };
        events::watch(
            self.db.clone(),
            self.committed.clone(),
            tenant,
            cursor,
            keep,
        )
    }

    /// Every tenant's events after `cursor`, with their tenant, then new ones
    /// as they commit (notify-svc's stream).
    pub fn follow(
        &self,
        cursor: Cursor,
    ) -> mpsc::Receiver<Result<(String, pb::WatchEventsResponse), AppError>> {
        let stamp = |m: &mut pb::WatchEventsResponse, at: Cursor| m.cursor = at.to_string();
        events::watch_all(self.db.clone(), self.committed.clone(), cursor, stamp)
    }

    /// Wakes this replica's event watchers (after a commit that may have
    /// appended events).
    pub fn committed(&self) {
        self.committed.notify_waiters();
    }
}
