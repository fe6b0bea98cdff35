//! The referral domain, pure: programs, codes, e-mail normalisation, the
//! fraud checks' decisions and the rewards.
pub mod code;
pub mod email;
pub mod program;
