//! SQL for tenants and API keys.
use boomerang_common::{
    db::{Db, Migrations, is_unique_violation},
    error::AppError,
    tenant::TenantId,
    time::now_micros,
};
use sqlx::Row as _;

use crate::domain::{
    key::{self, NewKey},
    scope::{self, Scope},
};

/// The gateway's migrations, one folder per backend.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A key as looked up for authentication.
#[derive(Clone, Debug)]
pub struct KeyRecord {
    /// Key id.
    pub key_id: String,
    /// Tenant it acts for.
    pub tenant: TenantId,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// Expiry, unix micros.
    pub expires_at: Option<i64>,
    /// Revocation time, unix micros.
    pub revoked_at: Option<i64>,
}

/// Tenants and keys storage.
#[derive(Clone, Debug)]
pub struct Keys {
    db: Db,
}

impl Keys {
    /// Over a migrated database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Creates a tenant; an existing one is left as it is (idempotent bootstrap).
    pub async fn ensure_tenant(&self, tenant: &TenantId, name: &str) -> Result<(), AppError> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO tenants (tenant_id, name, timezone, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(name)
        .bind("UTC")
        .bind(now_micros())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a key for `tenant`; returns its id and secret (shown once).
    pub async fn create_key(
        &self,
        tenant: &TenantId,
        name: &str,
        scopes: &[Scope],
    ) -> Result<(String, String), AppError> {
        let NewKey {
            secret,
            prefix,
            hash,
        } = key::generate();
        let key_id = format!("key_{prefix}");
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO api_keys (key_id, tenant_id, name, prefix, secret_hash, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key_id)
        .bind(tenant.as_str())
        .bind(name)
        .bind(&prefix)
        .bind(hash)
        .bind(scope::render_list(scopes))
        .bind(now_micros())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                AppError::Aborted("key collision, retry".into())
            } else {
                e.into()
            }
        })?;
        tx.commit().await?;
        Ok((key_id, secret))
    }

    /// Revokes a key from now on.
    pub async fn revoke(&self, key_id: &str) -> Result<(), AppError> {
        let mut tx = self.db.begin().await?;
        let n = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL",
        )
        .bind(now_micros())
        .bind(key_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if n == 0 {
            return Err(AppError::NotFound(format!("no active key {key_id}")));
        }
        Ok(())
    }

    /// The key whose secret hashes to `hash`.
    pub async fn find_by_hash(&self, hash: &[u8]) -> Result<Option<KeyRecord>, AppError> {
        let row = sqlx::query(
            "SELECT key_id, tenant_id, scopes, expires_at, revoked_at FROM api_keys \
             WHERE secret_hash = $1",
        )
        .bind(hash)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let tenant: String = row.try_get("tenant_id")?;
        let scopes: String = row.try_get("scopes")?;
        Ok(Some(KeyRecord {
            key_id: row.try_get("key_id")?,
            tenant: TenantId::parse(&tenant).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?,
            scopes: scope::parse_list(&scopes)
                .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?,
            expires_at: row.try_get("expires_at")?,
            revoked_at: row.try_get("revoked_at")?,
        }))
    }
}
