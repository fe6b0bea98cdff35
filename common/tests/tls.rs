//! TLS to PostgreSQL (PostgreSQL only): `sslmode=require`, and `verify-full`
//! against the server's certificate as the trust anchor (`sslrootcert`), are
//! accepted and the session is encrypted; `verify-full` against a CA that did
//! not sign the server's certificate is refused. The local server's
//! self-signed certificate (Debian's `ssl-cert-snakeoil`, CN=localhost) is
//! what the CI machine serves.
use boomerang_common::{
    db::{DatabaseConfig, Db, Migrations},
    testing::{TestBackend, TestDb, postgres_enabled},
};

static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
static PLUMBING_ONLY: Migrations = Migrations {
    sqlite: &NONE,
    postgres: &NONE,
};

/// The certificate the local server presents (self-signed: its own CA).
const SERVER_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

async fn encrypted(db: &Db) -> anyhow::Result<bool> {
    Ok(
        sqlx::query_scalar::<_, bool>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(db.pool())
            .await?,
    )
}

#[tokio::test]
async fn postgres_sessions_are_encrypted_and_verified() -> anyhow::Result<()> {
    anyhow::ensure!(postgres_enabled(), "this test needs PostgreSQL");
    anyhow::ensure!(
        std::path::Path::new(SERVER_CERT).exists(),
        "{SERVER_CERT} is missing: the local PostgreSQL must serve TLS (ssl = on)"
    );
    let fresh = TestDb::fresh(TestBackend::Postgres, "tls").await?;
    let base = fresh.config.url.replace("@127.0.0.1:", "@localhost:");
    let with = |params: &str| DatabaseConfig {
        url: format!("{base}?{params}"),
        ..fresh.config.clone()
    };

    let required = Db::connect(&with("sslmode=require"), &PLUMBING_ONLY).await?;
    assert!(
        encrypted(&required).await?,
        "sslmode=require gave a plain session"
    );
    required.close().await;

    let verified = with(&format!("sslmode=verify-full&sslrootcert={SERVER_CERT}"));
    let verified = Db::connect(&verified, &PLUMBING_ONLY).await?;
    assert!(encrypted(&verified).await?);
    verified.close().await;

    // Mozilla's roots did not sign a self-signed certificate: refused.
    let wrong = with("sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt");
    let refused = Db::connect(&wrong, &PLUMBING_ONLY).await.err();
    assert!(
        refused.is_some(),
        "a server the CA did not sign was trusted"
    );
    Ok(())
}
