//! Outgoing HTTP calls (feature `reqwest`): [`TracingMiddleware`] records every call made
//! through a [`reqwest_middleware`] client as an OpenTelemetry CLIENT span and passes the trace
//! on to the server it calls.

use std::borrow::Cow;
use std::error::Error as _;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use http::{Extensions, HeaderMap, HeaderName, HeaderValue};
use opentelemetry::context::FutureExt as _;
use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracerProvider;
use reqwest::{Request, Response, Url};
use reqwest_middleware::{Middleware, Next};

use crate::error::Error;
use crate::exclude::HostExcludeList;
use crate::tracer::{AnyTracer, Resolving, known_method};

/// Records each outgoing call as one OpenTelemetry CLIENT span, a child of
/// [`Context::current()`], and injects the configured propagator's headers (`traceparent`, ...)
/// so that the called server continues the trace under the CLIENT span.
///
/// By default it uses what [`init_from_settings`](crate::init_from_settings) (or
/// [`init_with`](crate::init_with)) installed: tracer, propagator and `EXCLUDELIST_HOSTNAMES`,
/// resolved at the first call (so building the client before installing is fine). Without
/// either, it uses the global OpenTelemetry tracer and propagator. The builder methods override
/// these for one client, without global state (tests, several providers in one process).
///
/// Calls are passed through untouched (no span, no headers) when their host is excluded by
/// `EXCLUDELIST_HOSTNAMES` (`host` or `host:port`; the port is the explicit one or the scheme's
/// default), and when the current context has telemetry suppressed (inside an excluded request,
/// or an exporter's own calls).
///
/// The span is named by the method (`GET`; `HTTP` for non-standard methods) and carries the
/// current semantic conventions' attributes: `http.request.method`, `url.full` (userinfo removed,
/// credential query values redacted), `server.address`, `server.port` and
/// `http.response.status_code`. A 5xx response or a transport error sets the status to error and
/// `error.type` (the status code, or `timeout`, `connection`, ...); a transport error is also
/// recorded as an `exception` event. A 4xx leaves the status unset. The span ends when the
/// response headers arrive; the response or error is returned unchanged.
///
/// ```no_run
/// use opencensus_settings::client::TracingMiddleware;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let _telemetry = opencensus_settings::init_from_settings()?;
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(TracingMiddleware::new())
///     .build();
/// let body = client.get("http://localhost:8080/users/42").send().await?.text().await?;
/// # let _ = body;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct TracingMiddleware {
    propagator: Option<Arc<dyn TextMapPropagator + Send + Sync>>,
    exclude: Option<HostExcludeList>,
    provider: Option<SdkTracerProvider>,
    resolved: Resolving<Resolved>,
}

impl fmt::Debug for TracingMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingMiddleware")
            .field("propagator", &self.propagator)
            .field("exclude_hostnames", &self.exclude)
            .field("tracer_provider", &self.provider.is_some())
            .field("resolved", &self.resolved.is_resolved())
            .finish()
    }
}

impl TracingMiddleware {
    /// A middleware using what `init_from_settings()` / `init_with()` installed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses this propagator for this client instead of the configured one.
    pub fn with_propagator<P>(mut self, propagator: P) -> Self
    where
        P: TextMapPropagator + Send + Sync + 'static,
    {
        self.propagator = Some(Arc::new(propagator));
        self.resolved = Resolving::default();
        self
    }

    /// Uses these entries (`host` or `host:port`) for this client instead of
    /// `EXCLUDELIST_HOSTNAMES`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidExclusion`](crate::ErrorKind::InvalidExclusion) for every malformed entry.
    pub fn with_exclude_hostnames<S: AsRef<str>>(mut self, entries: &[S]) -> Result<Self, Error> {
        let list = HostExcludeList::parse(entries).map_err(|errors| {
            Error::from_problems(
                errors
                    .into_iter()
                    .map(|e| crate::resolve::exclusion_problem("host exclusion", e))
                    .collect(),
            )
        })?;
        self.exclude = Some(list);
        self.resolved = Resolving::default();
        Ok(self)
    }

    /// Records into this provider instead of the installed one.
    pub fn with_tracer_provider(mut self, provider: SdkTracerProvider) -> Self {
        self.provider = Some(provider);
        self.resolved = Resolving::default();
        self
    }

    fn shared(&self) -> &Resolved {
        self.resolved
            .get(self.provider.is_some(), || self.resolve())
    }

    fn resolve(&self) -> Resolved {
        let r = crate::tracer::resolve(
            "the reqwest TracingMiddleware",
            self.provider.as_ref(),
            self.propagator.as_ref(),
        );
        let live = r.installed.as_ref().map(|i| i.live.clone());
        Resolved {
            tracer: r.tracer,
            propagator: r.propagator,
            exclude: self.exclude.clone(),
            live,
        }
    }
}

/// What the first call resolved.
struct Resolved {
    tracer: AnyTracer,
    /// `None`: the global propagator, read at each call.
    propagator: Option<Arc<dyn TextMapPropagator + Send + Sync>>,
    /// The middleware's own list; else the installed one, which a reload may change.
    exclude: Option<HostExcludeList>,
    live: Option<crate::live::LiveCell>,
}

impl Resolved {
    /// Whether calls to `host:port` are excluded (one atomic load with a live list).
    fn excluded(&self, host: &str, port: Option<u16>) -> bool {
        match (&self.exclude, &self.live) {
            (Some(list), _) => list.matches(host, port),
            (None, Some(live)) => live.load().exclude_hostnames.matches(host, port),
            (None, None) => false,
        }
    }

    fn start(&self, builder: SpanBuilder, parent: &Context) -> Context {
        self.tracer.start(builder, parent).0
    }

    fn inject(&self, cx: &Context, headers: &mut HeaderMap) {
        let mut injector = HeaderInjector(headers);
        match &self.propagator {
            Some(p) => p.inject_context(cx, &mut injector),
            None => opentelemetry::global::get_text_map_propagator(|p| {
                p.inject_context(cx, &mut injector);
            }),
        }
    }
}

/// Writes propagation fields as request headers, skipping names or values HTTP cannot carry.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[async_trait::async_trait]
impl Middleware for TracingMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let parent = Context::current();
        if parent.is_telemetry_suppressed() {
            return next.run(req, extensions).await;
        }
        let shared = self.shared();
        let url = req.url();
        let port = url.port_or_known_default();
        let host = url.host_str();
        if let Some(host) = host
            && shared.excluded(host, port)
        {
            return next.run(req, extensions).await;
        }

        let method = known_method(req.method().as_str());
        let mut attributes = Vec::with_capacity(6);
        attributes.push(KeyValue::new(
            "http.request.method",
            method.unwrap_or("_OTHER"),
        ));
        if method.is_none() {
            attributes.push(KeyValue::new(
                "http.request.method_original",
                req.method().as_str().to_owned(),
            ));
        }
        attributes.push(KeyValue::new("url.full", url_full(url).into_owned()));
        if let Some(host) = host {
            let address = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            attributes.push(KeyValue::new("server.address", address.to_owned()));
        }
        if let Some(port) = port {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
        // The sampling-relevant attributes go in at creation, where the sampler sees them.
        let builder = SpanBuilder::from_name(method.unwrap_or("HTTP"))
            .with_kind(SpanKind::Client)
            .with_attributes(attributes);
        let cx = shared.start(builder, &parent);
        shared.inject(&cx, req.headers_mut());

        let result = next.run(req, extensions).with_context(cx.clone()).await;

        let span = cx.span();
        if span.is_recording() {
            match &result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    span.set_attribute(KeyValue::new(
                        "http.response.status_code",
                        i64::from(status),
                    ));
                    if status >= 500 {
                        span.set_attribute(KeyValue::new("error.type", status.to_string()));
                        span.set_status(Status::error(""));
                    }
                }
                Err(err) => {
                    let message = error_message(err);
                    span.set_attribute(KeyValue::new("error.type", error_class(err)));
                    span.add_event(
                        "exception",
                        vec![
                            KeyValue::new("exception.type", error_type(err)),
                            KeyValue::new("exception.message", message.clone()),
                        ],
                    );
                    span.set_status(Status::error(message));
                }
            }
        }
        span.end();
        result
    }
}

/// The method when it is one of the standard ones (semantic conventions' `_OTHER` otherwise).
/// The URL as `url.full`: without `user:password@` and fragment, credential values redacted.
fn url_full(url: &Url) -> Cow<'_, str> {
    let userinfo = !url.username().is_empty() || url.password().is_some();
    let redacted = url.query().map(crate::secret::redact_query);
    let sensitive = matches!(redacted, Some(Cow::Owned(_)));
    if !userinfo && !sensitive && url.fragment().is_none() {
        return Cow::Borrowed(url.as_str());
    }
    let mut clean = url.clone();
    if userinfo {
        // Only URLs that cannot have credentials (`data:`, ...) refuse these.
        let _ = clean.set_username("");
        let _ = clean.set_password(None);
    }
    if sensitive && let Some(query) = &redacted {
        clean.set_query(Some(query));
    }
    clean.set_fragment(None);
    Cow::Owned(clean.into())
}

/// The error and its causes, one line, with the URL as `url.full` shows it.
fn error_message(err: &reqwest_middleware::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            let _ = write!(message, ": {text}");
        }
        source = cause.source();
    }
    if let Some(url) = err.url()
        && let Cow::Owned(clean) = url_full(url)
    {
        message = message.replace(url.as_str(), &clean);
    }
    message
}

fn error_type(err: &reqwest_middleware::Error) -> &'static str {
    match err {
        reqwest_middleware::Error::Reqwest(_) => "reqwest::Error",
        reqwest_middleware::Error::Middleware(_) => "reqwest_middleware::Error",
    }
}

/// A short, low-cardinality class for `error.type`.
fn error_class(err: &reqwest_middleware::Error) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connection"
    } else if err.is_redirect() {
        "redirect"
    } else if err.is_body() {
        "body"
    } else if err.is_decode() {
        "decode"
    } else if err.is_builder() {
        "builder"
    } else if err.is_request() {
        "request"
    } else if err.is_middleware() {
        "middleware"
    } else {
        "_OTHER"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_full_is_clean() {
        let cases = [
            ("http://127.0.0.1:8080/a?x=1", "http://127.0.0.1:8080/a?x=1"),
            ("https://user:secret@example.com/a", "https://example.com/a"),
            ("https://user@example.com/", "https://example.com/"),
            (
                "https://example.com/f?sig=abc&x=1&Signature=zz",
                "https://example.com/f?sig=REDACTED&x=1&Signature=REDACTED",
            ),
            // SPEC 8: credential parameters whatever their case.
            (
                "https://example.com/f?signature=abc",
                "https://example.com/f?signature=REDACTED",
            ),
            ("https://example.com/f#frag", "https://example.com/f"),
        ];
        for (input, want) in cases {
            let url = Url::parse(input).unwrap();
            assert_eq!(url_full(&url), want, "{input}");
        }
    }

    #[test]
    fn injector_skips_invalid() {
        let mut headers = HeaderMap::new();
        let mut injector = HeaderInjector(&mut headers);
        injector.set("traceparent", "00-ab-cd-01".into());
        injector.set("bad header", "x".into());
        injector.set("x-bad-value", "a\nb".into());
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["traceparent"], "00-ab-cd-01");
    }

    #[test]
    fn methods() {
        assert_eq!(known_method("GET"), Some("GET"));
        assert_eq!(known_method("get"), None);
        assert_eq!(known_method("PURGE"), None);
    }
}
