//! The tower/axum layer against real servers on 127.0.0.1: names, attributes, status, errors,
//! panics, propagation (W3C, B3, Google, malformed headers), exclusion and suppression.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opencensus_settings::opentelemetry::trace::{
    SpanKind, Status, TraceContextExt, Tracer, TracerProvider,
};
use opencensus_settings::opentelemetry::{Context, Value};
use opencensus_settings::opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SdkTracerProvider, SpanData,
};
use opencensus_settings::propagation::{
    B3Inject, B3Propagator, GoogleCloudPropagator, TraceContextPropagator,
};
use opencensus_settings::{OpencensusLayer, TracedError};

struct Harness {
    addr: SocketAddr,
    exporter: InMemorySpanExporter,
    client: reqwest::Client,
}

fn provider(exporter: &InMemorySpanExporter) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_simple_exporter(exporter.clone())
        .build()
}

#[derive(Debug)]
struct Broken;

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("database is on fire")
    }
}

impl IntoResponse for Broken {
    fn into_response(self) -> Response {
        (StatusCode::BAD_GATEWAY, "broken").into_response()
    }
}

fn routes(provider: SdkTracerProvider) -> Router {
    let tracer = provider.tracer("handler");
    let child_tracer = tracer.clone();
    let api = Router::new()
        .route(
            "/items/{id}",
            get(|Path(id): Path<String>| async move { id }),
        )
        .layer(OpencensusLayer::new().with_tracer_provider(provider.clone()));
    Router::new()
        .route("/", get(|| async { "Hello World!" }))
        .route(
            "/users/{id}",
            get(|Path(id): Path<u64>| async move { format!("user {id}") }),
        )
        .route("/teapot", get(|| async { StatusCode::IM_A_TEAPOT }))
        .route(
            "/unavailable",
            get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .route(
            "/fail",
            get(|| async { Err::<&str, _>(TracedError(Broken)) }),
        )
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("handler exploded");
                }
                "unreachable"
            }),
        )
        .route(
            "/child",
            get(move || {
                let tracer = child_tracer.clone();
                async move {
                    tracer.in_span("child work", |_| {});
                    Context::current()
                        .span()
                        .span_context()
                        .trace_id()
                        .to_string()
                }
            }),
        )
        .route(
            "/health/child",
            get(move || {
                let tracer = tracer.clone();
                async move {
                    tracer.in_span("orphan?", |_| {});
                    Context::current()
                        .span()
                        .span_context()
                        .trace_id()
                        .to_string()
                }
            }),
        )
        .nest("/api", api)
}

async fn start(layer: OpencensusLayer, exporter: InMemorySpanExporter, app: Router) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app.layer(layer);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Harness {
        addr,
        exporter,
        client: reqwest::Client::new(),
    }
}

async fn harness() -> Harness {
    let exporter = InMemorySpanExporter::default();
    let provider = provider(&exporter);
    let layer = OpencensusLayer::new()
        .with_tracer_provider(provider.clone())
        .with_propagator(TraceContextPropagator)
        .with_exclude_paths(&[
            "health",
            "/metrics/*",
            "/static/**",
            "https://internal.example.com/admin",
        ])
        .unwrap();
    start(layer, exporter, routes(provider)).await
}

impl Harness {
    async fn get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = self.client.get(format!("http://{}{path}", self.addr));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await
    }

    /// Waits (bounded) until `n` spans are finished, then returns them.
    async fn spans(&self, n: usize) -> Vec<SpanData> {
        common::settle(5, || self.exporter.get_finished_spans().unwrap().len() >= n).await;
        let spans = self.exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), n, "spans: {:#?}", names(&spans));
        spans
    }

    /// Asserts that no span shows up after a request whose response was received.
    async fn no_spans_after(&self, path: &str, headers: &[(&str, &str)]) -> String {
        let body = self.get(path, headers).await.unwrap().text().await.unwrap();
        // A traced request right after it: its span arrives, so the excluded one would have too.
        self.get("/", &[]).await.unwrap();
        let spans = self.spans(1).await;
        assert_eq!(spans[0].name, "GET /", "{:?}", names(&spans));
        self.exporter.reset();
        body
    }

    async fn one(&self, path: &str, headers: &[(&str, &str)]) -> (u16, SpanData) {
        self.exporter.reset();
        let status = self.get(path, headers).await.unwrap().status().as_u16();
        let mut spans = self.spans(1).await;
        self.exporter.reset();
        (status, spans.remove(0))
    }
}

fn names(spans: &[SpanData]) -> Vec<String> {
    spans.iter().map(|s| s.name.to_string()).collect()
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn attr_str(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| v.as_str().into_owned())
}

#[tokio::test]
async fn names_use_route_templates() {
    let h = harness().await;
    for (path, want) in [
        ("/", "GET /"),
        ("/users/42", "GET /users/{id}"),
        ("/api/items/x", "GET /api/items/{id}"),
        ("/missing", "GET"),
        ("/users/not-a-number", "GET /users/{id}"),
    ] {
        let (_, span) = h.one(path, &[]).await;
        assert_eq!(span.name, want, "{path}");
        assert_eq!(span.span_kind, SpanKind::Server);
    }
}

#[tokio::test]
async fn nested_routers_with_the_layer_make_one_span() {
    let h = harness().await;
    h.get("/api/items/7", &[]).await.unwrap();
    // Give a second (unrelated) request time to land, then count.
    h.get("/", &[]).await.unwrap();
    let spans = h.spans(2).await;
    assert_eq!(names(&spans), vec!["GET /api/items/{id}", "GET /"]);
}

#[tokio::test]
async fn attributes_follow_current_semantic_conventions() {
    let h = harness().await;
    let (status, span) = h
        .one("/users/42?x=1&token=abc", &[("user-agent", "probe/1.0")])
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        attr_str(&span, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(attr_str(&span, "url.path").as_deref(), Some("/users/42"));
    // SPEC 8: credential parameters (`token`, `sig`, `code`, ...) are never exported.
    assert_eq!(
        attr_str(&span, "url.query").as_deref(),
        Some("x=1&token=REDACTED")
    );
    assert_eq!(attr_str(&span, "url.scheme").as_deref(), Some("http"));
    assert_eq!(
        attr_str(&span, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr(&span, "server.port"),
        Some(&Value::I64(i64::from(h.addr.port())))
    );
    assert_eq!(
        attr_str(&span, "http.route").as_deref(),
        Some("/users/{id}")
    );
    assert_eq!(
        attr(&span, "http.response.status_code"),
        Some(&Value::I64(200))
    );
    assert_eq!(
        attr_str(&span, "user_agent.original").as_deref(),
        Some("probe/1.0")
    );
    assert_eq!(
        attr_str(&span, "client.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr_str(&span, "network.protocol.version").as_deref(),
        Some("1.1")
    );
    // The span name never carries the raw path or the query.
    assert_eq!(span.name, "GET /users/{id}");
    // No route: no http.route.
    let (_, span) = h.one("/missing", &[]).await;
    assert!(attr(&span, "http.route").is_none());
    assert_eq!(
        attr(&span, "http.response.status_code"),
        Some(&Value::I64(404))
    );
}

#[tokio::test]
async fn unknown_methods_are_other() {
    let h = harness().await;
    h.exporter.reset();
    let resp = h
        .client
        .request(
            reqwest::Method::from_bytes(b"PURGE").unwrap(),
            format!("http://{}/", h.addr),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let span = h.spans(1).await.remove(0);
    assert_eq!(span.name, "HTTP /");
    assert_eq!(
        attr_str(&span, "http.request.method").as_deref(),
        Some("_OTHER")
    );
    assert_eq!(
        attr_str(&span, "http.request.method_original").as_deref(),
        Some("PURGE")
    );
}

#[tokio::test]
async fn status_for_success_client_error_server_error_and_handler_error() {
    let h = harness().await;
    for (path, code, error) in [
        ("/", 200, false),
        ("/missing", 404, false),
        ("/teapot", 418, false),
        ("/unavailable", 503, true),
    ] {
        let (status, span) = h.one(path, &[]).await;
        assert_eq!(status, code);
        match (&span.status, error) {
            (Status::Unset, false) => {}
            (Status::Error { .. }, true) => {}
            (s, _) => panic!("{path}: unexpected status {s:?}"),
        }
        assert!(
            span.events.is_empty(),
            "{path}: a plain status code records no exception"
        );
    }
    let (status, span) = h.one("/fail", &[]).await;
    assert_eq!(status, 502);
    assert_eq!(span.status, Status::error("database is on fire"));
    let event = &span.events[0];
    assert_eq!(event.name, "exception");
    let get = |k: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.as_str().into_owned())
    };
    assert!(get("exception.type").unwrap().ends_with("Broken"));
    assert_eq!(
        get("exception.message").as_deref(),
        Some("database is on fire")
    );
}

#[tokio::test]
async fn a_panic_is_recorded_and_continues() {
    let h = harness().await;
    h.exporter.reset();
    // The panic continues: hyper drops the connection, the client sees an error.
    assert!(h.get("/panic", &[]).await.is_err());
    let span = h.spans(1).await.remove(0);
    assert_eq!(span.name, "GET /panic");
    assert!(matches!(span.status, Status::Error { .. }));
    let event = &span.events[0];
    let get = |k: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.as_str().into_owned())
    };
    assert_eq!(get("exception.type").as_deref(), Some("panic"));
    assert_eq!(
        get("exception.message").as_deref(),
        Some("handler exploded")
    );
    // The server still serves.
    assert_eq!(h.get("/", &[]).await.unwrap().status(), 200);
}

#[tokio::test]
async fn inner_service_errors_pass_through_unchanged_and_are_recorded() {
    use tower::{Layer, ServiceExt};
    let exporter = InMemorySpanExporter::default();
    let layer = OpencensusLayer::new().with_tracer_provider(provider(&exporter));
    let svc = layer.layer(tower::service_fn(|_req: http::Request<()>| async {
        Err::<http::Response<()>, std::io::Error>(std::io::Error::other("upstream reset"))
    }));
    let err = svc
        .oneshot(http::Request::get("/x").body(()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "upstream reset");
    let span = exporter.get_finished_spans().unwrap().remove(0);
    assert_eq!(span.name, "GET");
    assert_eq!(span.status, Status::error("upstream reset"));
    assert_eq!(span.events[0].name, "exception");
}

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";

#[tokio::test]
async fn traceparent_is_continued() {
    let h = harness().await;
    let (_, span) = h
        .one(
            "/",
            &[
                ("traceparent", &format!("00-{TRACE}-{PARENT}-01")),
                ("tracestate", "congo=t61rcWkgMzE"),
            ],
        )
        .await;
    assert_eq!(span.span_context.trace_id().to_string(), TRACE);
    assert_eq!(span.parent_span_id.to_string(), PARENT);
    assert!(span.parent_span_is_remote);
    assert_eq!(
        span.span_context.trace_state().get("congo"),
        Some("t61rcWkgMzE")
    );
    // Header names are case-insensitive; flags are hex (0f is sampled).
    let (_, span) = h
        .one("/", &[("TraceParent", &format!("00-{TRACE}-{PARENT}-0f"))])
        .await;
    assert_eq!(span.span_context.trace_id().to_string(), TRACE);
}

#[tokio::test]
async fn child_spans_of_the_handler_are_children_of_the_request_span() {
    let h = harness().await;
    h.exporter.reset();
    let body = h
        .get(
            "/child",
            &[("traceparent", &format!("00-{TRACE}-{PARENT}-01"))],
        )
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, TRACE);
    let spans = h.spans(2).await;
    let (child, server) = (&spans[0], &spans[1]);
    assert_eq!(child.name, "child work");
    assert_eq!(server.name, "GET /child");
    assert_eq!(child.parent_span_id, server.span_context.span_id());
    assert_eq!(
        child.span_context.trace_id(),
        server.span_context.trace_id()
    );
}

#[tokio::test]
async fn malformed_traceparents_start_a_fresh_trace_and_are_served() {
    let h = harness().await;
    let p = PARENT;
    let t = TRACE;
    let malformed = [
        "00-1-2-01".to_string(),
        String::new(),
        "garbage".to_string(),
        format!("00-{}-{p}-01", t.to_uppercase()),
        format!("ff-{t}-{p}-01"),
        format!("00-{t}-{p}-01-extra"),
        format!("00-00000000000000000000000000000000-{p}-01"),
        format!("00-{t}-0000000000000000-01"),
        format!("00-{t}-{p}-1"),
        format!("00-{t}-{p}-001"),
        format!("00-{}-{p}-01", &t[1..]),
        format!("00-{t}0-{p}-01"),
        format!("00-{t}-{}-01", &p[1..]),
        format!("0-{t}-{p}-01"),
        format!("00_{t}_{p}_01"),
        format!("00-{t}-{p}-0g"),
        format!("00-+af7651916cd43dd8448eb211c80319c-{p}-01"),
        format!("00-{t}-{p}-+1"),
        format!("00-{t}-{p}"),
        format!("00-{t}-{}-01", p.to_uppercase()),
        format!("zz-{t}-{p}-01"),
    ];
    assert!(malformed.len() >= 15);
    for header in &malformed {
        let (status, span) = h.one("/", &[("traceparent", header)]).await;
        assert_eq!(status, 200, "{header:?}");
        assert_ne!(
            span.span_context.trace_id().to_string(),
            TRACE,
            "{header:?}"
        );
        assert_eq!(
            span.parent_span_id,
            opencensus_settings::opentelemetry::trace::SpanId::INVALID,
            "{header:?}"
        );
    }
}

async fn harness_with(
    propagator: impl opencensus_settings::opentelemetry::propagation::TextMapPropagator
    + Send
    + Sync
    + 'static,
) -> Harness {
    let exporter = InMemorySpanExporter::default();
    let provider = provider(&exporter);
    let layer = OpencensusLayer::new()
        .with_tracer_provider(provider.clone())
        .with_propagator(propagator);
    start(layer, exporter, routes(provider)).await
}

#[tokio::test]
async fn b3_headers_are_continued() {
    let h = harness_with(B3Propagator::new(B3Inject::Multi)).await;
    let (_, span) = h.one("/", &[("b3", &format!("{TRACE}-{PARENT}-1"))]).await;
    assert_eq!(span.span_context.trace_id().to_string(), TRACE);
    assert_eq!(span.parent_span_id.to_string(), PARENT);
    let (_, span) = h
        .one(
            "/",
            &[
                ("X-B3-TraceId", "8448eb211c80319c"),
                ("X-B3-SpanId", PARENT),
                ("X-B3-Sampled", "1"),
            ],
        )
        .await;
    assert_eq!(
        span.span_context.trace_id().to_string(),
        "00000000000000008448eb211c80319c"
    );
    assert_eq!(span.parent_span_id.to_string(), PARENT);
    let (status, span) = h.one("/", &[("b3", "not-b3")]).await;
    assert_eq!(status, 200);
    assert_ne!(span.span_context.trace_id().to_string(), TRACE);
}

#[tokio::test]
async fn google_cloud_header_is_continued() {
    let h = harness_with(GoogleCloudPropagator).await;
    let (_, span) = h
        .one(
            "/",
            &[("X-Cloud-Trace-Context", &format!("{TRACE}/12345;o=1"))],
        )
        .await;
    assert_eq!(span.span_context.trace_id().to_string(), TRACE);
    assert_eq!(span.parent_span_id.to_string(), format!("{:016x}", 12345));
    let (status, span) = h
        .one("/", &[("X-Cloud-Trace-Context", &format!("{TRACE}/0;o=1"))])
        .await;
    assert_eq!(status, 200);
    assert_ne!(span.span_context.trace_id().to_string(), TRACE);
}

#[tokio::test]
async fn exclusion_rules() {
    let h = harness().await;
    // (path, host header, excluded?)
    let table: &[(&str, Option<&str>, bool)] = &[
        ("/health", None, true),
        ("/healthz", None, true),
        ("/health/live", None, true),
        ("/api/health", None, false),
        ("/metrics/cpu", None, true),
        ("/metrics/cpu/1", None, false),
        ("/metrics", None, false),
        ("/static", None, true),
        ("/static/a/b.css", None, true),
        ("/staticx", None, false),
        ("/admin", Some("internal.example.com"), true),
        ("/admin/users", Some("INTERNAL.example.com:8443"), true),
        ("/admin", Some("example.com"), false),
        ("/other", Some("internal.example.com"), false),
        ("/health?x=1", None, true),
        ("/users/1?path=/health", None, false),
        ("/", None, false),
    ];
    for (path, host, excluded) in table {
        h.exporter.reset();
        let mut headers = Vec::new();
        if let Some(host) = host {
            headers.push(("host", *host));
        }
        if *excluded {
            h.no_spans_after(path, &headers).await;
        } else {
            h.get(path, &headers).await.unwrap();
            let spans = h.spans(1).await;
            assert_eq!(spans.len(), 1, "{path} {host:?} should be traced");
        }
    }
}

#[tokio::test]
async fn excluded_requests_suppress_handler_spans_but_keep_the_incoming_context() {
    let h = harness().await;
    let body = h
        .no_spans_after(
            "/health/child",
            &[("traceparent", &format!("00-{TRACE}-{PARENT}-01"))],
        )
        .await;
    // The handler saw the incoming trace, and its child span was not recorded as an orphan.
    assert_eq!(body, TRACE);
}

#[tokio::test]
async fn a_layer_outside_the_router_sees_no_route() {
    use tower::Layer;
    let exporter = InMemorySpanExporter::default();
    let provider = provider(&exporter);
    let router = Router::new().route("/users/{id}", get(|| async { "u" }));
    let svc = OpencensusLayer::new()
        .with_tracer_provider(provider)
        .layer(router);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, tower::make::Shared::new(svc))
            .await
            .unwrap()
    });
    let h = Harness {
        addr,
        exporter,
        client: reqwest::Client::new(),
    };
    let (_, span) = h.one("/users/1", &[]).await;
    assert_eq!(span.name, "GET");
}
