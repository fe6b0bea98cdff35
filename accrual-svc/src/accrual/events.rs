//! What `WatchEvents` streams: member enrolled, tier changed, tier threshold
//! reached, reward pending, purchase and return recorded, points converted.
//! Each event is appended in the transaction of the change it reports
//! (`common::events`), so a stream never shows what did not commit.
use boomerang_common::{
    error::AppError,
    events::{self, Cursor},
    tenant::TenantId,
};
use boomerang_proto::accrual::v1 as pb;
use tokio::sync::mpsc;

use super::Accrual;

/// Which events a watcher wants.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Event types; empty: all.
    pub types: Vec<i32>,
    /// Program; empty: all.
    pub program_id: String,
    /// Customer; empty: all.
    pub customer_id: String,
}

impl Filter {
    fn keeps(&self, e: &pb::WatchEventsResponse) -> bool {
        (self.types.is_empty() || self.types.contains(&e.r#type))
            && (self.program_id.is_empty() || self.program_id == e.program_id)
            && (self.customer_id.is_empty() || self.customer_id == e.customer_id)
    }
}

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
            filter.keeps(m)
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
