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

use super::{
    GRPC_CANCELLED, HandlerError, LazyShared, Overrides, RequestSpan, RequestView, grpc_code,
};
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
/// # gRPC (tonic)
/// A request with `content-type: application/grpc...` is a gRPC call: its span is named
/// `{package.Service}/{Method}` (from the path), with `rpc.system` `grpc`, `rpc.service`,
/// `rpc.method` and `rpc.grpc.status_code` (from the `grpc-status` trailer, or the header of a
/// trailers-only answer; absent is OK). Any status but OK makes the span an error (the
/// Application Insights request: `success` false, `responseCode` the gRPC code), although HTTP
/// said 200; a call to a method the server does not have (UNIMPLEMENTED) is named `POST`, so
/// clients cannot mint span names. The span lasts until the trailers are sent. Trailers are
/// read from axum's body, so put the layer on an axum `Router`; for tonic:
///
/// ```ignore
/// let app = tonic::service::Routes::new(MyServiceServer::new(service))
///     .into_axum_router()
///     .layer(opencensus_settings::OpencensusLayer::new());
/// tonic::transport::Server::builder()
///     .add_routes(tonic::service::Routes::from(app))
///     .serve(addr)
///     .await?;
/// ```
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

/// The names the propagators read, made once: a lookup by `&str` parses and validates the
/// name again on every request.
static KNOWN_HEADERS: [http::HeaderName; 9] = [
    http::HeaderName::from_static("traceparent"),
    http::HeaderName::from_static("tracestate"),
    http::HeaderName::from_static("baggage"),
    http::HeaderName::from_static("b3"),
    http::HeaderName::from_static("x-b3-traceid"),
    http::HeaderName::from_static("x-b3-spanid"),
    http::HeaderName::from_static("x-b3-sampled"),
    http::HeaderName::from_static("x-b3-flags"),
    http::HeaderName::from_static("x-cloud-trace-context"),
];

fn known_header(key: &str) -> Option<&'static http::HeaderName> {
    KNOWN_HEADERS.iter().find(|name| name.as_str() == key)
}

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match known_header(key) {
            Some(name) => self.0.get(name),
            None => self.0.get(key),
        }
        .and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let all = match known_header(key) {
            Some(name) => self.0.get_all(name),
            None => self.0.get_all(key),
        };
        let values: Vec<&str> = all.iter().filter_map(|v| v.to_str().ok()).collect();
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

/// Whether a request is a gRPC call (`content-type: application/grpc`, `+proto`, ...).
fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for OpencensusService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    ResBody: 'static,
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
        // Exclusion first: an excluded request reads nothing more of the request.
        let live = shared.live();
        if let Some(cx) = shared.excluded(live.as_deref(), host, uri.path(), &Headers(headers)) {
            let future = {
                let _guard = cx.clone().attach();
                self.inner.call(req)
            };
            return ResponseFuture {
                inner: future.with_context(cx),
                span: None,
            };
        }
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
            // gRPC is always POST: other requests skip the header lookup.
            grpc: req.method() == http::Method::POST && is_grpc(headers),
        };
        let traced = shared.start(live.as_deref(), &view);
        let future = {
            let _guard = traced.cx.clone().attach();
            self.inner.call(req)
        };
        ResponseFuture {
            inner: future.with_context(traced.cx),
            span: traced.span,
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
    ResBody: 'static,
    E: fmt::Display,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if !this.span.as_ref().is_some_and(|s| s.grpc) {
            // HTTP (and untraced requests): the span ends with the response.
            return super::poll_request(this.inner, this.span, cx, |span, result| match result {
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
            });
        }
        // A gRPC call whose status comes in the trailers: the body finishes its span.
        let mut deferred: Option<(RequestSpan, u16)> = None;
        let result = std::task::ready!(super::poll_request(
            this.inner,
            this.span,
            cx,
            |span, result| match result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers();
                    match headers.get("grpc-status") {
                        // Trailers-only: the status is in the headers.
                        Some(code) => span.finish_grpc(
                            Some(status),
                            Some(grpc_code(code.as_bytes())),
                            headers
                                .get("grpc-message")
                                .map(|m| super::grpc_message(m.as_bytes()))
                                .as_deref(),
                            response.extensions().get::<HandlerError>(),
                        ),
                        None => deferred = Some((span, status)),
                    }
                }
                Err(error) => span.finish(
                    None,
                    Some(&HandlerError::new(
                        std::any::type_name::<E>(),
                        error.to_string(),
                    )),
                ),
            }
        ));
        let mut result = result;
        if let (Some((span, status)), Ok(response)) = (deferred, &mut result) {
            follow_trailers(response, span, status);
        }
        Poll::Ready(result)
    }
}

static UNREADABLE_WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Hands a gRPC call's span to its response body, which ends it at the trailers. The body is
/// wrapped in place, so the response keeps its type: this works for axum's body (what an axum
/// `Router`, and tonic's `Routes::into_axum_router()`, answer with).
fn follow_trailers<B: 'static>(response: &mut http::Response<B>, span: RequestSpan, status: u16) {
    let body: &mut dyn std::any::Any = response.body_mut();
    if let Some(body) = body.downcast_mut::<axum::body::Body>() {
        let inner = std::mem::replace(body, axum::body::Body::empty());
        // An empty body (no trailers will come) ends the call now: no status is OK.
        if http_body::Body::is_end_stream(&inner) {
            span.finish_grpc(Some(status), None, None, None);
            *body = inner;
            return;
        }
        *body = axum::body::Body::new(TracedBody {
            inner,
            pending: Some((span, status)),
        });
        return;
    }
    if !UNREADABLE_WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        crate::diag::warn(format_args!(
            "a gRPC call's status comes in the trailers of a `{}` body, which the tracing layer \
             cannot read, so it is recorded as OK: put the layer on an axum Router (for tonic: \
             `Routes::into_axum_router().layer(OpencensusLayer::new())`)",
            std::any::type_name::<B>()
        ));
    }
    span.finish_grpc(Some(status), None, None, None);
}

pin_project_lite::pin_project! {
    /// A gRPC response body: the inner body, unchanged. For a gRPC call
    /// whose status comes in the trailers, it ends the span when they do (the span then lasts
    /// as long as the stream). A body dropped unfinished ends it as CANCELLED.
    struct TracedBody<B> {
        #[pin]
        inner: B,
        pending: Option<(RequestSpan, u16)>,
    }

    impl<B> PinnedDrop for TracedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some((span, status)) = this.pending.take() {
                // Ends seen while polling finish the span there: this one was cut off.
                span.finish_grpc(Some(status), Some(GRPC_CANCELLED), None, None);
            }
        }
    }
}

impl<B> fmt::Debug for TracedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedBody")
            .field("grpc_pending", &self.pending.is_some())
            .finish_non_exhaustive()
    }
}

impl<B: http_body::Body> http_body::Body for TracedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let mut inner = this.inner;
        let frame = std::task::ready!(inner.as_mut().poll_frame(cx));
        if this.pending.is_some() {
            let end = match &frame {
                Some(Ok(f)) => f.trailers_ref().map(|t| {
                    (
                        t.get("grpc-status").map(|c| grpc_code(c.as_bytes())),
                        t.get("grpc-message")
                            .map(|m| super::grpc_message(m.as_bytes())),
                    )
                }),
                // The stream broke: UNKNOWN, as a client sees it.
                Some(Err(_)) => Some((Some(2), None)),
                // Ended without trailers: no status is OK.
                None => Some((None, None)),
            }
            // The last data frame of a body without trailers: it will not be polled again.
            .or_else(|| inner.is_end_stream().then_some((None, None)));
            if let Some((code, message)) = end
                && let Some((span, status)) = this.pending.take()
            {
                span.finish_grpc(Some(status), code, message.as_deref(), None);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
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
