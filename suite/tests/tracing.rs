//! W3C trace context crosses every hop: a purchase whose trace starts at the
//! caller shows up, under one trace id, in the gateway, accrual-svc,
//! campaign-svc (asked synchronously) and wallet-svc (credited later by
//! accrual's outbox relay, which stored the trace context with the message).
mod support;

use std::{collections::BTreeSet, sync::OnceLock};

use boomerang_common::{
    backend_tests,
    testing::{channel, eventually},
    time::to_timestamp,
};
use boomerang_proto::{
    accrual::v1::{self as apb, accrual_service_client::AccrualServiceClient},
    common::v1::Money,
    wallet::v1::{self as wpb, wallet_service_client::WalletServiceClient},
};
use opentelemetry::trace::{TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use support::{start, with_key};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// One in-memory exporter for the process: the OpenTelemetry layer is global.
fn exporter() -> &'static (InMemorySpanExporter, SdkTracerProvider) {
    static EXPORTER: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _ = tracing::subscriber::set_global_default(subscriber);
        (exporter, provider)
    })
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

fn eur(a: &str) -> Money {
    Money {
        amount: a.into(),
        asset: "EUR".into(),
    }
}

/// The gRPC methods served within `trace`.
fn served_in(trace: TraceId) -> anyhow::Result<BTreeSet<String>> {
    let spans = exporter().0.get_finished_spans()?;
    Ok(spans
        .iter()
        .filter(|s| s.span_context.trace_id() == trace && s.name == "grpc.server")
        .filter_map(|s| attribute(s, "rpc.method"))
        .collect())
}

/// The names of the spans above the first span named `name` in `trace`,
/// nearest first, across processes.
fn ancestors(trace: TraceId, name: &str) -> anyhow::Result<Vec<String>> {
    let spans = exporter().0.get_finished_spans()?;
    let in_trace: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_context.trace_id() == trace)
        .collect();
    let mut at = in_trace
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| anyhow::anyhow!("no span {name} in the trace"))?;
    let mut above = Vec::new();
    while let Some(parent) = in_trace
        .iter()
        .find(|s| s.span_context.span_id() == at.parent_span_id)
    {
        above.push(parent.name.to_string());
        at = parent;
    }
    Ok(above)
}

backend_tests! {
    async fn one_trace_crosses_gateway_accrual_campaign_and_wallet(backend) -> anyhow::Result<()> {
        exporter();
        let (suite, _dbs) = start(backend, gateway::limits::RateLimitConfig::default()).await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        let gw = channel(suite.addrs().gateway).await?;
        let mut accrual = AccrualServiceClient::new(gw.clone());
        let program = apb::Program {
            program_id: "cb".into(),
            name: "Cashback".into(),
            currency: "EUR".into(),
            earn_rules: vec![apb::EarnRule { asset: "EUR".into(), basis: apb::EarnBasis::Percent as i32, rate: "5".into() }],
            return_window_days: 14,
            ..Default::default()
        };
        let upsert = apb::UpsertProgramRequest { idempotency_key: "p".into(), program: Some(program), ..Default::default() };
        accrual.upsert_program(with_key(upsert, &key)?).await?;
        let enroll = apb::EnrollMemberRequest { idempotency_key: "e".into(), program_id: "cb".into(), customer_id: "c-1".into(), ..Default::default() };
        accrual.enroll_member(with_key(enroll, &key)?).await?;

        // The caller starts the trace and sends its traceparent, as a shop's checkout would.
        let checkout = tracing::info_span!("checkout");
        let trace = {
            use opentelemetry::trace::TraceContextExt as _;
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            checkout.context().span().span_context().trace_id()
        };
        assert_ne!(trace, TraceId::INVALID);
        let purchase = apb::Purchase {
            program_id: "cb".into(),
            order_id: "o-1".into(),
            customer_id: "c-1".into(),
            currency: "EUR".into(),
            lines: vec![apb::PurchaseLine { line_id: "l".into(), sku: "s".into(), category: "c".into(), unit_price: Some(eur("100.00")), quantity: 1, discount: None }],
            occurred_at: Some(to_timestamp(suite.clock().now())),
            channel: boomerang_proto::common::v1::Channel::Store as i32,
            ..Default::default()
        };
        let mut req = with_key(apb::RecordPurchaseRequest { idempotency_key: "o-1".into(), purchase: Some(purchase) }, &key)?;
        async {
            boomerang_common::telemetry::inject_metadata(req.metadata_mut());
            accrual.record_purchase(req).await
        }
        .instrument(checkout)
        .await?;

        // The wallet credit is made later, by the outbox relay.
        let wallet = WalletServiceClient::new(gw);
        eventually("the credit reaches the wallet", || {
            let (mut wallet, key) = (wallet.clone(), key.clone());
            async move {
                let get = wpb::GetBalanceRequest { customer_id: "c-1".into(), asset: "EUR".into(), as_of: None };
                let b = wallet.get_balance(with_key(get, &key)?).await?.into_inner();
                let pending = b.balances.first().and_then(|b| b.pending.clone()).map(|m| m.amount);
                anyhow::Ok(pending.as_deref() == Some("5.00"))
            }
        }).await?;

        let want = [
            "/boomerang.accrual.v1.AccrualService/RecordPurchase",
            "/boomerang.campaign.v1.CampaignService/ListApplicableCampaigns",
            "/boomerang.wallet.v1.WalletService/Credit",
        ];
        eventually("every hop in one trace", || async move {
            let served = served_in(trace)?;
            anyhow::Ok(want.iter().all(|m| served.contains(*m)))
        }).await?;
        // The gateway and accrual-svc both served RecordPurchase: two spans, one trace.
        let spans = exporter().0.get_finished_spans()?;
        let record = spans.iter().filter(|s| {
            s.span_context.trace_id() == trace && attribute(s, "rpc.method").as_deref() == Some(want[0])
        });
        assert_eq!(record.count(), 2, "gateway and accrual-svc spans of RecordPurchase");
        // Nested: accrual's operation, its call to campaign-svc, campaign's own
        // operation; later the outbox delivery, its call, the wallet's operation.
        let nested = [
            ("boomerang.campaign.campaigns.applicable", ["boomerang.accrual.upstream.applicable_offers", "boomerang.accrual.purchases.prepare"]),
            ("boomerang.accrual.relay.deliver", ["boomerang.accrual.purchases.store", "boomerang.gateway.forward"]),
            ("boomerang.wallet.ledger.credit", ["boomerang.accrual.upstream.credit", "boomerang.accrual.relay.deliver"]),
        ];
        // The relay's span ends after the wallet answered: wait for it too.
        let nested_all = || -> anyhow::Result<bool> {
            for (span, under) in nested {
                let Ok(above) = ancestors(trace, span) else { return Ok(false) };
                if !under.iter().all(|p| above.iter().any(|a| a == p)) {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        let _ = eventually("every operation nested under its caller", || async { nested_all() }).await;
        for (span, under) in nested {
            let above = ancestors(trace, span)?;
            for parent in under {
                assert!(above.iter().any(|a| a == parent), "{span} is not under {parent}: {above:?}");
            }
        }
        suite.stop().await
    }
}
