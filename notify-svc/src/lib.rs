//! notify-svc: events out. It follows the durable event logs of accrual,
//! wallet, campaign and referral-svc (`FollowEvents`, with a service credential and a
//! durable cursor per source), maps each event to one public CloudEvents
//! 1.0 envelope, and delivers it to the tenant's webhooks, signed the
//! Standard Webhooks way, retried with backoff for a day, then parked as a
//! dead letter to replay. It never reads another service's tables.
//!
//! [`App::build`] connects the database (running migrations), binds the
//! listener and wires the handlers; [`App::run_until`] serves, follows and
//! delivers until shutdown.
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod notify;
pub mod repo;

use std::{future::Future, net::SocketAddr};

use boomerang_common::{
    auth::Credentials, channel::upstream, db::Db, server::GrpcServer, tenant::TenantId, time::Clock,
};
use boomerang_proto::{
    accrual::v1::accrual_service_client::AccrualServiceClient,
    campaign::v1::campaign_service_client::CampaignServiceClient,
    notify::v1::webhook_service_server::WebhookServiceServer,
    referral::v1::referral_service_client::ReferralServiceClient,
    wallet::v1::wallet_service_client::WalletServiceClient,
};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

pub use config::Config;
use notify::{Notifier, follow::Source, send::Sender};

/// The tenant notify-svc's own calls act for: FollowEvents is every
/// tenant's, the credential's tenant is no filter.
const PLATFORM: &str = "platform";

/// A built, bound, not yet serving notify-svc.
pub struct App {
    cfg: Config,
    db: Db,
    notifier: Notifier,
    sources: Vec<Source>,
    sender: Sender,
    listener: TcpListener,
    server: GrpcServer,
}

impl App {
    /// Connects, migrates and binds (port 0 picks a free port).
    pub async fn build(cfg: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(cfg, Clock::system()).await
    }

    /// As [`App::build`], on `clock` (retries wait on it).
    pub async fn build_with_clock(cfg: Config, clock: Clock) -> anyhow::Result<Self> {
        cfg.validate()?;
        let db = Db::connect(&cfg.database, &repo::MIGRATIONS).await?;
        let credentials = Credentials::load(&cfg.internal_auth)?;
        let issuer = credentials.issuer("notify", &["*:read"])?;
        let tls = cfg.server.tls.client()?;
        let s = &cfg.sources;
        let sources = vec![
            Source::Accrual(AccrualServiceClient::new(upstream(
                "accrual",
                &s.accrual,
                issuer.clone(),
                tls.clone(),
            )?)),
            Source::Wallet(WalletServiceClient::new(upstream(
                "wallet",
                &s.wallet,
                issuer.clone(),
                tls.clone(),
            )?)),
            Source::Campaign(CampaignServiceClient::new(upstream(
                "campaign",
                &s.campaign,
                issuer.clone(),
                tls.clone(),
            )?)),
            Source::Referral(ReferralServiceClient::new(upstream(
                "referral",
                &s.referral,
                issuer,
                tls,
            )?)),
        ];
        let listener = boomerang_common::server::bind(&cfg.server).await?;
        let bus = (!cfg.nats.url.is_empty()).then(|| cfg.nats.subject_prefix.clone());
        let notifier = Notifier::new(db.clone(), clock, cfg.delivery.clone(), bus);
        let sender = Sender::new(notifier.clone())?;
        let handler = grpc::WebhookServiceHandler::new(notifier.clone());
        let server = GrpcServer::new()
            .verifying(credentials.verifier("notify"))
            .ready_when_reachable(db.clone())
            .serve_service(WebhookServiceServer::new(handler));
        Ok(Self {
            cfg,
            db,
            notifier,
            sources,
            sender,
            listener,
            server,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves, follows and delivers until `shutdown` resolves; then stops
    /// following, lets the calls in flight end, and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr()?, "notify-svc serving");
        let platform = TenantId::parse(PLATFORM).map_err(anyhow::Error::msg)?;
        let stop = CancellationToken::new();
        let mut work = JoinSet::new();
        for source in self.sources {
            let (n, p, s) = (self.notifier.clone(), platform.clone(), stop.clone());
            work.spawn(async move { n.follow(source, p, s).await });
        }
        work.spawn(self.sender.run(stop.clone()));
        if self.notifier.bus().is_some() {
            let (n, s, nats) = (self.notifier.clone(), stop.clone(), self.cfg.nats.clone());
            work.spawn(async move { n.publish(nats, s).await });
        }
        work.spawn(notify::deliveries::gauge(
            self.notifier.clone(),
            stop.clone(),
        ));
        let served = self
            .server
            .serve(self.listener, &self.cfg.server, shutdown)
            .await;
        stop.cancel();
        while work.join_next().await.is_some() {}
        self.db.close().await;
        served
    }
}
