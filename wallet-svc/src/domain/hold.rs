//! Holds: authorized -> captured | voided | expired.
use super::LedgerError;

/// The state of a hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldStatus {
    /// Holding balance.
    Authorized,
    /// Spent (the rest released).
    Captured,
    /// Released by Void.
    Voided,
    /// Released at its TTL.
    Expired,
}

impl HoldStatus {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorized => "authorized",
            Self::Captured => "captured",
            Self::Voided => "voided",
            Self::Expired => "expired",
        }
    }

    /// From storage.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Authorized,
            Self::Captured,
            Self::Voided,
            Self::Expired,
        ]
        .into_iter()
        .find(|h| h.as_str() == s)
    }
}

/// What a capture of `asked` (None: all) does to a hold of `held` in
/// `asset`: (captured, released back to available).
pub fn capture(
    status: HoldStatus,
    held: i64,
    asked: Option<i64>,
    asset: &str,
) -> Result<(i64, i64), LedgerError> {
    if status != HoldStatus::Authorized {
        return Err(LedgerError::HoldState {
            status: status.as_str(),
            action: "capture",
        });
    }
    let captured = asked.unwrap_or(held);
    if captured > held {
        return Err(LedgerError::CaptureTooLarge {
            asset: asset.to_owned(),
            asked: captured,
            held,
        });
    }
    Ok((captured, held - captured))
}

/// Whether a hold in `status` can be released (void or lapse).
pub fn release(status: HoldStatus, action: &'static str) -> Result<(), LedgerError> {
    if status == HoldStatus::Authorized {
        Ok(())
    } else {
        Err(LedgerError::HoldState {
            status: status.as_str(),
            action,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_less_releases_the_rest_and_more_is_refused() {
        assert_eq!(
            capture(HoldStatus::Authorized, 3_000, Some(2_000), "EUR"),
            Ok((2_000, 1_000))
        );
        assert_eq!(
            capture(HoldStatus::Authorized, 3_000, None, "EUR"),
            Ok((3_000, 0))
        );
        assert!(matches!(
            capture(HoldStatus::Authorized, 3_000, Some(3_001), "EUR"),
            Err(LedgerError::CaptureTooLarge { .. })
        ));
        assert!(capture(HoldStatus::Voided, 3_000, None, "EUR").is_err());
        assert!(release(HoldStatus::Captured, "void").is_err());
    }
}
