//! referral-svc: referral codes, attribution, referral rewards and fraud checks.
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
use boomerang_proto::referral::v1::referral_service_server::ReferralServiceServer;
use tokio::net::TcpListener;

pub use config::Config;

/// A built, bound, not yet serving referral-svc.
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
        let handler = grpc::ReferralServiceHandler::new(repo::Repo::new(db.clone()));
        let server = GrpcServer::new().serve_service(ReferralServiceServer::new(handler));
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
        tracing::info!(addr = %self.local_addr()?, "referral-svc serving");
        let served = self
            .server
            .serve(self.listener, &self.cfg.server, shutdown)
            .await;
        self.db.close().await;
        served
    }
}
