//! The columns of accrual's exports; rows are written by
//! `boomerang_common::export`.
pub use boomerang_common::export::{Format, header, row};

/// The columns of a rewards export.
pub const REWARDS: [&str; 12] = [
    "order_id",
    "customer_id",
    "occurred_at",
    "channel",
    "store_id",
    "kind",
    "campaign_id",
    "asset",
    "amount",
    "reversed",
    "net",
    "tax_treatment",
];

/// The columns of a tax report export.
pub const TAX: [&str; 8] = [
    "channel",
    "store_id",
    "purchases",
    "revenue",
    "cashback",
    "taxable_base",
    "currency",
    "other_rewards",
];
