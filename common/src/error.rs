//! The error every service returns, mapped to `tonic::Status` here and only here.
//!
//! Bad input carries field violations as `google.rpc.BadRequest` details
//! (tonic-types), so a client can point at the field. Internal errors are
//! logged with their full chain and returned without detail: no SQL text
//! ever reaches a caller.
use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Longest part of another service's message kept in ours.
const MAX_UPSTREAM_MESSAGE: usize = 512;
/// Field violations listed in one answer; the rest are counted.
pub const MAX_VIOLATIONS: usize = 20;
/// Longest description of one violation, in characters.
const MAX_DESCRIPTION: usize = 256;
/// Longest message of an answer, in characters (a `grpc-message` header
/// must stay far below HTTP/2 header limits).
pub const MAX_MESSAGE: usize = 2_048;

/// `s` cut to `max` characters, with an ellipsis when cut.
fn bounded(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Field violations collected while validating a request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is wrong, and why.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    /// The same, each field under `prefix` (`"campaign."`: `spec.name` is
    /// `campaign.spec.name`), for a request checked inside another.
    pub fn under(self, prefix: &str) -> Self {
        Self(
            self.0
                .into_iter()
                .map(|(field, why)| (format!("{prefix}{field}"), why))
                .collect(),
        )
    }

    /// One violation.
    pub fn one(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut v = Self::new();
        v.add(field, description);
        v
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The violations as (field, description) pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(f, d)| (f.as_str(), d.as_str()))
    }

    /// `Ok(())` when empty, else the violations as an error.
    pub fn check(self) -> Result<(), AppError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self))
        }
    }

    /// A wire enum value: `None` for 0 (unset: the caller's default applies)
    /// and for a value the contract does not know, which is recorded under
    /// `field` (never read as the default).
    pub fn known<E: TryFrom<i32>>(&mut self, field: &str, raw: i32) -> Option<E> {
        if raw == 0 {
            return None;
        }
        let known = E::try_from(raw).ok();
        if known.is_none() {
            self.add(field, format!("unknown value {raw}"));
        }
        known
    }

    /// A wire enum that must be set: 0 is refused as required (naming the
    /// values, e.g. "CHANNEL_ONLINE, CHANNEL_STORE or CHANNEL_APP"), an
    /// unknown value as by [`Violations::known`].
    pub fn required<E: TryFrom<i32>>(&mut self, field: &str, raw: i32, values: &str) -> Option<E> {
        if raw == 0 {
            self.add(field, format!("required: {values}"));
            return None;
        }
        self.known(field, raw)
    }

    /// A repeated wire enum: at most `max` values, each known and set (0 is
    /// no value in a list), each recorded as `field[i]` when not.
    pub fn known_each<E: TryFrom<i32>>(&mut self, field: &str, raw: &[i32], max: usize) {
        if raw.len() > max {
            self.add(field, format!("at most {max} values"));
            return;
        }
        for (i, &value) in raw.iter().enumerate() {
            let at = format!("{field}[{i}]");
            if value == 0 {
                self.add(at, "the _UNSPECIFIED value is no value");
            } else {
                self.known::<E>(&at, value);
            }
        }
    }

    /// Records `Err` results of a field check under `field`, returning the value.
    pub fn field<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, description)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{field}: {description}")?;
        }
        Ok(())
    }
}

/// What can go wrong in a request, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed: fix it. INVALID_ARGUMENT with field violations.
    #[error("invalid request: {0}")]
    Invalid(Violations),
    /// The thing named does not exist (for this tenant). NOT_FOUND.
    #[error("{0}")]
    NotFound(String),
    /// An idempotency key was reused with another payload, or an id is taken. ALREADY_EXISTS.
    #[error("{0}")]
    AlreadyExists(String),
    /// The state does not allow it (overdraft, illegal transition). FAILED_PRECONDITION.
    #[error("{0}")]
    Precondition(String),
    /// A refusal the caller can act on, with a machine-readable reason
    /// (`google.rpc.ErrorInfo`, domain `boomerang`, e.g. `COUPON_EXPIRED`):
    /// FAILED_PRECONDITION, or RESOURCE_EXHAUSTED when a limit was reached.
    #[error("{message}")]
    Refused {
        /// Upper snake case, stable: callers match on it.
        reason: String,
        /// For people.
        message: String,
        /// A limit was reached (RESOURCE_EXHAUSTED), not a state.
        limit: bool,
    },
    /// A concurrent change won; retry. ABORTED.
    #[error("{0}")]
    Aborted(String),
    /// No or bad credentials. UNAUTHENTICATED.
    #[error("{0}")]
    Unauthenticated(String),
    /// Credentials without the needed scope. PERMISSION_DENIED.
    #[error("{0}")]
    PermissionDenied(String),
    /// A limit was hit. RESOURCE_EXHAUSTED.
    #[error("{0}")]
    Exhausted(String),
    /// A rate limit was hit; retrying after the delay can succeed.
    /// RESOURCE_EXHAUSTED with RetryInfo details.
    #[error("{message}")]
    RateLimited {
        /// What was hit.
        message: String,
        /// When a retry can succeed.
        retry_after: std::time::Duration,
    },
    /// A dependency is down; retry later. UNAVAILABLE.
    #[error("{0}")]
    Unavailable(String),
    /// Not built yet. UNIMPLEMENTED.
    #[error("{0}")]
    Unimplemented(String),
    /// A bug or an infrastructure failure. INTERNAL, details only in the log.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// The same error, a refusal's fields under `prefix` (see
    /// [`Violations::under`]).
    pub fn under(self, prefix: &str) -> Self {
        match self {
            Self::Invalid(v) if !prefix.is_empty() => Self::Invalid(v.under(prefix)),
            other => other,
        }
    }
}

impl AppError {
    /// A single field violation.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid(Violations::one(field, description))
    }

    /// What another service's answer means for us: its meaning kept (a refusal
    /// stays a refusal, NOT_FOUND stays NOT_FOUND); only transport trouble and
    /// its own unavailability become UNAVAILABLE. Messages are bounded and say
    /// which service answered.
    pub fn upstream(service: &str, status: &Status) -> Self {
        let said: String = status
            .message()
            .chars()
            .take(MAX_UPSTREAM_MESSAGE)
            .collect();
        let message = format!("{service}: {said}");
        match status.code() {
            Code::InvalidArgument => {
                let details = status.get_error_details();
                let mut violations = Violations::new();
                for f in details
                    .bad_request()
                    .map_or(&[][..], |b| &b.field_violations[..])
                {
                    violations.add(&f.field, &f.description);
                }
                if violations.is_empty() {
                    violations.add("request", message);
                }
                Self::Invalid(violations)
            }
            Code::NotFound => Self::NotFound(message),
            Code::AlreadyExists => Self::AlreadyExists(message),
            Code::FailedPrecondition | Code::ResourceExhausted
                if status.get_error_details().error_info().is_some() =>
            {
                let details = status.get_error_details();
                let reason = details.error_info().map(|i| i.reason.clone());
                Self::Refused {
                    reason: reason.unwrap_or_default().chars().take(64).collect(),
                    message,
                    limit: status.code() == Code::ResourceExhausted,
                }
            }
            Code::FailedPrecondition | Code::OutOfRange => Self::Precondition(message),
            Code::Aborted => Self::Aborted(message),
            Code::ResourceExhausted => Self::Exhausted(message),
            Code::Unimplemented => Self::Unimplemented(message),
            // Our own credential or scope refused: a deployment bug, not the caller's.
            Code::Unauthenticated | Code::PermissionDenied | Code::Internal | Code::DataLoss => {
                Self::Internal(anyhow::anyhow!("{message} ({:?})", status.code()))
            }
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::Unknown
            | Code::Ok => Self::Unavailable(message),
        }
    }

    /// An RPC that a later issue implements.
    pub fn unimplemented(rpc: &str) -> Self {
        Self::Unimplemented(format!("{rpc} is not implemented yet"))
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut => Self::Unavailable("database is busy, retry".into()),
            // PostgreSQL deadlock or serialization failure: nothing was written; retrying is safe.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("40P01" | "40001")) =>
            {
                Self::Aborted("concurrent update, retry".into())
            }
            _ => Self::Internal(anyhow::Error::new(err).context("database")),
        }
    }
}

impl From<AppError> for Status {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Invalid(violations) => {
                // The first MAX_VIOLATIONS, each bounded; the rest counted.
                let shown: Vec<(String, String)> = violations
                    .iter()
                    .take(MAX_VIOLATIONS)
                    .map(|(f, d)| (bounded(f, MAX_DESCRIPTION), bounded(d, MAX_DESCRIPTION)))
                    .collect();
                let more = violations.0.len().saturating_sub(MAX_VIOLATIONS);
                let listed = format!("invalid request: {}", Violations(shown.clone()));
                let listed = bounded(&listed, MAX_MESSAGE - 32);
                let message = if more > 0 {
                    format!("{listed} (and {more} more)")
                } else {
                    listed
                };
                let fields: Vec<FieldViolation> = shown
                    .iter()
                    .map(|(f, d)| FieldViolation::new(f, d))
                    .collect();
                Status::with_error_details(
                    Code::InvalidArgument,
                    message,
                    ErrorDetails::with_bad_request(fields),
                )
            }
            AppError::NotFound(m) => Status::not_found(bounded(&m, MAX_MESSAGE)),
            AppError::AlreadyExists(m) => Status::already_exists(bounded(&m, MAX_MESSAGE)),
            AppError::Precondition(m) => Status::failed_precondition(bounded(&m, MAX_MESSAGE)),
            AppError::Refused {
                reason,
                message,
                limit,
            } => Status::with_error_details(
                if limit {
                    Code::ResourceExhausted
                } else {
                    Code::FailedPrecondition
                },
                bounded(&message, MAX_MESSAGE),
                ErrorDetails::with_error_info(
                    bounded(&reason, 64),
                    "boomerang",
                    std::collections::HashMap::<String, String>::new(),
                ),
            ),
            AppError::Aborted(m) => Status::aborted(bounded(&m, MAX_MESSAGE)),
            AppError::Unauthenticated(m) => Status::unauthenticated(bounded(&m, MAX_MESSAGE)),
            AppError::PermissionDenied(m) => Status::permission_denied(bounded(&m, MAX_MESSAGE)),
            AppError::Exhausted(m) => Status::resource_exhausted(bounded(&m, MAX_MESSAGE)),
            AppError::RateLimited {
                message,
                retry_after,
            } => Status::with_error_details(
                Code::ResourceExhausted,
                bounded(&message, MAX_MESSAGE),
                ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            AppError::Unavailable(m) => Status::unavailable(bounded(&m, MAX_MESSAGE)),
            AppError::Unimplemented(m) => Status::unimplemented(bounded(&m, MAX_MESSAGE)),
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_carries_field_violations() {
        let mut v = Violations::new();
        v.add("amount", "must be positive");
        v.add("customer_id", "required");
        let status = Status::from(AppError::Invalid(v));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details.bad_request().map(|b| b.field_violations.len());
        assert_eq!(bad, Some(2));
        assert!(status.message().contains("amount: must be positive"));
    }

    #[test]
    fn a_refusal_keeps_its_reason_across_a_hop() {
        let refused = AppError::Refused {
            reason: "COUPON_USED_UP".into(),
            message: "BF26-X is used up".into(),
            limit: true,
        };
        let status = Status::from(refused);
        assert_eq!(status.code(), Code::ResourceExhausted);
        match AppError::upstream("campaign-svc", &status) {
            AppError::Refused {
                reason,
                message,
                limit,
            } => {
                assert_eq!(reason, "COUPON_USED_UP");
                assert_eq!(message, "campaign-svc: BF26-X is used up");
                assert!(limit);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_upstream_answer_keeps_its_meaning() {
        let refused = Status::failed_precondition("only 269 of the credit is left");
        assert!(
            matches!(AppError::upstream("wallet-svc", &refused), AppError::Precondition(m) if m == "wallet-svc: only 269 of the credit is left")
        );
        let gone = Status::not_found("no credit");
        assert!(matches!(
            AppError::upstream("wallet-svc", &gone),
            AppError::NotFound(_)
        ));
        let down = Status::unavailable("connection refused");
        assert!(matches!(
            AppError::upstream("wallet-svc", &down),
            AppError::Unavailable(_)
        ));
        let bad = Status::from(AppError::invalid("amount.amount", "must be positive"));
        let AppError::Invalid(v) = AppError::upstream("wallet-svc", &bad) else {
            panic!("not invalid");
        };
        assert_eq!(
            v.iter().collect::<Vec<_>>(),
            [("amount.amount", "must be positive")]
        );
        let long = Status::aborted("x".repeat(10_000));
        assert!(AppError::upstream("w", &long).to_string().len() < 600);
    }

    #[test]
    fn answers_stay_small_however_many_fields_are_wrong() {
        let mut v = Violations::new();
        for i in 0..10_000 {
            v.add(format!("lines[{i}].sku"), "x".repeat(1_000));
        }
        let status = Status::from(AppError::Invalid(v));
        assert!(status.message().chars().count() <= MAX_MESSAGE);
        assert!(
            status.message().ends_with("(and 9980 more)"),
            "{}",
            status.message()
        );
        let details = status.get_error_details();
        let listed = details.bad_request().map(|b| b.field_violations.len());
        assert_eq!(listed, Some(MAX_VIOLATIONS));
        assert!(
            status.details().len() < 8_192,
            "{} bytes of details",
            status.details().len()
        );
        let huge = Status::from(AppError::NotFound("o".repeat(100_000)));
        assert!(huge.message().chars().count() <= MAX_MESSAGE);
    }

    #[test]
    fn internal_hides_details() {
        let status = Status::from(AppError::Internal(anyhow::anyhow!("SELECT secret FROM x")));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("SELECT"));
    }
}
