//! Readiness follows the database; liveness does not. Both backends.
use std::time::Duration;

use boomerang_common::{
    backend_tests,
    config::ServerConfig,
    db::{Db, Migrations},
    server::{GrpcServer, READINESS, bind},
    testing::TestDb,
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
static PLUMBING_ONLY: Migrations = Migrations {
    sqlite: &NONE,
    postgres: &NONE,
};

async fn status(
    client: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
) -> anyhow::Result<ServingStatus> {
    let reply = client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?;
    Ok(reply.into_inner().status())
}

/// Polls until `service` reports `want`, for at most two seconds.
async fn becomes(
    client: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
    want: ServingStatus,
) -> anyhow::Result<()> {
    for _ in 0..200 {
        if status(client, service).await? == want {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("{service:?} never became {want:?}")
}

backend_tests! {
    async fn readiness_follows_the_database_and_liveness_does_not(backend) -> anyhow::Result<()> {
        let test_db = TestDb::fresh(backend, "readiness").await?;
        let db = Db::connect(&test_db.config, &PLUMBING_ONLY).await?;
        let cfg = ServerConfig { readiness_interval_ms: 20, ..ServerConfig::default() };
        let listener = bind(&cfg).await?;
        let addr = listener.local_addr()?;
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let server = GrpcServer::new().ready_when_reachable(db.clone());
        let serving = tokio::spawn(async move {
            server.serve(listener, &cfg, async move { stopped.cancelled().await }).await
        });
        let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))?.connect().await?;
        let mut health = HealthClient::new(channel);

        becomes(&mut health, READINESS, ServingStatus::Serving).await?;
        assert_eq!(status(&mut health, "").await?, ServingStatus::Serving);

        db.close().await; // the database is gone: out of the load balancer, not restarted
        becomes(&mut health, READINESS, ServingStatus::NotServing).await?;
        assert_eq!(status(&mut health, "").await?, ServingStatus::Serving);

        stop.cancel();
        serving.await??;
        Ok(())
    }
}
