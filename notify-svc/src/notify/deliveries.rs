//! The delivery log of a webhook and its dead letters: listed with their
//! latest attempts, replayed with a fresh retry budget.
use boomerang_common::{db::Conn, error::AppError, tenant::TenantId};
use tracing::instrument;

use super::Notifier;
use crate::repo::{AttemptRow, DeliveryRow, deliveries, webhooks};

/// Attempts shown per delivery.
pub const RECENT_ATTEMPTS: i64 = 10;

impl Notifier {
    /// A page of a webhook's deliveries (in `state` unless empty) before id
    /// `before` (0: newest), newest first, each with its latest attempts.
    #[instrument(name = "boomerang.notify.deliveries.list", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn deliveries(
        &self,
        tenant: &TenantId,
        webhook: &str,
        state: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(DeliveryRow, Vec<AttemptRow>)>, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        if webhooks::get(&mut conn, tenant.as_str(), webhook)
            .await?
            .is_none()
        {
            return Err(AppError::NotFound(format!("no webhook {webhook}")));
        }
        let rows =
            deliveries::list(&mut conn, tenant.as_str(), webhook, state, before, limit).await?;
        let ids: Vec<i64> = rows.iter().map(|d| d.id).collect();
        let mut attempts = deliveries::attempts(&mut conn, &ids, RECENT_ATTEMPTS).await?;
        Ok(rows
            .into_iter()
            .map(|d| {
                let mine = attempts
                    .iter()
                    .filter(|a| a.delivery_id == d.id)
                    .cloned()
                    .collect();
                attempts.retain(|a| a.delivery_id != d.id);
                (d, mine)
            })
            .collect())
    }

    /// Queues dead letters of a webhook again (those in `ids`, or all);
    /// how many.
    #[instrument(name = "boomerang.notify.deliveries.replay", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn replay(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        webhook: &str,
        ids: &[i64],
    ) -> Result<u64, AppError> {
        match webhooks::get(conn, tenant.as_str(), webhook).await? {
            None => return Err(AppError::NotFound(format!("no webhook {webhook}"))),
            Some(w) if w.state == "deleted" => {
                return Err(AppError::Precondition(format!(
                    "webhook {webhook} is deleted"
                )));
            }
            Some(_) => {}
        }
        let replayed =
            deliveries::replay(conn, tenant.as_str(), webhook, ids, self.clock().now()).await?;
        self.wake();
        Ok(replayed)
    }
}

/// Keeps the dead-letter (and unpublished) gauges current (every 15 s) until `stop`.
pub async fn gauge(n: Notifier, stop: tokio_util::sync::CancellationToken) {
    metrics::describe_gauge!(
        "boomerang_notify_dead_letters",
        "Webhook deliveries parked as dead letters, replayable."
    );
    metrics::describe_counter!(
        "notify_deliveries_total",
        "Webhook delivery attempts by outcome: delivered, failed (retried), dead_letter."
    );
    metrics::describe_histogram!(
        "notify_delivery_lag_seconds",
        metrics::Unit::Seconds,
        "From an event to its delivery to a webhook."
    );
    metrics::describe_counter!(
        "notify_events_read_total",
        "Events read from each followed service's log."
    );
    loop {
        match deliveries::dead_letters(n.db()).await {
            #[allow(clippy::cast_precision_loss)] // a count, far below 2^52
            Ok(count) => metrics::gauge!("boomerang_notify_dead_letters").set(count as f64),
            Err(e) => tracing::warn!(error = %e, "dead letters not counted"),
        }
        if n.bus().is_some() {
            match crate::repo::bus::backlog(n.db()).await {
                #[allow(clippy::cast_precision_loss)] // a count, far below 2^52
                Ok(count) => metrics::gauge!("boomerang_notify_unpublished").set(count as f64),
                Err(e) => tracing::warn!(error = %e, "unpublished events not counted"),
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(15)) => {}
        }
    }
}
