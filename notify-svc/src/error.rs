//! The service's error: [`AppError`] from common, mapped to `tonic::Status`
//! in one place (`From<AppError> for Status`).
pub use boomerang_common::error::{AppError, Violations};
