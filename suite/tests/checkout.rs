//! Checkout through the gateway on both backends: a cart's codes applied by
//! priority under their conditions and stacking, each refusal with its
//! reason, points in whole blocks and cashback, the earn preview on what is
//! left to pay, no side effects, bad carts refused.
mod support;

use boomerang_common::{
    backend_tests,
    time::{now_micros, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{
        self as apb, accrual_service_client::AccrualServiceClient,
        checkout_service_client::CheckoutServiceClient,
    },
    campaign::v1::{
        self as cpb, campaign_service_client::CampaignServiceClient,
        coupon_service_client::CouponServiceClient,
    },
    common::v1::Money,
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use gateway::limits::RateLimitConfig;
use support::{start, with_key};
use tonic::{Code, transport::Channel};

fn money(amount: &str, asset: &str) -> Money {
    Money {
        amount: amount.into(),
        asset: asset.into(),
    }
}

fn eur(amount: &str) -> Option<Money> {
    Some(money(amount, "EUR"))
}

/// A campaign running since an hour ago, of `priority` and `stacking`.
fn campaign(priority: i32, stacking: cpb::Stacking) -> cpb::CampaignSpec {
    let hour = 3_600_000_000;
    cpb::CampaignSpec {
        name: "Checkout codes".into(),
        terms: "Codes at checkout.".into(),
        schedule: Some(cpb::Schedule {
            timezone: "Europe/Rome".into(),
            starts_at: Some(to_timestamp(now_micros() - hour)),
            ends_at: Some(to_timestamp(now_micros() + 720 * hour)),
            windows: vec![],
        }),
        effect: Some(cpb::Effect {
            kind: Some(cpb::effect::Kind::ExtraPercent(cpb::ExtraPercent {
                asset: "PTS".into(),
                percent: "1".into(),
            })),
        }),
        conditions: Some(cpb::Conditions {
            categories: vec!["none-at-all".into()],
            ..Default::default()
        }),
        priority,
        stacking: stacking as i32,
        ..Default::default()
    }
}

fn off(
    kind: cpb::coupon_effect::Kind,
    min_order: Option<Money>,
    categories: &[&str],
) -> cpb::CouponRules {
    cpb::CouponRules {
        max_uses: 1,
        conditions: Some(cpb::Conditions {
            min_order_amount: min_order,
            categories: categories.iter().map(|c| (*c).into()).collect(),
            ..Default::default()
        }),
        effect: Some(cpb::CouponEffect { kind: Some(kind) }),
        ..Default::default()
    }
}

fn percent(p: &str, scope: cpb::DiscountScope) -> cpb::coupon_effect::Kind {
    cpb::coupon_effect::Kind::PercentOff(cpb::PercentOff {
        percent: p.into(),
        scope: scope as i32,
    })
}

fn line(id: &str, category: &str, price: &str) -> apb::CartLine {
    apb::CartLine {
        line_id: id.into(),
        sku: format!("sku-{id}"),
        category: category.into(),
        unit_price: eur(price),
        quantity: 1,
    }
}

fn cart(lines: Vec<apb::CartLine>, codes: &[&str]) -> apb::Cart {
    apb::Cart {
        program_id: "demo".into(),
        customer_id: "ann".into(),
        currency: "EUR".into(),
        lines,
        coupon_codes: codes.iter().map(|c| (*c).into()).collect(),
        ..Default::default()
    }
}

struct Shop {
    gw: Channel,
    key: String,
}

impl Shop {
    async fn evaluate(&self, cart: apb::Cart) -> Result<apb::EvaluateCartResponse, tonic::Status> {
        let mut c = CheckoutServiceClient::new(self.gw.clone());
        let req = with_key(apb::EvaluateCartRequest { cart: Some(cart) }, &self.key)
            .map_err(|e| tonic::Status::internal(e.to_string()))?;
        Ok(c.evaluate_cart(req).await?.into_inner())
    }

    async fn campaign(&self, id: &str, spec: cpb::CampaignSpec) -> anyhow::Result<()> {
        let mut c = CampaignServiceClient::new(self.gw.clone());
        let create = cpb::CreateCampaignRequest {
            idempotency_key: format!("c-{id}"),
            campaign_id: id.into(),
            spec: Some(spec),
        };
        c.create_campaign(with_key(create, &self.key)?).await?;
        let schedule = cpb::ScheduleCampaignRequest {
            idempotency_key: format!("s-{id}"),
            campaign_id: id.into(),
        };
        c.schedule_campaign(with_key(schedule, &self.key)?).await?;
        Ok(())
    }

    async fn code(
        &self,
        campaign: &str,
        code: &str,
        customer: &str,
        rules: cpb::CouponRules,
    ) -> anyhow::Result<()> {
        let mut c = CouponServiceClient::new(self.gw.clone());
        let given = cpb::create_coupon_batch_request::Codes::Given(cpb::GivenCodes {
            codes: vec![cpb::GivenCode {
                code: code.into(),
                customer_id: customer.into(),
            }],
        });
        let req = cpb::CreateCouponBatchRequest {
            idempotency_key: format!("b-{code}"),
            campaign_id: campaign.into(),
            batch_id: code.to_lowercase(),
            rules: Some(rules),
            codes: Some(given),
        };
        c.create_coupon_batch(with_key(req, &self.key)?).await?;
        Ok(())
    }
}

fn amount(m: &Option<Money>) -> String {
    m.as_ref()
        .map(|m| format!("{} {}", m.amount, m.asset))
        .unwrap_or_default()
}

backend_tests! {
    async fn a_cart_takes_its_codes_points_and_cashback(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        suite.demo_program("shop").await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        let shop = Shop { gw: boomerang_common::testing::channel(suite.addrs().gateway).await?, key: key.clone() };
        let mut accrual = AccrualServiceClient::new(shop.gw.clone());
        let enrol = apb::EnrollMemberRequest { idempotency_key: "e".into(), program_id: "demo".into(), customer_id: "ann".into(), ..Default::default() };
        accrual.enroll_member(with_key(enrol, &key)?).await?;
        let mut wallet = WalletServiceClient::new(shop.gw.clone());
        for (k, m) in [("eur", money("20.00", "EUR")), ("pts", money("300", "PTS"))] {
            let credit = wpb::CreditRequest { idempotency_key: k.into(), customer_id: "ann".into(), amount: Some(m), ..Default::default() };
            wallet.credit(with_key(credit, &key)?).await?;
        }
        // The 50 PTS welcome bonus reaches the wallet through the outbox.
        boomerang_common::testing::eventually("the welcome bonus arrived", || {
            let (mut wallet, key) = (wallet.clone(), key.clone());
            async move {
                let read = wpb::GetBalanceRequest { customer_id: "ann".into(), ..Default::default() };
                let b = wallet.get_balance(with_key(read, &key)?).await?.into_inner().balances;
                Ok(b.iter().any(|b| b.asset == "PTS" && b.available.as_ref().is_some_and(|m| m.amount == "350")))
            }
        })
        .await?;
        shop.campaign("low", campaign(1, cpb::Stacking::Stackable)).await?;
        shop.campaign("high", campaign(5, cpb::Stacking::Stackable)).await?;
        shop.campaign("alone", campaign(0, cpb::Stacking::Exclusive)).await?;
        shop.code("low", "TEN", "", off(percent("10", cpb::DiscountScope::Order), eur("50.00"), &[])).await?;
        let five = cpb::coupon_effect::Kind::AmountOff(cpb::AmountOff { amount: eur("5.00"), scope: cpb::DiscountScope::Order as i32 });
        shop.code("high", "FIVE", "", off(five, None, &[])).await?;
        shop.code("alone", "SOLO", "", off(percent("50", cpb::DiscountScope::Order), None, &[])).await?;
        shop.code("low", "BOBS", "bob", off(percent("50", cpb::DiscountScope::Order), None, &[])).await?;

        let mut asked = cart(vec![line("1", "shoes", "80.00"), line("2", "bags", "20.00")], &["ten", "FIVE", "SOLO", "NOPE", "BOBS", "five"]);
        asked.pay_with_points = Some(money("250", "PTS"));
        asked.pay_with_cashback = eur("10.00");
        let e = shop.evaluate(asked.clone()).await?;
        let verdicts: Vec<(&str, bool, i32)> = e.codes.iter().map(|c| (c.code.as_str(), c.accepted, c.refusal)).collect();
        assert_eq!(verdicts, vec![
            ("FIVE", true, 0),
            ("TEN", true, 0),
            ("SOLO", false, apb::CodeRefusal::NotCombinable as i32),
            ("NOPE", false, apb::CodeRefusal::Unknown as i32),
            ("BOBS", false, apb::CodeRefusal::NotYours as i32),
            ("FIVE", false, apb::CodeRefusal::Duplicate as i32),
        ]);
        // 5.00 first (priority 5), spread 80:20; then 10% of what is left.
        let per_line: Vec<Vec<String>> = e.lines.iter().map(|l| l.discounts.iter().map(|d| format!("{} {}", d.code, amount(&d.amount))).collect()).collect();
        assert_eq!(per_line, vec![vec!["FIVE 4.00 EUR", "TEN 7.60 EUR"], vec!["FIVE 1.00 EUR", "TEN 1.90 EUR"]]);
        assert_eq!((amount(&e.subtotal), amount(&e.discount)), ("100.00 EUR".into(), "14.50 EUR".into()));
        // 250 PTS asked: two whole blocks of 100 (10.00); then 10.00 cashback.
        let p = e.payment.clone().unwrap_or_default();
        assert_eq!((amount(&p.points_used), amount(&p.points_value)), ("200 PTS".into(), "10.00 EUR".into()));
        assert_eq!((amount(&p.cashback_available), amount(&p.cashback_used)), ("20.00 EUR".into(), "10.00 EUR".into()));
        assert_eq!(amount(&e.to_pay), "65.50 EUR");
        // Earned on what is left to pay: 5% of 65.50 and a point a euro.
        let earn: Vec<String> = e.earn.iter().map(|r| amount(&r.amount)).collect();
        assert!(earn.contains(&"3.27 EUR".to_owned()) && earn.contains(&"65 PTS".to_owned()), "{earn:?}");

        // Nothing was held or spent: the same cart answers the same.
        assert_eq!(shop.evaluate(asked).await?, e);
        let mut coupons = CouponServiceClient::new(shop.gw.clone());
        let ten = coupons.get_coupon(with_key(cpb::GetCouponRequest { code: "TEN".into() }, &key)?).await?.into_inner().coupon.unwrap_or_default();
        assert_eq!((ten.reserved_uses, ten.redeemed_uses), (0, 0));

        // Below the minimum order: refused with its reason.
        let small = shop.evaluate(cart(vec![line("1", "shoes", "40.00")], &["TEN"])).await?;
        assert_eq!(small.codes.first().map(|c| c.refusal), Some(apb::CodeRefusal::BelowMinimum as i32));
        assert_eq!(amount(&small.to_pay), "40.00 EUR");
        // More points than held: only what is held, in whole blocks.
        let mut greedy = cart(vec![line("1", "shoes", "80.00")], &[]);
        greedy.pay_with_points = Some(money("100000", "PTS"));
        let g = shop.evaluate(greedy).await?.payment.unwrap_or_default();
        assert_eq!((amount(&g.points_available), amount(&g.points_used)), ("350 PTS".into(), "300 PTS".into()));
        suite.stop().await
    }

    async fn bad_carts_are_refused_field_by_field(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        suite.demo_program("shop").await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        let shop = Shop { gw: boomerang_common::testing::channel(suite.addrs().gateway).await?, key };
        let thousand: Vec<String> = (0..1_000).map(|i| format!("C{i}")).collect();
        let thousand: Vec<&str> = thousand.iter().map(String::as_str).collect();
        let long = "A".repeat(65);
        let mut zero = line("1", "shoes", "10.00");
        zero.quantity = 0;
        let mut negative = cart(vec![line("1", "shoes", "10.00")], &[]);
        negative.pay_with_cashback = eur("-1.00");
        for (name, bad) in [
            ("1,000 codes", cart(vec![line("1", "shoes", "10.00")], &thousand)),
            ("a code over 64 characters", cart(vec![line("1", "shoes", "10.00")], &[long.as_str()])),
            ("no units", cart(vec![zero], &[])),
            ("negative cashback", negative),
            ("no lines", cart(vec![], &[])),
        ] {
            let answer = shop.evaluate(bad).await;
            assert_eq!(answer.err().map(|s| s.code()), Some(Code::InvalidArgument), "{name}");
        }
        let stranger = apb::Cart { customer_id: "nobody".into(), ..cart(vec![line("1", "shoes", "10.00")], &[]) };
        assert_eq!(shop.evaluate(stranger).await.err().map(|s| s.code()), Some(Code::NotFound));
        suite.stop().await
    }
}
