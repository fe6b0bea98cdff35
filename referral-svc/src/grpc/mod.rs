//! gRPC handlers of `boomerang.referral.v1.ReferralService`.
//!
//! Every RPC is UNIMPLEMENTED, naming itself, until issue #7 builds it.
pub mod convert;
use crate::{error::AppError, repo::Repo};
use boomerang_proto::referral::v1::{
    AttributeReferralRequest, AttributeReferralResponse, CreateReferralCodeRequest,
    CreateReferralCodeResponse, DisableReferralCodeRequest, DisableReferralCodeResponse,
    GetFunnelReportRequest, GetFunnelReportResponse, GetReferralProgramRequest,
    GetReferralProgramResponse, GetReferralRequest, GetReferralResponse, ListReferralsRequest,
    ListReferralsResponse, OnPurchaseRequest, OnPurchaseResponse, OnReturnRequest,
    OnReturnResponse, UpsertReferralProgramRequest, UpsertReferralProgramResponse,
    referral_service_server::ReferralService,
};
use tonic::{Request, Response, Status};

/// The `ReferralService` implementation.
#[derive(Clone, Debug)]
pub struct ReferralServiceHandler {
    #[allow(dead_code)] // used as RPCs land
    repo: Repo,
}

impl ReferralServiceHandler {
    /// Handlers over `repo`.
    pub fn new(repo: Repo) -> Self {
        Self { repo }
    }
}

#[tonic::async_trait]
impl ReferralService for ReferralServiceHandler {
    async fn upsert_referral_program(
        &self,
        _: Request<UpsertReferralProgramRequest>,
    ) -> Result<Response<UpsertReferralProgramResponse>, Status> {
        Err(
            AppError::unimplemented("boomerang.referral.v1.ReferralService/UpsertReferralProgram")
                .into(),
        )
    }

    async fn get_referral_program(
        &self,
        _: Request<GetReferralProgramRequest>,
    ) -> Result<Response<GetReferralProgramResponse>, Status> {
        Err(
            AppError::unimplemented("boomerang.referral.v1.ReferralService/GetReferralProgram")
                .into(),
        )
    }

    async fn create_referral_code(
        &self,
        _: Request<CreateReferralCodeRequest>,
    ) -> Result<Response<CreateReferralCodeResponse>, Status> {
        Err(
            AppError::unimplemented("boomerang.referral.v1.ReferralService/CreateReferralCode")
                .into(),
        )
    }

    async fn disable_referral_code(
        &self,
        _: Request<DisableReferralCodeRequest>,
    ) -> Result<Response<DisableReferralCodeResponse>, Status> {
        Err(
            AppError::unimplemented("boomerang.referral.v1.ReferralService/DisableReferralCode")
                .into(),
        )
    }

    async fn attribute_referral(
        &self,
        _: Request<AttributeReferralRequest>,
    ) -> Result<Response<AttributeReferralResponse>, Status> {
        Err(
            AppError::unimplemented("boomerang.referral.v1.ReferralService/AttributeReferral")
                .into(),
        )
    }

    async fn get_referral(
        &self,
        _: Request<GetReferralRequest>,
    ) -> Result<Response<GetReferralResponse>, Status> {
        Err(AppError::unimplemented("boomerang.referral.v1.ReferralService/GetReferral").into())
    }

    async fn list_referrals(
        &self,
        _: Request<ListReferralsRequest>,
    ) -> Result<Response<ListReferralsResponse>, Status> {
        Err(AppError::unimplemented("boomerang.referral.v1.ReferralService/ListReferrals").into())
    }

    async fn on_purchase(
        &self,
        _: Request<OnPurchaseRequest>,
    ) -> Result<Response<OnPurchaseResponse>, Status> {
        Err(AppError::unimplemented("boomerang.referral.v1.ReferralService/OnPurchase").into())
    }

    async fn on_return(
        &self,
        _: Request<OnReturnRequest>,
    ) -> Result<Response<OnReturnResponse>, Status> {
        Err(AppError::unimplemented("boomerang.referral.v1.ReferralService/OnReturn").into())
    }

    async fn get_funnel_report(
        &self,
        _: Request<GetFunnelReportRequest>,
    ) -> Result<Response<GetFunnelReportResponse>, Status> {
        Err(AppError::unimplemented("boomerang.referral.v1.ReferralService/GetFunnelReport").into())
    }
}
