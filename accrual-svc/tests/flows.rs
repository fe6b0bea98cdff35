//! accrual-svc with real wallet-svc and campaign-svc over gRPC, on both
//! backends: earn rules and boundaries, returns below a threshold, tiers and
//! campaigns in one explanation, bonuses once, a process kill between the
//! purchase and its credit, points conversion.
use std::{net::SocketAddr, time::Duration};

use boomerang_common::{
    auth::Credentials,
    backend_tests,
    jobs::RunnerConfig,
    testing::{AsTenant, TestBackend, TestDb, channel, eventually, internal_auth},
    time::{Clock, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{self as pb, accrual_service_client::AccrualServiceClient},
    campaign::v1::{self as cpb, campaign_service_client::CampaignServiceClient},
    common::v1::{Channel, Money},
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::{service::interceptor::InterceptedService, transport};

type Accrual = AccrualServiceClient<InterceptedService<transport::Channel, AsTenant>>;
type Wallet = WalletServiceClient<InterceptedService<transport::Channel, AsTenant>>;
type Campaign = CampaignServiceClient<InterceptedService<transport::Channel, AsTenant>>;

/// 2026-06-15T10:00:00Z, a Monday.
const NOW: i64 = 1_781_517_600_000_000;
const DAY: i64 = 86_400_000_000;

fn fast_jobs() -> RunnerConfig {
    RunnerConfig {
        poll_interval_ms: 10,
        backoff_base_ms: 20,
        backoff_max_ms: 200,
        ..RunnerConfig::default()
    }
}

fn local() -> anyhow::Result<boomerang_common::config::ServerConfig> {
    Ok(boomerang_common::config::ServerConfig::on(
        "127.0.0.1:0".parse()?,
    ))
}

/// Wallet and campaign in-process; accrual in-process or as a child process.
struct Stack {
    accrual: Accrual,
    wallet: Wallet,
    campaign: Campaign,
    clock: Clock,
    wallet_addr: SocketAddr,
    campaign_addr: SocketAddr,
    accrual_db: TestDb,
    _guards: Vec<DropGuard>,
    _dbs: Vec<TestDb>,
}

impl Stack {
    async fn start(backend: TestBackend, in_process_accrual: bool) -> anyhow::Result<Self> {
        let clock = Clock::manual(NOW);
        let (wallet_db, campaign_db, accrual_db) = (
            TestDb::fresh(backend, "wallet").await?,
            TestDb::fresh(backend, "campaign").await?,
            TestDb::fresh(backend, "accrual").await?,
        );
        let mut guards = Vec::new();
        let wallet = wallet_svc::App::build_with_clock(
            wallet_svc::Config {
                server: local()?,
                database: wallet_db.config.clone(),
                jobs: fast_jobs(),
                internal_auth: internal_auth(),
                ..Default::default()
            },
            clock.clone(),
        )
        .await?;
        let campaign = campaign_svc::App::build_with_clock(
            campaign_svc::Config {
                server: local()?,
                database: campaign_db.config.clone(),
                jobs: fast_jobs(),
                internal_auth: internal_auth(),
                ..Default::default()
            },
            clock.clone(),
        )
        .await?;
        let (wallet_addr, campaign_addr) = (wallet.local_addr()?, campaign.local_addr()?);
        tokio::spawn(wallet.run_until(stopper(&mut guards)));
        tokio::spawn(campaign.run_until(stopper(&mut guards)));
        let accrual_addr = if in_process_accrual {
            let app = accrual_svc::App::build_with_clock(
                accrual_config(&accrual_db, wallet_addr, campaign_addr, true)?,
                clock.clone(),
            )
            .await?;
            let addr = app.local_addr()?;
            tokio::spawn(app.run_until(stopper(&mut guards)));
            Some(addr)
        } else {
            None
        };
        let tenant = |service| AsTenant::new(service, "acme");
        let accrual = match accrual_addr {
            Some(a) => {
                AccrualServiceClient::with_interceptor(channel(a).await?, tenant("accrual")?)
            }
            None => AccrualServiceClient::with_interceptor(
                transport::Channel::from_static("http://127.0.0.1:9").connect_lazy(),
                tenant("accrual")?,
            ),
        };
        Ok(Self {
            accrual,
            wallet: WalletServiceClient::with_interceptor(
                channel(wallet_addr).await?,
                tenant("wallet")?,
            ),
            campaign: CampaignServiceClient::with_interceptor(
                channel(campaign_addr).await?,
                tenant("campaign")?,
            ),
            clock,
            wallet_addr,
            campaign_addr,
            accrual_db,
            _guards: guards,
            _dbs: vec![wallet_db, campaign_db],
        })
    }

    /// Another accrual replica on the same database, without its relays,
    /// running until `guards` drop.
    async fn replica(&self, guards: &mut Vec<DropGuard>) -> anyhow::Result<Accrual> {
        let cfg = accrual_config(
            &self.accrual_db,
            self.wallet_addr,
            self.campaign_addr,
            false,
        )?;
        let app = accrual_svc::App::build_with_clock(cfg, self.clock.clone()).await?;
        let addr = app.local_addr()?;
        tokio::spawn(app.run_until(stopper(guards)));
        let tenant = AsTenant::new("accrual", "acme")?;
        Ok(AccrualServiceClient::with_interceptor(
            channel(addr).await?,
            tenant,
        ))
    }

    async fn program(&mut self, id: &str, program: pb::Program) -> anyhow::Result<()> {
        let program = pb::Program {
            program_id: id.into(),
            ..program
        };
        self.accrual
            .upsert_program(pb::UpsertProgramRequest {
                idempotency_key: format!("p-{id}"),
                program: Some(program),
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    async fn enroll(
        &mut self,
        program: &str,
        customer: &str,
    ) -> anyhow::Result<pb::EnrollMemberResponse> {
        let req = pb::EnrollMemberRequest {
            idempotency_key: format!("enroll-{program}-{customer}"),
            program_id: program.into(),
            customer_id: customer.into(),
            ..Default::default()
        };
        Ok(self.accrual.enroll_member(req).await?.into_inner())
    }

    async fn buy(
        &mut self,
        program: &str,
        order: &str,
        customer: &str,
        lines: &[(&str, &str)],
    ) -> anyhow::Result<pb::RecordPurchaseResponse> {
        let req = pb::RecordPurchaseRequest {
            idempotency_key: format!("buy-{order}"),
            purchase: Some(purchase(program, order, customer, lines, NOW)),
        };
        Ok(self.accrual.record_purchase(req).await?.into_inner())
    }

    /// (available, pending) of an asset, once the relay delivered `pending` (or after 10 s).
    async fn balance_when(
        &mut self,
        customer: &str,
        asset: &str,
        want: (&str, &str),
    ) -> anyhow::Result<(String, String)> {
        let (w, c, a) = (self.wallet.clone(), customer.to_owned(), asset.to_owned());
        let read = move || {
            let (mut w, c, a) = (w.clone(), c.clone(), a.clone());
            async move {
                let b = w
                    .get_balance(wpb::GetBalanceRequest {
                        customer_id: c,
                        asset: a,
                        as_of: None,
                    })
                    .await?
                    .into_inner();
                let b = b.balances.into_iter().next().unwrap_or_default();
                let m = |m: Option<Money>| m.map(|m| m.amount).unwrap_or_else(|| "0".into());
                anyhow::Ok((m(b.available), m(b.pending)))
            }
        };
        let target = (want.0.to_owned(), want.1.to_owned());
        let probe = read.clone();
        let _ = eventually(&format!("{customer} {asset} at {want:?}"), || {
            let (probe, target) = (probe.clone(), target.clone());
            async move { Ok(probe().await? == target) }
        })
        .await;
        read().await
    }
}

fn stopper(guards: &mut Vec<DropGuard>) -> impl std::future::Future<Output = ()> + Send + 'static {
    let token = CancellationToken::new();
    guards.push(token.clone().drop_guard());
    async move { token.cancelled().await }
}

fn accrual_config(
    db: &TestDb,
    wallet: SocketAddr,
    campaign: SocketAddr,
    relay: bool,
) -> anyhow::Result<accrual_svc::Config> {
    Ok(accrual_svc::Config {
        server: local()?,
        database: db.config.clone(),
        jobs: fast_jobs(),
        // No referral-svc here: its notices wait in the outbox.
        upstreams: accrual_svc::config::Upstreams {
            wallet: format!("http://{wallet}"),
            campaign: format!("http://{campaign}"),
            ..Default::default()
        },
        relay,
        internal_auth: internal_auth(),
        ..Default::default()
    })
}

fn eur(amount: &str) -> Money {
    Money {
        amount: amount.into(),
        asset: "EUR".into(),
    }
}

fn purchase(
    program: &str,
    order: &str,
    customer: &str,
    lines: &[(&str, &str)],
    at: i64,
) -> pb::Purchase {
    pb::Purchase {
        program_id: program.into(),
        order_id: order.into(),
        customer_id: customer.into(),
        currency: "EUR".into(),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, (category, price))| pb::PurchaseLine {
                line_id: format!("l{i}"),
                sku: format!("sku-{i}"),
                category: (*category).into(),
                unit_price: Some(eur(price)),
                quantity: 1,
                discount: None,
            })
            .collect(),
        channel: Channel::Online as i32,
        store_id: String::new(),
        occurred_at: Some(to_timestamp(at)),
    }
}

fn cashback(rate: &str, over_100: Option<&str>) -> pb::Program {
    pb::Program {
        name: "Cashback".into(),
        currency: "EUR".into(),
        timezone: "Europe/Rome".into(),
        earn_rules: vec![pb::EarnRule {
            asset: "EUR".into(),
            basis: pb::EarnBasis::Percent as i32,
            rate: rate.into(),
        }],
        thresholds: over_100
            .map(|r| pb::Threshold {
                over: Some(eur("100.00")),
                comparison: pb::ThresholdComparison::GreaterThan as i32,
                asset: "EUR".into(),
                rate: r.into(),
            })
            .into_iter()
            .collect(),
        return_window_days: 14,
        ..Default::default()
    }
}

fn points(per_eur: &str) -> pb::Program {
    pb::Program {
        name: "Points".into(),
        currency: "EUR".into(),
        timezone: "Europe/Rome".into(),
        earn_rules: vec![pb::EarnRule {
            asset: "PTS".into(),
            basis: pb::EarnBasis::PerCurrencyUnit as i32,
            rate: per_eur.into(),
        }],
        return_window_days: 14,
        ..Default::default()
    }
}

fn amounts(r: &pb::RecordPurchaseResponse) -> Vec<String> {
    r.rewards
        .iter()
        .map(|x| x.amount.clone().unwrap_or_default().amount)
        .collect()
}

fn monthly_cap(cap: &str) -> pb::Program {
    pb::Program {
        caps: vec![pb::Cap {
            asset: "EUR".into(),
            per_order: None,
            per_period: Some(eur(cap)),
            period: pb::CapPeriod::Month as i32,
        }],
        ..cashback("10", None)
    }
}

/// A TCP proxy to `to` that holds every byte coming back for `delay`: a wallet
/// whose answers are slow to arrive (busy, or its node paused).
async fn slow_answers(to: SocketAddr, delay: Duration) -> anyhow::Result<SocketAddr> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(to).await else {
                continue;
            };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut client_read, &mut server_write).await });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = server_read.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(addr)
}

backend_tests! {
    async fn a_version_published_through_another_replica_prices_the_next_purchase(backend) -> anyhow::Result<()> {
        // Two replicas on one database; the second has read (and keeps) version 1.
        let mut s = Stack::start(backend, true).await?;
        let mut guards = Vec::new();
        let mut other = s.replica(&mut guards).await?;
        s.program("cb", cashback("5", None)).await?;
        s.enroll("cb", "ann").await?;
        let buy = |order: &str| pb::RecordPurchaseRequest {
            idempotency_key: format!("buy-{order}"),
            purchase: Some(purchase("cb", order, "ann", &[("shoes", "100.00")], NOW)),
        };
        let first = other.record_purchase(buy("o-1")).await?.into_inner();
        assert_eq!((amounts(&first), first.program_version), (vec!["5.00".to_owned()], 1));
        // Version 2 through the first replica: the second prices by it at once.
        s.accrual.upsert_program(pb::UpsertProgramRequest {
            idempotency_key: "p-cb-2".into(),
            program: Some(pb::Program { program_id: "cb".into(), ..cashback("8", None) }),
            ..Default::default()
        }).await?;
        let second = other.record_purchase(buy("o-2")).await?.into_inner();
        assert_eq!((amounts(&second), second.program_version), (vec!["8.00".to_owned()], 2));
        Ok(())
    }

    async fn a_reversal_that_overtakes_its_credit_is_never_dropped(backend) -> anyhow::Result<()> {
        use accrual_svc::accrual::{Accrual, Upstream, outbound::Topic, relay::Relay};
        // accrual without its relays; they are run by hand below, in the order of the race.
        let mut s = Stack::start(backend, false).await?;
        let mut guards = Vec::new();
        s.accrual = s.replica(&mut guards).await?;
        s.program("cb", cashback("5", None)).await?;
        s.enroll("cb", "ann").await?;
        s.buy("cb", "o-1", "ann", &[("shoes", "60.00"), ("socks", "40.00")]).await?;
        let back = pb::RecordReturnRequest {
            idempotency_key: "r-1".into(), program_id: "cb".into(), order_id: "o-1".into(), return_id: "r-1".into(),
            lines: vec![pb::ReturnLine { line_id: "l1".into(), quantity: 1 }], occurred_at: None,
        };
        s.accrual.record_return(back).await?;
        let db = boomerang_common::db::Db::connect(&s.accrual_db.config, &accrual_svc::repo::MIGRATIONS).await?;
        let (campaign, clock, wallet_addr) = (format!("http://{}", s.campaign_addr), s.clock.clone(), s.wallet_addr);
        let relay = |wallet: SocketAddr, topic: Topic| -> anyhow::Result<_> {
            let urls = accrual_svc::config::Upstreams { wallet: format!("http://{wallet}"), campaign: campaign.clone(), referral: "http://127.0.0.1:9".into() };
            let up = Upstream::new(&urls, &Credentials::load(&internal_auth())?, None)?;
            let accrual = Accrual::new(db.clone(), clock.clone(), up);
            Ok(boomerang_common::outbox::relay(db.clone(), topic.name(), Relay::new(accrual, topic), fast_jobs()))
        };
        // The reversal reaches the wallet first (NOT_FOUND: no credit yet) and its
        // answer is slow to come back; meanwhile the credit is delivered and its job done.
        let slow = slow_answers(wallet_addr, Duration::from_millis(800)).await?;
        let reversals = relay(slow, Topic::WalletReverse)?;
        let reversal = tokio::spawn(async move { reversals.run_once().await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(relay(wallet_addr, Topic::WalletCredit)?.run_once().await?, 1);
        assert_eq!(s.balance_when("ann", "EUR", ("0.00", "5.00")).await?, ("0.00".into(), "5.00".into()));
        reversal.await??;
        // The reversal was not dropped: 40.00 of 100.00 returned takes 2.00 back.
        // (Had the credit's job still been running when the NOT_FOUND came back,
        // the reversal waits, NotYet, and is due again after its backoff.)
        let reversals = relay(wallet_addr, Topic::WalletReverse)?;
        for _ in 0..3 {
            if s.balance_when("ann", "EUR", ("0.00", "3.00")).await? == ("0.00".into(), "3.00".into()) {
                break;
            }
            s.clock.advance(Duration::from_secs(1));
            reversals.run_once().await?;
        }
        assert_eq!(s.balance_when("ann", "EUR", ("0.00", "3.00")).await?, ("0.00".into(), "3.00".into()));
        drop(guards);
        Ok(())
    }

    async fn lists_and_strings_are_bounded_by_name(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        let threshold = pb::Threshold { over: Some(eur("100.00")), comparison: 0, asset: "EUR".into(), rate: "10".into() };
        let many = pb::Program { program_id: "many".into(), thresholds: vec![threshold; 10_000], ..cashback("5", None) };
        let refused = s.accrual.upsert_program(pb::UpsertProgramRequest { idempotency_key: "m".into(), program: Some(many), ..Default::default() }).await.err();
        assert!(refused.as_ref().is_some_and(|e| e.code() == tonic::Code::InvalidArgument && e.message().contains("program.thresholds: at most 16")), "{refused:?}");
        s.program("cb", cashback("5", None)).await?;
        let long = pb::EnrollMemberRequest { idempotency_key: "e".into(), program_id: "cb".into(), customer_id: "ann".into(), segment: "s".repeat(10_000), ..Default::default() };
        let refused = s.accrual.enroll_member(long).await.err();
        assert!(refused.as_ref().is_some_and(|e| e.message().contains("segment: at most 64") && !e.message().contains("member.")), "{refused:?}");
        Ok(())
    }

    async fn amounts_are_bounded_where_they_enter(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        let rich = pb::Program {
            earn_rules: vec![pb::EarnRule { asset: "PTS".into(), basis: pb::EarnBasis::PerCurrencyUnit as i32, rate: "1000".into() }],
            category_multipliers: vec![pb::CategoryMultiplier { category: "gold".into(), multiplier: "100".into() }],
            ..points("1")
        };
        s.program("rich", rich).await?;
        s.enroll("rich", "ann").await?;
        let refused = |r: Result<tonic::Response<pb::RecordPurchaseResponse>, tonic::Status>| r.err().map(|e| (e.code(), e.message().to_owned()));
        // A unit price beyond the largest order.
        let huge = pb::RecordPurchaseRequest { idempotency_key: "h".into(), purchase: Some(purchase("rich", "o-h", "ann", &[("shoes", "10000000000.01")], NOW)) };
        let (code, why) = refused(s.accrual.record_purchase(huge).await).unwrap_or((tonic::Code::Ok, String::new()));
        assert_eq!(code, tonic::Code::InvalidArgument, "{why}");
        assert!(why.contains("purchase.lines[0].unit_price"), "{why}");
        // Within the largest order, but earning more than one wallet credit may carry:
        // refused now, never acknowledged and retried against the wallet for ever.
        let greedy = pb::RecordPurchaseRequest { idempotency_key: "g".into(), purchase: Some(purchase("rich", "o-g", "ann", &[("gold", "20000000.00")], NOW)) };
        let (code, why) = refused(s.accrual.record_purchase(greedy).await).unwrap_or((tonic::Code::Ok, String::new()));
        assert_eq!(code, tonic::Code::InvalidArgument, "{why}");
        assert!(why.contains("more than one credit may carry"), "{why}");
        // Nor may a bonus: its credit would be refused by the wallet for good.
        let bonus = pb::Program { program_id: "gift".into(), welcome_bonus: Some(eur("10000000000.01")), ..cashback("5", None) };
        let refused = s.accrual.upsert_program(pb::UpsertProgramRequest { idempotency_key: "gift".into(), program: Some(bonus), ..Default::default() }).await.err();
        assert!(refused.as_ref().is_some_and(|e| e.message().contains("program.welcome_bonus.amount")), "{refused:?}");
        Ok(())
    }

    async fn a_free_order_records_and_earns_nothing(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        s.program("cb", cashback("5", None)).await?;
        s.enroll("cb", "ann").await?;
        // A free item: campaign-svc is asked about an order of 0.00, which is no error.
        let free = s.buy("cb", "o-free", "ann", &[("gift", "0.00")]).await?;
        assert!(free.rewards.is_empty(), "{:?}", free.rewards);
        // A line discounted to nothing beside a paid one: only the paid one earns.
        let mut p = purchase("cb", "o-half", "ann", &[("shoes", "100.00"), ("socks", "10.00")], NOW);
        p.lines[1].discount = Some(eur("10.00"));
        let half = s.accrual.record_purchase(pb::RecordPurchaseRequest { idempotency_key: "o-half".into(), purchase: Some(p) }).await?;
        assert_eq!(amounts(&half.into_inner()), ["5.00"]);
        Ok(())
    }

    async fn a_replayed_purchase_answers_byte_for_byte(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        // Available at once (no release time) ...
        s.program("now", pb::Program { return_window_days: 0, ..cashback("5", None) }).await?;
        // ... and nothing below the minimum order, explained in skipped.
        let min = pb::Program { min_order_amount: Some(eur("200.00")), ..cashback("5", None) };
        s.program("min", min).await?;
        for program in ["now", "min"] {
            s.enroll(program, "ann").await?;
            let first = s.buy(program, &format!("o-{program}"), "ann", &[("shoes", "100.00")]).await?;
            let again = s.buy(program, &format!("o-{program}"), "ann", &[("shoes", "100.00")]).await?;
            assert_eq!(again, first, "{program}: the replay is the first answer");
            assert_eq!(prost::Message::encode_to_vec(&again), prost::Message::encode_to_vec(&first));
        }
        let first = s.buy("min", "o-min", "ann", &[("shoes", "100.00")]).await?;
        assert!(first.skipped.iter().any(|e| e.rule == "min_order"), "{:?}", first.skipped);
        Ok(())
    }

    async fn the_longest_ids_reach_the_wallet_and_come_back(backend) -> anyhow::Result<()> {
        // Ids accrual accepts (128 characters each) build references the wallet accepts too.
        let mut s = Stack::start(backend, true).await?;
        let (program, order, customer) = ("p".repeat(128), "o".repeat(128), "c".repeat(128));
        let p = pb::Program { program_id: program.clone(), ..cashback("5", None) };
        s.accrual.upsert_program(pb::UpsertProgramRequest { idempotency_key: "p".into(), program: Some(p), ..Default::default() }).await?;
        let enrol = pb::EnrollMemberRequest { idempotency_key: "e".into(), program_id: program.clone(), customer_id: customer.clone(), ..Default::default() };
        s.accrual.enroll_member(enrol).await?;
        let buy = pb::RecordPurchaseRequest { idempotency_key: "b".into(), purchase: Some(purchase(&program, &order, &customer, &[("shoes", "100.00")], NOW)) };
        assert_eq!(amounts(&s.accrual.record_purchase(buy).await?.into_inner()), ["5.00"]);
        assert_eq!(s.balance_when(&customer, "EUR", ("0.00", "5.00")).await?, ("0.00".into(), "5.00".into()));
        let back = pb::RecordReturnRequest {
            idempotency_key: "r-1".into(), program_id: program.clone(), order_id: order.clone(), return_id: "r".repeat(128),
            lines: vec![pb::ReturnLine { line_id: "l0".into(), quantity: 1 }], occurred_at: None,
        };
        s.accrual.record_return(back).await?;
        assert_eq!(s.balance_when(&customer, "EUR", ("0.00", "0.00")).await?, ("0.00".into(), "0.00".into()));
        Ok(())
    }

    async fn a_tier_is_reviewed_at_the_end_of_its_window(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        let tier = |id: &str, at: &str| pb::Tier { tier_id: id.into(), name: id.into(), qualifies_at: Some(eur(at)), earn_multiplier: "1".into() };
        let tiered = pb::Program {
            tier_policy: Some(pb::TierPolicy {
                basis: pb::TierBasis::Spend as i32,
                window_days: 30,
                tiers: vec![tier("bronze", "0.00"), tier("silver", "100.00")],
                nudge_percent: 0,
            }),
            ..cashback("5", None)
        };
        s.program("t", tiered).await?;
        s.enroll("t", "ann").await?;
        s.buy("t", "o-1", "ann", &[("shoes", "150.00")]).await?;
        let member = || pb::GetMemberRequest { program_id: "t".into(), customer_id: "ann".into() };
        let tier_of = |m: pb::GetMemberResponse| m.member.and_then(|m| m.tier).map(|t| t.current_tier).unwrap_or_default();
        assert_eq!(tier_of(s.accrual.get_member(member()).await?.into_inner()), "silver");
        let watch = pb::WatchEventsRequest { types: vec![pb::EventType::TierChanged as i32], ..Default::default() };
        let mut events = s.accrual.watch_events(watch).await?.into_inner();
        let first = tokio::time::timeout(Duration::from_secs(10), events.message()).await??;
        assert_eq!(first.map(|e| (e.previous_tier_id, e.tier_id)), Some(("bronze".into(), "silver".into())));
        // The spend leaves the 30-day window; at the review the timer downgrades and says so.
        s.clock.advance(Duration::from_micros((31 * DAY) as u64));
        let next = tokio::time::timeout(Duration::from_secs(10), events.message()).await??;
        assert_eq!(next.map(|e| (e.previous_tier_id, e.tier_id)), Some(("silver".into(), "bronze".into())));
        assert_eq!(tier_of(s.accrual.get_member(member()).await?.into_inner()), "bronze");
        Ok(())
    }

    async fn flagged_purchases_are_held_until_reviewed(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        let guarded = pb::Program {
            fraud: Some(pb::FraudPolicy { max_purchases_per_hour: 2, hold_flagged: true, ..Default::default() }),
            ..cashback("5", None)
        };
        s.program("g", guarded).await?;
        s.enroll("g", "ann").await?;
        for o in ["o-1", "o-2"] {
            let clean = s.buy("g", o, "ann", &[("shoes", "100.00")]).await?;
            assert!(clean.flags.is_empty() && !clean.held_for_review);
        }
        let third = s.buy("g", "o-3", "ann", &[("shoes", "100.00")]).await?;
        assert_eq!(third.flags, [pb::FraudFlag::Velocity as i32]);
        assert!(third.held_for_review);
        assert_eq!(third.rewards[0].status, pb::RewardStatus::Held as i32);
        assert!(s.buy("g", "o-4", "ann", &[("shoes", "100.00")]).await?.held_for_review);
        // Held rewards are pending like the others, but the end of the return
        // window does not release them.
        assert_eq!(s.balance_when("ann", "EUR", ("0.00", "20.00")).await?, ("0.00".into(), "20.00".into()));
        s.clock.advance(Duration::from_micros((15 * DAY) as u64));
        assert_eq!(s.balance_when("ann", "EUR", ("10.00", "10.00")).await?, ("10.00".into(), "10.00".into()));
        let review = |key: &str, order: &str, decision: pb::ReviewDecision| pb::ReviewPurchaseRequest {
            idempotency_key: key.into(), program_id: "g".into(), order_id: order.into(), decision: decision as i32, note: "checked".into(),
        };
        let approved = s.accrual.review_purchase(review("rv-3", "o-3", pb::ReviewDecision::Approve)).await?.into_inner();
        assert_eq!(approved.rewards[0].status, pb::RewardStatus::Available as i32, "its window is over");
        let rejected = s.accrual.review_purchase(review("rv-4", "o-4", pb::ReviewDecision::Reject)).await?.into_inner();
        assert_eq!(rejected.rewards[0].status, pb::RewardStatus::Reversed as i32);
        assert_eq!(s.balance_when("ann", "EUR", ("15.00", "0.00")).await?, ("15.00".into(), "0.00".into()));
        // The same key replays; a second decision is refused.
        let replay = s.accrual.review_purchase(review("rv-3", "o-3", pb::ReviewDecision::Approve)).await?.into_inner();
        assert_eq!(replay, approved);
        let again = s.accrual.review_purchase(review("rv-3b", "o-3", pb::ReviewDecision::Reject)).await;
        assert_eq!(again.err().map(|e| e.code()), Some(tonic::Code::FailedPrecondition));
        let clean = s.accrual.review_purchase(review("rv-1", "o-1", pb::ReviewDecision::Approve)).await;
        assert_eq!(clean.err().map(|e| e.code()), Some(tonic::Code::FailedPrecondition));
        Ok(())
    }

    async fn a_high_return_rate_flags_purchases(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        let watched = pb::Program {
            fraud: Some(pb::FraudPolicy { max_return_rate_percent: "40".into(), min_orders_for_return_rate: 2, ..Default::default() }),
            ..cashback("5", None)
        };
        s.program("r", watched).await?;
        s.enroll("r", "bob").await?;
        s.buy("r", "b-1", "bob", &[("shoes", "50.00")]).await?;
        s.buy("r", "b-2", "bob", &[("shoes", "50.00")]).await?;
        let back = pb::RecordReturnRequest {
            idempotency_key: "rb-1".into(), program_id: "r".into(), order_id: "b-1".into(), return_id: "rb-1".into(),
            lines: vec![pb::ReturnLine { line_id: "l0".into(), quantity: 1 }], occurred_at: None,
        };
        s.accrual.record_return(back).await?;
        let third = s.buy("r", "b-3", "bob", &[("shoes", "50.00")]).await?;
        assert_eq!(third.flags, [pb::FraudFlag::ReturnRate as i32], "1 of 2 orders returned: 50% > 40%");
        assert!(!third.held_for_review, "flag only: the program does not hold");
        assert_eq!(amounts(&third), ["2.50"]);
        Ok(())
    }

    async fn events_tell_thresholds_tiers_and_pending_rewards(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        let tier = |id: &str, name: &str, at: &str| pb::Tier { tier_id: id.into(), name: name.into(), qualifies_at: Some(eur(at)), earn_multiplier: "1".into() };
        let tiered = pb::Program {
            tier_policy: Some(pb::TierPolicy {
                basis: pb::TierBasis::Spend as i32,
                window_days: 365,
                tiers: vec![tier("bronze", "Bronze", "0.00"), tier("silver", "Silver", "100.00"), tier("gold", "Gold", "500.00")],
                nudge_percent: 0, // 80%
            }),
            ..cashback("5", None)
        };
        s.program("t", tiered).await?;
        s.enroll("t", "ann").await?;
        s.enroll("t", "bob").await?;
        let watch = pb::WatchEventsRequest { customer_id: "ann".into(), ..Default::default() };
        let mut events = s.accrual.watch_events(watch).await?.into_inner();
        s.buy("t", "o-1", "ann", &[("shoes", "85.00")]).await?;
        s.buy("t", "o-2", "ann", &[("socks", "20.00")]).await?;
        let mut got = Vec::new();
        while got.len() < 7 {
            let next = tokio::time::timeout(Duration::from_secs(10), events.message()).await??;
            got.push(next.ok_or_else(|| anyhow::anyhow!("stream ended after {got:?}"))?);
        }
        use pb::EventType as E;
        let types: Vec<E> = got.iter().map(|e| e.r#type()).collect();
        assert_eq!(types, [
            E::MemberEnrolled,
            E::PurchaseRecorded, E::RewardPending, E::TierThresholdReached,
            E::PurchaseRecorded, E::RewardPending, E::TierChanged,
        ], "{got:?}");
        assert!(got.iter().all(|e| e.customer_id == "ann" && e.program_id == "t"), "filtered to ann");
        let nudge = &got[3];
        assert_eq!(nudge.message, "spend 15.00 EUR more to reach Silver");
        assert_eq!((nudge.tier_id.as_str(), nudge.amount.clone().map(|m| m.amount)), ("silver", Some("15.00".into())));
        let pending = &got[2];
        assert_eq!(pending.amount.clone().map(|m| m.amount), Some("4.25".into()));
        assert_eq!(pending.release_at, Some(to_timestamp(NOW + 14 * DAY)));
        let changed = &got[6];
        assert_eq!((changed.previous_tier_id.as_str(), changed.tier_id.as_str()), ("bronze", "silver"));
        // Resuming after a cursor gives what followed it, and nothing twice.
        let resumed = pb::WatchEventsRequest { from_cursor: got[4].cursor.clone(), customer_id: "ann".into(), ..Default::default() };
        let mut again = s.accrual.watch_events(resumed).await?.into_inner();
        let next = tokio::time::timeout(Duration::from_secs(10), again.message()).await??;
        assert_eq!(next.map(|e| e.cursor), Some(got[5].cursor.clone()));
        Ok(())
    }

    async fn a_monthly_cap_holds_net_of_returns_and_under_concurrency(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        s.program("capped", monthly_cap("15.00")).await?;
        for c in ["ann", "bob"] {
            s.enroll("capped", c).await?;
        }
        assert_eq!(amounts(&s.buy("capped", "o-1", "ann", &[("shoes", "100.00")]).await?), ["10.00"]);
        let second = s.buy("capped", "o-2", "ann", &[("shoes", "100.00")]).await?;
        assert_eq!(amounts(&second), ["5.00"], "10.00 earned, 5.00 left of 15.00 this month");
        let why = &second.rewards[0].explanations;
        assert!(why.iter().any(|e| e.rule == "period_cap" && e.description.contains("month 2026-06")), "{why:?}");
        // Preview reads the same caps: nothing left this month.
        let preview = pb::PreviewPurchaseRequest { purchase: Some(purchase("capped", "o-p", "ann", &[("shoes", "50.00")], NOW)) };
        let preview = s.accrual.preview_purchase(preview).await?.into_inner();
        assert!(preview.rewards.is_empty(), "{:?}", preview.rewards);
        assert!(preview.skipped.iter().any(|e| e.rule == "period_cap"), "{:?}", preview.skipped);
        let third = s.buy("capped", "o-3", "ann", &[("shoes", "50.00")]).await?;
        assert!(third.rewards.is_empty());
        assert!(third.skipped.iter().any(|e| e.rule == "period_cap"), "{:?}", third.skipped);
        // Returning the second order frees its 5.00 for later purchases this month.
        let back = pb::RecordReturnRequest {
            idempotency_key: "r-2".into(), program_id: "capped".into(), order_id: "o-2".into(), return_id: "r-2".into(),
            lines: vec![pb::ReturnLine { line_id: "l0".into(), quantity: 1 }], occurred_at: None,
        };
        s.accrual.record_return(back).await?;
        assert_eq!(amounts(&s.buy("capped", "o-4", "ann", &[("shoes", "30.00")]).await?), ["3.00"]);
        assert_eq!(s.balance_when("ann", "EUR", ("0.00", "13.00")).await?, ("0.00".into(), "13.00".into()));
        // A purchase the next month starts afresh (recorded once it has happened).
        s.clock.advance(Duration::from_micros((20 * DAY) as u64));
        let next_month = pb::RecordPurchaseRequest {
            idempotency_key: "o-5".into(),
            purchase: Some(purchase("capped", "o-5", "ann", &[("shoes", "100.00")], NOW + 20 * DAY)),
        };
        let fresh = s.accrual.record_purchase(next_month).await?.into_inner();
        assert_eq!(amounts(&fresh), ["10.00"]);

        // Eight concurrent 10.00 rewards against a 15.00 cap: 15.00 in all.
        let buys = (0..8).map(|i| {
            let mut accrual = s.accrual.clone();
            async move {
                let req = pb::RecordPurchaseRequest {
                    idempotency_key: format!("c-{i}"),
                    purchase: Some(purchase("capped", &format!("c-{i}"), "bob", &[("shoes", "100.00")], NOW)),
                };
                let r = accrual.record_purchase(req).await?.into_inner();
                anyhow::Ok(r.rewards.iter().map(|x| x.amount.clone().unwrap_or_default().amount).collect::<Vec<_>>())
            }
        });
        let mut total = rust_decimal::Decimal::ZERO;
        for got in futures::future::join_all(buys).await {
            for a in got? {
                total += a.parse::<rust_decimal::Decimal>()?;
            }
        }
        assert_eq!(total.to_string(), "15.00");
        Ok(())
    }

    async fn earn_rules_thresholds_and_rounding(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        s.program("cb", cashback("5", Some("10"))).await?;
        s.program("pts", points("1")).await?;
        // A per-period amount without its period is refused, not ignored.
        let no_period = pb::Program {
            caps: vec![pb::Cap { asset: "EUR".into(), per_order: None, per_period: Some(eur("50.00")), period: 0 }],
            ..cashback("5", None)
        };
        let refused = s.program("capped", no_period).await.err().and_then(|e| e.downcast::<tonic::Status>().ok());
        assert_eq!(refused.map(|e| e.code()), Some(tonic::Code::InvalidArgument));
        for c in ["ann", "bob", "cat", "dan"] {
            s.enroll("cb", c).await?;
            s.enroll("pts", c).await?;
        }
        let five = s.buy("cb", "o-100", "ann", &[("shoes", "100.00")]).await?;
        assert_eq!(amounts(&five), ["5.00"], "exactly 100.00 is not over 100");
        assert_eq!(five.rewards[0].status, pb::RewardStatus::Pending as i32);
        assert_eq!(amounts(&s.buy("cb", "o-101", "bob", &[("shoes", "100.01")]).await?), ["10.00"], "10% of 100.01 rounds down");
        assert_eq!(amounts(&s.buy("pts", "o-57", "cat", &[("food", "57.99")]).await?), ["57"]);
        let report = s.accrual.get_program_report(pb::GetProgramReportRequest { program_id: "cb".into(), from: None, to: None, repeat_within_days: 0 }).await?.into_inner();
        assert_eq!((report.purchases, report.active_members, report.members_enrolled), (2, 2, 4));
        assert_eq!(report.revenue.map(|m| m.amount), Some("200.01".into()));
        assert_eq!(report.totals.first().and_then(|t| t.issued.clone()).map(|m| m.amount), Some("15.00".into()));
        // The same order again is a replay, not a second reward.
        assert_eq!(amounts(&s.buy("cb", "o-100", "ann", &[("shoes", "100.00")]).await?), ["5.00"]);
        assert_eq!(s.balance_when("ann", "EUR", ("0.00", "5.00")).await?, ("0.00".into(), "5.00".into()));
        // Past the return window the reward is available.
        s.clock.advance(Duration::from_micros((15 * DAY) as u64));
        assert_eq!(s.balance_when("ann", "EUR", ("5.00", "0.00")).await?, ("5.00".into(), "0.00".into()));
        assert_eq!(s.balance_when("bob", "EUR", ("10.00", "0.00")).await?, ("10.00".into(), "0.00".into()));
        // bob spends 4.00 of his: the report reads what became of the program's credits.
        let spend = wpb::PostTransactionRequest {
            idempotency_key: "spend".into(),
            postings: vec![
                wpb::Posting { account: Some(wpb::AccountRef { kind: wpb::AccountKind::Customer as i32, id: "bob".into() }), layer: wpb::Layer::Available as i32, amount: Some(eur("-4.00")) },
                wpb::Posting { account: Some(wpb::AccountRef { kind: wpb::AccountKind::Redemption as i32, id: "shop".into() }), layer: wpb::Layer::Available as i32, amount: Some(eur("4.00")) },
            ],
            source: Some(wpb::Source { kind: "checkout".into(), reference: "c-1".into(), rule_version: "-".into(), inputs: String::new() }),
            description: "checkout".into(),
        };
        s.wallet.post_transaction(spend).await?;
        let report = s.accrual.get_program_report(pb::GetProgramReportRequest { program_id: "cb".into(), from: None, to: None, repeat_within_days: 0 }).await?.into_inner();
        let eur_totals = report.totals.iter().find(|t| t.asset == "EUR").cloned().unwrap_or_default();
        let amount = |m: Option<Money>| m.map(|m| m.amount).unwrap_or_default();
        assert_eq!(
            (amount(eur_totals.available), amount(eur_totals.redeemed), amount(eur_totals.liability), eur_totals.redemption_rate.as_str()),
            ("11.00".into(), "4.00".into(), "11.00".into(), "26.6667")
        );
        assert_eq!(report.average_order_value.map(|m| m.amount), Some("100.00".into()), "200.01 / 2, rounded down");
        Ok(())
    }

    async fn a_return_below_the_threshold_reverses_the_difference(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        s.program("cb", cashback("5", Some("10"))).await?;
        s.enroll("cb", "ann").await?;
        let bought = s.buy("cb", "o-1", "ann", &[("shoes", "90.00"), ("socks", "30.00")]).await?;
        assert_eq!(amounts(&bought), ["12.00"]);
        assert_eq!(s.balance_when("ann", "EUR", ("0.00", "12.00")).await?.1, "12.00");
        let req = pb::RecordReturnRequest {
            idempotency_key: "r-1".into(), program_id: "cb".into(), order_id: "o-1".into(), return_id: "r-1".into(),
            lines: vec![pb::ReturnLine { line_id: "l1".into(), quantity: 1 }], occurred_at: None,
        };
        let returned = s.accrual.record_return(req).await?.into_inner();
        assert_eq!(returned.reversed.iter().map(|m| m.amount.clone()).collect::<Vec<_>>(), ["7.50"], "12.00 down to 5% of 90.00");
        assert_eq!(s.balance_when("ann", "EUR", ("0.00", "4.50")).await?, ("0.00".into(), "4.50".into()));
        let more = pb::RecordReturnRequest {
            idempotency_key: "r-2".into(), program_id: "cb".into(), order_id: "o-1".into(), return_id: "r-2".into(),
            lines: vec![pb::ReturnLine { line_id: "l1".into(), quantity: 1 }], occurred_at: None,
        };
        let refused = s.accrual.record_return(more).await.err().map(|e| e.code());
        assert_eq!(refused, Some(tonic::Code::FailedPrecondition), "returning more than was bought");
        Ok(())
    }

    async fn a_gold_member_on_a_double_points_day_in_a_boosted_category(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        let mut p = points("1");
        p.category_multipliers = vec![pb::CategoryMultiplier { category: "green".into(), multiplier: "2".into() }];
        p.tier_policy = Some(pb::TierPolicy {
            basis: pb::TierBasis::Spend as i32,
            window_days: 365,
            tiers: vec![pb::Tier { tier_id: "gold".into(), name: "Gold".into(), qualifies_at: Some(eur("0.00")), earn_multiplier: "1.5".into() }],
            nudge_percent: 0,
        });
        s.program("pts", p).await?;
        s.enroll("pts", "ann").await?;
        let spec = cpb::CampaignSpec {
            name: "Double points Monday".into(),
            terms: "Double points all day.".into(),
            schedule: Some(cpb::Schedule {
                timezone: "Europe/Rome".into(),
                starts_at: Some(to_timestamp(NOW - DAY)),
                ends_at: Some(to_timestamp(NOW + DAY)),
                windows: vec![],
            }),
            effect: Some(cpb::Effect { kind: Some(cpb::effect::Kind::PointsMultiplier(cpb::PointsMultiplier { multiplier: "2".into() })) }),
            budgets: vec![cpb::Budget { total: Some(Money { amount: "100000".into(), asset: "PTS".into() }), per_day: None, low_percent: None }],
            ..Default::default()
        };
        s.campaign.create_campaign(cpb::CreateCampaignRequest { idempotency_key: "c".into(), campaign_id: "double".into(), spec: Some(spec) }).await?;
        s.campaign.schedule_campaign(cpb::ScheduleCampaignRequest { idempotency_key: "s".into(), campaign_id: "double".into() }).await?;
        let bought = s.buy("pts", "o-1", "ann", &[("green", "100.00")]).await?;
        // 100 EUR x 1 PTS x2 (green) x1.5 (gold) = 300; the campaign doubles it: +300.
        assert_eq!(amounts(&bought), ["300", "300"]);
        let rules: Vec<String> = bought.rewards[0].explanations.iter().map(|e| e.rule.clone()).collect();
        assert_eq!(rules, ["base_earn", "category_multiplier", "tier_multiplier", "rounding"]);
        assert_eq!(bought.rewards[1].campaign_id, "double");
        assert_eq!(s.balance_when("ann", "PTS", ("0", "600")).await?.1, "600");
        let report = s.campaign.get_campaign_report(cpb::GetCampaignReportRequest { campaign_id: "double".into(), ..Default::default() }).await?.into_inner();
        eventually("the budget confirmation", || {
            let mut c = s.campaign.clone();
            async move {
                let r = c.get_campaign_report(cpb::GetCampaignReportRequest { campaign_id: "double".into(), ..Default::default() }).await?.into_inner();
                Ok(r.budgets.first().and_then(|b| b.confirmed.clone()).map(|m| m.amount) == Some("300".into()))
            }
        }).await?;
        assert_eq!(report.participants, 1);

        // An order placed within the campaign's dates but before it was
        // scheduled, recorded now: the campaign's terms were not yet in force,
        // so it gives nothing, and the answer says why.
        let early = pb::RecordPurchaseRequest { idempotency_key: "buy-early".into(), purchase: Some(purchase("pts", "o-early", "ann", &[("green", "100.00")], NOW - DAY / 2)) };
        let early = s.accrual.record_purchase(early).await?.into_inner();
        assert_eq!(amounts(&early), ["300"]);
        let why: Vec<(&str, &str)> = early.skipped.iter().map(|e| (e.source_ref.as_str(), e.skip_reason.as_str())).collect();
        let at = jiff::Timestamp::from_microsecond(NOW)?;
        assert_eq!(why, [("campaign:double@1", format!("scheduled at {at}, after this purchase: its terms apply to purchases from then").as_str())]);
        Ok(())
    }

    async fn a_campaign_report_says_what_its_orders_brought_in_and_cost(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        let mut p = points("1");
        // 100 PTS are worth 5.00 EUR: a point costs 0.05 EUR.
        p.conversion = Some(pb::Conversion { points: Some(Money { amount: "100".into(), asset: "PTS".into() }), value: Some(eur("5.00")) });
        s.program("pts", p).await?;
        s.enroll("pts", "ann").await?;
        let spec = cpb::CampaignSpec {
            name: "Double points".into(),
            terms: "Double points all day.".into(),
            schedule: Some(cpb::Schedule { timezone: "Europe/Rome".into(), starts_at: Some(to_timestamp(NOW - DAY)), ends_at: Some(to_timestamp(NOW + DAY)), windows: vec![] }),
            effect: Some(cpb::Effect { kind: Some(cpb::effect::Kind::PointsMultiplier(cpb::PointsMultiplier { multiplier: "2".into() })) }),
            budgets: vec![cpb::Budget { total: Some(Money { amount: "100000".into(), asset: "PTS".into() }), per_day: None, low_percent: None }],
            ..Default::default()
        };
        // A second campaign: a 1.00 EUR bonus per order, which a partial return leaves whole.
        let bonus = cpb::CampaignSpec {
            name: "A euro back".into(),
            effect: Some(cpb::Effect { kind: Some(cpb::effect::Kind::FixedBonus(cpb::FixedBonus { amount: Some(eur("1.00")) })) }),
            budgets: vec![cpb::Budget { total: Some(eur("100.00")), per_day: None, low_percent: None }],
            ..spec.clone()
        };
        s.campaign.create_campaign(cpb::CreateCampaignRequest { idempotency_key: "c".into(), campaign_id: "double".into(), spec: Some(spec) }).await?;
        s.campaign.schedule_campaign(cpb::ScheduleCampaignRequest { idempotency_key: "s".into(), campaign_id: "double".into() }).await?;
        s.campaign.create_campaign(cpb::CreateCampaignRequest { idempotency_key: "c2".into(), campaign_id: "euro".into(), spec: Some(bonus) }).await?;
        s.campaign.schedule_campaign(cpb::ScheduleCampaignRequest { idempotency_key: "s2".into(), campaign_id: "euro".into() }).await?;
        // 150.00 EUR in two orders; the campaign gives 100 + 50 PTS more.
        s.buy("pts", "o-1", "ann", &[("shoes", "60.00"), ("bags", "40.00")]).await?;
        s.buy("pts", "o-2", "ann", &[("shoes", "50.00")]).await?;
        let reports = s.campaign.clone();
        let revenue_of = |campaign: &'static str, want: &'static str| {
            let c = reports.clone();
            move || {
                let mut c = c.clone();
                async move {
                    let r = c.get_campaign_report(cpb::GetCampaignReportRequest { campaign_id: campaign.into(), ..Default::default() }).await?.into_inner();
                    Ok(r.attribution.first().and_then(|a| a.revenue.clone()).map(|m| m.amount) == Some(want.into()))
                }
            }
        };
        let attribution = |want: &'static str| revenue_of("double", want);
        eventually("both orders confirmed", attribution("150.00")).await?;
        eventually("both bonuses confirmed", revenue_of("euro", "150.00")).await?;
        let r = s.campaign.get_campaign_report(cpb::GetCampaignReportRequest { campaign_id: "double".into(), ..Default::default() }).await?.into_inner();
        // Cost: 150 PTS x 0.05 = 7.50 EUR; ROI (150.00 - 7.50) / 7.50 = 19.
        let want = cpb::Attribution { currency: "EUR".into(), orders: 2, revenue: Some(eur("150.00")), cost: Some(eur("7.50")), roi: "19".into(), unpriced: vec![] };
        assert_eq!((r.attribution.clone(), r.attributed_revenue.clone(), r.rewarded_orders), (vec![want.clone()], Some(eur("150.00")), 2));
        assert_eq!(r.variants.first().map(|v| v.attribution.clone()), Some(vec![want.clone()]));
        // Where the orders were placed: both online, no store.
        let places: Vec<(i32, String, Vec<cpb::Attribution>)> = r.places.iter().map(|p| (p.channel, p.store_id.clone(), p.attribution.clone())).collect();
        assert_eq!(places, [(Channel::Online as i32, String::new(), vec![want])]);
        // The bags (40.00) come back: 40 PTS of the campaign's go back with
        // them, and its revenue is the order's 60.00 left.
        let back = pb::RecordReturnRequest {
            idempotency_key: "r-1".into(), program_id: "pts".into(), order_id: "o-1".into(), return_id: "r-1".into(),
            lines: vec![pb::ReturnLine { line_id: "l1".into(), quantity: 1 }], occurred_at: None,
        };
        s.accrual.record_return(back).await?;
        eventually("the return's release", attribution("110.00")).await?;
        let r = s.campaign.get_campaign_report(cpb::GetCampaignReportRequest { campaign_id: "double".into(), ..Default::default() }).await?.into_inner();
        let a = r.attribution.first().cloned().unwrap_or_default();
        assert_eq!((a.orders, a.cost, a.roi.as_str()), (2, Some(eur("5.50")), "19"));
        // The bonus stays whole (1.00 EUR an order), yet its orders are worth 110.00 now.
        eventually("the bonus campaign told the order's worth", revenue_of("euro", "110.00")).await?;
        let r = s.campaign.get_campaign_report(cpb::GetCampaignReportRequest { campaign_id: "euro".into(), ..Default::default() }).await?.into_inner();
        let a = r.attribution.first().cloned().unwrap_or_default();
        assert_eq!((a.orders, a.cost, a.roi.as_str()), (2, Some(eur("2.00")), "54"));
        // Over a period: only the reservations made in it; budgets as they stand.
        let since = |from: i64| cpb::GetCampaignReportRequest { campaign_id: "euro".into(), from: Some(to_timestamp(from)), to: None };
        let later = s.campaign.get_campaign_report(since(NOW + 1)).await?.into_inner();
        assert_eq!((later.attribution.len(), later.rewarded_orders, later.participants), (0, 0, 0));
        assert_eq!(later.budgets, r.budgets);
        let all = s.campaign.get_campaign_report(since(NOW)).await?.into_inner();
        assert_eq!((all.attribution, all.rewarded_orders), (r.attribution, 2));
        // The rewards export names each reward's campaign and tax treatment.
        let ask = pb::ExportRowsRequest { program_id: "pts".into(), kind: pb::ExportKind::Rewards as i32, format: pb::ExportFormat::Ndjson as i32, from: None, to: None };
        let mut chunks = s.accrual.export_rows(ask).await?.into_inner();
        let mut text = Vec::new();
        while let Some(c) = chunks.message().await? {
            text.extend(c.data);
        }
        let rows: Vec<serde_json::Value> = String::from_utf8(text)?.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
        let of_o1: Vec<(String, String, String, String)> = rows
            .iter()
            .filter(|r| r["order_id"] == "o-1")
            .map(|r| [&r["kind"], &r["campaign_id"], &r["net"], &r["tax_treatment"]].map(|v| v.as_str().unwrap_or_default().to_owned()).into())
            .collect();
        assert_eq!(of_o1, [
            ("base".into(), String::new(), "60".into(), "none".into()),
            ("campaign".into(), "double".into(), "60".into(), "none".into()),
            ("campaign".into(), "euro".into(), "1.00".into(), "discount".into()),
        ]);
        Ok(())
    }

    async fn welcome_once_and_birthday_once_a_year(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        let mut p = points("1");
        p.welcome_bonus = Some(Money { amount: "50".into(), asset: "PTS".into() });
        p.birthday_bonus = Some(Money { amount: "10".into(), asset: "PTS".into() });
        s.program("pts", p).await?;
        for key in ["e1", "e2"] {
            s.accrual.enroll_member(pb::EnrollMemberRequest {
                idempotency_key: key.into(), program_id: "pts".into(), customer_id: "ann".into(), birthday: "06-15".into(), ..Default::default()
            }).await?;
        }
        // Enrolled on her birthday: 50 welcome + 10 birthday, once each.
        assert_eq!(s.balance_when("ann", "PTS", ("60", "0")).await?.0, "60");
        for key in ["u1", "u2"] {
            s.accrual.update_member(pb::UpdateMemberRequest {
                idempotency_key: key.into(),
                member: Some(pb::Member { program_id: "pts".into(), customer_id: "ann".into(), birthday: if key == "u1" { "06-16" } else { "06-15" }.into(), ..Default::default() }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["birthday".into()] }),
            }).await?;
        }
        s.clock.advance(Duration::from_micros((2 * DAY) as u64));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(s.balance_when("ann", "PTS", ("60", "0")).await?.0, "60", "still one birthday bonus this year");
        // Next year: another.
        s.clock.advance(Duration::from_micros((365 * DAY) as u64));
        assert_eq!(s.balance_when("ann", "PTS", ("70", "0")).await?.0, "70");
        Ok(())
    }

    async fn points_convert_in_whole_blocks(backend) -> anyhow::Result<()> {
        let mut s = Stack::start(backend, true).await?;
        let mut p = points("1");
        p.conversion = Some(pb::Conversion { points: Some(Money { amount: "100".into(), asset: "PTS".into() }), value: Some(eur("5.00")) });
        s.program("pts", p).await?;
        s.enroll("pts", "ann").await?;
        s.wallet.credit(wpb::CreditRequest {
            idempotency_key: "seed".into(), customer_id: "ann".into(), amount: Some(Money { amount: "150".into(), asset: "PTS".into() }), ..Default::default()
        }).await?;
        let done = s.accrual.convert_points(pb::ConvertPointsRequest {
            idempotency_key: "cv".into(), program_id: "pts".into(), customer_id: "ann".into(), points: Some(Money { amount: "150".into(), asset: "PTS".into() }),
        }).await?.into_inner();
        assert_eq!(done.points_spent.map(|m| m.amount), Some("100".into()));
        assert_eq!(done.credited.map(|m| m.amount), Some("5.00".into()));
        assert_eq!(s.balance_when("ann", "PTS", ("50", "0")).await?.0, "50");
        assert_eq!(s.balance_when("ann", "EUR", ("5.00", "0.00")).await?.0, "5.00");
        Ok(())
    }

    async fn a_killed_accrual_process_credits_exactly_once_after_restart(backend) -> anyhow::Result<()> {
        let s = Stack::start(backend, false).await?;
        let cfg = accrual_config(&s.accrual_db, s.wallet_addr, s.campaign_addr, false)?;
        // First life: the relay is off, so the purchase is stored and its credit waits in the outbox.
        let mut child = Child::spawn(&cfg, false)?;
        let mut accrual = child.client().await?;
        accrual.upsert_program(pb::UpsertProgramRequest { idempotency_key: "p".into(), program: Some(pb::Program { program_id: "cb".into(), ..cashback("5", None) }), ..Default::default() }).await?;
        accrual.enroll_member(pb::EnrollMemberRequest { idempotency_key: "e".into(), program_id: "cb".into(), customer_id: "ann".into(), ..Default::default() }).await?;
        let order = pb::RecordPurchaseRequest { idempotency_key: "o".into(), purchase: Some(purchase("cb", "o-1", "ann", &[("shoes", "100.00")], boomerang_common::time::now_micros())) };
        accrual.record_purchase(order).await?;
        child.kill()?; // SIGKILL: no shutdown, no flush
        let mut s = s;
        let before = s.wallet.list_entries(wpb::ListEntriesRequest { customer_id: "ann".into(), ..Default::default() }).await?.into_inner();
        assert!(before.entries.is_empty(), "nothing credited before the restart");
        // Second life, with the relay: the stored credit is delivered once.
        let mut child = Child::spawn(&cfg, true)?;
        child.client().await?;
        assert_eq!(s.balance_when("ann", "EUR", ("0.00", "5.00")).await?, ("0.00".into(), "5.00".into()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        child.kill()?;
        let entries = s.wallet.list_entries(wpb::ListEntriesRequest { customer_id: "ann".into(), ..Default::default() }).await?.into_inner();
        assert_eq!(entries.entries.len(), 1, "exactly one credit");
        Ok(())
    }
}

/// accrual-svc as a real process, configured through its environment.
struct Child {
    process: std::process::Child,
    addr: SocketAddr,
}

impl Child {
    fn spawn(cfg: &accrual_svc::Config, relay: bool) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_accrual-svc"));
        cmd.env("BOOMERANG_ACCRUAL__SERVER__LISTEN", addr.to_string())
            .env("BOOMERANG_ACCRUAL__DATABASE__URL", &cfg.database.url)
            .env(
                "BOOMERANG_ACCRUAL__UPSTREAMS__WALLET",
                &cfg.upstreams.wallet,
            )
            .env(
                "BOOMERANG_ACCRUAL__UPSTREAMS__CAMPAIGN",
                &cfg.upstreams.campaign,
            )
            .env("BOOMERANG_ACCRUAL__RELAY", relay.to_string())
            .env(
                "BOOMERANG_ACCRUAL__INTERNAL_AUTH__KEY",
                &cfg.internal_auth.key,
            )
            .env("BOOMERANG_ACCRUAL__JOBS__POLL_INTERVAL_MS", "10")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null());
        if let Some(schema) = &cfg.database.schema {
            cmd.env("BOOMERANG_ACCRUAL__DATABASE__SCHEMA", schema);
        }
        Ok(Self {
            process: cmd.spawn()?,
            addr,
        })
    }

    async fn client(&mut self) -> anyhow::Result<Accrual> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(c) = channel(self.addr).await {
                return Ok(AccrualServiceClient::with_interceptor(
                    c,
                    AsTenant::new("accrual", "acme")?,
                ));
            }
            if let Some(status) = self.process.try_wait()? {
                anyhow::bail!("accrual-svc exited: {status}");
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "accrual-svc did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill(&mut self) -> anyhow::Result<()> {
        self.process.kill()?;
        self.process.wait()?;
        Ok(())
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
