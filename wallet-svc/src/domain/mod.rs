//! The ledger's rules, pure: accounts and layers, balanced postings, lots,
//! holds and reversals. No sqlx, no tonic; unit and property tests live here.
pub mod account;
pub mod command;
pub mod error;
pub mod hold;
pub mod lot;
pub mod posting;
pub mod reversal;

pub use account::{AccountKind, AccountRef, Balances, Layer};
pub use error::LedgerError;
pub use posting::Posting;
