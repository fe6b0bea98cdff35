//! A real wallet-svc on 127.0.0.1:0 over a fresh database, a manual clock,
//! and a generated gRPC client that calls as one tenant.
#![allow(dead_code)] // each test file uses a different part

pub mod check;

#[allow(unused_imports)] // not every test file waits
pub use boomerang_common::testing::eventually;

use std::{net::SocketAddr, time::Duration};

use boomerang_common::{
    db::Db,
    jobs::RunnerConfig,
    testing::{AsTenant, TestBackend, TestDb, channel, internal_auth},
    time::Clock,
};
use boomerang_proto::{
    common::v1::Money,
    wallet::v1::{self as pb, wallet_service_client::WalletServiceClient},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::{Status, service::interceptor::InterceptedService, transport::Channel};
use wallet_svc::{App, Config};

/// 2026-01-01T00:00:00Z.
pub const START: i64 = 1_767_225_600_000_000;
/// One day in microseconds.
pub const DAY: i64 = 86_400_000_000;

/// A wallet client acting for one tenant.
pub type Client = WalletServiceClient<InterceptedService<Channel, AsTenant>>;

/// A running wallet-svc.
pub struct Wallet {
    /// Client for tenant "acme".
    pub client: Client,
    /// The service's clock.
    pub clock: Clock,
    /// Direct database access, for invariant checks.
    pub db: Db,
    addr: SocketAddr,
    cfg: Config,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    _test_db: TestDb,
}

impl Wallet {
    /// Starts on a fresh database.
    pub async fn start(backend: TestBackend) -> anyhow::Result<Self> {
        let test_db = TestDb::fresh(backend, "wallet").await?;
        let cfg = Config {
            database: test_db.config.clone(),
            jobs: RunnerConfig {
                poll_interval_ms: 10,
                ..RunnerConfig::default()
            },
            internal_auth: internal_auth(),
            ..Config::default()
        };
        let mut cfg = cfg;
        cfg.server.listen = "127.0.0.1:0".parse()?;
        Self::launch(cfg, Clock::manual(START), test_db).await
    }

    async fn launch(cfg: Config, clock: Clock, test_db: TestDb) -> anyhow::Result<Self> {
        let app = App::build_with_clock(cfg.clone(), clock.clone()).await?;
        let addr = app.local_addr()?;
        let db = Db::connect(&cfg.database, &wallet_svc::repo::MIGRATIONS).await?;
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(app.run_until(async move { stopped.cancelled().await }));
        let client = Self::client_at(addr, "acme").await?;
        Ok(Self {
            client,
            clock,
            db,
            addr,
            cfg,
            stop,
            task,
            _test_db: test_db,
        })
    }

    /// A client for another tenant.
    pub async fn as_tenant(&self, tenant: &str) -> anyhow::Result<Client> {
        Self::client_at(self.addr, tenant).await
    }

    async fn client_at(addr: SocketAddr, tenant: &str) -> anyhow::Result<Client> {
        Ok(WalletServiceClient::with_interceptor(
            channel(addr).await?,
            AsTenant::new("wallet", tenant)?,
        ))
    }

    /// Stops the server and starts a new one on the same database and clock
    /// (listening on the same port, so existing clients reconnect).
    pub async fn restart(self) -> anyhow::Result<Self> {
        self.stop.cancel();
        self.task.await??;
        let mut cfg = self.cfg;
        cfg.server.listen = self.addr;
        Self::launch(cfg, self.clock, self._test_db).await
    }

    /// Stops the server and its timers (for checks that need the database still).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        (&mut self.task).await??;
        Ok(())
    }

    /// Moves time forward by `days`.
    pub fn advance_days(&self, days: i64) {
        self.clock
            .advance(Duration::from_micros((days * DAY) as u64));
    }

    /// Now, on the service's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Credits `amount` to `customer`, available now.
    pub async fn credit(
        &mut self,
        key: &str,
        customer: &str,
        amount: Money,
    ) -> anyhow::Result<pb::CreditResponse> {
        let req = pb::CreditRequest {
            idempotency_key: key.into(),
            customer_id: customer.into(),
            amount: Some(amount),
            ..pb::CreditRequest::default()
        };
        Ok(self.client.credit(req).await?.into_inner())
    }

    /// (available, pending, held) of one asset.
    pub async fn balance(
        &mut self,
        customer: &str,
        asset: &str,
    ) -> anyhow::Result<(String, String, String)> {
        let req = pb::GetBalanceRequest {
            customer_id: customer.into(),
            asset: asset.into(),
            as_of: None,
        };
        let reply = self.client.get_balance(req).await?.into_inner();
        let b = reply.balances.into_iter().next().unwrap_or_default();
        let amount = |m: Option<Money>| m.map(|m| m.amount).unwrap_or_else(|| "0".into());
        Ok((amount(b.available), amount(b.pending), amount(b.held)))
    }

    /// Authorizes and returns the hold id.
    pub async fn authorize(
        &mut self,
        key: &str,
        customer: &str,
        amount: Money,
        ttl_s: i64,
    ) -> Result<String, Status> {
        let req = pb::AuthorizeRequest {
            idempotency_key: key.into(),
            customer_id: customer.into(),
            amount: Some(amount),
            ttl: Some(prost_types::Duration {
                seconds: ttl_s,
                nanos: 0,
            }),
            reference: format!("checkout-{key}"),
        };
        let hold = self
            .client
            .authorize(req)
            .await?
            .into_inner()
            .hold
            .unwrap_or_default();
        Ok(hold.hold_id)
    }
}

/// Money in EUR.
pub fn eur(amount: &str) -> Money {
    Money {
        amount: amount.into(),
        asset: "EUR".into(),
    }
}

/// Points.
pub fn pts(amount: &str) -> Money {
    Money {
        amount: amount.into(),
        asset: "PTS".into(),
    }
}
