//! Optimistic versioning of something published in versions (a program, a
//! referral program): the version a publish over an expected one gets, and
//! what a lost insert race means.
use crate::error::AppError;

/// The version publishing `what` ("program summer") over `latest` gives,
/// when the latest is `expected` (any when absent); FAILED_PRECONDITION
/// otherwise.
pub fn next(what: &str, latest: i64, expected: Option<i64>) -> Result<i64, AppError> {
    match expected {
        Some(expected) if expected != latest => Err(AppError::Precondition(format!(
            "{what} is at version {latest}, not {expected}: it changed since it was read"
        ))),
        _ => Ok(latest + 1),
    }
}

/// `version` of `what`, when its insert (`ON CONFLICT DO NOTHING`) added a
/// row; else another publish took it first (PostgreSQL; SQLite serialises
/// writers): over an expected version the state moved (FAILED_PRECONDITION),
/// without one the caller may retry (ABORTED).
pub fn inserted(
    what: &str,
    version: i64,
    rows: u64,
    expected: Option<i64>,
) -> Result<i64, AppError> {
    match (rows, expected) {
        (1, _) => Ok(version),
        (_, Some(expected)) => Err(AppError::Precondition(format!(
            "{what} is past version {expected}: it changed since it was read"
        ))),
        (_, None) => Err(AppError::Aborted(format!(
            "{what} was published concurrently, retry"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publish_goes_over_the_version_expected_or_is_refused() {
        assert_eq!(next("p", 2, None).ok(), Some(3));
        assert_eq!(next("p", 2, Some(2)).ok(), Some(3));
        assert!(matches!(
            next("p", 2, Some(1)),
            Err(AppError::Precondition(_))
        ));
        assert_eq!(inserted("p", 3, 1, Some(2)).ok(), Some(3));
        assert!(matches!(
            inserted("p", 3, 0, Some(2)),
            Err(AppError::Precondition(_))
        ));
        assert!(matches!(
            inserted("p", 3, 0, None),
            Err(AppError::Aborted(_))
        ));
    }
}
