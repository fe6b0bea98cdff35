//! Idempotency keys: any mutation replayed with its key has exactly one effect.
//!
//! Inside the mutation's own transaction, [`claim`] inserts the key with the
//! request's hash. A first claim proceeds; the caller stores its response with
//! [`complete`] before commit, so key, effect and response commit together or
//! not at all. A later claim with the same key and payload replays the stored
//! response; with another payload it is ALREADY_EXISTS. Two racing claims
//! serialise on the key's primary key (PostgreSQL waits for the first to commit;
//! SQLite's write lock orders them).
use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::Row;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::{
    db::{Backend, Col, Conn, Db, json_param, json_rows, unhex},
    error::AppError,
    tenant::TenantId,
    time::Clock,
};

/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 128;

/// Who is asking: tenant, RPC and the caller's key.
#[derive(Clone, Debug)]
pub struct IdempotencyKey {
    tenant: TenantId,
    scope: &'static str,
    key: String,
}

impl IdempotencyKey {
    /// Validates the caller's key for an RPC (`scope`, e.g. "wallet.Credit").
    pub fn new(tenant: &TenantId, scope: &'static str, key: &str) -> Result<Self, AppError> {
        if key.is_empty() {
            return Err(AppError::invalid("idempotency_key", "required"));
        }
        if key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "idempotency_key",
                format!("at most {MAX_KEY_LEN} printable characters"),
            ));
        }
        Ok(Self {
            tenant: tenant.clone(),
            scope,
            key: key.to_owned(),
        })
    }

    /// The tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The caller's key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// A deterministic idempotency key for an effect sent to another service: the
/// readable `prefix:part:part...` when it fits [`MAX_KEY_LEN`], else the prefix
/// and a sha256 of it (long tenant, order or return ids never make it invalid).
pub fn derived_key(prefix: &str, parts: &[&str]) -> String {
    let readable = format!("{prefix}:{}", parts.join(":"));
    if readable.len() <= MAX_KEY_LEN {
        readable
    } else {
        format!(
            "{prefix}:h:{}",
            hex::encode(Sha256::digest(readable.as_bytes()))
        )
    }
}

/// What a claim found.
#[derive(Debug)]
pub enum Claim<R> {
    /// First time: do the work, then [`complete`].
    New,
    /// Seen before with the same payload: return this.
    Replay(R),
}

/// The hash that identifies a payload.
pub fn request_hash(request: &impl Message) -> Vec<u8> {
    Sha256::digest(request.encode_to_vec()).to_vec()
}

/// Claims `key` for `request` inside the caller's transaction, at `now_us`
/// (the service's clock).
pub async fn claim<R: Message + Default>(
    conn: &mut Conn,
    key: &IdempotencyKey,
    request: &impl Message,
    now_us: i64,
) -> Result<Claim<R>, AppError> {
    claim_hashed(conn, key, &request_hash(request), now_us).await
}

/// As [`claim`], for a request already hashed with [`request_hash`].
pub async fn claim_hashed<R: Message + Default>(
    conn: &mut Conn,
    key: &IdempotencyKey,
    hash: &[u8],
    now_us: i64,
) -> Result<Claim<R>, AppError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, scope, key, request_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(key.tenant.as_str())
    .bind(key.scope)
    .bind(&key.key)
    .bind(hash)
    .bind(now_us)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let stored = stored(&mut *conn, key).await?;
    judge(key, hash, stored).map(Claim::Replay)
}

/// The hash and response stored under a key.
async fn stored(
    conn: &mut Conn,
    key: &IdempotencyKey,
) -> Result<Option<(Vec<u8>, Option<Vec<u8>>)>, AppError> {
    let row = sqlx::query(
        "SELECT request_hash, response FROM idempotency_keys \
         WHERE tenant_id = $1 AND scope = $2 AND key = $3",
    )
    .bind(key.tenant.as_str())
    .bind(key.scope)
    .bind(&key.key)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| Ok((r.try_get("request_hash")?, r.try_get("response")?)))
        .transpose()
        .map_err(|e: sqlx::Error| e.into())
}

/// What a request with `hash` gets from what its key stored: the first
/// answer, ALREADY_EXISTS for another payload, ABORTED while in progress.
fn judge<R: Message + Default>(
    key: &IdempotencyKey,
    hash: &[u8],
    stored: Option<(Vec<u8>, Option<Vec<u8>>)>,
) -> Result<R, AppError> {
    let in_progress = || {
        AppError::Aborted(format!(
            "request with idempotency_key {:?} is in progress",
            key.key
        ))
    };
    let (stored_hash, response) = stored.ok_or_else(in_progress)?;
    if stored_hash != hash {
        return Err(AppError::AlreadyExists(format!(
            "idempotency_key {:?} was already used for a different {} request; use a new key",
            key.key, key.scope
        )));
    }
    let response = response.ok_or_else(in_progress)?;
    R::decode(response.as_slice())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored response undecodable: {e}")))
}

/// A key whose answer is known before its effect is written (group commit).
#[derive(Debug)]
pub struct Answered<'a> {
    /// The key.
    pub key: &'a IdempotencyKey,
    /// [`request_hash`] of the request.
    pub hash: &'a [u8],
    /// The encoded response.
    pub response: Vec<u8>,
}

/// Claims many keys, each stored with its answer, in one statement inside
/// the caller's transaction; says for each whether it was claimed. One not
/// claimed was used before: answer it with [`replay`] once this transaction
/// ends. Keys are claimed in a fixed order, so concurrent batches never deadlock.
pub async fn claim_answered(
    conn: &mut Conn,
    backend: Backend,
    keys: &[Answered<'_>],
    now_us: i64,
) -> Result<Vec<bool>, AppError> {
    #[derive(serde::Serialize)]
    struct Row<'a> {
        t: &'a str,
        s: &'static str,
        k: &'a str,
        h: String,
        r: String,
    }
    let mut order: Vec<&Answered<'_>> = keys.iter().collect();
    order.sort_by_key(|a| (a.key.tenant.as_str(), a.key.scope, a.key.key.as_str()));
    let rows: Vec<Row<'_>> = order
        .iter()
        .map(|a| Row {
            t: a.key.tenant.as_str(),
            s: a.key.scope,
            k: &a.key.key,
            h: hex::encode(a.hash),
            r: hex::encode(&a.response),
        })
        .collect();
    let sql = format!(
        "INSERT INTO idempotency_keys (tenant_id, scope, key, request_hash, response, created_at) \
         SELECT r.t, r.s, r.k, {}, {}, $2 FROM {} WHERE true ON CONFLICT DO NOTHING \
         RETURNING tenant_id, scope, key",
        unhex(backend, "r.h"),
        unhex(backend, "r.r"),
        json_rows(
            backend,
            1,
            &[
                ("t", Col::Text),
                ("s", Col::Text),
                ("k", Col::Text),
                ("h", Col::Text),
                ("r", Col::Text)
            ]
        ),
    );
    let json = json_param(&rows)?;
    let claimed: std::collections::HashSet<(String, String, String)> = sqlx::query(&sql)
        .bind(json)
        .bind(now_us)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("tenant_id")?,
                r.try_get("scope")?,
                r.try_get("key")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(keys
        .iter()
        .map(|a| {
            claimed.contains(&(
                a.key.tenant.as_str().to_owned(),
                a.key.scope.to_owned(),
                a.key.key.clone(),
            ))
        })
        .collect())
}

/// The answer for a request whose key was used before (see [`claim_answered`]):
/// the stored response, ALREADY_EXISTS for another payload, ABORTED while the
/// first is still in progress.
pub async fn replay<R: Message + Default>(
    db: &Db,
    key: &IdempotencyKey,
    hash: &[u8],
) -> Result<R, AppError> {
    let mut conn = db.pool().acquire().await?;
    let stored = stored(&mut conn, key).await?;
    judge(key, hash, stored)
}

/// The stored answer of `key`, if it was used before: for a mutation that
/// does work before its transaction (prices, reserves upstream), so a replay
/// answers without redoing it, and a key reused with another payload is
/// ALREADY_EXISTS before anything is done. `None`: a new key.
pub async fn peek<R: Message + Default>(
    db: &Db,
    key: &IdempotencyKey,
    request: &impl Message,
) -> Result<Option<R>, AppError> {
    let mut conn = db.pool().acquire().await?;
    match stored(&mut conn, key).await? {
        None => Ok(None),
        found => judge(key, &request_hash(request), found).map(Some),
    }
}

/// Stores the response of a claimed key, in the same transaction as the effect.
pub async fn complete(
    conn: &mut Conn,
    key: &IdempotencyKey,
    response: &impl Message,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE idempotency_keys SET response = $4 \
         WHERE tenant_id = $1 AND scope = $2 AND key = $3",
    )
    .bind(key.tenant.as_str())
    .bind(key.scope)
    .bind(&key.key)
    .bind(response.encode_to_vec())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Runs `work` once per key: in one transaction, claims the key (at
/// `now_us`), does the work, stores the response (or what `stored` makes of
/// it when it says so: a response carrying a secret is answered once,
/// replayed without it) and commits; a replay returns the stored response.
pub async fn once_storing<R, F>(
    db: &Db,
    key: &IdempotencyKey,
    request: &impl Message,
    now_us: i64,
    work: F,
    stored: impl FnOnce(&R) -> Option<R>,
) -> Result<R, AppError>
where
    R: Message + Default,
    F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<R, AppError>>,
{
    once_hashed(db, key, &request_hash(request), now_us, work, stored).await
}

/// As [`once_storing`], for a request already hashed with [`request_hash`].
pub async fn once_hashed<R, F>(
    db: &Db,
    key: &IdempotencyKey,
    hash: &[u8],
    now_us: i64,
    work: F,
    stored: impl FnOnce(&R) -> Option<R>,
) -> Result<R, AppError>
where
    R: Message + Default,
    F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<R, AppError>>,
{
    let mut tx = db.begin().await?;
    if let Claim::Replay(first) = claim_hashed(&mut tx, key, hash, now_us).await? {
        return Ok(first);
    }
    let response = work(&mut tx).await?;
    let replacement = stored(&response);
    complete(&mut tx, key, replacement.as_ref().unwrap_or(&response)).await?;
    tx.commit().await?;
    Ok(response)
}

/// What a service does after each mutation commits (wake its event
/// watchers, drop a cached read), for the tenant it was for.
type AfterCommit = Arc<dyn Fn(&TenantId) + Send + Sync>;

/// A service's mutations as gRPC answers, each run [`once`] per idempotency
/// key: the caller's key validated, the work, its answer stored and committed
/// with it, then the service's after-commit effect. The one handler wrapper
/// every service uses.
#[derive(Clone)]
pub struct Mutations {
    db: Db,
    clock: Clock,
    after: Option<AfterCommit>,
}

impl std::fmt::Debug for Mutations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mutations").finish_non_exhaustive()
    }
}

impl Mutations {
    /// Over the service's database, keys claimed at `clock`'s time.
    pub fn new(db: Db, clock: Clock) -> Self {
        Self {
            db,
            clock,
            after: None,
        }
    }

    /// Runs `after` once a mutation of a tenant committed (not on a replay's error).
    pub fn after_commit(mut self, after: impl Fn(&TenantId) + Send + Sync + 'static) -> Self {
        self.after = Some(Arc::new(after));
        self
    }

    /// Runs `work` once for `tenant`'s `key` of RPC `scope`: a replay with the
    /// same payload answers the stored response, another payload is
    /// ALREADY_EXISTS.
    pub async fn run<R, F>(
        &self,
        tenant: &TenantId,
        scope: &'static str,
        key: &str,
        request: &impl Message,
        work: F,
    ) -> Result<tonic::Response<R>, tonic::Status>
    where
        R: Message + Default,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<R, AppError>>,
    {
        self.run_storing(tenant, scope, key, request, work, |_| None)
            .await
    }

    /// As [`Mutations::run`], storing for replays what `stored` makes of the
    /// response when it says so (see [`once_storing`]).
    pub async fn run_storing<R, F>(
        &self,
        tenant: &TenantId,
        scope: &'static str,
        key: &str,
        request: &impl Message,
        work: F,
        stored: impl FnOnce(&R) -> Option<R>,
    ) -> Result<tonic::Response<R>, tonic::Status>
    where
        R: Message + Default,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<R, AppError>>,
    {
        let key = IdempotencyKey::new(tenant, scope, key)?;
        let now = self.clock.now();
        let response = once_storing(&self.db, &key, request, now, work, stored).await?;
        if let Some(after) = &self.after {
            after(tenant);
        }
        Ok(tonic::Response::new(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_always_fit() {
        assert_eq!(derived_key("acc", &["acme", "o-1", "0"]), "acc:acme:o-1:0");
        let long = "x".repeat(200);
        let k = derived_key("acc", &["acme", &long]);
        assert!(k.len() <= MAX_KEY_LEN && k.starts_with("acc:h:"));
        assert_eq!(k, derived_key("acc", &["acme", &long]));
    }
}
