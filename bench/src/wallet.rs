//! Scenarios against wallet-svc alone, called as accrual-svc calls it.
use std::{net::SocketAddr, sync::Arc};

use boomerang_common::time::{now_micros, to_timestamp};
use boomerang_proto::{
    common::v1::Money,
    wallet::v1::{
        AuthorizeRequest, CaptureRequest, CreditRequest, Source,
        wallet_service_client::WalletServiceClient,
    },
};
use rand::Rng as _;
use tonic::{
    metadata::{Ascii, MetadataValue},
    transport::Channel,
};

use crate::{
    Common, authed,
    drive::{Op, Run},
    env::{Env, Running},
};

fn eur(cents: u32) -> Money {
    Money {
        amount: format!("{}.{:02}", cents / 100, cents % 100),
        asset: "EUR".into(),
    }
}

/// Channels to `addr`, one per 8 clients (as many callers would hold).
pub async fn channels(addr: SocketAddr, clients: usize) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::new();
    for _ in 0..clients.div_ceil(8).max(1) {
        channels.push(
            Channel::from_shared(format!("http://{addr}"))?
                .connect()
                .await?,
        );
    }
    Ok(channels)
}

/// The wallet a scenario calls: at `--address`, or a new one in this process.
async fn wallet(common: &Common) -> anyhow::Result<(Env, Running)> {
    match &common.address {
        Some(address) => {
            let env = Env::with_key_file(address, common.key_file.as_deref())?;
            let wallet = Running::at(address)?;
            Ok((env, wallet))
        }
        None => {
            let env = Env::of(common)?;
            let max = common.clients.iter().copied().max().unwrap_or(32);
            let wallet = env
                .wallet(u32::try_from(max).unwrap_or(64).clamp(8, 64))
                .await?;
            Ok((env, wallet))
        }
    }
}

/// A pending cashback credit (what accrual sends per purchase) to a random customer.
fn credit_op(
    channels: Vec<Channel>,
    bearer: MetadataValue<Ascii>,
    customers: u32,
    run: usize,
) -> Op {
    Arc::new(move |worker, n| {
        let mut client = WalletServiceClient::new(channels[worker % channels.len()].clone());
        let (customer, cents) = {
            let mut rng = rand::rng();
            (rng.random_range(0..customers), rng.random_range(1..10_000))
        };
        let req = authed(
            &bearer,
            CreditRequest {
                idempotency_key: format!("bench-{run}-{worker}-{n}"),
                customer_id: format!("c-{customer}"),
                amount: Some(eur(cents)),
                release_at: Some(to_timestamp(now_micros() + 14 * 86_400_000_000)),
                source: Some(Source {
                    kind: "order".into(),
                    reference: format!("o-{run}-{worker}-{n}"),
                    rule_version: "program:bench@1".into(),
                    inputs: String::new(),
                }),
                ..CreditRequest::default()
            },
        );
        Box::pin(async move { client.credit(req).await.map(drop) })
    })
}

/// `wallet-credit`: pending credits on many customers.
pub async fn credit(common: &Common, customers: u32) -> anyhow::Result<Vec<Run>> {
    let (env, wallet) = wallet(common).await?;
    let bearer = env.bearer("wallet")?;
    let mut runs = Vec::new();
    for (run, &clients) in common.clients.iter().enumerate() {
        let op = credit_op(
            channels(wallet.addr, clients).await?,
            bearer.clone(),
            customers,
            run,
        );
        let load = common.load(clients);
        runs.push(common.report(env.drive("wallet-credit", load, op).await?));
    }
    wallet.stop().await?;
    env.finish().await?;
    Ok(runs)
}

/// `wallet-capture`: a hold then its capture (checkout spending cashback) on
/// many customers, each credited first; one op is both calls.
pub async fn capture(common: &Common, customers: u32) -> anyhow::Result<Vec<Run>> {
    let (env, wallet) = wallet(common).await?;
    let bearer = env.bearer("wallet")?;
    // Everyone gets 1,000.00 available first, 32 at a time.
    let channel = Channel::from_shared(format!("http://{}", wallet.addr))?
        .connect()
        .await?;
    let mut seeding = tokio::task::JoinSet::new();
    for part in 0..32u32 {
        let mut client = WalletServiceClient::new(channel.clone());
        let bearer = bearer.clone();
        seeding.spawn(async move {
            for c in (part..customers).step_by(32) {
                let req = authed(
                    &bearer,
                    CreditRequest {
                        idempotency_key: format!("seed-{c}"),
                        customer_id: format!("c-{c}"),
                        amount: Some(eur(100_000)),
                        ..CreditRequest::default()
                    },
                );
                client.credit(req).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = seeding.join_next().await {
        done??;
    }
    let mut runs = Vec::new();
    for (run, &clients) in common.clients.iter().enumerate() {
        let channels = channels(wallet.addr, clients).await?;
        let bearer = bearer.clone();
        let op: Op = Arc::new(move |worker, n| {
            let mut client = WalletServiceClient::new(channels[worker % channels.len()].clone());
            let customer = rand::rng().random_range(0..customers);
            let bearer = bearer.clone();
            Box::pin(async move {
                let hold = client
                    .authorize(authed(
                        &bearer,
                        AuthorizeRequest {
                            idempotency_key: format!("a-{run}-{worker}-{n}"),
                            customer_id: format!("c-{customer}"),
                            amount: Some(eur(100)),
                            ttl: None,
                            reference: format!("checkout-{run}-{worker}-{n}"),
                        },
                    ))
                    .await?
                    .into_inner()
                    .hold
                    .unwrap_or_default();
                client
                    .capture(authed(
                        &bearer,
                        CaptureRequest {
                            idempotency_key: format!("c-{run}-{worker}-{n}"),
                            hold_id: hold.hold_id,
                            amount: None,
                        },
                    ))
                    .await
                    .map(drop)
            })
        });
        let load = common.load(clients);
        runs.push(common.report(env.drive("wallet-capture", load, op).await?));
    }
    wallet.stop().await?;
    env.finish().await?;
    Ok(runs)
}
