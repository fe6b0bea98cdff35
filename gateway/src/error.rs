//! The gateway's error: [`AppError`] from common, mapped to `tonic::Status` in one place.
pub use boomerang_common::error::{AppError, Violations};
