//! Rate limits per API key and per tenant: token buckets (GCRA, `governor`),
//! in memory per replica. Over the limit: RESOURCE_EXHAUSTED with the delay
//! after which a retry can succeed (RetryInfo details).
use std::{num::NonZeroU32, sync::Arc, time::Duration};

use boomerang_common::error::AppError;
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock as _, DefaultClock},
};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;

/// Limits, in calls per second (bursts up to one second's worth).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Per API key.
    pub per_key_per_second: u32,
    /// Per tenant, over all its keys.
    pub per_tenant_per_second: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_key_per_second: 500,
            per_tenant_per_second: 2_000,
        }
    }
}

/// The limiters.
#[derive(Clone, Debug)]
pub struct Limits {
    per_key: Arc<DefaultKeyedRateLimiter<String>>,
    per_tenant: Arc<DefaultKeyedRateLimiter<String>>,
}

fn quota(per_second: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl Limits {
    /// From config.
    pub fn new(cfg: &RateLimitConfig) -> Self {
        Self {
            per_key: Arc::new(RateLimiter::keyed(quota(cfg.per_key_per_second))),
            per_tenant: Arc::new(RateLimiter::keyed(quota(cfg.per_tenant_per_second))),
        }
    }

    /// Takes one call from the key's and the tenant's buckets.
    pub fn check(&self, p: &Principal) -> Result<(), AppError> {
        let refused =
            |what: &str, not_until: governor::NotUntil<governor::clock::QuantaInstant>| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                AppError::RateLimited {
                    message: format!(
                        "rate limit of {what} reached; retry in {} ms",
                        wait.as_millis().max(1)
                    ),
                    retry_after: wait.max(Duration::from_millis(1)),
                }
            };
        self.per_key
            .check_key(&p.key_id)
            .map_err(|n| refused(&format!("key {}", p.key_id), n))?;
        self.per_tenant
            .check_key(&p.tenant.to_string())
            .map_err(|n| refused(&format!("tenant {}", p.tenant), n))
    }
}
