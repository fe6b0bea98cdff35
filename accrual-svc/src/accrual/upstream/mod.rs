//! The one port to the services accrual calls: campaign-svc (offers, budget,
//! coupon codes), wallet-svc (credits, reversals, releases, conversions,
//! funding summary, balances) and referral-svc (attribution, purchase and
//! return notices).
//!
//! It speaks domain types where accrual decides on the answer (offers, budget
//! grants, what a reversal took, conversions, attribution) and takes the
//! stored requests the outbox delivers as they are. Tenant and trace context
//! are set by `common::channel`'s interceptor; every upstream answer becomes
//! an `AppError` in [`refused`], and every call is a named span.
use boomerang_common::{
    auth::Credentials,
    channel::{self, Upstream as Channel, acting_for},
    error::AppError,
    money::{self, Amount},
    tenant::TenantId,
    time::{from_timestamp, to_timestamp},
};
use boomerang_proto::{
    campaign::v1::{
        self as cpb, campaign_service_client::CampaignServiceClient,
        coupon_service_client::CouponServiceClient,
    },
    referral::v1::{self as rpb, referral_service_client::ReferralServiceClient},
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use tracing::instrument;

use crate::domain::{
    experiment::Exposure,
    rewards::{Effect, Offer},
};

mod checkout;
mod drafts;
mod experiments;
mod holds;
mod vouchers;

pub use checkout::CouponCheck;
pub use holds::{BalanceHold, CouponHold};

const WALLET: &str = "wallet-svc";
const CAMPAIGN: &str = "campaign-svc";
const REFERRAL: &str = "referral-svc";

/// The services accrual calls, each over one lazily connected channel.
#[derive(Clone, Debug)]
pub struct Upstream {
    wallet: WalletServiceClient<Channel>,
    campaign: CampaignServiceClient<Channel>,
    coupons: CouponServiceClient<Channel>,
    referral: ReferralServiceClient<Channel>,
}

/// A campaign dated to cover a purchase but scheduled after it: not applied,
/// and said why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledLater {
    /// The campaign.
    pub campaign_id: String,
    /// Its first version in force after the purchase.
    pub version: u32,
    /// When that version came into force (unix micros).
    pub effective_from_us: i64,
}

/// What campaign-svc says applies to a purchase.
#[derive(Clone, Debug, Default)]
pub struct Applicable {
    /// The campaigns that apply, as offers the rules can price.
    pub offers: Vec<Offer>,
    /// Those dated to cover it but scheduled after it.
    pub later: Vec<ScheduledLater>,
    /// The experiment arms the customer is shown, rewarded or not.
    pub exposures: Vec<Exposure>,
}

/// What a purchase asks campaign-svc: the campaigns that apply to it.
#[derive(Clone, Debug)]
pub struct OfferQuery {
    /// When the purchase occurred (unix micros).
    pub at_us: i64,
    /// Channel enum value.
    pub channel: i32,
    /// Distinct categories of its lines.
    pub categories: Vec<String>,
    /// The member's segment.
    pub segment: String,
    /// The member's tier id, if any.
    pub tier: String,
    /// Buyer.
    pub customer: String,
    /// Store.
    pub store: String,
    /// The eligible amount, minor units of `currency`.
    pub order_minor: i64,
    /// The program currency.
    pub currency: String,
    /// The member's first purchase in the program.
    pub first_purchase: bool,
}

/// A reservation asked of a campaign's budget.
#[derive(Clone, Debug)]
pub struct BudgetAsk {
    /// Deterministic key (order and campaign), so a retry reuses the reservation.
    pub key: String,
    /// Campaign.
    pub campaign_id: String,
    /// Variant the customer is in.
    pub variant: String,
    /// What the reward would cost, minor units of `asset`.
    pub minor: i64,
    /// Its asset.
    pub asset: String,
    /// Buyer.
    pub customer: String,
    /// Order.
    pub order: String,
    /// The order's eligible amount (minor units of `currency`): the revenue
    /// the campaign is credited with.
    pub order_minor: i64,
    /// The order currency.
    pub currency: String,
    /// What one unit of `asset` is worth in `currency`, when it has a price.
    pub unit_value: Option<rust_decimal::Decimal>,
    /// Where the order was placed (the wire channel).
    pub channel: i32,
    /// The store.
    pub store: String,
}

/// What a budget granted: possibly less than asked, possibly nothing.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The reservation, to confirm or release later.
    pub reservation_id: String,
    /// Granted, minor units.
    pub minor: i64,
}

/// Points exchanged for money in one balanced wallet transaction.
#[derive(Clone, Debug)]
pub struct Conversion {
    /// Deterministic key of the wallet transaction.
    pub key: String,
    /// Program (its funding account takes the points and pays the money).
    pub program_id: String,
    /// Member.
    pub customer: String,
    /// Points spent.
    pub points: i64,
    /// Money credited.
    pub value: Amount,
    /// The caller's idempotency key (the transaction's reference).
    pub reference: String,
    /// The program version that priced it.
    pub rule_version: String,
    /// How it was computed, for the audit trail.
    pub inputs: String,
}

/// A referral code given at enrolment.
#[derive(Clone, Debug)]
pub struct Attribution {
    /// Deterministic key (program and member).
    pub key: String,
    /// The code.
    pub code: String,
    /// The new member.
    pub customer: String,
    /// When they signed up (unix micros).
    pub signup_at_us: i64,
}

/// Another service's answer as ours (see `AppError::upstream`).
fn refused(service: &'static str) -> impl Fn(tonic::Status) -> AppError {
    move |s| AppError::upstream(service, &s)
}

/// An amount another service answered with that does not decode: its bug.
fn undecodable(service: &str, e: money::MoneyError) -> AppError {
    AppError::Internal(anyhow::anyhow!(
        "{service} answered an amount we cannot read: {e}"
    ))
}

impl Upstream {
    /// To the given URLs, connecting on first use, with accrual's credential
    /// (`https://` upstreams verified with `tls`).
    pub fn new(
        urls: &crate::config::Upstreams,
        credentials: &Credentials,
        tls: Option<tonic::transport::ClientTlsConfig>,
    ) -> anyhow::Result<Self> {
        // What accrual does upstream: credits, reversals and releases;
        // budget reservations; referral attributions and reward triggers.
        let me = credentials.issuer(
            "accrual",
            &["wallet:write", "campaign:write", "referral:write"],
        )?;
        let to = |name: &str, url: &str| channel::upstream(name, url, me.clone(), tls.clone());
        let campaign = to("campaign", &urls.campaign)?;
        Ok(Self {
            wallet: WalletServiceClient::new(to("wallet", &urls.wallet)?),
            coupons: CouponServiceClient::new(campaign.clone()),
            campaign: CampaignServiceClient::new(campaign),
            referral: ReferralServiceClient::new(to("referral", &urls.referral)?),
        })
    }

    /// The campaigns that apply to a purchase, as offers the rules can price;
    /// those that would have but were scheduled after it; and the experiment
    /// arms the customer is in.
    #[instrument(name = "boomerang.accrual.upstream.applicable_offers", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn applicable_offers(
        &self,
        tenant: &TenantId,
        q: OfferQuery,
    ) -> Result<Applicable, AppError> {
        let ask = cpb::ListApplicableCampaignsRequest {
            at: Some(to_timestamp(q.at_us)),
            channel: q.channel,
            categories: q.categories,
            segment: q.segment,
            tier: q.tier,
            customer_id: q.customer,
            store_id: q.store,
            order_amount: Some(money::wire(q.order_minor, &q.currency)),
            first_purchase: q.first_purchase,
        };
        let found = self
            .campaign
            .clone()
            .list_applicable_campaigns(acting_for(tenant, ask))
            .await
            .map_err(refused(CAMPAIGN))?
            .into_inner();
        let offers = found
            .campaigns
            .iter()
            .map(offer)
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?;
        // Every arm of an experiment is an exposure, the control's included.
        let exposures = found
            .campaigns
            .iter()
            .filter(|c| !c.variant.is_empty())
            .map(|c| Exposure {
                campaign_id: c.campaign_id.clone(),
                variant: c.variant.clone(),
                rewarded: rewards(c.effect.as_ref()),
            })
            .collect();
        let later = found
            .scheduled_later
            .into_iter()
            .filter_map(|l| {
                Some(ScheduledLater {
                    effective_from_us: l.effective_from.as_ref().and_then(from_timestamp)?,
                    campaign_id: l.campaign_id,
                    version: l.version,
                })
            })
            .collect();
        Ok(Applicable {
            offers,
            later,
            exposures,
        })
    }

    /// Reserves budget for a campaign reward. An exhausted, paused or ended
    /// campaign is `Exhausted` or `Precondition`: the reward is skipped.
    #[instrument(name = "boomerang.accrual.upstream.reserve_budget", skip_all, fields(tenant = %tenant, campaign = %ask.campaign_id), err(level = "info"))]
    pub async fn reserve_budget(
        &self,
        tenant: &TenantId,
        ask: BudgetAsk,
    ) -> Result<Grant, AppError> {
        let req = cpb::ReserveBudgetRequest {
            idempotency_key: ask.key,
            campaign_id: ask.campaign_id,
            amount: Some(money::wire(ask.minor, &ask.asset)),
            // If accrual dies before confirming, the reservation lapses.
            ttl: Some(prost_types::Duration {
                seconds: 600,
                nanos: 0,
            }),
            allow_partial: true,
            customer_id: ask.customer,
            order_id: ask.order,
            variant: ask.variant,
            order_amount: Some(money::wire(ask.order_minor, &ask.currency)),
            unit_value: ask.unit_value.map(|v| v.to_string()).unwrap_or_default(),
            channel: ask.channel,
            store_id: ask.store,
        };
        let r = self
            .campaign
            .clone()
            .reserve_budget(acting_for(tenant, req))
            .await
            .map_err(refused(CAMPAIGN))?
            .into_inner()
            .reservation
            .unwrap_or_default();
        let minor = money::minor_of(r.granted.as_ref()).map_err(|e| undecodable(CAMPAIGN, e))?;
        Ok(Grant {
            reservation_id: r.reservation_id,
            minor,
        })
    }

    /// Confirms a reservation (delivered from the outbox).
    #[instrument(name = "boomerang.accrual.upstream.confirm_budget", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn confirm_budget(
        &self,
        tenant: &TenantId,
        req: cpb::ConfirmBudgetRequest,
    ) -> Result<(), AppError> {
        let mut client = self.campaign.clone();
        let call = client.confirm_budget(acting_for(tenant, req));
        call.await.map(drop).map_err(refused(CAMPAIGN))
    }

    /// Gives (part of) a reservation back (delivered from the outbox).
    #[instrument(name = "boomerang.accrual.upstream.release_budget", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn release_budget(
        &self,
        tenant: &TenantId,
        req: cpb::ReleaseBudgetRequest,
    ) -> Result<(), AppError> {
        let mut client = self.campaign.clone();
        let call = client.release_budget(acting_for(tenant, req));
        call.await.map(drop).map_err(refused(CAMPAIGN))
    }

    /// Credits a customer (delivered from the outbox).
    #[instrument(name = "boomerang.accrual.upstream.credit", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn credit(&self, tenant: &TenantId, req: wpb::CreditRequest) -> Result<(), AppError> {
        let mut client = self.wallet.clone();
        let call = client.credit(acting_for(tenant, req));
        call.await.map(drop).map_err(refused(WALLET))
    }

    /// Takes (part of) a credit back; what the wallet actually took, pending
    /// and available together, in minor units (delivered from the outbox).
    #[instrument(name = "boomerang.accrual.upstream.reverse", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn reverse(
        &self,
        tenant: &TenantId,
        req: wpb::ReverseRequest,
    ) -> Result<i64, AppError> {
        let done = self
            .wallet
            .clone()
            .reverse(acting_for(tenant, req))
            .await
            .map_err(refused(WALLET))?
            .into_inner();
        let taken = |m: Option<&boomerang_proto::common::v1::Money>| {
            money::minor_of(m).map_err(|e| undecodable(WALLET, e))
        };
        Ok(taken(done.reversed_pending.as_ref())? + taken(done.reversed_available.as_ref())?)
    }

    /// Releases a credit held for review (delivered from the outbox).
    #[instrument(name = "boomerang.accrual.upstream.release_credit", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn release_credit(
        &self,
        tenant: &TenantId,
        req: wpb::ReleaseCreditRequest,
    ) -> Result<(), AppError> {
        let mut client = self.wallet.clone();
        let call = client.release_credit(acting_for(tenant, req));
        call.await.map(drop).map_err(refused(WALLET))
    }

    /// Posts a points conversion; the wallet transaction's id.
    #[instrument(name = "boomerang.accrual.upstream.convert", skip_all, fields(tenant = %tenant, customer = %c.customer), err(level = "info"))]
    pub async fn convert(&self, tenant: &TenantId, c: Conversion) -> Result<String, AppError> {
        let account = |kind: wpb::AccountKind, id: &str| wpb::AccountRef {
            kind: kind as i32,
            id: id.into(),
        };
        let funding = || account(wpb::AccountKind::Funding, &c.program_id);
        let me = || account(wpb::AccountKind::Customer, &c.customer);
        let leg = |account, minor: i64, asset: &str| wpb::Posting {
            account: Some(account),
            layer: wpb::Layer::Available as i32,
            amount: Some(money::wire(minor, asset)),
        };
        let (value, asset) = (c.value.minor(), c.value.asset().code());
        let post = wpb::PostTransactionRequest {
            idempotency_key: c.key,
            postings: vec![
                leg(me(), -c.points, "PTS"),
                leg(funding(), c.points, "PTS"),
                leg(funding(), -value, asset),
                leg(me(), value, asset),
            ],
            source: Some(wpb::Source {
                kind: "conversion".into(),
                reference: c.reference,
                rule_version: c.rule_version,
                inputs: c.inputs,
            }),
            description: "points converted".into(),
        };
        let done = self
            .wallet
            .clone()
            .post_transaction(acting_for(tenant, post))
            .await
            .map_err(|s| match AppError::upstream(WALLET, &s) {
                // The only amount the caller gave is the points.
                AppError::Invalid(_) => AppError::invalid("points", s.message()),
                other => other,
            })?;
        Ok(done
            .into_inner()
            .transaction
            .map(|t| t.transaction_id)
            .unwrap_or_default())
    }

    /// What became of the credits a program's funding account paid in a period.
    #[instrument(name = "boomerang.accrual.upstream.funding_summary", skip_all, fields(tenant = %tenant, program = %program_id), err(level = "info"))]
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
        let mut client = self.wallet.clone();
        let call = client.get_funding_summary(acting_for(tenant, ask));
        Ok(call.await.map_err(refused(WALLET))?.into_inner().totals)
    }

    /// Hands a referral code to referral-svc; its fraud checks decide.
    #[instrument(name = "boomerang.accrual.upstream.attribute_referral", skip_all, fields(tenant = %tenant, customer = %a.customer), err(level = "info"))]
    pub async fn attribute_referral(
        &self,
        tenant: &TenantId,
        a: Attribution,
    ) -> Result<(), AppError> {
        let ask = rpb::AttributeReferralRequest {
            idempotency_key: a.key,
            code: a.code,
            referee_customer_id: a.customer,
            context: Some(rpb::AttributionContext {
                signup_at: Some(to_timestamp(a.signup_at_us)),
                ..Default::default()
            }),
        };
        let mut client = self.referral.clone();
        let call = client.attribute_referral(acting_for(tenant, ask));
        call.await.map(drop).map_err(refused(REFERRAL))
    }

    /// A referee's purchase (delivered from the outbox).
    #[instrument(name = "boomerang.accrual.upstream.on_purchase", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn on_purchase(
        &self,
        tenant: &TenantId,
        req: rpb::OnPurchaseRequest,
    ) -> Result<(), AppError> {
        let mut client = self.referral.clone();
        let call = client.on_purchase(acting_for(tenant, req));
        call.await.map(drop).map_err(refused(REFERRAL))
    }

    /// A referee's return (delivered from the outbox).
    #[instrument(name = "boomerang.accrual.upstream.on_return", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn on_return(
        &self,
        tenant: &TenantId,
        req: rpb::OnReturnRequest,
    ) -> Result<(), AppError> {
        let mut client = self.referral.clone();
        let call = client.on_return(acting_for(tenant, req));
        call.await.map(drop).map_err(refused(REFERRAL))
    }
}

/// Whether an experiment arm's effect gives anything (an arm without one is
/// a control).
fn rewards(effect: Option<&cpb::Effect>) -> bool {
    effect.is_some_and(|e| e.kind.is_some())
}

/// A campaign as an offer; none when it has no effect accrual knows.
fn offer(c: &cpb::ApplicableCampaign) -> Result<Option<Offer>, AppError> {
    use cpb::effect::Kind as K;
    let amount = |m: &Option<boomerang_proto::common::v1::Money>| -> Result<Option<(i64, String)>, AppError> {
        m.as_ref()
            .map(|m| {
                let a = Amount::from_wire(m).map_err(|e| undecodable(CAMPAIGN, e))?;
                Ok((a.minor(), a.asset().code().to_owned()))
            })
            .transpose()
    };
    let Some(kind) = c.effect.as_ref().and_then(|e| e.kind.as_ref()) else {
        return Ok(None);
    };
    let effect = match kind {
        K::PointsMultiplier(m) => Effect::PointsMultiplier {
            multiplier: m.multiplier.clone(),
        },
        K::ExtraPercent(p) => Effect::ExtraPercent {
            asset: p.asset.clone(),
            percent: p.percent.clone(),
        },
        K::FixedBonus(b) => {
            let Some((minor, asset)) = amount(&b.amount)? else {
                return Ok(None);
            };
            Effect::FixedBonus { minor, asset }
        }
        K::NextPurchaseVoucher(v) => {
            let Some((minor, asset)) = amount(&v.value)? else {
                return Ok(None);
            };
            Effect::Voucher {
                minor,
                asset,
                valid_days: v.valid_days,
                min_next_order: amount(&v.min_next_order)?.map(|(m, _)| m),
                usable_at_once: v.usable_at_once,
            }
        }
    };
    let conditions = c.conditions.as_ref();
    Ok(Some(Offer {
        campaign_id: c.campaign_id.clone(),
        version: c.version,
        variant: c.variant.clone(),
        effect,
        categories: conditions.map(|x| x.categories.clone()).unwrap_or_default(),
        min_order: amount(&conditions.and_then(|x| x.min_order_amount.clone()))?.map(|(m, _)| m),
    }))
}
