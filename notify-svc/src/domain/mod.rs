//! notify-svc's domain, pure: the public envelope ([`envelope`]), which
//! service events become which public ones ([`mapping`]), how a delivery is
//! signed and verified ([`signature`]), which webhook targets are allowed
//! ([`target`]) and when a failed delivery is tried again or given up
//! ([`retry`]). No I/O.
pub mod envelope;
pub mod mapping;
pub mod retry;
pub mod signature;
pub mod target;
