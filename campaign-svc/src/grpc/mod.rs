//! gRPC handlers of `boomerang.campaign.v1.CampaignService`.
//!
//! Every RPC is UNIMPLEMENTED, naming itself, until issue #5 builds it.
pub mod convert;
use crate::{error::AppError, repo::Repo};
use boomerang_proto::campaign::v1::{
    ArchiveCampaignRequest, ArchiveCampaignResponse, ConfirmBudgetRequest, ConfirmBudgetResponse,
    CreateCampaignRequest, CreateCampaignResponse, EndCampaignRequest, EndCampaignResponse,
    GetCampaignReportRequest, GetCampaignReportResponse, GetCampaignRequest, GetCampaignResponse,
    ListApplicableCampaignsRequest, ListApplicableCampaignsResponse, ListAuditEventsRequest,
    ListAuditEventsResponse, ListCampaignsRequest, ListCampaignsResponse, PauseCampaignRequest,
    PauseCampaignResponse, ReleaseBudgetRequest, ReleaseBudgetResponse, ReserveBudgetRequest,
    ReserveBudgetResponse, ResumeCampaignRequest, ResumeCampaignResponse, ScheduleCampaignRequest,
    ScheduleCampaignResponse, UpdateCampaignRequest, UpdateCampaignResponse,
    campaign_service_server::CampaignService,
};
use tonic::{Request, Response, Status};

/// The `CampaignService` implementation.
#[derive(Clone, Debug)]
pub struct CampaignServiceHandler {
    #[allow(dead_code)] // used as RPCs land
    repo: Repo,
}

impl CampaignServiceHandler {
    /// Handlers over `repo`.
    pub fn new(repo: Repo) -> Self {
        Self { repo }
    }
}

#[tonic::async_trait]
impl CampaignService for CampaignServiceHandler {
    async fn create_campaign(
        &self,
        _: Request<CreateCampaignRequest>,
    ) -> Result<Response<CreateCampaignResponse>, Status> {
        Err(AppError::unimplemented("boomerang.campaign.v1.CampaignService/CreateCampaign").into())
    }

    async fn update_campaign(
        &self,
        _: Request<UpdateCampaignRequest>,
    ) -> Result<Response<UpdateCampaignResponse>, Status> {
        Err(AppError::unimplemented("boomerang.campaign.v1.CampaignService/UpdateCampaign").into())
    }

    async fn schedule_campaign(
        &self,
        _: Request<ScheduleCampaignRequest>,
    ) -> Result<Response<ScheduleCampaignResponse>, Status> {
        Err(
            AppError::unimplemented("boomerang.campaign.v1.CampaignService/ScheduleCampaign")
                .into(),
        )
    }

    async fn pause_campaign(
        &self,
        _: Request<PauseCampaignRequest>,
    ) -> Result<Response<PauseCampaignResponse>, Status> {
        Err(AppError::unimplemented("boomerang.campaign.v1.CampaignService/PauseCampaign").into())
    }

    async fn resume_campaign(
        &self,
        _: Request<ResumeCampaignRequest>,
    ) -> Result<Response<ResumeCampaignResponse>, Status> {
        Err(AppError::unimplemented("boomerang.campaign.v1.CampaignService/ResumeCampaign").into())
    }

    async fn end_campaign(
        &self,
        _: Request<EndCampaignRequest>,
    ) -> Result<Response<EndCampaignResponse>, Status> {
        Err(AppError::unimplemented("boomerang.campaign.v1.CampaignService/EndCampaign").into())
    }

    async fn archive_campaign(
        &self,
        _: Request<ArchiveCampaignRequest>,
    ) -> Result<Response<ArchiveCampaignResponse>, Status> {
        Err(AppError::unimplemented("boomerang.campaign.v1.CampaignService/ArchiveCampaign").into())
    }

    async fn get_campaign(
        &self,
        _: Request<GetCampaignRequest>,
    ) -> Result<Response<GetCampaignResponse>, Status> {
        Err(AppError::unimplemented("boomerang.campaign.v1.CampaignService/GetCampaign").into())
    }

    async fn list_campaigns(
        &self,
        _: Request<ListCampaignsRequest>,
    ) -> Result<Response<ListCampaignsResponse>, Status> {
        Err(AppError::unimplemented("boomerang.campaign.v1.CampaignService/ListCampaigns").into())
    }

    async fn list_applicable_campaigns(
        &self,
        _: Request<ListApplicableCampaignsRequest>,
    ) -> Result<Response<ListApplicableCampaignsResponse>, Status> {
        Err(AppError::unimplemented(
            "boomerang.campaign.v1.CampaignService/ListApplicableCampaigns",
        )
        .into())
    }

    async fn reserve_budget(
        &self,
        _: Request<ReserveBudgetRequest>,
    ) -> Result<Response<ReserveBudgetResponse>, Status> {
        Err(AppError::unimplemented("boomerang.campaign.v1.CampaignService/ReserveBudget").into())
    }

    async fn confirm_budget(
        &self,
        _: Request<ConfirmBudgetRequest>,
    ) -> Result<Response<ConfirmBudgetResponse>, Status> {
        Err(AppError::unimplemented("boomerang.campaign.v1.CampaignService/ConfirmBudget").into())
    }

    async fn release_budget(
        &self,
        _: Request<ReleaseBudgetRequest>,
    ) -> Result<Response<ReleaseBudgetResponse>, Status> {
        Err(AppError::unimplemented("boomerang.campaign.v1.CampaignService/ReleaseBudget").into())
    }

    async fn get_campaign_report(
        &self,
        _: Request<GetCampaignReportRequest>,
    ) -> Result<Response<GetCampaignReportResponse>, Status> {
        Err(
            AppError::unimplemented("boomerang.campaign.v1.CampaignService/GetCampaignReport")
                .into(),
        )
    }

    async fn list_audit_events(
        &self,
        _: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        Err(AppError::unimplemented("boomerang.campaign.v1.CampaignService/ListAuditEvents").into())
    }
}
