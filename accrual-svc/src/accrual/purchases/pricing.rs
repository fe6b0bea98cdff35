//! Pricing a purchase: the program version, the member's tier, the campaigns
//! that apply at `occurred_at`, and the campaign budget each reward reserves.
use std::{collections::BTreeMap, sync::Arc};

use boomerang_common::{
    db::Conn,
    error::AppError,
    money::{MAX_REQUEST_MINOR, text},
    tenant::TenantId,
};

use super::PurchaseInput;
use crate::{
    accrual::{
        Accrual, outbound, program_ref,
        upstream::{Applicable, BudgetAsk, OfferQuery, ScheduledLater},
    },
    domain::{
        experiment::Exposure,
        program::Program,
        rewards::{self, Computed, Explanation},
    },
    repo,
};

/// What a purchase earns, before the member's lock.
#[derive(Debug)]
pub(super) struct Priced {
    /// Program version.
    pub version: i64,
    /// That version.
    pub program: Arc<Program>,
    /// The member's tier: id and multiplier.
    pub tier: Option<(String, String)>,
    /// The rewards with their explanations.
    pub computed: Computed,
    /// The budget reservation of each campaign reward, by its index.
    pub reservations: BTreeMap<usize, String>,
    /// The experiment arms the customer was shown.
    pub exposures: Vec<Exposure>,
}

impl Accrual {
    /// The program version a purchase or cart in `currency` is priced by,
    /// from the member's `standing`; a cart in another currency is refused
    /// on `field`.
    pub(in crate::accrual) async fn program_for(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        program_id: &str,
        standing: &repo::Standing,
        (currency, field): (&str, &str),
    ) -> Result<(i64, Arc<Program>), AppError> {
        let version = standing.version(program_id)?;
        let program = self.program_at(conn, tenant, program_id, version).await?;
        if currency != program.currency {
            return Err(AppError::invalid(
                field,
                format!("program {program_id} earns on {} orders", program.currency),
            ));
        }
        Ok((version, program))
    }

    /// Computes what a purchase earns: the member's tier, the program, the
    /// campaigns that apply at `occurred_at`, from the member's `standing`.
    /// No effect anywhere.
    pub(super) async fn price(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        p: &PurchaseInput,
        standing: repo::Standing,
    ) -> Result<Priced, AppError> {
        let (version, program) = self
            .program_for(
                conn,
                tenant,
                &p.program_id,
                &standing,
                (&p.currency, "purchase.currency"),
            )
            .await?;
        let first = !standing.bought_before;
        let now = self.clock().now();
        let row =
            standing.member_or_newcomer(&p.program_id, &p.customer, program.auto_enroll, now)?;
        let member = self
            .judge(conn, tenant, &p.program_id, program.clone(), row)
            .await?;
        let tier = member.tier.as_ref().and_then(|id| {
            let t = program.tiers.tiers.iter().find(|t| &t.id == id)?;
            Some((t.id.clone(), t.multiplier.clone()))
        });
        let pref = program_ref(&p.program_id, version);
        let kept: Vec<u32> = p.lines.iter().map(|l| l.quantity).collect();
        let tier_ref = tier.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
        let base = rewards::compute(&program, &pref, &p.lines, &kept, tier_ref, &[]);
        let mut categories: Vec<String> = p.lines.iter().map(|l| l.category.clone()).collect();
        categories.sort();
        categories.dedup();
        let query = OfferQuery {
            at_us: p.occurred_at_us,
            channel: p.channel,
            categories,
            segment: member.member.segment.clone(),
            tier: member.tier.clone().unwrap_or_default(),
            customer: p.customer.clone(),
            store: p.store.clone(),
            order_minor: base.eligible,
            currency: program.currency.clone(),
            first_purchase: first,
        };
        let Applicable {
            mut offers,
            later,
            exposures,
        } = self.upstream().applicable_offers(tenant, query).await?;
        offers.extend(p.coupon_offers.iter().cloned());
        let mut computed = rewards::compute(&program, &pref, &p.lines, &kept, tier_ref, &offers);
        computed.skipped.extend(later.iter().map(scheduled_later));
        // What is acknowledged must be what the wallet will take: no reward
        // above what one credit may carry.
        if let Some(r) = computed
            .rewards
            .iter()
            .find(|r| r.amount > MAX_REQUEST_MINOR)
        {
            let most = boomerang_common::money::wire(MAX_REQUEST_MINOR, &r.asset);
            return Err(AppError::invalid(
                "purchase",
                format!(
                    "this order would earn more than one credit may carry ({} {})",
                    most.amount, most.asset
                ),
            ));
        }
        Ok(Priced {
            version,
            program,
            tier,
            computed,
            reservations: BTreeMap::new(),
            exposures,
        })
    }

    /// Reserves budget for each campaign reward, keyed by order and campaign so a
    /// retry reuses the reservation. Less budget than earned lowers the reward;
    /// none left skips it, with an explanation either way.
    pub(super) async fn reserve_budgets(
        &self,
        tenant: &TenantId,
        p: &PurchaseInput,
        priced: &mut Priced,
    ) -> Result<(), AppError> {
        let computed = &mut priced.computed;
        let mut keep = Vec::with_capacity(computed.rewards.len());
        for mut reward in std::mem::take(&mut computed.rewards) {
            let Some(offer) = reward.offer.clone() else {
                keep.push(reward);
                continue;
            };
            let ask = BudgetAsk {
                key: outbound::key(
                    tenant,
                    &[&p.program_id, &p.order_id, "budget", &offer.campaign_id],
                ),
                campaign_id: offer.campaign_id.clone(),
                variant: offer.variant.clone(),
                minor: reward.amount,
                asset: reward.asset.clone(),
                customer: p.customer.clone(),
                order: p.order_id.clone(),
                order_minor: computed.eligible,
                currency: priced.program.currency.clone(),
                unit_value: priced.program.unit_value(&reward.asset),
                channel: p.channel,
                store: p.store.clone(),
            };
            let source = format!("campaign:{}@{}", offer.campaign_id, offer.version);
            let not_applied = |why: String| Explanation {
                rule: "campaign".into(),
                source_ref: source.clone(),
                description: format!("campaign {} not applied", offer.campaign_id),
                skipped: true,
                skip_reason: why,
                ..Explanation::default()
            };
            let grant = match self.upstream().reserve_budget(tenant, ask).await {
                Ok(grant) => grant,
                // Exhausted, paused or ended since it was listed: not applied.
                Err(AppError::Exhausted(why) | AppError::Precondition(why)) => {
                    let why = why
                        .strip_prefix("campaign-svc: ")
                        .unwrap_or(&why)
                        .to_owned();
                    computed.skipped.push(not_applied(why));
                    continue;
                }
                Err(e) => return Err(e),
            };
            if grant.minor == 0 {
                computed.skipped.push(Explanation {
                    rule: "budget".into(),
                    ..not_applied("no campaign budget left".into())
                });
                continue;
            }
            if grant.minor < reward.amount {
                reward.explanations.push(Explanation {
                    rule: "budget".into(),
                    source_ref: source.clone(),
                    description: format!(
                        "campaign budget left {} of {}",
                        text(grant.minor, &reward.asset),
                        text(reward.amount, &reward.asset)
                    ),
                    result: Some((grant.minor, reward.asset.clone())),
                    ..Explanation::default()
                });
                reward.amount = grant.minor;
            }
            priced.reservations.insert(keep.len(), grant.reservation_id);
            keep.push(reward);
        }
        computed.rewards = keep;
        Ok(())
    }
}

/// Why a campaign dated to cover the purchase gave it nothing: its terms
/// apply from when it was scheduled, after the purchase.
fn scheduled_later(l: &ScheduledLater) -> Explanation {
    let from = jiff::Timestamp::from_microsecond(l.effective_from_us)
        .map_or_else(|_| l.effective_from_us.to_string(), |t| t.to_string());
    Explanation {
        rule: "campaign".into(),
        source_ref: format!("campaign:{}@{}", l.campaign_id, l.version),
        description: format!("campaign {} not applied", l.campaign_id),
        skipped: true,
        skip_reason: format!(
            "scheduled at {from}, after this purchase: its terms apply to purchases from then"
        ),
        ..Explanation::default()
    }
}
