//! Calls to wallet-svc and campaign-svc: one lazily connected channel each,
//! the tenant and the W3C trace context set on every call.
use std::time::Duration;

use boomerang_common::{error::AppError, telemetry, tenant::TENANT_HEADER};
use boomerang_proto::{
    campaign::v1::campaign_service_client::CampaignServiceClient,
    referral::v1::referral_service_client::ReferralServiceClient,
    wallet::v1::wallet_service_client::WalletServiceClient,
};
use tonic::{
    Request,
    transport::{Channel, Endpoint},
};

/// Clients of the services accrual calls.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// wallet-svc.
    pub wallet: WalletServiceClient<Channel>,
    /// campaign-svc.
    pub campaign: CampaignServiceClient<Channel>,
    /// referral-svc.
    pub referral: ReferralServiceClient<Channel>,
}

fn channel(name: &str, url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())
        .map_err(|e| anyhow::anyhow!("upstreams.{name} {url:?}: {e}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect_lazy())
}

impl Upstream {
    /// To the given URLs, connecting on first use.
    pub fn new(wallet: &str, campaign: &str, referral: &str) -> anyhow::Result<Self> {
        Ok(Self {
            wallet: WalletServiceClient::new(channel("wallet", wallet)?),
            campaign: CampaignServiceClient::new(channel("campaign", campaign)?),
            referral: ReferralServiceClient::new(channel("referral", referral)?),
        })
    }
}

/// A request acting for `tenant`, carrying the current trace context.
pub fn call<T>(tenant: &str, message: T) -> Result<Request<T>, AppError> {
    let mut req = Request::new(message);
    let value = tenant
        .parse()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("tenant header: {e}")))?;
    req.metadata_mut().insert(TENANT_HEADER, value);
    telemetry::inject_metadata(req.metadata_mut());
    Ok(req)
}
