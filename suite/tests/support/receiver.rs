//! A webhook receiver for tests: an HTTP server on 127.0.0.1:0 that keeps
//! every call, refuses the first ones when asked, and verifies signatures as
//! a receiver would; and the calls that set a tenant up to be notified.
use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{extract::State, http::HeaderMap, http::StatusCode, routing::post};
use boomerang_proto::{
    accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient},
    common::v1::Money,
    notify::v1::{self as npb, webhook_service_client::WebhookServiceClient},
};
use notify_svc::domain::signature::Secret;
use tonic::transport::Channel;

use super::with_key;

/// What a receiver was sent: every call, and what it accepted.
#[derive(Debug, Default)]
pub struct Inbox {
    /// Calls to answer 503 before accepting.
    pub refuse: usize,
    /// Every call: (webhook-id, webhook-timestamp, webhook-signature, body).
    pub calls: Vec<(String, String, String, bytes::Bytes)>,
    /// Accepted event ids, in order.
    pub accepted: Vec<String>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inbox: Arc<Mutex<Inbox>>,
}

async fn hook(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    h: HeaderMap,
    body: bytes::Bytes,
) -> StatusCode {
    let header = |n: &str| {
        h.get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let Ok(mut inbox) = inbox.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    let id = header("webhook-id");
    inbox.calls.push((
        id.clone(),
        header("webhook-timestamp"),
        header("webhook-signature"),
        body,
    ));
    if inbox.refuse > 0 {
        inbox.refuse -= 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    inbox.accepted.push(id);
    StatusCode::NO_CONTENT
}

impl Receiver {
    /// An HTTP server on 127.0.0.1:0 refusing its first `refuse` calls.
    pub async fn start(refuse: usize) -> anyhow::Result<Self> {
        let inbox = Arc::new(Mutex::new(Inbox {
            refuse,
            ..Inbox::default()
        }));
        let app = axum::Router::new()
            .route("/hook", post(hook))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { addr, inbox })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Inbox) -> T) -> anyhow::Result<T> {
        let mut inbox = self
            .inbox
            .lock()
            .map_err(|_| anyhow::anyhow!("inbox poisoned"))?;
        Ok(f(&mut inbox))
    }

    /// The accepted events, parsed, once `done` holds of them (10 s at most).
    pub async fn until(
        &self,
        what: &str,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        for _ in 0..200 {
            let events = self.accepted()?;
            if done(&events) {
                return Ok(events);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("{what}: not within 10 s; got {:?}", self.accepted()?)
    }

    pub fn accepted(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        self.with(|inbox| {
            inbox
                .accepted
                .iter()
                .filter_map(|id| inbox.calls.iter().rev().find(|c| &c.0 == id))
                .map(|c| serde_json::from_slice(&c.3))
                .collect::<Result<Vec<_>, _>>()
        })?
        .map_err(Into::into)
    }

    /// Every call verifies with `secret`, as a receiver checks it.
    pub fn verify_all(&self, secret: &str) -> anyhow::Result<usize> {
        let secret = Secret::parse(secret).map_err(anyhow::Error::msg)?;
        let now = boomerang_common::time::now_micros() / 1_000_000;
        self.with(|inbox| {
            for (id, ts, sig, body) in &inbox.calls {
                secret
                    .verify((id, ts, sig), body, now, 300)
                    .map_err(|e| anyhow::anyhow!("{id}: {e:?}"))?;
            }
            Ok(inbox.calls.len())
        })?
    }
}

pub fn types(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A tenant with the demo program, a key and a webhook to `url`; the key and
/// the webhook's secret.
pub async fn tenant_with_hook(
    suite: &boomerang::Suite,
    gw: &Channel,
    tenant: &str,
    url: &str,
    types: &[&str],
) -> anyhow::Result<(String, npb::Webhook, String)> {
    suite.demo_program(tenant).await?;
    let key = suite.create_key(tenant, &["*:admin"]).await?;
    let create = npb::CreateWebhookRequest {
        idempotency_key: "hook".into(),
        url: url.into(),
        types: types.iter().map(|t| (*t).to_owned()).collect(),
        description: "test receiver".into(),
    };
    let mut hooks = WebhookServiceClient::new(gw.clone());
    let made = hooks
        .create_webhook(with_key(create.clone(), &key)?)
        .await?
        .into_inner();
    let again = hooks
        .create_webhook(with_key(create, &key)?)
        .await?
        .into_inner();
    // The same request answers the same webhook; its secret only once.
    assert_eq!(
        (again.webhook.as_ref(), again.secret.as_str()),
        (made.webhook.as_ref(), "")
    );
    assert!(made.secret.starts_with("whsec_"));
    Ok((key, made.webhook.unwrap_or_default(), made.secret))
}

/// Enrols `customer` in "demo" (once) and records `order` of `amount` EUR
/// of shoes at `occurred_at`.
pub async fn purchase(
    gw: &Channel,
    key: &str,
    customer: &str,
    order: &str,
    amount: &str,
    occurred_at: i64,
) -> anyhow::Result<()> {
    let mut accrual = AccrualServiceClient::new(gw.clone());
    let enrol = apb::EnrollMemberRequest {
        idempotency_key: format!("e-{customer}"),
        program_id: "demo".into(),
        customer_id: customer.into(),
        ..Default::default()
    };
    accrual.enroll_member(with_key(enrol, key)?).await?;
    let line = apb::PurchaseLine {
        line_id: "l".into(),
        sku: "s".into(),
        category: "shoes".into(),
        unit_price: Some(Money {
            amount: amount.into(),
            asset: "EUR".into(),
        }),
        quantity: 1,
        discount: None,
    };
    let p = apb::Purchase {
        program_id: "demo".into(),
        order_id: order.into(),
        customer_id: customer.into(),
        currency: "EUR".into(),
        lines: vec![line],
        channel: boomerang_proto::common::v1::Channel::Online as i32,
        store_id: String::new(),
        occurred_at: Some(boomerang_common::time::to_timestamp(occurred_at)),
    };
    let record = apb::RecordPurchaseRequest {
        idempotency_key: order.into(),
        purchase: Some(p),
    };
    accrual.record_purchase(with_key(record, key)?).await?;
    Ok(())
}
