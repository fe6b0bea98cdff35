//! accrual-svc: loyalty programs, members and tiers; purchases and returns into rewards.
//!
//! [`App::build`] connects the database (running migrations), binds the
//! listener and wires the handlers; [`App::run_until`] serves gRPC and runs the
//! outbox relay (wallet credits and reversals, campaign budget, checkout
//! holds) and the birthday, tier review and checkout lapse timers until
//! shutdown.
pub mod accrual;
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod repo;
pub mod views;

use std::{future::Future, net::SocketAddr};

use boomerang_common::{
    auth::Credentials,
    db::Db,
    jobs::{Background, Runner},
    outbox,
    server::GrpcServer,
    time::Clock,
};
use boomerang_proto::accrual::v1::{
    accrual_service_server::AccrualServiceServer, checkout_service_server::CheckoutServiceServer,
    simulation_service_server::SimulationServiceServer,
};
use tokio::net::TcpListener;

pub use config::Config;

/// A built, bound, not yet serving accrual-svc.
pub struct App {
    cfg: Config,
    db: Db,
    accrual: accrual::Accrual,
    listener: TcpListener,
    server: GrpcServer,
}

impl App {
    /// Connects, migrates and binds (port 0 picks a free port).
    pub async fn build(cfg: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(cfg, Clock::system()).await
    }

    /// As [`App::build`], with the clock rules and timers use (tests move it).
    pub async fn build_with_clock(cfg: Config, clock: Clock) -> anyhow::Result<Self> {
        cfg.validate()?;
        let db = Db::connect(&cfg.database, &repo::MIGRATIONS).await?;
        let credentials = Credentials::load(&cfg.internal_auth)?;
        let listener = boomerang_common::server::bind(&cfg.server).await?;
        let upstream =
            accrual::Upstream::new(&cfg.upstreams, &credentials, cfg.server.tls.client()?)?;
        let accrual = accrual::Accrual::new(db.clone(), clock.clone(), upstream);
        let handler = grpc::AccrualServiceHandler::new(accrual.clone());
        let server = GrpcServer::new()
            .verifying(credentials.verifier("accrual"))
            .ready_when_reachable(db.clone())
            .serve_jobs(
                boomerang_proto::admin::v1::Service::Accrual,
                db.clone(),
                clock,
            )
            .serve_service(AccrualServiceServer::new(handler))
            .serve_service(CheckoutServiceServer::new(
                grpc::checkout::CheckoutServiceHandler::new(accrual.clone()),
            ))
            .serve_service(SimulationServiceServer::new(
                grpc::simulation::SimulationServiceHandler::new(accrual.clone()),
            ));
        Ok(Self {
            cfg,
            db,
            accrual,
            listener,
            server,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains, stops the relay and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr()?, "accrual-svc serving");
        let mut background = Background::default();
        let clock = self.accrual.clock().clone();
        if self.cfg.relay {
            for topic in accrual::outbound::Topic::ALL {
                let relay = accrual::relay::Relay::new(self.accrual.clone(), topic);
                let queue = topic.name();
                let runner = outbox::relay(self.db.clone(), queue, relay, self.cfg.jobs.clone());
                background.spawn(runner.with_clock(clock.clone()));
            }
        }
        let birthdays = accrual::members::Birthdays(self.accrual.clone());
        let runner = Runner::new(
            self.db.clone(),
            accrual::members::BIRTHDAY,
            birthdays,
            self.cfg.jobs.clone(),
        );
        background.spawn(runner.with_clock(clock.clone()));
        let reviews = accrual::tiers::TierReviews(self.accrual.clone());
        let runner = Runner::new(
            self.db.clone(),
            accrual::tiers::TIER_REVIEW,
            reviews,
            self.cfg.jobs.clone(),
        );
        background.spawn(runner.with_clock(clock.clone()));
        let steps = accrual::simulation_jobs::SimulationSteps {
            accrual: self.accrual.clone(),
            chunk: self.cfg.simulation_chunk_pages,
            max_attempts: self.cfg.jobs.max_attempts,
        };
        // What-if runs are CPU work: as many at once as inline what-ifs, so
        // a leased run starts at once and ends well inside its lease.
        let runs = boomerang_common::jobs::RunnerConfig {
            batch_size: accrual::simulations::AT_ONCE as u32,
            ..self.cfg.jobs.clone()
        };
        let runner = Runner::new(
            self.db.clone(),
            accrual::simulation_jobs::SIMULATION_STEP,
            steps,
            runs,
        );
        background.spawn(runner.with_clock(clock.clone()));
        let forgets = accrual::simulation_jobs::SimulationForgets(self.accrual.clone());
        let runner = Runner::new(
            self.db.clone(),
            accrual::simulation_jobs::SIMULATION_FORGET,
            forgets,
            self.cfg.jobs.clone(),
        );
        background.spawn(runner.with_clock(clock.clone()));
        let lapses = accrual::checkout::endings::CheckoutLapses(self.accrual.clone());
        let runner = Runner::new(
            self.db.clone(),
            accrual::checkout::sessions::CHECKOUT_LAPSE,
            lapses,
            self.cfg.jobs.clone(),
        );
        background.spawn(runner.with_clock(clock));
        let served = self
            .server
            .serve(self.listener, &self.cfg.server, shutdown)
            .await;
        background.stop().await;
        self.db.close().await;
        served
    }
}
