//! wallet-svc: the double-entry ledger of points and money per customer.
//!
//! [`App::build`] connects the database (running migrations), binds the
//! listener and wires the ledger; [`App::run_until`] serves gRPC and runs the
//! ledger's durable timers (settlement, expiry, hold lapse) until shutdown.
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod ledger;
pub mod repo;

use std::{future::Future, net::SocketAddr};

use boomerang_common::{
    auth::Credentials,
    db::Db,
    jobs::{Background, Runner},
    server::GrpcServer,
    time::Clock,
};
use boomerang_proto::wallet::v1::wallet_service_server::WalletServiceServer;
use tokio::net::TcpListener;

pub use config::Config;

/// A built, bound, not yet serving wallet-svc.
pub struct App {
    cfg: Config,
    db: Db,
    ledger: ledger::Ledger,
    listener: TcpListener,
    server: GrpcServer,
}

impl App {
    /// Connects, migrates and binds (port 0 picks a free port).
    pub async fn build(cfg: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(cfg, Clock::system()).await
    }

    /// As [`App::build`], with the clock the ledger and its timers use (tests move it).
    pub async fn build_with_clock(cfg: Config, clock: Clock) -> anyhow::Result<Self> {
        cfg.validate()?;
        let db = Db::connect(&cfg.database, &repo::MIGRATIONS).await?;
        let credentials = Credentials::load(&cfg.internal_auth)?;
        let listener = boomerang_common::server::bind(&cfg.server).await?;
        let ledger = ledger::Ledger::new(db.clone(), clock.clone(), cfg.ledger.clone());
        let handler = grpc::WalletServiceHandler::new(ledger.clone());
        let server = GrpcServer::new()
            .verifying(credentials.verifier("wallet"))
            .ready_when_reachable(db.clone())
            .serve_jobs(
                boomerang_proto::admin::v1::Service::Wallet,
                db.clone(),
                clock,
            )
            .serve_service(WalletServiceServer::new(handler));
        Ok(Self {
            cfg,
            db,
            ledger,
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
        tracing::info!(addr = %self.local_addr()?, "wallet-svc serving");
        let mut timers = Background::default();
        for queue in ledger::jobs::QUEUES {
            let timer = ledger::jobs::Timer::new(self.ledger.clone(), queue);
            let runner = Runner::new(self.db.clone(), queue, timer, self.cfg.jobs.clone());
            timers.spawn(runner.with_clock(self.ledger.clock().clone()));
        }
        let stop_sampling = tokio_util::sync::CancellationToken::new();
        let sampler = tokio::spawn(sample_liability(self.db.clone(), stop_sampling.clone()));
        let served = self
            .server
            .serve(self.listener, &self.cfg.server, shutdown)
            .await;
        stop_sampling.cancel();
        let _ = sampler.await;
        timers.stop().await;
        self.db.close().await;
        served
    }
}

/// Publishes what customers are owed (`boomerang_wallet_liability`, major
/// units per tenant, asset and state) every 30 s until `stop`.
async fn sample_liability(db: Db, stop: tokio_util::sync::CancellationToken) {
    use boomerang_common::money::major_units_for_metrics as major;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match repo::reads::liability(&db).await {
            Ok(rows) => {
                for (tenant, asset, available, pending, held) in rows {
                    for (state, minor) in [
                        ("available", available),
                        ("pending", pending),
                        ("held", held),
                    ] {
                        metrics::gauge!("boomerang_wallet_liability",
                            "tenant" => tenant.clone(), "asset" => asset.clone(), "state" => state)
                        .set(major(minor, &asset));
                    }
                }
            }
            Err(e) => tracing::debug!(error = ?e, "liability sample failed"),
        }
    }
}
