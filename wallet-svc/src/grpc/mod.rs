//! gRPC handlers of `boomerang.wallet.v1.WalletService`.
//!
//! Every RPC is UNIMPLEMENTED, naming itself, until issue #4 builds it.
pub mod convert;
use crate::{error::AppError, repo::Repo};
use boomerang_common::stream::BoxStream;
use boomerang_proto::wallet::v1::{
    AuthorizeRequest, AuthorizeResponse, CaptureRequest, CaptureResponse, CreditRequest,
    CreditResponse, GetBalanceRequest, GetBalanceResponse, ListEntriesRequest, ListEntriesResponse,
    ListExpiringLotsRequest, ListExpiringLotsResponse, PostTransactionRequest,
    PostTransactionResponse, ReverseRequest, ReverseResponse, TransferRequest, TransferResponse,
    VoidRequest, VoidResponse, WatchEventsRequest, WatchEventsResponse,
    wallet_service_server::WalletService,
};
use tonic::{Request, Response, Status};

/// The `WalletService` implementation.
#[derive(Clone, Debug)]
pub struct WalletServiceHandler {
    #[allow(dead_code)] // used as RPCs land
    repo: Repo,
}

impl WalletServiceHandler {
    /// Handlers over `repo`.
    pub fn new(repo: Repo) -> Self {
        Self { repo }
    }
}

#[tonic::async_trait]
impl WalletService for WalletServiceHandler {
    async fn credit(&self, _: Request<CreditRequest>) -> Result<Response<CreditResponse>, Status> {
        Err(AppError::unimplemented("boomerang.wallet.v1.WalletService/Credit").into())
    }

    async fn reverse(
        &self,
        _: Request<ReverseRequest>,
    ) -> Result<Response<ReverseResponse>, Status> {
        Err(AppError::unimplemented("boomerang.wallet.v1.WalletService/Reverse").into())
    }

    async fn authorize(
        &self,
        _: Request<AuthorizeRequest>,
    ) -> Result<Response<AuthorizeResponse>, Status> {
        Err(AppError::unimplemented("boomerang.wallet.v1.WalletService/Authorize").into())
    }

    async fn capture(
        &self,
        _: Request<CaptureRequest>,
    ) -> Result<Response<CaptureResponse>, Status> {
        Err(AppError::unimplemented("boomerang.wallet.v1.WalletService/Capture").into())
    }

    async fn void(&self, _: Request<VoidRequest>) -> Result<Response<VoidResponse>, Status> {
        Err(AppError::unimplemented("boomerang.wallet.v1.WalletService/Void").into())
    }

    async fn transfer(
        &self,
        _: Request<TransferRequest>,
    ) -> Result<Response<TransferResponse>, Status> {
        Err(AppError::unimplemented("boomerang.wallet.v1.WalletService/Transfer").into())
    }

    async fn post_transaction(
        &self,
        _: Request<PostTransactionRequest>,
    ) -> Result<Response<PostTransactionResponse>, Status> {
        Err(AppError::unimplemented("boomerang.wallet.v1.WalletService/PostTransaction").into())
    }

    async fn get_balance(
        &self,
        _: Request<GetBalanceRequest>,
    ) -> Result<Response<GetBalanceResponse>, Status> {
        Err(AppError::unimplemented("boomerang.wallet.v1.WalletService/GetBalance").into())
    }

    async fn list_entries(
        &self,
        _: Request<ListEntriesRequest>,
    ) -> Result<Response<ListEntriesResponse>, Status> {
        Err(AppError::unimplemented("boomerang.wallet.v1.WalletService/ListEntries").into())
    }

    async fn list_expiring_lots(
        &self,
        _: Request<ListExpiringLotsRequest>,
    ) -> Result<Response<ListExpiringLotsResponse>, Status> {
        Err(AppError::unimplemented("boomerang.wallet.v1.WalletService/ListExpiringLots").into())
    }

    type WatchEventsStream = BoxStream<WatchEventsResponse>;

    async fn watch_events(
        &self,
        _: Request<WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        Err(AppError::unimplemented("boomerang.wallet.v1.WalletService/WatchEvents").into())
    }
}
