//! Programs as code, through the gateway, on both backends: the primitives
//! (UpsertProgram and UpsertReferralProgram with `validate_only`: the
//! program as it would be stored, nothing written; `expected_version`: a
//! change applies only to the state it was planned against), then the
//! `boomerang get`, `plan` and `apply` commands run as a user runs them.
mod support;

use boomerang_common::{backend_tests, testing::channel};
use boomerang_proto::{
    accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient},
    referral::v1::{self as rpb, referral_service_client::ReferralServiceClient},
};
use support::{cli, start, with_key};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt as _;

fn program(rate: &str) -> apb::Program {
    apb::Program {
        program_id: "cb".into(),
        name: "Cashback".into(),
        currency: "EUR".into(),
        timezone: "Europe/Rome".into(),
        earn_rules: vec![apb::EarnRule {
            asset: "EUR".into(),
            basis: apb::EarnBasis::Percent as i32,
            rate: rate.into(),
        }],
        return_window_days: 14,
        ..Default::default()
    }
}

struct Shop {
    accrual: AccrualServiceClient<Channel>,
    key: String,
}

impl Shop {
    async fn upsert(
        &mut self,
        key: &str,
        rate: &str,
        validate_only: bool,
        expected_version: Option<u32>,
    ) -> Result<apb::Program, tonic::Status> {
        let req = apb::UpsertProgramRequest {
            idempotency_key: key.into(),
            program: Some(program(rate)),
            validate_only,
            expected_version,
        };
        let req = with_key(req, &self.key).map_err(|e| tonic::Status::internal(e.to_string()))?;
        let done = self.accrual.upsert_program(req).await?.into_inner();
        Ok(done.program.unwrap_or_default())
    }

    async fn latest(&mut self) -> anyhow::Result<(u32, String)> {
        let req = apb::GetProgramRequest {
            program_id: "cb".into(),
            version: 0,
        };
        let p = self
            .accrual
            .get_program(with_key(req, &self.key)?)
            .await?
            .into_inner();
        let p = p.program.unwrap_or_default();
        Ok((
            p.version,
            p.earn_rules
                .first()
                .map(|r| r.rate.clone())
                .unwrap_or_default(),
        ))
    }
}

backend_tests! {
    async fn a_program_is_checked_without_publishing_and_published_over_a_known_version(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        let mut shop = Shop { accrual: AccrualServiceClient::new(channel(suite.addrs().gateway).await?), key };

        // Not there yet: only if it does not exist (expected version 0).
        let checked = shop.upsert("", "5", true, Some(0)).await?;
        assert_eq!(checked.version, 1, "the version it would get");
        let missing = shop.latest().await.err().and_then(|e| e.downcast::<tonic::Status>().ok());
        assert_eq!(missing.map(|e| e.code()), Some(Code::NotFound), "nothing written");
        assert_eq!(shop.upsert("p-1", "5", false, Some(0)).await?.version, 1);
        let again = shop.upsert("p-1b", "5", false, Some(0)).await.err();
        assert_eq!(again.map(|e| e.code()), Some(Code::FailedPrecondition), "it exists now");

        // A change checked: normalised as stored, nothing published.
        let checked = shop.upsert("", "7.50", true, Some(1)).await?;
        assert_eq!((checked.version, checked.earn_rules[0].rate.as_str()), (2, "7.5"));
        assert_eq!(shop.latest().await?, (1, "5".into()));
        // A bad one is refused on its field, as a publish would be.
        let bad = shop.upsert("", "five", true, None).await.err().unwrap_or_else(|| tonic::Status::ok(""));
        assert_eq!(bad.code(), Code::InvalidArgument);
        let fields: Vec<String> = bad.get_details_bad_request().map(|b| b.field_violations.into_iter().map(|v| v.field).collect()).unwrap_or_default();
        assert_eq!(fields, ["program.earn_rules[0].rate"]);

        // Published over version 1; planned against 1 again, refused.
        assert_eq!(shop.upsert("p-2", "7.50", false, Some(1)).await?.version, 2);
        let stale = shop.upsert("p-3", "9", false, Some(1)).await.err();
        assert_eq!(stale.as_ref().map(|e| e.code()), Some(Code::FailedPrecondition), "{stale:?}");
        let stale = shop.upsert("", "9", true, Some(1)).await.err();
        assert_eq!(stale.map(|e| e.code()), Some(Code::FailedPrecondition), "checked against a moved state");
        assert_eq!(shop.latest().await?, (2, "7.5".into()));
        // Without an expected version: over whatever is latest, as before.
        assert_eq!(shop.upsert("p-4", "9", false, None).await?.version, 3);

        // Thirty-two applies planned against version 3 at once: exactly one publishes.
        let racing = (0..32).map(|i| {
            let mut shop = Shop { accrual: shop.accrual.clone(), key: shop.key.clone() };
            async move { shop.upsert(&format!("race-{i}"), &format!("1.{i:02}"), false, Some(3)).await }
        });
        let results = futures::future::join_all(racing).await;
        let published = results.iter().filter(|r| r.is_ok()).count();
        let refused = results.iter().filter(|r| r.as_ref().err().is_some_and(|e| e.code() == Code::FailedPrecondition)).count();
        assert_eq!((published, refused), (1, 31), "{results:?}");
        assert_eq!(shop.latest().await?.0, 4);
        suite.stop().await
    }
}

/// A shop with the demo program (version 1: 5% back, 10% over 100 EUR) and
/// its files in a fresh folder, as `boomerang get` wrote them.
struct Repo {
    shop: Shop,
    gateway: String,
    dir: tempfile::TempDir,
}

impl Repo {
    async fn open(suite: &boomerang::Suite) -> anyhow::Result<Self> {
        let key = suite.create_key("shop", &["*:write"]).await?;
        suite.demo_program("shop").await?;
        let gateway = format!("http://{}", suite.addrs().gateway);
        let shop = Shop {
            accrual: AccrualServiceClient::new(channel(suite.addrs().gateway).await?),
            key,
        };
        let repo = Self {
            shop,
            gateway,
            dir: tempfile::tempdir()?,
        };
        let (ok, yaml, err) = repo.run(&["get", "program", "demo"]).await?;
        assert!(ok, "{err}");
        std::fs::create_dir_all(repo.dir.path().join("programs"))?;
        std::fs::write(repo.file("demo.yaml"), yaml)?;
        Ok(repo)
    }

    fn file(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join("programs").join(name)
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    async fn run(&self, args: &[&str]) -> anyhow::Result<(bool, String, String)> {
        cli(args, &self.gateway, &self.shop.key).await
    }

    /// Replaces `from` with `to` in a program file.
    fn edit(&self, name: &str, from: &str, to: &str) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(self.file(name))?;
        assert!(text.contains(from), "{text}");
        std::fs::write(self.file(name), text.replacen(from, to, 1))?;
        Ok(())
    }

    async fn version(&mut self, id: &str) -> anyhow::Result<Option<apb::Program>> {
        let req = apb::GetProgramRequest {
            program_id: id.into(),
            version: 0,
        };
        match self
            .shop
            .accrual
            .get_program(with_key(req, &self.shop.key)?)
            .await
        {
            Ok(found) => Ok(found.into_inner().program),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(status.into()),
        }
    }

    /// Alice's order of one 120 EUR line: (program version, EUR rewarded).
    async fn buy(&mut self, order: &str) -> anyhow::Result<(u32, String)> {
        let req = apb::RecordPurchaseRequest {
            idempotency_key: order.into(),
            purchase: Some(apb::Purchase {
                program_id: "demo".into(),
                order_id: order.into(),
                customer_id: "alice".into(),
                currency: "EUR".into(),
                lines: vec![apb::PurchaseLine {
                    line_id: "1".into(),
                    sku: "shoe".into(),
                    category: "shoes".into(),
                    unit_price: support::shop::eur("120.00"),
                    quantity: 1,
                    discount: None,
                }],
                channel: boomerang_proto::common::v1::Channel::Online as i32,
                ..Default::default()
            }),
        };
        let done = self
            .shop
            .accrual
            .record_purchase(with_key(req, &self.shop.key)?)
            .await?
            .into_inner();
        let eur = done
            .rewards
            .iter()
            .filter_map(|r| r.amount.as_ref())
            .find(|m| m.asset == "EUR");
        Ok((
            done.program_version,
            eur.map(|m| m.amount.clone()).unwrap_or_default(),
        ))
    }

    /// The whole of an order returned: the EUR taken back.
    async fn give_back(&mut self, order: &str) -> anyhow::Result<String> {
        let req = apb::RecordReturnRequest {
            idempotency_key: format!("r-{order}"),
            program_id: "demo".into(),
            order_id: order.into(),
            return_id: format!("r-{order}"),
            lines: vec![apb::ReturnLine {
                line_id: "1".into(),
                quantity: 1,
            }],
            occurred_at: None,
        };
        let done = self
            .shop
            .accrual
            .record_return(with_key(req, &self.shop.key)?)
            .await?
            .into_inner();
        Ok(done
            .reversed
            .iter()
            .find(|m| m.asset == "EUR")
            .map(|m| m.amount.clone())
            .unwrap_or_default())
    }
}

backend_tests! {
    async fn an_exported_program_applies_as_no_change_and_one_edit_is_one_new_version(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let mut repo = Repo::open(&suite).await?;
        let enroll = apb::EnrollMemberRequest { idempotency_key: "e".into(), program_id: "demo".into(), customer_id: "alice".into(), ..Default::default() };
        repo.shop.accrual.enroll_member(with_key(enroll, &repo.shop.key)?).await?;
        assert_eq!(repo.buy("o-1").await?, (1, "12.00".into()), "10% of 120 under version 1");

        // Exported, then applied unchanged: nothing to do.
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.path("programs")]).await?;
        assert!(ok && out.contains("no changes (version 1)") && out.contains("No changes"), "{out}{err}");
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.path("programs")]).await?;
        assert!(ok && out.contains("Applied: 0 published."), "{out}{err}");

        // One rate edited (unquoted, as people write it): exactly that change.
        repo.edit("demo.yaml", "rate: \"10\"", "rate: 12.0")?;
        let plan = repo.path("plan.json");
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.path("programs"), "--out", &plan]).await?;
        assert!(ok, "{out}{err}");
        let changes: Vec<&str> = out.lines().filter(|l| l.starts_with("    ~ ") || l.starts_with("    + ") || l.starts_with("    - ")).collect();
        assert_eq!(changes, ["    ~ spec.thresholds[0].rate: \"10\" → \"12\""], "{out}");
        // What it would have cost o-1: 12% instead of 10% of 120 EUR.
        assert!(out.contains("what-if over the 1 purchase recorded") && out.contains("EUR: granted 12.00, would be 14.40 (+2.40)"), "{out}");
        assert!(out.contains("program demo: version 1 → 2"), "{out}");
        assert_eq!(repo.version("demo").await?.map(|p| p.version), Some(1), "a plan writes nothing");

        let (ok, out, err) = repo.run(&["apply", "-f", &repo.path("programs"), "--plan-file", &plan]).await?;
        assert!(ok && out.contains("program demo: version 2 published"), "{out}{err}");
        let live = repo.version("demo").await?.unwrap_or_default();
        assert_eq!((live.version, live.thresholds[0].rate.as_str()), (2, "12"));
        // The same apply again (a retried CI job): nothing more.
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.path("programs"), "--plan-file", &plan]).await?;
        assert!(ok && out.contains("Applied: 0 published."), "{out}{err}");
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.path("programs")]).await?;
        assert!(ok && out.contains("No changes"), "{out}{err}");
        // That plan again over a file edited since: refused, not "no changes".
        repo.edit("demo.yaml", "rate: 12.0", "rate: 13")?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.path("programs"), "--plan-file", &plan]).await?;
        assert!(!ok && err.contains("the file changed since the plan"), "{out}{err}");
        assert_eq!(repo.version("demo").await?.map(|p| p.version), Some(2));

        // The order priced by version 1 is returned by version 1's amount;
        // a new one earns by version 2.
        assert_eq!(repo.give_back("o-1").await?, "12.00");
        assert_eq!(repo.buy("o-2").await?, (2, "14.40".into()));
        suite.stop().await
    }

    async fn a_malformed_file_is_named_by_file_line_and_field_and_nothing_is_applied(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let mut repo = Repo::open(&suite).await?;
        repo.edit("demo.yaml", "name: \"Boomerang demo\"", "name: Renamed")?;
        std::fs::write(repo.file("summer.yaml"), "\
apiVersion: boomerang.dev/v1
kind: Program
id: summer
spec:
  name: Summer
  currency: EUR
  earnRules:
    - asset: EUR
      basis: EARN_BASIS_PERCENT
      rate: lots
  colour: red
  earn_rules: []
")?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.path("programs")]).await?;
        assert!(!ok, "{out}");
        let summer = repo.file("summer.yaml").display().to_string();
        assert!(err.contains(&format!("{summer}:11: spec.colour: unknown field")), "{err}");
        assert!(err.contains(&format!("{summer}:12: spec.earnRules: set twice")), "{err}");
        assert!(err.contains("nothing was applied"), "{err}");
        // Fixed on this side, the service's refusal names its line too.
        repo.edit("summer.yaml", "  colour: red\n  earn_rules: []\n", "")?;
        let (ok, _, err) = repo.run(&["apply", "-f", &repo.path("programs")]).await?;
        assert!(!ok && err.contains(&format!("{summer}:10: spec.earnRules[0].rate: ")), "{err}");
        assert_eq!(repo.version("summer").await?.map(|p| p.version), None);
        assert_eq!(repo.version("demo").await?.map(|p| p.version), Some(1), "the valid file is not applied either");
        suite.stop().await
    }

    async fn a_plan_is_refused_once_the_program_or_the_file_moved(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let mut repo = Repo::open(&suite).await?;
        repo.edit("demo.yaml", "rate: \"5\"", "rate: \"6\"")?;
        let plan = repo.path("plan.json");
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.path("programs"), "--out", &plan]).await?;
        assert!(ok, "{out}{err}");

        // The file edited after the plan: refused.
        repo.edit("demo.yaml", "rate: \"6\"", "rate: \"7\"")?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.path("programs"), "--plan-file", &plan]).await?;
        assert!(!ok && err.contains("the file changed since the plan"), "{out}{err}");
        repo.edit("demo.yaml", "rate: \"7\"", "rate: \"6\"")?;

        // Someone published since the plan: refused, their version kept.
        let mut moved = repo.version("demo").await?.unwrap_or_default();
        moved.name = "Moved".into();
        let req = apb::UpsertProgramRequest { idempotency_key: "console".into(), program: Some(moved), ..Default::default() };
        repo.shop.accrual.upsert_program(with_key(req, &repo.shop.key)?).await?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.path("programs"), "--plan-file", &plan]).await?;
        assert!(!ok && err.contains("demo.yaml:5: id: program demo is at version 2, not 1") && err.contains("plan again"), "{out}{err}");
        let live = repo.version("demo").await?.unwrap_or_default();
        assert_eq!((live.version, live.name.as_str()), (2, "Moved"));
        // --dry-run shows and changes nothing.
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.path("programs"), "--dry-run"]).await?;
        assert!(ok && out.contains("version 2 → 3") && out.contains("Dry run"), "{out}{err}");
        assert_eq!(repo.version("demo").await?.map(|p| p.version), Some(2));
        suite.stop().await
    }
}

/// The shop's referral program: a 5.00 EUR referee bonus and 5% for the
/// referrer, published over `expected` (or checked only).
async fn referral(
    client: &mut ReferralServiceClient<Channel>,
    key: &str,
    (idempotency_key, bonus): (&str, &str),
    validate_only: bool,
    expected_version: Option<u32>,
) -> Result<rpb::ReferralProgram, tonic::Status> {
    let program = rpb::ReferralProgram {
        referee_bonus: support::shop::eur(bonus),
        referrer_reward: Some(rpb::ReferrerReward {
            kind: Some(rpb::referrer_reward::Kind::Percent("5.0".into())),
        }),
        ..Default::default()
    };
    let req = rpb::UpsertReferralProgramRequest {
        idempotency_key: idempotency_key.into(),
        program: Some(program),
        validate_only,
        expected_version,
    };
    let req = with_key(req, key).map_err(|e| tonic::Status::internal(e.to_string()))?;
    Ok(client
        .upsert_referral_program(req)
        .await?
        .into_inner()
        .program
        .unwrap_or_default())
}

async fn referral_version(
    client: &mut ReferralServiceClient<Channel>,
    key: &str,
) -> anyhow::Result<Option<u32>> {
    let req = with_key(rpb::GetReferralProgramRequest { version: 0 }, key)?;
    match client.get_referral_program(req).await {
        Ok(found) => Ok(found.into_inner().program.map(|p| p.version)),
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(status.into()),
    }
}

backend_tests! {
    async fn the_referral_program_is_a_file_too_planned_and_applied_over_its_version(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let repo = Repo::open(&suite).await?;
        let mut client = ReferralServiceClient::new(channel(suite.addrs().gateway).await?);
        let key = repo.shop.key.clone();

        // The primitives: checked and normalised, nothing written; then
        // published only over the version named.
        let checked = referral(&mut client, &key, ("", "5.00"), true, Some(0)).await?;
        assert_eq!(checked.version, 1, "the version it would get");
        let percent = checked.referrer_reward.and_then(|r| r.kind);
        assert_eq!(percent, Some(rpb::referrer_reward::Kind::Percent("5".into())), "stored as the decimal");
        assert_eq!(referral_version(&mut client, &key).await?, None, "nothing written");
        let (ok, _, err) = repo.run(&["get", "referral-program"]).await?;
        assert!(!ok && err.contains("the referral program does not exist"), "{err}");
        assert_eq!(referral(&mut client, &key, ("rp-1", "5.00"), false, Some(0)).await?.version, 1);
        let again = referral(&mut client, &key, ("rp-2", "5.00"), false, Some(0)).await;
        assert_eq!(again.map_err(|e| e.code()).map(|p| p.version), Err(Code::FailedPrecondition), "it exists now");

        // Exported beside the program, applied unchanged: nothing to do.
        let (ok, yaml, err) = repo.run(&["get", "referral-program"]).await?;
        assert!(ok && yaml.contains("kind: ReferralProgram") && !yaml.contains("\nid:"), "{yaml}{err}");
        std::fs::write(repo.file("referral.yaml"), &yaml)?;
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.path("programs")]).await?;
        assert!(ok && out.contains("the referral program: no changes (version 1)") && out.contains("No changes"), "{out}{err}");

        // One edit is one change and one new version; applied again, nothing.
        std::fs::write(repo.file("referral.yaml"), yaml.replacen("amount: \"5.00\"", "amount: 7.5", 1))?;
        let plan = repo.path("plan.json");
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.path("programs"), "--out", &plan]).await?;
        assert!(ok && out.contains("the referral program: version 1 → 2"), "{out}{err}");
        assert!(out.contains("    ~ spec.refereeBonus.amount: \"5.00\" → \"7.50\"") && out.contains("1 to change, 1 unchanged"), "{out}");
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.path("programs"), "--plan-file", &plan]).await?;
        assert!(ok && out.contains("the referral program: version 2 published"), "{out}{err}");
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.path("programs"), "--plan-file", &plan]).await?;
        assert!(ok && out.contains("Applied: 0 published."), "{out}{err}");
        assert_eq!(referral_version(&mut client, &key).await?, Some(2));

        // Planned, then someone publishes: that plan is refused.
        let text = std::fs::read_to_string(repo.file("referral.yaml"))?;
        std::fs::write(repo.file("referral.yaml"), text.replacen("amount: 7.5", "amount: 8", 1))?;
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.path("programs"), "--out", &plan]).await?;
        assert!(ok, "{out}{err}");
        referral(&mut client, &key, ("console", "6.00"), false, None).await?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.path("programs"), "--plan-file", &plan]).await?;
        let stale = format!("{}:4: kind: the referral program is at version 3, not 2", repo.file("referral.yaml").display());
        assert!(!ok && err.contains(&stale) && err.contains("plan again"), "{out}{err}");
        assert_eq!(referral_version(&mut client, &key).await?, Some(3));

        // One per tenant: an id, or a second file, is refused where written.
        std::fs::write(repo.file("second.yaml"), "apiVersion: boomerang.dev/v1\nkind: ReferralProgram\nid: other\nspec: {}\n")?;
        let (ok, _, err) = repo.run(&["plan", "-f", &repo.path("programs")]).await?;
        assert!(!ok && err.contains("second.yaml:3: id: not in a ReferralProgram file"), "{err}");
        std::fs::write(repo.file("second.yaml"), text.replacen("amount: 7.5", "amount: 9", 1))?;
        let (ok, _, err) = repo.run(&["plan", "-f", &repo.path("programs")]).await?;
        assert!(!ok && err.contains("second.yaml:4: kind: the referral program is also in"), "{err}");
        assert_eq!(referral_version(&mut client, &key).await?, Some(3));
        suite.stop().await
    }
}
