//! Live campaigns per tenant, cached for ListApplicableCampaigns (the hot
//! read on every purchase). Local changes invalidate at once; changes made
//! by another replica show within the TTL.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::repo::campaigns::{CampaignRow, VersionRow};

/// Live campaigns with their versions.
pub type Live = Arc<Vec<(CampaignRow, Vec<VersionRow>)>>;

const TTL: Duration = Duration::from_secs(1);

/// Per-tenant cache.
#[derive(Debug, Default)]
pub struct ApplicableCache(Mutex<HashMap<String, (Instant, Live)>>);

impl ApplicableCache {
    /// A fresh entry, if any.
    pub fn get(&self, tenant: &str) -> Option<Live> {
        let map = self.0.lock().ok()?;
        let (at, live) = map.get(tenant)?;
        (at.elapsed() < TTL).then(|| live.clone())
    }

    /// Stores an entry.
    pub fn put(&self, tenant: &str, live: Live) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(tenant.to_owned(), (Instant::now(), live));
        }
    }

    /// Drops a tenant's entry.
    pub fn invalidate(&self, tenant: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(tenant);
        }
    }
}
