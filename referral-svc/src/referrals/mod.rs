//! The referral facade: attribution with its fraud checks, rewards on the
//! referee's purchases and their reversal on returns (programs and codes
//! in their own files). Wallet credits and reversals go through the outbox
//! with deterministic keys; each attribution, reward and reversal is logged
//! for `WatchEvents` in the same transaction.
mod codes;
mod events;
mod programs;
mod relay;

use std::sync::Arc;

use boomerang_common::{
    auth::Credentials,
    channel,
    db::{Conn, Db},
    error::AppError,
    money::wire,
    outbox,
    tenant::TenantId,
    time::{Clock, to_timestamp},
};
use boomerang_proto::{common::v1 as pc, referral::v1 as pb, wallet::v1 as wpb};
use tokio::sync::Notify;

use crate::{
    domain::{
        email,
        program::{self, Money},
    },
    repo::{self, ReferralRow, RewardRow},
};

pub use relay::Relay;

/// Outbox topic of wallet credits.
pub const CREDIT: &str = "referral.wallet_credit";
/// Outbox topic of wallet reversals.
pub const REVERSE: &str = "referral.wallet_reverse";
const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

/// Why an attribution was refused (stored names).
pub const REASONS: [&str; 7] = [
    "self_referral",
    "existing_customer",
    "already_attributed",
    "velocity",
    "code_disabled",
    "code_expired",
    "referrer_limit",
];

/// Facts about a signup.
#[derive(Clone, Debug, Default)]
pub struct Signup {
    /// E-mail.
    pub email: String,
    /// IP.
    pub ip: String,
    /// Device.
    pub device: String,
    /// When (None: now).
    pub at: Option<i64>,
}

/// What a purchase paid.
#[derive(Clone, Debug, Default)]
pub struct Paid {
    /// Whether the buyer is a referee.
    pub referred: bool,
    /// Rewards credited.
    pub rewards: Vec<Money>,
    /// Why nothing, when so.
    pub why_not: Vec<String>,
}

/// Referrals of one service instance.
#[derive(Clone, Debug)]
pub struct Referrals {
    db: Db,
    clock: Clock,
    wallet: wpb::wallet_service_client::WalletServiceClient<channel::Upstream>,
    velocity_per_hour: i64,
    committed: Arc<Notify>,
}

impl Referrals {
    /// Over a migrated database, crediting through wallet-svc at
    /// `wallet_url` with referral's own credential (`wallet:write`, no more).
    pub fn new(
        db: Db,
        clock: Clock,
        wallet_url: &str,
        credentials: &Credentials,
        tls: Option<tonic::transport::ClientTlsConfig>,
        velocity_per_hour: u32,
    ) -> anyhow::Result<Self> {
        let me = credentials.issuer("referral", &["wallet:write"])?;
        let wallet = channel::upstream("wallet", wallet_url, me, tls)?;
        Ok(Self {
            db,
            clock,
            wallet: wpb::wallet_service_client::WalletServiceClient::new(wallet),
            velocity_per_hour: i64::from(velocity_per_hour.max(1)),
            committed: Arc::new(Notify::new()),
        })
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Attributes `referee` to `code`, or records the refusal with its reason.
    /// Long because the fraud checks run in their documented order, each a
    /// few lines with its own refusal reason.
    #[tracing::instrument(name = "boomerang.referral.referrals.attribute", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn attribute(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        code: &str,
        referee: &str,
        s: Signup,
    ) -> Result<ReferralRow, AppError> {
        let t = tenant.as_str();
        // Judged at the time of the call: a backdated signup time cannot reopen a window.
        let now = self.clock.now();
        let (version, program, _) = repo::program(conn, t, 0)
            .await?
            .ok_or_else(|| AppError::Precondition("publish a referral program first".into()))?;
        let c = repo::get_code(conn, t, code)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no code {code}")))?;
        let email = email::normalise(&s.email);
        let window = i64::from(program.attribution_window_days) * DAY;
        let referrer_device = repo::device_of(conn, t, &c.referrer_id).await?;
        let reason = if !c.enabled {
            Some("code_disabled")
        } else if c.expires_at.is_some_and(|e| e <= now)
            || (window > 0 && now > c.created_at + window)
        {
            Some("code_expired")
        } else if referee == c.referrer_id
            || (!email.is_empty() && email == c.referrer_email)
            || (!s.device.is_empty() && referrer_device.as_deref() == Some(s.device.as_str()))
        {
            Some("self_referral")
        } else if repo::seen_before(conn, t, referee, None).await? {
            Some("existing_customer")
        } else if repo::live_referral(conn, t, referee).await?.is_some() {
            Some("already_attributed")
        } else if repo::recent_from(conn, t, &s.ip, &s.device, now - HOUR).await?
            >= self.velocity_per_hour
        {
            Some("velocity")
        } else if program.max_referrals_per_period > 0
            && repo::accepted_since(
                conn,
                t,
                &c.referrer_id,
                now - i64::from(program.period_days.max(1)) * DAY,
            )
            .await?
                >= i64::from(program.max_referrals_per_period)
        {
            Some("referrer_limit")
        } else {
            None
        };
        let mut row = ReferralRow {
            id: 0,
            code: c.code.clone(),
            referrer_id: c.referrer_id.clone(),
            referee_id: referee.to_owned(),
            status: if reason.is_some() {
                "refused"
            } else {
                "attributed"
            }
            .into(),
            refusal: reason.unwrap_or_default().into(),
            program_version: version,
            attributed_at: now,
            email,
            ip: s.ip,
            device: s.device,
        };
        match repo::insert_referral(conn, t, &row).await? {
            Some(id) => row.id = id,
            None => {
                // A concurrent attribution of this referee won.
                row.status = "refused".into();
                row.refusal = "already_attributed".into();
                row.id = repo::insert_referral(conn, t, &row)
                    .await?
                    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("refusal not recorded")))?;
            }
        }
        if row.status == "attributed" {
            let event = pb::WatchEventsResponse {
                r#type: pb::EventType::ReferralAttributed as i32,
                customer_id: row.referrer_id.clone(),
                message: format!("a friend you referred joined with code {}", row.code),
                ..referral_event(&row)
            };
            self.emit(conn, tenant, event).await?;
        }
        if let Some(bonus) = program
            .referee_bonus
            .as_ref()
            .filter(|_| row.status == "attributed" && program.bonus_on_enrolment)
        {
            let pay = Pay {
                key: &format!("signup:{}", row.id),
                order: "signup",
                beneficiary: "referee",
                reward: bonus.clone(),
                order_amount: 0,
                release_at: None,
            };
            self.pay(conn, tenant, &row, pay).await?;
        }
        Ok(row)
    }

    /// A referee's purchase: the referrer's reward (pending until `release_at`),
    /// and the referee's bonus on the first one. Nothing twice per order.
    /// Long because each reason a purchase pays nothing is said where it is judged.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(name = "boomerang.referral.referrals.on_purchase", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn on_purchase(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        referee: &str,
        order: &str,
        amount: Money,
        occurred_at: i64,
        release_at: Option<i64>,
    ) -> Result<Paid, AppError> {
        let t = tenant.as_str();
        repo::seen_before(conn, t, referee, Some(order)).await?;
        // Purchases of one referee serialise on the referral row (first purchase, limits).
        let Some(referral) = repo::live_referral_locked(conn, &self.db, t, referee).await? else {
            return Ok(Paid::default());
        };
        let (_, program, _) = repo::program(conn, t, referral.program_version)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("program version missing")))?;
        let mut paid = Paid {
            referred: true,
            ..Paid::default()
        };
        if occurred_at < referral.attributed_at {
            paid.why_not
                .push("bought before the referral was attributed".into());
            self.seen_order(conn, tenant, &referral, order, &amount)
                .await?;
            return Ok(paid);
        }
        let months = i64::from(program.reward_months) * 30 * DAY;
        let earlier = repo::rewards(conn, t, referral.id, "").await?;
        let purchases = earlier
            .iter()
            .filter(|r| r.beneficiary == "referrer" && r.amount > 0 && r.order_id != order)
            .count();
        let reward = program::referrer_reward(&program, &amount);
        if months > 0 && occurred_at > referral.attributed_at + months {
            paid.why_not.push(format!(
                "the referrer earns for {} months after attribution",
                program.reward_months
            ));
        } else if program.max_rewarded_purchases > 0
            && purchases >= program.max_rewarded_purchases as usize
        {
            paid.why_not.push(format!(
                "the referrer earns on {} purchases",
                program.max_rewarded_purchases
            ));
        } else if let Some(reward) = reward {
            let pay = Pay {
                key: order,
                order,
                beneficiary: "referrer",
                reward: reward.clone(),
                order_amount: amount.minor(),
                release_at,
            };
            self.pay(conn, tenant, &referral, pay).await?;
            paid.rewards.push(reward);
        } else {
            // Say which of the reasons referrer_reward weighs it was.
            paid.why_not
                .push(if !program::qualifies(&program, &amount) {
                    "the order is below the program's minimum order".into()
                } else if program.referrer_reward.is_none() {
                    "the program pays referrers nothing".into()
                } else {
                    "the referrer's share of this order rounds down to nothing".into()
                });
        }
        // Every order of the referee is on record, so a return finds it whether it paid or not.
        self.seen_order(conn, tenant, &referral, order, &amount)
            .await?;
        // Keyed "first_purchase": one bonus per referral, whatever the races.
        if program::qualifies(&program, &amount)
            && repo::convert(conn, t, referral.id).await?
            && let Some(bonus) = program
                .referee_bonus
                .as_ref()
                .filter(|_| !program.bonus_on_enrolment)
        {
            let bonus = bonus.clone();
            let pay = Pay {
                key: "first_purchase",
                order,
                beneficiary: "referee",
                reward: bonus.clone(),
                order_amount: amount.minor(),
                release_at,
            };
            self.pay(conn, tenant, &referral, pay).await?;
            paid.rewards.push(bonus);
        }
        Ok(paid)
    }

    /// Records an order of the referee with nothing paid on it, if nothing was.
    async fn seen_order(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        referral: &ReferralRow,
        order: &str,
        amount: &Money,
    ) -> Result<(), AppError> {
        let row = RewardRow {
            referral_id: referral.id,
            order_id: order.to_owned(),
            beneficiary: "referrer".into(),
            asset: amount.code().to_owned(),
            amount: 0,
            order_amount: amount.minor(),
            reversed: 0,
            returned: 0,
        };
        repo::insert_reward(conn, tenant.as_str(), &row, self.clock.now()).await?;
        Ok(())
    }

    /// Pays `p` once per referral, reward key and beneficiary: the wallet
    /// credit through the outbox, the `REFERRAL_REWARDED` event in the log.
    async fn pay(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        referral: &ReferralRow,
        p: Pay<'_>,
    ) -> Result<(), AppError> {
        let row = RewardRow {
            referral_id: referral.id,
            order_id: p.key.to_owned(),
            beneficiary: p.beneficiary.to_owned(),
            asset: p.reward.code().to_owned(),
            amount: p.reward.minor(),
            order_amount: p.order_amount,
            reversed: 0,
            returned: 0,
        };
        if !repo::insert_reward(conn, tenant.as_str(), &row, self.clock.now()).await? {
            return Ok(()); // paid for this order already
        }
        let (customer, why) = if p.beneficiary == "referrer" {
            (
                &referral.referrer_id,
                "a friend you referred placed an order",
            )
        } else {
            (
                &referral.referee_id,
                "a welcome bonus for joining through a friend",
            )
        };
        let reference = reward_reference(referral.id, p.key, p.beneficiary);
        let credit = wpb::CreditRequest {
            customer_id: customer.clone(),
            amount: Some(p.reward.to_wire()),
            funded_by: Some(wpb::AccountRef {
                kind: wpb::AccountKind::Funding as i32,
                id: "referral".into(),
            }),
            release_at: p.release_at.map(to_timestamp),
            source: Some(wpb::Source {
                kind: "referral".into(),
                reference: reference.clone(),
                rule_version: format!("referral-program@{}", referral.program_version),
                inputs: format!("referral {} order {}", referral.id, p.key),
            }),
            tax_treatment: wpb::TaxTreatment::Gift as i32,
            description: format!("referral reward ({})", p.beneficiary),
            ..Default::default()
        };
        let key = boomerang_common::idempotency::derived_key("ref", &[tenant.as_str(), &reference]);
        outbox::enqueue(conn, tenant, CREDIT, &key, self.clock.now(), &credit).await?;
        let amount = p.reward.to_wire();
        let event = pb::WatchEventsResponse {
            r#type: pb::EventType::ReferralRewarded as i32,
            customer_id: customer.clone(),
            order_id: p.order.to_owned(),
            beneficiary: p.beneficiary.to_owned(),
            message: format!("you earned {} {}: {why}", amount.amount, amount.asset),
            amount: Some(amount),
            release_at: p.release_at.map(to_timestamp),
            ..referral_event(referral)
        };
        self.emit(conn, tenant, event).await
    }

    /// A referee's return: the referrer's reward for the order is taken back in proportion.
    #[tracing::instrument(name = "boomerang.referral.referrals.on_return", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn on_return(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        referee: &str,
        order: &str,
        return_id: &str,
        returned: i64,
    ) -> Result<Vec<Money>, AppError> {
        let t = tenant.as_str();
        let Some(referral) = repo::live_referral(conn, t, referee).await? else {
            return Ok(vec![]);
        };
        // Returns of one order serialise here: each reversal is what should
        // have been taken back by now minus what was, from the locked state.
        let rewards = repo::order_rewards_locked(conn, &self.db, t, referral.id, order).await?;
        if rewards.is_empty() {
            // The purchase notice has not arrived yet (it travels on its own queue): retry later.
            return Err(AppError::Aborted(format!(
                "order {order} not seen yet; retry"
            )));
        }
        let mut out = Vec::new();
        for r in rewards.into_iter().filter(|r| r.beneficiary == "referrer") {
            let target = program::reversal(r.amount, r.order_amount, r.returned + returned);
            let take = target - r.reversed;
            repo::add_return(conn, t, &r, returned, take.max(0)).await?;
            if r.amount == 0 {
                continue; // an order that paid nothing
            }
            if take <= 0 {
                continue;
            }
            let reference = reward_reference(referral.id, order, "referrer");
            let reverse = wpb::ReverseRequest {
                customer_id: referral.referrer_id.clone(),
                source_reference: reference.clone(),
                amount: Some(wire(take, &r.asset)),
                clawback_policy: pc::ClawbackPolicy::WithinBalance as i32,
                source: Some(wpb::Source {
                    kind: "return".into(),
                    reference: return_id.into(),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let key = boomerang_common::idempotency::derived_key(
                "ref",
                &[tenant.as_str(), &reference, "return", return_id],
            );
            outbox::enqueue(conn, tenant, REVERSE, &key, self.clock.now(), &reverse).await?;
            let taken = Money::of(take, &r.asset).map_err(|e| AppError::Internal(e.into()))?;
            let event = pb::WatchEventsResponse {
                r#type: pb::EventType::ReferralRewardReversed as i32,
                customer_id: referral.referrer_id.clone(),
                order_id: order.to_owned(),
                beneficiary: "referrer".into(),
                amount: Some(taken.to_wire()),
                message: format!(
                    "{} {} of your referral reward was taken back: a friend you referred returned order {order}",
                    taken.to_wire().amount,
                    taken.code()
                ),
                ..referral_event(&referral)
            };
            self.emit(conn, tenant, event).await?;
            out.push(taken);
        }
        Ok(out)
    }
}

/// A reward to pay.
struct Pay<'a> {
    /// What it is paid for, once per referral and beneficiary: the order,
    /// "first_purchase" or "signup:<referral>" (the wallet reference's part).
    key: &'a str,
    /// The referee's order it is for, as customers are told ("signup" at enrolment).
    order: &'a str,
    /// "referrer" or "referee".
    beneficiary: &'static str,
    reward: Money,
    /// The order's amount in minor units (0 at signup).
    order_amount: i64,
    release_at: Option<i64>,
}

/// The parts of an event every referral event has.
fn referral_event(r: &ReferralRow) -> pb::WatchEventsResponse {
    pb::WatchEventsResponse {
        referral_id: format!("rf_{}", r.id),
        code: r.code.clone(),
        referrer_id: r.referrer_id.clone(),
        referee_id: r.referee_id.clone(),
        ..Default::default()
    }
}

/// The wallet reference of a referral reward (`referral:<id>:<order>:<beneficiary>`, hashed when long).
pub fn reward_reference(referral: i64, order: &str, beneficiary: &str) -> String {
    boomerang_common::id::reference(format!("referral:{referral}:{order}:{beneficiary}"))
}
