//! `boomerang.admin.v1.AdminService`, served by the gateway itself.
//!
//! Every call needs an admin-scoped key. The RPCs are UNIMPLEMENTED until
//! issue #8; tenants and keys are created by `boomerang up --demo` meanwhile.
pub mod convert;

use boomerang_proto::admin::v1::{
    CreateApiKeyRequest, CreateApiKeyResponse, CreateTenantRequest, CreateTenantResponse,
    ListApiKeysRequest, ListApiKeysResponse, ListTenantsRequest, ListTenantsResponse,
    RevokeApiKeyRequest, RevokeApiKeyResponse, RotateApiKeyRequest, RotateApiKeyResponse,
    admin_service_server::AdminService,
};
use tonic::{Request, Response, Status};

use crate::{auth::Authenticator, error::AppError};

/// The `AdminService` implementation.
#[derive(Clone, Debug)]
pub struct AdminHandler {
    auth: Authenticator,
}

impl AdminHandler {
    /// Handlers checking credentials with `auth`.
    pub fn new(auth: Authenticator) -> Self {
        Self { auth }
    }

    async fn not_yet<T, R>(&self, req: &Request<T>, rpc: &str) -> Result<R, Status> {
        let authorization = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let path = format!("/boomerang.admin.v1.AdminService/{rpc}");
        self.auth.authorize(authorization, &path).await?;
        Err(AppError::unimplemented(&path[1..]).into())
    }
}

#[tonic::async_trait]
impl AdminService for AdminHandler {
    async fn create_tenant(
        &self,
        req: Request<CreateTenantRequest>,
    ) -> Result<Response<CreateTenantResponse>, Status> {
        self.not_yet(&req, "CreateTenant").await
    }

    async fn list_tenants(
        &self,
        req: Request<ListTenantsRequest>,
    ) -> Result<Response<ListTenantsResponse>, Status> {
        self.not_yet(&req, "ListTenants").await
    }

    async fn create_api_key(
        &self,
        req: Request<CreateApiKeyRequest>,
    ) -> Result<Response<CreateApiKeyResponse>, Status> {
        self.not_yet(&req, "CreateApiKey").await
    }

    async fn list_api_keys(
        &self,
        req: Request<ListApiKeysRequest>,
    ) -> Result<Response<ListApiKeysResponse>, Status> {
        self.not_yet(&req, "ListApiKeys").await
    }

    async fn rotate_api_key(
        &self,
        req: Request<RotateApiKeyRequest>,
    ) -> Result<Response<RotateApiKeyResponse>, Status> {
        self.not_yet(&req, "RotateApiKey").await
    }

    async fn revoke_api_key(
        &self,
        req: Request<RevokeApiKeyRequest>,
    ) -> Result<Response<RevokeApiKeyResponse>, Status> {
        self.not_yet(&req, "RevokeApiKey").await
    }
}
