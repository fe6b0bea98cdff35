//! What the campaign-svc tests share: a service on port 0 over a fresh
//! database with a manual clock, clients of both its services, and specs.
#![allow(dead_code)] // each test file uses its part

use boomerang_common::{
    jobs::RunnerConfig,
    testing::{AsTenant, TestBackend, TestDb, channel},
    time::{Clock, to_timestamp},
};
use boomerang_proto::{
    campaign::v1::{
        self as pb, campaign_service_client::CampaignServiceClient,
        coupon_service_client::CouponServiceClient,
    },
    common::v1::Money,
};
use campaign_svc::{App, Config};
use tokio_util::sync::CancellationToken;
use tonic::{service::interceptor::InterceptedService, transport};

/// CouponService as tenant "acme".
pub type CouponClient = CouponServiceClient<InterceptedService<transport::Channel, AsTenant>>;

pub type Client = CampaignServiceClient<InterceptedService<transport::Channel, AsTenant>>;

pub fn micros(rfc3339: &str) -> i64 {
    rfc3339
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_microsecond())
        .unwrap_or_else(|e| panic!("{e}"))
}

pub struct Service {
    pub client: Client,
    pub coupons: CouponClient,
    pub clock: Clock,
    pub addr: std::net::SocketAddr,
    _stop: tokio_util::sync::DropGuard,
    _db: TestDb,
}

impl Service {
    pub async fn start(backend: TestBackend, now: &str) -> anyhow::Result<Self> {
        let db = TestDb::fresh(backend, "campaign").await?;
        Self::on(
            db,
            Clock::manual(micros(now)),
            campaign_svc::domain::budget::SLOTS,
        )
        .await
    }

    /// The same database and clock, served again with budgets of `slots` rows.
    pub async fn restart(self, slots: u32) -> anyhow::Result<Self> {
        drop(self._stop);
        Self::on(self._db, self.clock, slots).await
    }

    pub async fn on(db: TestDb, clock: Clock, slots: u32) -> anyhow::Result<Self> {
        let mut cfg = Config {
            database: db.config.clone(),
            jobs: RunnerConfig {
                poll_interval_ms: 10,
                ..RunnerConfig::default()
            },
            internal_auth: boomerang_common::testing::internal_auth(),
            budget: campaign_svc::config::BudgetConfig { slots },
            ..Config::default()
        };
        cfg.server.listen = "127.0.0.1:0".parse()?;
        cfg.database.max_connections = 32;
        let app = App::build_with_clock(cfg, clock.clone()).await?;
        let addr = app.local_addr()?;
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(app.run_until(async move { stopped.cancelled().await }));
        let client = CampaignServiceClient::with_interceptor(
            channel(addr).await?,
            AsTenant::new("campaign", "acme")?,
        );
        let coupons = CouponServiceClient::with_interceptor(
            channel(addr).await?,
            AsTenant::new("campaign", "acme")?,
        );
        Ok(Self {
            client,
            coupons,
            clock,
            addr,
            _stop: stop.drop_guard(),
            _db: db,
        })
    }

    pub async fn create(
        &mut self,
        id: &str,
        spec: pb::CampaignSpec,
    ) -> anyhow::Result<pb::Campaign> {
        let req = pb::CreateCampaignRequest {
            idempotency_key: format!("create-{id}"),
            campaign_id: id.into(),
            spec: Some(spec),
            ..Default::default()
        };
        Ok(self
            .client
            .create_campaign(req)
            .await?
            .into_inner()
            .campaign
            .unwrap_or_default())
    }

    pub async fn schedule(&mut self, id: &str) -> anyhow::Result<pb::Campaign> {
        let req = pb::ScheduleCampaignRequest {
            idempotency_key: format!("schedule-{id}"),
            campaign_id: id.into(),
        };
        Ok(self
            .client
            .schedule_campaign(req)
            .await?
            .into_inner()
            .campaign
            .unwrap_or_default())
    }

    pub async fn status(&mut self, id: &str) -> anyhow::Result<i32> {
        let req = pb::GetCampaignRequest {
            campaign_id: id.into(),
            terms_at: None,
        };
        Ok(self
            .client
            .get_campaign(req)
            .await?
            .into_inner()
            .campaign
            .unwrap_or_default()
            .status)
    }

    pub async fn applicable(
        &mut self,
        at: &str,
        ctx: pb::ListApplicableCampaignsRequest,
    ) -> anyhow::Result<Vec<String>> {
        let req = pb::ListApplicableCampaignsRequest {
            at: Some(to_timestamp(micros(at))),
            ..ctx
        };
        let reply = self
            .client
            .list_applicable_campaigns(req)
            .await?
            .into_inner();
        Ok(reply.campaigns.into_iter().map(|c| c.campaign_id).collect())
    }
}

pub fn eur(amount: &str) -> Money {
    Money {
        amount: amount.into(),
        asset: "EUR".into(),
    }
}

pub fn spec(start: &str, end: &str) -> pb::CampaignSpec {
    pb::CampaignSpec {
        name: "Double points".into(),
        terms: "Double points on every purchase while the campaign runs. Limited budget.".into(),
        schedule: Some(pb::Schedule {
            timezone: "Europe/Rome".into(),
            starts_at: Some(to_timestamp(micros(start))),
            ends_at: Some(to_timestamp(micros(end))),
            windows: vec![],
        }),
        effect: Some(pb::Effect {
            kind: Some(pb::effect::Kind::PointsMultiplier(pb::PointsMultiplier {
                multiplier: "2".into(),
            })),
        }),
        ..Default::default()
    }
}

pub fn with_budget(mut s: pb::CampaignSpec, total: &str) -> pb::CampaignSpec {
    s.budgets = vec![pb::Budget {
        total: Some(eur(total)),
        per_day: None,
        low_percent: None,
    }];
    s
}
