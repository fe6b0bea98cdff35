//! What the experiment report asks campaign-svc: a campaign's arms.
use boomerang_common::{channel::acting_for, error::AppError, tenant::TenantId};
use boomerang_proto::campaign::v1 as cpb;
use tracing::instrument;

use super::{CAMPAIGN, Upstream, refused, rewards};

impl Upstream {
    /// The arms of every version of `campaign_id`, oldest version first, each
    /// once: (name, whether it gives a reward). NOT_FOUND keeps its meaning.
    #[instrument(name = "boomerang.accrual.upstream.campaign_arms", skip_all, fields(tenant = %tenant, campaign = %campaign_id), err(level = "info"))]
    pub async fn campaign_arms(
        &self,
        tenant: &TenantId,
        campaign_id: &str,
    ) -> Result<Vec<(String, bool)>, AppError> {
        let found = self
            .campaign(tenant, campaign_id)
            .await
            .map_err(refused(CAMPAIGN))?;
        let mut arms: Vec<(String, bool)> = Vec::new();
        let variants = found
            .versions
            .iter()
            .filter_map(|v| v.spec.as_ref())
            .flat_map(|s| s.variants.iter());
        for v in variants {
            let rewarded = rewards(v.effect.as_ref());
            match arms.iter_mut().find(|(name, _)| *name == v.name) {
                // The latest version says whether it rewards.
                Some(arm) => arm.1 = rewarded,
                None => arms.push((v.name.clone(), rewarded)),
            }
        }
        Ok(arms)
    }

    /// Campaign `id` as campaign-svc answers GetCampaign (its versions
    /// included), or its status as it came.
    pub(super) async fn campaign(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<cpb::GetCampaignResponse, tonic::Status> {
        let ask = cpb::GetCampaignRequest {
            campaign_id: id.to_owned(),
            terms_at: None,
        };
        let found = self
            .campaign
            .clone()
            .get_campaign(acting_for(tenant, ask))
            .await?;
        Ok(found.into_inner())
    }
}
