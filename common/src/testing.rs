//! Test support (feature `testing`): a fresh database per test on each backend.
//!
//! Every backend test runs twice, on SQLite (a new file in a temp dir) and on
//! PostgreSQL (a new schema in `$BOOMERANG_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`). PostgreSQL tests fail when the
//! server is unreachable, saying how to start it; they are skipped only with
//! an explicit `BOOMERANG_TEST_POSTGRES=off`.
use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use sqlx::{Connection as _, Executor as _, Row as _};
use tonic::{Request, Status, metadata::MetadataValue, service::Interceptor, transport::Channel};

use crate::{
    auth::{InternalAuthConfig, Issuer, Keys},
    db::DatabaseConfig,
    tenant::TenantId,
};

/// This test process's platform key (made once), PEM.
fn test_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| crate::auth::generate_pem().unwrap_or_default())
}

/// The `internal_auth` of every server and client in this test process.
pub fn internal_auth() -> InternalAuthConfig {
    InternalAuthConfig::with_key(test_key().to_owned())
}

/// Calls one service for one tenant with a credential from this process's
/// key, as a service with every scope would (service-only methods too).
#[derive(Clone, Debug)]
pub struct AsTenant {
    issuer: Arc<Issuer>,
    service: String,
    tenant: TenantId,
    actor: String,
}

impl AsTenant {
    /// Calls to `service` ("wallet", "accrual", ...) for `tenant`.
    pub fn new(service: &str, tenant: &str) -> anyhow::Result<Self> {
        Self::issued_by("tests", &["*:admin"], service, tenant)
    }

    /// As the gateway forwards a key with `scopes` ("wallet:write", ...).
    pub fn via_gateway(scopes: &[&str], service: &str, tenant: &str) -> anyhow::Result<Self> {
        Self::issued_by(crate::auth::GATEWAY, scopes, service, tenant)
    }

    fn issued_by(
        issuer: &str,
        scopes: &[&str],
        service: &str,
        tenant: &str,
    ) -> anyhow::Result<Self> {
        let keys = Arc::new(Keys::from_pem(test_key())?);
        Ok(Self {
            issuer: Arc::new(Issuer::service(
                keys,
                issuer,
                scopes,
                Duration::from_secs(60),
            )?),
            service: service.to_owned(),
            tenant: TenantId::parse(tenant).map_err(anyhow::Error::msg)?,
            actor: issuer.to_owned(),
        })
    }

    /// On behalf of `actor` (the audit trail's who), instead of the issuer.
    pub fn with_actor(mut self, actor: &str) -> Self {
        self.actor = actor.to_owned();
        self
    }
}

impl Interceptor for AsTenant {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let token = self.issuer.mint(
            &self.service,
            &self.tenant,
            &self.actor,
            self.issuer.scopes(),
        )?;
        let value = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| Status::internal("credential is not a header value"))?;
        req.metadata_mut().insert("authorization", value);
        Ok(req)
    }
}

/// A connected channel to a server under test.
pub async fn channel(addr: SocketAddr) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?)
}

/// Waits until `check` holds (background timers, other replicas), or fails after 10 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if check().await? {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Default PostgreSQL for tests (the CI machine's).
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestBackend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh PostgreSQL schema.
    Postgres,
}

/// The PostgreSQL URL tests use.
pub fn postgres_url() -> String {
    std::env::var("BOOMERANG_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into())
}

/// False only when `BOOMERANG_TEST_POSTGRES=off` opts out explicitly.
pub fn postgres_enabled() -> bool {
    !matches!(
        std::env::var("BOOMERANG_TEST_POSTGRES").as_deref(),
        Ok("off")
    )
}

/// A fresh database, removed (SQLite) or pruned later (PostgreSQL).
pub struct TestDb {
    /// Config pointing at it.
    pub config: DatabaseConfig,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new, empty database on `backend` for a service named `name`.
    pub async fn fresh(backend: TestBackend, name: &str) -> anyhow::Result<Self> {
        crate::telemetry::init_for_tests();
        match backend {
            TestBackend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let path = dir.path().join(format!("{name}.db"));
                let config = DatabaseConfig {
                    url: format!("sqlite://{}", path.display()),
                    ..DatabaseConfig::default()
                };
                Ok(Self {
                    config,
                    _dir: Some(dir),
                })
            }
            TestBackend::Postgres => {
                let url = postgres_url();
                prune_old_schemas(&url).await?;
                let schema = format!(
                    "t_{}_{}_{:08x}",
                    crate::time::now_micros() / 1_000_000,
                    name.replace('-', "_"),
                    rand::random::<u32>()
                );
                let config = DatabaseConfig {
                    url,
                    schema: Some(schema),
                    max_connections: 8,
                    ..DatabaseConfig::default()
                };
                Ok(Self { config, _dir: None })
            }
        }
    }
}

/// Drops schemas of test runs older than an hour (crashed or finished runs);
/// a running test's schema is never that old.
async fn prune_old_schemas(url: &str) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let connect = sqlx::AnyConnection::connect(url);
    let mut conn = match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => anyhow::bail!(unreachable_message(url, &e.to_string())),
        Err(_) => anyhow::bail!(unreachable_message(url, "timed out")),
    };
    let rows = conn
        .fetch_all("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%'")
        .await?;
    let cutoff = crate::time::now_micros() / 1_000_000 - 3_600;
    for row in rows {
        let name: String = row.try_get(0)?;
        let born: Option<i64> = name.split('_').nth(1).and_then(|s| s.parse().ok());
        if born.is_some_and(|b| b < cutoff) {
            // Another test process may be pruning the same schema.
            let _ = conn
                .execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str())
                .await;
        }
    }
    Ok(())
}

fn unreachable_message(url: &str, err: &str) -> String {
    format!(
        "PostgreSQL is not reachable at {url} ({err}).\n\
         Start it (on this machine kind: `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`),\n\
         point BOOMERANG_TEST_DATABASE_URL at one, or opt out explicitly with BOOMERANG_TEST_POSTGRES=off."
    )
}

/// Declares async tests that run once per backend: `name::sqlite` and `name::postgres`.
///
/// ```ignore
/// backend_tests! {
///     async fn health_is_serving(backend) -> anyhow::Result<()> { ... }
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($( $(#[$meta:meta])* async fn $name:ident($backend:ident) -> $ret:ty $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($backend: $crate::testing::TestBackend) -> $ret $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() -> $ret {
                    run($crate::testing::TestBackend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() -> $ret {
                    if !$crate::testing::postgres_enabled() {
                        eprintln!("skipped: BOOMERANG_TEST_POSTGRES=off");
                        return Ok(());
                    }
                    run($crate::testing::TestBackend::Postgres).await
                }
            }
        )*
    };
}
