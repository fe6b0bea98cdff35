//! The invariant checker, on both backends: quiet after real traffic, and
//! loud about each kind of broken promise when the databases are tampered with.
mod support;

use boomerang::check;
use boomerang_common::{
    backend_tests,
    db::Db,
    testing::{channel, eventually},
    time::{now_micros, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient},
    common::v1::{Channel as Ch, Money},
};
use gateway::limits::RateLimitConfig;
use support::{start, with_key};

fn eur(a: &str) -> Money {
    Money {
        amount: a.into(),
        asset: "EUR".into(),
    }
}

async fn exec(db: &Db, sql: &str) -> anyhow::Result<()> {
    sqlx::query(sql).execute(db.pool()).await?;
    Ok(())
}

backend_tests! {
    async fn the_checker_passes_real_traffic_and_names_what_was_broken(backend) -> anyhow::Result<()> {
        let (suite, dbs) = start(backend, RateLimitConfig::default()).await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        let mut accrual = AccrualServiceClient::new(channel(suite.addrs().gateway).await?);
        let program = apb::Program {
            program_id: "cb".into(),
            name: "Cashback".into(),
            currency: "EUR".into(),
            earn_rules: vec![apb::EarnRule { asset: "EUR".into(), basis: apb::EarnBasis::Percent as i32, rate: "5".into() }],
            return_window_days: 14,
            ..Default::default()
        };
        accrual.upsert_program(with_key(apb::UpsertProgramRequest { idempotency_key: "p".into(), program: Some(program), ..Default::default() }, &key)?).await?;
        let enrol = apb::EnrollMemberRequest { idempotency_key: "e".into(), program_id: "cb".into(), customer_id: "alice".into(), ..Default::default() };
        accrual.enroll_member(with_key(enrol, &key)?).await?;
        let purchase = apb::Purchase {
            program_id: "cb".into(),
            order_id: "o-1".into(),
            customer_id: "alice".into(),
            currency: "EUR".into(),
            lines: vec![apb::PurchaseLine { line_id: "l".into(), sku: "s".into(), category: "c".into(), unit_price: Some(eur("80.00")), quantity: 1, discount: None }],
            channel: Ch::Online as i32,
            store_id: String::new(),
            occurred_at: Some(to_timestamp(now_micros())),
        };
        accrual.record_purchase(with_key(apb::RecordPurchaseRequest { idempotency_key: "o-1".into(), purchase: Some(purchase) }, &key)?).await?;
        let databases = boomerang::Databases {
            gateway: dbs[0].config.clone(),
            wallet: dbs[1].config.clone(),
            accrual: dbs[2].config.clone(),
            campaign: dbs[3].config.clone(),
            referral: dbs[4].config.clone(),
            notify: dbs[5].config.clone(),
        };
        eventually("the reward delivered and every invariant holding", || {
            let databases = databases.clone();
            async move { Ok(check::check(&databases, now_micros()).await?.ok()) }
        })
        .await?;
        suite.stop().await?;

        let report = check::check(&databases, now_micros()).await?;
        assert_eq!(report.checked.get("purchase rewards"), Some(&1), "{report}");
        let wallet = Db::connect(&databases.wallet, &wallet_svc::repo::MIGRATIONS).await?;
        let accrual_db = Db::connect(&databases.accrual, &accrual_svc::repo::MIGRATIONS).await?;
        // A stored balance off its postings, a reward reversed past itself,
        // a credit made twice, a job parked without its error.
        exec(&wallet, "UPDATE accounts SET pending = pending + 1 WHERE kind = 'customer'").await?;
        exec(&accrual_db, "UPDATE rewards SET reversed = amount + 1").await?;
        exec(&wallet, "INSERT INTO credits (tenant_id, account_id, funding_id, transaction_id, amount, pending, remaining, status, source_kind, source_ref, rule_version, labels, tax_treatment, created_at) \
             SELECT tenant_id, account_id, funding_id, transaction_id, amount, 0, 0, 'available', source_kind, source_ref, rule_version, labels, tax_treatment, created_at FROM credits").await?;
        exec(&wallet, "INSERT INTO jobs (tenant_id, queue, dedupe_key, payload, run_at, created_at, failed_at) VALUES ('shop', 'wallet.settle', 'k', '', 0, 0, 1)").await?;
        let report = check::check(&databases, now_micros()).await?;
        let found = report.violations.join("\n");
        for broken in ["but postings sum to", "pending credits", "reversed 401 of 400", "credited 2 times", "parked without its error"] {
            assert!(found.contains(broken), "{broken:?} not reported:\n{found}");
        }
        wallet.close().await;
        accrual_db.close().await;
        Ok(())
    }
}
