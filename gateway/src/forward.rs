//! Forwarding of a whole service to its upstream, without decoding messages.
//!
//! Each call is authenticated, gets the key's tenant as `x-boomerang-tenant`
//! (any such header from the client is replaced), the caller's W3C trace
//! context, and goes out on one pooled HTTP/2 channel per upstream. Bodies,
//! unary or streaming, pass through as bytes; upstream statuses and their
//! details pass back untouched.
use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use boomerang_common::{error::AppError, telemetry, tenant::TENANT_HEADER};
use http::{HeaderValue, Request, Response};
use tonic::{Status, body::Body, transport::Channel};
use tower::{Service, ServiceExt as _};
use tracing::Instrument as _;

use crate::{auth::Authenticator, limits::Limits};

/// Forwards every method of one service.
#[derive(Clone, Debug)]
pub struct Forward {
    service: &'static str,
    channel: Channel,
    auth: Authenticator,
    limits: Limits,
    default_deadline: Duration,
}

impl Forward {
    /// To `upstream` (e.g. `http://wallet-svc:50061`), connecting lazily.
    pub fn new(
        service: &'static str,
        upstream: &str,
        connect_timeout: Duration,
        auth: Authenticator,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        // The caller's deadline bounds each call (no fixed request timeout).
        let channel = boomerang_common::channel::endpoint(service, upstream)?
            .connect_timeout(connect_timeout)
            .http2_adaptive_window(true)
            .connect_lazy();
        Ok(Self {
            service,
            channel,
            auth,
            limits,
            default_deadline: Duration::from_secs(30),
        })
    }

    /// The deadline upstream calls get when the caller gives none.
    pub fn with_default_deadline(mut self, deadline: Duration) -> Self {
        self.default_deadline = deadline;
        self
    }
}

impl Service<Request<Body>> for Forward {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let authorization = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            let arrived = std::time::Instant::now();
            let principal = match this.auth.authorize(authorization, req.uri().path()).await {
                Ok(p) => p,
                Err(e) => return Ok(Status::from(e).into_http()),
            };
            if let Err(e) = this.limits.check(&principal) {
                return Ok(Status::from(e).into_http());
            }
            let headers = req.headers_mut();
            // Upstreams trust x-boomerang-* headers; only the gateway sets them.
            let ours: Vec<http::HeaderName> = headers
                .keys()
                .filter(|k| k.as_str().starts_with("x-boomerang-"))
                .cloned()
                .collect();
            for name in ours {
                headers.remove(name);
            }
            headers.remove(http::header::AUTHORIZATION); // upstreams trust the tenant header only
            match (
                HeaderValue::from_str(principal.tenant.as_str()),
                HeaderValue::from_str(&principal.key_id),
            ) {
                (Ok(tenant), Ok(actor)) => {
                    headers.insert(TENANT_HEADER, tenant);
                    headers.insert(boomerang_common::tenant::ACTOR_HEADER, actor);
                }
                (Err(e), _) | (_, Err(e)) => {
                    let e = AppError::Internal(anyhow::anyhow!("gateway headers: {e}"));
                    return Ok(Status::from(e).into_http());
                }
            }
            // The upstream call is a span of its own; the upstream continues it.
            let span = tracing::info_span!(
                "boomerang.gateway.forward",
                otel.kind = "client",
                service = this.service,
                tenant = %principal.tenant,
            );
            span.in_scope(|| telemetry::inject_headers(headers));
            // The upstream gets what is left of the caller's deadline (or the default), never more.
            let budget =
                boomerang_common::server::grpc_timeout(headers).unwrap_or(this.default_deadline);
            let Some(left) = budget
                .checked_sub(arrived.elapsed())
                .filter(|d| !d.is_zero())
            else {
                return Ok(
                    Status::deadline_exceeded("deadline exceeded at the gateway").into_http(),
                );
            };
            if let Ok(v) = HeaderValue::from_str(&format!("{}u", left.as_micros().min(99_999_999)))
            {
                headers.insert("grpc-timeout", v);
            }
            let service = this.service;
            let sent = async move { this.channel.ready_oneshot().await?.call(req).await };
            Ok(sent.instrument(span).await.unwrap_or_else(|e| {
                tracing::warn!(service, error = %e, "upstream unreachable");
                Status::unavailable(format!("{service} is unavailable: {e}")).into_http()
            }))
        })
    }
}
