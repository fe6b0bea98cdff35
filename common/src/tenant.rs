//! The tenant of a call. Services read it from the verified internal
//! credential ([`crate::auth::Caller`]), never from a header or a payload field.
use std::fmt;

use crate::{auth::Caller, error::AppError};

/// A validated tenant id: 1-64 chars of `a-z`, `0-9` and `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Parses and validates a tenant id.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err("tenant id must be 1-64 chars of a-z, 0-9 and -".into())
        }
    }

    /// The id as stored in every row.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who made a request: the caller its verified credential names, or
/// UNAUTHENTICATED when it carried none (the server's `VerifyLayer` refuses
/// those first; this holds if a server was built without one).
pub fn caller_of<T>(req: &tonic::Request<T>) -> Result<&Caller, AppError> {
    req.extensions().get::<Caller>().ok_or_else(|| {
        AppError::Unauthenticated("missing internal credential: call through the gateway".into())
    })
}

/// The tenant of a request (see [`caller_of`]).
pub fn tenant_of<T>(req: &tonic::Request<T>) -> Result<TenantId, AppError> {
    caller_of(req).map(|c| c.tenant.clone())
}

/// The actor of a request for audit trails; "unknown" when not given.
pub fn actor_of<T>(req: &tonic::Request<T>) -> String {
    caller_of(req).map_or_else(|_| "unknown".to_owned(), |c| c.actor.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_bounded_and_plain() {
        assert!(TenantId::parse("acme-shop-1").is_ok());
        assert!(TenantId::parse("").is_err());
        assert!(TenantId::parse("Acme").is_err());
        assert!(TenantId::parse("a;drop").is_err());
        assert!(TenantId::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn tenant_comes_from_the_credential_only() -> Result<(), String> {
        let mut req = tonic::Request::new(());
        req.metadata_mut().insert(
            "x-boomerang-tenant",
            tonic::metadata::MetadataValue::from_static("acme"),
        );
        assert!(tenant_of(&req).is_err());
        req.extensions_mut().insert(Caller {
            tenant: TenantId::parse("acme")?,
            actor: "k1".into(),
            issuer: "gateway".into(),
            scopes: vec![],
        });
        assert_eq!(
            tenant_of(&req).map(|t| t.to_string()).ok(),
            Some("acme".into())
        );
        assert_eq!(actor_of(&req), "k1");
        Ok(())
    }
}
