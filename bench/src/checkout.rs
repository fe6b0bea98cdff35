//! `evaluate-cart`: EvaluateCart through the gateway, a 20-line cart with
//! three codes (two discounts and a reward), for members holding points and
//! cashback: what checkout costs before anything is held.
use std::sync::Arc;

use boomerang_common::time::{now_micros, to_timestamp};
use boomerang_proto::{
    accrual::v1::{self as apb, checkout_service_client::CheckoutServiceClient},
    campaign::v1::{
        self as cpb, campaign_service_client::CampaignServiceClient,
        coupon_service_client::CouponServiceClient,
    },
    common::v1::Money,
};
use rand::Rng as _;

use crate::{
    Common, authed,
    drive::{Op, Run},
    purchase::Shop,
    wallet::channels,
};

fn money(amount: &str, asset: &str) -> Option<Money> {
    Some(Money {
        amount: amount.into(),
        asset: asset.into(),
    })
}

/// A campaign running since an hour ago (giving nothing itself) with one code.
async fn campaign_with_code(
    shop: &Shop,
    (id, priority): (&str, i32),
    code: &str,
    effect: cpb::coupon_effect::Kind,
) -> anyhow::Result<()> {
    let hour = 3_600_000_000;
    let spec = cpb::CampaignSpec {
        name: format!("Checkout {id}"),
        terms: "Codes at checkout.".into(),
        schedule: Some(cpb::Schedule {
            timezone: "Europe/Rome".into(),
            starts_at: Some(to_timestamp(now_micros() - hour)),
            ends_at: Some(to_timestamp(now_micros() + 720 * hour)),
            windows: vec![],
        }),
        effect: Some(cpb::Effect {
            kind: Some(cpb::effect::Kind::ExtraPercent(cpb::ExtraPercent {
                asset: "PTS".into(),
                percent: "1".into(),
            })),
        }),
        // The campaign itself gives nothing: only its code does.
        conditions: Some(cpb::Conditions {
            categories: vec!["no-such-category".into()],
            ..Default::default()
        }),
        priority,
        ..Default::default()
    };
    let mut campaigns = CampaignServiceClient::new(shop.channel.clone());
    let create = cpb::CreateCampaignRequest {
        idempotency_key: format!("c-{id}"),
        campaign_id: id.into(),
        spec: Some(spec),
        ..Default::default()
    };
    campaigns
        .create_campaign(authed(&shop.auth, create))
        .await?;
    let schedule = cpb::ScheduleCampaignRequest {
        idempotency_key: format!("s-{id}"),
        campaign_id: id.into(),
    };
    campaigns
        .schedule_campaign(authed(&shop.auth, schedule))
        .await?;
    let batch = cpb::CreateCouponBatchRequest {
        idempotency_key: format!("b-{id}"),
        campaign_id: id.into(),
        batch_id: id.into(),
        rules: Some(cpb::CouponRules {
            effect: Some(cpb::CouponEffect { kind: Some(effect) }),
            ..Default::default()
        }),
        codes: Some(cpb::create_coupon_batch_request::Codes::Given(
            cpb::GivenCodes {
                codes: vec![cpb::GivenCode {
                    code: code.into(),
                    customer_id: String::new(),
                }],
            },
        )),
        validate_only: false,
    };
    CouponServiceClient::new(shop.channel.clone())
        .create_coupon_batch(authed(&shop.auth, batch))
        .await?;
    Ok(())
}

/// A 20-line cart of `customer` with the three codes, paying with points and cashback.
fn cart(customer: u32) -> apb::Cart {
    apb::Cart {
        program_id: "demo".into(),
        customer_id: format!("c-{customer}"),
        currency: "EUR".into(),
        channel: boomerang_proto::common::v1::Channel::Online as i32,
        lines: (0..20)
            .map(|i| apb::CartLine {
                line_id: i.to_string(),
                sku: format!("sku-{i}"),
                category: if i % 2 == 0 { "shoes" } else { "bags" }.into(),
                unit_price: money(&format!("{}.99", 10 + i), "EUR"),
                quantity: 1 + i % 3,
            })
            .collect(),
        coupon_codes: vec!["TEN".into(), "FIVE".into(), "EXTRA".into()],
        pay_with_points: money("200", "PTS"),
        pay_with_cashback: money("5.00", "EUR"),
        ..Default::default()
    }
}

/// `evaluate-cart` on `members` members.
pub async fn evaluate(common: &Common, members: u32) -> anyhow::Result<Vec<Run>> {
    let shop = Shop::open(common, "cart", members).await?;
    use cpb::coupon_effect::Kind;
    let percent = Kind::PercentOff(cpb::PercentOff {
        percent: "10".into(),
        scope: cpb::DiscountScope::Order as i32,
    });
    let amount = Kind::AmountOff(cpb::AmountOff {
        amount: money("5.00", "EUR"),
        scope: cpb::DiscountScope::MatchingLines as i32,
    });
    let extra = Kind::ExtraReward(cpb::ExtraPercent {
        asset: "PTS".into(),
        percent: "5".into(),
    });
    campaign_with_code(&shop, ("ten", 1), "TEN", percent).await?;
    campaign_with_code(&shop, ("five", 5), "FIVE", amount).await?;
    campaign_with_code(&shop, ("extra", 0), "EXTRA", extra).await?;
    crate::mixed::seed(&shop, members).await?;
    let mut runs = Vec::new();
    for &clients in &common.clients {
        let channels = channels(shop.gateway, clients).await?;
        let auth = shop.auth.clone();
        let op: Op = Arc::new(move |worker, _| {
            let mut client = CheckoutServiceClient::new(channels[worker % channels.len()].clone());
            let customer = rand::rng().random_range(0..members);
            let req = authed(
                &auth,
                apb::EvaluateCartRequest {
                    cart: Some(cart(customer)),
                },
            );
            Box::pin(async move {
                let e = client.evaluate_cart(req).await?.into_inner();
                // Every code applies: a run that refused one measured something else.
                match e.codes.iter().filter(|c| c.accepted).count() {
                    3 => Ok(()),
                    n => Err(tonic::Status::internal(format!(
                        "{n} of 3 codes applied: {:?}",
                        e.codes
                    ))),
                }
            })
        });
        runs.push(
            common.report(
                shop.env
                    .drive("evaluate-cart", common.load(clients), op)
                    .await?,
            ),
        );
    }
    shop.close().await?;
    Ok(runs)
}
