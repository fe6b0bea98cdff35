//! The tenant's referral program: published in versions, checked without
//! publishing.
use boomerang_common::{db::Conn, error::AppError, tenant::TenantId};

use super::Referrals;
use crate::{domain::program::Program, repo};

impl Referrals {
    /// Publishes a program version over `expected` (see [`repo::publish`]).
    #[tracing::instrument(name = "boomerang.referral.referrals.publish", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn publish(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        p: &Program,
        expected: Option<i64>,
    ) -> Result<(i64, i64), AppError> {
        let now = self.clock.now();
        Ok((
            repo::publish(conn, tenant.as_str(), p, expected, now).await?,
            now,
        ))
    }

    /// What publishing would give, without writing: the version it would
    /// get over `expected` (see [`repo::publish`]), and when.
    #[tracing::instrument(name = "boomerang.referral.referrals.validate", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn would_publish(
        &self,
        tenant: &TenantId,
        expected: Option<i64>,
    ) -> Result<(i64, i64), AppError> {
        let mut conn = self.db.pool().acquire().await?;
        let latest = repo::latest_version(&mut conn, tenant.as_str()).await?;
        Ok((repo::next_version(latest, expected)?, self.clock.now()))
    }
}
