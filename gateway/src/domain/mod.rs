//! The gateway's domain: API keys and what they may call. Pure, no I/O.
pub mod key;
// Scopes are shared with the services, which check them again.
pub use boomerang_common::auth::scope;
