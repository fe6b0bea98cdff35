//! SQL for tenants and API keys.
use boomerang_common::{
    db::{Db, Migrations, is_unique_violation},
    error::AppError,
    tenant::TenantId,
    time::Clock,
};
use sqlx::{Row as _, any::AnyRow};

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

/// A key as stored (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key id.
    pub key_id: String,
    /// Tenant it acts for.
    pub tenant: TenantId,
    /// Display name.
    pub name: String,
    /// First characters of the secret.
    pub prefix: String,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// Created, unix micros.
    pub created_at: i64,
    /// Expiry, unix micros.
    pub expires_at: Option<i64>,
    /// Revocation time, unix micros (may be in the future after a rotation).
    pub revoked_at: Option<i64>,
}

/// A tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRow {
    /// Id.
    pub tenant: TenantId,
    /// Name.
    pub name: String,
    /// IANA zone.
    pub timezone: String,
    /// Created.
    pub created_at: i64,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("{e}"))
}

fn key_row(row: &AnyRow) -> Result<KeyRecord, AppError> {
    let tenant: String = row.try_get("tenant_id")?;
    let scopes: String = row.try_get("scopes")?;
    Ok(KeyRecord {
        key_id: row.try_get("key_id")?,
        tenant: TenantId::parse(&tenant).map_err(internal)?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        scopes: scope::parse_list(&scopes).map_err(internal)?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

const KEY_COLUMNS: &str =
    "key_id, tenant_id, name, prefix, scopes, created_at, expires_at, revoked_at";

/// Tenants and keys storage.
#[derive(Clone, Debug)]
pub struct Keys {
    db: Db,
    clock: Clock,
}

impl Keys {
    /// Over a migrated database, on `clock`.
    pub fn new(db: Db, clock: Clock) -> Self {
        Self { db, clock }
    }

    /// The clock key times (creation, expiry, revocation) are judged by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Creates a tenant; an existing one is left as it is (bootstrap).
    pub async fn ensure_tenant(&self, tenant: &TenantId, name: &str) -> Result<(), AppError> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO tenants (tenant_id, name, timezone, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(name)
        .bind("UTC")
        .bind(self.clock.now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a tenant; ALREADY_EXISTS when the id is taken.
    pub async fn create_tenant(
        &self,
        conn: &mut sqlx::AnyConnection,
        t: &TenantRow,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO tenants (tenant_id, name, timezone, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(t.tenant.as_str())
        .bind(&t.name)
        .bind(&t.timezone)
        .bind(t.created_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                AppError::AlreadyExists(format!("tenant {} already exists", t.tenant))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Tenants after `after`, by id.
    pub async fn tenants(&self, after: &str, limit: i64) -> Result<Vec<TenantRow>, AppError> {
        let rows = sqlx::query(
            "SELECT tenant_id, name, timezone, created_at FROM tenants WHERE tenant_id > $1 ORDER BY tenant_id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("tenant_id")?;
                Ok(TenantRow {
                    tenant: TenantId::parse(&id).map_err(internal)?,
                    name: r.try_get("name")?,
                    timezone: r.try_get("timezone")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Whether a tenant exists.
    pub async fn tenant_exists(
        &self,
        conn: &mut sqlx::AnyConnection,
        tenant: &TenantId,
    ) -> Result<bool, AppError> {
        let row = sqlx::query("SELECT 1 AS one FROM tenants WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        Ok(row.is_some())
    }

    /// Creates a key for `tenant` (in the caller's transaction); returns it and its secret.
    pub async fn create_key_in(
        &self,
        conn: &mut sqlx::AnyConnection,
        tenant: &TenantId,
        name: &str,
        scopes: &[Scope],
        expires_at: Option<i64>,
    ) -> Result<(KeyRecord, String), AppError> {
        let NewKey {
            secret,
            prefix,
            hash,
        } = key::generate();
        let record = KeyRecord {
            key_id: format!("key_{prefix}"),
            tenant: tenant.clone(),
            name: name.to_owned(),
            prefix,
            scopes: scopes.to_vec(),
            created_at: self.clock.now(),
            expires_at,
            revoked_at: None,
        };
        self.insert_key(conn, &record, &hash).await?;
        Ok((record, secret))
    }

    async fn insert_key(
        &self,
        conn: &mut sqlx::AnyConnection,
        k: &KeyRecord,
        hash: &[u8],
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO api_keys (key_id, tenant_id, name, prefix, secret_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&k.key_id)
        .bind(k.tenant.as_str())
        .bind(&k.name)
        .bind(&k.prefix)
        .bind(hash)
        .bind(scope::render_list(&k.scopes))
        .bind(k.created_at)
        .bind(k.expires_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                AppError::Aborted("key collision, retry".into())
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Creates a key in its own transaction (bootstrap, demo); returns id and secret.
    pub async fn create_key(
        &self,
        tenant: &TenantId,
        name: &str,
        scopes: &[Scope],
    ) -> Result<(String, String), AppError> {
        let mut tx = self.db.begin().await?;
        let (record, secret) = self
            .create_key_in(&mut tx, tenant, name, scopes, None)
            .await?;
        tx.commit().await?;
        Ok((record.key_id, secret))
    }

    /// Stores a key whose secret the operator chose (the configured bootstrap admin key).
    pub async fn ensure_bootstrap_key(
        &self,
        tenant: &TenantId,
        secret: &str,
    ) -> Result<(), AppError> {
        let hash = key::hash(secret);
        if self.find_by_hash(&hash).await?.is_some() {
            return Ok(());
        }
        let record = KeyRecord {
            key_id: "key_bootstrap".into(),
            tenant: tenant.clone(),
            name: "bootstrap admin".into(),
            prefix: "bootstrap".into(), // never part of the secret
            scopes: vec![Scope {
                service: "*".into(),
                access: scope::Access::Admin,
            }],
            created_at: self.clock.now(),
            expires_at: None,
            revoked_at: None,
        };
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM api_keys WHERE key_id = 'key_bootstrap'")
            .execute(&mut *tx)
            .await?;
        self.insert_key(&mut tx, &record, &hash).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether any admin key of `tenant` is valid now.
    pub async fn has_admin_key(&self, tenant: &TenantId) -> Result<bool, AppError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL"
        ))
        .bind(tenant.as_str())
        .fetch_all(self.db.pool())
        .await?;
        let keys = rows.iter().map(key_row).collect::<Result<Vec<_>, _>>()?;
        Ok(keys
            .iter()
            .any(|k| k.scopes.iter().any(|s| s.access == scope::Access::Admin)))
    }

    /// A key by id.
    pub async fn get_key(
        &self,
        conn: &mut sqlx::AnyConnection,
        key_id: &str,
    ) -> Result<KeyRecord, AppError> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = $1"
        ))
        .bind(key_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no key {key_id}")))?;
        key_row(&row)
    }

    /// A tenant's keys after `after`, by id.
    pub async fn keys(
        &self,
        tenant: &TenantId,
        after: &str,
        limit: i64,
    ) -> Result<Vec<KeyRecord>, AppError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND key_id > $2 ORDER BY key_id LIMIT $3"
        ))
        .bind(tenant.as_str())
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(key_row).collect()
    }

    /// Revokes a key from `at` (now, or later after a rotation's overlap).
    pub async fn revoke_at(
        &self,
        conn: &mut sqlx::AnyConnection,
        key_id: &str,
        at: i64,
    ) -> Result<(), AppError> {
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE key_id = $2 AND (revoked_at IS NULL OR revoked_at > $1)")
            .bind(at)
            .bind(key_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Revokes a key now (in its own transaction).
    pub async fn revoke(&self, key_id: &str) -> Result<(), AppError> {
        let mut tx = self.db.begin().await?;
        self.get_key(&mut tx, key_id).await?;
        self.revoke_at(&mut tx, key_id, self.clock.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The key whose secret hashes to `hash`.
    pub async fn find_by_hash(&self, hash: &[u8]) -> Result<Option<KeyRecord>, AppError> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(key_row).transpose()
    }
}
