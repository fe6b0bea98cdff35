//! Who may call what, between Boomerang's processes.
//!
//! The gateway authenticates its callers (API keys, tokens), then forwards
//! each call with a short-lived credential it signs with the platform key
//! ([`Issuer`]): tenant, actor, scopes, expiry and the one service it is for.
//! Services verify it ([`VerifyLayer`]) before any handler runs and read the
//! tenant from it ([`crate::tenant::tenant_of`]), never from a header.
//! Services calling each other mint their own, with only the scopes they
//! need; [`scope::SERVICE_ONLY`] methods take nothing else.
pub mod credential;
pub mod keys;
pub mod layer;
pub mod scope;

pub use credential::{Caller, GATEWAY, Issuer, Verifier};
pub use keys::{InternalAuthConfig, Keys, generate_pem};
pub use layer::VerifyLayer;

use std::{sync::Arc, time::Duration};

/// What a process needs to call and be called: the platform keys its
/// `internal_auth` names and the lifetime of what it mints.
#[derive(Clone, Debug)]
pub struct Credentials {
    keys: Arc<Keys>,
    ttl: Duration,
}

impl Credentials {
    /// Reads the keys; a missing or bad key fails at start.
    pub fn load(cfg: &InternalAuthConfig) -> anyhow::Result<Self> {
        Ok(Self {
            keys: Arc::new(Keys::load(cfg)?),
            ttl: Duration::from_millis(cfg.ttl_ms),
        })
    }

    /// Verifies calls to `service` ("wallet", ...).
    pub fn verifier(&self, service: &str) -> Verifier {
        Verifier::new(self.keys.clone(), service)
    }

    /// Mints as `name`, granting `scopes` ("wallet:write", ...).
    pub fn issuer(&self, name: &str, scopes: &[&str]) -> anyhow::Result<Arc<Issuer>> {
        Ok(Arc::new(Issuer::service(
            self.keys.clone(),
            name,
            scopes,
            self.ttl,
        )?))
    }
}
