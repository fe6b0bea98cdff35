//! Authentication and authorisation of every forwarded call.
//!
//! Keys are looked up by hash and cached for at most `cache_ttl` (default one
//! second), so a revocation takes effect across replicas within that time
//! without a database round trip per call.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use boomerang_common::{error::AppError, tenant::TenantId};

use crate::{
    domain::{key, scope},
    jwt::Jwt,
    repo::{KeyRecord, Keys},
};

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The tenant the key acts for.
    pub tenant: TenantId,
    /// The key.
    pub key_id: String,
    /// Its scopes.
    pub scopes: Vec<scope::Scope>,
}

/// A lookup result (unknown keys too) and when it was read.
type Cached = (Instant, Option<KeyRecord>);

/// Checks credentials against the key store.
#[derive(Clone, Debug)]
pub struct Authenticator {
    keys: Keys,
    jwt: Option<Arc<Jwt>>,
    cache_ttl: Duration,
    cache: Arc<Mutex<HashMap<Vec<u8>, Cached>>>,
}

impl Authenticator {
    /// Over `keys`, caching lookups for `cache_ttl`; tokens verified by `jwt` when given.
    pub fn new(keys: Keys, cache_ttl: Duration, jwt: Option<Jwt>) -> Self {
        Self {
            keys,
            jwt: jwt.map(Arc::new),
            cache_ttl,
            cache: Arc::default(),
        }
    }

    /// Who a call to `path` acts as, given its `authorization` header.
    pub async fn authorize(
        &self,
        authorization: Option<&str>,
        path: &str,
    ) -> Result<Principal, AppError> {
        let token = authorization.and_then(key::bearer).ok_or_else(|| {
            AppError::Unauthenticated(
                "missing or malformed `authorization: Bearer <api key or token>`".into(),
            )
        })?;
        let principal = match (&self.jwt, key::is_api_key(token)) {
            (_, true) => self.api_key(token).await?,
            (Some(jwt), false) => jwt.principal(token)?,
            (None, false) => return Err(AppError::Unauthenticated("unknown API key".into())),
        };
        let (service, access) = scope::required(path)
            .ok_or_else(|| AppError::NotFound(format!("no such method {path}")))?;
        if scope::is_service_only(path) {
            return Err(AppError::PermissionDenied(format!(
                "{path} is for services only (another Boomerang service calls it); no key may"
            )));
        }
        if !scope::allows(&principal.scopes, service, access) {
            return Err(AppError::PermissionDenied(format!(
                "{} may not call {path} (needs {service}:{})",
                principal.key_id,
                match access {
                    scope::Access::Read => "read",
                    scope::Access::Write => "write",
                    scope::Access::Admin => "admin",
                }
            )));
        }
        Ok(principal)
    }

    async fn api_key(&self, secret: &str) -> Result<Principal, AppError> {
        let record = self
            .lookup(key::hash(secret))
            .await?
            .ok_or_else(|| AppError::Unauthenticated("unknown API key".into()))?;
        let now = self.keys.clock().now();
        if record.revoked_at.is_some_and(|t| t <= now) {
            return Err(AppError::Unauthenticated("API key revoked".into()));
        }
        if record.expires_at.is_some_and(|t| t <= now) {
            return Err(AppError::Unauthenticated("API key expired".into()));
        }
        Ok(Principal {
            tenant: record.tenant,
            key_id: record.key_id,
            scopes: record.scopes,
        })
    }

    async fn lookup(&self, hash: Vec<u8>) -> Result<Option<KeyRecord>, AppError> {
        let fresh = self.cache.lock().ok().and_then(|cache| {
            let (at, record) = cache.get(&hash)?;
            (at.elapsed() < self.cache_ttl).then(|| record.clone())
        });
        if let Some(record) = fresh {
            return Ok(record);
        }
        let record = self.keys.find_by_hash(&hash).await?;
        if let Ok(mut cache) = self.cache.lock() {
            // Bounded: unknown keys are cached too, so flush rather than grow without end.
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(hash, (Instant::now(), record.clone()));
        }
        Ok(record)
    }
}
