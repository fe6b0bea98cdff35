//! What customers are worth, through the gateway, on both backends: the
//! lifetime value per tier (members of a two-tier program buy and return;
//! `tier_values` recomputed from what the test recorded and the tiers
//! GetMember tells), and members against non-members (guest purchases).
mod support;

use std::collections::BTreeMap;

use boomerang_common::{
    backend_tests,
    testing::channel,
    time::{now_micros, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient},
    common::v1::{Channel as Ch, Money},
};
use support::{start, with_key};
use tonic::transport::Channel;

fn eur(amount: &str) -> Option<Money> {
    Some(Money {
        amount: amount.into(),
        asset: "EUR".into(),
    })
}

fn cents(m: &Option<Money>) -> i64 {
    m.as_ref()
        .map_or(-1, |m| m.amount.replace('.', "").parse().unwrap_or(-1))
}

struct Shop {
    accrual: AccrualServiceClient<Channel>,
    key: String,
    /// When every order of the test happened (a replay is the same request).
    at: i64,
}

impl Shop {
    /// Tenant "shop" with the two-tier program "tiered": 5% cashback,
    /// silver from 100.00 EUR spent in a year.
    async fn open(suite: &boomerang::Suite) -> anyhow::Result<Self> {
        let key = suite.create_key("shop", &["*:write"]).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let mut shop = Shop {
            accrual: AccrualServiceClient::new(gw),
            key,
            at: now_micros(),
        };
        let tier = |id: &str, at: &str| apb::Tier {
            tier_id: id.into(),
            name: id.into(),
            qualifies_at: eur(at),
            earn_multiplier: "1".into(),
        };
        let program = apb::Program {
            program_id: "tiered".into(),
            name: "Tiered".into(),
            currency: "EUR".into(),
            timezone: "Europe/Rome".into(),
            earn_rules: vec![apb::EarnRule {
                asset: "EUR".into(),
                basis: apb::EarnBasis::Percent as i32,
                rate: "5".into(),
            }],
            return_window_days: 14,
            tier_policy: Some(apb::TierPolicy {
                basis: apb::TierBasis::Spend as i32,
                window_days: 365,
                tiers: vec![tier("bronze", "0.00"), tier("silver", "100.00")],
                nudge_percent: 0,
            }),
            ..Default::default()
        };
        let upsert = apb::UpsertProgramRequest {
            idempotency_key: "p".into(),
            program: Some(program),
            ..Default::default()
        };
        shop.accrual
            .upsert_program(with_key(upsert, &shop.key)?)
            .await?;
        Ok(shop)
    }

    fn purchase(&self, customer: &str, order: &str, prices: &[&str]) -> apb::Purchase {
        let lines = prices
            .iter()
            .enumerate()
            .map(|(i, p)| apb::PurchaseLine {
                line_id: format!("l{i}"),
                sku: "s".into(),
                category: "shoes".into(),
                unit_price: eur(p),
                quantity: 1,
                discount: None,
            })
            .collect();
        apb::Purchase {
            program_id: "tiered".into(),
            order_id: order.into(),
            customer_id: customer.into(),
            currency: "EUR".into(),
            lines,
            channel: Ch::Store as i32,
            store_id: "s1".into(),
            occurred_at: Some(to_timestamp(self.at)),
        }
    }

    /// A non-member's order of one line per price.
    async fn guest(
        &mut self,
        customer: &str,
        order: &str,
        prices: &[&str],
    ) -> Result<apb::RecordGuestPurchaseResponse, tonic::Status> {
        let req = apb::RecordGuestPurchaseRequest {
            idempotency_key: order.into(),
            purchase: Some(self.purchase(customer, order, prices)),
        };
        let req = with_key(req, &self.key).map_err(|e| tonic::Status::internal(e.to_string()))?;
        Ok(self.accrual.record_guest_purchase(req).await?.into_inner())
    }

    async fn enroll(&mut self, customer: &str) -> anyhow::Result<()> {
        let req = apb::EnrollMemberRequest {
            idempotency_key: format!("e-{customer}"),
            program_id: "tiered".into(),
            customer_id: customer.into(),
            ..Default::default()
        };
        self.accrual
            .enroll_member(with_key(req, &self.key)?)
            .await?;
        Ok(())
    }

    /// An order of one line per price; its cashback in cents.
    async fn buy(&mut self, customer: &str, order: &str, prices: &[&str]) -> anyhow::Result<i64> {
        let purchase = self.purchase(customer, order, prices);
        let req = apb::RecordPurchaseRequest {
            idempotency_key: order.into(),
            purchase: Some(purchase),
        };
        let done = self
            .accrual
            .record_purchase(with_key(req, &self.key)?)
            .await?
            .into_inner();
        Ok(done
            .rewards
            .iter()
            .filter(|r| r.amount.as_ref().is_some_and(|m| m.asset == "EUR"))
            .map(|r| cents(&r.amount))
            .sum())
    }

    async fn give_back(&mut self, order: &str, line: &str) -> anyhow::Result<()> {
        let req = apb::RecordReturnRequest {
            idempotency_key: format!("r-{order}"),
            program_id: "tiered".into(),
            order_id: order.into(),
            return_id: format!("r-{order}"),
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

    async fn tier(&mut self, customer: &str) -> anyhow::Result<String> {
        let req = apb::GetMemberRequest {
            program_id: "tiered".into(),
            customer_id: customer.into(),
        };
        let m = self
            .accrual
            .get_member(with_key(req, &self.key)?)
            .await?
            .into_inner();
        Ok(m.member
            .and_then(|m| m.tier)
            .map(|t| t.current_tier)
            .unwrap_or_default())
    }
}

backend_tests! {
    async fn lifetime_value_per_tier(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let mut shop = Shop::open(&suite).await?;

        // customer -> (purchases, revenue cents, cashback cents kept)
        let mut did: BTreeMap<&str, (u64, i64, i64)> = BTreeMap::new();
        for who in ["ann", "bob", "cid", "dan"] {
            shop.enroll(who).await?;
            did.insert(who, (0, 0, 0));
        }
        let buys: [(&str, &str, &[&str]); 5] = [
            ("ann", "a-1", &["120.00", "30.00"]),
            ("ann", "a-2", &["19.99"]),
            ("bob", "b-1", &["40.00"]),
            ("bob", "b-2", &["33.33"]),
            ("dan", "d-1", &["80.00", "45.00"]),
        ];
        for (who, order, prices) in buys {
            let back = shop.buy(who, order, prices).await?;
            let d = did.entry(who).or_default();
            d.0 += 1;
            d.1 += prices.iter().map(|p| cents(&eur(p))).sum::<i64>();
            d.2 += back;
        }
        // dan gives back the 80.00 line: 45.00 of revenue, 2.25 of cashback kept.
        shop.give_back("d-1", "l0").await?;
        let d = did.entry("dan").or_default();
        (d.1, d.2) = (4_500, 225);

        let mut want: BTreeMap<String, (u64, u64, i64, i64)> = BTreeMap::new();
        for (who, (n, revenue, cost)) in &did {
            let w = want.entry(shop.tier(who).await?).or_default();
            (w.0, w.1, w.2, w.3) = (w.0 + 1, w.1 + n, w.2 + revenue, w.3 + cost);
        }
        let req = apb::GetProgramReportRequest { program_id: "tiered".into(), ..Default::default() };
        let r = shop.accrual.get_program_report(with_key(req, &shop.key)?).await?.into_inner();
        let got: BTreeMap<String, (u64, u64, i64, i64)> = r
            .tier_values
            .iter()
            .map(|v| {
                let per = |total: i64| total / v.members as i64;
                assert_eq!(cents(&v.lifetime_value), per(cents(&v.revenue) - cents(&v.rewards_cost)), "{v:?}");
                assert_eq!(cents(&v.revenue_per_member), per(cents(&v.revenue)), "{v:?}");
                (v.tier_id.clone(), (v.members, v.purchases, cents(&v.revenue), cents(&v.rewards_cost)))
            })
            .collect();
        assert_eq!(got, want);
        // Here: ann (169.99) and dan (125.00 when bought, 45.00 kept: a
        // return does not take a tier back) are silver; bob (73.33) and cid
        // (nothing, never judged: the entry tier) bronze.
        assert_eq!(got.get("silver"), Some(&(2, 3, 21_499, 1_074)));
        assert_eq!(got.get("bronze"), Some(&(2, 2, 7_333, 366)));
        suite.stop().await
    }
    async fn members_against_guests(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let mut shop = Shop::open(&suite).await?;
        for who in ["ann", "bob"] {
            shop.enroll(who).await?;
        }
        shop.buy("ann", "a-1", &["60.00"]).await?;
        shop.buy("ann", "a-2", &["30.00", "10.00"]).await?;
        shop.buy("bob", "b-1", &["25.00"]).await?;
        let guests: [(&str, &str, &[&str]); 4] = [("g-1", "g1-1", &["20.00"]), ("g-1", "g1-2", &["15.50"]), ("g-2", "g2-1", &["42.00"]), ("g-3", "g3-1", &["9.99"])];
        for (who, order, prices) in guests {
            let done = shop.guest(who, order, prices).await?;
            assert_eq!((done.order_id.as_str(), done.eligible.as_ref().map(|m| m.amount.as_str())), (order, Some(prices[0])));
        }
        // The same order again replays; other content under its id is refused.
        assert_eq!(shop.guest("g-1", "g1-1", &["20.00"]).await?.eligible, eur("20.00"));
        let code = |r: Result<apb::RecordGuestPurchaseResponse, tonic::Status>| r.err().map(|e| e.code());
        let other = apb::RecordGuestPurchaseRequest { idempotency_key: "g1-1-again".into(), purchase: Some(shop.purchase("g-1", "g1-1", &["21.00"])) };
        let again = shop.accrual.record_guest_purchase(with_key(other, &shop.key)?).await.map(|r| r.into_inner());
        assert_eq!(code(again), Some(tonic::Code::AlreadyExists));
        // A member's purchase earns: it is not a guest's.
        assert_eq!(code(shop.guest("ann", "a-3", &["5.00"]).await), Some(tonic::Code::FailedPrecondition));
        // An order id is a member's or a guest's, never both.
        let as_member = apb::RecordPurchaseRequest { idempotency_key: "ann-g1".into(), purchase: Some(shop.purchase("ann", "g1-1", &["20.00"])) };
        let refused = shop.accrual.record_purchase(with_key(as_member, &shop.key)?).await.err().map(|e| e.code());
        assert_eq!(refused, Some(tonic::Code::AlreadyExists));
        assert_eq!(code(shop.guest("g-2", "a-1", &["60.00"]).await), Some(tonic::Code::AlreadyExists));
        // A guest who enrols later: their order answers as it was under any
        // key, and still counts as a guest's (made before they enrolled).
        shop.enroll("g-3").await?;
        let retry = apb::RecordGuestPurchaseRequest { idempotency_key: "g3-1-retry".into(), purchase: Some(shop.purchase("g-3", "g3-1", &["9.99"])) };
        assert_eq!(shop.accrual.record_guest_purchase(with_key(retry, &shop.key)?).await?.into_inner().eligible, eur("9.99"));

        let req = apb::GetProgramReportRequest { program_id: "tiered".into(), ..Default::default() };
        let r = shop.accrual.get_program_report(with_key(req, &shop.key)?).await?.into_inner();
        let figures = |s: &Option<apb::Shoppers>| {
            let s = s.clone().unwrap_or_default();
            (s.customers, s.purchases, cents(&s.revenue), cents(&s.spend_per_customer), cents(&s.average_order), s.purchases_per_customer)
        };
        // Members: 2 customers, 3 orders, 125.00; guests: 3, 4, 87.49.
        assert_eq!(figures(&r.members), (2, 3, 12_500, 6_250, 4_166, "1.5".to_owned()));
        assert_eq!(figures(&r.guests), (3, 4, 8_749, 2_916, 2_187, "1.3333".to_owned()));
        suite.stop().await
    }

}
