//! `client::TracingMiddleware` against real axum servers on 127.0.0.1: one trace across
//! A's server span, A's client span and B's server span (W3C, B3 multi and single),
//! attributes, excluded hosts, transport errors, 5xx/4xx and suppressed contexts.

#![cfg(all(feature = "reqwest", feature = "axum"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{any, get};
use opencensus_settings::ErrorKind;
use opencensus_settings::OpencensusLayer;
use opencensus_settings::client::TracingMiddleware;
use opencensus_settings::opentelemetry::context::FutureExt as _;
use opencensus_settings::opentelemetry::propagation::TextMapPropagator;
use opencensus_settings::opentelemetry::trace::{SpanId, SpanKind, Status};
use opencensus_settings::opentelemetry::{Context, Value};
use opencensus_settings::opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SdkTracerProvider, SpanData,
};
use opencensus_settings::propagation::{B3Inject, B3Propagator, TraceContextPropagator};
use reqwest_middleware::ClientWithMiddleware;

/// The propagation headers B reports back.
const PROPAGATION_HEADERS: &[&str] = &["traceparent", "tracestate", "b3", "x-b3-traceid"];

struct Setup {
    exporter: InMemorySpanExporter,
    /// B: `/echo` (any method) answers which propagation headers it received,
    /// `/status/{code}` answers that status.
    b: SocketAddr,
    /// A: `/call` calls the URL in its `x-target` header through the traced client.
    a: SocketAddr,
    /// The traced client (the one A uses).
    client: ClientWithMiddleware,
    plain: reqwest::Client,
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

async fn echo(headers: HeaderMap) -> String {
    let seen: Vec<&str> = PROPAGATION_HEADERS
        .iter()
        .copied()
        .filter(|h| headers.contains_key(*h))
        .collect();
    if seen.is_empty() {
        "none".to_string()
    } else {
        seen.join(",")
    }
}

async fn status(Path(code): Path<u16>) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}

async fn call(
    State(client): State<ClientWithMiddleware>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    let target = headers["x-target"].to_str().unwrap().to_string();
    match client.get(target).send().await {
        Ok(resp) => {
            let code = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            (StatusCode::OK, format!("{code} {body}"))
        }
        Err(err) => (StatusCode::BAD_GATEWAY, format!("error: {err}")),
    }
}

/// A and B, sharing one exporter; `middleware` gets B's address (for exclusion entries).
async fn setup<P>(
    propagator: P,
    middleware: impl FnOnce(TracingMiddleware, SocketAddr) -> TracingMiddleware,
) -> Setup
where
    P: TextMapPropagator + Clone + Send + Sync + 'static,
{
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = || {
        OpencensusLayer::new()
            .with_tracer_provider(provider.clone())
            .with_propagator(propagator.clone())
    };
    let b = serve(
        Router::new()
            .route("/echo", any(echo))
            .route("/status/{code}", get(status))
            .layer(layer()),
    )
    .await;
    let traced = middleware(
        TracingMiddleware::new()
            .with_tracer_provider(provider.clone())
            .with_propagator(propagator.clone()),
        b,
    );
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(traced)
        .build();
    let a = serve(
        Router::new()
            .route("/call", get(call))
            .with_state(client.clone())
            .layer(layer()),
    )
    .await;
    Setup {
        exporter,
        b,
        a,
        client,
        plain: reqwest::Client::new(),
    }
}

impl Setup {
    /// Asks A to call `target`; returns A's body (`"{B's status} {B's body}"` or `error: ...`).
    async fn via_a(&self, target: &str) -> String {
        self.plain
            .get(format!("http://{}/call", self.a))
            .header("x-target", target)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits (bounded) until `n` spans are finished, then returns them.
    async fn spans(&self, n: usize) -> Vec<SpanData> {
        common::settle(5, || self.exporter.get_finished_spans().unwrap().len() >= n).await;
        let spans = self.exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), n, "spans: {:#?}", names(&spans));
        self.exporter.reset();
        spans
    }
}

fn names(spans: &[SpanData]) -> Vec<String> {
    spans
        .iter()
        .map(|s| format!("{:?} {}", s.span_kind, s.name))
        .collect()
}

fn find<'a>(spans: &'a [SpanData], kind: SpanKind, name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.span_kind == kind && s.name == name)
        .unwrap_or_else(|| panic!("no {kind:?} span {name:?} in {:?}", names(spans)))
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

fn attr_i64(span: &SpanData, key: &str) -> Option<i64> {
    match attr(span, key) {
        Some(Value::I64(v)) => Some(*v),
        other => panic!("{key}: {other:?}"),
    }
}

/// A's handler calls B: A server -> A client -> B server, one trace.
async fn assert_one_trace<P>(propagator: P, header: &str)
where
    P: TextMapPropagator + Clone + Send + Sync + 'static,
{
    let s = setup(propagator, |m, _| m).await;
    let body = s.via_a(&format!("http://{}/echo", s.b)).await;
    assert_eq!(body, format!("200 {header}"));
    let spans = s.spans(3).await;
    let a_server = find(&spans, SpanKind::Server, "GET /call");
    let a_client = find(&spans, SpanKind::Client, "GET");
    let b_server = find(&spans, SpanKind::Server, "GET /echo");
    let trace = a_server.span_context.trace_id();
    assert_eq!(a_client.span_context.trace_id(), trace);
    assert_eq!(b_server.span_context.trace_id(), trace);
    assert_eq!(a_server.parent_span_id, SpanId::INVALID);
    assert_eq!(a_client.parent_span_id, a_server.span_context.span_id());
    assert!(!a_client.parent_span_is_remote);
    assert_eq!(b_server.parent_span_id, a_client.span_context.span_id());
    assert!(b_server.parent_span_is_remote);
}

#[tokio::test]
async fn one_trace_over_w3c() {
    assert_one_trace(TraceContextPropagator, "traceparent").await;
}

#[tokio::test]
async fn one_trace_over_b3_multi() {
    assert_one_trace(B3Propagator::new(B3Inject::Multi), "x-b3-traceid").await;
}

#[tokio::test]
async fn one_trace_over_b3_single() {
    assert_one_trace(B3Propagator::new(B3Inject::Single), "b3").await;
}

#[tokio::test]
async fn client_span_attributes() {
    let s = setup(TraceContextPropagator, |m, _| m).await;
    let url = format!("http://{}/echo?x=1&y=two", s.b);
    let resp = s.client.get(&url).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "traceparent");
    let spans = s.spans(2).await;
    let client = find(&spans, SpanKind::Client, "GET");
    let b_server = find(&spans, SpanKind::Server, "GET /echo");
    // No current span in the test: the client span is a root, B's span its child.
    assert_eq!(client.parent_span_id, SpanId::INVALID);
    assert_eq!(b_server.parent_span_id, client.span_context.span_id());
    assert_eq!(
        attr_str(client, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(attr_str(client, "url.full"), Some(url));
    assert_eq!(
        attr_str(client, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(attr_i64(client, "server.port"), Some(i64::from(s.b.port())));
    assert_eq!(attr_i64(client, "http.response.status_code"), Some(200));
    assert_eq!(client.status, Status::Unset);
    assert!(attr(client, "error.type").is_none());

    // Userinfo never reaches `url.full`; signature values are redacted.
    s.client
        .get(format!("http://user:secret@{}/echo?sig=abc&x=1", s.b))
        .send()
        .await
        .unwrap();
    let spans = s.spans(2).await;
    let client = find(&spans, SpanKind::Client, "GET");
    assert_eq!(
        attr_str(client, "url.full"),
        Some(format!("http://{}/echo?sig=REDACTED&x=1", s.b))
    );

    // A non-standard method.
    let purge = reqwest::Method::from_bytes(b"PURGE").unwrap();
    s.client
        .request(purge, format!("http://{}/echo", s.b))
        .send()
        .await
        .unwrap();
    let spans = s.spans(2).await;
    let client = find(&spans, SpanKind::Client, "HTTP");
    assert_eq!(
        attr_str(client, "http.request.method").as_deref(),
        Some("_OTHER")
    );
    assert_eq!(
        attr_str(client, "http.request.method_original").as_deref(),
        Some("PURGE")
    );
}

/// Through A, to an excluded host: A's server span only from A, and B gets no trace context
/// (its own span is then a root).
async fn assert_excluded(s: &Setup, target: &str) {
    let body = s.via_a(target).await;
    assert_eq!(body, "200 none");
    let spans = s.spans(2).await;
    let a_server = find(&spans, SpanKind::Server, "GET /call");
    let b_server = find(&spans, SpanKind::Server, "GET /echo");
    assert!(spans.iter().all(|s| s.span_kind != SpanKind::Client));
    assert_eq!(b_server.parent_span_id, SpanId::INVALID);
    assert_ne!(
        b_server.span_context.trace_id(),
        a_server.span_context.trace_id()
    );
}

#[tokio::test]
async fn excluded_host_and_port() {
    let s = setup(TraceContextPropagator, |m, b| {
        m.with_exclude_hostnames(&[format!("127.0.0.1:{}", b.port())])
            .unwrap()
    })
    .await;
    assert_excluded(&s, &format!("http://{}/echo", s.b)).await;
}

#[tokio::test]
async fn excluded_host_is_case_insensitive() {
    let s = setup(TraceContextPropagator, |m, _| {
        m.with_exclude_hostnames(&["LOCALHOST"]).unwrap()
    })
    .await;
    assert_excluded(&s, &format!("http://localhost:{}/echo", s.b.port())).await;
    // The same server under another name is traced.
    let body = s.via_a(&format!("http://{}/echo", s.b)).await;
    assert_eq!(body, "200 traceparent");
    s.spans(3).await;
}

#[tokio::test]
async fn other_port_is_not_excluded() {
    let s = setup(TraceContextPropagator, |m, b| {
        m.with_exclude_hostnames(&[format!("127.0.0.1:{}", b.port().wrapping_add(1).max(1))])
            .unwrap()
    })
    .await;
    assert_eq!(
        s.via_a(&format!("http://{}/echo", s.b)).await,
        "200 traceparent"
    );
    s.spans(3).await;
}

#[test]
fn malformed_exclusions_are_errors() {
    let err = TracingMiddleware::new()
        .with_exclude_hostnames(&["ok", "https://example.com", "a b"])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidExclusion);
    assert_eq!(err.problems().len(), 2);
    assert!(err.problems()[0].message().contains("entry 2"), "{err}");
}

#[tokio::test]
async fn transport_error() {
    let s = setup(TraceContextPropagator, |m, _| m).await;
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let err = s
        .client
        .get(format!("http://{dead}/nothing"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let spans = s.spans(1).await;
    let client = find(&spans, SpanKind::Client, "GET");
    match &client.status {
        Status::Error { description } => {
            assert!(description.contains(&dead.to_string()), "{description}");
        }
        other => panic!("status {other:?}"),
    }
    assert_eq!(
        attr_str(client, "error.type").as_deref(),
        Some("connection")
    );
    assert!(attr(client, "http.response.status_code").is_none());
    let event = client
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("exception event");
    let event_attr = |key: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    };
    assert!(event_attr("exception.type").unwrap().contains("Error"));
    assert!(!event_attr("exception.message").unwrap().is_empty());

    // Through A: A's handler gets the error; A's server span is the client span's parent.
    let body = s.via_a(&format!("http://{dead}/nothing")).await;
    assert!(body.starts_with("error: "), "{body}");
    let spans = s.spans(2).await;
    let a_server = find(&spans, SpanKind::Server, "GET /call");
    let client = find(&spans, SpanKind::Client, "GET");
    assert_eq!(client.parent_span_id, a_server.span_context.span_id());
    assert!(matches!(client.status, Status::Error { .. }));
}

#[tokio::test]
async fn server_errors_and_client_errors() {
    let s = setup(TraceContextPropagator, |m, _| m).await;
    let resp = s
        .client
        .get(format!("http://{}/status/503", s.b))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let spans = s.spans(2).await;
    let client = find(&spans, SpanKind::Client, "GET");
    assert!(
        matches!(client.status, Status::Error { .. }),
        "{:?}",
        client.status
    );
    assert_eq!(attr_i64(client, "http.response.status_code"), Some(503));
    assert_eq!(attr_str(client, "error.type").as_deref(), Some("503"));
    assert!(client.events.is_empty());

    let resp = s
        .client
        .get(format!("http://{}/status/404", s.b))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let spans = s.spans(2).await;
    let client = find(&spans, SpanKind::Client, "GET");
    assert_eq!(client.status, Status::Unset);
    assert_eq!(attr_i64(client, "http.response.status_code"), Some(404));
    assert!(attr(client, "error.type").is_none());
}

#[tokio::test]
async fn suppressed_context_passes_through() {
    let s = setup(TraceContextPropagator, |m, _| m).await;
    let resp = s
        .client
        .get(format!("http://{}/echo", s.b))
        .send()
        .with_context(Context::current().with_telemetry_suppressed())
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "none");
    let spans = s.spans(1).await;
    let b_server = find(&spans, SpanKind::Server, "GET /echo");
    assert_eq!(b_server.parent_span_id, SpanId::INVALID);
}

#[test]
fn debug_is_readable() {
    let m = TracingMiddleware::new()
        .with_propagator(TraceContextPropagator)
        .with_exclude_hostnames(&["localhost"])
        .unwrap();
    let text = format!("{m:?}");
    assert!(text.starts_with("TracingMiddleware"), "{text}");
    assert!(text.contains("localhost"), "{text}");
    assert!(text.contains("resolved: false"), "{text}");
}
