//! Campaigns, their versions and the audit trail.
use boomerang_common::{
    db::{Conn, Db, is_unique_violation},
    error::AppError,
};
use sqlx::{Row as _, any::AnyRow};

use crate::domain::{lifecycle::Status, spec::CampaignSpec};

/// A campaign's head row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignRow {
    /// Id.
    pub id: String,
    /// State.
    pub status: Status,
    /// Current version.
    pub version: i64,
}

/// One version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRow {
    /// Number.
    pub version: i64,
    /// What it says.
    pub spec: CampaignSpec,
    /// Created.
    pub created_at: i64,
    /// In force from.
    pub effective_from: Option<i64>,
    /// In force until.
    pub effective_to: Option<i64>,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("{e}"))
}

fn head_row(r: &AnyRow) -> Result<CampaignRow, AppError> {
    let status: String = r.try_get("status")?;
    Ok(CampaignRow {
        id: r.try_get("campaign_id")?,
        status: Status::parse(&status).ok_or_else(|| internal(format!("status {status}")))?,
        version: r.try_get("current_version")?,
    })
}

fn version(r: &AnyRow) -> Result<VersionRow, AppError> {
    let spec: String = r.try_get("spec")?;
    Ok(VersionRow {
        version: r.try_get("version")?,
        spec: serde_json::from_str(&spec).map_err(internal)?,
        created_at: r.try_get("created_at")?,
        effective_from: r.try_get("effective_from")?,
        effective_to: r.try_get("effective_to")?,
    })
}

/// Inserts a new draft with version 1; ALREADY_EXISTS when the id is taken.
pub async fn insert(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
    spec: &CampaignSpec,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO campaigns (tenant_id, campaign_id, status, current_version, created_at, updated_at) \
         VALUES ($1, $2, 'draft', 1, $3, $3)",
    )
    .bind(tenant)
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            AppError::AlreadyExists(format!("campaign {id} already exists"))
        } else {
            e.into()
        }
    })?;
    insert_version(conn, tenant, id, 1, spec, now, None).await
}

/// Inserts a version.
pub async fn insert_version(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
    version: i64,
    spec: &CampaignSpec,
    now: i64,
    effective_from: Option<i64>,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO campaign_versions (tenant_id, campaign_id, version, spec, created_at, effective_from) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(id)
    .bind(version)
    .bind(serde_json::to_string(spec).map_err(internal)?)
    .bind(now)
    .bind(effective_from)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces a draft's only version in place.
pub async fn replace_draft(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
    spec: &CampaignSpec,
) -> Result<(), AppError> {
    sqlx::query("UPDATE campaign_versions SET spec = $1 WHERE tenant_id = $2 AND campaign_id = $3 AND version = 1")
        .bind(serde_json::to_string(spec).map_err(internal)?)
        .bind(tenant)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Closes a version's time in force.
pub async fn close_version(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
    version: i64,
    at: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE campaign_versions SET effective_to = $1 WHERE tenant_id = $2 AND campaign_id = $3 AND version = $4",
    )
    .bind(at)
    .bind(tenant)
    .bind(id)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Opens a version's time in force (version 1 when scheduled).
pub async fn open_version(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
    version: i64,
    at: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE campaign_versions SET effective_from = $1 \
         WHERE tenant_id = $2 AND campaign_id = $3 AND version = $4 AND effective_from IS NULL",
    )
    .bind(at)
    .bind(tenant)
    .bind(id)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sets the head's status and current version.
pub async fn set_head(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
    status: Status,
    version: i64,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE campaigns SET status = $1, current_version = $2, updated_at = $3 WHERE tenant_id = $4 AND campaign_id = $5",
    )
    .bind(status.as_str())
    .bind(version)
    .bind(now)
    .bind(tenant)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The head, locked for update on PostgreSQL (SQLite's writer lock covers it).
pub async fn head_for_update(
    conn: &mut Conn,
    db: &Db,
    tenant: &str,
    id: &str,
) -> Result<CampaignRow, AppError> {
    let sql = format!(
        "SELECT campaign_id, status, current_version FROM campaigns WHERE tenant_id = $1 AND campaign_id = $2 {}",
        db.for_update()
    );
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref()
        .map(head_row)
        .transpose()?
        .ok_or_else(|| AppError::NotFound(format!("no campaign {id}")))
}

/// The head inside a transaction, without locking it.
pub async fn head(conn: &mut Conn, tenant: &str, id: &str) -> Result<CampaignRow, AppError> {
    let row = sqlx::query("SELECT campaign_id, status, current_version FROM campaigns WHERE tenant_id = $1 AND campaign_id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref()
        .map(head_row)
        .transpose()?
        .ok_or_else(|| AppError::NotFound(format!("no campaign {id}")))
}

/// The head, without locking.
pub async fn get_head(db: &Db, tenant: &str, id: &str) -> Result<CampaignRow, AppError> {
    let row = sqlx::query("SELECT campaign_id, status, current_version FROM campaigns WHERE tenant_id = $1 AND campaign_id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref()
        .map(head_row)
        .transpose()?
        .ok_or_else(|| AppError::NotFound(format!("no campaign {id}")))
}

/// Every version of a campaign, oldest first.
pub async fn versions(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
) -> Result<Vec<VersionRow>, AppError> {
    let rows = sqlx::query(
        "SELECT version, spec, created_at, effective_from, effective_to FROM campaign_versions \
         WHERE tenant_id = $1 AND campaign_id = $2 ORDER BY version",
    )
    .bind(tenant)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(version).collect()
}

/// Heads with one of `statuses`, by id after `after`.
pub async fn list(
    db: &Db,
    tenant: &str,
    statuses: &[Status],
    after: &str,
    limit: i64,
) -> Result<Vec<CampaignRow>, AppError> {
    let placeholders: Vec<String> = (0..statuses.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "SELECT campaign_id, status, current_version FROM campaigns \
         WHERE tenant_id = $1 AND campaign_id > $2 AND status IN ({}) ORDER BY campaign_id LIMIT $3",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(tenant).bind(after).bind(limit);
    for s in statuses {
        query = query.bind(s.as_str());
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter().map(head_row).collect()
}

/// Live campaigns (scheduled, active) with all their versions, for applicability.
pub async fn live(db: &Db, tenant: &str) -> Result<Vec<(CampaignRow, Vec<VersionRow>)>, AppError> {
    let heads = sqlx::query(
        "SELECT campaign_id, status, current_version FROM campaigns \
         WHERE tenant_id = $1 AND status IN ('scheduled', 'active')",
    )
    .bind(tenant)
    .fetch_all(db.pool())
    .await?;
    let mut conn = db.pool().acquire().await?;
    let mut out = Vec::with_capacity(heads.len());
    for h in heads.iter().map(head_row) {
        let h = h?;
        let v = versions(&mut conn, tenant, &h.id).await?;
        out.push((h, v));
    }
    Ok(out)
}

/// An audit entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    /// Id.
    pub id: i64,
    /// Campaign.
    pub campaign_id: String,
    /// What happened.
    pub action: String,
    /// Who.
    pub actor: String,
    /// When.
    pub occurred_at: i64,
    /// Before, JSON.
    pub before: String,
    /// After, JSON.
    pub after: String,
}

/// Appends an audit entry.
pub async fn audit(conn: &mut Conn, tenant: &str, e: &AuditRow) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO audit_events (tenant_id, campaign_id, action, actor, occurred_at, before, after) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant)
    .bind(&e.campaign_id)
    .bind(&e.action)
    .bind(&e.actor)
    .bind(e.occurred_at)
    .bind(&e.before)
    .bind(&e.after)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Audit entries, newest first, ids below `before`.
pub async fn audit_page(
    db: &Db,
    tenant: &str,
    campaign: &str,
    before: i64,
    limit: i64,
) -> Result<Vec<AuditRow>, AppError> {
    let rows = sqlx::query(
        "SELECT id, campaign_id, action, actor, occurred_at, before, after FROM audit_events \
         WHERE tenant_id = $1 AND ($2 = '' OR campaign_id = $2) AND id < $3 ORDER BY id DESC LIMIT $4",
    )
    .bind(tenant)
    .bind(campaign)
    .bind(before)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                id: r.try_get("id")?,
                campaign_id: r.try_get("campaign_id")?,
                action: r.try_get("action")?,
                actor: r.try_get("actor")?,
                occurred_at: r.try_get("occurred_at")?,
                before: r.try_get("before")?,
                after: r.try_get("after")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}
