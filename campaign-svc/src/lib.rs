//! campaign-svc: time-boxed campaigns, schedules, targeting and budgets.
//!
//! [`App::build`] connects the database (running migrations), binds the
//! listener and wires the handlers; [`App::run_until`] serves until shutdown.
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod repo;

use std::{future::Future, net::SocketAddr};

use boomerang_common::{db::Db, server::GrpcServer};
use boomerang_proto::campaign::v1::campaign_service_server::CampaignServiceServer;
use tokio::net::TcpListener;

pub use config::Config;

/// A built, bound, not yet serving campaign-svc.
pub struct App {
    cfg: Config,
    db: Db,
    listener: TcpListener,
    server: GrpcServer,
}

impl App {
    /// Connects, migrates and binds (port 0 picks a free port).
    pub async fn build(cfg: Config) -> anyhow::Result<Self> {
        cfg.validate()?;
        let db = Db::connect(&cfg.database, &repo::MIGRATIONS).await?;
        let listener = boomerang_common::server::bind(&cfg.server).await?;
        let handler = grpc::CampaignServiceHandler::new(repo::Repo::new(db.clone()));
        let server = GrpcServer::new().serve_service(CampaignServiceServer::new(handler));
        Ok(Self {
            cfg,
            db,
            listener,
            server,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr()?, "campaign-svc serving");
        let served = self
            .server
            .serve(self.listener, &self.cfg.server, shutdown)
            .await;
        self.db.close().await;
        served
    }
}
