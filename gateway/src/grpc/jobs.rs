//! `boomerang.admin.v1.JobService` at the gateway: platform admins only; each
//! call is asked of the service its request names, on behalf of the caller's
//! key (kept on the job's record when it is discarded).
use std::sync::Arc;

use boomerang_common::{
    auth::Issuer,
    channel::{Upstream, acting_as},
    error::AppError,
};
use boomerang_proto::admin::v1::{
    self as pb, job_service_client::JobServiceClient, job_service_server::JobService,
};
use tonic::{Request, Response, Status};

use crate::{
    auth::{Authenticator, Principal},
    config::Upstreams,
};
use boomerang_common::tenant::TenantId;

/// Dispatches to the named service's own `JobService`.
#[derive(Clone, Debug)]
pub struct JobsHandler {
    auth: Authenticator,
    platform: TenantId,
    wallet: JobServiceClient<Upstream>,
    accrual: JobServiceClient<Upstream>,
    campaign: JobServiceClient<Upstream>,
    referral: JobServiceClient<Upstream>,
}

impl JobsHandler {
    /// Channels to every upstream, connected on first use, calling with
    /// credentials from `operator`.
    pub fn new(
        auth: Authenticator,
        platform: TenantId,
        up: &Upstreams,
        operator: Arc<Issuer>,
        tls: Option<tonic::transport::ClientTlsConfig>,
    ) -> anyhow::Result<Self> {
        let client = |name: &str, url: &str| {
            boomerang_common::channel::upstream(name, url, operator.clone(), tls.clone())
                .map(JobServiceClient::new)
        };
        Ok(Self {
            auth,
            platform,
            wallet: client("wallet", &up.wallet)?,
            accrual: client("accrual", &up.accrual)?,
            campaign: client("campaign", &up.campaign)?,
            referral: client("referral", &up.referral)?,
        })
    }

    /// The caller, who must be an admin of the platform tenant.
    async fn operator<T>(&self, req: &Request<T>, rpc: &str) -> Result<Principal, AppError> {
        let authorization = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let who = self
            .auth
            .authorize(
                authorization,
                &format!("/boomerang.admin.v1.JobService/{rpc}"),
            )
            .await?;
        if who.tenant != self.platform {
            return Err(AppError::PermissionDenied(
                "only platform admins manage jobs".into(),
            ));
        }
        Ok(who)
    }

    /// The named service's client and its short name.
    fn upstream(&self, raw: i32) -> Result<(JobServiceClient<Upstream>, &'static str), AppError> {
        match pb::Service::try_from(raw) {
            Ok(pb::Service::Wallet) => Ok((self.wallet.clone(), "wallet")),
            Ok(pb::Service::Accrual) => Ok((self.accrual.clone(), "accrual")),
            Ok(pb::Service::Campaign) => Ok((self.campaign.clone(), "campaign")),
            Ok(pb::Service::Referral) => Ok((self.referral.clone(), "referral")),
            Ok(pb::Service::Unspecified) => Err(AppError::invalid("service", "required")),
            Err(_) => Err(AppError::invalid("service", format!("unknown value {raw}"))),
        }
    }
}

/// An upstream's answer keeps its meaning; only transport trouble is UNAVAILABLE.
fn answered<T>(service: &str, r: Result<Response<T>, Status>) -> Result<Response<T>, Status> {
    r.map_err(|s| AppError::upstream(service, &s).into())
}

#[tonic::async_trait]
impl JobService for JobsHandler {
    #[tracing::instrument(name = "boomerang.gateway.jobs.list", skip_all)]
    async fn list_parked_jobs(
        &self,
        req: Request<pb::ListParkedJobsRequest>,
    ) -> Result<Response<pb::ListParkedJobsResponse>, Status> {
        let who = self.operator(&req, "ListParkedJobs").await?;
        let msg = req.into_inner();
        let (mut client, name) = self.upstream(msg.service)?;
        let call = client.list_parked_jobs(acting_as(&who.tenant, &who.key_id, msg));
        answered(name, call.await)
    }

    #[tracing::instrument(name = "boomerang.gateway.jobs.retry", skip_all)]
    async fn retry_parked_job(
        &self,
        req: Request<pb::RetryParkedJobRequest>,
    ) -> Result<Response<pb::RetryParkedJobResponse>, Status> {
        let who = self.operator(&req, "RetryParkedJob").await?;
        let msg = req.into_inner();
        let (mut client, name) = self.upstream(msg.service)?;
        let call = client.retry_parked_job(acting_as(&who.tenant, &who.key_id, msg));
        answered(name, call.await)
    }

    #[tracing::instrument(name = "boomerang.gateway.jobs.discard", skip_all)]
    async fn discard_parked_job(
        &self,
        req: Request<pb::DiscardParkedJobRequest>,
    ) -> Result<Response<pb::DiscardParkedJobResponse>, Status> {
        let who = self.operator(&req, "DiscardParkedJob").await?;
        let msg = req.into_inner();
        let (mut client, name) = self.upstream(msg.service)?;
        let call = client.discard_parked_job(acting_as(&who.tenant, &who.key_id, msg));
        answered(name, call.await)
    }
}
