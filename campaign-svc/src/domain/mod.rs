//! The campaign domain, pure: specs and their validation, schedules in local
//! time, the lifecycle, targeting, stacking, variants and budget slots.
pub mod budget;
pub mod lifecycle;
pub mod schedule;
pub mod spec;
pub mod targeting;
