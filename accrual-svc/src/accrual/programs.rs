//! Programs: publishing a version (or checking what publishing would give),
//! and versions read before. A published version never changes, so one
//! read serves every later purchase priced by it; which version is the latest
//! is still asked of the database each time (with the member, in one read,
//! [`crate::repo::standing`]), so a version published through another replica
//! applies at once.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use boomerang_common::{db::Conn, error::AppError, tenant::TenantId};
use tracing::instrument;

use super::Accrual;
use crate::{domain::program::Program, repo};

/// How many versions are kept before the cache starts over.
const MOST: usize = 4096;

type Key = (String, String, i64);

/// Versions by tenant, program and version.
#[derive(Debug, Default)]
pub(super) struct Programs(Mutex<HashMap<Key, Arc<Program>>>);

impl Programs {
    fn get(&self, key: &Key) -> Option<Arc<Program>> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key).cloned()
    }

    fn put(&self, key: Key, program: Arc<Program>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MOST {
            map.clear();
        }
        map.insert(key, program);
    }
}

impl Accrual {
    /// Version `version` of program `id`, read once.
    pub(crate) async fn program_at(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: &str,
        version: i64,
    ) -> Result<Arc<Program>, AppError> {
        let key = (tenant.as_str().to_owned(), id.to_owned(), version);
        if let Some(program) = self.inner.programs.get(&key) {
            return Ok(program);
        }
        let (_, program, _) = repo::program(conn, tenant.as_str(), id, Some(version)).await?;
        let program = Arc::new(program);
        self.inner.programs.put(key, program.clone());
        Ok(program)
    }

    /// Publishes a program version over `expected` (see [`repo::publish`]).
    #[instrument(name = "boomerang.accrual.programs.publish", skip_all, fields(tenant = %tenant, program = %id), err(level = "info"))]
    pub async fn publish(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        (id, program): (&str, &Program),
        expected: Option<i64>,
    ) -> Result<(i64, i64), AppError> {
        let now = self.clock().now();
        let version = repo::publish(conn, tenant.as_str(), (id, program), expected, now).await?;
        Ok((version, now))
    }

    /// What publishing would give, without writing: the version it would
    /// get over `expected` (see [`repo::publish`]), and when.
    #[instrument(name = "boomerang.accrual.programs.validate", skip_all, fields(tenant = %tenant, program = %id), err(level = "info"))]
    pub async fn would_publish(
        &self,
        tenant: &TenantId,
        id: &str,
        expected: Option<i64>,
    ) -> Result<(i64, i64), AppError> {
        let mut conn = self.db().pool().acquire().await?;
        let latest = repo::latest_version(&mut conn, tenant.as_str(), id).await?;
        Ok((
            repo::next_version(id, latest, expected)?,
            self.clock().now(),
        ))
    }
}
