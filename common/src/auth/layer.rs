//! The server side: every call to a service carries a credential the
//! [`Verifier`] accepts, or is refused before any handler runs.
use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::Either;
use http::{Request, Response};
use tonic::Status;
use tower::{Layer, Service};

use super::credential::Verifier;

/// Verifies the credential of every call; the [`super::Caller`] it names
/// rides in the request's extensions to the handler.
#[derive(Clone, Debug)]
pub struct VerifyLayer {
    verifier: Arc<Verifier>,
}

impl VerifyLayer {
    /// With `verifier`.
    pub fn new(verifier: Arc<Verifier>) -> Self {
        Self { verifier }
    }
}

impl<S> Layer<S> for VerifyLayer {
    type Service = Verify<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Verify {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// See [`VerifyLayer`].
#[derive(Clone, Debug)]
pub struct Verify<S> {
    inner: S,
    verifier: Arc<Verifier>,
}

impl<S, B, RB> Service<Request<B>> for Verify<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    RB: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, std::future::Ready<Result<Response<RB>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let authorization = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match self.verifier.authorize(req.uri().path(), authorization) {
            Ok(Some(caller)) => {
                tracing::Span::current().record("tenant", caller.tenant.as_str());
                req.extensions_mut().insert(caller);
                Either::Left(self.inner.call(req))
            }
            Ok(None) => Either::Left(self.inner.call(req)),
            Err(e) => Either::Right(std::future::ready(Ok(Status::from(e).into_http()))),
        }
    }
}
