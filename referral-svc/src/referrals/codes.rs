//! Referral codes: created (random or vanity) and disabled.
use boomerang_common::{db::Conn, error::AppError, tenant::TenantId};

use super::Referrals;
use crate::{
    domain::{code, email},
    repo::{self, CodeRow},
};

impl Referrals {
    /// Creates a code (random, or the vanity code asked for).
    #[tracing::instrument(name = "boomerang.referral.referrals.create_code", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn create_code(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        referrer: &str,
        referrer_email: &str,
        requested: Option<String>,
        expires_at: Option<i64>,
    ) -> Result<CodeRow, AppError> {
        let row = |code: String| CodeRow {
            code,
            referrer_id: referrer.to_owned(),
            referrer_email: email::normalise(referrer_email),
            enabled: true,
            expires_at,
            created_at: self.clock.now(),
        };
        match requested {
            Some(code) => {
                let r = row(code);
                repo::insert_code(conn, tenant.as_str(), &r).await?;
                Ok(r)
            }
            None => {
                // Collisions are rare (31^8 codes); the first free one wins.
                let mut last = None;
                for _ in 0..5 {
                    let r = row(code::generate());
                    if repo::get_code(conn, tenant.as_str(), &r.code)
                        .await?
                        .is_none()
                    {
                        repo::insert_code(conn, tenant.as_str(), &r).await?;
                        return Ok(r);
                    }
                    last = Some(r.code);
                }
                Err(AppError::Aborted(format!(
                    "no free code after {last:?}; retry"
                )))
            }
        }
    }

    /// Disables a code.
    #[tracing::instrument(name = "boomerang.referral.referrals.disable", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn disable(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        code: &str,
    ) -> Result<CodeRow, AppError> {
        let mut row = repo::get_code(conn, tenant.as_str(), code)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no code {code}")))?;
        repo::disable_code(conn, tenant.as_str(), code).await?;
        row.enabled = false;
        Ok(row)
    }
}
