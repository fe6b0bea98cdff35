//! A campaign draft for a what-if: campaign-svc checks it as it checks a
//! draft it would save (one set of rules and refusals, its field
//! violations kept), then what of it prices a purchase becomes a domain
//! [`Draft`].
use boomerang_common::{
    channel::acting_for,
    error::{AppError, Violations},
    money::{self, Amount, Sign},
    tenant::TenantId,
    time::instant,
};
use boomerang_proto::campaign::v1::{self as cpb, effect::Kind};
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use tracing::instrument;

use super::{CAMPAIGN, Upstream, refused};
use crate::{
    accrual::simulations::Run,
    domain::{
        rewards::Effect,
        simulation::campaign::{Admits, Arm, Budget, Draft, Targeting, not_priced},
    },
};

impl Upstream {
    /// Campaign `id`'s draft `spec` as campaign-svc would save it, and its
    /// run: INVALID_ARGUMENT with campaign-svc's field violations (under
    /// `spec.`) when it would refuse it. Nothing is saved.
    #[instrument(name = "boomerang.accrual.upstream.campaign_draft", skip_all, fields(tenant = %tenant, campaign = %id), err(level = "info"))]
    pub async fn campaign_draft(
        &self,
        tenant: &TenantId,
        id: &str,
        spec: Option<&cpb::CampaignSpec>,
    ) -> Result<(Draft, Run), AppError> {
        let Some(spec) = spec else {
            return Err(AppError::invalid("spec", "required"));
        };
        // No id: the spec alone is checked, whether or not the campaign exists.
        let checked = self
            .campaign
            .clone()
            .create_campaign(acting_for(
                tenant,
                cpb::CreateCampaignRequest {
                    spec: Some(spec.clone()),
                    validate_only: true,
                    ..Default::default()
                },
            ))
            .await
            .map_err(refused(CAMPAIGN))?
            .into_inner();
        let Some(spec) = checked.campaign.and_then(|c| c.spec) else {
            return Err(AppError::Internal(anyhow::anyhow!(
                "{CAMPAIGN} answered a checked campaign without its spec"
            )));
        };
        let mut v = Violations::new();
        let drafted = targeting(&spec);
        let (mut parsed, run) = draft(&mut v, id.to_owned(), spec);
        v.check()?;
        if !id.is_empty() {
            parsed.not_priced = self.not_priced(tenant, id, &drafted).await;
        }
        Ok((parsed, run))
    }

    /// What of a draft of campaign `id`, against the live campaign, a
    /// what-if does not price; said too when the live one cannot be read
    /// (the what-if goes on: this is advice).
    #[instrument(name = "boomerang.accrual.upstream.campaign_live", skip_all, fields(tenant = %tenant, campaign = %id))]
    async fn not_priced(&self, tenant: &TenantId, id: &str, drafted: &Targeting) -> Vec<String> {
        match self.campaign(tenant, id).await {
            Ok(found) => match found.campaign.and_then(|c| c.spec) {
                Some(live) => not_priced(&targeting(&live), drafted),
                None => Vec::new(),
            },
            // A campaign not created yet rewarded nothing.
            Err(status) if status.code() == tonic::Code::NotFound => Vec::new(),
            Err(status) => {
                tracing::warn!(campaign = id, code = ?status.code(), "the live campaign was not read for a what-if");
                vec![format!(
                    "the live campaign could not be read ({:?}): what the draft changes that is not priced is not said",
                    status.code()
                )]
            }
        }
    }
}

/// A spec's targeting as [`not_priced`] compares it.
fn targeting(spec: &cpb::CampaignSpec) -> Targeting {
    let conditions = spec.conditions.clone().unwrap_or_default();
    let schedule = spec.schedule.clone().unwrap_or_default();
    let at = |t: Option<&prost_types::Timestamp>, or: i64| {
        t.and_then(boomerang_common::time::from_timestamp)
            .unwrap_or(or)
    };
    Targeting {
        categories: conditions.categories,
        channels: channel_names(&conditions.channels),
        stores: conditions.stores,
        segments: conditions.segments,
        tiers: conditions.tiers,
        min_order: conditions
            .min_order_amount
            .map(|m| (money::minor_of(Some(&m)).unwrap_or(0), m.asset)),
        first_purchase_only: conditions.first_purchase_only,
        run: (
            at(schedule.starts_at.as_ref(), i64::MIN),
            at(schedule.ends_at.as_ref(), i64::MAX),
        ),
        // Windows are read in the schedule's zone.
        windows: if schedule.windows.is_empty() {
            String::new()
        } else {
            format!("{} {:?}", schedule.timezone, schedule.windows)
        },
        priority: spec.priority,
        stacking: spec.stacking,
    }
}

/// Channels as purchases record them ("online").
fn channel_names(channels: &[i32]) -> Vec<String> {
    channels
        .iter()
        .filter_map(|c| boomerang_proto::common::v1::channel_name(*c))
        .map(str::to_owned)
        .collect()
}

/// The draft of campaign `id` and its run, as campaign-svc checked it (its
/// bounds hold, and amounts are read with them: what it took, this takes);
/// what accrual cannot price is recorded in `v`.
fn draft(v: &mut Violations, id: String, spec: cpb::CampaignSpec) -> (Draft, Run) {
    let schedule = spec.schedule.unwrap_or_default();
    if TimeZone::get(&schedule.timezone).is_err() {
        v.add(
            "spec.schedule.timezone",
            "an IANA time zone, e.g. Europe/Rome",
        );
    }
    let timezone = schedule.timezone.clone();
    let run = (
        instant(v, "spec.schedule.starts_at", schedule.starts_at.as_ref()),
        instant(v, "spec.schedule.ends_at", schedule.ends_at.as_ref()),
    );
    let variants = spec
        .variants
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if a.weight == 0 || a.weight > 10_000 {
                v.add(format!("spec.variants[{i}].weight"), "1 to 10000");
            }
            Arm {
                name: a.name.clone(),
                weight: a.weight,
                effect: effect(v, &format!("spec.variants[{i}].effect"), a.effect.as_ref()),
            }
        })
        .collect();
    let conditions = spec.conditions.unwrap_or_default();
    let amount = |v: &mut Violations, field: &str, m: Option<&_>| {
        money::field(v, field, m, Sign::Positive).map(|a: Amount| (a.minor(), a.code().to_owned()))
    };
    let caps = spec.caps.unwrap_or_default();
    let budgets = spec
        .budgets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let (total, asset) = amount(v, &format!("spec.budgets[{i}].total"), b.total.as_ref())?;
            let field = format!("spec.budgets[{i}].per_day");
            let per_day = match amount(v, &field, b.per_day.as_ref()) {
                Some((minor, a)) if a == asset => Some(minor),
                Some(_) => {
                    v.add(field, format!("in {asset}, as the total"));
                    None
                }
                None => None,
            };
            Some(Budget {
                asset,
                total,
                per_day,
            })
        })
        .collect();
    let draft = Draft {
        effect: effect(v, "spec.effect", spec.effect.as_ref()),
        campaign_id: id,
        variants,
        categories: conditions.categories,
        min_order: amount(
            v,
            "spec.conditions.min_order_amount",
            conditions.min_order_amount.as_ref(),
        ),
        per_order: amount(v, "spec.caps.per_order", caps.per_order.as_ref()),
        per_customer: amount(v, "spec.caps.per_customer", caps.per_customer.as_ref()),
        budgets,
        timezone,
        admits: Admits {
            channels: channel_names(&conditions.channels),
            stores: conditions.stores,
            tiers: conditions.tiers,
            run: (run.0.unwrap_or(i64::MIN), run.1.unwrap_or(i64::MAX)),
        },
        not_priced: Vec::new(),
    };
    (draft, run)
}

/// A campaign effect as accrual prices it; none when absent.
fn effect(v: &mut Violations, field: &str, e: Option<&cpb::Effect>) -> Option<Effect> {
    // A decimal in (0, 100], or [1, 100] with `from_one`.
    let decimal =
        |v: &mut Violations, sub: &str, s: &str, from_one: bool| match Decimal::from_str_exact(s) {
            Ok(d)
                if (if from_one {
                    d >= Decimal::ONE
                } else {
                    d > Decimal::ZERO
                }) && d <= Decimal::ONE_HUNDRED =>
            {
                Some(d.normalize().to_string())
            }
            _ => {
                let range = if from_one { "from 1" } else { "above 0" };
                v.add(
                    format!("{field}.{sub}"),
                    format!("a decimal {range}, up to 100"),
                );
                None
            }
        };
    Some(match e?.kind.as_ref()? {
        Kind::PointsMultiplier(m) => Effect::PointsMultiplier {
            multiplier: decimal(v, "points_multiplier.multiplier", &m.multiplier, true)?,
        },
        Kind::ExtraPercent(p) => Effect::ExtraPercent {
            asset: p.asset.clone(),
            percent: decimal(v, "extra_percent.percent", &p.percent, false)?,
        },
        Kind::FixedBonus(b) => {
            let a = money::field(
                v,
                &format!("{field}.fixed_bonus.amount"),
                b.amount.as_ref(),
                Sign::Positive,
            )?;
            Effect::FixedBonus {
                minor: a.minor(),
                asset: a.code().to_owned(),
            }
        }
        Kind::NextPurchaseVoucher(n) => {
            let a = money::field(
                v,
                &format!("{field}.next_purchase_voucher.value"),
                n.value.as_ref(),
                Sign::Positive,
            )?;
            let min_next_order = money::field(
                v,
                &format!("{field}.next_purchase_voucher.min_next_order"),
                n.min_next_order.as_ref(),
                Sign::NotNegative,
            );
            Effect::Voucher {
                minor: a.minor(),
                asset: a.code().to_owned(),
                valid_days: n.valid_days,
                min_next_order: min_next_order.map(|m| m.minor()),
                usable_at_once: n.usable_at_once,
            }
        }
    })
}
