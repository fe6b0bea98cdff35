//! `validate_only` on CreateCampaign and UpdateCampaign (what plan/apply
//! stand on): the campaign as it would be, the same refusals, nothing
//! written, on both backends.
mod support;

use boomerang_common::backend_tests;
use boomerang_proto::campaign::v1 as pb;
use support::{Service, spec, with_budget};
use tonic::Code;

fn create(id: &str, spec: pb::CampaignSpec) -> pb::CreateCampaignRequest {
    pb::CreateCampaignRequest {
        campaign_id: id.into(),
        spec: Some(spec),
        validate_only: true,
        ..Default::default()
    }
}

fn update(id: &str, spec: pb::CampaignSpec, expected_version: u32) -> pb::UpdateCampaignRequest {
    pb::UpdateCampaignRequest {
        campaign_id: id.into(),
        spec: Some(spec),
        expected_version,
        validate_only: true,
        ..Default::default()
    }
}

async fn audit_count(s: &mut Service, id: &str) -> anyhow::Result<usize> {
    let req = pb::ListAuditEventsRequest {
        campaign_id: id.into(),
        page: None,
    };
    Ok(s.client
        .list_audit_events(req)
        .await?
        .into_inner()
        .events
        .len())
}

backend_tests! {
    async fn a_campaign_is_checked_as_it_would_be_created_or_updated_and_nothing_is_written(backend) -> anyhow::Result<()> {
        let mut s = Service::start(backend, "2026-05-01T10:00:00Z").await?;
        let june = || with_budget(spec("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"), "100.00");

        // Create: the draft it would be; nothing stored. Without an id only
        // the spec is checked (a what-if's draft).
        let would = s.client.create_campaign(create("june", june())).await?.into_inner().campaign.unwrap_or_default();
        assert_eq!((would.campaign_id.as_str(), would.version, would.status), ("june", 1, pb::CampaignStatus::Draft as i32));
        assert_eq!(would.spec.map(|x| x.name), Some("Double points".into()));
        let missing = s.client.get_campaign(pb::GetCampaignRequest { campaign_id: "june".into(), terms_at: None }).await;
        assert_eq!(missing.err().map(|e| e.code()), Some(Code::NotFound), "nothing written");
        let anonymous = s.client.create_campaign(create("", june())).await?.into_inner().campaign.unwrap_or_default();
        assert_eq!((anonymous.campaign_id.as_str(), anonymous.version), ("", 1));
        let mut untermed = june();
        untermed.terms.clear();
        let refused = s.client.create_campaign(create("", untermed)).await;
        assert_eq!(refused.err().map(|e| e.code()), Some(Code::InvalidArgument), "the spec's refusals without an id");
        let mut bad = june();
        bad.terms.clear();
        let refused = s.client.create_campaign(create("june", bad.clone())).await;
        assert_eq!(refused.err().map(|e| e.code()), Some(Code::InvalidArgument), "a create's refusals");

        s.create("june", june()).await?;
        let taken = s.client.create_campaign(create("june", june())).await;
        assert_eq!(taken.err().map(|e| e.code()), Some(Code::AlreadyExists));
        let audited = audit_count(&mut s, "june").await?;

        // A draft is edited in place: the same version, the new spec.
        let renamed = pb::CampaignSpec { name: "Double points in June".into(), ..june() };
        let would = s.client.update_campaign(update("june", renamed.clone(), 1)).await?.into_inner().campaign.unwrap_or_default();
        assert_eq!((would.version, would.spec.map(|x| x.name)), (1, Some("Double points in June".into())));
        let refused = s.client.update_campaign(update("june", bad.clone(), 1)).await;
        assert_eq!(refused.err().map(|e| e.code()), Some(Code::InvalidArgument));

        // Scheduled: an edit is the next version; a stale version, or a
        // budget dropped, is refused as an update refuses it.
        s.schedule("june").await?;
        let would = s.client.update_campaign(update("june", renamed.clone(), 1)).await?.into_inner().campaign.unwrap_or_default();
        assert_eq!((would.version, would.status), (2, pb::CampaignStatus::Scheduled as i32));
        let stale = s.client.update_campaign(update("june", renamed.clone(), 3)).await;
        assert_eq!(stale.err().map(|e| e.code()), Some(Code::Aborted));
        let unbudgeted = pb::CampaignSpec { budgets: vec![], ..renamed.clone() };
        let dropped = s.client.update_campaign(update("june", unbudgeted, 1)).await;
        assert_eq!(dropped.err().map(|e| e.code()), Some(Code::InvalidArgument));

        // The same spec again is no change, whatever the state.
        let same = s.client.update_campaign(update("june", june(), 1)).await?.into_inner().campaign.unwrap_or_default();
        assert_eq!(same.version, 1, "checked");
        let same = pb::UpdateCampaignRequest { idempotency_key: "same".into(), validate_only: false, ..update("june", june(), 1) };
        assert_eq!(s.client.update_campaign(same).await?.into_inner().campaign.map(|c| c.version), Some(1), "updated");

        let live = s.client.get_campaign(pb::GetCampaignRequest { campaign_id: "june".into(), terms_at: None }).await?.into_inner().campaign.unwrap_or_default();
        assert_eq!((live.version, live.spec.map(|x| x.name)), (1, Some("Double points".into())), "nothing written");
        assert_eq!(audit_count(&mut s, "june").await?, audited + 1, "only the schedule was audited");
        Ok(())
    }
}
