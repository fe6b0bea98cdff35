//! What a transaction of accrual sends later and tells watchers: its outbox
//! messages and its events, gathered while it runs and written together just
//! before it commits, one statement for each whatever their number.
use boomerang_common::{
    db::Conn,
    error::AppError,
    events::{self, NewEvent},
    outbox::{self, Outgoing},
    tenant::TenantId,
    time::to_timestamp,
};
use boomerang_proto::accrual::v1 as pb;
use prost::Message as _;

use super::{Accrual, outbound::Outbound};

/// The messages and events of one transaction, in the order they arose.
#[derive(Debug, Default)]
pub struct Effects {
    messages: Vec<Outbound>,
    events: Vec<pb::WatchEventsResponse>,
}

impl Effects {
    /// Sends `message` once the transaction commits (a message enqueued
    /// before under the same key keeps the first).
    pub fn send(&mut self, message: Outbound) {
        self.messages.push(message);
    }

    /// Tells watchers `event` (its cursor and time are set when written).
    pub fn tell(&mut self, event: pb::WatchEventsResponse) {
        self.events.push(event);
    }
}

impl Accrual {
    /// Writes `effects` in the caller's transaction: the only way accrual
    /// writes its outbox and its event log.
    pub async fn write_effects(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        effects: Effects,
    ) -> Result<(), AppError> {
        let now = self.clock().now();
        let messages: Vec<Outgoing<'_>> = effects
            .messages
            .iter()
            .map(|m| Outgoing {
                topic: m.topic().name(),
                key: m.key(tenant),
                payload: m.to_payload(),
            })
            .collect();
        let backend = self.db().backend();
        outbox::enqueue_many(conn, backend, tenant, &messages, now).await?;
        let stored: Vec<(&str, pb::WatchEventsResponse)> = effects
            .events
            .into_iter()
            .map(|e| {
                let kind = e.r#type().as_str_name();
                let stored = pb::WatchEventsResponse {
                    cursor: String::new(),
                    occurred_at: Some(to_timestamp(now)),
                    ..e
                };
                (kind, stored)
            })
            .collect();
        let events: Vec<NewEvent<'_>> = stored
            .iter()
            .map(|(kind, e)| NewEvent {
                kind,
                subject: &e.customer_id,
                payload: e.encode_to_vec(),
            })
            .collect();
        events::append_many(conn, self.db(), tenant, &events, now).await
    }

    /// Enqueues `message` in the caller's transaction.
    pub async fn enqueue(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        message: Outbound,
    ) -> Result<(), AppError> {
        let mut effects = Effects::default();
        effects.send(message);
        self.write_effects(conn, tenant, effects).await
    }

    /// Appends `event` in the caller's transaction.
    pub async fn emit(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        event: pb::WatchEventsResponse,
    ) -> Result<(), AppError> {
        let mut effects = Effects::default();
        effects.tell(event);
        self.write_effects(conn, tenant, effects).await
    }
}
