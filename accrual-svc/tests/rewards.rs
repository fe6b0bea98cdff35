//! accrual-svc with real wallet-svc and campaign-svc over gRPC, on both
//! backends: earn rules and boundaries, returns below a threshold, tiers and
//! campaigns in one explanation, the campaign report, bonuses once, points
//! conversion, a process kill between the purchase and its credit.
mod support;

use support::*;

backend_tests! {
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
        s.campaign.create_campaign(cpb::CreateCampaignRequest { idempotency_key: "c".into(), campaign_id: "double".into(), spec: Some(spec), ..Default::default() }).await?;
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
        s.campaign.create_campaign(cpb::CreateCampaignRequest { idempotency_key: "c".into(), campaign_id: "double".into(), spec: Some(spec), ..Default::default() }).await?;
        s.campaign.schedule_campaign(cpb::ScheduleCampaignRequest { idempotency_key: "s".into(), campaign_id: "double".into() }).await?;
        s.campaign.create_campaign(cpb::CreateCampaignRequest { idempotency_key: "c2".into(), campaign_id: "euro".into(), spec: Some(bonus), ..Default::default() }).await?;
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
