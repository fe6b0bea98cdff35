//! The program report's engagement figures through the gateway, on both
//! backends, each recomputed here from the purchases the test recorded:
//! omnichannel members, coming back within N days, purchases per channel,
//! and retention cohorts by enrolment month; and the tax report (cashback as
//! a price discount, per channel and store).
mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use boomerang_common::{
    backend_tests,
    testing::{channel, eventually},
    time::{Clock, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient},
    common::v1::{Channel as Ch, Money},
};
use support::{start_with_clock, with_key};
use tonic::transport::Channel;

const DAY: i64 = 86_400_000_000;

/// A purchase as the test recorded it: (customer, channel, cents, when).
type Bought = (&'static str, Ch, i64, i64);

fn at(rfc3339: &str) -> i64 {
    rfc3339
        .parse::<jiff::Timestamp>()
        .map_or(0, |t| t.as_microsecond())
}

/// "2026-01" of an instant (the test buys at midday UTC, far from month ends,
/// so the UTC month is the program's month in Rome).
fn month(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map_or_else(|_| String::new(), |t| t.strftime("%Y-%m").to_string())
}

/// The month `k` months after `m` ("2026-01" + 3 = "2026-04").
fn plus(m: &str, k: i32) -> String {
    let (y, mo) = m.split_once('-').unwrap_or(("0", "0"));
    let n = y.parse::<i32>().unwrap_or(0) * 12 + mo.parse::<i32>().unwrap_or(1) - 1 + k;
    format!("{:04}-{:02}", n / 12, n % 12 + 1)
}

fn percent(n: usize, of: usize) -> String {
    if of == 0 {
        return String::new();
    }
    let d = rust_decimal::Decimal::from(n * 100) / rust_decimal::Decimal::from(of);
    d.round_dp(4).normalize().to_string()
}

struct Shop {
    accrual: AccrualServiceClient<Channel>,
    key: String,
    clock: Clock,
    bought: Vec<Bought>,
    enrolled: Vec<(&'static str, i64)>,
}

impl Shop {
    async fn enroll(&mut self, customer: &'static str) -> anyhow::Result<()> {
        let req = apb::EnrollMemberRequest {
            idempotency_key: format!("e-{customer}"),
            program_id: "demo".into(),
            customer_id: customer.into(),
            ..Default::default()
        };
        self.accrual
            .enroll_member(with_key(req, &self.key)?)
            .await?;
        self.enrolled.push((customer, self.clock.now()));
        Ok(())
    }

    async fn buy(&mut self, customer: &'static str, channel: Ch, cents: i64) -> anyhow::Result<()> {
        let order = format!("o-{}", self.bought.len() + 1);
        let line = apb::PurchaseLine {
            line_id: "1".into(),
            sku: "s".into(),
            category: "shoes".into(),
            unit_price: Some(Money {
                amount: format!("{}.{:02}", cents / 100, cents % 100),
                asset: "EUR".into(),
            }),
            quantity: 1,
            discount: None,
        };
        let purchase = apb::Purchase {
            program_id: "demo".into(),
            order_id: order.clone(),
            customer_id: customer.into(),
            currency: "EUR".into(),
            lines: vec![line],
            channel: channel as i32,
            store_id: String::new(),
            occurred_at: Some(to_timestamp(self.clock.now())),
        };
        self.accrual
            .record_purchase(with_key(
                apb::RecordPurchaseRequest {
                    idempotency_key: order,
                    purchase: Some(purchase),
                },
                &self.key,
            )?)
            .await?;
        self.bought
            .push((customer, channel, cents, self.clock.now()));
        Ok(())
    }

    /// An order of `cents` lines ("1", "2", ...) at `store`, one per channel
    /// and store; its id.
    async fn order(
        &mut self,
        customer: &str,
        channel: Ch,
        store: &str,
        cents: &[i64],
    ) -> anyhow::Result<String> {
        let order = format!("t-{}-{store}", channel as i32);
        let lines = cents
            .iter()
            .enumerate()
            .map(|(i, c)| apb::PurchaseLine {
                line_id: (i + 1).to_string(),
                sku: "s".into(),
                category: "shoes".into(),
                unit_price: Some(Money {
                    amount: format!("{}.{:02}", c / 100, c % 100),
                    asset: "EUR".into(),
                }),
                quantity: 1,
                discount: None,
            })
            .collect();
        let purchase = apb::Purchase {
            program_id: "demo".into(),
            order_id: order.clone(),
            customer_id: customer.into(),
            currency: "EUR".into(),
            lines,
            channel: channel as i32,
            store_id: store.into(),
            occurred_at: Some(to_timestamp(self.clock.now())),
        };
        self.accrual
            .record_purchase(with_key(
                apb::RecordPurchaseRequest {
                    idempotency_key: order.clone(),
                    purchase: Some(purchase),
                },
                &self.key,
            )?)
            .await?;
        Ok(order)
    }

    async fn give_back(&mut self, order: &str, line: &str) -> anyhow::Result<()> {
        let req = apb::RecordReturnRequest {
            idempotency_key: format!("r-{order}-{line}"),
            program_id: "demo".into(),
            order_id: order.into(),
            return_id: format!("r-{order}-{line}"),
            lines: vec![apb::ReturnLine {
                line_id: line.into(),
                quantity: 1,
            }],
            occurred_at: None,
        };
        self.accrual
            .record_return(with_key(req, &self.key)?)
            .await?;
        Ok(())
    }

    /// An export of the whole history, its chunks joined.
    async fn export(
        &mut self,
        kind: apb::ExportKind,
        format: apb::ExportFormat,
    ) -> anyhow::Result<String> {
        let req = apb::ExportRowsRequest {
            program_id: "demo".into(),
            kind: kind as i32,
            format: format as i32,
            from: None,
            to: None,
        };
        let mut chunks = self
            .accrual
            .export_rows(with_key(req, &self.key)?)
            .await?
            .into_inner();
        let mut out = Vec::new();
        while let Some(chunk) = chunks.message().await? {
            out.extend(chunk.data);
        }
        Ok(String::from_utf8(out)?)
    }

    fn to(&self, when: &str) {
        let wait = at(when) - self.clock.now();
        self.clock.advance(Duration::from_micros(
            u64::try_from(wait).unwrap_or_default(),
        ));
    }

    async fn report(
        &mut self,
        from: &str,
        within_days: u32,
    ) -> anyhow::Result<apb::GetProgramReportResponse> {
        let req = apb::GetProgramReportRequest {
            program_id: "demo".into(),
            from: Some(to_timestamp(at(from))),
            to: None,
            repeat_within_days: within_days,
        };
        Ok(self
            .accrual
            .get_program_report(with_key(req, &self.key)?)
            .await?
            .into_inner())
    }
}

/// What the report should say, computed from `bought` and `enrolled` alone.
struct Expected {
    omnichannel: usize,
    active: usize,
    channels: BTreeMap<i32, (u64, BTreeSet<&'static str>, i64)>,
}

fn expected(bought: &[Bought]) -> Expected {
    let mut per: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    let mut channels: BTreeMap<i32, (u64, BTreeSet<&'static str>, i64)> = BTreeMap::new();
    for (who, ch, cents, _) in bought {
        per.entry(who).or_default().insert(*ch as i32);
        let c = channels.entry(*ch as i32).or_default();
        c.0 += 1;
        c.1.insert(who);
        c.2 += cents;
    }
    Expected {
        omnichannel: per.values().filter(|c| c.len() > 1).count(),
        active: per.len(),
        channels,
    }
}

/// Members whose first purchase was followed by another within `days`.
fn came_back(bought: &[Bought], days: i64) -> usize {
    let mut times: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (who, _, _, t) in bought {
        times.entry(who).or_default().push(*t);
    }
    times
        .into_values()
        .map(|mut ts| {
            ts.sort_unstable();
            ts
        })
        .filter(|ts| ts.get(1).is_some_and(|second| second - ts[0] <= days * DAY))
        .count()
}

backend_tests! {
    async fn engagement_figures_match_a_recomputation_from_the_purchases(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(at("2026-01-15T12:00:00Z"));
        let (suite, _dbs) = start_with_clock(backend, Default::default(), clock.clone()).await?;
        suite.demo_program("shop").await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let mut shop = Shop { accrual: AccrualServiceClient::new(gw), key, clock, bought: vec![], enrolled: vec![] };

        for who in ["ann", "bob", "cid"] {
            shop.enroll(who).await?;
        }
        shop.buy("ann", Ch::Online, 10_000).await?;
        shop.buy("bob", Ch::Store, 5_000).await?;
        shop.to("2026-01-25T12:00:00Z"); // ann back after 10 days, in the app
        shop.buy("ann", Ch::App, 2_000).await?;
        shop.to("2026-02-20T12:00:00Z"); // bob back after 36 days; dan joins
        shop.enroll("dan").await?;
        shop.buy("bob", Ch::Store, 3_000).await?;
        shop.to("2026-03-05T12:00:00Z");
        shop.buy("cid", Ch::Online, 1_000).await?;
        shop.buy("dan", Ch::Online, 4_500).await?;
        shop.to("2026-04-10T12:00:00Z");
        shop.buy("ann", Ch::Store, 4_000).await?;
        shop.to("2026-05-20T12:00:00Z");

        for within in [30, 60] {
            let r = shop.report("2026-01-01T00:00:00Z", within).await?;
            let want = expected(&shop.bought);
            assert_eq!((r.active_members, r.purchases), (want.active as u64, shop.bought.len() as u64));
            assert_eq!((r.omnichannel_members, r.omnichannel_share.as_str()), (want.omnichannel as u64, percent(want.omnichannel, want.active).as_str()));
            assert_eq!((r.repeat_within_days, r.repeat_rate.clone()), (within, percent(came_back(&shop.bought, i64::from(within)), want.active)));
            let channels: Vec<(i32, u64, u64, String)> = r.channels.iter().map(|c| (c.channel, c.purchases, c.members, c.revenue.clone().unwrap_or_default().amount)).collect();
            let wanted: Vec<(i32, u64, u64, String)> = want.channels.iter().map(|(ch, (n, who, cents))| (*ch, *n, who.len() as u64, format!("{}.{:02}", cents / 100, cents % 100))).collect();
            assert_eq!(channels, wanted);
        }
        // Here: ann came back within 30 days, bob only within 60.
        assert_eq!(shop.report("2026-01-01T00:00:00Z", 30).await?.repeat_rate, "25");
        assert_eq!(shop.report("2026-01-01T00:00:00Z", 60).await?.repeat_rate, "50");

        // Cohorts: January (ann, bob, cid) and February (dan); a month is
        // asked only once it is over.
        let r = shop.report("2026-01-01T00:00:00Z", 30).await?;
        let now = shop.clock.now();
        for c in &r.cohorts {
            let members: Vec<&str> = shop.enrolled.iter().filter(|(_, t)| month(*t) == c.month).map(|(w, _)| *w).collect();
            assert_eq!(c.enrolled, members.len() as u64, "{}", c.month);
            let over: Vec<i32> = [1, 3, 6, 12].into_iter().filter(|k| plus(&c.month, k + 1) <= month(now)).collect();
            let asked: Vec<i32> = c.retention.iter().map(|x| x.months_after as i32).collect();
            assert_eq!(asked, over, "{}", c.month);
            for x in &c.retention {
                let target = plus(&c.month, x.months_after as i32);
                let buying = members.iter().filter(|w| shop.bought.iter().any(|(b, _, _, t)| b == *w && month(*t) == target)).count();
                assert_eq!((x.buying, x.share.as_str()), (buying as u64, percent(buying, members.len()).as_str()), "{} +{}", c.month, x.months_after);
            }
        }
        let months: Vec<&str> = r.cohorts.iter().map(|c| c.month.as_str()).collect();
        assert_eq!(months, ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]);
        let jan = &r.cohorts[0];
        let jan: Vec<(u32, u64)> = jan.retention.iter().map(|x| (x.months_after, x.buying)).collect();
        assert_eq!(jan, [(1, 1), (3, 1)], "bob in February, ann in April");
        suite.stop().await
    }

    async fn cashback_lowers_the_taxable_base_per_channel_and_store(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(at("2026-06-15T12:00:00Z"));
        let (suite, _dbs) = start_with_clock(backend, Default::default(), clock.clone()).await?;
        suite.demo_program("shop").await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let mut shop = Shop { accrual: AccrualServiceClient::new(gw), key, clock, bought: vec![], enrolled: vec![] };
        shop.enroll("ann").await?; // its welcome bonus is a gift: in no line
        // The demo program: 5% cashback, 10% on orders over 100.00 EUR, 1 PTS per EUR.
        let cashback = |cents: i64| if cents > 10_000 { cents / 10 } else { cents / 20 };
        let sales: [(Ch, &str, Vec<i64>, Option<&str>); 3] = [
            (Ch::Online, "", vec![5_000], None),
            (Ch::Store, "s1", vec![12_000, 8_000], Some("1")), // 200.00, then 120.00 back
            (Ch::App, "s2", vec![3_000], None),
        ];
        let mut want = Vec::new();
        for (ch, store, lines, back) in &sales {
            let order = shop.order("ann", *ch, store, lines).await?;
            let mut kept = lines.clone();
            if let Some(line) = back {
                shop.give_back(&order, line).await?;
                kept.remove(line.parse::<usize>()? - 1);
            }
            let revenue: i64 = kept.iter().sum();
            want.push((*ch as i32, store.to_string(), revenue, cashback(revenue), revenue / 100));
        }
        let req = apb::GetTaxReportRequest { program_id: "demo".into(), from: None, to: None };
        let r = shop.accrual.get_tax_report(with_key(req, &shop.key)?).await?.into_inner();
        let cents = |m: &Option<Money>| m.as_ref().map_or(-1, |m| m.amount.replace('.', "").parse::<i64>().unwrap_or(-1));
        let got: Vec<(i32, String, i64, i64, i64)> = r
            .lines
            .iter()
            .map(|l| {
                assert_eq!(cents(&l.taxable_base), cents(&l.revenue) - cents(&l.cashback), "{l:?}");
                let points = l.other_rewards.iter().find(|m| m.asset == "PTS").map_or(0, |m| m.amount.parse().unwrap_or(-1));
                (l.channel, l.store_id.clone(), cents(&l.revenue), cents(&l.cashback), points)
            })
            .collect();
        assert_eq!(got, want);
        let total = r.total.unwrap_or_default();
        let sum = |f: fn(&(i32, String, i64, i64, i64)) -> i64| want.iter().map(f).sum::<i64>();
        assert_eq!((total.purchases, cents(&total.revenue), cents(&total.cashback), cents(&total.taxable_base)), (3, sum(|w| w.2), sum(|w| w.3), sum(|w| w.2 - w.3)));
        // Here: 160.00 EUR of sales, 8.00 EUR of cashback, a base of 152.00 EUR.
        assert_eq!((cents(&total.revenue), cents(&total.cashback)), (16_000, 800));

        // The exports carry the same numbers.
        let tax_csv = shop.export(apb::ExportKind::TaxReport, apb::ExportFormat::Csv).await?;
        let rows: Vec<&str> = tax_csv.lines().collect();
        assert_eq!(rows.first().copied(), Some("channel,store_id,purchases,revenue,cashback,taxable_base,currency,other_rewards"));
        assert_eq!(rows.last().copied(), Some("total,,3,160.00,8.00,152.00,EUR,160 PTS"));
        assert_eq!(rows.len(), 2 + r.lines.len());
        let rewards = shop.export(apb::ExportKind::Rewards, apb::ExportFormat::Ndjson).await?;
        let rewards: Vec<serde_json::Value> = rewards.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
        assert_eq!(rewards.len(), 6, "cashback and points of three orders");
        let discount: i64 = rewards
            .iter()
            .filter(|r| r["tax_treatment"] == "discount")
            .map(|r| r["net"].as_str().unwrap_or_default().replace('.', "").parse::<i64>().unwrap_or(-1))
            .sum();
        assert_eq!(discount, cents(&total.cashback));
        let back = rewards.iter().find(|r| r["store_id"] == "s1" && r["asset"] == "EUR").cloned().unwrap_or_default();
        assert_eq!((back["amount"].as_str(), back["reversed"].as_str(), back["net"].as_str(), back["channel"].as_str()), (Some("20.00"), Some("16.00"), Some("4.00"), Some("store")));
        let rewards_csv = shop.export(apb::ExportKind::Rewards, apb::ExportFormat::Csv).await?;
        assert_eq!(rewards_csv.lines().count(), 7, "a header and six rows");
        suite.stop().await
    }

    async fn breakage_and_the_liability_by_age(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(at("2026-01-15T12:00:00Z"));
        let (suite, _dbs) = start_with_clock(backend, Default::default(), clock.clone()).await?;
        suite.demo_program("shop").await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let mut shop = Shop { accrual: AccrualServiceClient::new(gw), key, clock, bought: vec![], enrolled: vec![] };
        // The whole history's report, on a clone of the client.
        async fn report(shop: &Shop) -> anyhow::Result<apb::GetProgramReportResponse> {
            let req = apb::GetProgramReportRequest { program_id: "demo".into(), from: None, to: None, repeat_within_days: 0 };
            Ok(shop.accrual.clone().get_program_report(with_key(req, &shop.key)?).await?.into_inner())
        }
        // Per asset: (outstanding per age, breakage rate) as the report says them.
        type Aged = (Vec<(u32, u32, String)>, String);
        async fn aged(shop: &Shop, asset: &str) -> anyhow::Result<Aged> {
            let t = report(shop).await?.totals.into_iter().find(|t| t.asset == asset).unwrap_or_default();
            let ages = t.liability_aging.iter().map(|a| (a.from_days, a.to_days, a.outstanding.clone().unwrap_or_default().amount)).collect();
            Ok((ages, t.breakage_rate))
        }
        let ages = |amounts: [&str; 5]| -> Vec<(u32, u32, String)> {
            [(0, 30), (30, 90), (90, 180), (180, 365), (365, 0)].into_iter().zip(amounts).map(|((a, b), m)| (a, b, m.to_string())).collect()
        };
        // Each credit is made before the clock moves on: its age counts from it.
        async fn settled(shop: &Shop, eur: &str, pts: &str) -> anyhow::Result<()> {
            eventually("the credits made", || async move {
                let r = report(shop).await?;
                let liability = |a: &str| r.totals.iter().find(|t| t.asset == a).and_then(|t| t.liability.clone()).unwrap_or_default().amount;
                Ok(liability("EUR") == eur && liability("PTS") == pts)
            })
            .await
        }
        // January: 50 PTS welcome, then 40.00 EUR bought: 2.00 EUR and 40 PTS.
        shop.enroll("ann").await?;
        shop.buy("ann", Ch::Online, 4_000).await?;
        settled(&shop, "2.00", "90").await?;
        // March: 60.00 EUR: 3.00 EUR and 60 PTS.
        shop.to("2026-03-01T12:00:00Z");
        shop.buy("ann", Ch::Online, 6_000).await?;
        settled(&shop, "5.00", "150").await?;
        shop.to("2026-03-20T12:00:00Z");
        assert_eq!(aged(&shop, "EUR").await?, (ages(["3.00", "2.00", "0.00", "0.00", "0.00"]), "0".into()));
        assert_eq!(aged(&shop, "PTS").await?, (ages(["60", "90", "0", "0", "0"]), "0".into()));
        // A year on, January's points expire (12 months): 90 of 150 is 60%
        // breakage; the cashback sits a year and more.
        shop.to("2027-02-20T12:00:00Z");
        let shop = &shop;
        eventually("January's points expired", || async move {
            Ok(aged(shop, "PTS").await? == (ages(["0", "0", "0", "60", "0"]), "60".into()))
        })
        .await?;
        assert_eq!(aged(shop, "EUR").await?, (ages(["0.00", "0.00", "0.00", "3.00", "2.00"]), "0".into()));
        suite.stop().await
    }

}
