//! The campaign what-if, through the gateway, on both backends: purchases
//! rewarded by a live campaign priced again under it (nothing changes) and
//! under a richer draft with a smaller budget (it runs out: what it spends
//! and cannot give, as this test computes them).
mod support;

use std::time::{Duration, SystemTime};

use boomerang_common::{backend_tests, testing::channel};
use boomerang_proto::{
    accrual::v1::{self as apb, simulation_service_client::SimulationServiceClient},
    campaign::v1::{self as cpb, campaign_service_client::CampaignServiceClient},
    common::v1::Channel as Ch,
};
use support::{cli, enrol_and_record, shop::eur, simulation_done, start, with_key};
use tonic_types::StatusExt as _;

const ORDERS: i64 = 200;

/// Order `i`: shoes between 10.00 and 209.99 EUR, and a gift card that
/// never earns.
fn order(i: i64) -> (i64, apb::Purchase) {
    let cents = 1_000 + (i * 7_919) % 20_000;
    let line = |id: &str, category: &str, cents: i64| apb::PurchaseLine {
        line_id: id.into(),
        sku: "s".into(),
        category: category.into(),
        unit_price: eur(&format!("{}.{:02}", cents / 100, cents % 100)),
        quantity: 1,
        discount: None,
    };
    let purchase = apb::Purchase {
        program_id: "demo".into(),
        order_id: format!("o-{i}"),
        customer_id: format!("c{:02}", i % 10),
        currency: "EUR".into(),
        lines: vec![line("1", "shoes", cents), line("2", "gift_card", 2_500)],
        channel: Ch::Online as i32,
        ..Default::default()
    };
    (cents, purchase)
}

/// `percent` more on shoes, with a budget of `budget` EUR, running since an hour ago.
fn spec(percent: &str, budget: &str) -> cpb::CampaignSpec {
    let at = |t: SystemTime| Some(prost_types::Timestamp::from(t));
    let now = SystemTime::now();
    cpb::CampaignSpec {
        name: "Shoes".into(),
        terms: "More on shoes while the budget lasts.".into(),
        schedule: Some(cpb::Schedule {
            timezone: "Europe/Rome".into(),
            starts_at: at(now - Duration::from_secs(3_600)),
            ends_at: at(now + Duration::from_secs(30 * 86_400)),
            windows: vec![],
        }),
        effect: Some(cpb::Effect {
            kind: Some(cpb::effect::Kind::ExtraPercent(cpb::ExtraPercent {
                asset: "EUR".into(),
                percent: percent.into(),
            })),
        }),
        conditions: Some(cpb::Conditions {
            categories: vec!["shoes".into()],
            ..Default::default()
        }),
        budgets: vec![cpb::Budget {
            total: eur(budget),
            per_day: None,
            low_percent: None,
        }],
        ..Default::default()
    }
}

fn text(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

fn amount(m: Option<&boomerang_proto::common::v1::Money>) -> String {
    m.map(|m| m.amount.clone()).unwrap_or_default()
}

backend_tests! {
    async fn a_campaign_draft_is_priced_over_the_purchases_it_rewarded(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        suite.demo_program("shop").await?;
        let gateway = suite.addrs().gateway;
        let mut campaigns = CampaignServiceClient::new(channel(gateway).await?);
        let live = spec("2", "1000.00");
        let create = cpb::CreateCampaignRequest { idempotency_key: "c".into(), campaign_id: "shoes".into(), spec: Some(live.clone()), ..Default::default() };
        campaigns.create_campaign(with_key(create, &key)?).await?;
        let schedule = cpb::ScheduleCampaignRequest { idempotency_key: "s".into(), campaign_id: "shoes".into() };
        campaigns.schedule_campaign(with_key(schedule, &key)?).await?;

        let orders: Vec<(i64, apb::Purchase)> = (0..ORDERS).map(order).collect();
        enrol_and_record(gateway, &key, 10, orders.iter().map(|o| o.1.clone()).collect()).await?;
        let recorded: Vec<i64> = orders.iter().map(|o| o.0).collect();
        // Percent of the shoes, rounded down (the program's mode).
        let given = |percent: i64| -> i64 { recorded.iter().map(|c| c * percent / 100).sum() };

        let reader = suite.create_key("shop", &["accrual:read"]).await?;
        let mut sims = SimulationServiceClient::new(channel(gateway).await?);
        let ask = |spec: cpb::CampaignSpec| apb::SimulateCampaignRequest { program_id: "demo".into(), campaign_id: "shoes".into(), spec: Some(spec), ..Default::default() };
        let same = sims.simulate_campaign(with_key(ask(live.clone()), &reader)?).await?.into_inner();
        assert_eq!(same.purchases, ORDERS as u64);
        let eur = same.totals.iter().find(|t| t.asset == "EUR").cloned().unwrap_or_default();
        assert_eq!((amount(eur.granted.as_ref()), amount(eur.delta.as_ref())), (text(given(2)), "0.00".into()));
        assert_eq!(amount(same.cost_delta.as_ref()), "0.00");
        let run = same.budgets.first().cloned().unwrap_or_default();
        assert_eq!((amount(run.spent.as_ref()), amount(run.short.as_ref()), run.runs_out_on.as_str()), (text(given(2)), "0.00".into(), ""));
        assert!(run.ran_out_at.is_none(), "the live budget lasted");

        // As a job over the same window: the same answer.
        let job = apb::StartSimulationRequest { idempotency_key: "job".into(), what: Some(apb::start_simulation_request::What::Campaign(apb::SimulateCampaignRequest { from: same.from, to: same.to, ..ask(live.clone()) })) };
        let started = sims.start_simulation(with_key(job, &key)?).await?.into_inner().simulation.unwrap_or_default();
        let done = simulation_done(&mut sims, &started.simulation_id, &key).await?;
        assert_eq!(done.answer, Some(apb::simulation::Answer::Campaign(same.clone())), "{}", done.error);

        // 5% with a budget of 100.00 EUR: it runs out, today.
        let sim = sims.simulate_campaign(with_key(ask(spec("5", "100.00")), &reader)?).await?.into_inner();
        let eur = sim.totals.iter().find(|t| t.asset == "EUR").cloned().unwrap_or_default();
        assert_eq!(amount(eur.simulated.as_ref()), "100.00");
        assert_eq!(amount(sim.cost_delta.as_ref()), text(10_000 - given(2)));
        let run = sim.budgets.first().cloned().unwrap_or_default();
        assert_eq!((amount(run.spent.as_ref()), amount(run.short.as_ref())), ("100.00".into(), text(given(5) - 10_000)));
        let at = run.runs_out_at.ok_or_else(|| anyhow::anyhow!("no run-out: {run:?}"))?;
        let day = jiff::Timestamp::new(at.seconds, at.nanos)?.to_zoned(jiff::tz::TimeZone::get("Europe/Rome")?).date().to_string();
        assert_eq!(run.runs_out_on, day);
        let arms: Vec<(String, u64)> = sim.by_variant.iter().map(|s| (s.key.clone(), s.purchases)).collect();
        assert_eq!(arms, [(String::new(), ORDERS as u64)]);

        // Limited to the store (the purchases are online): nothing given.
        let mut in_store = live.clone();
        in_store.conditions = Some(cpb::Conditions { categories: vec!["shoes".into()], channels: vec![Ch::Store as i32], ..Default::default() });
        let none = sims.simulate_campaign(with_key(ask(in_store), &reader)?).await?.into_inner();
        let eur = none.totals.iter().find(|t| t.asset == "EUR").cloned().unwrap_or_default();
        assert_eq!((none.purchases, amount(eur.simulated.as_ref()), none.not_priced.len()), (ORDERS as u64, "0.00".into(), 0));
        // Wider than the live campaign: priced on what it rewarded, and said so.
        let mut wider = live.clone();
        wider.conditions = None;
        let sim = sims.simulate_campaign(with_key(ask(wider), &reader)?).await?.into_inner();
        assert_eq!(sim.not_priced, ["purchases the live campaign did not reward are not priced, though the draft admits more (categories)"]);

        // campaign-svc's refusals, at the request's fields.
        let mut bad = spec("5", "100.00");
        bad.name = "x".repeat(500);
        let refused = sims.simulate_campaign(with_key(ask(bad), &reader)?).await.err();
        let fields: Vec<String> = refused.as_ref().and_then(|s| s.get_details_bad_request()).map(|b| b.field_violations.into_iter().map(|f| f.field).collect()).unwrap_or_default();
        assert_eq!(fields, ["spec.name"], "{refused:?}");

        // `boomerang plan` shows it under the campaign's change, over the
        // purchases of the program in the same files.
        let dir = tempfile::tempdir()?;
        let url = format!("http://{gateway}");
        for (file, args) in [("demo.yaml", ["get", "program", "demo"]), ("shoes.yaml", ["get", "campaign", "shoes"])] {
            let (ok, exported, err) = cli(&args, &url, &key).await?;
            assert!(ok, "{err}");
            let edited = exported.replacen("percent: \"2\"", "percent: \"5\"", 1).replacen("\"1000.00\"", "\"100.00\"", 1);
            std::fs::write(dir.path().join(file), edited)?;
        }
        let (ok, out, err) = cli(&["plan", "-f", &dir.path().display().to_string()], &url, &key).await?;
        assert!(ok, "{out}{err}");
        assert!(out.contains(&format!("what-if over the {ORDERS} purchases of program demo it rewarded")), "{out}");
        assert!(out.contains(&format!("EUR: granted {}, would be 100.00 ({})", text(given(2)), text(10_000 - given(2)))), "{out}");
        assert!(out.contains(&format!("budget 100.00 EUR: 100.00 spent, would run out on {day} ({} not given)", text(given(5) - 10_000))), "{out}");
        suite.stop().await
    }
}
