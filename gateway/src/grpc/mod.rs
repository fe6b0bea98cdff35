//! `boomerang.admin.v1.AdminService`, served by the gateway itself.
//!
//! Every call needs an admin-scoped key. A key of the platform tenant manages
//! every tenant; an admin key of any other tenant manages its own keys only.
pub mod convert;
pub mod jobs;

use boomerang_common::{
    db::Conn,
    error::{AppError, Violations},
    idempotency::Mutations,
    tenant::TenantId,
};
use boomerang_proto::admin::v1::{self as pb, admin_service_server::AdminService};
use futures::future::BoxFuture;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::{
    auth::{Authenticator, Principal},
    repo::{Keys, TenantRow},
};

/// The `AdminService` implementation.
#[derive(Clone, Debug)]
pub struct AdminHandler {
    auth: Authenticator,
    keys: Keys,
    platform: TenantId,
    mutations: Mutations,
}

impl AdminHandler {
    /// Handlers checking credentials with `auth`; keys of `platform` manage all tenants.
    pub fn new(auth: Authenticator, keys: Keys, platform: TenantId) -> Self {
        Self {
            auth,
            mutations: Mutations::new(keys.db().clone(), keys.clock().clone()),
            keys,
            platform,
        }
    }

    async fn caller<T>(&self, req: &Request<T>, rpc: &str) -> Result<Principal, AppError> {
        let authorization = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        self.auth
            .authorize(
                authorization,
                &format!("/boomerang.admin.v1.AdminService/{rpc}"),
            )
            .await
    }

    /// Platform admins act on any tenant; others on their own only (NOT_FOUND
    /// otherwise, so no tenant learns another exists).
    fn may_manage(&self, who: &Principal, tenant: &TenantId) -> Result<(), AppError> {
        if who.tenant == self.platform || &who.tenant == tenant {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("no tenant {tenant}")))
        }
    }

    fn platform_only(&self, who: &Principal) -> Result<(), AppError> {
        if who.tenant == self.platform {
            Ok(())
        } else {
            Err(AppError::PermissionDenied(
                "only platform admins manage tenants".into(),
            ))
        }
    }
}

/// A response that carries a key's secret: shown once, never stored.
trait WithSecret: Message + Default + Clone {
    fn without_secret(&self) -> Self;
}

impl WithSecret for pb::CreateApiKeyResponse {
    fn without_secret(&self) -> Self {
        Self {
            secret: String::new(),
            ..self.clone()
        }
    }
}

impl WithSecret for pb::RotateApiKeyResponse {
    fn without_secret(&self) -> Self {
        Self {
            secret: String::new(),
            ..self.clone()
        }
    }
}

impl AdminHandler {
    /// As `once`, but the stored response (replayed to a retry) has no secret:
    /// a lost response means rotating the key again, never reading it back.
    /// A mutation whose answer carries a secret: answered once, replayed without it.
    async fn once_secret<R, F>(
        &self,
        who: &Principal,
        scope: &'static str,
        key: &str,
        req: &impl Message,
        work: F,
    ) -> Result<Response<R>, Status>
    where
        R: WithSecret,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<R, AppError>>,
    {
        let without = |r: &R| Some(r.without_secret());
        self.mutations
            .run_storing(&who.tenant, scope, key, req, work, without)
            .await
    }
}

fn tenant_id(v: &mut Violations, field: &str, raw: &str) -> Option<TenantId> {
    v.field(field, TenantId::parse(raw))
}

#[tonic::async_trait]
impl AdminService for AdminHandler {
    async fn create_tenant(
        &self,
        req: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::CreateTenantResponse>, Status> {
        let who = self.caller(&req, "CreateTenant").await?;
        self.platform_only(&who)?;
        let req = req.into_inner();
        let t = req.tenant.clone().unwrap_or_default();
        let mut v = Violations::new();
        let id = tenant_id(&mut v, "tenant.tenant_id", &t.tenant_id);
        let timezone = if t.timezone.is_empty() {
            "UTC".to_owned()
        } else {
            t.timezone.clone()
        };
        if timezone.len() > 64 || jiff::tz::TimeZone::get(&timezone).is_err() {
            v.add("tenant.timezone", "an IANA time zone, e.g. Europe/Rome");
        }
        if t.name.chars().count() > 128 {
            v.add("tenant.name", "at most 128 characters");
        }
        v.check()?;
        let Some(id) = id else {
            return Err(AppError::invalid("tenant.tenant_id", "required").into());
        };
        let row = TenantRow {
            tenant: id,
            name: t.name,
            timezone,
            created_at: self.keys.clock().now(),
        };
        let keys = self.keys.clone();
        self.mutations
            .run(
                &who.tenant,
                "admin.CreateTenant",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        keys.create_tenant(conn, &row).await?;
                        Ok(pb::CreateTenantResponse {
                            tenant: Some(convert::to_tenant(&row)),
                        })
                    })
                },
            )
            .await
    }

    async fn list_tenants(
        &self,
        req: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        let who = self.caller(&req, "ListTenants").await?;
        self.platform_only(&who)?;
        let (size, after) = convert::page(req.get_ref().page.as_ref());
        if !after.is_empty() && TenantId::parse(&after).is_err() {
            return Err(AppError::invalid("page.page_token", "not a token from this list").into());
        }
        let mut rows = self.keys.tenants(&after, size + 1).await?;
        let next = convert::next(&mut rows, size, |t| t.tenant.to_string());
        Ok(Response::new(pb::ListTenantsResponse {
            tenants: rows.iter().map(convert::to_tenant).collect(),
            next_page_token: next,
        }))
    }

    async fn create_api_key(
        &self,
        req: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let who = self.caller(&req, "CreateApiKey").await?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let tenant = tenant_id(&mut v, "tenant_id", &req.tenant_id);
        let scopes = convert::scopes(&mut v, &req.scopes);
        let expires_at =
            boomerang_common::time::instant(&mut v, "expires_at", req.expires_at.as_ref());
        if expires_at.is_some_and(|t| t <= self.keys.clock().now()) {
            v.add(
                "expires_at",
                "in the future: a key that has expired already serves nobody",
            );
        }
        if req.name.chars().count() > 128 {
            v.add("name", "at most 128 characters");
        }
        v.check()?;
        let Some(tenant) = tenant else {
            return Err(AppError::invalid("tenant_id", "required").into());
        };
        self.may_manage(&who, &tenant)?;
        if let Some(s) = scopes
            .iter()
            .find(|s| !crate::domain::scope::covers(&who.scopes, s))
        {
            return Err(AppError::PermissionDenied(format!(
                "a key cannot grant {s}, which it does not hold"
            ))
            .into());
        }
        let (keys, name) = (self.keys.clone(), req.name.clone());
        self.once_secret(
            &who,
            "admin.CreateApiKey",
            &req.idempotency_key,
            &req,
            move |conn: &mut Conn| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    if !keys.tenant_exists(conn, &tenant).await? {
                        return Err(AppError::NotFound(format!("no tenant {tenant}")));
                    }
                    let (key, secret) = keys
                        .create_key_in(conn, &tenant, &name, &scopes, expires_at)
                        .await?;
                    Ok(pb::CreateApiKeyResponse {
                        key: Some(convert::to_key(&key)),
                        secret,
                    })
                })
            },
        )
        .await
    }

    async fn list_api_keys(
        &self,
        req: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let who = self.caller(&req, "ListApiKeys").await?;
        let req = req.into_inner();
        let mut v = Violations::new();
        let tenant = tenant_id(&mut v, "tenant_id", &req.tenant_id);
        let (size, after) = convert::page(req.page.as_ref());
        if !after.is_empty() && boomerang_common::id::check(&after).is_err() {
            v.add("page.page_token", "not a token from this list");
        }
        v.check()?;
        let Some(tenant) = tenant else {
            return Err(AppError::invalid("tenant_id", "required").into());
        };
        self.may_manage(&who, &tenant)?;
        let mut rows = self.keys.keys(&tenant, &after, size + 1).await?;
        let next = convert::next(&mut rows, size, |k| k.key_id.clone());
        Ok(Response::new(pb::ListApiKeysResponse {
            keys: rows.iter().map(convert::to_key).collect(),
            next_page_token: next,
        }))
    }

    async fn rotate_api_key(
        &self,
        req: Request<pb::RotateApiKeyRequest>,
    ) -> Result<Response<pb::RotateApiKeyResponse>, Status> {
        let who = self.caller(&req, "RotateApiKey").await?;
        let req = req.into_inner();
        let mut v = Violations::new();
        boomerang_common::id::field(&mut v, "key_id", &req.key_id);
        let overlap = req.overlap.as_ref().map_or(0, |d| d.seconds);
        let nanos = req.overlap.as_ref().map_or(0, |d| d.nanos);
        if !(0..=30 * 86_400).contains(&overlap) || !(0..1_000_000_000).contains(&nanos) {
            v.add("overlap", "0 to 30 days");
        }
        v.check()?;
        let overlap = overlap * 1_000_000;
        let (keys, handler, key_id, caller) = (
            self.keys.clone(),
            self.clone(),
            req.key_id.clone(),
            who.clone(),
        );
        self.once_secret(
            &who,
            "admin.RotateApiKey",
            &req.idempotency_key,
            &req,
            move |conn: &mut Conn| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let old = keys.get_key(conn, &key_id).await?;
                    handler
                        .may_manage(&caller, &old.tenant)
                        .map_err(|_| AppError::NotFound(format!("no key {key_id}")))?;
                    if old.revoked_at.is_some_and(|t| t <= keys.clock().now()) {
                        return Err(AppError::Precondition(format!("key {key_id} is revoked")));
                    }
                    let (key, secret) = keys
                        .create_key_in(conn, &old.tenant, &old.name, &old.scopes, old.expires_at)
                        .await?;
                    // The old key keeps working for the overlap, so callers can switch without downtime.
                    keys.revoke_at(conn, &key_id, keys.clock().now() + overlap)
                        .await?;
                    Ok(pb::RotateApiKeyResponse {
                        key: Some(convert::to_key(&key)),
                        secret,
                    })
                })
            },
        )
        .await
    }

    async fn revoke_api_key(
        &self,
        req: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let who = self.caller(&req, "RevokeApiKey").await?;
        let req = req.into_inner();
        let mut v = Violations::new();
        boomerang_common::id::field(&mut v, "key_id", &req.key_id);
        v.check()?;
        let (keys, handler, key_id, caller) = (
            self.keys.clone(),
            self.clone(),
            req.key_id.clone(),
            who.clone(),
        );
        self.mutations
            .run(
                &who.tenant,
                "admin.RevokeApiKey",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let key = keys.get_key(conn, &key_id).await?;
                        handler
                            .may_manage(&caller, &key.tenant)
                            .map_err(|_| AppError::NotFound(format!("no key {key_id}")))?;
                        keys.revoke_at(conn, &key_id, keys.clock().now()).await?;
                        let key = keys.get_key(conn, &key_id).await?;
                        Ok(pb::RevokeApiKeyResponse {
                            key: Some(convert::to_key(&key)),
                        })
                    })
                },
            )
            .await
    }
}
