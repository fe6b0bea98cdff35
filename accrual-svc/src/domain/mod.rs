//! The accrual domain, pure: programs, the reward computation with its
//! explanation lines, tiers, carts and sessions at checkout, report cohorts, experiments and tax lines. No I/O; the same
//! code serves preview, record and the recomputation after a return.
pub mod caps;
pub mod checkout;
pub mod cohorts;
pub mod experiment;
pub mod export;
pub mod fraud;
pub mod program;
pub mod returns;
pub mod rewards;
pub mod session;
pub mod simulation;
pub mod tax;
pub mod tier;
