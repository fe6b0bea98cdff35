//! Checkout sessions through the gateway on both backends: a cart reserved
//! (a code's use, points and cashback held), confirmed into a purchase
//! (captured, redeemed, earned on what was paid), cancelled, or lapsed by
//! its timer after a crash; replays answer the first answer; a code's uses
//! are won exactly as often as it allows by concurrent checkouts.
mod support;

use std::time::Duration;

use boomerang_common::{
    backend_tests,
    testing::eventually,
    time::{Clock, now_micros},
};
use boomerang_proto::{
    accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient},
    campaign::v1 as cpb,
};
use gateway::limits::RateLimitConfig;
use support::{
    shop::{Shop, amount, campaign, cart, eur, line, money, off, percent},
    start, start_on, start_with_clock, with_key,
};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// A cart of 80.00 + 20.00 EUR with TEN, paying 200 PTS and 10.00 EUR.
fn paid_cart(codes: &[&str]) -> apb::Cart {
    let mut c = cart(
        vec![line("1", "shoes", "80.00"), line("2", "bags", "20.00")],
        codes,
    );
    c.pay_with_points = Some(money("200", "PTS"));
    c.pay_with_cashback = eur("10.00");
    c
}

/// A shop whose member ann holds 20.00 EUR and 350 PTS, with `code` (10%
/// off orders from 50.00 EUR) usable `uses` times.
async fn shop_with_code(suite: &boomerang::Suite, code: &str, uses: u32) -> anyhow::Result<Shop> {
    let shop = Shop::open(suite).await?;
    shop.member("ann", "20.00", "300").await?;
    shop.campaign("codes", campaign(1, cpb::Stacking::Stackable))
        .await?;
    let rules = cpb::CouponRules {
        max_uses: uses,
        ..off(percent("10", cpb::DiscountScope::Order), eur("50.00"), &[])
    };
    shop.code("codes", code, "", rules).await?;
    Ok(shop)
}

/// The ErrorInfo reason of a refusal.
fn reason(s: &Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

fn state(s: &apb::CheckoutSession) -> apb::CheckoutState {
    apb::CheckoutState::try_from(s.state).unwrap_or_default()
}

/// Nothing of ann's is held any more, and `code` has no use reserved.
async fn all_given_back(shop: &Shop, code: &str) -> anyhow::Result<()> {
    eventually("every hold given back", || async move {
        let (pts, eur) = (
            shop.balance("ann", "PTS").await?,
            shop.balance("ann", "EUR").await?,
        );
        let c = shop.coupon(code).await?;
        Ok(pts == ("350".into(), "0".into())
            && eur == ("20.00".into(), "0.00".into())
            && c.reserved_uses == 0)
    })
    .await
}

backend_tests! {
    async fn a_reserved_cart_is_confirmed_into_a_purchase(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let shop = shop_with_code(&suite, "TEN", 1).await?;

        let s = shop.reserve("s-1", paid_cart(&["TEN"]), 60).await?;
        assert_eq!(state(&s), apb::CheckoutState::Reserved);
        let c = s.cart.clone().unwrap_or_default();
        assert_eq!(amount(&c.to_pay), "70.00 EUR"); // 100 - 10% - 200 PTS (10.00) - 10.00
        assert_eq!(shop.balance("ann", "PTS").await?, ("150".into(), "200".into()));
        assert_eq!(shop.balance("ann", "EUR").await?, ("10.00".into(), "10.00".into()));
        assert_eq!(shop.coupon("TEN").await?.reserved_uses, 1);
        // The same session and cart: the first answer; another cart: refused.
        assert_eq!(shop.reserve("s-1", paid_cart(&["TEN"]), 60).await?, s);
        let other = shop.reserve("s-1", paid_cart(&[]), 60).await.err();
        assert_eq!(other.map(|e| e.code()), Some(Code::AlreadyExists));

        let done = shop.confirm("k-1", "s-1", "o-1").await?;
        assert_eq!((state(&done), done.order_id.as_str()), (apb::CheckoutState::Confirmed, "o-1"));
        // Earned on what was paid: 5% of 70.00 and a point a euro.
        let earned: Vec<String> = done.rewards.iter().map(|r| amount(&r.amount)).collect();
        assert!(earned.contains(&"3.50 EUR".to_owned()) && earned.contains(&"70 PTS".to_owned()), "{earned:?}");
        // Replays: the first answer, whatever key; as another order, refused.
        assert_eq!(shop.confirm("k-1", "s-1", "o-1").await?, done);
        assert_eq!(shop.confirm("k-2", "s-1", "o-1").await?, done);
        let twice = shop.confirm("k-3", "s-1", "o-2").await.err();
        assert_eq!(twice.as_ref().map(|e| (e.code(), reason(e))), Some((Code::FailedPrecondition, "CHECKOUT_CONFIRMED".into())));
        assert_eq!(shop.reserve("s-1", paid_cart(&["TEN"]), 60).await?, s);
        assert_eq!(shop.session("s-1").await?, done);
        let cancel = shop.cancel("c-1", "s-1").await.err();
        assert_eq!(cancel.map(|e| e.code()), Some(Code::FailedPrecondition));

        // Captured and redeemed through the outbox: held goes to zero, the
        // points and cashback are spent, the code's one use redeemed.
        eventually("captured and redeemed", || {
            let shop = &shop;
            async move {
                let pts = shop.balance("ann", "PTS").await?;
                let eur = shop.balance("ann", "EUR").await?;
                let c = shop.coupon("TEN").await?;
                Ok(pts.1 == "0" && eur.1 == "0.00" && (c.reserved_uses, c.redeemed_uses) == (0, 1))
            }
        })
        .await?;
        assert_eq!(shop.balance("ann", "PTS").await?.0, "150");
        assert_eq!(shop.balance("ann", "EUR").await?.0, "10.00");
        // The code is used up now: a cart asking for it is refused with why,
        // holding nothing.
        let again = shop.reserve("s-2", paid_cart(&["TEN"]), 60).await.err();
        assert_eq!(again.as_ref().map(|e| (e.code(), reason(e))), Some((Code::ResourceExhausted, "COUPON_USED_UP".into())));
        assert_eq!(shop.balance("ann", "PTS").await?.1, "0");
        suite.stop().await
    }

    async fn cancelled_or_lapsed_sessions_give_everything_back(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(now_micros());
        let (suite, dbs) = start_with_clock(backend, RateLimitConfig::default(), clock.clone()).await?;
        let shop = shop_with_code(&suite, "TEN", 1).await?;

        shop.reserve("s-c", paid_cart(&["TEN"]), 60).await?;
        let cancelled = shop.cancel("c-1", "s-c").await?;
        assert_eq!(state(&cancelled), apb::CheckoutState::Cancelled);
        assert_eq!(shop.cancel("c-1", "s-c").await?, cancelled);
        all_given_back(&shop, "TEN").await?;
        let late = shop.confirm("k-1", "s-c", "o-1").await.err();
        assert_eq!(late.as_ref().map(|e| (e.code(), reason(e))), Some((Code::FailedPrecondition, "CHECKOUT_CANCELLED".into())));

        // Reserved, then the whole suite goes down and comes back; the
        // session's timer gives everything back at its TTL (the wallet's and
        // campaign-svc's own holds would last 12 hours longer).
        shop.reserve("s-l", paid_cart(&["TEN"]), 60).await?;
        assert_eq!(shop.balance("ann", "PTS").await?.1, "200");
        suite.stop().await?;
        let suite = start_on(&dbs, RateLimitConfig::default(), clock.clone()).await?;
        let shop = Shop { gw: boomerang_common::testing::channel(suite.addrs().gateway).await?, key: shop.key };
        assert_eq!(state(&shop.session("s-l").await?), apb::CheckoutState::Reserved);
        clock.advance(Duration::from_secs(61));
        all_given_back(&shop, "TEN").await?;
        assert_eq!(state(&shop.session("s-l").await?), apb::CheckoutState::Lapsed);
        let late = shop.confirm("k-2", "s-l", "o-2").await.err();
        assert_eq!(late.as_ref().map(|e| (e.code(), reason(e))), Some((Code::FailedPrecondition, "CHECKOUT_LAPSED".into())));
        suite.stop().await
    }

    async fn concurrent_checkouts_win_exactly_the_uses_a_code_has(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let shop = shop_with_code(&suite, "ONCE", 1).await?;
        let rules = cpb::CouponRules {
            max_uses: 50,
            ..off(percent("10", cpb::DiscountScope::Order), None, &[])
        };
        shop.code("codes", "FIFTY", "", rules).await?;
        for (code, tries, wins) in [("ONCE", 100, 1), ("FIFTY", 200, 50)] {
            let calls = (0..tries).map(|i| {
                let shop = &shop;
                async move {
                    // As a careful client: what was not decided (the machine
                    // busy) is asked again, with the same session.
                    let c = cart(vec![line("1", "shoes", "60.00")], &[code]);
                    let mut tries = 0;
                    loop {
                        match shop.reserve(&format!("{code}-{i}"), c.clone(), 60).await {
                            Err(e) if matches!(e.code(), Code::Unavailable | Code::Aborted) && tries < 20 => {
                                tries += 1;
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            answer => return answer,
                        }
                    }
                }
            });
            let answers = futures::future::join_all(calls).await;
            // Every loser first, so a failure shows what was answered.
            for lost in answers.iter().filter_map(|a| a.as_ref().err()) {
                assert_eq!((lost.code(), reason(lost)), (Code::ResourceExhausted, "COUPON_USED_UP".into()), "{code}: {lost:?}");
            }
            let won = answers.iter().filter(|a| a.is_ok()).count();
            assert_eq!(won, wins, "{code}");
            assert_eq!(shop.coupon(code).await?.reserved_uses, u64::try_from(wins)?);
            // A loser is refused again, and holds nothing: a session refused
            // while holding is stored as such; one whose cart was evaluated
            // after the last use went (a busy machine) was never stored.
            for (i, _) in answers.iter().enumerate().filter(|(_, a)| a.is_err()) {
                let id = format!("{code}-{i}");
                let again = shop.reserve(&id, cart(vec![line("1", "shoes", "60.00")], &[code]), 60).await;
                assert_eq!(again.err().map(|e| reason(&e)), Some("COUPON_USED_UP".into()), "{id}");
                match shop.session(&id).await {
                    Ok(session) => assert_eq!(state(&session), apb::CheckoutState::Refused, "{id}"),
                    Err(e) => assert_eq!(e.code(), Code::NotFound, "{id}: {e:?}"),
                }
            }
            assert_eq!(shop.coupon(code).await?.reserved_uses, u64::try_from(wins)?);
        }
        suite.stop().await
    }

    async fn bad_checkouts_are_refused_and_change_nothing(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let shop = shop_with_code(&suite, "TEN", 1).await?;
        let unknown = shop.confirm("k", "nope", "o-1").await.err();
        assert_eq!(unknown.map(|e| e.code()), Some(Code::NotFound));
        let unknown = shop.cancel("k", "nope").await.err();
        assert_eq!(unknown.map(|e| e.code()), Some(Code::NotFound));
        let thousand: Vec<String> = (0..1_000).map(|i| format!("C{i}")).collect();
        let thousand: Vec<&str> = thousand.iter().map(String::as_str).collect();
        let long = "A".repeat(65);
        let mut negative = line("1", "shoes", "10.00");
        negative.unit_price = eur("-10.00");
        for (name, bad) in [
            ("1,000 codes", cart(vec![line("1", "shoes", "10.00")], &thousand)),
            ("a code over 64 characters", cart(vec![line("1", "shoes", "10.00")], &[long.as_str()])),
            ("a negative price", cart(vec![negative], &[])),
        ] {
            let answer = shop.reserve("bad", bad, 60).await.err();
            assert_eq!(answer.map(|s| s.code()), Some(Code::InvalidArgument), "{name}");
        }
        assert_eq!(shop.session("bad").await.err().map(|e| e.code()), Some(Code::NotFound));
        // More points than held: what is held pays, in whole blocks.
        let mut greedy = paid_cart(&[]);
        greedy.pay_with_points = Some(money("100000", "PTS"));
        let s = shop.reserve("greedy", greedy, 60).await?;
        let paid = s.cart.unwrap_or_default().payment.unwrap_or_default();
        assert_eq!(amount(&paid.points_used), "300 PTS");
        assert_eq!(shop.balance("ann", "PTS").await?, ("50".into(), "300".into()));
        suite.stop().await
    }

    async fn a_program_that_enrols_on_the_first_purchase_enrols_at_checkout(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, RateLimitConfig::default()).await?;
        let shop = Shop::open(&suite).await?;
        let mut accrual = AccrualServiceClient::new(shop.gw.clone());
        let read = apb::GetProgramRequest { program_id: "demo".into(), version: 0 };
        let program = accrual.get_program(with_key(read, &shop.key)?).await?.into_inner().program;
        let program = apb::Program { auto_enroll: true, ..program.unwrap_or_default() };
        let upsert = apb::UpsertProgramRequest { idempotency_key: "auto".into(), program: Some(program), ..Default::default() };
        accrual.upsert_program(with_key(upsert, &shop.key)?).await?;
        let member = |customer: &str| apb::GetMemberRequest { program_id: "demo".into(), customer_id: customer.into() };

        // Evaluated as the member zoe would be; enrolled by nothing.
        let zoe = apb::Cart { customer_id: "zoe".into(), ..cart(vec![line("1", "shoes", "40.00")], &[]) };
        let e = shop.evaluate(zoe.clone()).await?;
        assert_eq!(e.earn.iter().map(|r| amount(&r.amount)).collect::<Vec<_>>(), vec!["2.00 EUR", "40 PTS"]);
        let unknown = accrual.get_member(with_key(member("zoe"), &shop.key)?).await.err();
        assert_eq!(unknown.map(|e| e.code()), Some(Code::NotFound));
        // Reserved and confirmed: enrolled, welcome bonus once.
        shop.reserve("s-zoe", zoe, 60).await?;
        shop.confirm("k-zoe", "s-zoe", "o-zoe").await?;
        accrual.get_member(with_key(member("zoe"), &shop.key)?).await?;
        eventually("the welcome bonus and the order's points", || {
            let shop = &shop;
            async move { Ok(shop.balance("zoe", "PTS").await?.0 == "50") }
        })
        .await?;
        suite.stop().await
    }
}
