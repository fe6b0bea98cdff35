//! A tenant's webhooks: created with a secret shown once, changed, paused,
//! resumed, deleted, their secret rotated (the previous one signs beside
//! the new one for [`ROTATION_OVERLAP_US`], so receivers can switch without
//! losing a delivery). Each change runs in the caller's transaction (the
//! idempotent mutation's).
use boomerang_common::{db::Conn, error::AppError, tenant::TenantId};
use tracing::instrument;

use super::Notifier;
use crate::{
    domain::signature::Secret,
    repo::{WebhookRow, webhooks},
};

/// Webhooks of one tenant at most (not deleted): each is a delivery per event.
pub const MAX_WEBHOOKS: i64 = 20;

/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP_US: i64 = 24 * 3_600 * 1_000_000;

/// What a webhook is made of (checked by the caller: a [`Target`] URL,
/// known types, a bounded description).
///
/// [`Target`]: crate::domain::target::Target
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Where it is called.
    pub url: String,
    /// Public type names ("reward.pending"); empty: all.
    pub types: Vec<String>,
    /// For people.
    pub description: String,
}

/// Where a webhook stands, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Delivered to.
    Active,
    /// Queued for, not delivered to.
    Paused,
    /// Gone.
    Deleted,
}

impl State {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Deleted => "deleted",
        }
    }
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("no webhook {id}"))
}

impl Notifier {
    /// Creates a webhook; it and its secret (`whsec_...`).
    #[instrument(name = "boomerang.notify.webhooks.create", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn create_webhook(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        spec: Spec,
    ) -> Result<(WebhookRow, String), AppError> {
        if webhooks::count_live(conn, tenant.as_str()).await? >= MAX_WEBHOOKS {
            return Err(AppError::Precondition(format!(
                "at most {MAX_WEBHOOKS} webhooks per tenant; delete one first"
            )));
        }
        let now = self.clock().now();
        let secret = Secret::generate().reveal();
        let w = WebhookRow {
            tenant_id: tenant.as_str().to_owned(),
            // Sortable by creation, unguessable.
            id: format!("wh_{now:014x}{:08x}", rand::random::<u32>()),
            url: spec.url,
            types: spec.types,
            description: spec.description,
            state: State::Active.as_str().into(),
            secret: secret.clone(),
            previous_secret: String::new(),
            previous_until: 0,
            created_at: now,
            updated_at: now,
        };
        webhooks::insert(conn, &w).await?;
        Ok((w, secret))
    }

    /// One webhook.
    #[instrument(name = "boomerang.notify.webhooks.get", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn webhook(&self, tenant: &TenantId, id: &str) -> Result<WebhookRow, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        webhooks::get(&mut conn, tenant.as_str(), id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// A page of the tenant's webhooks after id `after`.
    #[instrument(name = "boomerang.notify.webhooks.list", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn webhooks(
        &self,
        tenant: &TenantId,
        after: &str,
        limit: i64,
    ) -> Result<Vec<WebhookRow>, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        webhooks::list(&mut conn, tenant.as_str(), after, limit).await
    }

    /// A webhook to change: not deleted.
    async fn changeable(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: &str,
    ) -> Result<WebhookRow, AppError> {
        let w = webhooks::get(conn, tenant.as_str(), id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if w.state == State::Deleted.as_str() {
            return Err(AppError::Precondition(format!("webhook {id} is deleted")));
        }
        Ok(w)
    }

    /// Changes a webhook's URL, types and description.
    #[instrument(name = "boomerang.notify.webhooks.update", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn update_webhook(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: &str,
        spec: Spec,
    ) -> Result<WebhookRow, AppError> {
        let w = WebhookRow {
            url: spec.url,
            types: spec.types,
            description: spec.description,
            updated_at: self.clock().now(),
            ..self.changeable(conn, tenant, id).await?
        };
        webhooks::update(conn, &w).await?;
        Ok(w)
    }

    /// Pauses, resumes or deletes a webhook; a delete drops what it has not
    /// been delivered yet. Moving to where it stands is nothing.
    #[instrument(name = "boomerang.notify.webhooks.set_state", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn set_webhook_state(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: &str,
        to: State,
    ) -> Result<WebhookRow, AppError> {
        let w = self.changeable(conn, tenant, id).await?;
        if w.state == to.as_str() {
            return Ok(w);
        }
        let w = WebhookRow {
            state: to.as_str().into(),
            updated_at: self.clock().now(),
            ..w
        };
        webhooks::update(conn, &w).await?;
        if to == State::Deleted {
            crate::repo::deliveries::drop_pending(conn, tenant.as_str(), id).await?;
        }
        if to == State::Active {
            self.wake();
        }
        Ok(w)
    }

    /// A new secret; the previous one signs beside it for a day.
    #[instrument(name = "boomerang.notify.webhooks.rotate", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn rotate_secret(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: &str,
    ) -> Result<(WebhookRow, String), AppError> {
        let now = self.clock().now();
        let w = self.changeable(conn, tenant, id).await?;
        let secret = Secret::generate().reveal();
        let w = WebhookRow {
            previous_secret: w.secret.clone(),
            previous_until: now.saturating_add(ROTATION_OVERLAP_US),
            secret: secret.clone(),
            updated_at: now,
            ..w
        };
        webhooks::update(conn, &w).await?;
        Ok((w, secret))
    }
}
