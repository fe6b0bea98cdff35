//! The campaign domain, pure: specs and their validation, schedules in local
//! time, the lifecycle, targeting, stacking, variants, budget slots and
//! coupon codes.
pub mod budget;
pub mod coupon;
pub mod lifecycle;
pub mod schedule;
pub mod spec;
pub mod targeting;
