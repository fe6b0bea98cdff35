//! gRPC handlers of `boomerang.notify.v1.WebhookService`: parse, one facade
//! call, render. Every change is an idempotent mutation.
pub mod convert;

use boomerang_common::{
    db::Conn,
    error::{AppError, Violations},
    idempotency::Mutations,
    tenant::{TenantId, tenant_of},
};
use boomerang_proto::notify::v1::{self as pb, webhook_service_server::WebhookService};
use futures::future::BoxFuture;
use tonic::{Request, Response, Status};

use crate::notify::{Notifier, webhooks::State};

/// The `WebhookService` implementation.
#[derive(Clone, Debug)]
pub struct WebhookServiceHandler {
    notifier: Notifier,
    mutations: Mutations,
}

impl WebhookServiceHandler {
    /// Handlers over `notifier`.
    pub fn new(notifier: Notifier) -> Self {
        Self {
            mutations: Mutations::new(notifier.db().clone(), notifier.clock().clone()),
            notifier,
        }
    }

    fn allow_private(&self) -> bool {
        self.notifier.delivery().allow_private_targets
    }

    /// Moves a webhook to `to`, idempotently.
    async fn set_state(
        &self,
        tenant: TenantId,
        scope: &'static str,
        key: &str,
        request: &impl prost::Message,
        id: &str,
        to: State,
    ) -> Result<pb::Webhook, Status> {
        let mut v = Violations::new();
        let id = convert::webhook_id(&mut v, id);
        v.check()?;
        let (n, t) = (self.notifier.clone(), tenant.clone());
        let moved = self
            .mutations
            .run(
                &tenant,
                scope,
                key,
                request,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let w = n.set_webhook_state(conn, &t, &id, to).await?;
                        Ok(pb::GetWebhookResponse {
                            webhook: Some(convert::to_webhook(&w)),
                        })
                    })
                },
            )
            .await?;
        Ok(moved.into_inner().webhook.unwrap_or_default())
    }
}

#[tonic::async_trait]
impl WebhookService for WebhookServiceHandler {
    async fn create_webhook(
        &self,
        req: Request<pb::CreateWebhookRequest>,
    ) -> Result<Response<pb::CreateWebhookResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let spec = convert::spec(
            &mut v,
            &req.url,
            &req.types,
            &req.description,
            self.allow_private(),
        );
        v.check()?;
        let (n, t) = (self.notifier.clone(), tenant.clone());
        self.mutations
            .run_storing(
                &tenant,
                "notify.CreateWebhook",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let (w, secret) = n.create_webhook(conn, &t, spec).await?;
                        Ok(pb::CreateWebhookResponse {
                            webhook: Some(convert::to_webhook(&w)),
                            secret,
                        })
                    })
                },
                // The secret is shown once: a replay answers without it.
                |r: &pb::CreateWebhookResponse| {
                    Some(pb::CreateWebhookResponse {
                        secret: String::new(),
                        ..r.clone()
                    })
                },
            )
            .await
    }

    async fn get_webhook(
        &self,
        req: Request<pb::GetWebhookRequest>,
    ) -> Result<Response<pb::GetWebhookResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let mut v = Violations::new();
        let id = convert::webhook_id(&mut v, &req.get_ref().webhook_id);
        v.check()?;
        let w = self.notifier.webhook(&tenant, &id).await?;
        Ok(Response::new(pb::GetWebhookResponse {
            webhook: Some(convert::to_webhook(&w)),
        }))
    }

    async fn list_webhooks(
        &self,
        req: Request<pb::ListWebhooksRequest>,
    ) -> Result<Response<pb::ListWebhooksResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let (size, token) = boomerang_common::paging::page(req.get_ref().page.as_ref());
        if !token.is_empty() {
            let mut v = Violations::new();
            convert::webhook_id(&mut v, &token);
            v.check()
                .map_err(|_| AppError::invalid("page.page_token", "not a token of this list"))?;
        }
        let mut rows = self.notifier.webhooks(&tenant, &token, size + 1).await?;
        let next = boomerang_common::paging::next(&mut rows, size, |w| w.id.clone());
        Ok(Response::new(pb::ListWebhooksResponse {
            webhooks: rows.iter().map(convert::to_webhook).collect(),
            next_page_token: next,
        }))
    }

    async fn update_webhook(
        &self,
        req: Request<pb::UpdateWebhookRequest>,
    ) -> Result<Response<pb::UpdateWebhookResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let id = convert::webhook_id(&mut v, &req.webhook_id);
        let spec = convert::spec(
            &mut v,
            &req.url,
            &req.types,
            &req.description,
            self.allow_private(),
        );
        v.check()?;
        let (n, t) = (self.notifier.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "notify.UpdateWebhook",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let w = n.update_webhook(conn, &t, &id, spec).await?;
                        Ok(pb::UpdateWebhookResponse {
                            webhook: Some(convert::to_webhook(&w)),
                        })
                    })
                },
            )
            .await
    }

    async fn pause_webhook(
        &self,
        req: Request<pb::PauseWebhookRequest>,
    ) -> Result<Response<pb::PauseWebhookResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let w = self
            .set_state(
                tenant,
                "notify.PauseWebhook",
                &req.idempotency_key,
                &req,
                &req.webhook_id,
                State::Paused,
            )
            .await?;
        Ok(Response::new(pb::PauseWebhookResponse { webhook: Some(w) }))
    }

    async fn resume_webhook(
        &self,
        req: Request<pb::ResumeWebhookRequest>,
    ) -> Result<Response<pb::ResumeWebhookResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let w = self
            .set_state(
                tenant,
                "notify.ResumeWebhook",
                &req.idempotency_key,
                &req,
                &req.webhook_id,
                State::Active,
            )
            .await?;
        Ok(Response::new(pb::ResumeWebhookResponse {
            webhook: Some(w),
        }))
    }

    async fn delete_webhook(
        &self,
        req: Request<pb::DeleteWebhookRequest>,
    ) -> Result<Response<pb::DeleteWebhookResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let w = self
            .set_state(
                tenant,
                "notify.DeleteWebhook",
                &req.idempotency_key,
                &req,
                &req.webhook_id,
                State::Deleted,
            )
            .await?;
        Ok(Response::new(pb::DeleteWebhookResponse {
            webhook: Some(w),
        }))
    }

    async fn rotate_webhook_secret(
        &self,
        req: Request<pb::RotateWebhookSecretRequest>,
    ) -> Result<Response<pb::RotateWebhookSecretResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let id = convert::webhook_id(&mut v, &req.webhook_id);
        v.check()?;
        let (n, t) = (self.notifier.clone(), tenant.clone());
        self.mutations
            .run_storing(
                &tenant,
                "notify.RotateWebhookSecret",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let (w, secret) = n.rotate_secret(conn, &t, &id).await?;
                        Ok(pb::RotateWebhookSecretResponse {
                            webhook: Some(convert::to_webhook(&w)),
                            secret,
                        })
                    })
                },
                // The secret is shown once: a replay answers without it.
                |r: &pb::RotateWebhookSecretResponse| {
                    Some(pb::RotateWebhookSecretResponse {
                        secret: String::new(),
                        ..r.clone()
                    })
                },
            )
            .await
    }

    async fn list_deliveries(
        &self,
        req: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let id = convert::webhook_id(&mut v, &req.webhook_id);
        let state = v.known::<pb::DeliveryState>("state", req.state);
        let (size, token) = boomerang_common::paging::page(req.page.as_ref());
        let before = if token.is_empty() {
            0
        } else {
            convert::delivery_id(&token).unwrap_or_else(|| {
                v.add("page.page_token", "not a token of this list");
                0
            })
        };
        v.check()?;
        let state = convert::delivery_state(state.unwrap_or_default());
        let mut rows = self
            .notifier
            .deliveries(&tenant, &id, state, before, size + 1)
            .await?;
        let next = boomerang_common::paging::next(&mut rows, size, |(d, _)| format!("dl_{}", d.id));
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: rows
                .iter()
                .map(|(d, a)| convert::to_delivery(d, a))
                .collect(),
            next_page_token: next,
        }))
    }

    async fn replay_deliveries(
        &self,
        req: Request<pb::ReplayDeliveriesRequest>,
    ) -> Result<Response<pb::ReplayDeliveriesResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let id = convert::webhook_id(&mut v, &req.webhook_id);
        if req.delivery_ids.len() > convert::MAX_REPLAY {
            v.add("delivery_ids", format!("at most {}", convert::MAX_REPLAY));
        }
        let ids: Vec<i64> = req
            .delivery_ids
            .iter()
            .take(convert::MAX_REPLAY)
            .filter_map(|d| {
                let parsed = convert::delivery_id(d);
                if parsed.is_none() {
                    v.add("delivery_ids", "a delivery id, dl_...");
                }
                parsed
            })
            .collect();
        v.check()?;
        let (n, t) = (self.notifier.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "notify.ReplayDeliveries",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let replayed = n.replay(conn, &t, &id, &ids).await?;
                        Ok(pb::ReplayDeliveriesResponse {
                            replayed: u32::try_from(replayed).unwrap_or(u32::MAX),
                        })
                    })
                },
            )
            .await
    }
}
