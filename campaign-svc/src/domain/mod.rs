//! The campaign domain, pure: specs and their validation, schedules in local
//! time, the lifecycle, targeting, stacking, variants, budget slots,
//! coupon codes and what rewarded orders brought in (reports).
pub mod budget;
pub mod coupon;
pub mod lifecycle;
pub mod report;
pub mod schedule;
pub mod spec;
pub mod targeting;
