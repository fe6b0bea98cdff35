//! The tenant of a call. The gateway derives it from the caller's credentials
//! and sets it as metadata; services trust only that header, never a payload field.
use std::fmt;

use crate::error::AppError;

/// Metadata key the gateway sets on every upstream call.
pub const TENANT_HEADER: &str = "x-boomerang-tenant";
/// Metadata key naming who acted (for audit trails); optional.
pub const ACTOR_HEADER: &str = "x-boomerang-actor";

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

/// The tenant of a request, or UNAUTHENTICATED when the gateway did not set one.
pub fn tenant_of<T>(req: &tonic::Request<T>) -> Result<TenantId, AppError> {
    let raw = req
        .metadata()
        .get(TENANT_HEADER)
        .ok_or_else(|| {
            AppError::Unauthenticated(format!("missing {TENANT_HEADER}: call through the gateway"))
        })?
        .to_str()
        .map_err(|_| AppError::Unauthenticated(format!("{TENANT_HEADER} is not ASCII")))?;
    TenantId::parse(raw).map_err(AppError::Unauthenticated)
}

/// The actor of a request for audit trails; "unknown" when not given.
pub fn actor_of<T>(req: &tonic::Request<T>) -> String {
    req.metadata()
        .get(ACTOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(128).collect())
        .unwrap_or_else(|| "unknown".to_owned())
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
    fn tenant_comes_from_metadata_only() {
        let mut req = tonic::Request::new(());
        assert!(tenant_of(&req).is_err());
        req.metadata_mut().insert(
            TENANT_HEADER,
            tonic::metadata::MetadataValue::from_static("acme"),
        );
        assert_eq!(
            tenant_of(&req).map(|t| t.to_string()).ok(),
            Some("acme".into())
        );
    }
}
