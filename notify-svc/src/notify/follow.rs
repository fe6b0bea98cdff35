//! Following each service's event log: every tenant's events in log order
//! (`FollowEvents`, a service credential), each mapped to its public
//! CloudEvent and queued for every webhook of its tenant that wants it, in
//! one transaction with the source's cursor. The cursor moves only if it
//! still stands where this follower read it (compare and set), so a
//! restart resumes exactly after the last queued event and two replicas
//! following at once queue nothing twice (a delivery is unique per webhook
//! and event id besides).
use std::{collections::BTreeMap, time::Duration};

use boomerang_common::{
    channel::{Upstream, acting_for},
    error::AppError,
    tenant::TenantId,
    time::from_timestamp,
};
use boomerang_proto::{
    accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient},
    campaign::v1::{self as cpb, campaign_service_client::CampaignServiceClient},
    referral::v1::{self as rpb, referral_service_client::ReferralServiceClient},
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use futures::{StreamExt as _, stream::BoxStream};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::Notifier;
use crate::{
    domain::{
        envelope::{CloudEvent, Origin, short_name},
        mapping,
    },
    repo::{self, NewDelivery, webhooks},
};

/// Events queued per transaction at most.
const BATCH: usize = 256;
/// The longest wait before following a source again after it failed.
const LONGEST_PAUSE: Duration = Duration::from_secs(30);

/// An event read from a source: its tenant, its cursor, and its public form
/// (none when nobody outside hears of it).
#[derive(Debug)]
pub struct Read {
    tenant: String,
    cursor: String,
    event: Option<CloudEvent>,
}

/// A followed service.
#[derive(Clone, Debug)]
pub enum Source {
    /// accrual-svc.
    Accrual(AccrualServiceClient<Upstream>),
    /// wallet-svc.
    Wallet(WalletServiceClient<Upstream>),
    /// campaign-svc.
    Campaign(CampaignServiceClient<Upstream>),
    /// referral-svc.
    Referral(ReferralServiceClient<Upstream>),
}

/// A source's stream of every tenant's events, each read as its public
/// form: `split` takes a response apart into (tenant, event), `meta` gives
/// an event's cursor and time, `map` its CloudEvent.
fn mapped<Resp, E>(
    service: &'static str,
    stream: tonic::Streaming<Resp>,
    split: fn(Resp) -> (String, E),
    meta: fn(&E) -> (String, Option<prost_types::Timestamp>),
    map: fn(Origin<'_>, &E) -> Result<Option<CloudEvent>, String>,
) -> BoxStream<'static, Result<Read, tonic::Status>>
where
    Resp: Send + 'static,
    E: Send + 'static,
{
    stream
        .map(move |r| {
            let (tenant, event) = split(r?);
            let (cursor, at) = meta(&event);
            let origin = Origin {
                service,
                tenant: &tenant,
                cursor: &cursor,
                at_us: at.as_ref().and_then(from_timestamp).unwrap_or_default(),
            };
            let event = map(origin, &event).map_err(tonic::Status::internal)?;
            Ok(Read {
                tenant,
                cursor,
                event,
            })
        })
        .boxed()
}

impl Source {
    /// Its name, as its cursor is stored and its events' ids start.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Accrual(_) => "accrual",
            Self::Wallet(_) => "wallet",
            Self::Campaign(_) => "campaign",
            Self::Referral(_) => "referral",
        }
    }

    /// Every tenant's events after `cursor`, mapped.
    async fn open(
        &self,
        platform: &TenantId,
        cursor: &str,
    ) -> Result<BoxStream<'static, Result<Read, tonic::Status>>, tonic::Status> {
        let from_cursor = cursor.to_owned();
        let name = self.name();
        Ok(match self.clone() {
            Self::Accrual(mut c) => {
                let ask = acting_for(platform, apb::FollowEventsRequest { from_cursor });
                let s = c.follow_events(ask).await?.into_inner();
                let split =
                    |r: apb::FollowEventsResponse| (r.tenant_id, r.event.unwrap_or_default());
                let meta = |e: &apb::WatchEventsResponse| (e.cursor.clone(), e.occurred_at);
                mapped(name, s, split, meta, mapping::accrual)
            }
            Self::Wallet(mut c) => {
                let ask = acting_for(platform, wpb::FollowEventsRequest { from_cursor });
                let s = c.follow_events(ask).await?.into_inner();
                let split =
                    |r: wpb::FollowEventsResponse| (r.tenant_id, r.event.unwrap_or_default());
                let meta = |e: &wpb::WatchEventsResponse| (e.cursor.clone(), e.occurred_at);
                mapped(name, s, split, meta, mapping::wallet)
            }
            Self::Campaign(mut c) => {
                let ask = acting_for(platform, cpb::FollowEventsRequest { from_cursor });
                let s = c.follow_events(ask).await?.into_inner();
                let split =
                    |r: cpb::FollowEventsResponse| (r.tenant_id, r.event.unwrap_or_default());
                let meta = |e: &cpb::WatchEventsResponse| (e.cursor.clone(), e.occurred_at);
                mapped(name, s, split, meta, mapping::campaign)
            }
            Self::Referral(mut c) => {
                let ask = acting_for(platform, rpb::FollowEventsRequest { from_cursor });
                let s = c.follow_events(ask).await?.into_inner();
                let split =
                    |r: rpb::FollowEventsResponse| (r.tenant_id, r.event.unwrap_or_default());
                let meta = |e: &rpb::WatchEventsResponse| (e.cursor.clone(), e.occurred_at);
                mapped(name, s, split, meta, mapping::referral)
            }
        })
    }
}

impl Notifier {
    /// Follows `source` until `stop`: from the stored cursor, again after
    /// every failure (waiting longer each time, up to 30 s).
    pub async fn follow(&self, source: Source, platform: TenantId, stop: CancellationToken) {
        let mut pause = Duration::from_millis(250);
        while !stop.is_cancelled() {
            match self.follow_once(&source, &platform, &stop).await {
                Ok(()) => pause = Duration::from_millis(250),
                Err(e) => {
                    tracing::warn!(source = source.name(), error = %e, "following paused");
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One stream: from the stored cursor until it ends, fails or `stop`.
    async fn follow_once(
        &self,
        source: &Source,
        platform: &TenantId,
        stop: &CancellationToken,
    ) -> Result<(), AppError> {
        let mut cursor = {
            let mut conn = self.db().pool().acquire().await?;
            repo::cursor(&mut conn, source.name()).await?
        };
        let name = source.name();
        let stream = source
            .open(platform, &cursor)
            .await
            .map_err(|e| AppError::upstream(name, &e))?;
        let mut batches = stream.ready_chunks(BATCH);
        loop {
            let batch = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                b = batches.next() => b,
            };
            let Some(batch) = batch else {
                return Ok(());
            };
            let mut read = Vec::with_capacity(batch.len());
            let mut failed = None;
            for r in batch {
                match r {
                    Ok(r) => read.push(r),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if let Some(last) = read.last() {
                let to = last.cursor.clone();
                if !self.queue(source.name(), &cursor, &to, &read).await? {
                    // Another replica moved the cursor: start again from it.
                    return Ok(());
                }
                cursor = to;
            }
            if let Some(e) = failed {
                return Err(AppError::upstream(name, &e));
            }
        }
    }

    /// Queues `read` for the webhooks that want it and moves the cursor from
    /// `from` to `to`, in one transaction; false when the cursor had moved.
    #[instrument(name = "boomerang.notify.follow.queue", skip_all, fields(source = source, events = read.len()), err(level = "info"))]
    async fn queue(
        &self,
        source: &str,
        from: &str,
        to: &str,
        read: &[Read],
    ) -> Result<bool, AppError> {
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        if !repo::advance(&mut tx, source, from, to, now).await? {
            return Ok(false);
        }
        let mut hooks: BTreeMap<&str, Vec<repo::WebhookRow>> = BTreeMap::new();
        let (mut queued, mut published) = (0u64, 0u64);
        for r in read {
            let Some(e) = &r.event else { continue };
            if !hooks.contains_key(r.tenant.as_str()) {
                let live = webhooks::live(&mut tx, self.db(), &r.tenant).await?;
                hooks.insert(&r.tenant, live);
            }
            let name = short_name(&e.kind);
            let wanting: Vec<_> = hooks
                .get(r.tenant.as_str())
                .into_iter()
                .flatten()
                .filter(|w| w.wants(name))
                .collect();
            if wanting.is_empty() && self.bus().is_none() {
                continue;
            }
            let json = serde_json::to_string(e).map_err(|e| AppError::Internal(e.into()))?;
            if let Some(prefix) = self.bus() {
                let subject = super::bus::subject(prefix, &r.tenant, &e.kind);
                repo::bus::queue(&mut tx, &e.id, &subject, &json, now).await?;
                published += 1;
            }
            for w in wanting {
                let at = e
                    .time
                    .parse::<jiff::Timestamp>()
                    .map_or(now, |t| t.as_microsecond());
                let d = NewDelivery {
                    tenant_id: &r.tenant,
                    webhook_id: &w.id,
                    event_id: &e.id,
                    event_type: &e.kind,
                    subject: e.subject.as_deref().unwrap_or_default(),
                    body: &json,
                    occurred_at: at,
                };
                repo::deliveries::queue(&mut tx, &d, now).await?;
                queued += 1;
            }
        }
        tx.commit().await?;
        metrics::counter!("boomerang_notify_events_read_total", "source" => source.to_owned())
            .increment(read.len() as u64);
        if queued > 0 {
            self.wake();
        }
        if published > 0 {
            self.wake_publisher();
        }
        Ok(true)
    }
}
