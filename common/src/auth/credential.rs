//! Internal credentials: short-lived JWTs (EdDSA) naming who minted them
//! (`iss`: "gateway" or a service), for which service (`aud`), the tenant,
//! the actor (`sub`) and the scopes the call may use.
//!
//! Expiry is real time, not the injected [`crate::time::Clock`]: it bounds
//! how long a credential seen on the wire is worth, between processes whose
//! domain clocks tests move freely.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};

use super::{
    keys::Keys,
    scope::{self, Scope},
};
use crate::{error::AppError, tenant::TenantId};

/// The issuer of credentials minted for the gateway's callers.
pub const GATEWAY: &str = "gateway";
/// How far clocks of two pods may disagree.
const LEEWAY_SECS: u64 = 5;
/// Bound on each cache (tokens minted, tokens verified); flushed when full.
const CACHE_MAX: usize = 10_000;

/// Who a verified call comes from: what handlers read instead of headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The tenant it acts for.
    pub tenant: TenantId,
    /// Who acted, for audit trails: the gateway caller's key id, or a service.
    pub actor: String,
    /// Who minted the credential: [`GATEWAY`] or a service's name.
    pub issuer: String,
    /// What it may call.
    pub scopes: Vec<Scope>,
}

impl Caller {
    /// Whether a service (not the gateway, on a key's behalf) made the call.
    pub fn is_service(&self) -> bool {
        self.issuer != GATEWAY
    }
}

#[derive(Debug, Deserialize, Serialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    tenant: String,
    scope: String,
    iat: u64,
    exp: u64,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Mints credentials as one issuer; a credential is reused for the same
/// audience, tenant, actor and scopes while more than half its life is left.
#[derive(Debug)]
pub struct Issuer {
    keys: Arc<Keys>,
    name: String,
    scopes: Vec<Scope>,
    ttl: Duration,
    minted: Mutex<HashMap<String, (u64, String)>>,
}

impl Issuer {
    /// As `name`, granting `scopes` unless a call asks for others.
    pub fn new(keys: Arc<Keys>, name: &str, scopes: Vec<Scope>, ttl: Duration) -> Self {
        Self {
            keys,
            name: name.to_owned(),
            scopes,
            ttl: ttl.max(Duration::from_secs(1)),
            minted: Mutex::default(),
        }
    }

    /// A service's issuer: `name`, with `scopes` ("wallet:write", ...).
    pub fn service(
        keys: Arc<Keys>,
        name: &str,
        scopes: &[&str],
        ttl: Duration,
    ) -> anyhow::Result<Self> {
        let scopes = scopes
            .iter()
            .map(|s| s.parse().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self::new(keys, name, scopes, ttl))
    }

    /// Its name (the actor of calls that name none).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The scopes it grants by default.
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// A credential for `audience` ("wallet", ...), acting for `tenant` as `actor`.
    pub fn mint(
        &self,
        audience: &str,
        tenant: &TenantId,
        actor: &str,
        scopes: &[Scope],
    ) -> Result<String, AppError> {
        let scope = scopes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        let now = now_secs();
        let ttl = self.ttl.as_secs();
        let cache_key = format!("{audience} {tenant} {actor} {scope}");
        if let Ok(minted) = self.minted.lock()
            && let Some((exp, token)) = minted.get(&cache_key)
            && *exp > now + ttl / 2
        {
            return Ok(token.clone());
        }
        let claims = Claims {
            iss: self.name.clone(),
            aud: audience.to_owned(),
            sub: actor.to_owned(),
            tenant: tenant.to_string(),
            scope,
            iat: now,
            exp: now + ttl,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.keys.kid().to_owned());
        let token = encode(&header, &claims, self.keys.signing())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("signing a credential: {e}")))?;
        if let Ok(mut minted) = self.minted.lock() {
            if minted.len() >= CACHE_MAX {
                minted.clear();
            }
            minted.insert(cache_key, (claims.exp, token.clone()));
        }
        Ok(token)
    }
}

/// Verifies credentials addressed to one service; verified tokens are
/// remembered until they expire, so a caller's reused credential costs a
/// lookup, not a signature check.
#[derive(Debug)]
pub struct Verifier {
    keys: Arc<Keys>,
    audience: String,
    validation: Validation,
    verified: Mutex<HashMap<String, (u64, Caller)>>,
}

impl Verifier {
    /// For credentials whose `aud` is `audience` ("wallet", ...).
    pub fn new(keys: Arc<Keys>, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        Self {
            keys,
            audience: audience.to_owned(),
            validation,
            verified: Mutex::default(),
        }
    }

    /// The service it verifies for.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Who a call to `path` comes from, given its `authorization` header;
    /// `None` for calls that need no credential (health, reflection).
    pub fn authorize(
        &self,
        path: &str,
        authorization: Option<&str>,
    ) -> Result<Option<Caller>, AppError> {
        let Some((service, access)) = scope::required(path) else {
            return Ok(None);
        };
        let token = authorization
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                AppError::Unauthenticated(
                    "missing internal credential: call through the gateway".into(),
                )
            })?;
        let caller = self.verify(token)?;
        if scope::is_service_only(path) && !caller.is_service() {
            return Err(AppError::PermissionDenied(format!(
                "{path} is for services only"
            )));
        }
        if !scope::allows(&caller.scopes, service, access) {
            return Err(AppError::PermissionDenied(format!(
                "{} ({}) may not call {path}",
                caller.actor, caller.issuer
            )));
        }
        Ok(Some(caller))
    }

    /// The caller a valid credential for this service names.
    pub fn verify(&self, token: &str) -> Result<Caller, AppError> {
        let now = now_secs();
        if let Ok(verified) = self.verified.lock()
            && let Some((exp, caller)) = verified.get(token)
            && exp + LEEWAY_SECS > now
        {
            return Ok(caller.clone());
        }
        let bad = |why: String| {
            AppError::Unauthenticated(format!(
                "invalid internal credential: {}",
                why.chars().take(200).collect::<String>()
            ))
        };
        let header = decode_header(token).map_err(|e| bad(e.to_string()))?;
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.verifying(kid))
            .ok_or_else(|| bad("signed with an unknown key".into()))?;
        let claims = decode::<Claims>(token, key, &self.validation)
            .map_err(|e| bad(e.to_string()))?
            .claims;
        let caller = Caller {
            tenant: TenantId::parse(&claims.tenant).map_err(bad)?,
            actor: claims.sub.chars().take(128).collect(),
            issuer: claims.iss,
            scopes: scope::parse_list(&claims.scope.replace(' ', ",")).map_err(bad)?,
        };
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= CACHE_MAX {
                verified.clear();
            }
            verified.insert(token.to_owned(), (claims.exp, caller.clone()));
        }
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::generate_pem;

    const CREDIT: &str = "/boomerang.wallet.v1.WalletService/Credit";
    const RELEASE: &str = "/boomerang.wallet.v1.WalletService/ReleaseCredit";

    fn keys() -> anyhow::Result<Arc<Keys>> {
        Ok(Arc::new(Keys::from_pem(&generate_pem()?)?))
    }

    fn acme() -> anyhow::Result<TenantId> {
        TenantId::parse("acme").map_err(anyhow::Error::msg)
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[test]
    fn a_minted_credential_names_its_caller() -> anyhow::Result<()> {
        let keys = keys()?;
        let accrual = Issuer::service(
            keys.clone(),
            "accrual",
            &["wallet:write"],
            Duration::from_secs(60),
        )?;
        let token = accrual.mint("wallet", &acme()?, "accrual", accrual.scopes())?;
        let wallet = Verifier::new(keys, "wallet");
        let caller = wallet.authorize(CREDIT, Some(&bearer(&token)))?;
        assert_eq!(
            caller,
            Some(Caller {
                tenant: acme()?,
                actor: "accrual".into(),
                issuer: "accrual".into(),
                scopes: vec!["wallet:write".parse().map_err(anyhow::Error::msg)?],
            })
        );
        // Reused while fresh: one signature per caller, tenant and audience.
        assert_eq!(
            accrual.mint("wallet", &acme()?, "accrual", accrual.scopes())?,
            token
        );
        // Service-only methods take service credentials.
        assert!(wallet.authorize(RELEASE, Some(&bearer(&token)))?.is_some());
        Ok(())
    }

    #[test]
    fn bad_credentials_are_refused() -> anyhow::Result<()> {
        let keys = keys()?;
        let wallet = Verifier::new(keys.clone(), "wallet");
        let code =
            |r: Result<Option<Caller>, AppError>| r.err().map(|e| tonic::Status::from(e).code());
        let unauthenticated = Some(tonic::Code::Unauthenticated);
        // No credential, a bare word, garbage.
        assert_eq!(code(wallet.authorize(CREDIT, None)), unauthenticated);
        assert_eq!(
            code(wallet.authorize(CREDIT, Some("acme"))),
            unauthenticated
        );
        assert_eq!(
            code(wallet.authorize(CREDIT, Some("Bearer x.y.z"))),
            unauthenticated
        );
        // Signed with another key.
        let forger = Issuer::new(
            Arc::new(Keys::from_pem(&generate_pem()?)?),
            GATEWAY,
            vec![],
            Duration::from_secs(60),
        );
        let all: Vec<Scope> = vec!["*:admin".parse().map_err(anyhow::Error::msg)?];
        let forged = forger.mint("wallet", &acme()?, "k", &all)?;
        assert_eq!(
            code(wallet.authorize(CREDIT, Some(&bearer(&forged)))),
            unauthenticated
        );
        // For another service.
        let gateway = Issuer::new(keys.clone(), GATEWAY, vec![], Duration::from_secs(60));
        let for_campaign = gateway.mint("campaign", &acme()?, "k", &all)?;
        assert_eq!(
            code(wallet.authorize(CREDIT, Some(&bearer(&for_campaign)))),
            unauthenticated
        );
        // Expired (beyond the leeway).
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(keys.kid().to_owned());
        let old = Claims {
            iss: GATEWAY.into(),
            aud: "wallet".into(),
            sub: "k".into(),
            tenant: "acme".into(),
            scope: "*:admin".into(),
            iat: now_secs() - 120,
            exp: now_secs() - 60,
        };
        let expired = encode(&header, &old, keys.signing())?;
        assert_eq!(
            code(wallet.authorize(CREDIT, Some(&bearer(&expired)))),
            unauthenticated
        );
        // A gateway credential, even an admin's, is no service.
        let admin = gateway.mint("wallet", &acme()?, "k", &all)?;
        assert_eq!(
            code(wallet.authorize(RELEASE, Some(&bearer(&admin)))),
            Some(tonic::Code::PermissionDenied)
        );
        // Scopes hold on the service too.
        let read: Vec<Scope> = vec!["wallet:read".parse().map_err(anyhow::Error::msg)?];
        let reader = gateway.mint("wallet", &acme()?, "k", &read)?;
        assert_eq!(
            code(wallet.authorize(CREDIT, Some(&bearer(&reader)))),
            Some(tonic::Code::PermissionDenied)
        );
        // Health and reflection need none.
        assert_eq!(
            wallet.authorize("/grpc.health.v1.Health/Check", None)?,
            None
        );
        Ok(())
    }
}
