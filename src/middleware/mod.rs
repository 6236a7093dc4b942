//! The framework-neutral request -> span logic. Each framework adapter fills in a
//! [`RequestView`] and reports the outcome; everything else happens here, once.
//!
//! Order of work per request, cheapest first: exclusion (no span work at all), context
//! extraction, the sampling decision (the sampler sees the method alone, unless sampling rules
//! read the attributes), then, only when the span records, its real name and attributes. With
//! the installed provider the middleware asks the live sampler itself, so a sampled-out
//! request never reaches the SDK: its context carries the span context alone.

#[cfg(feature = "actix")]
pub(crate) mod actix;
mod intern;
mod name;
#[cfg(feature = "axum")]
pub(crate) mod tower;

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::exclude::PathExcludeList;
use crate::tracer::{AnyTracer, Resolving, known_method};
use name::known_span_name;
#[cfg(feature = "axum")]
use name::span_name;

/// What the adapters know about a request.
pub(crate) struct RequestView<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) scheme: &'a str,
    /// The Host header (or the URI authority).
    pub(crate) host: Option<&'a str>,
    pub(crate) route: Option<&'a str>,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) version: &'static str,
    pub(crate) user_agent: Option<&'a str>,
    pub(crate) headers: &'a dyn Extractor,
    /// A gRPC call (`content-type: application/grpc...`): named by its method, finished by
    /// its `grpc-status`.
    pub(crate) grpc: bool,
}

/// An error recorded on the request span: the handler's `Err`, a response carrying
/// [`HandlerError`], or a panic.
#[derive(Debug, Clone)]
pub struct HandlerError {
    type_name: Cow<'static, str>,
    message: String,
}

impl HandlerError {
    /// An error of `type_name` with `message`.
    pub fn new(type_name: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        HandlerError {
            type_name: type_name.into(),
            message: message.into(),
        }
    }

    /// From any displayable error, typed by its Rust type name.
    pub fn from_error<E: fmt::Display + ?Sized>(error: &E) -> Self {
        HandlerError::new(std::any::type_name::<E>(), error.to_string())
    }

    /// The exception type recorded.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The exception message recorded.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Wraps a handler's error so it is recorded on the request span (as an `exception` event
/// with its own type name and message, span status error), while the response is `E`'s own.
/// With axum, `E` is an `IntoResponse`; with actix-web, a `ResponseError`.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use axum::http::StatusCode;
/// use opencensus_settings::TracedError;
///
/// #[derive(Debug)]
/// struct NotReady;
/// impl std::fmt::Display for NotReady {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("backend not ready") }
/// }
/// impl axum::response::IntoResponse for NotReady {
///     fn into_response(self) -> axum::response::Response { StatusCode::SERVICE_UNAVAILABLE.into_response() }
/// }
///
/// async fn handler() -> Result<&'static str, TracedError<NotReady>> {
///     Err(NotReady)?
/// }
/// # }
/// ```
///
/// actix-web records every error's type without it when the error's `Debug` starts with its
/// type name (as `#[derive(Debug)]` writes it); `TracedError` records the full path
/// (`my_app::DbDown`) whatever `Debug` says.
#[cfg(any(feature = "axum", feature = "actix"))]
#[derive(Debug)]
pub struct TracedError<E>(pub E);

#[cfg(any(feature = "axum", feature = "actix"))]
impl<E> From<E> for TracedError<E> {
    fn from(error: E) -> Self {
        TracedError(error)
    }
}

#[cfg(any(feature = "axum", feature = "actix"))]
impl<E: fmt::Display> fmt::Display for TracedError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(any(feature = "axum", feature = "actix"))]
impl<E: fmt::Display> TracedError<E> {
    /// What the span records for this error.
    pub(crate) fn record(&self) -> HandlerError {
        HandlerError::new(std::any::type_name::<E>(), self.0.to_string())
    }
}

/// Per-router state: tracer, propagator, exclusion list.
pub(crate) struct Shared {
    tracer: AnyTracer,
    propagator: Arc<dyn TextMapPropagator + Send + Sync>,
    /// A fixed list (the layer's own, or the defaults with nothing installed); else the live one.
    exclude: Option<PathExcludeList>,
    /// What is installed and may be reloaded (exclusion list, whether rules read attributes).
    live: Option<crate::live::LiveCell>,
    /// The tracer is the installed provider's, whose sampler is the live one: the middleware
    /// asks that sampler itself, before building a span.
    decides: bool,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("propagator", &self.propagator)
            .field("exclude", &self.exclude)
            .finish_non_exhaustive()
    }
}

/// What a layer was told to use instead of what `init_from_settings` installed.
#[derive(Clone, Default)]
pub(crate) struct Overrides {
    pub(crate) propagator: Option<Arc<dyn TextMapPropagator + Send + Sync>>,
    pub(crate) exclude: Option<PathExcludeList>,
    pub(crate) provider: Option<SdkTracerProvider>,
}

impl fmt::Debug for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Overrides")
            .field("propagator", &self.propagator)
            .field("exclude", &self.exclude)
            .field("provider", &self.provider.is_some())
            .finish()
    }
}

impl Overrides {
    /// Uses `propagator` instead of the installed one.
    pub(crate) fn set_propagator<P>(&mut self, propagator: P)
    where
        P: TextMapPropagator + Send + Sync + 'static,
    {
        self.propagator = Some(Arc::new(propagator));
    }

    /// Resolves the overrides against what is installed now.
    pub(crate) fn resolve(&self) -> Shared {
        let r = crate::tracer::resolve(
            "the tracing middleware",
            self.provider.as_ref(),
            self.propagator.as_ref(),
        );
        // What is installed may be reloaded: read per request. A layer's own list, or the
        // defaults when nothing is installed, are fixed.
        let live = r.installed.as_ref().map(|i| i.live.clone());
        let exclude = self.exclude.clone().or_else(|| {
            live.is_none().then(|| {
                PathExcludeList::parse(crate::settings::keys::DEFAULT_EXCLUDE_PATHS)
                    .unwrap_or_default()
            })
        });
        let decides =
            self.provider.is_none() && live.is_some() && matches!(r.tracer, AnyTracer::Sdk(_));
        Shared {
            tracer: r.tracer,
            propagator: r.propagator.unwrap_or_else(|| Arc::new(GlobalPropagator)),
            exclude,
            live,
            decides,
        }
    }
}

/// Lazily resolved shared state (resolved at the first request, so the order of building the
/// router and calling `init_from_settings()` does not matter). One `Arc`: axum clones the
/// service for every request.
#[derive(Clone, Debug, Default)]
pub(crate) struct LazyShared(Arc<(Overrides, Resolving<Shared>)>);

impl LazyShared {
    pub(crate) fn new(overrides: Overrides) -> Self {
        LazyShared(Arc::new((overrides, Resolving::default())))
    }

    pub(crate) fn get(&self) -> &Shared {
        let (overrides, cell) = &*self.0;
        cell.get(overrides.provider.is_some(), || overrides.resolve())
    }
}

#[derive(Debug)]
struct GlobalPropagator;

impl TextMapPropagator for GlobalPropagator {
    fn inject_context(
        &self,
        cx: &Context,
        injector: &mut dyn opentelemetry::propagation::Injector,
    ) {
        opentelemetry::global::get_text_map_propagator(|p| p.inject_context(cx, injector));
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        opentelemetry::global::get_text_map_propagator(|p| p.extract_with_context(cx, extractor))
    }

    fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
        opentelemetry::propagation::text_map_propagator::FieldIter::new(&[])
    }
}

/// gRPC's UNIMPLEMENTED status.
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) const GRPC_UNIMPLEMENTED: i64 = 12;

/// gRPC's CANCELLED status: what a call whose response was dropped unfinished ended with.
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) const GRPC_CANCELLED: i64 = 1;

/// `/package.Service/Method` as its service and method, when the path is exactly that shape
/// (identifier characters only, 256 bytes at most).
pub(crate) fn grpc_method(path: &str) -> Option<(&str, &str)> {
    if path.len() > 256 {
        return None;
    }
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    let ident = |s: &str, dots: bool| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || (dots && b == b'.'))
    };
    (ident(service, true) && ident(method, false)).then_some((service, method))
}

/// A `grpc-message` value as text: percent-decoded (as gRPC encodes it), lossy UTF-8, at
/// most 256 characters.
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) fn grpc_message(raw: &[u8]) -> String {
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match (
            raw[i],
            raw.get(i + 1).copied().and_then(hex),
            raw.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                bytes.push(hi * 16 + lo);
                i += 3;
            }
            (b, _, _) => {
                bytes.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&bytes).chars().take(256).collect()
}

/// A `grpc-status` value as a code; one that is not a number is UNKNOWN (2), as gRPC clients
/// read it.
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) fn grpc_code(value: &[u8]) -> i64 {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|c| (0..=i64::from(u16::MAX)).contains(c))
        .unwrap_or(2)
}

/// The outcome of [`Shared::begin`].
#[cfg_attr(not(feature = "actix"), allow(dead_code))]
pub(crate) enum Begin {
    /// Excluded: run the handler in this context (incoming trace, telemetry suppressed).
    Excluded(Context),
    /// Traced: run the handler in its context; finish its span, if it records.
    Traced(Traced),
}

/// A request that is traced: the context its handler runs in, and its span when the span
/// records. One that does not (sampled out) has nothing to finish, its end is a no-op: the
/// adapters then poll the handler bare (no clock read at the end, no look-up of the
/// response's error, no unwind guard).
pub(crate) struct Traced {
    pub(crate) cx: Context,
    pub(crate) span: Option<RequestSpan>,
}

impl Traced {
    fn new(cx: Context, recording: bool, grpc: bool) -> Self {
        let span = recording.then(|| RequestSpan {
            cx: cx.clone(),
            grpc,
        });
        Traced { cx, span }
    }
}

/// The server span of one request, while it records.
pub(crate) struct RequestSpan {
    cx: Context,
    /// Finished with [`RequestSpan::finish_grpc`], by its `grpc-status`.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) grpc: bool,
}

/// Polls a request's inner future; when it completes (or panics) ends the span, if any, with
/// `finish` (a panic is recorded, then continues unchanged). Shared by the framework adapters.
pub(crate) fn poll_request<F, T>(
    inner: std::pin::Pin<&mut F>,
    span: &mut Option<RequestSpan>,
    cx: &mut std::task::Context<'_>,
    finish: impl FnOnce(RequestSpan, &T),
) -> std::task::Poll<T>
where
    F: std::future::Future<Output = T>,
{
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
    use std::task::Poll;
    if span.is_none() {
        return inner.poll(cx);
    }
    let result = match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
        Ok(Poll::Pending) => return Poll::Pending,
        Ok(Poll::Ready(result)) => result,
        Err(payload) => {
            if let Some(span) = span.take() {
                span.panicked(payload.as_ref());
            }
            resume_unwind(payload)
        }
    };
    if let Some(span) = span.take() {
        finish(span, &result);
    }
    Poll::Ready(result)
}

/// Whether the current context already belongs to a request traced (or excluded) by an outer
/// layer of ours: nested routers that each carry the layer make one span per request.
pub(crate) fn in_outer_request() -> bool {
    Context::map_current(|cx| {
        cx.is_telemetry_suppressed()
            || (cx.has_active_span() && !cx.span().span_context().is_remote())
    })
}

/// A request span's attributes (the semantic conventions' HTTP server set, and the RPC ones
/// for a gRPC call).
fn request_attributes(
    req: &RequestView<'_>,
    method: Option<&'static str>,
    grpc: Option<(&str, &str)>,
) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(14);
    if let Some((service, rpc_method)) = grpc {
        attrs.push(KeyValue::new("rpc.system", "grpc"));
        attrs.push(KeyValue::new("rpc.service", intern::shared(service)));
        attrs.push(KeyValue::new("rpc.method", intern::shared(rpc_method)));
    }
    attrs.push(KeyValue::new(
        "http.request.method",
        method.unwrap_or("_OTHER"),
    ));
    if method.is_none() {
        attrs.push(KeyValue::new(
            "http.request.method_original",
            req.method.to_string(),
        ));
    }
    attrs.push(KeyValue::new("url.path", intern::shared(req.path)));
    if let Some(q) = req.query.filter(|q| !q.is_empty()) {
        // Credentials in the query (SAS `sig=`, OAuth `code=`, ...) are never exported.
        attrs.push(KeyValue::new(
            "url.query",
            crate::secret::redact_query(q).into_owned(),
        ));
    }
    let scheme: opentelemetry::Value = match req.scheme {
        "http" => "http".into(),
        "https" => "https".into(),
        other => other.to_string().into(),
    };
    attrs.push(KeyValue::new("url.scheme", scheme));
    if let Some(host) = req.host {
        let (address, port) = crate::hostport::split_host(host);
        attrs.push(KeyValue::new("server.address", intern::shared(address)));
        let port = port.or(match req.scheme {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        });
        if let Some(port) = port {
            attrs.push(KeyValue::new("server.port", i64::from(port)));
        }
    }
    if let Some(route) = req.route {
        attrs.push(KeyValue::new("http.route", intern::shared(route)));
    }
    if let Some(ua) = req.user_agent {
        attrs.push(KeyValue::new("user_agent.original", intern::shared(ua)));
    }
    if let Some(peer) = req.peer {
        attrs.push(KeyValue::new("client.address", intern::ip(peer.ip())));
        attrs.push(KeyValue::new("client.port", i64::from(peer.port())));
    }
    attrs.push(KeyValue::new("network.protocol.version", req.version));
    attrs
}

impl Shared {
    /// Decides and starts: exclusion first, then extraction, then the span.
    #[cfg_attr(not(feature = "actix"), allow(dead_code))]
    pub(crate) fn begin(&self, req: &RequestView<'_>) -> Begin {
        let live = self.live();
        match self.excluded(live.as_deref(), req.host, req.path, req.headers) {
            Some(cx) => Begin::Excluded(cx),
            None => Begin::Traced(self.start(live.as_deref(), req)),
        }
    }

    /// What is installed now, read once a request (one atomic load, no lock, no
    /// allocation): what a reload changed applies to the next request.
    pub(crate) fn live(&self) -> Option<arc_swap::Guard<Arc<crate::live::Live>>> {
        self.live.as_ref().map(|l| l.load())
    }

    /// The exclusion decision alone, before anything else of the request is read: for an
    /// excluded request, the context its handler runs in (the incoming trace, telemetry
    /// suppressed); `None` when the request is traced.
    pub(crate) fn excluded(
        &self,
        live: Option<&Arc<crate::live::Live>>,
        host: Option<&str>,
        path: &str,
        headers: &dyn Extractor,
    ) -> Option<Context> {
        let exclude = self
            .exclude
            .as_ref()
            .or_else(|| live.map(|l| &l.exclude_paths))
            .filter(|e| !e.is_empty())?;
        if !exclude.matches(host, path) {
            return None;
        }
        Some(self.propagator.extract(headers).with_telemetry_suppressed())
    }

    /// Starts the span of a request that is not excluded.
    pub(crate) fn start(
        &self,
        live: Option<&Arc<crate::live::Live>>,
        req: &RequestView<'_>,
    ) -> Traced {
        let parent = self.propagator.extract(req.headers);
        let method = known_method(req.method);
        let grpc = req.grpc.then(|| grpc_method(req.path)).flatten();
        // Sampling rules read the request's attributes: then the sampler sees them. Else
        // nothing but the method before the sampler decides: a sampled-out request builds no
        // name and no attributes.
        let attributes_at_start = live.is_some_and(|l| l.attributes_at_start);
        // Not after shutdown or under a suppressed parent: there the SDK makes its empty span.
        if let Some(live) = live.filter(|_| {
            self.decides && !parent.is_telemetry_suppressed() && !crate::stats::was_shut_down()
        }) {
            return self.start_decided(live, parent, req, method, grpc, attributes_at_start);
        }
        let mut builder =
            SpanBuilder::from_name(known_span_name(method, None)).with_kind(SpanKind::Server);
        if attributes_at_start {
            builder = builder.with_attributes(request_attributes(req, method, grpc));
        }
        let (cx, recording) = self.tracer.start(builder, &parent);
        if recording {
            let span = cx.span();
            if grpc.is_some() || req.route.is_some() {
                span.update_name(full_name(method, req.route, grpc));
            }
            if !attributes_at_start {
                span.set_attributes(request_attributes(req, method, grpc));
            }
        }
        Traced::new(cx, recording, req.grpc)
    }

    /// [`Shared::start`] with the installed provider: the live sampler decides first. A
    /// dropped request is its span context alone (no SDK span); a recorded one starts with its
    /// full name and every attribute at once (no rename, no lock per attribute).
    fn start_decided(
        &self,
        live: &crate::live::Live,
        parent: Context,
        req: &RequestView<'_>,
        method: Option<&'static str>,
        grpc: Option<(&str, &str)>,
        attributes_at_start: bool,
    ) -> Traced {
        use opentelemetry::trace::{SpanContext, TraceFlags};
        use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SamplingDecision};
        let ids = RandomIdGenerator::default();
        // A span without a valid parent starts a trace: its id is chosen here, before the
        // decision made for it.
        let (trace_id, new_trace) = {
            let span = parent.span();
            let sc = span.span_context();
            if sc.is_valid() {
                (sc.trace_id(), None)
            } else {
                let id = ids.new_trace_id();
                (id, Some(id))
            }
        };
        let attributes = if attributes_at_start {
            request_attributes(req, method, grpc)
        } else {
            Vec::new()
        };
        let mut decision = live.sampler.should_sample(
            Some(&parent),
            trace_id,
            &known_span_name(method, None),
            &SpanKind::Server,
            &attributes,
            &[],
        );
        if decision.decision == SamplingDecision::Drop {
            // As the SDK makes a dropped span: a new span id, not sampled, the sampler's
            // trace state; children still see the trace id and the flag.
            let sc = SpanContext::new(
                trace_id,
                ids.new_span_id(),
                TraceFlags::default(),
                false,
                decision.trace_state,
            );
            return Traced::new(parent.with_remote_span_context(sc), false, req.grpc);
        }
        let mut attributes = if attributes_at_start {
            attributes
        } else {
            request_attributes(req, method, grpc)
        };
        // The sampler's attributes (`_MS.sampleRate`) first, so span limits never cut them.
        if !decision.attributes.is_empty() {
            let mut first = std::mem::take(&mut decision.attributes);
            first.append(&mut attributes);
            attributes = first;
        }
        let builder = SpanBuilder::from_name(full_name(method, req.route, grpc))
            .with_kind(SpanKind::Server)
            .with_attributes(attributes);
        let (cx, recording) =
            crate::live::start_decided(decision, new_trace, || self.tracer.start(builder, &parent));
        Traced::new(cx, recording, req.grpc)
    }
}

/// A recording request span's name: a gRPC call's method (SPEC 12), else the rule of
/// `name.rs`.
fn full_name(
    method: Option<&'static str>,
    route: Option<&str>,
    grpc: Option<(&str, &str)>,
) -> Cow<'static, str> {
    match grpc {
        Some((service, rpc_method)) => Cow::Owned(format!("{service}/{rpc_method}")),
        None => known_span_name(method, route),
    }
}

impl RequestSpan {
    /// A route found by a nested router's layer: the innermost route names the span.
    #[cfg(feature = "axum")]
    pub(crate) fn set_route(cx: &Context, method: &str, route: &str) {
        let span = cx.span();
        if span.is_recording() {
            span.update_name(span_name(method, Some(route)));
            span.set_attribute(KeyValue::new("http.route", route.to_string()));
        }
    }

    /// Ends the span with the response status and the handler's error, if any.
    pub(crate) fn finish(self, status: Option<u16>, error: Option<&HandlerError>) {
        let span = self.cx.span();
        if let Some(status) = status {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        if let Some(error) = error {
            span.add_event(
                "exception",
                vec![
                    KeyValue::new("exception.type", error.type_name.to_string()),
                    KeyValue::new("exception.message", error.message.clone()),
                ],
            );
            span.set_status(Status::error(error.message.clone()));
        } else if status.is_some_and(|s| s >= 500) {
            span.set_status(Status::error(""));
        }
        span.end();
    }

    /// Ends a gRPC call's span: `grpc` is its `grpc-status` (`None`: absent, which is OK); any
    /// other status than 0 is an error. An UNIMPLEMENTED method (12) is named by the HTTP
    /// method instead, so a client cannot mint span names with calls to methods that do not
    /// exist.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn finish_grpc(
        self,
        status: Option<u16>,
        grpc: Option<i64>,
        message: Option<&str>,
        error: Option<&HandlerError>,
    ) {
        let span = self.cx.span();
        let code = grpc.unwrap_or(0);
        span.set_attribute(KeyValue::new("rpc.grpc.status_code", code));
        if code != 0 {
            if code == GRPC_UNIMPLEMENTED {
                span.update_name("POST");
            }
            span.set_status(Status::error(match message {
                Some(m) if !m.is_empty() => format!("grpc-status {code}: {m}"),
                _ => format!("grpc-status {code}"),
            }));
        }
        self.finish(status, error);
    }

    /// Ends the span for a panic (type `panic`, the payload as the message).
    pub(crate) fn panicked(self, payload: &(dyn std::any::Any + Send)) {
        let message = crate::stats::panic_message(payload);
        self.finish(None, Some(&HandlerError::new("panic", message)));
    }
}

#[cfg(test)]
mod grpc_tests {
    use super::{grpc_code, grpc_message, grpc_method};

    #[test]
    fn grpc_paths_statuses_and_messages() {
        assert_eq!(
            grpc_method("/pkg.v1.Orders/Get"),
            Some(("pkg.v1.Orders", "Get"))
        );
        for bad in [
            "/",
            "/Orders",
            "/Orders/",
            "//Get",
            "/a/b/c",
            "/a b/Get",
            "/a/G.et",
            "Orders/Get",
        ] {
            assert_eq!(grpc_method(bad), None, "{bad}");
        }
        assert_eq!(grpc_method(&format!("/{}/Get", "a".repeat(300))), None);
        assert_eq!(grpc_code(b"0"), 0);
        assert_eq!(grpc_code(b"13"), 13);
        assert_eq!(grpc_code(b"x"), 2);
        assert_eq!(grpc_code(b"-1"), 2);
        assert_eq!(grpc_message(b"db%20down%"), "db down%");
        assert_eq!(grpc_message(b"caf%C3%A9"), "café");
        assert_eq!(grpc_message(b"%zz"), "%zz");
        assert_eq!(grpc_message("x".repeat(300).as_bytes()).len(), 256);
    }
}
