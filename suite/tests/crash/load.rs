//! A bounded mixed load through the gateway, as a careful client sends it:
//! every call has an idempotency key and is retried with the same key until
//! it gets an answer that is not about transport or a restart. What was
//! acknowledged is written down, per customer, to the cent.
#![allow(dead_code)] // shared by the crash and the replica tests, each using a part
use std::{
    collections::BTreeMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use boomerang_common::{
    money::minor_of,
    time::{now_micros, to_timestamp},
};
use boomerang_proto::{
    accrual::v1::{
        self as apb, accrual_service_client::AccrualServiceClient,
        checkout_service_client::CheckoutServiceClient,
    },
    admin::v1::{self as adm, admin_service_client::AdminServiceClient},
    campaign::v1::{self as cpb, campaign_service_client::CampaignServiceClient},
    common::v1::{Channel as Ch, Money},
    referral::v1::{self as rpb, referral_service_client::ReferralServiceClient},
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use tonic::{Code, Request, Response, Status, transport::Channel};

pub const PROGRAM: &str = "cb";
/// Customers who buy (their totals are checked to the cent).
pub const CUSTOMERS: usize = 16;
/// Customers 0..REFERRED were referred, by referrers `r0..`.
pub const REFERRED: usize = 8;
pub const REFERRERS: usize = 4;
/// The boost campaign's budget (minor units of EUR): spent within seconds.
pub const BOOST_BUDGET: i64 = 30_000; // 300.00 EUR
/// What every buying customer starts with (minor units of EUR).
pub const TOP_UP: i64 = 10_000; // 100.00 EUR

pub fn eur_minor(minor: i64) -> Money {
    boomerang_common::money::wire(minor, "EUR")
}

pub fn customer(i: usize) -> String {
    format!("c{i}")
}

/// What the client was told, by kind of operation.
#[derive(Debug, Default)]
pub struct Record {
    /// Expected EUR per customer (available + pending + held), minor units.
    pub expected: BTreeMap<String, i64>,
    /// Acknowledged operations by kind.
    pub acknowledged: BTreeMap<&'static str, usize>,
    /// Definitive refusals by kind (e.g. a hold larger than the balance).
    pub refused: BTreeMap<&'static str, usize>,
    /// Calls retried after a transport error or a restart.
    pub retries: usize,
}

impl Record {
    fn add(&mut self, customer: &str, minor: i64) {
        *self.expected.entry(customer.to_owned()).or_default() += minor;
    }
}

/// A client of the gateway with one key.
#[derive(Clone)]
pub struct Client {
    key: String,
    pub accrual: AccrualServiceClient<Channel>,
    pub checkout: CheckoutServiceClient<Channel>,
    pub campaign: CampaignServiceClient<Channel>,
    pub referral: ReferralServiceClient<Channel>,
    pub wallet: WalletServiceClient<Channel>,
    pub record: Arc<Mutex<Record>>,
}

/// `$client.$rpc($req)` on `$this`, retried with the same request until answered.
macro_rules! call {
    ($this:expr, $client:ident, $rpc:ident, $req:expr) => {
        $this.until_answered(|| {
            let mut client = $this.$client.clone();
            let req = $this.request($req.clone());
            async move { client.$rpc(req).await }
        })
    };
}

/// Checkout sessions in the load (after `call!`, which they use).
#[path = "checkout.rs"]
mod checkout;

fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Unknown
            | Code::Internal
            | Code::Aborted
            | Code::Cancelled
            | Code::ResourceExhausted
    )
}

impl Client {
    pub fn new(gateway: Channel, key: String) -> Self {
        Self {
            key,
            accrual: AccrualServiceClient::new(gateway.clone()),
            checkout: CheckoutServiceClient::new(gateway.clone()),
            campaign: CampaignServiceClient::new(gateway.clone()),
            referral: ReferralServiceClient::new(gateway.clone()),
            wallet: WalletServiceClient::new(gateway),
            record: Arc::default(),
        }
    }

    /// The same caller (key and record) through another gateway.
    pub fn through(&self, gateway: Channel) -> Self {
        Self {
            record: self.record.clone(),
            ..Self::new(gateway, self.key.clone())
        }
    }

    /// Calls retried so far.
    pub fn retries(&self) -> usize {
        self.record.lock().map_or(0, |r| r.retries)
    }

    /// Where the wallet holds another amount than was acknowledged, per customer.
    pub async fn ledger_differences(&self) -> anyhow::Result<Vec<String>> {
        let expected = self
            .record
            .lock()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .expected
            .clone();
        let mut off = Vec::new();
        for (who, want) in &expected {
            let got = self.total(who).await?;
            if got != *want {
                off.push(format!(
                    "{who}: acknowledged {want}, the wallet holds {got}"
                ));
            }
        }
        Ok(off)
    }

    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut req = Request::new(message);
        req.set_timeout(Duration::from_secs(5));
        if let Ok(v) = format!("Bearer {}", self.key).parse() {
            req.metadata_mut().insert("authorization", v);
        }
        req
    }

    fn note(&self, f: impl FnOnce(&mut Record)) {
        if let Ok(mut r) = self.record.lock() {
            f(&mut r);
        }
    }

    /// `call` until it is answered for good (2 minutes at most).
    pub async fn until_answered<T, F, Fut>(&self, mut call: F) -> Result<T, Status>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            match call().await {
                Ok(r) => return Ok(r.into_inner()),
                Err(s) if retryable(s.code()) && tokio::time::Instant::now() < deadline => {
                    self.note(|r| r.retries += 1);
                    tokio::time::sleep(Duration::from_millis(50 + rand::random::<u64>() % 150))
                        .await;
                }
                Err(s) => return Err(s),
            }
        }
    }

    /// The cashback program, the referral program, codes, members and top-ups.
    pub async fn set_up(&self) -> anyhow::Result<()> {
        let program = apb::Program {
            program_id: PROGRAM.into(),
            name: "Cashback".into(),
            currency: "EUR".into(),
            earn_rules: vec![apb::EarnRule {
                asset: "EUR".into(),
                basis: apb::EarnBasis::Percent as i32,
                rate: "5".into(),
            }],
            thresholds: vec![apb::Threshold {
                over: Some(eur_minor(10_000)),
                comparison: apb::ThresholdComparison::GreaterThan as i32,
                asset: "EUR".into(),
                rate: "10".into(),
            }],
            return_window_days: 14,
            ..Default::default()
        };
        let req = apb::UpsertProgramRequest {
            idempotency_key: "program".into(),
            program: Some(program),
            ..Default::default()
        };
        call!(self, accrual, upsert_program, req).await?;
        // A boost whose budget runs out mid-load: reservations, confirmations
        // and budget cuts all meet the kills.
        let spec = cpb::CampaignSpec {
            name: "Extra 2%".into(),
            terms: "2% more cashback while the budget lasts.".into(),
            schedule: Some(cpb::Schedule {
                timezone: "Europe/Rome".into(),
                starts_at: Some(to_timestamp(now_micros() - 86_400_000_000)),
                ends_at: Some(to_timestamp(now_micros() + 86_400_000_000)),
                windows: vec![],
            }),
            effect: Some(cpb::Effect {
                kind: Some(cpb::effect::Kind::ExtraPercent(cpb::ExtraPercent {
                    asset: "EUR".into(),
                    percent: "2".into(),
                })),
            }),
            budgets: vec![cpb::Budget {
                total: Some(eur_minor(BOOST_BUDGET)),
                per_day: None,
                low_percent: None,
            }],
            ..Default::default()
        };
        let req = cpb::CreateCampaignRequest {
            idempotency_key: "boost".into(),
            campaign_id: "boost".into(),
            spec: Some(spec),
            ..Default::default()
        };
        call!(self, campaign, create_campaign, req).await?;
        let req = cpb::ScheduleCampaignRequest {
            idempotency_key: "boost-on".into(),
            campaign_id: "boost".into(),
        };
        call!(self, campaign, schedule_campaign, req).await?;
        let referral_program = rpb::ReferralProgram {
            referrer_reward: Some(rpb::ReferrerReward {
                kind: Some(rpb::referrer_reward::Kind::Percent("5".into())),
            }),
            ..Default::default()
        };
        let req = rpb::UpsertReferralProgramRequest {
            idempotency_key: "rp".into(),
            program: Some(referral_program),
            ..Default::default()
        };
        call!(self, referral, upsert_referral_program, req).await?;
        let mut codes = Vec::new();
        for r in 0..REFERRERS {
            let req = rpb::CreateReferralCodeRequest {
                idempotency_key: format!("code-{r}"),
                referrer_customer_id: format!("r{r}"),
                referrer_email: format!("r{r}@example.com"),
                ..Default::default()
            };
            let code = call!(self, referral, create_referral_code, req).await?;
            codes.push(code.code.unwrap_or_default().code);
        }
        for i in 0..CUSTOMERS {
            let req = apb::EnrollMemberRequest {
                idempotency_key: format!("enrol-{i}"),
                program_id: PROGRAM.into(),
                customer_id: customer(i),
                referral_code: if i < REFERRED {
                    codes[i % REFERRERS].clone()
                } else {
                    String::new()
                },
                ..Default::default()
            };
            call!(self, accrual, enroll_member, req).await?;
            let req = wpb::CreditRequest {
                idempotency_key: format!("top-up-{i}"),
                customer_id: customer(i),
                amount: Some(eur_minor(TOP_UP)),
                funded_by: Some(wpb::AccountRef {
                    kind: wpb::AccountKind::Funding as i32,
                    id: "promo".into(),
                }),
                description: "welcome money".into(),
                ..Default::default()
            };
            call!(self, wallet, credit, req).await?;
            self.note(|r| r.add(&customer(i), TOP_UP));
        }
        Ok(())
    }

    /// Records an order of `prices`; returns the reward the client was told.
    pub async fn purchase(&self, order: &str, who: &str, prices: &[i64]) -> anyhow::Result<()> {
        let purchase = apb::Purchase {
            program_id: PROGRAM.into(),
            order_id: order.into(),
            customer_id: who.into(),
            currency: "EUR".into(),
            lines: prices
                .iter()
                .enumerate()
                .map(|(i, &p)| apb::PurchaseLine {
                    line_id: format!("l{i}"),
                    sku: format!("sku-{i}"),
                    category: "shoes".into(),
                    unit_price: Some(eur_minor(p)),
                    quantity: 1,
                    discount: None,
                })
                .collect(),
            channel: Ch::Online as i32,
            store_id: String::new(),
            occurred_at: Some(to_timestamp(now_micros())),
        };
        let req = apb::RecordPurchaseRequest {
            idempotency_key: format!("buy-{order}"),
            purchase: Some(purchase),
        };
        let answer = call!(self, accrual, record_purchase, req).await?;
        let mut earned = 0;
        for reward in &answer.rewards {
            if reward.amount.as_ref().is_some_and(|m| m.asset == "EUR") {
                earned += minor_of(reward.amount.as_ref())?;
            }
        }
        self.note(|r| {
            r.add(who, earned);
            *r.acknowledged.entry("purchase").or_default() += 1;
        });
        Ok(())
    }

    /// Returns one line of an order.
    pub async fn give_back(&self, order: &str, who: &str, line: usize) -> anyhow::Result<()> {
        let req = apb::RecordReturnRequest {
            idempotency_key: format!("ret-{order}-{line}"),
            program_id: PROGRAM.into(),
            order_id: order.into(),
            return_id: format!("ret-{order}-{line}"),
            lines: vec![apb::ReturnLine {
                line_id: format!("l{line}"),
                quantity: 1,
            }],
            occurred_at: Some(to_timestamp(now_micros())),
        };
        let answer = call!(self, accrual, record_return, req).await?;
        let mut reversed = 0;
        for m in answer.reversed.iter().filter(|m| m.asset == "EUR") {
            reversed += minor_of(Some(m))?;
        }
        self.note(|r| {
            r.add(who, -reversed);
            *r.acknowledged.entry("return").or_default() += 1;
        });
        Ok(())
    }

    /// Holds `minor` of a customer's money at checkout and captures `capture` of it.
    pub async fn checkout(
        &self,
        who: &str,
        reference: &str,
        minor: i64,
        capture: i64,
    ) -> anyhow::Result<()> {
        let req = wpb::AuthorizeRequest {
            idempotency_key: format!("hold-{reference}"),
            customer_id: who.into(),
            amount: Some(eur_minor(minor)),
            ttl: Some(prost_types::Duration {
                seconds: 600,
                nanos: 0,
            }),
            reference: reference.into(),
        };
        let hold = match call!(self, wallet, authorize, req).await {
            Ok(h) => h.hold.unwrap_or_default(),
            Err(s) if s.code() == Code::FailedPrecondition => {
                self.note(|r| *r.refused.entry("hold").or_default() += 1);
                return Ok(());
            }
            Err(s) => anyhow::bail!("hold {reference}: {s:?}"),
        };
        let req = wpb::CaptureRequest {
            idempotency_key: format!("capture-{reference}"),
            hold_id: hold.hold_id,
            amount: Some(eur_minor(capture)),
        };
        call!(self, wallet, capture, req)
            .await
            .map_err(|s| anyhow::anyhow!("capture {reference}: {s:?}"))?;
        self.note(|r| {
            r.add(who, -capture);
            *r.acknowledged.entry("hold and capture").or_default() += 1;
        });
        Ok(())
    }

    /// What the wallet holds for `who` in EUR: available + pending + held.
    pub async fn total(&self, who: &str) -> anyhow::Result<i64> {
        let req = wpb::GetBalanceRequest {
            customer_id: who.into(),
            asset: "EUR".into(),
            as_of: None,
        };
        let b = call!(self, wallet, get_balance, req).await?;
        let mut total = 0;
        for b in b.balances.iter().filter(|b| b.asset == "EUR") {
            total += minor_of(b.available.as_ref())?
                + minor_of(b.pending.as_ref())?
                + minor_of(b.held.as_ref())?;
        }
        Ok(total)
    }
}

/// A tenant and a write key, made with the platform admin key.
pub async fn shop_key(chan: Channel, admin_key: &str) -> anyhow::Result<String> {
    let client = Client::new(chan.clone(), admin_key.into());
    let admin = AdminServiceClient::new(chan);
    let tenant = adm::CreateTenantRequest {
        idempotency_key: "tenant".into(),
        tenant: Some(adm::Tenant {
            tenant_id: "shop".into(),
            name: "Shop".into(),
            ..Default::default()
        }),
    };
    client
        .until_answered(|| {
            let (mut admin, req) = (admin.clone(), client.request(tenant.clone()));
            async move { admin.create_tenant(req).await }
        })
        .await?;
    let key = adm::CreateApiKeyRequest {
        idempotency_key: "key".into(),
        tenant_id: "shop".into(),
        name: "load".into(),
        scopes: vec![adm::Scope {
            service: "*".into(),
            access: adm::Access::Write as i32,
        }],
        expires_at: None,
    };
    let key = client
        .until_answered(|| {
            let (mut admin, req) = (admin.clone(), client.request(key.clone()));
            async move { admin.create_api_key(req).await }
        })
        .await?;
    Ok(key.secret)
}

/// One worker: its own customers, orders and holds, until `until`.
pub async fn work(
    client: Client,
    worker: usize,
    workers: usize,
    until: tokio::time::Instant,
) -> anyhow::Result<()> {
    let mine: Vec<String> = (0..CUSTOMERS)
        .filter(|i| i % workers == worker)
        .map(customer)
        .collect();
    let mut orders: Vec<(String, String, Vec<bool>)> = Vec::new(); // order, customer, line returned
    let mut n = 0;
    while tokio::time::Instant::now() < until {
        n += 1;
        let who = mine[rand::random::<u32>() as usize % mine.len()].clone();
        let dice = rand::random::<u32>() % 10;
        let open: Vec<usize> = (0..orders.len())
            .filter(|&o| orders[o].2.iter().any(|r| !r))
            .collect();
        if dice < 5 || open.is_empty() {
            let lines = 1 + rand::random::<u32>() as usize % 4;
            let prices: Vec<i64> = (0..lines)
                .map(|_| 100 + i64::from(rand::random::<u32>() % 15_000))
                .collect();
            let order = format!("w{worker}-o{n}");
            client.purchase(&order, &who, &prices).await?;
            orders.push((order, who, vec![false; lines]));
        } else if dice < 7 {
            let o = open[rand::random::<u32>() as usize % open.len()];
            let line = orders[o].2.iter().position(|r| !r).unwrap_or(0);
            orders[o].2[line] = true;
            client.give_back(&orders[o].0, &orders[o].1, line).await?;
        } else if dice < 8 {
            // Every line left of one order returned at the same moment.
            let o = open[rand::random::<u32>() as usize % open.len()];
            let (order, owner, returned) = &mut orders[o];
            let lines: Vec<usize> = (0..returned.len()).filter(|&l| !returned[l]).collect();
            lines.iter().for_each(|&l| returned[l] = true);
            let all = lines.iter().map(|&l| client.give_back(order, owner, l));
            for r in futures::future::join_all(all).await {
                r?;
            }
        } else if dice < 9 {
            let hold = 50 + i64::from(rand::random::<u32>() % 500);
            let capture = hold - i64::from(rand::random::<u32>() % 50);
            client
                .checkout(&who, &format!("w{worker}-cart{n}"), hold, capture)
                .await?;
        } else {
            let price = 1_000 + i64::from(rand::random::<u32>() % 10_000);
            let cashback = 50 + i64::from(rand::random::<u32>() % 500);
            let end = rand::random::<u32>() % 3;
            let session = format!("w{worker}-s{n}");
            client
                .checkout_session(&who, &session, (price, cashback), end)
                .await?;
        }
    }
    Ok(())
}
