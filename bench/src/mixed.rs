//! `mixed`: the day of a shop through the gateway: 70% purchases, 10% returns
//! of an earlier order, 15% checkout redemptions (a hold on the customer's
//! cashback and its capture), 5% balance reads; until delivered.
use std::sync::{Arc, Mutex};

use boomerang_common::time::{now_micros, to_timestamp};
use boomerang_proto::{
    accrual::v1::{self as pb, accrual_service_client::AccrualServiceClient},
    common::v1::Money,
    wallet::v1::{
        AuthorizeRequest, CaptureRequest, CreditRequest, GetBalanceRequest,
        wallet_service_client::WalletServiceClient,
    },
};
use rand::Rng as _;
use tonic::transport::Channel;

use crate::{
    Common, authed,
    drive::{Op, Run},
    purchase::{Shop, record},
    wallet::channels,
};

fn eur(amount: &str) -> Money {
    Money {
        amount: amount.into(),
        asset: "EUR".into(),
    }
}

/// Orders a worker recorded and has not returned yet.
type Orders = Arc<Vec<Mutex<Vec<String>>>>;

/// Gives every member 1,000.00 EUR of available cashback to redeem.
pub async fn seed(shop: &Shop, members: u32) -> anyhow::Result<()> {
    let mut seeding = tokio::task::JoinSet::new();
    for part in 0..16u32 {
        let mut client = WalletServiceClient::new(shop.channel.clone());
        let auth = shop.auth.clone();
        seeding.spawn(async move {
            for c in (part..members).step_by(16) {
                let req = CreditRequest {
                    idempotency_key: format!("seed-{c}"),
                    customer_id: format!("c-{c}"),
                    amount: Some(eur("1000.00")),
                    ..CreditRequest::default()
                };
                client.credit(authed(&auth, req)).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = seeding.join_next().await {
        done??;
    }
    Ok(())
}

/// One call of the mix, as `worker`'s `n`th.
fn one(
    channel: Channel,
    auth: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    (members, run): (u32, usize),
    orders: &Orders,
    (worker, n): (usize, u64),
) -> futures::future::BoxFuture<'static, Result<(), tonic::Status>> {
    let (kind, customer) = {
        let mut rng = rand::rng();
        (rng.random_range(0..100u32), rng.random_range(0..members))
    };
    let returned = (70..80)
        .contains(&kind)
        .then(|| orders.get(worker)?.lock().ok()?.pop())
        .flatten();
    let auth = auth.clone();
    match (kind, returned) {
        (80..95, _) => Box::pin(async move {
            let mut wallet = WalletServiceClient::new(channel);
            let hold = AuthorizeRequest {
                idempotency_key: format!("a-{run}-{worker}-{n}"),
                customer_id: format!("c-{customer}"),
                amount: Some(eur("1.00")),
                ttl: None,
                reference: format!("checkout-{run}-{worker}-{n}"),
            };
            let hold = wallet.authorize(authed(&auth, hold)).await?.into_inner();
            let capture = CaptureRequest {
                idempotency_key: format!("c-{run}-{worker}-{n}"),
                hold_id: hold.hold.unwrap_or_default().hold_id,
                amount: None,
            };
            wallet.capture(authed(&auth, capture)).await.map(drop)
        }),
        (95.., _) => Box::pin(async move {
            let mut wallet = WalletServiceClient::new(channel);
            let read = GetBalanceRequest {
                customer_id: format!("c-{customer}"),
                ..Default::default()
            };
            wallet.get_balance(authed(&auth, read)).await.map(drop)
        }),
        (_, Some(order)) => Box::pin(async move {
            let mut accrual = AccrualServiceClient::new(channel);
            let back = pb::RecordReturnRequest {
                idempotency_key: format!("return-{order}"),
                program_id: "demo".into(),
                order_id: order,
                return_id: "r1".into(),
                lines: vec![pb::ReturnLine {
                    line_id: "1".into(),
                    quantity: 1,
                }],
                occurred_at: Some(to_timestamp(now_micros())),
            };
            accrual.record_return(authed(&auth, back)).await.map(drop)
        }),
        // A purchase, also when a return finds no order of its worker yet.
        _ => {
            let order = format!("o-{run}-{worker}-{n}");
            let bought = record(channel, &auth, members, order.clone());
            let orders = orders.clone();
            Box::pin(async move {
                bought.await?;
                if let Some(mine) = orders.get(worker)
                    && let Ok(mut mine) = mine.lock()
                {
                    mine.push(order);
                }
                Ok(())
            })
        }
    }
}

/// `mixed` on `members` members, each run until the outbox delivered.
pub async fn mixed(common: &Common, members: u32) -> anyhow::Result<Vec<Run>> {
    let shop = Shop::open(common, "mixed", members).await?;
    seed(&shop, members).await?;
    let mut runs = Vec::new();
    for (run, &clients) in common.clients.iter().enumerate() {
        let channels = channels(shop.gateway, clients).await?;
        let auth = shop.auth.clone();
        let orders: Orders = Arc::new((0..clients).map(|_| Mutex::default()).collect());
        let op: Op = Arc::new(move |worker, n| {
            let channel = channels[worker % channels.len()].clone();
            one(channel, &auth, (members, run), &orders, (worker, n))
        });
        runs.push(common.report(shop.drive("mixed", common.load(clients), op).await?));
    }
    shop.close().await?;
    Ok(runs)
}
