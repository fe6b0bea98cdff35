//! Checkout through the gateway on both backends: a cart's codes applied by
//! priority under their conditions and stacking, each refusal with its
//! reason, points in whole blocks and cashback, the earn preview on what is
//! left to pay, no side effects, bad carts refused.
mod support;

use boomerang_common::backend_tests;
use boomerang_proto::{
    accrual::v1 as apb,
    campaign::v1::{self as cpb, coupon_service_client::CouponServiceClient},
};
use gateway::limits::RateLimitConfig;
use support::{
    shop::{Shop, amount, campaign, cart, eur, line, money, off, percent},
    start, with_key,
};
use tonic::Code;

backend_tests! {
    async fn a_cart_takes_its_codes_points_and_cashback(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let shop = Shop::open(&suite).await?;
        let key = shop.key.clone();
        // 20.00 EUR and 300 PTS, and the 50 PTS welcome bonus.
        shop.member("ann", "20.00", "300").await?;
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
        let shop = Shop::open(&suite).await?;
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
