//! The primitives `boomerang plan` and `apply` stand on, through the
//! gateway, on both backends: UpsertProgram with `validate_only` (the
//! program as it would be stored, nothing written) and `expected_version`
//! (a change applies only to the state it was planned against).
mod support;

use boomerang_common::{backend_tests, testing::channel};
use boomerang_proto::accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient};
use support::{start, with_key};
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
