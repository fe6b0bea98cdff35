//! The what-if, through the gateway, on both backends: a thousand purchases
//! recorded (a tenth of them returned), then priced again under the live
//! program (nothing changes) and under a richer draft (the delta a
//! computation in this test expects, net of returns), by the API and by
//! `boomerang plan`.
mod support;

use boomerang_common::{backend_tests, testing::channel};
use boomerang_proto::{
    accrual::v1::{
        self as apb, accrual_service_client::AccrualServiceClient,
        simulation_service_client::SimulationServiceClient,
    },
    common::v1::Channel as Ch,
};
use support::{cli, enrol_and_record, shop::eur, start, with_key};

const ORDERS: i64 = 1_000;
const CUSTOMERS: i64 = 20;

/// Whether order `i`'s shoes came back (a tenth of the orders).
fn returned(i: i64) -> bool {
    i % 10 == 5
}

/// Order `i`: shoes at a price between 10.00 and 209.99 EUR, every third
/// with a gift card (which never earns), online or in store.
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
    let mut lines = vec![line("1", "shoes", cents)];
    if i % 3 == 0 {
        lines.push(line("2", "gift_card", 2_500));
    }
    let channel = if i % 2 == 0 { Ch::Online } else { Ch::Store };
    (
        cents,
        apb::Purchase {
            program_id: "demo".into(),
            order_id: format!("o-{i}"),
            customer_id: format!("c{:02}", i % CUSTOMERS),
            currency: "EUR".into(),
            lines,
            channel: channel as i32,
            ..Default::default()
        },
    )
}

/// Cashback in cents of an order of `cents` at `base`‰ of it, `over`‰ above 100.00 EUR.
fn cashback(cents: i64, (base, over): (i64, i64)) -> i64 {
    cents * if cents > 10_000 { over } else { base } / 1_000
}

fn text(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

fn eur_delta(sim: &apb::SimulateProgramResponse) -> (String, String, String) {
    let t = sim
        .totals
        .iter()
        .find(|t| t.asset == "EUR")
        .cloned()
        .unwrap_or_default();
    let a = |m: Option<boomerang_proto::common::v1::Money>| m.map(|m| m.amount).unwrap_or_default();
    (a(t.granted), a(t.simulated), a(t.delta))
}

backend_tests! {
    async fn a_draft_is_priced_over_a_thousand_recorded_purchases(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        suite.demo_program("shop").await?;
        let gateway = suite.addrs().gateway;
        let orders: Vec<(i64, apb::Purchase)> = (0..ORDERS).map(order).collect();
        enrol_and_record(gateway, &key, CUSTOMERS, orders.iter().map(|o| o.1.clone()).collect()).await?;
        let mut accrual = AccrualServiceClient::new(channel(gateway).await?);
        for i in (0..ORDERS).filter(|i| returned(*i)) {
            let back = apb::RecordReturnRequest { idempotency_key: format!("r-{i}"), program_id: "demo".into(), order_id: format!("o-{i}"), return_id: "r".into(), lines: vec![apb::ReturnLine { line_id: "1".into(), quantity: 1 }], occurred_at: None };
            accrual.record_return(with_key(back, &key)?).await?;
        }
        // What the orders kept earn (a gift card never does).
        let recorded: Vec<i64> = orders.iter().enumerate().map(|(i, o)| if returned(i as i64) { 0 } else { o.0 }).collect();
        let live_cents: i64 = recorded.iter().map(|c| cashback(*c, (50, 100))).sum();
        let draft_cents: i64 = recorded.iter().map(|c| cashback(*c, (75, 120))).sum();

        // A key that may only read may ask: nothing is written.
        let reader = suite.create_key("shop", &["accrual:read"]).await?;
        let mut sims = SimulationServiceClient::new(channel(gateway).await?);
        let get = apb::GetProgramRequest { program_id: "demo".into(), version: 0 };
        let live = accrual.get_program(with_key(get, &reader)?).await?.into_inner().program.unwrap_or_default();
        let ask = |program: apb::Program| apb::SimulateProgramRequest { program: Some(program), ..Default::default() };
        let same = sims.simulate_program(with_key(ask(live.clone()), &reader)?).await?.into_inner();
        assert_eq!(same.purchases, ORDERS as u64);
        assert_eq!(eur_delta(&same), (text(live_cents), text(live_cents), "0.00".into()), "granted as this test computes it");
        assert!(same.totals.iter().all(|t| t.granted == t.simulated), "{:?}", same.totals);
        assert_eq!(same.cost_delta.as_ref().map(|m| m.amount.as_str()), Some("0.00"));
        assert!(same.top_customers.is_empty());

        // 7.5% instead of 5%, 12% over 100 EUR instead of 10%.
        let mut draft = live.clone();
        draft.earn_rules[0].rate = "7.5".into();
        draft.thresholds[0].rate = "12".into();
        let sim = sims.simulate_program(with_key(ask(draft), &reader)?).await?.into_inner();
        let delta = draft_cents - live_cents;
        assert_eq!(eur_delta(&sim), (text(live_cents), text(draft_cents), text(delta)));
        assert!(sim.totals.iter().filter(|t| t.asset != "EUR").all(|t| t.granted == t.simulated), "points unchanged");
        assert_eq!(sim.cost_delta.as_ref().map(|m| m.amount.clone()), Some(text(delta)));
        let by_channel: Vec<(String, u64)> = sim.by_channel.iter().map(|s| (s.key.clone(), s.purchases)).collect();
        assert_eq!(by_channel, [("online".into(), 500), ("store".into(), 500)]);
        // Gift cards never earn: the whole change is the shoes'.
        let by_category: Vec<(String, u64, String)> = sim.by_category.iter().map(|s| (s.key.clone(), s.purchases, s.cost_delta.clone().unwrap_or_default().amount)).collect();
        assert_eq!(by_category, [("gift_card".into(), 334, "0.00".into()), ("shoes".into(), 1_000, text(delta))]);
        assert_eq!(sim.top_customers.len(), 10);
        let c00: i64 = (0..ORDERS).filter(|i| i % CUSTOMERS == 0 && !returned(*i)).map(|i| {
            let c = order(i).0;
            cashback(c, (75, 120)) - cashback(c, (50, 100))
        }).sum();
        let listed = sim.top_customers.iter().find(|c| c.customer_id == "c00").and_then(|c| c.cost_delta.clone());
        if let Some(m) = listed {
            assert_eq!(m.amount, text(c00));
        }

        // A draft in another currency is refused: the purchases are in EUR.
        let mut yen = live.clone();
        yen.currency = "JPY".into();
        let refused = sims.simulate_program(with_key(ask(yen), &reader)?).await.err().map(|e| e.code());
        assert_eq!(refused, Some(tonic::Code::InvalidArgument));

        // `boomerang plan` shows the same what-if under the change.
        let dir = tempfile::tempdir()?;
        let gateway_url = format!("http://{gateway}");
        let (ok, exported, err) = cli(&["get", "program", "demo"], &gateway_url, &key).await?;
        assert!(ok, "{err}");
        let yaml = exported
            .replacen("rate: \"5\"", "rate: 7.5", 1)
            .replacen("rate: \"10\"", "rate: 12", 1);
        std::fs::write(dir.path().join("demo.yaml"), yaml)?;
        let (ok, out, err) = cli(&["plan", "-f", &dir.path().display().to_string()], &gateway_url, &key).await?;
        assert!(ok, "{out}{err}");
        assert!(out.contains(&format!("what-if over the {ORDERS} purchases")), "{out}");
        assert!(out.contains(&format!("EUR: granted {}, would be {} (+{})", text(live_cents), text(draft_cents), text(delta))), "{out}");

        // Once a version 2 is live, the purchases version 1 priced are said so.
        let mut v2 = live.clone();
        v2.name = "Renamed".into();
        let req = apb::UpsertProgramRequest { idempotency_key: "v2".into(), program: Some(v2.clone()), ..Default::default() };
        accrual.upsert_program(with_key(req, &key)?).await?;
        let after = sims.simulate_program(with_key(ask(v2), &reader)?).await?.into_inner();
        assert_eq!((after.purchases, after.purchases_by_other_versions), (ORDERS as u64, ORDERS as u64));
        assert_eq!(eur_delta(&after).2, "0.00");
        suite.stop().await
    }
}
