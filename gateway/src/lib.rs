//! The gateway: the one door to Boomerang.
//!
//! It authenticates every call by API key, sets the key's tenant on the
//! upstream call, forwards each service to its upstream without decoding
//! messages, serves `AdminService` and `JobService` (parked jobs, asked of
//! the service they belong to), and answers health and reflection for
//! every service (open, no key needed).
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod forward;
pub mod grpc;
pub mod jwt;
pub mod limits;
pub mod repo;

use std::{future::Future, net::SocketAddr, time::Duration};

use boomerang_common::{
    auth::{Credentials, GATEWAY},
    db::Db,
    server::GrpcServer,
    tenant::TenantId,
    time::Clock,
};
use boomerang_proto::admin::v1::{
    admin_service_server::AdminServiceServer, job_service_server::JobServiceServer,
};
use tokio::net::TcpListener;

pub use config::Config;

/// The services the gateway forwards, by full name, with their upstream URL.
fn routes(cfg: &Config) -> [(&'static str, &str); 8] {
    [
        ("boomerang.wallet.v1.WalletService", &cfg.upstreams.wallet),
        (
            "boomerang.accrual.v1.AccrualService",
            &cfg.upstreams.accrual,
        ),
        (
            "boomerang.accrual.v1.CheckoutService",
            &cfg.upstreams.accrual,
        ),
        (
            "boomerang.accrual.v1.SimulationService",
            &cfg.upstreams.accrual,
        ),
        (
            "boomerang.campaign.v1.CampaignService",
            &cfg.upstreams.campaign,
        ),
        (
            "boomerang.campaign.v1.CouponService",
            &cfg.upstreams.campaign,
        ),
        (
            "boomerang.referral.v1.ReferralService",
            &cfg.upstreams.referral,
        ),
        ("boomerang.notify.v1.WebhookService", &cfg.upstreams.notify),
    ]
}

/// A built, bound, not yet serving gateway.
pub struct App {
    cfg: Config,
    db: Db,
    keys: repo::Keys,
    listener: TcpListener,
    server: GrpcServer,
}

impl App {
    /// Connects, migrates and binds (port 0 picks a free port).
    pub async fn build(cfg: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(cfg, Clock::system()).await
    }

    /// As [`App::build`], judging key times on `clock` (tests move it).
    pub async fn build_with_clock(cfg: Config, clock: Clock) -> anyhow::Result<Self> {
        cfg.validate()?;
        let db = Db::connect(&cfg.database, &repo::MIGRATIONS).await?;
        let keys = repo::Keys::new(db.clone(), clock);
        let platform = TenantId::parse(&cfg.platform_tenant).map_err(anyhow::Error::msg)?;
        if let Some(secret) = &cfg.bootstrap_admin_key {
            keys.ensure_tenant(&platform, "platform").await?;
            keys.ensure_bootstrap_key(&platform, secret).await?;
        }
        let jwt = cfg
            .jwt
            .as_ref()
            .map(|j| jwt::Jwt::load(j, &cfg.platform_tenant))
            .transpose()?;
        let auth =
            auth::Authenticator::new(keys.clone(), Duration::from_millis(cfg.key_cache_ms), jwt);
        let limits = limits::Limits::new(&cfg.rate_limits);
        let connect_timeout = Duration::from_millis(cfg.upstreams.connect_timeout_ms);
        let credentials = Credentials::load(&cfg.internal_auth)?;
        let tls = cfg.server.tls.client()?;
        // Forwarded calls carry the caller's own scopes; operators' job
        // calls (platform admins only, checked first) the admin scope.
        let issuer = credentials.issuer(GATEWAY, &[])?;
        let operator = credentials.issuer(GATEWAY, &["admin:admin"])?;
        let jobs = grpc::jobs::JobsHandler::new(
            auth.clone(),
            platform.clone(),
            &cfg.upstreams,
            operator,
            tls.clone(),
        )?;
        let admin = grpc::AdminHandler::new(auth.clone(), keys.clone(), platform);
        let mut server = GrpcServer::new()
            .at_the_gateway()
            .ready_when_reachable(db.clone())
            .serve_service(AdminServiceServer::new(admin))
            .serve_service(JobServiceServer::new(jobs));
        for (name, upstream) in routes(&cfg) {
            let forward = forward::Forward::new(
                name,
                upstream,
                connect_timeout,
                auth.clone(),
                limits.clone(),
                issuer.clone(),
                tls.clone(),
            )?;
            server = server.add_named(name, forward);
        }
        let listener = boomerang_common::server::bind(&cfg.server).await?;
        Ok(Self {
            cfg,
            db,
            keys,
            listener,
            server,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Tenants and keys (bootstrap and tests).
    pub fn keys(&self) -> &repo::Keys {
        &self.keys
    }

    /// The tenant whose admin keys manage every tenant.
    pub fn platform_tenant(&self) -> &str {
        &self.cfg.platform_tenant
    }

    /// Serves until `shutdown` resolves, then drains and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr()?, "gateway serving");
        let served = self
            .server
            .serve(self.listener, &self.cfg.server, shutdown)
            .await;
        self.db.close().await;
        served
    }
}
