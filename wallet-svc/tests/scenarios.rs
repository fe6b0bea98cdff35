//! The wallet's flows through real gRPC, on SQLite and PostgreSQL.
mod support;

use boomerang_common::backend_tests;
use boomerang_proto::{common::v1::ClawbackPolicy, wallet::v1 as pb};
use support::{DAY, Wallet, eur, eventually, pts};
use tonic::Code;

backend_tests! {
    async fn liability_sums_customers_per_tenant_and_asset(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        w.credit("a", "c-1", eur("50.00")).await?;
        w.credit("b", "c-2", eur("25.50")).await?;
        w.authorize("h", "c-1", eur("10.00"), 600).await?;
        let release = boomerang_common::time::to_timestamp(w.now() + 14 * DAY);
        let pending = pb::CreditRequest { idempotency_key: "p".into(), customer_id: "c-3".into(), amount: Some(eur("5.00")), release_at: Some(release), ..Default::default() };
        w.client.credit(pending).await?;
        let rows = wallet_svc::repo::reads::liability(&w.db).await?;
        // available 65.50 (50 - 10 held + 25.50), pending 5.00, held 10.00, in cents
        assert_eq!(rows, vec![("acme".to_owned(), "EUR".to_owned(), 6_550, 500, 1_000)]);
        Ok(())
    }

    async fn a_pending_credit_becomes_available_at_release(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        let release = boomerang_common::time::to_timestamp(w.now() + 14 * DAY);
        let req = pb::CreditRequest {
            idempotency_key: "order-1".into(),
            customer_id: "c-1".into(),
            amount: Some(eur("5.00")),
            release_at: Some(release),
            source: Some(pb::Source { kind: "order".into(), reference: "o-1".into(), rule_version: "program:p-1@1".into(), inputs: String::new() }),
            ..pb::CreditRequest::default()
        };
        let credited = w.client.credit(req).await?.into_inner();
        assert_eq!(credited.layer, pb::Layer::Pending as i32);
        assert_eq!(w.balance("c-1", "EUR").await?, ("0.00".into(), "5.00".into(), "0.00".into()));
        w.advance_days(13);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(w.balance("c-1", "EUR").await?.1, "5.00", "still pending a day before release");
        w.advance_days(1);
        eventually("settlement", || {
            let mut c = w.client.clone();
            async move {
                let b = c.get_balance(pb::GetBalanceRequest { customer_id: "c-1".into(), ..Default::default() }).await?.into_inner();
                Ok(b.balances.first().and_then(|b| b.available.clone()).map(|m| m.amount) == Some("5.00".into()))
            }
        }).await?;
        assert_eq!(w.balance("c-1", "EUR").await?, ("5.00".into(), "0.00".into(), "0.00".into()));
        Ok(())
    }

    async fn a_customer_without_entries_has_zero_of_the_asset_asked(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        assert_eq!(w.balance("nobody", "PTS").await?, ("0".into(), "0".into(), "0".into()));
        assert_eq!(w.balance("nobody", "EUR").await?, ("0.00".into(), "0.00".into(), "0.00".into()));
        let all = w.client.get_balance(pb::GetBalanceRequest { customer_id: "nobody".into(), ..Default::default() }).await?.into_inner();
        assert!(all.balances.is_empty(), "no asset asked, none had: {all:?}");
        Ok(())
    }

    async fn hold_capture_less_and_a_lapsed_hold(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        w.credit("seed", "c-1", eur("50.00")).await?;
        let hold = w.authorize("h-1", "c-1", eur("30.00"), 600).await?;
        assert_eq!(w.balance("c-1", "EUR").await?, ("20.00".into(), "0.00".into(), "30.00".into()));
        let more = w.client.capture(pb::CaptureRequest { idempotency_key: "cap-0".into(), hold_id: hold.clone(), amount: Some(eur("30.01")) }).await;
        let more = more.err().map(|s| (s.code(), s.message().to_owned()));
        // In the request's words, not minor units.
        assert_eq!(more, Some((Code::FailedPrecondition, "cannot capture 30.01 EUR, only 30.00 EUR is held".into())));
        let captured = w.client.capture(pb::CaptureRequest { idempotency_key: "cap-1".into(), hold_id: hold, amount: Some(eur("20.00")) }).await?.into_inner();
        assert_eq!(captured.hold.map(|h| h.status), Some(pb::HoldStatus::Captured as i32));
        assert_eq!(w.balance("c-1", "EUR").await?, ("30.00".into(), "0.00".into(), "0.00".into()));

        let lapsing = w.authorize("h-2", "c-1", eur("10.00"), 60).await?;
        assert_eq!(w.balance("c-1", "EUR").await?.0, "20.00");
        w.advance_days(1);
        eventually("hold lapse", || {
            let mut c = w.client.clone();
            async move {
                let b = c.get_balance(pb::GetBalanceRequest { customer_id: "c-1".into(), ..Default::default() }).await?.into_inner();
                Ok(b.balances.first().and_then(|b| b.held.clone()).map(|m| m.amount) == Some("0.00".into()))
            }
        }).await?;
        assert_eq!(w.balance("c-1", "EUR").await?, ("30.00".into(), "0.00".into(), "0.00".into()));
        let late = w.client.capture(pb::CaptureRequest { idempotency_key: "cap-2".into(), hold_id: lapsing, amount: None }).await;
        assert_eq!(late.err().map(|s| s.code()), Some(Code::FailedPrecondition));
        Ok(())
    }

    async fn lots_expire_soonest_first(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        let at = |days: i64| Some(boomerang_common::time::to_timestamp(support::START + days * DAY));
        for (key, amount, days) in [("lot-a", "100", 10), ("lot-b", "50", 20)] {
            let req = pb::CreditRequest {
                idempotency_key: key.into(),
                customer_id: "c-1".into(),
                amount: Some(pts(amount)),
                expires_at: at(days),
                ..pb::CreditRequest::default()
            };
            w.client.credit(req).await?;
        }
        let hold = w.authorize("spend", "c-1", pts("120"), 600).await?;
        let captured = w.client.capture(pb::CaptureRequest { idempotency_key: "spend-cap".into(), hold_id: hold, amount: None }).await?.into_inner();
        let consumed: Vec<String> = captured.lots.iter().map(|l| l.amount.clone().unwrap_or_default().amount).collect();
        assert_eq!(consumed, vec!["100", "20"], "soonest-expiring lot first");
        assert_eq!(w.balance("c-1", "PTS").await?.0, "30");

        w.advance_days(10);
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        assert_eq!(w.balance("c-1", "PTS").await?.0, "30", "the day-10 lot was spent: nothing expires");
        w.advance_days(10);
        eventually("expiry of the day-20 lot", || {
            let mut c = w.client.clone();
            async move {
                let b = c.get_balance(pb::GetBalanceRequest { customer_id: "c-1".into(), ..Default::default() }).await?.into_inner();
                Ok(b.balances.first().and_then(|b| b.available.clone()).map(|m| m.amount) == Some("0".into()))
            }
        }).await?;
        let statement = w.client.list_entries(pb::ListEntriesRequest { customer_id: "c-1".into(), ..Default::default() }).await?.into_inner();
        let kinds: Vec<(String, String)> = statement.entries.iter().rev()
            .map(|e| (e.source.clone().unwrap_or_default().kind, e.amount.clone().unwrap_or_default().amount))
            .collect();
        assert_eq!(kinds, vec![
            ("".into(), "100".into()), ("".into(), "50".into()),
            ("hold".into(), "-120".into()), ("hold".into(), "120".into()),
            ("capture".into(), "-120".into()),
            ("expiry".into(), "-30".into()),
        ]);
        Ok(())
    }

    async fn reversal_after_spending_follows_the_clawback_policy(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        for (customer, policy, reversed, left, available) in [
            ("only-pending", ClawbackPolicy::OnlyPending, "0.00", "10.00", "3.00"),
            ("within-balance", ClawbackPolicy::WithinBalance, "3.00", "7.00", "0.00"),
            ("allow-negative", ClawbackPolicy::AllowNegative, "10.00", "0.00", "-7.00"),
        ] {
            let credit = w.credit(&format!("{customer}-credit"), customer, eur("10.00")).await?;
            let hold = w.authorize(&format!("{customer}-hold"), customer, eur("7.00"), 600).await?;
            w.client.capture(pb::CaptureRequest { idempotency_key: format!("{customer}-cap"), hold_id: hold, amount: None }).await?;
            let reply = w.client.reverse(pb::ReverseRequest {
                idempotency_key: format!("{customer}-rev"),
                customer_id: customer.into(),
                credit_id: credit.credit_id,
                clawback_policy: policy as i32,
                ..pb::ReverseRequest::default()
            }).await?.into_inner();
            assert_eq!(reply.reversed_available.map(|m| m.amount), Some(reversed.into()), "{customer}");
            assert_eq!(reply.not_reversed.map(|m| m.amount), Some(left.into()), "{customer}");
            assert_eq!(w.balance(customer, "EUR").await?.0, available, "{customer}");
        }
        Ok(())
    }

    async fn gifted_points_keep_their_expiry(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        let expires = Some(boomerang_common::time::to_timestamp(support::START + 5 * DAY));
        w.client.credit(pb::CreditRequest {
            idempotency_key: "k".into(), customer_id: "giver".into(), amount: Some(pts("90")), expires_at: expires, ..Default::default()
        }).await?;
        w.client.transfer(pb::TransferRequest {
            idempotency_key: "gift".into(), from_customer_id: "giver".into(),
            destination: Some(pb::transfer_request::Destination::ToCustomerId("friend".into())),
            amount: Some(pts("90")), description: "happy birthday".into(),
        }).await?;
        assert_eq!(w.balance("friend", "PTS").await?.0, "90");
        let lots = w.client.list_expiring_lots(pb::ListExpiringLotsRequest { customer_id: "friend".into(), ..Default::default() }).await?.into_inner();
        assert_eq!(lots.lots.len(), 1);
        w.advance_days(6);
        eventually("the gift's expiry", || {
            let mut c = w.client.clone();
            async move {
                let b = c.get_balance(pb::GetBalanceRequest { customer_id: "friend".into(), ..Default::default() }).await?.into_inner();
                Ok(b.balances.first().and_then(|b| b.available.clone()).map(|m| m.amount) == Some("0".into()))
            }
        }).await?;
        // A gift is not a reward: it cannot be reversed from the receiver.
        let reverse = w.client.reverse(pb::ReverseRequest {
            idempotency_key: "r".into(), customer_id: "friend".into(), source_reference: "friend".into(), ..Default::default()
        }).await;
        assert!(reverse.is_err());
        Ok(())
    }

    async fn idempotent_replays_and_mismatched_payloads(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        let first = w.credit("k-1", "c-1", eur("5.00")).await?;
        let again = w.credit("k-1", "c-1", eur("5.00")).await?;
        assert_eq!(first, again);
        assert_eq!(w.balance("c-1", "EUR").await?.0, "5.00");
        let other = w.credit("k-1", "c-1", eur("6.00")).await.err();
        let status = other.and_then(|e| e.downcast::<tonic::Status>().ok());
        assert_eq!(status.as_ref().map(|s| s.code()), Some(Code::AlreadyExists));
        // Keys are per tenant: another tenant may use the same one.
        let mut beta = w.as_tenant("beta").await?;
        beta.credit(pb::CreditRequest { idempotency_key: "k-1".into(), customer_id: "c-1".into(), amount: Some(eur("6.00")), ..Default::default() }).await?;
        assert_eq!(w.balance("c-1", "EUR").await?.0, "5.00", "tenants never see each other");
        Ok(())
    }

    async fn bad_input_names_the_field(backend) -> anyhow::Result<()> {
        use tonic_types::StatusExt as _;
        let mut w = Wallet::start(backend).await?;
        for (amount, field) in [(eur("-1.00"), "amount.amount"), (eur("1.001"), "amount.amount"), (pts("1.5"), "amount.amount"),
                                (support::eur("0"), "amount.amount"), (boomerang_proto::common::v1::Money { amount: "1".into(), asset: "XYZ".into() }, "amount.asset"),
                                (eur("99999999999.00"), "amount.amount")] {
            let status = w.credit("bad", "c-1", amount).await.err().and_then(|e| e.downcast::<tonic::Status>().ok());
            let status = status.ok_or_else(|| anyhow::anyhow!("accepted bad input"))?;
            assert_eq!(status.code(), Code::InvalidArgument);
            let fields: Vec<String> = status.get_details_bad_request().map(|b| b.field_violations.into_iter().map(|f| f.field).collect()).unwrap_or_default();
            assert!(fields.contains(&field.to_string()), "{fields:?} lacks {field}");
        }
        let no_key = w.client.credit(pb::CreditRequest { customer_id: "c-1".into(), amount: Some(eur("1.00")), ..Default::default() }).await;
        assert_eq!(no_key.err().map(|s| s.code()), Some(Code::InvalidArgument));
        Ok(())
    }

    async fn statements_export_as_the_statements_read(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        w.credit("a", "c-1", eur("50.00")).await?;
        w.credit("b", "c-2", eur("25.50")).await?;
        w.credit("c", "c-1", pts("120")).await?;
        let hold = w.authorize("h", "c-1", eur("10.00"), 600).await?;
        w.client.capture(pb::CaptureRequest { idempotency_key: "cap".into(), hold_id: hold, amount: None }).await?;
        // Another tenant's entries never show.
        let mut other = w.as_tenant("other").await?;
        let theirs = pb::CreditRequest { idempotency_key: "x".into(), customer_id: "c-1".into(), amount: Some(eur("99.00")), ..Default::default() };
        other.credit(theirs).await?;
        // c-3 has more lines than an export reads in a page.
        let credits = (0..505).map(|i| pb::CreditRequest { idempotency_key: format!("m-{i}"), customer_id: "c-3".into(), amount: Some(eur("0.01")), ..Default::default() });
        for credit in credits {
            w.client.credit(credit).await?;
        }
        // An entry of the last minute may still be committing: not exported yet.
        let recent = w.client.list_entries(pb::ListEntriesRequest { customer_id: "c-2".into(), ..Default::default() }).await?.into_inner().entries.len();
        assert_eq!(recent, 1);
        let client = w.client.clone();
        let export = |customer: &str, format: pb::ExportFormat| {
            let mut c = client.clone();
            let req = pb::ExportStatementsRequest { customer_id: customer.into(), format: format as i32, ..Default::default() };
            async move {
                let mut chunks = c.export_statements(req).await?.into_inner();
                let mut out = Vec::new();
                while let Some(chunk) = chunks.message().await? {
                    out.extend(chunk.data);
                }
                anyhow::Ok(String::from_utf8(out)?)
            }
        };
        assert_eq!(export("c-2", pb::ExportFormat::Ndjson).await?, "", "posted under a minute ago");
        w.advance_days(1);
        let csv = export("", pb::ExportFormat::Csv).await?;
        let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
        assert_eq!(lines.first().copied(), Some("posted_at,customer_id,entry_id,transaction_id,asset,layer,amount,balance_after,source_kind,source_ref,rule_version,description"));
        assert!(!csv.contains("99.00"), "another tenant's credit");
        let mut rows = 0;
        for customer in ["c-1", "c-2", "c-3"] {
            // Every page of the customer's statement.
            let mut statement = Vec::new();
            let mut token = String::new();
            loop {
                let page = pb::ListEntriesRequest { customer_id: customer.into(), page: Some(boomerang_proto::common::v1::PageRequest { page_size: 100, page_token: token }), ..Default::default() };
                let page = w.client.list_entries(page).await?.into_inner();
                statement.extend(page.entries);
                if page.next_page_token.is_empty() { break; }
                token = page.next_page_token;
            }
            let money = |m: &Option<boomerang_proto::common::v1::Money>| m.clone().unwrap_or_default();
            // By account (asset, here) then oldest first.
            let mut want: Vec<[String; 5]> = statement.iter().rev()
                .map(|e| [e.entry_id.clone(), e.transaction_id.clone(), money(&e.amount).asset, money(&e.amount).amount, money(&e.running_balance).amount])
                .collect();
            want.sort_by_key(|[.., asset, _, _]| if asset == "EUR" { 0 } else { 1 });
            let ndjson = export(customer, pb::ExportFormat::Ndjson).await?;
            let got: Vec<[String; 5]> = ndjson.lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
                    assert_eq!(v["customer_id"], customer);
                    ["entry_id", "transaction_id", "asset", "amount", "balance_after"].map(|k| v[k].as_str().unwrap_or_default().to_owned())
                })
                .collect();
            assert_eq!(got, want, "{customer}");
            assert!(!want.is_empty());
            rows += want.len();
        }
        assert_eq!(lines.len(), 1 + rows, "every customer's lines, once");
        // Here: c-1 has its two credits, the hold (two lines) and the capture.
        assert_eq!(rows, 6 + 505);
        let unformatted = w.client.export_statements(pb::ExportStatementsRequest::default()).await;
        assert_eq!(unformatted.err().map(|e| e.code()), Some(Code::InvalidArgument));
        Ok(())
    }

}
