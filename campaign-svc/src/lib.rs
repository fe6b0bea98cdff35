//! campaign-svc: time-boxed campaigns, schedules, targeting, budgets and
//! coupon codes.
//!
//! [`App::build`] connects the database (running migrations), binds the
//! listener and wires the handlers; [`App::run_until`] serves gRPC and runs
//! the campaign timers (start, end, reservation lapse, coupon generation and
//! lapse) until shutdown.
pub mod campaigns;
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod repo;

use std::{future::Future, net::SocketAddr};

use boomerang_common::{
    auth::Credentials,
    db::Db,
    jobs::{Background, Runner},
    server::GrpcServer,
    time::Clock,
};
use boomerang_proto::campaign::v1::{
    campaign_service_server::CampaignServiceServer, coupon_service_server::CouponServiceServer,
};
use tokio::net::TcpListener;

pub use config::Config;

/// A built, bound, not yet serving campaign-svc.
pub struct App {
    cfg: Config,
    db: Db,
    campaigns: campaigns::Campaigns,
    listener: TcpListener,
    server: GrpcServer,
}

impl App {
    /// Connects, migrates and binds (port 0 picks a free port).
    pub async fn build(cfg: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(cfg, Clock::system()).await
    }

    /// As [`App::build`], with the clock schedules and timers use (tests move it).
    pub async fn build_with_clock(cfg: Config, clock: Clock) -> anyhow::Result<Self> {
        cfg.validate()?;
        let db = Db::connect(&cfg.database, &repo::MIGRATIONS).await?;
        let credentials = Credentials::load(&cfg.internal_auth)?;
        let listener = boomerang_common::server::bind(&cfg.server).await?;
        let campaigns = campaigns::Campaigns::new(db.clone(), clock.clone(), cfg.budget.slots);
        let handler = grpc::CampaignServiceHandler::new(campaigns.clone());
        let server = GrpcServer::new()
            .verifying(credentials.verifier("campaign"))
            .ready_when_reachable(db.clone())
            .serve_jobs(
                boomerang_proto::admin::v1::Service::Campaign,
                db.clone(),
                clock,
            )
            .serve_service(CampaignServiceServer::new(handler))
            .serve_service(CouponServiceServer::new(
                grpc::coupons::CouponServiceHandler::new(campaigns.clone()),
            ));
        Ok(Self {
            cfg,
            db,
            campaigns,
            listener,
            server,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains, stops the timers and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr()?, "campaign-svc serving");
        let mut timers = Background::default();
        for queue in campaigns::jobs::QUEUES {
            let timer = campaigns::jobs::Timer::new(self.campaigns.clone(), queue);
            let runner = Runner::new(self.db.clone(), queue, timer, self.cfg.jobs.clone());
            timers.spawn(runner.with_clock(self.campaigns.clock().clone()));
        }
        let served = self
            .server
            .serve(self.listener, &self.cfg.server, shutdown)
            .await;
        timers.stop().await;
        self.db.close().await;
        served
    }
}
