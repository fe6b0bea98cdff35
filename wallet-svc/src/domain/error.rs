//! What the ledger refuses, by rule, in the words of the request: amounts
//! as decimals with their asset.
use boomerang_common::money::text;

/// A ledger rule was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// Postings of an asset do not sum to zero.
    #[error("postings of {asset} sum to {sum}, not zero")]
    Unbalanced {
        /// The asset.
        asset: String,
        /// The sum in minor units.
        sum: i64,
    },
    /// A customer's layer would go below zero.
    #[error("insufficient {layer} balance: has {}, needs {}", text(*.has, .asset), text(*.needs, .asset))]
    Insufficient {
        /// The layer.
        layer: &'static str,
        /// The asset.
        asset: String,
        /// Balance.
        has: i64,
        /// Amount asked.
        needs: i64,
    },
    /// A hold is not in a state that allows it.
    #[error("hold is {status}; cannot {action}")]
    HoldState {
        /// Current status.
        status: &'static str,
        /// What was tried.
        action: &'static str,
    },
    /// Capture of more than held.
    #[error("cannot capture {}, only {} is held", text(*.asked, .asset), text(*.held, .asset))]
    CaptureTooLarge {
        /// The asset.
        asset: String,
        /// Asked.
        asked: i64,
        /// Held.
        held: i64,
    },
    /// Reversal of more than is left of a credit.
    #[error("cannot reverse {}, only {} of the credit is left", text(*.asked, .asset), text(*.left, .asset))]
    ReverseTooLarge {
        /// The asset.
        asset: String,
        /// Asked.
        asked: i64,
        /// Left.
        left: i64,
    },
    /// A sum left the representable range.
    #[error("amount out of range")]
    Overflow,
}
