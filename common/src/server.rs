//! The gRPC server every service runs: its own services plus `grpc.health.v1`
//! and server reflection (v1 and v1alpha, which grpcurl 1.8 speaks), behind
//! one tower stack, with graceful shutdown.
use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use http::{Request, Response};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{
    Status,
    body::Body,
    server::NamedService,
    service::Routes,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::ServingStatus;
use tower::{
    Layer, Service, ServiceBuilder, limit::GlobalConcurrencyLimitLayer, load_shed::LoadShedLayer,
};
use tracing::Instrument as _;

use crate::{
    auth::{Verifier, VerifyLayer},
    config::ServerConfig,
    db::Db,
    telemetry::adopt_remote_parent,
};

/// The health service name Kubernetes' readiness probe asks for: SERVING while
/// the database answers (migrations ran before the listener was bound), NOT_SERVING
/// when it does not and once shutdown begins. Liveness asks for `""`, which is
/// SERVING for as long as the process serves: a database outage must take pods
/// out of the load balancer, not restart them.
pub const READINESS: &str = "readiness";

const HEALTH: &str = "grpc.health.v1.Health";
const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

/// The services one server exposes, with health and reflection for each.
pub struct GrpcServer {
    layer: &'static str,
    routes: Routes,
    names: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    readiness: Option<Db>,
    verifier: Option<Arc<Verifier>>,
}

impl Default for GrpcServer {
    fn default() -> Self {
        Self::new()
    }
}

impl GrpcServer {
    /// Health and reflection only; add services with [`GrpcServer::serve_service`].
    pub fn new() -> Self {
        Self {
            layer: "service",
            routes: Routes::default(),
            names: Vec::new(),
            descriptor_sets: vec![
                boomerang_proto::FILE_DESCRIPTOR_SET,
                tonic_health::pb::FILE_DESCRIPTOR_SET,
                // google.rpc.BadRequest and the other error details, so
                // grpcurl and buf curl decode an error's details by name.
                tonic_types::pb::FILE_DESCRIPTOR_SET,
            ],
            readiness: None,
            verifier: None,
        }
    }

    /// Serves only calls whose internal credential `verifier` accepts (every
    /// service; the gateway authenticates its callers itself). Health and
    /// reflection need none.
    pub fn verifying(mut self, verifier: Verifier) -> Self {
        self.verifier = Some(Arc::new(verifier));
        self
    }

    /// Labels its request metrics `layer="gateway"` (see [`ObserveLayer`]).
    pub fn at_the_gateway(mut self) -> Self {
        self.layer = "gateway";
        self
    }

    /// Reports [`READINESS`] by whether `db` answers, checked every
    /// `server.readiness_interval_ms`.
    pub fn ready_when_reachable(mut self, db: Db) -> Self {
        self.readiness = Some(db);
        self
    }

    /// Adds a generated service; health reports it SERVING while the server runs.
    pub fn serve_service<S>(mut self, svc: S) -> Self
    where
        S: Service<Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes = self.routes.add_service(svc);
        self
    }

    /// Serves `boomerang.admin.v1.JobService` over `db`'s jobs: `service`'s
    /// parked jobs, for operators (through the gateway).
    pub fn serve_jobs(
        self,
        service: boomerang_proto::admin::v1::Service,
        db: Db,
        clock: crate::time::Clock,
    ) -> Self {
        use boomerang_proto::admin::v1::job_service_server::JobServiceServer;
        self.serve_service(JobServiceServer::new(crate::jobs::admin::JobAdmin::new(
            db, clock, service,
        )))
    }

    /// Adds a service under an explicit name (the gateway's forwarding routes).
    pub fn add_named<S>(mut self, name: &'static str, svc: S) -> Self
    where
        S: Service<Request<Body>, Error = Infallible, Response = Response<Body>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        use tower::ServiceExt as _;
        self.names.push(name);
        let router = std::mem::take(self.routes.axum_router_mut());
        *self.routes.axum_router_mut() = router.route_service(
            &format!("/{name}/{{*rest}}"),
            svc.map_request(|req: Request<axum::body::Body>| req.map(Body::new)),
        );
        self
    }

    /// Serves on `listener` until `shutdown`, then drains in-flight calls for
    /// at most `drain_timeout_ms`. Long because start-up order matters and
    /// is easiest to read in one place: health, reflection, the stack,
    /// readiness, then serving and draining.
    pub async fn serve(
        self,
        listener: TcpListener,
        cfg: &ServerConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (health_reporter, health) = tonic_health::server::health_reporter();
        for name in &self.names {
            health_reporter
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        // Not ready until the first check has passed.
        health_reporter
            .set_service_status(READINESS, ServingStatus::NotServing)
            .await;
        let mut routes = self.routes.add_service(health);
        let mut v1 = tonic_reflection::server::Builder::configure();
        let mut v1alpha = tonic_reflection::server::Builder::configure();
        for set in &self.descriptor_sets {
            v1 = v1.register_encoded_file_descriptor_set(set);
            v1alpha = v1alpha.register_encoded_file_descriptor_set(set);
        }
        for name in self
            .names
            .iter()
            .copied()
            .chain([HEALTH, REFLECTION_V1, REFLECTION_V1ALPHA])
        {
            v1 = v1.with_service_name(name);
            v1alpha = v1alpha.with_service_name(name);
        }
        routes = routes
            .add_service(v1.build_v1()?)
            .add_service(v1alpha.build_v1alpha()?);

        // Outermost first: every call gets a span and metrics, even a shed one;
        // shedding happens before a call waits for a slot; the deadline covers
        // only the call's own work.
        let stack = ServiceBuilder::new()
            .layer(ObserveLayer { layer: self.layer })
            .map_response(undecodable_is_invalid) // the caller's fault, counted as such
            .option_layer(self.verifier.map(VerifyLayer::new)) // before it may wait for a slot
            .layer(LoadShedLayer::new()) // saturated -> RESOURCE_EXHAUSTED (tonic maps Overloaded)
            .layer(GlobalConcurrencyLimitLayer::new(
                cfg.max_concurrent_requests,
            ))
            .layer(DeadlineLayer::new(Duration::from_millis(
                cfg.default_timeout_ms,
            )))
            .into_inner();

        let token = CancellationToken::new();
        let trigger = token.clone();
        let names = self.names.clone();
        let readiness = self.readiness;
        let interval = Duration::from_millis(cfg.readiness_interval_ms);
        tokio::spawn(async move {
            tokio::pin!(shutdown);
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // One task owns readiness, so a check finishing late cannot mark a
            // draining server ready again.
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    _ = tick.tick() => {
                        let ready = match &readiness {
                            Some(db) => db.ping(interval).await,
                            None => true,
                        };
                        let status = if ready { ServingStatus::Serving } else { ServingStatus::NotServing };
                        health_reporter.set_service_status(READINESS, status).await;
                    }
                }
            }
            // Readiness drops first, so load balancers stop sending new calls.
            for name in names.into_iter().chain([READINESS]) {
                health_reporter
                    .set_service_status(name, ServingStatus::NotServing)
                    .await;
            }
            trigger.cancel();
        });
        let drain = Duration::from_millis(cfg.drain_timeout_ms);
        let stopped = token.clone();
        let mut builder = Server::builder();
        if let Some(tls) = cfg.tls.server()? {
            builder = builder.tls_config(tls)?;
        }
        if cfg.max_connection_age_ms > 0 {
            builder = builder
                .max_connection_age(Duration::from_millis(cfg.max_connection_age_ms))
                .max_connection_age_grace(drain);
        }
        let server = builder
            .layer(stack)
            .add_routes(routes.prepare())
            // tonic's own `tcp_nodelay` applies only to listeners it binds: set
            // it on the accepted sockets, or replies wait ~40 ms for delayed ACKs.
            .serve_with_incoming_shutdown(incoming(listener), async move {
                stopped.cancelled().await;
            });
        tokio::select! {
            res = server => res?,
            () = async { token.cancelled().await; tokio::time::sleep(drain).await } => {
                tracing::warn!("drain timeout: closing remaining calls and streams");
            }
        }
        Ok(())
    }
}

/// The accepted connections of `listener`, with `TCP_NODELAY` set on each.
pub fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Binds `addr` now, so the caller knows the port (port 0 in tests) before serving.
pub async fn bind(cfg: &ServerConfig) -> anyhow::Result<TcpListener> {
    TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("binding {}: {e}", cfg.listen))
}

/// What tonic's codec says of a request it cannot decode (garbage bytes, a
/// truncated message, invalid UTF-8 in a string).
const UNDECODABLE: &str = "failed to decode Protobuf message";

/// tonic answers a request it cannot decode with INTERNAL; it is the
/// caller's fault: INVALID_ARGUMENT with a field violation on `request`.
/// (Our own INTERNAL answers never carry that message: they say "internal error".)
pub fn undecodable_is_invalid<B>(mut res: Response<B>) -> Response<B> {
    let headers = res.headers_mut();
    let internal = headers.get("grpc-status").is_some_and(|v| v == "13");
    let Some(said) = Status::from_header_map(headers)
        .filter(|s| internal && s.message().starts_with(UNDECODABLE))
    else {
        return res;
    };
    let why: String = said.message().chars().take(256).collect();
    let status = Status::from(crate::error::AppError::invalid("request", why));
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        headers.remove(name);
    }
    if status.add_header(headers).is_err() {
        tracing::warn!("could not rewrite an undecodable request's status");
    }
    res
}

/// A span and metrics per call, parented on the caller's W3C trace context.
/// Its metrics carry `layer`: "gateway" for what callers asked of the one
/// door, "service" for what a service served (the gateway's forwarded calls
/// included), so a dashboard counts a call once by picking one.
#[derive(Clone, Copy, Debug)]
pub struct ObserveLayer {
    /// "gateway" or "service".
    pub layer: &'static str,
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            layer: self.layer,
        }
    }
}

/// See [`ObserveLayer`].
#[derive(Clone, Debug)]
pub struct Observe<S> {
    inner: S,
    layer: &'static str,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let method: Arc<str> = Arc::from(req.uri().path());
        // The tenant is recorded once a credential (or the gateway's key check) names it.
        let span = tracing::info_span!(
            "grpc.server",
            otel.kind = "server",
            rpc.method = %method,
            tenant = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        adopt_remote_parent(&span, req.headers());
        let started = Instant::now();
        let layer = self.layer;
        let fut = span.in_scope(|| self.inner.call(req));
        Box::pin(
            async move {
                let res = fut.await;
                let code = match &res {
                    // Errors come trailers-only, with the status in the headers;
                    // a normal response carries it in trailers (OK unless a stream fails).
                    Ok(r) => r
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i32>().ok())
                        .unwrap_or(0),
                    Err(_) => tonic::Code::Unavailable as i32,
                };
                let code_name = format!("{:?}", tonic::Code::from_i32(code));
                tracing::Span::current().record("rpc.grpc.status_code", code);
                // The access log (tenant and method are in the span): never a
                // header or a body. Quiet it with `boomerang::access=warn`.
                tracing::info!(
                    target: "boomerang::access",
                    code = %code_name,
                    layer,
                    duration_ms = started.elapsed().as_secs_f64() * 1e3,
                    "answered"
                );
                metrics::counter!("boomerang_grpc_requests_total",
                    "method" => method.to_string(), "code" => code_name, "layer" => layer)
                .increment(1);
                metrics::histogram!("boomerang_grpc_request_duration_seconds",
                    "method" => method.to_string(), "layer" => layer)
                .record(started.elapsed().as_secs_f64());
                res
            }
            .instrument(span),
        )
    }
}

/// Applies the caller's `grpc-timeout`, or a default, and answers
/// DEADLINE_EXCEEDED when the call has not produced its response by then.
#[derive(Clone, Copy, Debug)]
pub struct DeadlineLayer {
    default: Duration,
}

impl DeadlineLayer {
    /// With `default` for calls that carry no deadline.
    pub fn new(default: Duration) -> Self {
        Self { default }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            default: self.default,
        }
    }
}

/// See [`DeadlineLayer`].
#[derive(Clone, Debug)]
pub struct Deadline<S> {
    inner: S,
    default: Duration,
}

impl<S, B, RB> Service<Request<B>> for Deadline<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    RB: Default + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let budget = grpc_timeout(req.headers()).unwrap_or(self.default);
        let fut = self.inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout(budget, fut).await {
                Ok(res) => res,
                Err(_) => Ok(Status::deadline_exceeded(format!(
                    "deadline of {} ms exceeded",
                    budget.as_millis()
                ))
                .into_http()),
            }
        })
    }
}

/// Parses the `grpc-timeout` header: up to 8 digits and a unit (H M S m u n).
pub fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let raw = headers.get("grpc-timeout")?.to_str().ok()?;
    if raw.len() < 2 || raw.len() > 9 {
        return None;
    }
    let (digits, unit) = raw.split_at(raw.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3_600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &'static str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("grpc-timeout", http::HeaderValue::from_static(v));
        h
    }

    #[test]
    fn parses_grpc_timeout_units() {
        assert_eq!(
            grpc_timeout(&headers("100m")),
            Some(Duration::from_millis(100))
        );
        assert_eq!(grpc_timeout(&headers("2S")), Some(Duration::from_secs(2)));
        assert_eq!(
            grpc_timeout(&headers("1H")),
            Some(Duration::from_secs(3_600))
        );
        assert_eq!(grpc_timeout(&headers("5x")), None);
        assert_eq!(grpc_timeout(&headers("123456789S")), None);
        assert_eq!(grpc_timeout(&http::HeaderMap::new()), None);
    }
}
