//! What `WatchEvents` streams: member enrolled, tier changed, tier threshold
//! reached, reward pending, purchase and return recorded, points converted.
//! Each event is appended in the transaction of the change it reports
//! (`common::events`), so a stream never shows what did not commit.
use boomerang_common::{
    error::AppError,
    events::{self, Cursor, Filter},
    tenant::TenantId,
};
use boomerang_proto::accrual::v1 as pb;
use tokio::sync::mpsc;

use super::Accrual;

impl Accrual {
    /// The tenant's events after `cursor` that `filter` keeps, then new ones as they commit.
    pub fn watch(
        &self,
        tenant: TenantId,
        cursor: Cursor,
        filter: Filter,
    ) -> mpsc::Receiver<Result<pb::WatchEventsResponse, AppError>> {
        let keep = move |m: &mut pb::WatchEventsResponse, at: Cursor| {
            m.cursor = at.to_string();
            filter.keeps(m.r#type, &m.program_id, &m.customer_id)
        };
        events::watch(
            self.db().clone(),
            self.committed_signal(),
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
        events::watch_all(self.db().clone(), self.committed_signal(), cursor, stamp)
    }
}
