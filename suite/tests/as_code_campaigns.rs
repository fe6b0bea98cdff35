//! Campaigns as code, through the gateway, on both backends: a campaign
//! file with the lifecycle state wanted, planned and applied by the
//! `boomerang` binary (created, scheduled, versioned, ended), and a plan
//! refused once the campaign moved, a draft edited in place included.
mod support;

use boomerang_common::{backend_tests, testing::channel};
use boomerang_proto::campaign::v1::{
    self as cpb, campaign_service_client::CampaignServiceClient,
    coupon_service_client::CouponServiceClient,
};
use support::{cli, start, with_key};
use tonic::{Code, transport::Channel};

const JUNE: &str = "\
apiVersion: boomerang.dev/v1
kind: Campaign
id: june
status: CAMPAIGN_STATUS_SCHEDULED
spec:
  name: June boost
  terms: 5% more on every order in June 2030, while the budget lasts.
  schedule:
    timezone: Europe/Rome
    startsAt: 2030-06-01T00:00:00Z
    endsAt: 2030-07-01T00:00:00Z
  effect:
    extraPercent: {asset: EUR, percent: 5}
  budgets:
    - total: {amount: 100, asset: EUR}
";

/// [`JUNE`]'s coupon codes: generated and given.
const CODES: &str = "\
couponBatches:
  - batchId: bf26
    rules:
      maxUses: 1
      effect:
        percentOff: {percent: 10, scope: DISCOUNT_SCOPE_ORDER}
    pattern: {pattern: bf26-####, count: 20}
  - batchId: vip
    rules:
      effect:
        amountOff: {amount: {amount: 5, asset: EUR}, scope: DISCOUNT_SCOPE_ORDER}
    given:
      codes:
        - {code: welcome, customerId: anna}
        - {code: VIP-BOB}
";

struct Repo {
    campaigns: CampaignServiceClient<Channel>,
    key: String,
    gateway: String,
    dir: tempfile::TempDir,
}

impl Repo {
    async fn open(suite: &boomerang::Suite) -> anyhow::Result<Self> {
        let repo = Self {
            campaigns: CampaignServiceClient::new(channel(suite.addrs().gateway).await?),
            key: suite.create_key("shop", &["*:write"]).await?,
            gateway: format!("http://{}", suite.addrs().gateway),
            dir: tempfile::tempdir()?,
        };
        std::fs::create_dir_all(repo.dir.path().join("campaigns"))?;
        Ok(repo)
    }

    fn file(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join("campaigns").join(name)
    }

    fn folder(&self) -> String {
        self.dir.path().join("campaigns").display().to_string()
    }

    fn plan_file(&self) -> String {
        self.dir.path().join("plan.json").display().to_string()
    }

    async fn run(&self, args: &[&str]) -> anyhow::Result<(bool, String, String)> {
        cli(args, &self.gateway, &self.key).await
    }

    fn edit(&self, name: &str, from: &str, to: &str) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(self.file(name))?;
        assert!(text.contains(from), "{text}");
        std::fs::write(self.file(name), text.replacen(from, to, 1))?;
        Ok(())
    }

    /// (version, status) of campaign `id`, None when there is none.
    async fn live(&mut self, id: &str) -> anyhow::Result<Option<(u32, cpb::CampaignStatus)>> {
        let req = cpb::GetCampaignRequest {
            campaign_id: id.into(),
            terms_at: None,
        };
        match self.campaigns.get_campaign(with_key(req, &self.key)?).await {
            Ok(found) => Ok(found.into_inner().campaign.map(|c| (c.version, c.status()))),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(status.into()),
        }
    }

    async fn spec(&mut self, id: &str) -> anyhow::Result<cpb::CampaignSpec> {
        let req = cpb::GetCampaignRequest {
            campaign_id: id.into(),
            terms_at: None,
        };
        let live = self
            .campaigns
            .get_campaign(with_key(req, &self.key)?)
            .await?
            .into_inner()
            .campaign;
        Ok(live.unwrap_or_default().spec.unwrap_or_default())
    }

    /// An edit made in the console (`key` its idempotency key): the campaign renamed.
    async fn rename(&mut self, id: &str, name: &str, key: &str) -> anyhow::Result<()> {
        let spec = cpb::CampaignSpec {
            name: name.into(),
            ..self.spec(id).await?
        };
        let req = cpb::UpdateCampaignRequest {
            idempotency_key: key.into(),
            campaign_id: id.into(),
            spec: Some(spec),
            ..Default::default()
        };
        self.campaigns
            .update_campaign(with_key(req, &self.key)?)
            .await?;
        Ok(())
    }
}

backend_tests! {
    async fn coupon_batches_are_created_once_exported_and_never_changed(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let mut repo = Repo::open(&suite).await?;
        std::fs::write(repo.file("june.yaml"), format!("{JUNE}{CODES}"))?;
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder()]).await?;
        assert!(ok && out.contains("campaign june: created (version 1)") && out.contains("    + coupon batch bf26: 20 codes from BF26-####\n    + coupon batch vip: 2 codes given"), "{out}{err}");
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder()]).await?;
        assert!(ok && out.contains("campaign june: coupon batch vip created") && out.contains("Applied: 1 published, 1 lifecycle call(s), 2 coupon batch(es)."), "{out}{err}");
        let mut coupons = CouponServiceClient::new(channel(suite.addrs().gateway).await?);
        let req = cpb::ListCouponBatchesRequest { campaign_id: "june".into(), page: None };
        let live = coupons.list_coupon_batches(with_key(req, &repo.key)?).await?.into_inner().batches;
        let live: Vec<(&str, u64)> = live.iter().map(|b| (b.batch_id.as_str(), b.requested)).collect();
        assert_eq!(live, vec![("bf26", 20), ("vip", 2)]);
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder()]).await?;
        assert!(ok && out.contains("no changes (version 1)") && out.contains("Applied: 0 published."), "{out}{err}");

        // Exported with its codes, over the file: no change.
        let (ok, yaml, err) = repo.run(&["get", "campaign", "june"]).await?;
        assert!(ok && yaml.contains("pattern: \"BF26-####\"") && yaml.contains("code: VIP-BOB") && yaml.contains("customerId: anna"), "{yaml}{err}");
        std::fs::write(repo.file("june.yaml"), &yaml)?;
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder()]).await?;
        assert!(ok && out.contains("No changes"), "{out}{err}");

        // A live batch never changes; a new one is checked as its create
        // would be (a code the tenant has, a bad percent), at its lines.
        std::fs::write(repo.file("june.yaml"), format!("{JUNE}{}", CODES.replace("percent: 10", "percent: 15")))?;
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder()]).await?;
        assert!(!ok && err.contains("june.yaml:17: couponBatches[0]: batch bf26 is live with other rules or codes"), "{out}{err}");
        let more = "  - batchId: late\n    rules:\n      effect:\n        percentOff: {percent: 101, scope: DISCOUNT_SCOPE_ORDER}\n    given: {codes: [{code: VIP-BOB}]}\n";
        std::fs::write(repo.file("june.yaml"), format!("{JUNE}{CODES}{more}"))?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder()]).await?;
        assert!(!ok && err.contains("june.yaml:34: couponBatches[2].rules.effect.percentOff.percent:"), "{out}{err}");
        std::fs::write(repo.file("june.yaml"), format!("{JUNE}{CODES}{}", more.replace("101", "20")))?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder()]).await?;
        assert!(!ok && err.contains("june.yaml:31: couponBatches[2]: 1 of the codes exist already, e.g. VIP-BOB"), "{out}{err}");
        // A campaign not created yet: its batch is checked for codes the
        // tenant has too, and a code given in two files is refused.
        let july = format!("{}{}", JUNE.replace("id: june", "id: july"), CODES.replace("bf26", "bf27").replace("- batchId: vip", "- batchId: vip2").replace("welcome", "july"));
        std::fs::write(repo.file("june.yaml"), format!("{JUNE}{CODES}"))?;
        std::fs::write(repo.file("july.yaml"), &july)?;
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder()]).await?;
        assert!(!ok && err.contains("july.yaml:23: couponBatches[1]: 1 of the codes exist already, e.g. VIP-BOB"), "{out}{err}");
        let twice = more.replace("late", "more").replace("101", "20").replace("VIP-BOB", "JULY-2");
        std::fs::write(repo.file("july.yaml"), format!("{}{twice}", july.replace("VIP-BOB", "JULY-2")))?;
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder()]).await?;
        assert!(!ok && err.contains("july.yaml:35: couponBatches[2].given.codes[0].code: JULY-2 is also given in") && err.contains("1 problem(s)"), "{out}{err}");
        assert_eq!(repo.live("july").await?, None);
        std::fs::remove_file(repo.file("july.yaml"))?;
        // A batch left out of the file is kept, and said so.
        std::fs::write(repo.file("june.yaml"), format!("{JUNE}{}", CODES.split("  - batchId: vip").next().unwrap_or_default()))?;
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder()]).await?;
        assert!(ok && out.contains("= coupon batch vip: live, in no file (a batch is never removed)") && out.contains("No changes"), "{out}{err}");
        suite.stop().await
    }

    async fn a_campaign_file_creates_schedules_versions_and_ends_the_campaign(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let mut repo = Repo::open(&suite).await?;
        std::fs::write(repo.file("june.yaml"), JUNE)?;

        // Planned: created and scheduled; nothing written.
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder()]).await?;
        assert!(ok && out.contains("campaign june: created (version 1)") && out.contains("status: CAMPAIGN_STATUS_SCHEDULED"), "{out}{err}");
        assert_eq!(repo.live("june").await?, None, "a plan writes nothing");
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder()]).await?;
        assert!(ok && out.contains("campaign june: version 1 published") && out.contains("campaign june: scheduled"), "{out}{err}");
        assert_eq!(repo.live("june").await?, Some((1, cpb::CampaignStatus::Scheduled)));
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder()]).await?;
        assert!(ok && out.contains("no changes (version 1)") && out.contains("Applied: 0 published."), "{out}{err}");

        // Exported over the file, it is still no change.
        let (ok, yaml, err) = repo.run(&["get", "campaign", "june"]).await?;
        assert!(ok && yaml.contains("status: CAMPAIGN_STATUS_SCHEDULED") && yaml.contains("amount: \"100.00\""), "{yaml}{err}");
        std::fs::write(repo.file("june.yaml"), &yaml)?;
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder()]).await?;
        assert!(ok && out.contains("No changes"), "{out}{err}");

        // A budget raised is one change and one version; planned, then the
        // campaign is edited in the console: that plan is refused.
        repo.edit("june.yaml", "amount: \"100.00\"", "amount: 150")?;
        let plan = repo.plan_file();
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder(), "--out", &plan]).await?;
        assert!(ok && out.contains("campaign june: version 1 → 2") && out.contains("    ~ spec.budgets[0].total.amount: \"100.00\" → \"150.00\""), "{out}{err}");
        repo.rename("june", "Moved", "console-1").await?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder(), "--plan-file", &plan]).await?;
        assert!(!ok && err.contains("june.yaml:5: id: campaign june is at version 2, not 1") && err.contains("plan again"), "{out}{err}");
        assert_eq!(repo.live("june").await?, Some((2, cpb::CampaignStatus::Scheduled)));
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder(), "--out", &plan]).await?;
        assert!(ok && out.contains("version 2 → 3") && out.contains("~ spec.name: \"Moved\" → \"June boost\""), "{out}{err}");
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder(), "--plan-file", &plan]).await?;
        assert!(ok && out.contains("campaign june: version 3 published"), "{out}{err}");

        // Ended by its file; a wish the lifecycle cannot grant is refused at its line.
        repo.edit("june.yaml", "CAMPAIGN_STATUS_SCHEDULED", "CAMPAIGN_STATUS_ENDED")?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder()]).await?;
        assert!(ok && out.contains("~ status: CAMPAIGN_STATUS_SCHEDULED → CAMPAIGN_STATUS_ENDED") && out.contains("campaign june: ended"), "{out}{err}");
        assert_eq!(repo.live("june").await?, Some((3, cpb::CampaignStatus::Ended)));
        repo.edit("june.yaml", "CAMPAIGN_STATUS_ENDED", "CAMPAIGN_STATUS_DRAFT")?;
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder()]).await?;
        assert!(!ok && err.contains("june.yaml:6: status: a campaign cannot go from ended to draft"), "{out}{err}");
        suite.stop().await
    }

    async fn a_draft_edited_in_place_since_the_plan_is_refused(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let mut repo = Repo::open(&suite).await?;
        // No status: the lifecycle is left alone, so the campaign stays a draft.
        std::fs::write(repo.file("draft.yaml"), JUNE.replace("id: june", "id: draft").replace("status: CAMPAIGN_STATUS_SCHEDULED\n", ""))?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder()]).await?;
        assert!(ok && out.contains("campaign draft: version 1 published") && !out.contains("scheduled"), "{out}{err}");
        assert_eq!(repo.live("draft").await?, Some((1, cpb::CampaignStatus::Draft)));

        // A draft is edited in place: the plan shows the same version.
        repo.edit("draft.yaml", "name: June boost", "name: June")?;
        let plan = repo.plan_file();
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder(), "--out", &plan]).await?;
        assert!(ok && out.contains("campaign draft: version 1 changed"), "{out}{err}");
        // Someone edits the draft: still version 1, but not what was planned against.
        repo.rename("draft", "Console", "console-1").await?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder(), "--plan-file", &plan]).await?;
        assert!(!ok && err.contains("campaign draft changed since the plan; plan again"), "{out}{err}");
        // Planned again, applied; applied again, nothing.
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder(), "--out", &plan]).await?;
        assert!(ok && out.contains("~ spec.name: \"Console\" → \"June\""), "{out}{err}");
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder(), "--plan-file", &plan]).await?;
        assert!(ok && out.contains("campaign draft: version 1 published"), "{out}{err}");
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder(), "--plan-file", &plan]).await?;
        assert!(ok && out.contains("Applied: 0 published."), "{out}{err}");
        // Edited back to what it was before that apply: applied again, it
        // is published again, not answered from the first apply's key.
        repo.rename("draft", "Console", "console-2").await?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder()]).await?;
        assert!(ok && out.contains("campaign draft: version 1 published"), "{out}{err}");
        assert_eq!(repo.spec("draft").await?.name, "June");
        // A bad instant is named at its line, and nothing is applied.
        repo.edit("draft.yaml", "startsAt: 2030-06-01T00:00:00Z", "startsAt: June")?;
        let (ok, _, err) = repo.run(&["apply", "-f", &repo.folder()]).await?;
        assert!(!ok && err.contains("draft.yaml:9: spec.schedule.startsAt: must be an RFC 3339 instant"), "{err}");
        suite.stop().await
    }

    async fn an_apply_stopped_before_its_lifecycle_calls_is_finished_by_its_plan(backend) -> anyhow::Result<()> {
        let (suite, _dbs) = start(backend, Default::default()).await?;
        let mut repo = Repo::open(&suite).await?;
        std::fs::write(repo.file("june.yaml"), JUNE)?;
        let plan = repo.plan_file();
        let (ok, out, err) = repo.run(&["plan", "-f", &repo.folder(), "--out", &plan]).await?;
        assert!(ok && out.contains("campaign june: created (version 1)"), "{out}{err}");
        // The create landed, the schedule did not (the job was cut off):
        // the same plan applied again schedules it, creating nothing.
        let created = cpb::CreateCampaignRequest { idempotency_key: "cut-off".into(), campaign_id: "june".into(), spec: Some(file_spec()), ..Default::default() };
        repo.campaigns.create_campaign(with_key(created, &repo.key)?).await?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder(), "--plan-file", &plan]).await?;
        assert!(ok && out.contains("campaign june: scheduled") && out.contains("Applied: 0 published, 1 lifecycle call(s)."), "{out}{err}");
        assert_eq!(repo.live("june").await?, Some((1, cpb::CampaignStatus::Scheduled)));
        // A schedule that ended already is refused at its line by the plan,
        // before anything is applied.
        let past = JUNE.replace("id: june", "id: past").replace("2030-07-01", "2020-07-01").replace("2030-06-01", "2020-06-01");
        std::fs::write(repo.file("past.yaml"), past)?;
        let (ok, out, err) = repo.run(&["apply", "-f", &repo.folder()]).await?;
        assert!(!ok && err.contains("past.yaml:11: spec.schedule.endsAt: in the past"), "{out}{err}");
        assert_eq!(repo.live("past").await?, None);
        suite.stop().await
    }
}

/// The spec of [`JUNE`], as the API takes it.
fn file_spec() -> cpb::CampaignSpec {
    let at = |s: &str| s.parse::<prost_types::Timestamp>().ok();
    cpb::CampaignSpec {
        name: "June boost".into(),
        terms: "5% more on every order in June 2030, while the budget lasts.".into(),
        schedule: Some(cpb::Schedule {
            timezone: "Europe/Rome".into(),
            starts_at: at("2030-06-01T00:00:00Z"),
            ends_at: at("2030-07-01T00:00:00Z"),
            windows: vec![],
        }),
        effect: Some(cpb::Effect {
            kind: Some(cpb::effect::Kind::ExtraPercent(cpb::ExtraPercent {
                asset: "EUR".into(),
                percent: "5".into(),
            })),
        }),
        budgets: vec![cpb::Budget {
            total: support::shop::eur("100.00"),
            per_day: None,
            low_percent: None,
        }],
        ..Default::default()
    }
}
