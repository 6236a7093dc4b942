//! The actix-web middleware against a real `HttpServer` on a real socket: span names, attributes,
//! status, errors, panics, propagation (W3C, B3, Google), child spans and default exclusion.
//!
//! Every server records into its own `InMemorySpanExporter` (no global state); the server runs on
//! its own thread inside an actix `System`, the client is reqwest on the test's Tokio runtime.

#![cfg(feature = "actix")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, ResponseError, web};
use opencensus_settings::actix::OpencensusMiddleware;
use opencensus_settings::opentelemetry::trace::{
    SpanId, SpanKind, Status, TraceContextExt, TraceId, Tracer, TracerProvider as _,
};
use opencensus_settings::opentelemetry::{Context, Value};
use opencensus_settings::propagation::{
    B3Inject, B3Propagator, GoogleCloudPropagator, TraceContextPropagator,
};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SdkTracer, SdkTracerProvider, SpanData,
};

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT_ID: &str = "b7ad6b7169203331";
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const USER_AGENT: &str = "opencensus-settings-actix-test/1.0";

#[derive(Debug)]
struct BackendDown;

impl std::fmt::Display for BackendDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the backend is down")
    }
}

impl ResponseError for BackendDown {}

async fn hello() -> &'static str {
    "Hello World!"
}

async fn user(id: web::Path<u64>) -> String {
    format!("user {id}")
}

async fn fail() -> Result<HttpResponse, BackendDown> {
    Err(BackendDown)
}

#[derive(Debug)]
struct QuotaGone(u32);

impl std::fmt::Display for QuotaGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "quota {} is gone", self.0)
    }
}

impl ResponseError for QuotaGone {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::TOO_MANY_REQUESTS
    }
}

async fn traced() -> Result<HttpResponse, opencensus_settings::TracedError<QuotaGone>> {
    Err(QuotaGone(7))?
}

async fn teapot() -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::IM_A_TEAPOT).body("short and stout")
}

async fn boom() -> HttpResponse {
    HttpResponse::ServiceUnavailable().finish()
}

async fn panics() -> &'static str {
    panic!("handler exploded")
}

/// Starts a child span with the provider's tracer in `Context::current()` and returns
/// `"{current trace id} {current span id} {child recording}"`.
async fn child(tracer: web::Data<SdkTracer>) -> String {
    let current = Context::current();
    let current_span = current.span();
    let sc = current_span.span_context();
    let recording = tracer.in_span("child-work", |cx| cx.span().is_recording());
    format!("{} {} {recording}", sc.trace_id(), sc.span_id())
}

struct TestServer {
    addr: SocketAddr,
    exporter: InMemorySpanExporter,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
    client: reqwest::Client,
}

impl TestServer {
    /// A one-worker server on 127.0.0.1:0 wrapped with `configure(middleware)`, the middleware
    /// recording into a fresh AlwaysOn provider.
    fn start(configure: impl FnOnce(OpencensusMiddleware) -> OpencensusMiddleware) -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOn)
            .with_simple_exporter(exporter.clone())
            .build();
        let middleware =
            configure(OpencensusMiddleware::new().with_tracer_provider(provider.clone()));
        let tracer = provider.tracer("handler");
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(middleware.clone())
                        .app_data(web::Data::new(tracer.clone()))
                        .route("/", web::get().to(hello))
                        .route("/users/{id}", web::get().to(user))
                        .route("/fail", web::get().to(fail))
                        .route("/traced", web::get().to(traced))
                        .route("/teapot", web::get().to(teapot))
                        .route("/boom", web::get().to(boom))
                        .route("/panic", web::get().to(panics))
                        .route("/health", web::get().to(|| async { "ok" }))
                        .route("/child", web::get().to(child))
                        .route("/_ah/health", web::get().to(child))
                })
                .workers(1)
                .shutdown_timeout(1)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .expect("bind 127.0.0.1:0");
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).expect("send the address");
                server.await.expect("server");
            });
        });
        let (addr, handle) = rx.recv().expect("the server thread started");
        TestServer {
            addr,
            exporter,
            handle,
            thread: Some(thread),
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = self
            .client
            .get(self.url(path))
            .header("user-agent", USER_AGENT);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Polls the exporter until `count` spans are finished (5 s deadline); returns what it has.
    async fn spans(&self, count: usize) -> Vec<SpanData> {
        common::settle(5, || {
            self.exporter.get_finished_spans().expect("exporter").len() >= count
        })
        .await;
        self.exporter.get_finished_spans().expect("exporter")
    }

    /// Exactly `count` spans finished.
    async fn exactly(&self, count: usize) -> Vec<SpanData> {
        let spans = self.spans(count).await;
        assert_eq!(
            spans.len(),
            count,
            "spans: {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        spans
    }

    async fn stop(mut self) {
        self.handle.stop(false).await;
        if let Some(thread) = self.thread.take() {
            thread.join().expect("server thread");
        }
    }
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn str_attr(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| v.as_str().into_owned())
}

fn int_attr(span: &SpanData, key: &str) -> Option<i64> {
    match attr(span, key) {
        Some(Value::I64(i)) => Some(*i),
        None => None,
        other => panic!("{key}: expected an integer, got {other:?}"),
    }
}

/// The server span whose `url.path` is `path`.
fn server_span<'a>(spans: &'a [SpanData], path: &str) -> &'a SpanData {
    let found: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .filter(|s| str_attr(s, "url.path").as_deref() == Some(path))
        .collect();
    assert_eq!(found.len(), 1, "one server span for {path}: {spans:#?}");
    found[0]
}

fn assert_common_attributes(span: &SpanData, port: u16) {
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(
        str_attr(span, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(str_attr(span, "url.scheme").as_deref(), Some("http"));
    assert_eq!(
        str_attr(span, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(int_attr(span, "server.port"), Some(i64::from(port)));
    assert_eq!(
        str_attr(span, "user_agent.original").as_deref(),
        Some(USER_AGENT)
    );
    assert_eq!(
        str_attr(span, "client.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        str_attr(span, "network.protocol.version").as_deref(),
        Some("1.1")
    );
}

fn trace_id(hex: &str) -> TraceId {
    TraceId::from_hex(hex).unwrap()
}

fn span_id(hex: &str) -> SpanId {
    SpanId::from_hex(hex).unwrap()
}

#[tokio::test]
async fn names_kind_and_attributes() {
    let server = TestServer::start(|m| m.with_propagator(TraceContextPropagator));
    let port = server.addr.port();

    assert_eq!(server.get("/", &[]).await, (200, "Hello World!".into()));
    assert_eq!(
        server.get("/users/42?x=1", &[]).await,
        (200, "user 42".into())
    );
    assert_eq!(server.get("/nope", &[]).await.0, 404);
    assert_eq!(server.get("/health", &[]).await, (200, "ok".into()));
    let spans = server.exactly(4).await;

    let root = server_span(&spans, "/");
    assert_eq!(root.name, "GET /");
    assert_common_attributes(root, port);
    assert_eq!(str_attr(root, "http.route").as_deref(), Some("/"));
    assert_eq!(attr(root, "url.query"), None);
    assert_eq!(int_attr(root, "http.response.status_code"), Some(200));
    assert_eq!(root.status, Status::Unset);
    assert!(root.events.is_empty());
    // No incoming context: a new root trace.
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    assert!(!root.parent_span_is_remote);

    let user = server_span(&spans, "/users/42");
    assert_eq!(user.name, "GET /users/{id}");
    assert_common_attributes(user, port);
    assert_eq!(str_attr(user, "url.query").as_deref(), Some("x=1"));
    assert_eq!(str_attr(user, "http.route").as_deref(), Some("/users/{id}"));
    assert_eq!(int_attr(user, "http.response.status_code"), Some(200));
    assert_eq!(user.status, Status::Unset);

    let nope = server_span(&spans, "/nope");
    assert_eq!(nope.name, "GET");
    assert_common_attributes(nope, port);
    assert_eq!(attr(nope, "http.route"), None);
    assert_eq!(int_attr(nope, "http.response.status_code"), Some(404));
    assert_eq!(nope.status, Status::Unset);
    assert!(nope.events.is_empty());

    // `health` is not excluded by the default list (`_ah/health`).
    let health = server_span(&spans, "/health");
    assert_eq!(health.name, "GET /health");

    // Every request is its own trace.
    let mut ids: Vec<TraceId> = spans.iter().map(|s| s.span_context.trace_id()).collect();
    ids.sort_by_key(|id| id.to_bytes());
    ids.dedup();
    assert_eq!(ids.len(), 4);

    server.stop().await;
}

#[tokio::test]
async fn status_and_handler_errors() {
    let server = TestServer::start(|m| m);
    let port = server.addr.port();

    assert_eq!(server.get("/teapot", &[]).await.0, 418);
    assert_eq!(server.get("/boom", &[]).await.0, 503);
    let (status, body) = server.get("/fail", &[]).await;
    assert_eq!((status, body.as_str()), (500, "the backend is down"));
    let spans = server.exactly(3).await;

    let teapot = server_span(&spans, "/teapot");
    assert_eq!(teapot.name, "GET /teapot");
    assert_common_attributes(teapot, port);
    assert_eq!(int_attr(teapot, "http.response.status_code"), Some(418));
    assert_eq!(teapot.status, Status::Unset);
    assert!(teapot.events.is_empty());

    // A plain 5xx: status error, no exception event.
    let boom = server_span(&spans, "/boom");
    assert_eq!(boom.name, "GET /boom");
    assert_eq!(int_attr(boom, "http.response.status_code"), Some(503));
    assert!(matches!(boom.status, Status::Error { .. }), "{boom:?}");
    assert!(boom.events.is_empty());

    // A handler `Err`: status error and one exception event with the error's Display.
    let fail = server_span(&spans, "/fail");
    assert_eq!(fail.name, "GET /fail");
    assert_eq!(int_attr(fail, "http.response.status_code"), Some(500));
    assert!(matches!(fail.status, Status::Error { .. }), "{fail:?}");
    assert_eq!(fail.events.len(), 1, "{:?}", fail.events);
    let event = &fail.events[0];
    assert_eq!(event.name, "exception");
    let message = event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "exception.message")
        .map(|kv| kv.value.as_str().into_owned());
    assert_eq!(message.as_deref(), Some("the backend is down"));
    // Its own type (from its derived Debug), not `actix_web::Error` for every error.
    let error_type = event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "exception.type")
        .map(|kv| kv.value.as_str().into_owned());
    assert_eq!(error_type.as_deref(), Some("BackendDown"));
    server.stop().await;
}

#[tokio::test]
async fn a_traced_error_keeps_its_full_type_name_and_its_own_response() {
    let server = TestServer::start(|m| m);
    let (status, body) = server.get("/traced", &[]).await;
    assert_eq!((status, body.as_str()), (429, "quota 7 is gone"));
    let spans = server.exactly(1).await;
    let span = server_span(&spans, "/traced");
    assert_eq!(int_attr(span, "http.response.status_code"), Some(429));
    assert!(matches!(span.status, Status::Error { .. }), "{span:?}");
    assert_eq!(span.events.len(), 1, "{:?}", span.events);
    let get = |key: &str| {
        span.events[0]
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    };
    assert_eq!(get("exception.type").as_deref(), Some("actix::QuotaGone"));
    assert_eq!(get("exception.message").as_deref(), Some("quota 7 is gone"));
    server.stop().await;
}

#[tokio::test]
async fn panic_is_recorded_and_continues() {
    let server = TestServer::start(|m| m);

    // actix-web does not catch handler panics: after the middleware records it, the panic
    // unwinds the connection's task and the socket is closed without a response, so the client
    // sees a transport error, not a 500.
    let outcome = server
        .client
        .get(server.url("/panic"))
        .header("user-agent", USER_AGENT)
        .send()
        .await;
    let error = outcome.expect_err("a panicking handler sends no response");
    // hyper reports `IncompleteMessage`: the connection was accepted, then closed mid-request.
    assert!(
        error.is_request() && !error.is_connect() && !error.is_timeout() && !error.is_status(),
        "{error:?}"
    );

    // The worker survives: the next request on a new connection is served and traced.
    assert_eq!(server.get("/", &[]).await, (200, "Hello World!".into()));
    let spans = server.exactly(2).await;

    let panicked = server_span(&spans, "/panic");
    assert_eq!(panicked.name, "GET /panic");
    assert!(
        matches!(&panicked.status, Status::Error { description } if description == "handler exploded"),
        "{:?}",
        panicked.status
    );
    // No response, so no status code.
    assert_eq!(attr(panicked, "http.response.status_code"), None);
    assert_eq!(panicked.events.len(), 1, "{:?}", panicked.events);
    let event = &panicked.events[0];
    assert_eq!(event.name, "exception");
    let get = |key: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    };
    assert_eq!(get("exception.type").as_deref(), Some("panic"));
    assert_eq!(
        get("exception.message").as_deref(),
        Some("handler exploded")
    );

    let ok = server_span(&spans, "/");
    assert_eq!(ok.status, Status::Unset);

    server.stop().await;
}

fn assert_continued(span: &SpanData, trace: &str, parent: &str) {
    assert_eq!(span.span_context.trace_id(), trace_id(trace));
    assert_eq!(span.parent_span_id, span_id(parent));
    assert!(span.parent_span_is_remote);
    assert!(span.span_context.is_sampled());
}

#[tokio::test]
async fn w3c_traceparent_is_continued() {
    let server = TestServer::start(|m| m.with_propagator(TraceContextPropagator));

    let (status, _) = server.get("/", &[("traceparent", TRACEPARENT)]).await;
    assert_eq!(status, 200);
    // A malformed header starts a new root trace and the request is served.
    let (status, _) = server.get("/health", &[("traceparent", "00-1-2-01")]).await;
    assert_eq!(status, 200);
    let spans = server.exactly(2).await;

    assert_continued(server_span(&spans, "/"), TRACE_ID, PARENT_ID);
    let fresh = server_span(&spans, "/health");
    assert_ne!(fresh.span_context.trace_id(), trace_id(TRACE_ID));
    assert_eq!(fresh.parent_span_id, SpanId::INVALID);
    assert!(!fresh.parent_span_is_remote);

    server.stop().await;
}

#[tokio::test]
async fn b3_headers_are_continued() {
    let server = TestServer::start(|m| m.with_propagator(B3Propagator::new(B3Inject::Multi)));

    let single = format!("{TRACE_ID}-{PARENT_ID}-1");
    assert_eq!(server.get("/", &[("b3", &single)]).await.0, 200);
    let multi = [
        ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("x-b3-spanid", "00f067aa0ba902b7"),
        ("x-b3-sampled", "1"),
    ];
    assert_eq!(server.get("/health", &multi).await.0, 200);
    // A 16-hex trace id is left-padded to 32.
    let short = [
        ("X-B3-TraceId", "8448eb211c80319c"),
        ("X-B3-SpanId", PARENT_ID),
        ("X-B3-Sampled", "1"),
    ];
    assert_eq!(server.get("/users/7", &short).await.0, 200);
    let spans = server.exactly(3).await;

    assert_continued(server_span(&spans, "/"), TRACE_ID, PARENT_ID);
    assert_continued(
        server_span(&spans, "/health"),
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
    );
    assert_continued(
        server_span(&spans, "/users/7"),
        "00000000000000008448eb211c80319c",
        PARENT_ID,
    );

    server.stop().await;
}

#[tokio::test]
async fn google_cloud_header_is_continued() {
    let server = TestServer::start(|m| m.with_propagator(GoogleCloudPropagator));

    let header = format!("{TRACE_ID}/12345;o=1");
    assert_eq!(
        server
            .get("/", &[("X-Cloud-Trace-Context", &header)])
            .await
            .0,
        200
    );
    let spans = server.exactly(1).await;
    // 12345 = 0x3039.
    assert_continued(server_span(&spans, "/"), TRACE_ID, "0000000000003039");

    server.stop().await;
}

#[tokio::test]
async fn handler_spans_are_children_of_the_server_span() {
    let server = TestServer::start(|m| m.with_propagator(TraceContextPropagator));

    let (status, body) = server.get("/child", &[("traceparent", TRACEPARENT)]).await;
    assert_eq!(status, 200);
    let spans = server.exactly(2).await;

    let server_span = server_span(&spans, "/child");
    assert_eq!(server_span.name, "GET /child");
    assert_continued(server_span, TRACE_ID, PARENT_ID);
    let child = spans
        .iter()
        .find(|s| s.name == "child-work")
        .expect("the handler's span");
    assert_eq!(child.span_kind, SpanKind::Internal);
    assert_eq!(
        child.span_context.trace_id(),
        server_span.span_context.trace_id()
    );
    assert_eq!(child.parent_span_id, server_span.span_context.span_id());
    assert!(!child.parent_span_is_remote);
    // The handler ran in the server span's context.
    assert_eq!(
        body,
        format!(
            "{} {} true",
            server_span.span_context.trace_id(),
            server_span.span_context.span_id()
        )
    );

    server.stop().await;
}

#[tokio::test]
async fn default_exclusion_suppresses_telemetry() {
    let server = TestServer::start(|m| m.with_propagator(TraceContextPropagator));

    // Excluded by the default list: the handler sees the incoming trace (the remote parent is
    // its current span), but its own span does not record.
    let (status, body) = server
        .get("/_ah/health", &[("traceparent", TRACEPARENT)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, format!("{TRACE_ID} {PARENT_ID} false"));

    // A traced request afterwards on the same single worker: had the excluded request produced
    // spans, they would have ended before its response was written, so before this one's.
    let (status, body) = server.get("/child", &[]).await;
    assert_eq!(status, 200);
    assert!(body.ends_with(" true"), "{body}");
    let spans = server.exactly(2).await;
    assert!(
        spans
            .iter()
            .all(|s| s.span_context.trace_id() != trace_id(TRACE_ID)),
        "{spans:#?}"
    );
    assert_eq!(server_span(&spans, "/child").name, "GET /child");
    assert!(spans.iter().any(|s| s.name == "child-work"));

    server.stop().await;
}
