//! Forwarding of a whole service to its upstream, without decoding messages.
//!
//! Each call is authenticated, then goes out with an internal credential for
//! its upstream in place of the caller's (tenant, key id and scopes, signed
//! with the platform key, short-lived) and the caller's W3C trace context,
//! spread over the upstream's replicas (`common::balance`). Bodies pass
//! through as bytes (a request's one message buffered, responses and streams
//! not); upstream statuses and their details pass back untouched.
use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use boomerang_common::{auth::Issuer, balance::Balanced, error::AppError, telemetry};
use http::{HeaderValue, Request, Response};
use tonic::{Status, body::Body};
use tower::{Service, ServiceExt as _};
use tracing::Instrument as _;

use crate::{auth::Authenticator, limits::Limits};

/// Forwards every method of one service.
#[derive(Clone, Debug)]
pub struct Forward {
    service: &'static str,
    audience: &'static str,
    upstream: Balanced,
    auth: Authenticator,
    limits: Limits,
    issuer: Arc<Issuer>,
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
        issuer: Arc<Issuer>,
        tls: Option<tonic::transport::ClientTlsConfig>,
    ) -> anyhow::Result<Self> {
        // The caller's deadline bounds each call (no fixed request timeout).
        let upstream = Balanced::new(
            service,
            upstream,
            std::sync::Arc::new(move |url: &str| {
                Ok(boomerang_common::channel::endpoint(service, url)?
                    .connect_timeout(connect_timeout)
                    .http2_adaptive_window(true))
            }),
            tls,
        )?;
        // Who the credential is for.
        let audience = boomerang_common::auth::scope::short_name(service)
            .ok_or_else(|| anyhow::anyhow!("{service} is no Boomerang service"))?;
        Ok(Self {
            service,
            audience,
            upstream,
            auth,
            limits,
            issuer,
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
            tracing::Span::current().record("tenant", principal.tenant.as_str());
            let credential = this
                .issuer
                .mint(
                    this.audience,
                    &principal.tenant,
                    &principal.key_id,
                    &principal.scopes,
                )
                .and_then(|token| {
                    HeaderValue::try_from(format!("Bearer {token}"))
                        .map_err(|e| AppError::Internal(anyhow::anyhow!("credential header: {e}")))
                });
            let credential = match credential {
                Ok(c) => c,
                Err(e) => return Ok(Status::from(e).into_http()),
            };
            let headers = req.headers_mut();
            // Nothing of the caller's vouches for anything upstream: its key
            // gives way to our credential, and no x-boomerang-* passes.
            let ours: Vec<http::HeaderName> = headers
                .keys()
                .filter(|k| k.as_str().starts_with("x-boomerang-"))
                .cloned()
                .collect();
            for name in ours {
                headers.remove(name);
            }
            headers.insert(http::header::AUTHORIZATION, credential);
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
            let sent = this.upstream.oneshot(req);
            Ok(sent.instrument(span).await.unwrap_or_else(|e| {
                // Our own refusals (no replica, a request too large) as they are.
                if let Some(status) = e.downcast_ref::<Status>() {
                    return Status::new(status.code(), status.message()).into_http();
                }
                tracing::warn!(service, error = %e, "upstream unreachable");
                Status::unavailable(format!("{service} is unavailable: {e}")).into_http()
            }))
        })
    }
}
