//! What `WatchEvents` streams: member enrolled, tier changed, tier threshold
//! reached, reward pending, purchase and return recorded, points converted.
//! Each event is appended in the transaction of the change it reports
//! (`common::events`), so a stream never shows what did not commit.
use boomerang_common::{
    db::Conn,
    error::AppError,
    events::{self, Cursor},
    tenant::TenantId,
    time::to_timestamp,
};
use boomerang_proto::accrual::v1 as pb;
use prost::Message as _;
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
    /// Appends `event` (its cursor and time are set here) in the caller's transaction.
    pub async fn emit(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        event: pb::WatchEventsResponse,
    ) -> Result<(), AppError> {
        let now = self.clock().now();
        let kind = event.r#type().as_str_name();
        let stored = pb::WatchEventsResponse {
            cursor: String::new(),
            occurred_at: Some(to_timestamp(now)),
            ..event
        };
        events::append(
            conn,
            self.db(),
            tenant,
            kind,
            &stored.customer_id,
            &stored.encode_to_vec(),
            now,
        )
        .await
    }

    /// The tenant's events after `cursor` that `filter` keeps, then new ones as they commit.
    pub fn watch(
        &self,
        tenant: TenantId,
        cursor: Cursor,
        filter: Filter,
    ) -> mpsc::Receiver<Result<pb::WatchEventsResponse, AppError>> {
        let db = self.db().clone();
        events::follow(self.committed_signal(), cursor, move |after| {
            let (db, tenant, filter) = (db.clone(), tenant.clone(), filter.clone());
            async move {
                let page = events::after(&db, &tenant, after, events::PAGE).await?;
                page.into_iter()
                    .map(|e| {
                        let m = pb::WatchEventsResponse::decode(e.payload.as_slice())
                            .map_err(|err| AppError::Internal(err.into()))?;
                        let m = pb::WatchEventsResponse {
                            cursor: e.cursor.to_string(),
                            ..m
                        };
                        Ok((e.cursor, filter.keeps(&m).then_some(m)))
                    })
                    .collect()
            }
        })
    }
}
