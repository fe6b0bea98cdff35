//! Programs and members: versions, enrolment with its welcome bonus,
//! birthdays (a durable yearly timer), tiers.
use std::sync::Arc;

use boomerang_common::{
    db::Conn,
    error::AppError,
    jobs::{self, Handler, Job},
    tenant::TenantId,
};
use boomerang_proto::{accrual::v1 as pb, wallet::v1 as wpb};
use jiff::{Timestamp, ToSpan as _, civil::Date, tz::TimeZone};
use tracing::instrument;

use super::{
    Accrual,
    outbound::{BonusCredit, Occasion, Outbound, key},
    program_ref,
    upstream::Attribution,
};
use crate::{
    domain::{
        program::{Money, Program},
        tier,
    },
    repo::{self, MemberRow},
};

/// Birthday timer.
pub const BIRTHDAY: &str = "accrual.birthday";

/// A member with the tier in force and the progress to the next.
#[derive(Clone, Debug)]
pub struct MemberView {
    /// The row.
    pub member: MemberRow,
    /// Current tier (id).
    pub tier: Option<String>,
    /// Next tier (id) and what is still needed.
    pub next: Option<(String, i64)>,
    /// Counted in the window.
    pub qualifying: i64,
    /// Asset of `qualifying` (currency or PTS).
    pub qualifying_asset: String,
    /// When the tier is reviewed.
    pub review_at: Option<i64>,
    /// The program version it was judged by.
    pub program: Arc<Program>,
}

/// Which of a member's details an update changes (`None`: kept).
#[derive(Clone, Debug, Default)]
pub struct MemberChange {
    /// Birthday ("MM-DD", or empty to clear).
    pub birthday: Option<String>,
    /// Segment.
    pub segment: Option<String>,
    /// Opt-ins (JSON list).
    pub opt_ins: Option<String>,
}

/// When points earned at `at` expire, if the program makes them expire.
pub fn points_expiry(program: &Program, asset: &str, at: i64) -> Option<i64> {
    if asset != "PTS" || program.points_expiry_months == 0 {
        return None;
    }
    let tz = TimeZone::get(&program.timezone).unwrap_or(TimeZone::UTC);
    let months = i64::from(program.points_expiry_months);
    Timestamp::from_microsecond(at)
        .ok()?
        .to_zoned(tz)
        .checked_add(months.months())
        .ok()
        .map(|z| z.timestamp().as_microsecond())
}

/// The next birthday at or after today in `tz`: (year, local midnight in micros).
/// A 29 February birthday falls on 28 February in other years.
pub fn next_birthday(mmdd: &str, tz: &str, now: i64) -> Option<(i16, i64)> {
    let zone = TimeZone::get(tz).ok()?;
    let today = Timestamp::from_microsecond(now).ok()?.to_zoned(zone).date();
    [today.year(), today.year() + 1]
        .into_iter()
        .find_map(|year| {
            let (date, at) = birthday_in(mmdd, tz, year)?;
            (date >= today).then_some((year, at))
        })
}

/// A birthday's date in `year` and its local midnight in micros; 29 February
/// falls on 28 February in other years.
pub fn birthday_in(mmdd: &str, tz: &str, year: i16) -> Option<(Date, i64)> {
    let (m, d) = mmdd.split_once('-')?;
    let (m, d): (i8, i8) = (m.parse().ok()?, d.parse().ok()?);
    let date = Date::new(year, m, d)
        .or_else(|_| Date::new(year, m, d - 1))
        .ok()?;
    let at = date
        .to_zoned(TimeZone::get(tz).ok()?)
        .ok()?
        .timestamp()
        .as_microsecond();
    Some((date, at))
}

impl Accrual {
    /// Hands a referral code given at enrolment to referral-svc, before any
    /// purchase of the new member can be notified. Its fraud checks decide,
    /// and enrolment does not depend on them: a refusal is only logged.
    #[instrument(name = "boomerang.accrual.members.attribute", skip_all, fields(tenant = %tenant, program = %program_id), err(level = "info"))]
    pub async fn attribute_at_enrolment(
        &self,
        tenant: &TenantId,
        program_id: &str,
        member: &MemberRow,
        code: &str,
    ) -> Result<(), AppError> {
        if code.is_empty() {
            return Ok(());
        }
        let attribution = Attribution {
            key: key(tenant, &[program_id, &member.customer_id, "referral"]),
            code: code.into(),
            customer: member.customer_id.clone(),
            signup_at_us: member.enrolled_at,
        };
        if let Err(e) = self
            .upstream()
            .attribute_referral(tenant, attribution)
            .await
        {
            tracing::warn!(code, error = %e, "referral attribution at enrolment failed");
        }
        Ok(())
    }

    /// Enrols a customer; the welcome bonus is credited once, whatever the retries.
    #[instrument(name = "boomerang.accrual.members.enroll", skip_all, fields(tenant = %tenant, program = %program_id), err(level = "info"))]
    pub async fn enroll(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        program_id: &str,
        member: MemberRow,
    ) -> Result<(MemberView, Option<Money>), AppError> {
        let (version, program, _) = repo::program(conn, tenant.as_str(), program_id, None).await?;
        let new = repo::enroll(conn, tenant.as_str(), program_id, &member).await?;
        let mut welcome = None;
        if new {
            if let Some(bonus) = &program.welcome_bonus {
                let credit = wpb::CreditRequest {
                    customer_id: member.customer_id.clone(),
                    amount: Some(bonus.to_wire()),
                    funded_by: Some(wpb::AccountRef {
                        kind: wpb::AccountKind::Funding as i32,
                        id: program_id.into(),
                    }),
                    expires_at: points_expiry(&program, bonus.code(), member.enrolled_at)
                        .map(boomerang_common::time::to_timestamp),
                    source: Some(wpb::Source {
                        kind: "welcome_bonus".into(),
                        reference: format!("welcome:{program_id}"),
                        rule_version: program_ref(program_id, version),
                        inputs: String::new(),
                    }),
                    tax_treatment: wpb::TaxTreatment::Gift as i32,
                    description: "welcome bonus".into(),
                    ..Default::default()
                };
                let message = Outbound::Bonus(BonusCredit {
                    program: program_id.into(),
                    customer: member.customer_id.clone(),
                    occasion: Occasion {
                        kind: "welcome".into(),
                        year: String::new(),
                    },
                    credit,
                });
                self.enqueue(conn, tenant, message).await?;
                welcome = Some(bonus.clone());
            }
            self.schedule_birthday(conn, tenant, program_id, &program, &member)
                .await?;
            let enrolled = pb::WatchEventsResponse {
                r#type: pb::EventType::MemberEnrolled as i32,
                program_id: program_id.into(),
                customer_id: member.customer_id.clone(),
                amount: welcome.as_ref().map(Money::to_wire),
                ..Default::default()
            };
            self.emit(conn, tenant, enrolled).await?;
        }
        Ok((
            self.member(conn, tenant, program_id, &member.customer_id)
                .await?,
            welcome,
        ))
    }

    /// Changes the details `change` names, keeping the others; a new birthday
    /// gets its timer (still once a year).
    #[instrument(name = "boomerang.accrual.members.update", skip_all, fields(tenant = %tenant, program = %program_id), err(level = "info"))]
    pub async fn update_member(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        program_id: &str,
        customer: &str,
        change: MemberChange,
    ) -> Result<MemberView, AppError> {
        let (_, program, _) = repo::program(conn, tenant.as_str(), program_id, None).await?;
        let mut member =
            repo::get_member(conn, self.db(), tenant.as_str(), program_id, customer, true).await?;
        let before = member.birthday.clone();
        if let Some(birthday) = change.birthday {
            member.birthday = birthday;
        }
        if let Some(segment) = change.segment {
            member.segment = segment;
        }
        if let Some(opt_ins) = change.opt_ins {
            member.opt_ins = opt_ins;
        }
        let birthday_changed = member.birthday != before;
        repo::save_member(conn, tenant.as_str(), program_id, &member).await?;
        if birthday_changed {
            self.schedule_birthday(conn, tenant, program_id, &program, &member)
                .await?;
        }
        self.member(conn, tenant, program_id, &member.customer_id)
            .await
    }

    async fn schedule_birthday(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        program_id: &str,
        program: &Program,
        m: &MemberRow,
    ) -> Result<(), AppError> {
        if program.birthday_bonus.is_none() || m.birthday.is_empty() {
            return Ok(());
        }
        if let Some((year, at)) = next_birthday(&m.birthday, &program.timezone, self.clock().now())
        {
            self.birthday_timer(conn, tenant, program_id, &m.customer_id, year, at)
                .await?;
        }
        Ok(())
    }

    /// Schedules the birthday timer of `year` at `at`: one per member and
    /// year, so a second call, a changed birthday or a restart in the same
    /// year schedules nothing more.
    async fn birthday_timer(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        program_id: &str,
        customer: &str,
        year: i16,
        at: i64,
    ) -> Result<(), AppError> {
        let dedupe = format!("{program_id}:{customer}:{year}");
        let payload = format!("{program_id}\n{customer}\n{year}");
        let now = self.clock().now();
        jobs::schedule(conn, tenant, BIRTHDAY, &dedupe, at, now, payload.as_bytes()).await?;
        Ok(())
    }

    /// The birthday timer: credits the bonus once for the year and sets next year's.
    #[instrument(name = "boomerang.accrual.members.birthday", skip_all, fields(tenant = %tenant, program = %program_id, year), err(level = "info"))]
    pub async fn on_birthday(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        program_id: &str,
        customer: &str,
        year: &str,
    ) -> Result<(), AppError> {
        let (version, program, _) = repo::program(conn, tenant.as_str(), program_id, None).await?;
        let member =
            repo::get_member(conn, self.db(), tenant.as_str(), program_id, customer, true).await?;
        let Some(bonus) = &program.birthday_bonus else {
            return Ok(());
        };
        let now = self.clock().now();
        let credit = wpb::CreditRequest {
            customer_id: customer.into(),
            amount: Some(bonus.to_wire()),
            funded_by: Some(wpb::AccountRef {
                kind: wpb::AccountKind::Funding as i32,
                id: program_id.into(),
            }),
            expires_at: points_expiry(&program, bonus.code(), now)
                .map(boomerang_common::time::to_timestamp),
            source: Some(wpb::Source {
                kind: "birthday_bonus".into(),
                reference: format!("birthday:{year}"),
                rule_version: program_ref(program_id, version),
                inputs: String::new(),
            }),
            tax_treatment: wpb::TaxTreatment::Gift as i32,
            description: format!("birthday bonus {year}"),
            ..Default::default()
        };
        let message = Outbound::Bonus(BonusCredit {
            program: program_id.into(),
            customer: customer.into(),
            occasion: Occasion {
                kind: "birthday".into(),
                year: year.into(),
            },
            credit,
        });
        self.enqueue(conn, tenant, message).await?;
        // Next year's timer, from the calendar (a 25-hour day cannot skip it).
        let next_year = year
            .parse::<i16>()
            .map_err(|e| AppError::Internal(e.into()))?
            + 1;
        if let Some((_, at)) = birthday_in(&member.birthday, &program.timezone, next_year) {
            self.birthday_timer(conn, tenant, program_id, customer, next_year, at)
                .await?;
        }
        Ok(())
    }

    /// A program version (the latest when `version` is `None`) and when it was published.
    #[instrument(name = "boomerang.accrual.programs.get", skip_all, fields(tenant = %tenant, program = %id), err(level = "info"))]
    pub async fn program(
        &self,
        tenant: &TenantId,
        id: &str,
        version: Option<i64>,
    ) -> Result<(i64, Program, i64), AppError> {
        let mut conn = self.db().pool().acquire().await?;
        repo::program(&mut conn, tenant.as_str(), id, version).await
    }

    /// A member, read outside any transaction.
    pub async fn get_member(
        &self,
        tenant: &TenantId,
        program_id: &str,
        customer: &str,
    ) -> Result<MemberView, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        self.member(&mut conn, tenant, program_id, customer).await
    }

    /// A member with the tier in force now (an upgrade applies at once, a
    /// downgrade waits for the review date), judged by the latest version.
    #[instrument(name = "boomerang.accrual.members.get", skip_all, fields(tenant = %tenant, program = %program_id), err(level = "info"))]
    pub async fn member(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        program_id: &str,
        customer: &str,
    ) -> Result<MemberView, AppError> {
        let standing = repo::standing(conn, tenant.as_str(), program_id, customer, None).await?;
        let version = standing.version(program_id)?;
        let program = self.program_at(conn, tenant, program_id, version).await?;
        let member = standing.member(program_id, customer)?;
        self.judge(conn, tenant, program_id, program, member).await
    }

    /// A member's row judged by `program`: the tier in force now and the
    /// progress to the next, counted from what is committed (one read).
    pub(crate) async fn judge(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        program_id: &str,
        program: Arc<Program>,
        member: MemberRow,
    ) -> Result<MemberView, AppError> {
        let customer = member.customer_id.as_str();
        let now = self.clock().now();
        let policy = &program.tiers;
        let since = now - i64::from(policy.window_days.max(1)) * 86_400_000_000;
        let qualifying = repo::qualifying(
            conn,
            tenant.as_str(),
            program_id,
            customer,
            since,
            policy.by_points,
        )
        .await?;
        // By id; rows from before ids were stored carry an index. A tier the
        // current version no longer has counts as none: what is earned applies.
        let current = match &member.tier {
            Some(id) => tier::position(policy, id),
            None => member
                .legacy_tier_index
                .and_then(|t| usize::try_from(t).ok()),
        };
        let (tier_now, review_at) =
            tier::evaluate(policy, current, member.tier_review_at, qualifying, now);
        let next = tier::progress(policy, tier_now, qualifying).map(|(t, n)| (t.id.clone(), n));
        Ok(MemberView {
            tier: tier_now
                .and_then(|i| policy.tiers.get(i))
                .map(|t| t.id.clone()),
            next,
            qualifying,
            qualifying_asset: if policy.by_points {
                "PTS".into()
            } else {
                program.currency.clone()
            },
            review_at,
            member,
            program,
        })
    }
}

/// Runs birthday timers.
#[derive(Clone, Debug)]
pub struct Birthdays(pub Accrual);

impl Handler for Birthdays {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let tenant = TenantId::parse(&job.tenant).map_err(anyhow::Error::msg)?;
        let payload = String::from_utf8(job.payload.clone())?;
        let mut parts = payload.split('\n');
        let (Some(program), Some(customer), Some(year)) =
            (parts.next(), parts.next(), parts.next())
        else {
            anyhow::bail!("bad birthday job {payload:?}");
        };
        let mut tx = self.0.db().begin().await?;
        self.0
            .on_birthday(&mut tx, &tenant, program, customer, year)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
