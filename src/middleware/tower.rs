//! The tower layer: [`OpencensusLayer`] + [`OpencensusService`], for axum, hyper, tonic and any
//! tower HTTP service.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry::context::WithContext;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tower_layer::Layer;
use tower_service::Service;

use super::{Begin, HandlerError, LazyShared, Overrides, RequestSpan, RequestView};
use crate::error::Error;
use crate::exclude::PathExcludeList;

/// Traces every request through the wrapped service as one OpenTelemetry SERVER span
/// (`"{METHOD} {route}"`), continuing the incoming trace, skipping excluded paths.
///
/// By default it uses what [`init_from_settings`](crate::init_from_settings) (or
/// [`init_with`](crate::init_with)) installed: tracer, propagator and `EXCLUDELIST_PATHS`. The
/// builder methods override per-router things only.
///
/// ```no_run
/// use axum::{Router, routing::get};
///
/// # async fn run() -> Result<(), opencensus_settings::Error> {
/// let _telemetry = opencensus_settings::init_from_settings()?;
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "user" }))
///     .layer(opencensus_settings::OpencensusLayer::new());
/// # Ok(()) }
/// ```
///
/// # Route templates
/// The naming rule itself is in one place (`middleware/name.rs`). With [`axum::Router::layer`] the layer sees axum's `MatchedPath`, so spans are named
/// `GET /users/{id}`. Requests that reach the router's fallback (404s) have no route and are
/// named by the method alone. A layer wrapping the whole `Router` from outside (for example
/// `ServiceBuilder::new().layer(OpencensusLayer::new()).service(router)`) runs before routing
/// and sees no route at all: every span is named by its method. Nested routers that each carry
/// the layer still produce one span per request (the innermost route names it).
///
/// # Client address
/// `client.address` is the socket peer, read from `ConnectInfo<SocketAddr>`: serve with
/// `into_make_service_with_connect_info::<SocketAddr>()` to have it. `X-Forwarded-*` is never
/// trusted.
#[derive(Clone, Debug, Default)]
pub struct OpencensusLayer {
    overrides: Overrides,
}

impl OpencensusLayer {
    /// A layer using what `init_from_settings()` / `init_with()` installed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses this propagator for this router instead of the configured one.
    pub fn with_propagator<P>(mut self, propagator: P) -> Self
    where
        P: TextMapPropagator + Send + Sync + 'static,
    {
        self.overrides.set_propagator(propagator);
        self
    }

    /// Uses these exclusion entries for this router instead of `EXCLUDELIST_PATHS`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidExclusion`](crate::ErrorKind::InvalidExclusion) for an empty or malformed entry.
    pub fn with_exclude_paths<S: AsRef<str>>(mut self, entries: &[S]) -> Result<Self, Error> {
        let list = PathExcludeList::parse(entries).map_err(|errors| {
            Error::from_problems(
                errors
                    .into_iter()
                    .map(|e| crate::resolve::exclusion_problem("exclusion", e))
                    .collect(),
            )
        })?;
        self.overrides.exclude = Some(list);
        Ok(self)
    }

    /// Records into this provider instead of the installed one (tests, or several providers in
    /// one process), without any global state.
    pub fn with_tracer_provider(mut self, provider: SdkTracerProvider) -> Self {
        self.overrides.provider = Some(provider);
        self
    }
}

impl<S> Layer<S> for OpencensusLayer {
    type Service = OpencensusService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OpencensusService {
            inner,
            shared: LazyShared::new(self.overrides.clone()),
        }
    }
}

/// The service made by [`OpencensusLayer`]. Errors of the inner service pass through unchanged.
#[derive(Clone, Debug)]
pub struct OpencensusService<S> {
    inner: S,
    shared: LazyShared,
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

fn version(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_11 => "1.1",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "unknown",
    }
}

fn route<B>(req: &http::Request<B>) -> Option<&str> {
    req.extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str())
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for OpencensusService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        if super::in_outer_request() {
            // An outer layer of ours traces (or excluded) this request already.
            if let Some(r) = route(&req) {
                let method = req.method().as_str();
                Context::map_current(|cx| RequestSpan::set_route(cx, method, r));
            }
            return ResponseFuture {
                inner: self.inner.call(req).with_current_context(),
                span: None,
            };
        }
        let shared = self.shared.get();
        let uri = req.uri();
        let headers = req.headers();
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()));
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let view = RequestView {
            method: req.method().as_str(),
            path: uri.path(),
            query: uri.query(),
            scheme: uri.scheme_str().unwrap_or("http"),
            host,
            route: route(&req),
            peer,
            version: version(req.version()),
            user_agent: headers
                .get(http::header::USER_AGENT)
                .and_then(|h| h.to_str().ok()),
            headers: &Headers(headers),
        };
        match shared.begin(&view) {
            Begin::Excluded(cx) => {
                let future = {
                    let _guard = cx.clone().attach();
                    self.inner.call(req)
                };
                ResponseFuture {
                    inner: future.with_context(cx),
                    span: None,
                }
            }
            Begin::Traced(span) => {
                let cx: Context = span.context().clone();
                let future = {
                    let _guard = cx.clone().attach();
                    self.inner.call(req)
                };
                ResponseFuture {
                    inner: future.with_context(cx),
                    span: Some(span),
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`OpencensusService`]: runs the handler in the request's context
    /// and ends the span when the response (or error, or panic) comes.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: WithContext<F>,
        span: Option<RequestSpan>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
    E: fmt::Display,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        super::poll_request(this.inner, this.span, cx, |span, result| match result {
            Ok(response) => {
                let error = response.extensions().get::<HandlerError>();
                span.finish(Some(response.status().as_u16()), error);
            }
            Err(error) => span.finish(
                None,
                Some(&HandlerError::new(
                    std::any::type_name::<E>(),
                    error.to_string(),
                )),
            ),
        })
    }
}

/// axum: the response is `E`'s own, carrying the error for the layer to record.
impl<E> axum::response::IntoResponse for super::TracedError<E>
where
    E: axum::response::IntoResponse + fmt::Display,
{
    fn into_response(self) -> axum::response::Response {
        let record = self.record();
        let mut response = self.0.into_response();
        response.extensions_mut().insert(record);
        response
    }
}
