//! One database handle for both backends.
//!
//! SQLite is the embedded default, PostgreSQL is production. Business SQL is
//! written once against sqlx's `Any` driver with `$1` placeholders (SQLite
//! accepts them too) and portable types: integers for money (minor units) and
//! time (unix microseconds), text and blobs. The few dialect differences
//! (row locks, write transactions) are behind [`Db`] methods.
use std::{borrow::Cow, str::FromStr, time::Duration};

use serde::{Deserialize, Serialize};
use sqlx::{
    AnyPool, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::{Migration, Migrator},
};

/// A write transaction on either backend; derefs to its connection.
///
/// On SQLite it also holds this process's writer slot (see [`Db::begin`]).
pub struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    /// Commits, releasing the writer slot.
    pub async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }

    /// Rolls back (dropping a `Tx` does too).
    pub async fn rollback(self) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.tx
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.tx
    }
}
/// A connection for statements that each commit on their own ([`Db::single`]).
pub enum Single {
    /// PostgreSQL: a pooled connection, each statement its own transaction.
    Pooled(sqlx::pool::PoolConnection<sqlx::Any>),
    /// SQLite: a write transaction, so the statement takes the writer's turn.
    Tx(Tx),
}

impl Single {
    /// Commits what was written (on SQLite; on PostgreSQL it is already).
    pub async fn finish(self) -> sqlx::Result<()> {
        match self {
            Self::Pooled(_) => Ok(()),
            Self::Tx(tx) => tx.commit().await,
        }
    }
}

impl std::ops::Deref for Single {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        match self {
            Self::Pooled(c) => c,
            Self::Tx(tx) => tx,
        }
    }
}

impl std::ops::DerefMut for Single {
    fn deref_mut(&mut self) -> &mut Conn {
        match self {
            Self::Pooled(c) => c,
            Self::Tx(tx) => tx,
        }
    }
}

/// A connection on either backend (what `&mut *tx` derefs to).
pub type Conn = sqlx::AnyConnection;

/// Where a service keeps its data.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path/file.db` or `postgres://user@host:5432/db`.
    pub url: String,
    /// PostgreSQL schema owned by this service (created if missing); ignored on SQLite.
    pub schema: Option<String>,
    /// Pool size.
    pub max_connections: u32,
    /// How long a caller waits for a pooled connection.
    pub acquire_timeout_ms: u64,
}

impl DatabaseConfig {
    /// A SQLite file with the service's name under `dir`.
    pub fn sqlite_in(dir: &str, service: &str) -> Self {
        Self {
            url: format!("sqlite://{dir}/{service}.db"),
            ..Self::default()
        }
    }

    /// Checks the config before connecting, with messages an operator can act on.
    pub fn validate(&self) -> Result<(), String> {
        Backend::of_url(&self.url)?;
        if let Some(schema) = &self.schema {
            let ok = !schema.is_empty()
                && schema.len() <= 63
                && schema
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !schema.starts_with(|c: char| c.is_ascii_digit());
            if !ok {
                return Err(format!(
                    "database.schema {schema:?} must be 1-63 chars of a-z, 0-9 and _, not starting with a digit"
                ));
            }
        }
        if self.max_connections == 0 {
            return Err("database.max_connections must be at least 1".into());
        }
        Ok(())
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://.boomerang/boomerang.db".into(),
            schema: None,
            max_connections: 16,
            acquire_timeout_ms: 5_000,
        }
    }
}

/// Which database engine is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded, zero set-up.
    Sqlite,
    /// Production.
    Postgres,
}

impl Backend {
    fn of_url(url: &str) -> Result<Self, String> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(format!(
                "database.url must start with sqlite:// or postgres:// (got {:?})",
                url.split(':').next().unwrap_or_default()
            ))
        }
    }
}

/// A service's migrations, one folder per backend, embedded with `sqlx::migrate!`.
pub struct Migrations {
    /// `migrations/sqlite`.
    pub sqlite: &'static Migrator,
    /// `migrations/postgres`.
    pub postgres: &'static Migrator,
}

/// The plumbing tables every service has (idempotency keys, jobs/outbox, events).
static COMMON_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static COMMON_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// A pool on one backend.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite admits one writer at a time; writers of this process queue here
    /// in order instead of polling the file lock (busy_timeout), which keeps
    /// tail latency flat under many concurrent writers.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Db {
    /// Connects, creates the schema or file if missing, and runs the common
    /// migrations followed by the service's own.
    pub async fn connect(cfg: &DatabaseConfig, migrations: &Migrations) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        cfg.validate().map_err(anyhow::Error::msg)?;
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(&cfg.url).map_err(anyhow::Error::msg)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url(&cfg.url)?,
            Backend::Postgres => cfg.url.clone(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("parsing database.url for {backend:?}"))?;
        let schema = cfg.schema.clone().filter(|_| backend == Backend::Postgres);
        if let Some(schema) = &schema {
            // Create it once, before the pool's connections point their search_path at it.
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect_with(&options)
                .await
                .context("connecting to PostgreSQL")?;
            conn.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
                .await
                .with_context(|| format!("creating schema {schema}"))?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(cfg.max_connections)
            .acquire_timeout(Duration::from_millis(cfg.acquire_timeout_ms))
            .after_connect(move |conn, _meta| {
                let schema = schema.clone();
                Box::pin(async move {
                    match (backend, schema) {
                        (Backend::Sqlite, _) => {
                            // WAL lets readers run beside the single writer; NORMAL is
                            // durable at every checkpoint and safe with WAL.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                            )
                            .await?;
                        }
                        (Backend::Postgres, Some(schema)) => {
                            conn.execute(format!("SET search_path TO {schema}").as_str())
                                .await?;
                        }
                        (Backend::Postgres, None) => {}
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {backend:?} database"))?;
        let db = Self {
            pool,
            backend,
            writer: std::sync::Arc::default(),
        };
        db.migrate(migrations).await?;
        Ok(db)
    }

    async fn migrate(&self, own: &Migrations) -> anyhow::Result<()> {
        let (common, service) = match self.backend {
            Backend::Sqlite => (&COMMON_SQLITE, own.sqlite),
            Backend::Postgres => (&COMMON_POSTGRES, own.postgres),
        };
        // One migrator over both lists, so sqlx's history table stays consistent.
        let mut all: Vec<Migration> = common.iter().chain(service.iter()).cloned().collect();
        all.sort_by_key(|m| m.version);
        let migrator = Migrator {
            migrations: Cow::Owned(all),
            // A newer release may have applied migrations this binary does not
            // know (a rollback, an old pod restarting mid-rollout). Migrations
            // are expand-only, so the schema still serves this binary: start.
            ignore_missing: true,
            ..Migrator::DEFAULT
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| anyhow::anyhow!("running migrations: {e}"))
    }

    /// The engine behind the pool.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for reads outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that will write.
    ///
    /// SQLite takes the write lock up front (`BEGIN IMMEDIATE`): a deferred
    /// transaction that reads, then writes, fails with SQLITE_BUSY when another
    /// writer got there first, instead of waiting its turn.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        match self.backend {
            Backend::Sqlite => {
                let writer = self.writer.clone().lock_owned().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(Tx {
                    tx,
                    _writer: Some(writer),
                })
            }
            Backend::Postgres => Ok(Tx {
                tx: self.pool.begin().await?,
                _writer: None,
            }),
        }
    }

    /// A transaction that only reads, its statements seeing one snapshot
    /// (REPEATABLE READ on PostgreSQL; a deferred transaction on SQLite,
    /// whose first read fixes its snapshot): reads that must agree.
    pub async fn snapshot(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN").await,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
            }
        }
    }

    /// A connection for one writing statement that needs no transaction
    /// around it: on PostgreSQL no BEGIN and COMMIT round trips; on SQLite a
    /// write transaction as [`Db::begin`], so it waits its turn at the writer.
    pub async fn single(&self) -> sqlx::Result<Single> {
        match self.backend {
            Backend::Sqlite => Ok(Single::Tx(self.begin().await?)),
            Backend::Postgres => Ok(Single::Pooled(self.pool.acquire().await?)),
        }
    }

    /// `FOR UPDATE` on PostgreSQL, nothing on SQLite (its write lock covers the database).
    pub fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE",
        }
    }

    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL, nothing on SQLite.
    pub fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }

    /// Whether the database answers a trivial query within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> bool {
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(timeout, query).await {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "database unreachable: not ready");
                false
            }
            Err(_) => {
                tracing::warn!("database did not answer in time: not ready");
                false
            }
        }
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Makes the SQLite file's folder and asks sqlx to create the file.
fn sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let dir = std::path::Path::new(path).parent();
    if let Some(dir) = dir.filter(|d| path != ":memory:" && !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    }
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Whether a database error is a unique-constraint violation (both backends).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The SQL type of a column fed to [`json_rows`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Col {
    /// `text`.
    Text,
    /// `bigint`.
    Int,
}

/// A multi-row statement's input as one bound parameter: `$param` is a JSON
/// array of objects, read as a row source aliased `r` with the named columns
/// (`SELECT r.a, r.b FROM {json_rows} WHERE true`). One statement text for
/// any number of rows, so it is prepared once; rows come in array order.
/// (`WHERE true` lets SQLite parse an upsert after `INSERT ... SELECT`.)
pub fn json_rows(backend: Backend, param: usize, cols: &[(&str, Col)]) -> String {
    let sql_type = |t: Col| match t {
        Col::Text => "text",
        Col::Int => "bigint",
    };
    match backend {
        Backend::Postgres => {
            let cols: Vec<String> = cols
                .iter()
                .map(|(name, t)| format!("{name} {}", sql_type(*t)))
                .collect();
            format!(
                "json_to_recordset(${param}::json) AS r({})",
                cols.join(", ")
            )
        }
        Backend::Sqlite => {
            let cols: Vec<String> = cols
                .iter()
                .map(|(name, _)| format!("value ->> '{name}' AS {name}"))
                .collect();
            format!("(SELECT {} FROM json_each(${param})) AS r", cols.join(", "))
        }
    }
}

/// Rows as the JSON parameter a [`json_rows`] statement reads.
pub fn json_param(rows: &impl Serialize) -> Result<String, crate::error::AppError> {
    serde_json::to_string(rows).map_err(|e| crate::error::AppError::Internal(e.into()))
}

/// `id IN` a set of ids bound as one parameter ([`ids_param`]): on
/// PostgreSQL `= ANY` of an array, which plans as index lookups whatever the
/// number of ids (a row source of unknown size may be hashed against a
/// sequential scan); on SQLite a JSON array.
pub fn in_ids(backend: Backend, column: &str, param: usize) -> String {
    match backend {
        Backend::Postgres => format!("{column} = ANY(CAST(${param} AS bigint[]))"),
        Backend::Sqlite => format!("{column} IN (SELECT value FROM json_each(${param}))"),
    }
}

/// The parameter of [`in_ids`].
pub fn ids_param(backend: Backend, ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    match backend {
        Backend::Postgres => format!("{{{}}}", list.join(",")),
        Backend::Sqlite => format!("[{}]", list.join(",")),
    }
}

/// The SQL that turns a hex text column of [`json_rows`] into bytes.
pub fn unhex(backend: Backend, expr: &str) -> String {
    match backend {
        Backend::Postgres => format!("decode({expr}, 'hex')"),
        Backend::Sqlite => format!("unhex({expr})"),
    }
}
