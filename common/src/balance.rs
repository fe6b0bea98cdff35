//! Client-side load spreading over an upstream's replicas.
//!
//! An upstream is one URL whose host is a DNS name (in Kubernetes, a headless
//! Service: one address per ready pod), re-resolved every
//! [`RESOLVE_INTERVAL`], or a comma-separated list of URLs. Each address gets
//! its own lazily connected HTTP/2 channel; each call goes to the less busy
//! of two replicas picked at random (power of two choices on calls in
//! flight). A replica that cannot be connected to is left out for a while
//! (1 s, doubling to 30 s) and the call, which it never received, goes to
//! another one, so a replica that died costs no caller an error. Other
//! transport failures leave it out too; the caller's retry (with its
//! idempotency key) goes elsewhere.
//!
//! Request bodies are buffered (every Boomerang RPC sends one message), at
//! most [`MAX_REQUEST_BYTES`], so a call can be sent again.
use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{
        Arc, Mutex, RwLock, Weak,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use tonic::{
    Status,
    body::Body,
    transport::{Channel, ClientTlsConfig, Endpoint},
};
use tower::{Service, ServiceExt as _};

/// How often a DNS name is resolved again (Kubernetes' DNS answers for 5 s).
pub const RESOLVE_INTERVAL: Duration = Duration::from_secs(5);
/// The largest request a call may send (tonic's default decoding limit).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
const EJECT_FIRST: Duration = Duration::from_secs(1);
const EJECT_MAX: Duration = Duration::from_secs(30);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How each replica's endpoint is made from its URL.
pub type Configure = Arc<dyn Fn(&str) -> anyhow::Result<Endpoint> + Send + Sync>;

/// One address of the upstream.
struct Replica {
    addr: String,
    channel: Channel,
    in_flight: AtomicUsize,
    /// Left out until then after `failures` failures in a row.
    health: Mutex<(u32, Option<Instant>)>,
}

impl Replica {
    fn new(addr: String, channel: Channel) -> Arc<Self> {
        Arc::new(Self {
            addr,
            channel,
            in_flight: AtomicUsize::new(0),
            health: Mutex::new((0, None)),
        })
    }

    /// When it may be picked again (`None`: now).
    fn ejected_until(&self, now: Instant) -> Option<Instant> {
        let health = self.health.lock().ok()?;
        health.1.filter(|until| *until > now)
    }

    fn failed(&self, upstream: &str) {
        if let Ok(mut health) = self.health.lock() {
            health.0 = health.0.saturating_add(1);
            let backoff = EJECT_FIRST
                .saturating_mul(1 << health.0.saturating_sub(1).min(5))
                .min(EJECT_MAX);
            health.1 = Some(Instant::now() + backoff);
            tracing::warn!(upstream, replica = %self.addr, backoff_ms = backoff.as_millis() as u64, "replica left out");
        }
        metrics::counter!("boomerang_upstream_ejections_total", "upstream" => upstream.to_owned())
            .increment(1);
    }

    fn succeeded(&self) {
        if let Ok(mut health) = self.health.lock()
            && health.0 > 0
        {
            *health = (0, None);
        }
    }
}

struct Shared {
    name: String,
    replicas: RwLock<Arc<Vec<Arc<Replica>>>>,
}

impl Shared {
    fn replicas(&self) -> Arc<Vec<Arc<Replica>>> {
        self.replicas.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// The less busy of two healthy replicas (other than `not`), else the
    /// one back soonest; `None` when there is no other.
    fn pick(&self, not: Option<&Arc<Replica>>) -> Option<Arc<Replica>> {
        let all = self.replicas();
        let now = Instant::now();
        let others: Vec<&Arc<Replica>> = all
            .iter()
            .filter(|r| not.is_none_or(|n| !Arc::ptr_eq(r, n)))
            .collect();
        let healthy: Vec<&Arc<Replica>> = others
            .iter()
            .copied()
            .filter(|r| r.ejected_until(now).is_none())
            .collect();
        let chosen = match healthy.len() {
            0 => others
                .iter()
                .copied()
                .min_by_key(|r| r.ejected_until(now))?,
            1 => healthy[0],
            n => {
                let a = rand::random_range(0..n);
                let b = (a + 1 + rand::random_range(0..n - 1)) % n;
                let load = |i: usize| healthy[i].in_flight.load(Ordering::Relaxed);
                healthy[if load(b) < load(a) { b } else { a }]
            }
        };
        Some(chosen.clone())
    }
}

/// A tower service spreading calls over an upstream's replicas; cheap to clone.
#[derive(Clone)]
pub struct Balanced {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Balanced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Balanced")
            .field("upstream", &self.shared.name)
            .field("replicas", &self.shared.replicas().len())
            .finish()
    }
}

impl Balanced {
    /// Over `urls` (one URL, or several separated by commas) of upstream
    /// `name`, each replica's endpoint made by `configure`, and `https://`
    /// ones verified with `tls` against their URL's host name. A DNS name
    /// is re-resolved in the background while the service lives (needs a
    /// Tokio runtime); until it first resolves, calls go to the name itself.
    pub fn new(
        name: &str,
        urls: &str,
        configure: Configure,
        tls: Option<ClientTlsConfig>,
    ) -> anyhow::Result<Self> {
        let urls: Vec<&str> = urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        anyhow::ensure!(!urls.is_empty(), "upstreams.{name}: no URL");
        let mut replicas = Vec::new();
        for url in &urls {
            let uri: Uri = url
                .parse()
                .map_err(|e| anyhow::anyhow!("upstreams.{name} {url:?}: {e}"))?;
            let authority = uri.authority().map(ToString::to_string).unwrap_or_default();
            let endpoint = secure(
                configure(url)?,
                &uri,
                uri.host().unwrap_or_default(),
                &tls,
                name,
            )?;
            replicas.push(Replica::new(authority, endpoint.connect_lazy()));
        }
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            replicas: RwLock::new(Arc::new(replicas)),
        });
        if let [url] = urls.as_slice()
            && let Some(target) = Target::of(url)?
        {
            let handle = tokio::runtime::Handle::try_current().map_err(|_| {
                anyhow::anyhow!("upstreams.{name}: resolving needs a Tokio runtime")
            })?;
            handle.spawn(resolve(Arc::downgrade(&shared), target, configure, tls));
        }
        Ok(Self { shared })
    }

    /// The addresses it spreads over now (for tests and logs).
    pub fn addrs(&self) -> Vec<String> {
        self.shared
            .replicas()
            .iter()
            .map(|r| r.addr.clone())
            .collect()
    }
}

/// `endpoint` for `url`, with TLS verifying `server_name` when it is `https://`.
fn secure(
    endpoint: Endpoint,
    url: &Uri,
    server_name: &str,
    tls: &Option<ClientTlsConfig>,
    upstream: &str,
) -> anyhow::Result<Endpoint> {
    if url.scheme_str() != Some("https") {
        return Ok(endpoint);
    }
    let tls = tls.clone().ok_or_else(|| {
        anyhow::anyhow!("upstreams.{upstream} is https:// but server.tls.ca_file is not set")
    })?;
    Ok(endpoint.tls_config(tls.domain_name(server_name.trim_matches(['[', ']'])))?)
}

/// Checks an upstream setting (`upstreams.<name>`): one `http(s)://host:port`
/// URL, or several separated by commas.
pub fn validate_urls(name: &str, urls: &str) -> Result<(), String> {
    let pieces: Vec<&str> = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if pieces.is_empty() {
        return Err(format!("{name} is empty"));
    }
    for url in pieces {
        let ok = (url.starts_with("http://") || url.starts_with("https://"))
            && url.parse::<Uri>().is_ok_and(|u| u.authority().is_some());
        if !ok {
            return Err(format!(
                "{name} must be http(s)://host:port URLs, separated by commas; got {url:?}"
            ));
        }
    }
    Ok(())
}

/// A URL whose host is a name to resolve.
struct Target {
    url: Uri,
    host: String,
    port: u16,
}

impl Target {
    fn of(url: &str) -> anyhow::Result<Option<Self>> {
        let uri: Uri = url.parse()?;
        let Some(host) = uri.host() else {
            return Ok(None);
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.parse::<IpAddr>().is_ok() {
            return Ok(None);
        }
        let default_port = if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        };
        Ok(Some(Self {
            host: host.to_owned(),
            port: uri.port_u16().unwrap_or(default_port),
            url: uri,
        }))
    }

    /// This URL with `addr` as its authority.
    fn at(&self, addr: SocketAddr) -> String {
        let scheme = self.url.scheme_str().unwrap_or("http");
        let path = self.url.path().trim_end_matches('/');
        format!("{scheme}://{addr}{path}")
    }
}

/// Keeps `shared`'s replicas those `target` resolves to, until it is dropped.
/// A failed or empty answer keeps what was there: DNS trouble never empties
/// an upstream.
async fn resolve(
    shared: Weak<Shared>,
    target: Target,
    configure: Configure,
    tls: Option<ClientTlsConfig>,
) {
    let mut interval = Duration::ZERO;
    loop {
        tokio::time::sleep(interval).await;
        interval = RESOLVE_INTERVAL;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let found = match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
            Ok(addrs) => addrs.collect::<Vec<_>>(),
            Err(e) => {
                tracing::debug!(upstream = %shared.name, error = %e, "resolving failed; keeping the replicas known");
                continue;
            }
        };
        if found.is_empty() {
            continue;
        }
        let current = shared.replicas();
        let known: HashMap<&str, &Arc<Replica>> =
            current.iter().map(|r| (r.addr.as_str(), r)).collect();
        let mut next = Vec::new();
        for addr in &found {
            let key = addr.to_string();
            if let Some(replica) = known.get(key.as_str()) {
                next.push((*replica).clone());
                continue;
            }
            // The origin stays the name (the `:authority` and, with TLS, the SNI).
            let endpoint = configure(&target.at(*addr))
                .and_then(|e| secure(e, &target.url, &target.host, &tls, &shared.name));
            let endpoint = match endpoint {
                Ok(e) => e.origin(target.url.clone()),
                Err(e) => {
                    tracing::warn!(upstream = %shared.name, error = %e, "bad resolved address");
                    continue;
                }
            };
            next.push(Replica::new(key, endpoint.connect_lazy()));
        }
        let changed = next.len() != current.len()
            || next
                .iter()
                .zip(current.iter())
                .any(|(a, b)| !Arc::ptr_eq(a, b));
        if changed && !next.is_empty() {
            tracing::info!(upstream = %shared.name, replicas = next.len(), "replicas resolved");
            metrics::gauge!("boomerang_upstream_replicas", "upstream" => shared.name.clone())
                .set(next.len() as f64);
            if let Ok(mut replicas) = shared.replicas.write() {
                *replicas = Arc::new(next);
            }
        }
    }
}

/// Whether `err`, or an error it wraps, is an `E`.
fn caused_by<E: std::error::Error + 'static>(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.is::<E>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The connection was never made: the call never left.
fn never_connected(err: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<tonic::ConnectError>(err)
}

fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<tonic::TimeoutExpired>(err)
}

/// Sends `req` (its parts and buffered body) to `replica`.
async fn send(
    replica: &Replica,
    parts: &http::request::Parts,
    body: Bytes,
) -> Result<Response<Body>, BoxError> {
    let mut req = Request::builder()
        .method(parts.method.clone())
        .uri(parts.uri.clone())
        .version(parts.version)
        .body(Body::new(Full::new(body).map_err(|never| match never {})))?;
    *req.headers_mut() = parts.headers.clone();
    let _counted = InFlight::new(&replica.in_flight);
    replica
        .channel
        .clone()
        .oneshot(req)
        .await
        .map_err(Into::into)
}

/// Counts a call in flight until it ends, or is dropped (a caller's
/// deadline, a cancelled stream): a leaked count would make a replica look
/// busy for ever.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<Request<Body>> for Balanced {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = Limited::new(body, MAX_REQUEST_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    Box::new(Status::resource_exhausted(format!(
                        "request not read (at most {MAX_REQUEST_BYTES} bytes): {e}"
                    ))) as BoxError
                })?
                .to_bytes();
            let no_replica = || -> BoxError {
                Box::new(Status::unavailable(format!(
                    "no replica of {}",
                    shared.name
                )))
            };
            let first = shared.pick(None).ok_or_else(no_replica)?;
            let err = match send(&first, &parts, body.clone()).await {
                Ok(res) => {
                    first.succeeded();
                    return Ok(res);
                }
                Err(e) => e,
            };
            if timed_out(err.as_ref()) {
                return Err(err);
            }
            first.failed(&shared.name);
            // A call the replica never received goes to another one, once.
            match shared.pick(Some(&first)) {
                Some(second) if never_connected(err.as_ref()) => {
                    let res = send(&second, &parts, body).await;
                    match &res {
                        Ok(_) => second.succeeded(),
                        Err(e) if !timed_out(e.as_ref()) => second.failed(&shared.name),
                        Err(_) => {}
                    }
                    res
                }
                _ => Err(err),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Configure {
        Arc::new(|url: &str| Ok(Endpoint::from_shared(url.to_owned())?))
    }

    #[tokio::test]
    async fn lists_and_literals_are_not_resolved() -> anyhow::Result<()> {
        let two = Balanced::new(
            "wallet",
            "http://127.0.0.1:1, http://127.0.0.2:1",
            plain(),
            None,
        )?;
        assert_eq!(two.addrs(), ["127.0.0.1:1", "127.0.0.2:1"]);
        assert!(Target::of("http://127.0.0.1:1")?.is_none());
        assert!(Target::of("http://[::1]:1")?.is_none());
        let named = Target::of("http://wallet-headless.loyalty:50061")?;
        assert_eq!(
            named.map(|t| (
                t.host.clone(),
                t.port,
                t.at(SocketAddr::from(([10, 0, 0, 7], 50061)))
            )),
            Some((
                "wallet-headless.loyalty".into(),
                50061,
                "http://10.0.0.7:50061".into()
            ))
        );
        assert!(Balanced::new("wallet", " , ", plain(), None).is_err());
        let no_ca = Balanced::new("wallet", "https://127.0.0.1:1", plain(), None).err();
        assert!(no_ca.is_some_and(|e| e.to_string().contains("ca_file")));
        assert!(validate_urls("upstreams.wallet", "http://a:1, https://b:2").is_ok());
        for bad in ["", "a:1", "http://a:1,b:2", "http://"] {
            assert!(validate_urls("upstreams.wallet", bad).is_err(), "{bad:?}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn names_resolve_to_a_replica_per_address() -> anyhow::Result<()> {
        let b = Balanced::new("wallet", "http://localhost:50061", plain(), None)?;
        assert_eq!(b.addrs(), ["localhost:50061"], "the name until it resolves");
        crate::testing::eventually("localhost resolved", || {
            let b = b.clone();
            async move { Ok(b.addrs() == ["127.0.0.1:50061"]) }
        })
        .await
    }

    #[tokio::test]
    async fn a_call_given_up_on_is_no_longer_in_flight() -> anyhow::Result<()> {
        // A peer that accepts and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", silent.local_addr()?);
        let replica = Replica::new(url.clone(), Endpoint::from_shared(url)?.connect_lazy());
        let parts = Request::post("/boomerang.wallet.v1.WalletService/GetBalance")
            .body(())?
            .into_parts()
            .0;
        let call = send(&replica, &parts, Bytes::new());
        let gave_up = tokio::time::timeout(Duration::from_millis(100), call).await;
        assert!(gave_up.is_err(), "the silent peer answered");
        assert_eq!(replica.in_flight.load(Ordering::Relaxed), 0);
        Ok(())
    }

    #[tokio::test]
    async fn the_less_busy_healthy_replica_is_picked() {
        let lazy = |a: &str| {
            Replica::new(
                a.into(),
                Endpoint::from_static("http://127.0.0.1:1").connect_lazy(),
            )
        };
        let (a, b) = (lazy("a"), lazy("b"));
        let shared = Shared {
            name: "wallet".into(),
            replicas: RwLock::new(Arc::new(vec![a.clone(), b.clone()])),
        };
        a.in_flight.store(3, Ordering::Relaxed);
        assert!((0..20).all(|_| shared.pick(None).is_some_and(|r| Arc::ptr_eq(&r, &b))));
        b.failed("wallet");
        assert!((0..20).all(|_| shared.pick(None).is_some_and(|r| Arc::ptr_eq(&r, &a))));
        assert!(
            shared.pick(Some(&a)).is_some_and(|r| Arc::ptr_eq(&r, &b)),
            "the only other, though out"
        );
        b.succeeded();
        a.in_flight.store(0, Ordering::Relaxed);
        let picks_b = (0..1000)
            .filter(|_| shared.pick(None).is_some_and(|r| Arc::ptr_eq(&r, &b)))
            .count();
        assert!((400..=600).contains(&picks_b), "{picks_b} of 1000");
        // A call dropped before it ends (its caller gave up) is no longer counted.
        drop(InFlight::new(&a.in_flight));
        assert_eq!(a.in_flight.load(Ordering::Relaxed), 0);
    }
}
