//! Creating, editing, scheduling and reading campaigns.
use std::sync::Arc;

use boomerang_common::{db::Conn, error::AppError, jobs, tenant::TenantId, time::to_timestamp};
use boomerang_proto::campaign::v1 as pb;

use super::Campaigns;
use crate::{
    domain::{
        lifecycle::{Status, Transition},
        schedule::Schedule,
        spec::CampaignSpec,
        targeting::{self, Candidate, Context},
    },
    repo::{
        budget::{self, Key},
        campaigns::{self as repo, AuditRow, CampaignRow, VersionRow},
    },
};

/// Job queues.
pub const START: &str = "campaign.start";
/// End.
pub const END: &str = "campaign.end";

/// A campaign as responses show it: the head and the version asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignView {
    /// Head.
    pub head: CampaignRow,
    /// The version shown.
    pub version: VersionRow,
}

/// A campaign version that applies to a purchase.
#[derive(Clone, Debug)]
pub struct Applicable {
    /// Campaign id.
    pub id: String,
    /// Version in force.
    pub version: VersionRow,
    /// The customer's variant, if the campaign has variants.
    pub variant: Option<crate::domain::spec::Variant>,
}

/// A campaign that would have applied at an instant, but whose first
/// version in force came after it: (campaign id, that version).
pub type ScheduledLater = (String, VersionRow);

impl Candidate for Applicable {
    fn priority(&self) -> i32 {
        self.version.spec.priority
    }
    fn stacking(&self) -> crate::domain::spec::Stacking {
        self.version.spec.stacking
    }
    fn id(&self) -> &str {
        &self.id
    }
}

fn json(view: Option<&CampaignView>) -> String {
    view.map_or_else(
        || "null".to_owned(),
        |v| {
            serde_json::json!({
                "status": v.head.status.as_str(),
                "version": v.head.version,
                "spec": v.version.spec,
            })
            .to_string()
        },
    )
}

impl Campaigns {
    /// Creates a draft.
    #[tracing::instrument(name = "boomerang.campaign.campaigns.create", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn create(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        actor: &str,
        id: &str,
        spec: CampaignSpec,
    ) -> Result<CampaignView, AppError> {
        let now = self.clock().now();
        repo::insert(conn, tenant.as_str(), id, &spec, now).await?;
        for b in &spec.budgets {
            let key = Key {
                tenant: tenant.as_str(),
                campaign: id,
                asset: b.total.code(),
            };
            budget::set_total(conn, self.db(), key, b.total.minor(), self.slots()).await?;
        }
        let view = self.view(conn, tenant, id, None).await?;
        self.audit(conn, tenant, actor, "created", None, &view)
            .await?;
        Ok(view)
    }

    /// Edits a draft in place; a scheduled or live campaign gets a new
    /// version. The same spec again changes nothing (no version, no audit).
    #[tracing::instrument(name = "boomerang.campaign.campaigns.update", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn update(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        actor: &str,
        id: &str,
        spec: CampaignSpec,
        expected_version: Option<i64>,
    ) -> Result<CampaignView, AppError> {
        let now = self.clock().now();
        let before = self.view(conn, tenant, id, None).await?;
        let head = &before.head;
        if !may_update(&before, &spec, expected_version)? {
            return Ok(before);
        }
        if head.status.edits_in_place() {
            repo::replace_draft(conn, tenant.as_str(), id, &spec).await?;
        } else {
            let next = head.version + 1;
            repo::close_version(conn, tenant.as_str(), id, head.version, now).await?;
            repo::insert_version(conn, tenant.as_str(), id, next, &spec, now, Some(now)).await?;
            repo::set_head(conn, tenant.as_str(), id, head.status, next, now).await?;
            self.schedule_timers(conn, tenant, id, next, &spec.schedule)
                .await?;
        }
        for b in &spec.budgets {
            let key = Key {
                tenant: tenant.as_str(),
                campaign: id,
                asset: b.total.code(),
            };
            budget::set_total(conn, self.db(), key, b.total.minor(), self.slots()).await?;
        }
        let after = self.view(conn, tenant, id, None).await?;
        self.audit(conn, tenant, actor, "updated", Some(&before), &after)
            .await?;
        Ok(after)
    }

    /// What creating `id` would give, without writing: the draft as it
    /// would be stored, or a create's refusal.
    #[tracing::instrument(name = "boomerang.campaign.campaigns.validate_create", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn would_create(
        &self,
        tenant: &TenantId,
        id: &str,
        spec: CampaignSpec,
    ) -> Result<CampaignView, AppError> {
        let head = if id.is_empty() {
            Err(AppError::NotFound(String::new()))
        } else {
            let mut conn = self.db().pool().acquire().await?;
            repo::head(&mut conn, tenant.as_str(), id).await
        };
        match head {
            Ok(_) => Err(AppError::AlreadyExists(format!(
                "campaign {id} already exists"
            ))),
            Err(AppError::NotFound(_)) => {
                let now = self.clock().now();
                Ok(CampaignView {
                    head: CampaignRow {
                        id: id.to_owned(),
                        status: Status::Draft,
                        version: 1,
                    },
                    version: VersionRow {
                        version: 1,
                        spec,
                        created_at: now,
                        effective_from: None,
                        effective_to: None,
                    },
                })
            }
            Err(e) => Err(e),
        }
    }

    /// What updating `id` would give, without writing (nothing locked): the
    /// campaign as it would be, or an update's refusal.
    #[tracing::instrument(name = "boomerang.campaign.campaigns.validate_update", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn would_update(
        &self,
        tenant: &TenantId,
        id: &str,
        spec: CampaignSpec,
        expected_version: Option<i64>,
    ) -> Result<CampaignView, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        let (before, _) = self
            .view_with_versions(&mut conn, tenant, id, None, false)
            .await?;
        if !may_update(&before, &spec, expected_version)? {
            return Ok(before);
        }
        let now = self.clock().now();
        let mut after = before;
        if !after.head.status.edits_in_place() {
            after.head.version += 1;
            after.version = VersionRow {
                version: after.head.version,
                spec,
                created_at: now,
                effective_from: Some(now),
                effective_to: None,
            };
        } else {
            after.version.spec = spec;
        }
        Ok(after)
    }

    /// Applies a lifecycle transition (explicit call, or a timer with actor "system").
    #[tracing::instrument(name = "boomerang.campaign.campaigns.transition", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn transition(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        actor: &str,
        id: &str,
        t: Transition,
    ) -> Result<CampaignView, AppError> {
        let now = self.clock().now();
        let head = repo::head_for_update(conn, self.db(), tenant.as_str(), id).await?;
        let mut status = head.status.apply(t).map_err(AppError::Precondition)?;
        let before = self.view(conn, tenant, id, None).await?;
        if t == Transition::Schedule {
            // Version 1's terms are in force from now on, and the timers are set.
            repo::open_version(conn, tenant.as_str(), id, head.version, now).await?;
            let schedule = &before.version.spec.schedule;
            if schedule.ends_at <= now {
                return Err(AppError::Precondition(format!(
                    "campaign {id} ends in the past; edit its schedule first"
                )));
            }
            self.schedule_timers(conn, tenant, id, head.version, schedule)
                .await?;
            if schedule.starts_at <= now {
                status = Status::Active;
            }
        }
        repo::set_head(conn, tenant.as_str(), id, status, head.version, now).await?;
        if matches!(status, Status::Ended) {
            repo::close_version(conn, tenant.as_str(), id, head.version, now).await?;
        }
        let after = self.view(conn, tenant, id, None).await?;
        self.audit(conn, tenant, actor, t.action(), Some(&before), &after)
            .await?;
        // Started: first applicable (not a resume after a pause); ended: once.
        let told = match (head.status, status) {
            (Status::Draft | Status::Scheduled, Status::Active) => {
                Some(pb::EventType::CampaignStarted)
            }
            (from, Status::Ended) if from != Status::Ended => Some(pb::EventType::CampaignEnded),
            _ => None,
        };
        if let Some(kind) = told {
            let schedule = &after.version.spec.schedule;
            let event = pb::WatchEventsResponse {
                r#type: kind as i32,
                campaign_id: id.to_owned(),
                message: after.version.spec.name.clone(),
                valid_from: Some(to_timestamp(schedule.starts_at)),
                valid_until: Some(to_timestamp(schedule.ends_at)),
                ..Default::default()
            };
            self.emit(conn, tenant, event).await?;
        }
        Ok(after)
    }

    async fn schedule_timers(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: &str,
        version: i64,
        schedule: &Schedule,
    ) -> Result<(), AppError> {
        let key = format!("{id}@{version}");
        jobs::schedule(
            conn,
            tenant,
            START,
            &key,
            schedule.starts_at,
            self.clock().now(),
            id.as_bytes(),
        )
        .await?;
        jobs::schedule(
            conn,
            tenant,
            END,
            &key,
            schedule.ends_at,
            self.clock().now(),
            id.as_bytes(),
        )
        .await?;
        Ok(())
    }

    /// The start timer: scheduled -> active, if the current schedule has started.
    #[tracing::instrument(name = "boomerang.campaign.campaigns.on_start", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn on_start(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: &str,
    ) -> Result<(), AppError> {
        let view = self.view(conn, tenant, id, None).await?;
        if view.head.status == Status::Scheduled
            && view.version.spec.schedule.starts_at <= self.clock().now()
        {
            self.transition(conn, tenant, "system", id, Transition::Activate)
                .await?;
        }
        Ok(())
    }

    /// The end timer: scheduled, active or paused -> ended, if the current schedule is over.
    #[tracing::instrument(name = "boomerang.campaign.campaigns.on_end", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn on_end(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: &str,
    ) -> Result<(), AppError> {
        let view = self.view(conn, tenant, id, None).await?;
        let live = matches!(
            view.head.status,
            Status::Scheduled | Status::Active | Status::Paused
        );
        if live && view.version.spec.schedule.ends_at <= self.clock().now() {
            self.transition(conn, tenant, "system", id, Transition::End)
                .await?;
        }
        Ok(())
    }

    /// The current version, or the one in force at `at`; the campaign row is
    /// locked (changes serialise on it).
    #[tracing::instrument(name = "boomerang.campaign.campaigns.view", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn view(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: &str,
        at: Option<i64>,
    ) -> Result<CampaignView, AppError> {
        Ok(self.view_with_versions(conn, tenant, id, at, true).await?.0)
    }

    /// As [`Campaigns::view`], with every version.
    #[tracing::instrument(name = "boomerang.campaign.campaigns.view_with_versions", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn view_with_versions(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        id: &str,
        at: Option<i64>,
        lock: bool,
    ) -> Result<(CampaignView, Vec<VersionRow>), AppError> {
        let head = if lock {
            repo::head_for_update(conn, self.db(), tenant.as_str(), id).await?
        } else {
            repo::head(conn, tenant.as_str(), id).await?
        };
        let versions = repo::versions(conn, tenant.as_str(), id).await?;
        let version = match at {
            None => versions.iter().find(|v| v.version == head.version),
            Some(t) => versions.iter().find(|v| in_force(v, t)),
        }
        .cloned()
        .ok_or_else(|| match at {
            Some(_) => AppError::NotFound(format!(
                "no version of campaign {id} was in force at that instant"
            )),
            None => AppError::Internal(anyhow::anyhow!("campaign {id} lacks its current version")),
        })?;
        Ok((CampaignView { head, version }, versions))
    }

    /// Reads a campaign outside a write transaction.
    #[tracing::instrument(name = "boomerang.campaign.campaigns.get", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn get(
        &self,
        tenant: &TenantId,
        id: &str,
        at: Option<i64>,
    ) -> Result<(CampaignView, Vec<VersionRow>), AppError> {
        let mut conn = self.db().pool().acquire().await?;
        self.view_with_versions(&mut conn, tenant, id, at, false)
            .await
    }

    /// Campaigns with one of `statuses`, after id `after`.
    #[tracing::instrument(name = "boomerang.campaign.campaigns.list", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn list(
        &self,
        tenant: &TenantId,
        statuses: &[Status],
        after: &str,
        limit: i64,
    ) -> Result<Vec<CampaignView>, AppError> {
        let heads = repo::list(self.db(), tenant.as_str(), statuses, after, limit).await?;
        let mut conn = self.db().pool().acquire().await?;
        let mut out = Vec::with_capacity(heads.len());
        for h in heads {
            out.push(
                self.view_with_versions(&mut conn, tenant, &h.id, None, false)
                    .await?
                    .0,
            );
        }
        Ok(out)
    }

    /// The versions in force at `at` that apply to `ctx`, after stacking;
    /// and the campaigns that would have applied but were scheduled after
    /// `at`, each with its first version in force after it.
    #[tracing::instrument(name = "boomerang.campaign.campaigns.applicable", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn applicable(
        &self,
        tenant: &TenantId,
        at: i64,
        ctx: &Context,
    ) -> Result<(Vec<Applicable>, Vec<ScheduledLater>), AppError> {
        let live = match self.inner.cache.get(tenant.as_str()) {
            Some(live) => live,
            None => {
                let live = Arc::new(repo::live(self.db(), tenant.as_str()).await?);
                self.inner.cache.put(tenant.as_str(), live.clone());
                live
            }
        };
        let mut later = Vec::new();
        let candidates = live
            .iter()
            .filter_map(|(head, versions)| {
                // Only terms in force at the purchase apply: never a later or earlier version.
                let Some(version) = versions.iter().find(|v| in_force(v, at)) else {
                    // Dated to cover it, but scheduled after it: said, not applied.
                    let first_after = versions
                        .iter()
                        .filter(|v| v.effective_from.is_some_and(|from| from > at))
                        .min_by_key(|v| v.effective_from);
                    if let Some(v) = first_after.filter(|v| {
                        v.spec.schedule.applies_at(at)
                            && targeting::matches(&v.spec.conditions, ctx)
                    }) {
                        later.push((head.id.clone(), v.clone()));
                    }
                    return None;
                };
                let spec = &version.spec;
                if !spec.schedule.applies_at(at) || !targeting::matches(&spec.conditions, ctx) {
                    return None;
                }
                let variant =
                    targeting::variant_for(&head.id, &ctx.customer, &spec.variants).cloned();
                Some(Applicable {
                    id: head.id.clone(),
                    version: version.clone(),
                    variant,
                })
            })
            .collect();
        Ok((targeting::stack(candidates), later))
    }

    /// Audit entries, newest first.
    #[tracing::instrument(name = "boomerang.campaign.campaigns.audit_log", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn audit_log(
        &self,
        tenant: &TenantId,
        campaign: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, AppError> {
        repo::audit_page(self.db(), tenant.as_str(), campaign, before, limit).await
    }

    async fn audit(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        actor: &str,
        action: &str,
        before: Option<&CampaignView>,
        after: &CampaignView,
    ) -> Result<(), AppError> {
        let row = AuditRow {
            id: 0,
            campaign_id: after.head.id.clone(),
            action: action.to_owned(),
            actor: actor.to_owned(),
            occurred_at: self.clock().now(),
            before: json(before),
            after: json(Some(after)),
        };
        repo::audit(conn, tenant.as_str(), &row).await
    }
}

fn in_force(v: &VersionRow, at: i64) -> bool {
    v.effective_from.is_some_and(|from| from <= at) && v.effective_to.is_none_or(|to| at < to)
}

/// Whether `spec` may replace the campaign `before` over `expected_version`
/// (the checks of an update, before it writes): false when it says what the
/// campaign says already (nothing to write, whatever its state).
fn may_update(
    before: &CampaignView,
    spec: &CampaignSpec,
    expected_version: Option<i64>,
) -> Result<bool, AppError> {
    let head = &before.head;
    if let Some(expected) = expected_version.filter(|v| *v != head.version) {
        return Err(AppError::Aborted(format!(
            "campaign {} is at version {}, not {expected}; read it again",
            head.id, head.version,
        )));
    }
    if *spec == before.version.spec {
        return Ok(false);
    }
    if !head.status.editable() {
        return Err(AppError::Precondition(format!(
            "a {} campaign cannot be changed",
            head.status.as_str()
        )));
    }
    let dropped = before.version.spec.budgets.iter().find(|old| {
        !spec
            .budgets
            .iter()
            .any(|b| b.total.code() == old.total.code())
    });
    if let Some(old) = dropped.filter(|_| !head.status.edits_in_place()) {
        // Without a budget the asset would be unlimited; a live campaign keeps its limit.
        return Err(AppError::invalid(
            "spec.budgets",
            format!(
                "a {} campaign keeps its {} budget; lower it instead",
                head.status.as_str(),
                old.total.code()
            ),
        ));
    }
    Ok(true)
}
