//! Purchases and returns into rewards; points conversion.
use std::collections::BTreeMap;

use boomerang_common::{
    db::{Conn, is_unique_violation},
    error::AppError,
    idempotency::{self, IdempotencyKey},
    jobs::{self, Handler, Job},
    outbox,
    tenant::TenantId,
    time::to_timestamp,
};
use boomerang_proto::{
    accrual::v1 as pb, campaign::v1 as cpb, common::v1 as pc, referral::v1 as rpb,
    wallet::v1 as wpb,
};
use futures::future::BoxFuture;

use super::{
    Accrual, key,
    members::{CREDIT, points_expiry, wire},
    program_ref, relay,
    upstream::call,
};
use crate::{
    domain::{
        caps,
        fraud::{self, Flag},
        program::{Clawback, Money, Program},
        rewards::{self, Computed, Effect, Explanation, Kind, Line, Offer, Reward},
        tier,
    },
    repo::{self, PurchaseRow, RewardRow},
};

/// The review state of a purchase whose rewards are held back.
pub(super) const HELD: &str = "held";
/// The review state of a purchase rejected after review.
pub(super) const REJECTED: &str = "rejected";

/// Why a store gave way to a concurrent record of the same order.
const DUPLICATE: &str = "duplicate order";

/// Outbox topics.
pub const REVERSE: &str = "accrual.wallet_reverse";
/// A referee's purchase, for referral-svc.
pub const REFERRAL_PURCHASE: &str = "accrual.referral_purchase";
/// A referee's return, for referral-svc.
pub const REFERRAL_RETURN: &str = "accrual.referral_return";
/// Budget confirmation.
pub const CONFIRM: &str = "accrual.budget_confirm";
/// Tier review timer.
pub const TIER_REVIEW: &str = "accrual.tier_review";

/// A purchase as asked.
#[derive(Clone, Debug)]
pub struct PurchaseInput {
    /// Program.
    pub program_id: String,
    /// Order.
    pub order_id: String,
    /// Buyer.
    pub customer: String,
    /// Currency.
    pub currency: String,
    /// Lines.
    pub lines: Vec<Line>,
    /// Channel enum value.
    pub channel: i32,
    /// Store.
    pub store: String,
    /// When.
    pub occurred_at: i64,
    /// Hash of the request (replays must match).
    pub request_hash: Vec<u8>,
}

/// A reward with its state.
#[derive(Clone, Debug)]
pub struct RecordedReward {
    /// Number within the order.
    pub no: i64,
    /// The reward.
    pub reward: Reward,
    /// Reversed so far.
    pub reversed: i64,
    /// When available (None: preview or immediately).
    pub release_at: Option<i64>,
    /// Held back for review.
    pub held: bool,
}

/// A recorded (or previewed) purchase.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Program version used.
    pub program_version: i64,
    /// Rewards.
    pub rewards: Vec<RecordedReward>,
    /// What gave nothing, and why.
    pub skipped: Vec<Explanation>,
    /// Fraud flags raised (recorded purchases only).
    pub flags: Vec<Flag>,
    /// Rewards held back for review.
    pub held: bool,
}

/// A return as asked.
#[derive(Clone, Debug)]
pub struct ReturnInput {
    /// Program.
    pub program_id: String,
    /// Order.
    pub order_id: String,
    /// Return id.
    pub return_id: String,
    /// Units per line id.
    pub lines: BTreeMap<String, u32>,
}

/// What a return did.
#[derive(Clone, Debug)]
pub struct Returned {
    /// Rewards after the return.
    pub rewards: Vec<RecordedReward>,
    /// Reversal asked of the wallet, per asset.
    pub reversed: BTreeMap<String, i64>,
    /// How the difference was computed.
    pub explanations: Vec<Explanation>,
}

fn to_offer(c: &cpb::ApplicableCampaign) -> Option<Offer> {
    use cpb::effect::Kind as K;
    let minor = |m: &Option<pc::Money>| -> Option<(i64, String)> {
        let m = m.as_ref()?;
        let asset = boomerang_common::money::Asset::builtin(&m.asset)?;
        Some((
            boomerang_common::money::Amount::parse(&m.amount, &asset)
                .ok()?
                .minor(),
            m.asset.clone(),
        ))
    };
    let effect = match c.effect.as_ref()?.kind.as_ref()? {
        K::PointsMultiplier(m) => Effect::PointsMultiplier {
            multiplier: m.multiplier.clone(),
        },
        K::ExtraPercent(p) => Effect::ExtraPercent {
            asset: p.asset.clone(),
            percent: p.percent.clone(),
        },
        K::FixedBonus(b) => {
            let (minor, asset) = minor(&b.amount)?;
            Effect::FixedBonus { minor, asset }
        }
        K::NextPurchaseVoucher(v) => {
            let (minor, asset) = minor(&v.value)?;
            Effect::Voucher {
                minor,
                asset,
                valid_days: v.valid_days,
            }
        }
    };
    Some(Offer {
        campaign_id: c.campaign_id.clone(),
        version: c.version,
        variant: c.variant.clone(),
        effect,
        categories: c
            .conditions
            .as_ref()
            .map(|x| x.categories.clone())
            .unwrap_or_default(),
        min_order: c
            .conditions
            .as_ref()
            .and_then(|x| minor(&x.min_order_amount))
            .map(|(m, _)| m),
    })
}

pub(super) fn release_at(program: &Program, occurred_at: i64) -> Option<i64> {
    (program.return_window_days > 0)
        .then(|| occurred_at + i64::from(program.return_window_days) * 86_400_000_000)
}

fn clawback(c: Clawback) -> i32 {
    (match c {
        Clawback::OnlyPending => pc::ClawbackPolicy::OnlyPending,
        Clawback::WithinBalance => pc::ClawbackPolicy::WithinBalance,
        Clawback::AllowNegative => pc::ClawbackPolicy::AllowNegative,
    }) as i32
}

impl Accrual {
    /// Computes what a purchase earns: the member's tier, the program, the
    /// campaigns that apply at `occurred_at`. No effect anywhere.
    async fn compute(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        p: &PurchaseInput,
    ) -> Result<(i64, Program, Option<(String, String)>, Computed), AppError> {
        let (version, program, _) =
            repo::program(conn, tenant.as_str(), &p.program_id, None).await?;
        if p.currency != program.currency {
            return Err(AppError::invalid(
                "purchase.currency",
                format!(
                    "program {} earns on {} orders",
                    p.program_id, program.currency
                ),
            ));
        }
        let member = self
            .member(conn, tenant, &p.program_id, &p.customer)
            .await?;
        let tier = member.tier.as_ref().and_then(|id| {
            program
                .tiers
                .tiers
                .iter()
                .find(|t| &t.id == id)
                .map(|t| (t.id.clone(), t.multiplier.clone()))
        });
        let pref = program_ref(&p.program_id, version);
        let kept: Vec<u32> = p.lines.iter().map(|l| l.quantity).collect();
        let tier_ref = tier.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
        let base = rewards::compute(&program, &pref, &p.lines, &kept, tier_ref, &[]);
        let mut categories: Vec<String> = p.lines.iter().map(|l| l.category.clone()).collect();
        categories.sort();
        categories.dedup();
        let first = !repo::has_purchases(conn, tenant.as_str(), &p.program_id, &p.customer).await?;
        let ask = cpb::ListApplicableCampaignsRequest {
            at: Some(to_timestamp(p.occurred_at)),
            channel: p.channel,
            categories,
            segment: member.member.segment.clone(),
            tier: member.tier.clone().unwrap_or_default(),
            customer_id: p.customer.clone(),
            store_id: p.store.clone(),
            order_amount: Some(wire(&Money {
                minor: base.eligible,
                asset: program.currency.clone(),
            })),
            first_purchase: first,
        };
        let applicable = self
            .upstream()
            .campaign
            .clone()
            .list_applicable_campaigns(call(tenant.as_str(), ask)?)
            .await
            .map_err(|s| AppError::Unavailable(format!("campaign-svc: {}", s.message())))?
            .into_inner()
            .campaigns;
        let offers: Vec<Offer> = applicable.iter().filter_map(to_offer).collect();
        let computed = rewards::compute(&program, &pref, &p.lines, &kept, tier_ref, &offers);
        Ok((version, program, tier, computed))
    }

    /// What the member may still earn under each per-period cap, in the
    /// periods `p` occurred in.
    async fn rooms(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        p: &PurchaseInput,
        program: &Program,
    ) -> Result<Vec<caps::Room>, AppError> {
        let mut rooms = Vec::new();
        for (cap, from, to, period) in
            caps::periods(&program.per_period_caps, &program.timezone, p.occurred_at)
        {
            let earned = repo::base_earned(
                conn,
                tenant.as_str(),
                &p.program_id,
                &p.customer,
                &cap.cap.asset,
                from,
                to,
            )
            .await?;
            rooms.push(caps::Room {
                asset: cap.cap.asset.clone(),
                cap: cap.cap.minor,
                earned,
                period,
            });
        }
        Ok(rooms)
    }

    /// What a purchase would earn ("you will earn X").
    pub async fn preview(
        &self,
        tenant: &TenantId,
        p: &PurchaseInput,
    ) -> Result<Recorded, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        let (version, program, _, mut computed) = self.compute(&mut conn, tenant, p).await?;
        // Per-period caps as they stand now, read without the member's lock
        // (a record re-reads them under it, in `store`).
        let rooms = self.rooms(&mut conn, tenant, p, &program).await?;
        caps::apply(&mut computed, &rooms, &program_ref(&p.program_id, version));
        Ok(Recorded {
            program_version: version,
            rewards: computed
                .rewards
                .into_iter()
                .enumerate()
                // Cut to nothing by a cap: explained in `skipped`, as a record
                // does, numbered as a record numbers it.
                .filter(|(_, r)| r.amount > 0)
                .map(|(i, reward)| RecordedReward {
                    no: i as i64,
                    reward,
                    reversed: 0,
                    release_at: None,
                    held: false,
                })
                .collect(),
            skipped: computed.skipped,
            flags: vec![],
            held: false,
        })
    }

    /// The stored result of an order, if recorded.
    async fn stored(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        program_id: &str,
        order: &str,
        hash: &[u8],
    ) -> Result<Option<Recorded>, AppError> {
        let Some(purchase) =
            repo::get_purchase(conn, self.db(), tenant.as_str(), program_id, order).await?
        else {
            return Ok(None);
        };
        if purchase.request_hash != hash {
            return Err(AppError::AlreadyExists(format!(
                "order {order} was already recorded with different content; a return or a new order id is needed"
            )));
        }
        let rows = repo::rewards(conn, tenant.as_str(), program_id, order).await?;
        let held = purchase.review == HELD;
        Ok(Some(Recorded {
            program_version: purchase.program_version,
            rewards: recorded(rows, held),
            skipped: vec![],
            flags: purchase.flags,
            held,
        }))
    }

    /// Records a purchase: computes, reserves campaign budget, then stores the
    /// purchase with its rewards and outbox messages in one transaction, once per
    /// idempotency key. The same order again returns the first result.
    pub async fn record<R, F>(
        &self,
        tenant: &TenantId,
        p: PurchaseInput,
        idempotency: &IdempotencyKey,
        request: &impl prost::Message,
        render: F,
    ) -> Result<R, AppError>
    where
        R: prost::Message + Default,
        F: Fn(&Recorded) -> R + Send + Sync + 'static,
    {
        let mut conn = self.db().pool().acquire().await?;
        if let Some(done) = self
            .stored(
                &mut conn,
                tenant,
                &p.program_id,
                &p.order_id,
                &p.request_hash,
            )
            .await?
        {
            return Ok(render(&done));
        }
        let (version, program, tier, mut computed) = self.compute(&mut conn, tenant, &p).await?;
        drop(conn);
        let reservations = self.reserve_budgets(tenant, &p, &mut computed).await?;
        let (this, t, input) = (self.clone(), tenant.clone(), p.clone());
        let render = std::sync::Arc::new(render);
        let draw = render.clone();
        let stored = idempotency::once(
            self.db(),
            idempotency,
            request,
            move |conn: &mut Conn| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let done = this
                        .store(
                            conn,
                            &t,
                            &input,
                            version,
                            &program,
                            tier,
                            computed,
                            reservations,
                        )
                        .await?;
                    Ok(draw(&done))
                })
            },
        )
        .await;
        match stored {
            // A concurrent duplicate of this order committed first: answer as it did.
            Err(AppError::Aborted(reason)) if reason == DUPLICATE => {
                let mut conn = self.db().pool().acquire().await?;
                let done = self
                    .stored(
                        &mut conn,
                        tenant,
                        &p.program_id,
                        &p.order_id,
                        &p.request_hash,
                    )
                    .await?;
                done.map(|d| render(&d)).ok_or_else(|| {
                    AppError::Aborted("concurrent record of the same order, retry".into())
                })
            }
            other => other,
        }
    }

    /// Reserves budget for each campaign reward, keyed by order and campaign so a
    /// retry reuses the reservation. Less budget than earned lowers the reward;
    /// none left skips it, with an explanation either way.
    async fn reserve_budgets(
        &self,
        tenant: &TenantId,
        p: &PurchaseInput,
        computed: &mut Computed,
    ) -> Result<BTreeMap<usize, String>, AppError> {
        let mut reservations = BTreeMap::new();
        let mut keep = Vec::with_capacity(computed.rewards.len());
        for (i, mut reward) in std::mem::take(&mut computed.rewards)
            .into_iter()
            .enumerate()
        {
            let Some(offer) = reward.offer.clone() else {
                keep.push(reward);
                continue;
            };
            let ask = cpb::ReserveBudgetRequest {
                idempotency_key: key(
                    tenant.as_str(),
                    &[&p.program_id, &p.order_id, "budget", &offer.campaign_id],
                ),
                campaign_id: offer.campaign_id.clone(),
                amount: Some(wire(&Money {
                    minor: reward.amount,
                    asset: reward.asset.clone(),
                })),
                ttl: Some(prost_types::Duration {
                    seconds: 600,
                    nanos: 0,
                }),
                allow_partial: true,
                customer_id: p.customer.clone(),
                order_id: p.order_id.clone(),
                variant: offer.variant.clone(),
            };
            let source = format!("campaign:{}@{}", offer.campaign_id, offer.version);
            match self
                .upstream()
                .campaign
                .clone()
                .reserve_budget(call(tenant.as_str(), ask)?)
                .await
            {
                Ok(done) => {
                    let r = done.into_inner().reservation.unwrap_or_default();
                    let granted = r
                        .granted
                        .as_ref()
                        .and_then(|m| {
                            boomerang_common::money::Asset::builtin(&m.asset).and_then(|a| {
                                boomerang_common::money::Amount::parse(&m.amount, &a).ok()
                            })
                        })
                        .map_or(0, |a| a.minor());
                    if granted == 0 {
                        computed.skipped.push(Explanation {
                            rule: "budget".into(),
                            source_ref: source,
                            description: format!("campaign {} not applied", offer.campaign_id),
                            skipped: true,
                            skip_reason: "no campaign budget left".into(),
                            ..Explanation::default()
                        });
                        continue;
                    }
                    if granted < reward.amount {
                        reward.explanations.push(Explanation {
                            rule: "budget".into(),
                            source_ref: source,
                            description: format!(
                                "campaign budget left {granted} of {} (minor units)",
                                reward.amount
                            ),
                            result: Some((granted, reward.asset.clone())),
                            ..Explanation::default()
                        });
                        reward.amount = granted;
                    }
                    reservations.insert(keep.len(), r.reservation_id);
                    keep.push(reward);
                }
                Err(s)
                    if matches!(
                        s.code(),
                        tonic::Code::ResourceExhausted | tonic::Code::FailedPrecondition
                    ) =>
                {
                    computed.skipped.push(Explanation {
                        rule: "campaign".into(),
                        source_ref: source,
                        description: format!("campaign {} not applied", offer.campaign_id),
                        skipped: true,
                        skip_reason: s.message().to_owned(),
                        ..Explanation::default()
                    });
                    let _ = i;
                }
                Err(s) => {
                    return Err(AppError::Unavailable(format!(
                        "campaign-svc: {}",
                        s.message()
                    )));
                }
            }
        }
        computed.rewards = keep;
        Ok(reservations)
    }

    #[allow(clippy::too_many_arguments)]
    async fn store(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        p: &PurchaseInput,
        version: i64,
        program: &Program,
        tier: Option<(String, String)>,
        mut computed: Computed,
        reservations: BTreeMap<usize, String>,
    ) -> Result<Recorded, AppError> {
        let now = self.clock().now();
        // Purchases of one member serialise on the member row (tier, first
        // purchase, per-period caps).
        repo::get_member(
            conn,
            self.db(),
            tenant.as_str(),
            &p.program_id,
            &p.customer,
            true,
        )
        .await?;
        // A purchase of the same member may have committed since compute: cut to
        // the room left now, read under the lock.
        let rooms = self.rooms(conn, tenant, p, program).await?;
        caps::apply(&mut computed, &rooms, &program_ref(&p.program_id, version));
        let fraud = &program.fraud;
        let since = p.occurred_at - i64::from(fraud.return_window_days) * 86_400_000_000;
        let history = repo::fraud_history(
            conn,
            tenant.as_str(),
            &p.program_id,
            &p.customer,
            p.occurred_at,
            since,
        )
        .await?;
        let flagged = fraud::flags(fraud, history);
        let held = fraud.hold && !flagged.is_empty();
        let row = PurchaseRow {
            customer_id: p.customer.clone(),
            program_version: version,
            request_hash: p.request_hash.clone(),
            lines: p.lines.clone(),
            tier,
            occurred_at: p.occurred_at,
            flags: flagged.iter().map(|(f, _)| *f).collect(),
            review: if held { HELD.into() } else { String::new() },
        };
        let purchase = repo::NewPurchase {
            order_id: &p.order_id,
            row: &row,
            eligible: computed.eligible,
        };
        repo::insert_purchase(conn, tenant.as_str(), &p.program_id, purchase, now)
            .await
            .map_err(|e| match e {
                AppError::Internal(ref inner)
                    if inner
                        .downcast_ref::<sqlx::Error>()
                        .is_some_and(is_unique_violation) =>
                {
                    AppError::Aborted(DUPLICATE.into())
                }
                other => other,
            })?;
        let release = release_at(program, p.occurred_at);
        // What this purchase adds toward a tier (before the rewards are moved
        // out): nothing while held, nor when it occurred before the window.
        let window = i64::from(program.tiers.window_days.max(1)) * 86_400_000_000;
        let qualifying_added = if held || p.occurred_at < now - window {
            0
        } else if program.tiers.by_points {
            computed
                .rewards
                .iter()
                .filter(|r| r.asset == "PTS")
                .map(|r| r.amount)
                .sum()
        } else {
            computed.eligible
        };
        let mut out = Vec::with_capacity(computed.rewards.len());
        for (i, reward) in computed.rewards.into_iter().enumerate() {
            if reward.amount == 0 {
                continue; // cut to nothing by a period cap; explained in skipped
            }
            let no = i64::try_from(i).unwrap_or_default();
            let reservation_id = reservations.get(&i).cloned().unwrap_or_default();
            let stored = RewardRow {
                no,
                reward,
                reversed: 0,
                reservation_id,
                release_at: release.unwrap_or(now),
            };
            repo::insert_reward(conn, tenant.as_str(), &p.program_id, &p.order_id, &stored).await?;
            self.credit(conn, tenant, p, version, program, &stored, release, held)
                .await?;
            out.push(RecordedReward {
                no,
                reward: stored.reward,
                reversed: 0,
                release_at: release,
                held,
            });
        }
        // Every purchase goes to referral-svc (it pays referrers and knows who
        // already bought); a held one only once it is approved.
        if !held {
            let (customer, eligible) = (p.customer.as_str(), computed.eligible);
            let sale = Sale {
                program_id: &p.program_id,
                order: &p.order_id,
                customer,
                occurred_at: p.occurred_at,
            };
            self.tell_referral(conn, tenant, &sale, eligible, &program.currency, release)
                .await?;
        }
        let event = |r#type: pb::EventType| pb::WatchEventsResponse {
            r#type: r#type as i32,
            program_id: p.program_id.clone(),
            customer_id: p.customer.clone(),
            reference: p.order_id.clone(),
            ..Default::default()
        };
        let recorded = pb::WatchEventsResponse {
            amount: Some(wire(&Money {
                minor: computed.eligible,
                asset: program.currency.clone(),
            })),
            ..event(pb::EventType::PurchaseRecorded)
        };
        self.emit(conn, tenant, recorded).await?;
        if !flagged.is_empty() {
            let reasons: Vec<&str> = flagged.iter().map(|(_, why)| why.as_str()).collect();
            let flagged_event = pb::WatchEventsResponse {
                message: format!(
                    "{}{}",
                    reasons.join("; "),
                    if held {
                        "; rewards held for review"
                    } else {
                        ""
                    }
                ),
                ..event(pb::EventType::PurchaseFlagged)
            };
            self.emit(conn, tenant, flagged_event).await?;
        }
        for r in out.iter().filter(|r| r.release_at.is_some()) {
            let pending = pb::WatchEventsResponse {
                amount: Some(wire(&Money {
                    minor: r.reward.amount,
                    asset: r.reward.asset.clone(),
                })),
                release_at: r.release_at.map(to_timestamp),
                ..event(pb::EventType::RewardPending)
            };
            self.emit(conn, tenant, pending).await?;
        }
        self.refresh_tier(conn, tenant, &p.program_id, &p.customer, qualifying_added)
            .await?;
        Ok(Recorded {
            program_version: version,
            rewards: out,
            skipped: computed.skipped,
            flags: row.flags,
            held,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn credit(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        p: &PurchaseInput,
        version: i64,
        program: &Program,
        r: &RewardRow,
        release: Option<i64>,
        held: bool,
    ) -> Result<(), AppError> {
        let reward = &r.reward;
        let expires_at = match (reward.kind, reward.valid_days) {
            (Kind::Voucher, Some(days)) => {
                Some(release.unwrap_or(p.occurred_at) + i64::from(days) * 86_400_000_000)
            }
            _ => points_expiry(program, &reward.asset, release.unwrap_or(p.occurred_at)),
        };
        let (kind, rule_version) = match &reward.offer {
            Some(o) => (
                "campaign",
                format!("campaign:{}@{}", o.campaign_id, o.version),
            ),
            None => ("order", program_ref(&p.program_id, version)),
        };
        let credit = wpb::CreditRequest {
            customer_id: p.customer.clone(),
            amount: Some(wire(&Money {
                minor: reward.amount,
                asset: reward.asset.clone(),
            })),
            funded_by: Some(match &reward.offer {
                Some(o) => wpb::AccountRef {
                    kind: wpb::AccountKind::Campaign as i32,
                    id: o.campaign_id.clone(),
                },
                None => wpb::AccountRef {
                    kind: wpb::AccountKind::Funding as i32,
                    id: p.program_id.clone(),
                },
            }),
            release_at: release.map(to_timestamp),
            expires_at: expires_at.map(to_timestamp),
            source: Some(wpb::Source {
                kind: kind.into(),
                reference: credit_reference(&p.program_id, &p.order_id, r.no),
                rule_version,
                inputs: serde_json::json!({ "order": p.order_id, "reward": r.no }).to_string(),
            }),
            tax_treatment: wpb::TaxTreatment::Discount as i32,
            description: format!("reward for order {}", p.order_id),
            // Held for review: pending until ReviewPurchase approves it.
            hold_release: held,
            ..Default::default()
        };
        if r.reservation_id.is_empty() {
            let k = key(
                tenant.as_str(),
                &[&p.program_id, &p.order_id, &r.no.to_string()],
            );
            outbox::enqueue(conn, tenant, CREDIT, &k, &credit).await?;
        } else {
            // A campaign reward is credited only once its budget is confirmed:
            // a reservation that lapsed before the relay got to it pays nothing.
            let confirm = cpb::ConfirmBudgetRequest {
                reservation_id: r.reservation_id.clone(),
                amount: Some(wire(&Money {
                    minor: reward.amount,
                    asset: reward.asset.clone(),
                })),
                ..Default::default()
            };
            let k = key(
                tenant.as_str(),
                &[&p.program_id, &p.order_id, "confirm", &r.no.to_string()],
            );
            outbox::enqueue_raw(
                conn,
                tenant,
                CONFIRM,
                &k,
                &relay::pack(&confirm, Some(&credit)),
            )
            .await?;
        }
        Ok(())
    }

    /// Stores the member's tier in force (by id), says so when it changed or
    /// when a purchase that `added` to the qualifying amount brought the next
    /// tier within reach, and schedules the review that may downgrade it.
    pub(crate) async fn refresh_tier(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        program_id: &str,
        customer: &str,
        added: i64,
    ) -> Result<(), AppError> {
        let view = self.member(conn, tenant, program_id, customer).await?;
        let policy = &view.program.tiers;
        let mut member = view.member.clone();
        // What the member held: the stored tier, or the entry tier every member
        // starts in when it asks nothing.
        let previous = member
            .tier
            .clone()
            .or_else(|| {
                let i = usize::try_from(member.legacy_tier_index?).ok()?;
                policy.tiers.get(i).map(|t| t.id.clone())
            })
            .or_else(|| {
                let first = policy.tiers.first().filter(|t| t.qualifies_at == 0)?;
                Some(first.id.clone())
            });
        member.tier = view.tier.clone();
        member.tier_review_at = view.review_at;
        repo::save_member(conn, tenant.as_str(), program_id, &member).await?;
        let event = |r#type: pb::EventType| pb::WatchEventsResponse {
            r#type: r#type as i32,
            program_id: program_id.into(),
            customer_id: customer.into(),
            ..Default::default()
        };
        if previous != member.tier {
            let changed = pb::WatchEventsResponse {
                reference: member.tier.clone().unwrap_or_default(),
                tier_id: member.tier.clone().unwrap_or_default(),
                previous_tier_id: previous.unwrap_or_default(),
                ..event(pb::EventType::TierChanged)
            };
            self.emit(conn, tenant, changed).await?;
        }
        // Only a program with tiers has reviews (a review a window of 0 days away
        // would be due again at once). Scheduling is keyed by the review time,
        // so the same review is scheduled once however often this runs.
        let reviewed = !policy.tiers.is_empty() && policy.window_days > 0;
        if let Some(at) = view.review_at.filter(|_| reviewed) {
            let k = key(
                tenant.as_str(),
                &[program_id, customer, "tier-review", &at.to_string()],
            );
            let payload = format!("{program_id}\n{customer}");
            jobs::schedule(conn, tenant, TIER_REVIEW, &k, at, payload.as_bytes()).await?;
        }
        let current = member
            .tier
            .as_deref()
            .and_then(|id| tier::position(policy, id));
        if let Some((next, needed)) =
            tier::nudge(policy, current, view.qualifying - added, view.qualifying)
        {
            let needed = wire(&Money {
                minor: needed,
                asset: view.qualifying_asset.clone(),
            });
            let verb = if policy.by_points { "earn" } else { "spend" };
            let reached = pb::WatchEventsResponse {
                reference: next.id.clone(),
                tier_id: next.id.clone(),
                message: format!(
                    "{verb} {} {} more to reach {}",
                    needed.amount, needed.asset, next.name
                ),
                amount: Some(needed),
                ..event(pb::EventType::TierThresholdReached)
            };
            self.emit(conn, tenant, reached).await?;
        }
        Ok(())
    }

    /// Records a return: recomputes the order without the returned units with the
    /// same program and campaign versions, and takes back the difference.
    pub async fn record_return(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        r: ReturnInput,
    ) -> Result<Returned, AppError> {
        let t = tenant.as_str();
        let purchase = repo::get_purchase(conn, self.db(), t, &r.program_id, &r.order_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no order {}", r.order_id)))?;
        let rows = repo::rewards(conn, t, &r.program_id, &r.order_id).await?;
        let earlier = repo::returned(conn, t, &r.program_id, &r.order_id).await?;
        if let Some((_, lines)) = earlier.iter().find(|(id, _)| *id == r.return_id) {
            if *lines != r.lines {
                return Err(AppError::AlreadyExists(format!(
                    "return {} of order {} was recorded with other lines",
                    r.return_id, r.order_id
                )));
            }
            return Ok(Returned {
                rewards: recorded(rows, purchase.review == HELD),
                reversed: BTreeMap::new(),
                explanations: vec![],
            });
        }
        let mut kept: Vec<u32> = purchase.lines.iter().map(|l| l.quantity).collect();
        for (_, lines) in &earlier {
            subtract(&purchase.lines, &mut kept, lines)?;
        }
        for id in r.lines.keys() {
            if !purchase.lines.iter().any(|l| &l.line_id == id) {
                return Err(AppError::invalid(
                    "lines",
                    format!("order {} has no line {id}", r.order_id),
                ));
            }
        }
        let kept_before = kept.clone();
        subtract(&purchase.lines, &mut kept, &r.lines)?;
        let (_, program, _) =
            repo::program(conn, t, &r.program_id, Some(purchase.program_version)).await?;
        let offers: Vec<Offer> = rows.iter().filter_map(|x| x.reward.offer.clone()).collect();
        let pref = program_ref(&r.program_id, purchase.program_version);
        let tier = purchase
            .tier
            .as_ref()
            .map(|(a, b)| (a.as_str(), b.as_str()));
        let after = rewards::compute(&program, &pref, &purchase.lines, &kept, tier, &offers);
        let mut reversed: BTreeMap<String, i64> = BTreeMap::new();
        let mut explanations = Vec::new();
        for row in &rows {
            let same = |x: &Reward| {
                x.kind == row.reward.kind
                    && x.asset == row.reward.asset
                    && x.offer.as_ref().map(|o| &o.campaign_id)
                        == row.reward.offer.as_ref().map(|o| &o.campaign_id)
            };
            // A reward its campaign budget cut keeps the cut in proportion: what the
            // kept lines earn, scaled by granted / earned, never above the grant.
            let recomputed = after
                .rewards
                .iter()
                .find(|x| same(x))
                .map_or(0, |x| x.amount);
            let earned = row.reward.earned.max(row.reward.amount);
            let now_earned = if earned > row.reward.amount {
                i64::try_from(
                    i128::from(recomputed) * i128::from(row.reward.amount) / i128::from(earned),
                )
                .unwrap_or(0)
            } else {
                recomputed
            }
            .min(row.reward.amount);
            let diff = row.reward.amount - row.reversed - now_earned;
            if diff <= 0 {
                continue;
            }
            explanations.push(Explanation {
                rule: "return".into(),
                source_ref: pref.clone(),
                description: format!(
                    "order now earns {now_earned} instead of {} (minor units of {}): {diff} taken back",
                    row.reward.amount - row.reversed,
                    row.reward.asset
                ),
                result: Some((now_earned, row.reward.asset.clone())),
                ..Explanation::default()
            });
            let k = key(
                t,
                &[
                    &r.program_id,
                    &r.order_id,
                    "return",
                    &r.return_id,
                    &row.no.to_string(),
                ],
            );
            let why = ("return", r.return_id.as_str(), pref.as_str());
            let message = take_back(
                &r.program_id,
                &r.order_id,
                &purchase.customer_id,
                row,
                diff,
                program.clawback,
                why,
            );
            outbox::enqueue_raw(conn, tenant, REVERSE, &k, &message).await?;
            repo::add_reversed(conn, t, &r.program_id, &r.order_id, row.no, diff).await?;
            *reversed.entry(row.reward.asset.clone()).or_default() += diff;
        }
        repo::insert_return(
            conn,
            t,
            &r.program_id,
            &r.order_id,
            &r.return_id,
            &r.lines,
            self.clock().now(),
        )
        .await?;
        let before =
            rewards::compute(&program, &pref, &purchase.lines, &kept_before, tier, &[]).eligible;
        // referral-svc hears of a held or rejected purchase only once approved.
        let told = purchase.review != HELD && purchase.review != REJECTED;
        if told && before > after.eligible {
            let notice = rpb::OnReturnRequest {
                referee_customer_id: purchase.customer_id.clone(),
                order_id: format!("{}:{}", r.program_id, r.order_id),
                return_id: r.return_id.clone(),
                returned_amount: Some(wire(&Money {
                    minor: before - after.eligible,
                    asset: program.currency.clone(),
                })),
                ..Default::default()
            };
            let k = key(
                t,
                &[&r.program_id, &r.order_id, "referral-return", &r.return_id],
            );
            outbox::enqueue(conn, tenant, REFERRAL_RETURN, &k, &notice).await?;
        }
        repo::set_eligible(conn, t, &r.program_id, &r.order_id, after.eligible).await?;
        let returned = pb::WatchEventsResponse {
            r#type: pb::EventType::ReturnRecorded as i32,
            program_id: r.program_id.clone(),
            customer_id: purchase.customer_id.clone(),
            reference: r.return_id.clone(),
            message: format!("return {} of order {}", r.return_id, r.order_id),
            ..Default::default()
        };
        self.emit(conn, tenant, returned).await?;
        let rows = repo::rewards(conn, t, &r.program_id, &r.order_id).await?;
        Ok(Returned {
            rewards: recorded(rows, purchase.review == HELD),
            reversed,
            explanations,
        })
    }

    /// What became of the credits the program's funding account paid in the
    /// period (pending, available, redeemed, expired), from the wallet.
    pub async fn funding_summary(
        &self,
        tenant: &TenantId,
        program_id: &str,
        from: Option<prost_types::Timestamp>,
        to: Option<prost_types::Timestamp>,
    ) -> Result<Vec<wpb::FundingTotals>, AppError> {
        let ask = wpb::GetFundingSummaryRequest {
            funded_by: Some(wpb::AccountRef {
                kind: wpb::AccountKind::Funding as i32,
                id: program_id.into(),
            }),
            from,
            to,
        };
        Ok(self
            .upstream()
            .wallet
            .clone()
            .get_funding_summary(call(tenant.as_str(), ask)?)
            .await
            .map_err(|s| AppError::Unavailable(format!("wallet-svc: {}", s.message())))?
            .into_inner()
            .totals)
    }

    /// Converts points into money in whole blocks, in one wallet transaction.
    pub async fn convert(
        &self,
        tenant: &TenantId,
        program_id: &str,
        customer: &str,
        points: i64,
        idempotency_key: &str,
    ) -> Result<(i64, Money, String), AppError> {
        let mut conn = self.db().pool().acquire().await?;
        let (version, program, _) =
            repo::program(&mut conn, tenant.as_str(), program_id, None).await?;
        repo::get_member(
            &mut conn,
            self.db(),
            tenant.as_str(),
            program_id,
            customer,
            false,
        )
        .await?;
        let conversion = program.conversion.ok_or_else(|| {
            AppError::Precondition(format!("program {program_id} has no points conversion"))
        })?;
        let blocks = points / conversion.points.max(1);
        if blocks == 0 {
            return Err(AppError::Precondition(format!(
                "convert at least {} PTS (one block)",
                conversion.points
            )));
        }
        let spent = blocks * conversion.points;
        let value = Money {
            minor: blocks * conversion.value.minor,
            asset: conversion.value.asset.clone(),
        };
        let funding = || wpb::AccountRef {
            kind: wpb::AccountKind::Funding as i32,
            id: program_id.into(),
        };
        let me = || wpb::AccountRef {
            kind: wpb::AccountKind::Customer as i32,
            id: customer.into(),
        };
        let leg = |account, minor: i64, asset: &str| wpb::Posting {
            account: Some(account),
            layer: wpb::Layer::Available as i32,
            amount: Some(wire(&Money {
                minor,
                asset: asset.into(),
            })),
        };
        let post = wpb::PostTransactionRequest {
            idempotency_key: key(
                tenant.as_str(),
                &[program_id, customer, "convert", idempotency_key],
            ),
            postings: vec![
                leg(me(), -spent, "PTS"),
                leg(funding(), spent, "PTS"),
                leg(funding(), -value.minor, &value.asset),
                leg(me(), value.minor, &value.asset),
            ],
            source: Some(wpb::Source {
                kind: "conversion".into(),
                reference: idempotency_key.into(),
                rule_version: program_ref(program_id, version),
                inputs: format!(
                    "{points} PTS asked, {blocks} blocks of {}",
                    conversion.points
                ),
            }),
            description: "points converted".into(),
        };
        let done = self
            .upstream()
            .wallet
            .clone()
            .post_transaction(call(tenant.as_str(), post)?)
            .await
            .map_err(|s| match s.code() {
                tonic::Code::FailedPrecondition => AppError::Precondition(s.message().to_owned()),
                tonic::Code::InvalidArgument => AppError::invalid("points", s.message()),
                _ => AppError::Unavailable(format!("wallet-svc: {}", s.message())),
            })?;
        let tx = done
            .into_inner()
            .transaction
            .map(|t| t.transaction_id)
            .unwrap_or_default();
        Ok((spent, value, tx))
    }
}

/// Runs tier review timers: at its review date a member's tier is
/// re-evaluated (a downgrade waits for it) and a change is announced.
#[derive(Clone, Debug)]
pub struct TierReviews(pub Accrual);

impl Handler for TierReviews {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let tenant = TenantId::parse(&job.tenant).map_err(anyhow::Error::msg)?;
        let payload = String::from_utf8(job.payload.clone())?;
        let Some((program, customer)) = payload.split_once('\n') else {
            anyhow::bail!("bad tier review job {payload:?}");
        };
        let mut tx = self.0.db().begin().await?;
        repo::get_member(
            &mut tx,
            self.0.db(),
            tenant.as_str(),
            program,
            customer,
            true,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.0
            .refresh_tier(&mut tx, &tenant, program, customer, 0)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tx.commit().await?;
        self.0.committed();
        Ok(())
    }
}

/// A purchase as referral-svc hears of it.
pub(super) struct Sale<'a> {
    /// Program.
    pub program_id: &'a str,
    /// Order.
    pub order: &'a str,
    /// Buyer.
    pub customer: &'a str,
    /// When it happened.
    pub occurred_at: i64,
}

impl Accrual {
    /// Hands a purchase of `eligible` to referral-svc through the outbox, keyed
    /// by program and order (once, whether from the record or its approval).
    pub(super) async fn tell_referral(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        sale: &Sale<'_>,
        eligible: i64,
        currency: &str,
        release: Option<i64>,
    ) -> Result<(), AppError> {
        if eligible <= 0 {
            return Ok(());
        }
        let notice = rpb::OnPurchaseRequest {
            referee_customer_id: sale.customer.into(),
            order_id: format!("{}:{}", sale.program_id, sale.order),
            order_amount: Some(wire(&Money {
                minor: eligible,
                asset: currency.into(),
            })),
            occurred_at: Some(to_timestamp(sale.occurred_at)),
            release_at: release.map(to_timestamp),
            ..Default::default()
        };
        let k = key(tenant.as_str(), &[sale.program_id, sale.order, "referral"]);
        outbox::enqueue(conn, tenant, REFERRAL_PURCHASE, &k, &notice).await?;
        Ok(())
    }
}

/// The outbox message that takes `amount` of reward `row` back through the
/// wallet under `policy`, then gives its campaign budget back for what the
/// wallet actually took. `why` is (source kind, reference, rule version).
pub(super) fn take_back(
    program_id: &str,
    order: &str,
    customer: &str,
    row: &RewardRow,
    amount: i64,
    policy: Clawback,
    why: (&str, &str, &str),
) -> Vec<u8> {
    let money = || {
        Some(wire(&Money {
            minor: amount,
            asset: row.reward.asset.clone(),
        }))
    };
    let reverse = wpb::ReverseRequest {
        customer_id: customer.into(),
        source_reference: credit_reference(program_id, order, row.no),
        amount: money(),
        clawback_policy: clawback(policy),
        source: Some(wpb::Source {
            kind: why.0.into(),
            reference: why.1.into(),
            rule_version: why.2.into(),
            inputs: relay::RewardRef {
                program: program_id.into(),
                order: order.into(),
                no: row.no,
            }
            .to_json(),
        }),
        ..Default::default()
    };
    let release = (!row.reservation_id.is_empty()).then(|| cpb::ReleaseBudgetRequest {
        reservation_id: row.reservation_id.clone(),
        amount: money(),
        ..Default::default()
    });
    relay::pack(&reverse, release.as_ref())
}

/// The wallet source reference of a reward: program, order and reward number,
/// so orders of two programs never touch each other's credits.
pub(super) fn credit_reference(program: &str, order: &str, no: i64) -> String {
    format!("{program}:{order}#{no}")
}

pub(super) fn subtract(
    lines: &[Line],
    kept: &mut [u32],
    returned: &BTreeMap<String, u32>,
) -> Result<(), AppError> {
    for (i, line) in lines.iter().enumerate() {
        let n = returned.get(&line.line_id).copied().unwrap_or(0);
        kept[i] = kept[i].checked_sub(n).ok_or_else(|| {
            AppError::Precondition(format!(
                "line {} had {} units; returning more than was bought",
                line.line_id, line.quantity
            ))
        })?;
    }
    Ok(())
}

pub(super) fn recorded(rows: Vec<RewardRow>, held: bool) -> Vec<RecordedReward> {
    rows.into_iter()
        .map(|r| RecordedReward {
            no: r.no,
            reward: r.reward,
            reversed: r.reversed,
            release_at: Some(r.release_at),
            held,
        })
        .collect()
}
