//! referral-svc: referral codes, attribution, referral rewards and fraud checks.
//!
//! [`App::build`] connects the database (running migrations), binds the
//! listener and wires the handlers; [`App::run_until`] serves until shutdown.
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod referrals;
pub mod repo;

use std::{future::Future, net::SocketAddr};

use boomerang_common::{
    auth::Credentials, db::Db, jobs::Background, outbox, server::GrpcServer, time::Clock,
};
use boomerang_proto::referral::v1::referral_service_server::ReferralServiceServer;
use tokio::net::TcpListener;

pub use config::Config;

/// A built, bound, not yet serving referral-svc.
pub struct App {
    cfg: Config,
    db: Db,
    referrals: referrals::Referrals,
    listener: TcpListener,
    server: GrpcServer,
}

impl App {
    /// Connects, migrates and binds (port 0 picks a free port).
    pub async fn build(cfg: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(cfg, Clock::system()).await
    }

    /// As [`App::build`], with the clock rules use (tests move it).
    pub async fn build_with_clock(cfg: Config, clock: Clock) -> anyhow::Result<Self> {
        cfg.validate()?;
        let db = Db::connect(&cfg.database, &repo::MIGRATIONS).await?;
        let credentials = Credentials::load(&cfg.internal_auth)?;
        let listener = boomerang_common::server::bind(&cfg.server).await?;
        let referrals = referrals::Referrals::new(
            db.clone(),
            clock.clone(),
            &cfg.wallet_url,
            &credentials,
            cfg.server.tls.client()?,
            cfg.velocity_per_hour,
        )?;
        let handler = grpc::ReferralServiceHandler::new(referrals.clone());
        let server = GrpcServer::new()
            .verifying(credentials.verifier("referral"))
            .ready_when_reachable(db.clone())
            .serve_jobs(
                boomerang_proto::admin::v1::Service::Referral,
                db.clone(),
                clock,
            )
            .serve_service(ReferralServiceServer::new(handler));
        Ok(Self {
            cfg,
            db,
            referrals,
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
        let mut relay = Background::default();
        for topic in [referrals::CREDIT, referrals::REVERSE] {
            let handler = referrals::Relay::new(self.referrals.clone(), topic);
            let runner = outbox::relay(self.db.clone(), topic, handler, self.cfg.jobs.clone());
            relay.spawn(runner.with_clock(self.referrals.clock().clone()));
        }
        let served = self
            .server
            .serve(self.listener, &self.cfg.server, shutdown)
            .await;
        relay.stop().await;
        self.db.close().await;
        served
    }
}
