//! gRPC handlers of `boomerang.accrual.v1.AccrualService`.
//!
//! Every RPC is UNIMPLEMENTED, naming itself, until issue #6 builds it.
pub mod convert;
use crate::{error::AppError, repo::Repo};
use boomerang_common::stream::BoxStream;
use boomerang_proto::accrual::v1::{
    ConvertPointsRequest, ConvertPointsResponse, EnrollMemberRequest, EnrollMemberResponse,
    GetMemberRequest, GetMemberResponse, GetProgramReportRequest, GetProgramReportResponse,
    GetProgramRequest, GetProgramResponse, PreviewPurchaseRequest, PreviewPurchaseResponse,
    RecordPurchaseRequest, RecordPurchaseResponse, RecordReturnRequest, RecordReturnResponse,
    UpdateMemberRequest, UpdateMemberResponse, UpsertProgramRequest, UpsertProgramResponse,
    WatchEventsRequest, WatchEventsResponse, accrual_service_server::AccrualService,
};
use tonic::{Request, Response, Status};

/// The `AccrualService` implementation.
#[derive(Clone, Debug)]
pub struct AccrualServiceHandler {
    #[allow(dead_code)] // used as RPCs land
    repo: Repo,
}

impl AccrualServiceHandler {
    /// Handlers over `repo`.
    pub fn new(repo: Repo) -> Self {
        Self { repo }
    }
}

#[tonic::async_trait]
impl AccrualService for AccrualServiceHandler {
    async fn upsert_program(
        &self,
        _: Request<UpsertProgramRequest>,
    ) -> Result<Response<UpsertProgramResponse>, Status> {
        Err(AppError::unimplemented("boomerang.accrual.v1.AccrualService/UpsertProgram").into())
    }

    async fn get_program(
        &self,
        _: Request<GetProgramRequest>,
    ) -> Result<Response<GetProgramResponse>, Status> {
        Err(AppError::unimplemented("boomerang.accrual.v1.AccrualService/GetProgram").into())
    }

    async fn enroll_member(
        &self,
        _: Request<EnrollMemberRequest>,
    ) -> Result<Response<EnrollMemberResponse>, Status> {
        Err(AppError::unimplemented("boomerang.accrual.v1.AccrualService/EnrollMember").into())
    }

    async fn get_member(
        &self,
        _: Request<GetMemberRequest>,
    ) -> Result<Response<GetMemberResponse>, Status> {
        Err(AppError::unimplemented("boomerang.accrual.v1.AccrualService/GetMember").into())
    }

    async fn update_member(
        &self,
        _: Request<UpdateMemberRequest>,
    ) -> Result<Response<UpdateMemberResponse>, Status> {
        Err(AppError::unimplemented("boomerang.accrual.v1.AccrualService/UpdateMember").into())
    }

    async fn preview_purchase(
        &self,
        _: Request<PreviewPurchaseRequest>,
    ) -> Result<Response<PreviewPurchaseResponse>, Status> {
        Err(AppError::unimplemented("boomerang.accrual.v1.AccrualService/PreviewPurchase").into())
    }

    async fn record_purchase(
        &self,
        _: Request<RecordPurchaseRequest>,
    ) -> Result<Response<RecordPurchaseResponse>, Status> {
        Err(AppError::unimplemented("boomerang.accrual.v1.AccrualService/RecordPurchase").into())
    }

    async fn record_return(
        &self,
        _: Request<RecordReturnRequest>,
    ) -> Result<Response<RecordReturnResponse>, Status> {
        Err(AppError::unimplemented("boomerang.accrual.v1.AccrualService/RecordReturn").into())
    }

    async fn convert_points(
        &self,
        _: Request<ConvertPointsRequest>,
    ) -> Result<Response<ConvertPointsResponse>, Status> {
        Err(AppError::unimplemented("boomerang.accrual.v1.AccrualService/ConvertPoints").into())
    }

    async fn get_program_report(
        &self,
        _: Request<GetProgramReportRequest>,
    ) -> Result<Response<GetProgramReportResponse>, Status> {
        Err(AppError::unimplemented("boomerang.accrual.v1.AccrualService/GetProgramReport").into())
    }

    type WatchEventsStream = BoxStream<WatchEventsResponse>;

    async fn watch_events(
        &self,
        _: Request<WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        Err(AppError::unimplemented("boomerang.accrual.v1.AccrualService/WatchEvents").into())
    }
}
