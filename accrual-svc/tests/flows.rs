//! accrual-svc with real wallet-svc and campaign-svc over gRPC, on both
//! backends: replicas and reversals, bounds, replays, tiers, fraud review,
//! events, caps under concurrency (earn rules, campaigns and reports are in
//! `rewards.rs`).
mod support;

use support::*;

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
}
