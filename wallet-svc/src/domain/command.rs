//! Validated requests: what each mutation asks the ledger to do.
use std::collections::BTreeMap;

use boomerang_common::money::Amount;

use super::{AccountRef, Layer, reversal::ClawbackPolicy};

/// Why an entry exists: the business fact and the versioned rule behind it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    /// "order", "return", "campaign", "referral", ...
    pub kind: String,
    /// The business reference, e.g. the order id.
    pub reference: String,
    /// The rule or campaign version, e.g. "program:p-1@3".
    pub rule_version: String,
    /// The inputs, for audit.
    pub inputs: String,
}

/// How a credit is treated for tax.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TaxTreatment {
    /// A discount on the purchase (cashback).
    #[default]
    Discount,
    /// A gift.
    Gift,
    /// Not relevant.
    None,
}

impl TaxTreatment {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Discount => "discount",
            Self::Gift => "gift",
            Self::None => "none",
        }
    }
}

/// Credit a customer.
#[derive(Clone, Debug)]
pub struct Credit {
    /// The customer.
    pub customer: String,
    /// Positive amount.
    pub amount: Amount,
    /// Paying system account.
    pub funded_by: AccountRef,
    /// Pending until then, if in the future.
    pub release_at: Option<i64>,
    /// Expiry of the remainder.
    pub expires_at: Option<i64>,
    /// Why.
    pub source: Source,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Tax treatment.
    pub tax: TaxTreatment,
    /// Statement text.
    pub description: String,
    /// Pending with no release time until released explicitly (held for review).
    pub hold_release: bool,
}

/// Schedule the release of held credits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseHeld {
    /// The customer.
    pub customer: String,
    /// The held credits' source reference.
    pub source_ref: String,
    /// When; `None`: now.
    pub release_at: Option<i64>,
}

/// Which credits a reversal targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReverseTarget {
    /// One credit.
    Credit(i64),
    /// Every credit of the customer with this source reference.
    Source(String),
}

/// Take back a credit.
#[derive(Clone, Debug)]
pub struct Reverse {
    /// The customer.
    pub customer: String,
    /// What.
    pub target: ReverseTarget,
    /// How much; None means all that is left.
    pub amount: Option<Amount>,
    /// For released amounts.
    pub policy: ClawbackPolicy,
    /// Why.
    pub source: Source,
}

/// Hold available balance.
#[derive(Clone, Debug)]
pub struct Authorize {
    /// The customer.
    pub customer: String,
    /// Positive amount.
    pub amount: Amount,
    /// Lifetime, microseconds.
    pub ttl: i64,
    /// The caller's reference.
    pub reference: String,
}

/// Spend a hold.
#[derive(Clone, Debug)]
pub struct Capture {
    /// The hold.
    pub hold: i64,
    /// Amount as given (asset checked against the hold's); None means all.
    pub amount: Option<(String, String)>,
}

/// Where a transfer goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// Another customer (a gift).
    Customer(String),
    /// A cause (a donation).
    Cause(String),
}

/// Move available balance away from a customer.
#[derive(Clone, Debug)]
pub struct Transfer {
    /// The giver.
    pub from: String,
    /// The receiver.
    pub to: Destination,
    /// Positive amount.
    pub amount: Amount,
    /// Statement text.
    pub description: String,
}

/// One leg of an operator transaction.
#[derive(Clone, Debug)]
pub struct Leg {
    /// The account.
    pub account: AccountRef,
    /// Its layer (customer legs: available only).
    pub layer: Layer,
    /// Signed amount.
    pub amount: Amount,
}

/// A balanced multi-leg operator transaction.
#[derive(Clone, Debug)]
pub struct PostTransaction {
    /// The legs.
    pub legs: Vec<Leg>,
    /// Why.
    pub source: Source,
    /// Statement text.
    pub description: String,
}
