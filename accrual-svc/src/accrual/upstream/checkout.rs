//! What checkout asks upstream: whether codes can be used (campaign-svc's
//! CheckCoupons, as domain offers) and what a customer holds (wallet-svc).
use boomerang_common::{channel::acting_for, error::AppError, money::Amount, tenant::TenantId};
use boomerang_proto::{
    campaign::v1::{self as cpb, coupon_effect::Kind},
    common::v1::channel_name,
    wallet::v1 as wpb,
};
use tracing::instrument;

use super::{CAMPAIGN, Upstream, WALLET, refused, undecodable};
use crate::domain::{
    checkout::{Conditions, Discount, Offer, percent},
    rewards::{self, Effect},
};

/// A code as checkout applies it, or why it cannot be used.
#[derive(Clone, Debug)]
pub struct CouponCheck {
    /// The code, upper-case.
    pub code: String,
    /// Its campaign ("" for an unknown code).
    pub campaign: String,
    /// Why it cannot be used now: campaign-svc's reason and message.
    pub refusal: Option<(String, String)>,
    /// What it takes off the cart, when usable.
    pub offer: Option<Offer>,
    /// What it adds to the order's rewards, when it is a reward code.
    pub reward: Option<rewards::Offer>,
}

/// A minor amount in `currency` from campaign-svc; `Err` names a mismatch.
fn minor_in(
    m: &boomerang_proto::common::v1::Money,
    currency: &str,
) -> Result<Result<i64, String>, AppError> {
    let a = Amount::from_wire(m).map_err(|e| undecodable(CAMPAIGN, e))?;
    Ok(if a.asset().code() == currency {
        Ok(a.minor())
    } else {
        Err(format!(
            "the code is in {}, the cart in {currency}",
            a.asset().code()
        ))
    })
}

/// A usable code as domain offers: its discount, or its reward.
fn offers(
    check: &cpb::CouponCheck,
    currency: &str,
) -> Result<Result<(Offer, Option<rewards::Offer>), String>, AppError> {
    let coupon = check.coupon.clone().unwrap_or_default();
    let rules = coupon.rules.unwrap_or_default();
    let c = rules.conditions.unwrap_or_default();
    let min_order = match c
        .min_order_amount
        .as_ref()
        .map(|m| minor_in(m, currency))
        .transpose()?
    {
        Some(Err(why)) => return Ok(Err(why)),
        Some(Ok(m)) => Some(m),
        None => None,
    };
    let conditions = Conditions {
        categories: c.categories.clone(),
        channels: c
            .channels
            .iter()
            .filter_map(|x| channel_name(*x).map(str::to_owned))
            .collect(),
        stores: c.stores,
        segments: c.segments,
        tiers: c.tiers,
        min_order,
        first_purchase_only: c.first_purchase_only,
    };
    let matching = |scope: i32| scope == cpb::DiscountScope::MatchingLines as i32;
    let reward = |effect: Effect| rewards::Offer {
        campaign_id: coupon.campaign_id.clone(),
        version: 0,
        variant: format!("coupon:{}", coupon.code),
        effect,
        categories: c.categories.clone(),
        min_order,
    };
    let (discount, matching_lines, reward) = match rules.effect.and_then(|e| e.kind) {
        Some(Kind::PercentOff(x)) => {
            let p = percent(&x.percent).ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("{CAMPAIGN} answered a bad percent"))
            })?;
            (Discount::Percent(p), matching(x.scope), None)
        }
        Some(Kind::AmountOff(a)) => {
            let Some(m) = a.amount.as_ref() else {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "{CAMPAIGN} answered an amount off without amount"
                )));
            };
            match minor_in(m, currency)? {
                Ok(minor) => (Discount::Amount(minor), matching(a.scope), None),
                Err(why) => return Ok(Err(why)),
            }
        }
        Some(Kind::ExtraReward(x)) => (
            Discount::None,
            false,
            Some(reward(Effect::ExtraPercent {
                asset: x.asset,
                percent: x.percent,
            })),
        ),
        Some(Kind::FixedReward(b)) => {
            let Some(m) = b.amount.as_ref() else {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "{CAMPAIGN} answered a reward without amount"
                )));
            };
            let a = Amount::from_wire(m).map_err(|e| undecodable(CAMPAIGN, e))?;
            (
                Discount::None,
                false,
                Some(reward(Effect::FixedBonus {
                    minor: a.minor(),
                    asset: a.asset().code().to_owned(),
                })),
            )
        }
        None => {
            return Err(AppError::Internal(anyhow::anyhow!(
                "{CAMPAIGN} answered a code without effect"
            )));
        }
    };
    Ok(Ok((
        Offer {
            code: coupon.code.clone(),
            campaign: coupon.campaign_id.clone(),
            priority: check.priority,
            exclusive: check.stacking == cpb::Stacking::Exclusive as i32,
            conditions,
            discount,
            matching_lines,
        },
        reward,
    )))
}

impl Upstream {
    /// Whether each code can be used by `customer` now, as offers on a cart
    /// in `currency`; nothing is held.
    #[instrument(name = "boomerang.accrual.upstream.check_coupons", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn check_coupons(
        &self,
        tenant: &TenantId,
        codes: Vec<String>,
        customer: &str,
        currency: &str,
    ) -> Result<Vec<CouponCheck>, AppError> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let ask = cpb::CheckCouponsRequest {
            codes,
            customer_id: customer.to_owned(),
        };
        let checks = self
            .coupons
            .clone()
            .check_coupons(acting_for(tenant, ask))
            .await
            .map_err(refused(CAMPAIGN))?
            .into_inner()
            .checks;
        checks
            .iter()
            .map(|check| {
                let campaign = check
                    .coupon
                    .as_ref()
                    .map(|c| c.campaign_id.clone())
                    .unwrap_or_default();
                let base = CouponCheck {
                    code: check.code.clone(),
                    campaign,
                    refusal: None,
                    offer: None,
                    reward: None,
                };
                if !check.refusal.is_empty() {
                    return Ok(CouponCheck {
                        refusal: Some((check.refusal.clone(), check.message.clone())),
                        ..base
                    });
                }
                Ok(match offers(check, currency)? {
                    Ok((offer, reward)) => CouponCheck {
                        offer: Some(offer),
                        reward,
                        ..base
                    },
                    Err(why) => CouponCheck {
                        refusal: Some(("COUPON_CONDITIONS_NOT_MET".into(), why)),
                        ..base
                    },
                })
            })
            .collect()
    }

    /// What `customer` can spend now, per asset, in minor units.
    #[instrument(name = "boomerang.accrual.upstream.available", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn available(
        &self,
        tenant: &TenantId,
        customer: &str,
    ) -> Result<Vec<(String, i64)>, AppError> {
        let ask = wpb::GetBalanceRequest {
            customer_id: customer.to_owned(),
            ..Default::default()
        };
        let balances = self
            .wallet
            .clone()
            .get_balance(acting_for(tenant, ask))
            .await
            .map_err(refused(WALLET))?
            .into_inner()
            .balances;
        balances
            .iter()
            .filter_map(|b| b.available.as_ref())
            .map(|m| {
                let a = Amount::from_wire(m).map_err(|e| undecodable(WALLET, e))?;
                Ok((a.asset().code().to_owned(), a.minor()))
            })
            .collect()
    }
}
