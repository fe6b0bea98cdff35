//! Optional JWT authentication, for teams whose identity provider issues
//! tokens: `authorization: Bearer <jwt>` signed by a key of a JWKS file, with
//! the claims `tenant` (the tenant id) and `scope` (space-separated
//! `service:access` scopes, as API keys have), plus `exp` and, when
//! configured, `iss` and `aud`.
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
use serde::{Deserialize, Serialize};

use boomerang_common::{error::AppError, tenant::TenantId};

use crate::{auth::Principal, domain::scope};

/// Where the signing keys are and what tokens must say.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// A JWKS (JSON Web Key Set) file.
    pub jwks_file: String,
    /// Required `iss`, if set.
    pub issuer: String,
    /// Required `aud`, if set.
    pub audience: String,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    tenant: String,
    #[serde(default)]
    scope: String,
}

/// Verifies tokens against the key set.
#[derive(Debug)]
pub struct Jwt {
    keys: JwkSet,
    cfg: JwtConfig,
    platform: String,
}

impl Jwt {
    /// Reads the key set; a bad file fails at start.
    pub fn load(cfg: &JwtConfig, platform: &str) -> anyhow::Result<Self> {
        let raw = std::fs::read_to_string(&cfg.jwks_file)
            .map_err(|e| anyhow::anyhow!("jwt.jwks_file {:?}: {e}", cfg.jwks_file))?;
        let keys: JwkSet = serde_json::from_str(&raw)
            .map_err(|e| anyhow::anyhow!("jwt.jwks_file is not a JWKS: {e}"))?;
        anyhow::ensure!(!keys.keys.is_empty(), "jwt.jwks_file has no keys");
        Ok(Self {
            keys,
            cfg: cfg.clone(),
            platform: platform.to_owned(),
        })
    }

    /// The caller a valid token names.
    pub fn principal(&self, token: &str) -> Result<Principal, AppError> {
        let bad = |why: String| AppError::Unauthenticated(format!("invalid token: {why}"));
        let header = decode_header(token).map_err(|e| bad(e.to_string()))?;
        let jwk = match &header.kid {
            Some(kid) => self.keys.find(kid),
            None if self.keys.keys.len() == 1 => self.keys.keys.first(),
            None => None,
        }
        .ok_or_else(|| bad("unknown signing key".into()))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| bad(e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        if !self.cfg.issuer.is_empty() {
            validation.set_issuer(&[&self.cfg.issuer]);
        }
        if self.cfg.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&[&self.cfg.audience]);
        }
        let claims = decode::<Claims>(token, &key, &validation)
            .map_err(|e| bad(e.to_string()))?
            .claims;
        let scopes = scope::parse_list(&claims.scope.replace(' ', ",")).map_err(bad)?;
        // Tokens serve applications; tenants and keys are managed with API keys only.
        if scopes.iter().any(|s| s.access == scope::Access::Admin) || claims.tenant == self.platform
        {
            return Err(bad(
                "tokens cannot carry admin rights or act for the platform tenant".into(),
            ));
        }
        Ok(Principal {
            tenant: TenantId::parse(&claims.tenant).map_err(bad)?,
            key_id: format!("jwt:{}", claims.sub),
            scopes,
        })
    }
}
