//! The service's error: [`AppError`] from common, mapped to `tonic::Status`
//! in one place (`From<AppError> for Status`). Ledger rule violations map here.
pub use boomerang_common::error::{AppError, Violations};

use crate::domain::LedgerError;

impl From<LedgerError> for AppError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Overflow => AppError::invalid("amount", e.to_string()),
            LedgerError::Unbalanced { .. } => AppError::invalid("postings", e.to_string()),
            _ => AppError::Precondition(e.to_string()),
        }
    }
}
