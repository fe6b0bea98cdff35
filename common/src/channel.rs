//! The one way a service opens a channel to another service, and the one
//! place that decides what every service-to-service call carries.
//!
//! [`upstream`] builds a lazily connected channel (connect and request
//! timeouts, HTTP/2 keep-alive) wrapped in [`Outgoing`], a tonic interceptor
//! that sets the caller's credential for the tenant a call acts for and the
//! W3C trace context. A caller's upstream port makes its requests with
//! [`acting_for`]; no handler builds a `Request` or inserts a header by hand.
use std::{sync::Arc, time::Duration};

use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{ClientTlsConfig, Endpoint},
};

use crate::{auth::Issuer, balance::Balanced, telemetry, tenant::TenantId};

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one call may take when its caller set no deadline.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 PING interval on idle connections (a dead peer is noticed, not waited on).
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a PING may go unanswered before the connection is dropped.
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// A channel to another service's replicas with [`Outgoing`] on every call.
pub type Upstream = InterceptedService<Balanced, Outgoing>;

/// The endpoint every service-to-service channel starts from (connect
/// timeout, no Nagle delay, HTTP/2 keep-alive); `name` says which upstream a
/// bad URL belongs to (`upstreams.<name>`). No request timeout: [`upstream`]
/// adds one, the gateway forwards its caller's deadline instead.
pub fn endpoint(name: &str, url: &str) -> anyhow::Result<Endpoint> {
    Ok(Endpoint::from_shared(url.to_owned())
        .map_err(|e| anyhow::anyhow!("upstreams.{name} {url:?}: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .keep_alive_while_idle(true))
}

/// Lazily connected channels to the replicas of service `name` at `urls`
/// (a DNS name, re-resolved, or a comma-separated list; see [`Balanced`];
/// `https://` ones verified with `tls`), every call carrying a credential
/// from `issuer` for `name`.
pub fn upstream(
    name: &str,
    urls: &str,
    issuer: Arc<Issuer>,
    tls: Option<ClientTlsConfig>,
) -> anyhow::Result<Upstream> {
    let owned = name.to_owned();
    let balanced = Balanced::new(
        name,
        urls,
        Arc::new(move |url: &str| Ok(endpoint(&owned, url)?.timeout(REQUEST_TIMEOUT))),
        tls,
    )?;
    Ok(InterceptedService::new(
        balanced,
        Outgoing {
            issuer,
            audience: Arc::from(name),
        },
    ))
}

/// The tenant a service-to-service call acts for, carried in the request's
/// extensions from the caller's port to [`Outgoing`].
#[derive(Clone, Debug)]
pub struct ActingFor(pub TenantId);

/// A request for `message` acting for `tenant`.
pub fn acting_for<T>(tenant: &TenantId, message: T) -> Request<T> {
    let mut req = Request::new(message);
    req.extensions_mut().insert(ActingFor(tenant.clone()));
    req
}

/// Who, for audit trails, a call acting for a tenant is made on behalf of
/// (the gateway's caller's key id); carried like [`ActingFor`].
#[derive(Clone, Debug)]
pub struct OnBehalfOf(pub String);

/// As [`acting_for`], on behalf of `actor` (an operator's key id).
pub fn acting_as<T>(tenant: &TenantId, actor: &str, message: T) -> Request<T> {
    let mut req = acting_for(tenant, message);
    req.extensions_mut().insert(OnBehalfOf(actor.to_owned()));
    req
}

/// Sets, on every outgoing call acting for a tenant (from [`ActingFor`]), a
/// credential for the upstream naming the tenant, the actor (from
/// [`OnBehalfOf`], else the issuer) and the issuer's scopes; and the current
/// span's W3C trace context.
#[derive(Clone, Debug)]
pub struct Outgoing {
    issuer: Arc<Issuer>,
    audience: Arc<str>,
}

impl Interceptor for Outgoing {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(ActingFor(tenant)) = req.extensions().get::<ActingFor>() {
            let actor = req
                .extensions()
                .get::<OnBehalfOf>()
                .map_or(self.issuer.name(), |a| a.0.as_str());
            let token = self
                .issuer
                .mint(&self.audience, tenant, actor, self.issuer.scopes())?;
            let value = MetadataValue::try_from(format!("Bearer {token}"))
                .map_err(|_| Status::internal("credential is not a header value"))?;
            req.metadata_mut().insert("authorization", value);
        }
        telemetry::inject_metadata(req.metadata_mut());
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_rides_from_extensions_to_a_credential() -> anyhow::Result<()> {
        use crate::auth::{Keys, Verifier, generate_pem};
        let keys = Arc::new(Keys::from_pem(&generate_pem()?)?);
        let issuer = Issuer::service(keys.clone(), "accrual", &["wallet:write"], REQUEST_TIMEOUT)?;
        let mut out = Outgoing {
            issuer: Arc::new(issuer),
            audience: Arc::from("wallet"),
        };
        let tenant = TenantId::parse("acme").map_err(anyhow::Error::msg)?;
        let sent = out.call(acting_for(&tenant, ()))?;
        let authorization = sent
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let caller = Verifier::new(keys, "wallet")
            .authorize("/boomerang.wallet.v1.WalletService/Credit", authorization)?;
        assert_eq!(
            caller.map(|c| (c.tenant, c.actor)),
            Some((tenant, "accrual".into()))
        );
        // Without a tenant nothing is invented.
        let sent = out.call(Request::new(()))?;
        assert!(sent.metadata().get("authorization").is_none());
        Ok(())
    }

    #[test]
    fn bad_urls_name_their_upstream() {
        let err = endpoint("wallet", "not a url").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("upstreams.wallet")));
    }
}
