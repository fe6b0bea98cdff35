//! The gateway's domain: API keys and what they may call. Pure, no I/O.
pub mod key;
pub mod scope;
