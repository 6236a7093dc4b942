//! OTLPSpanExporter against local collectors that decode the protobuf: an http/protobuf
//! endpoint (axum) and a gRPC one (tonic), fed by real requests to a real app.

#![cfg(all(feature = "otlp", feature = "axum"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use opencensus_settings::{OpencensusLayer, Settings, check};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";

/// What a collector received: the requests and each request's headers/metadata.
type Headers = Vec<(String, String)>;

#[derive(Clone, Default)]
struct Received {
    requests: Arc<Mutex<Vec<(ExportTraceServiceRequest, Headers)>>>,
}

impl Received {
    fn spans(&self) -> Vec<(String, Span)> {
        let mut out = Vec::new();
        for (req, _) in self.requests.lock().unwrap().iter() {
            for rs in &req.resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                    .and_then(|kv| kv.value.as_ref())
                    .and_then(|v| match &v.value {
                        Some(AnyValue::StringValue(s)) => Some(s.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                for ss in &rs.scope_spans {
                    for span in &ss.spans {
                        out.push((service.clone(), span.clone()));
                    }
                }
            }
        }
        out
    }

    fn headers(&self) -> Vec<(String, String)> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, h)| h.clone())
            .collect()
    }

    async fn wait(&self, n: usize) -> Vec<(String, Span)> {
        common::poll(&format!("{n} spans"), 20, || {
            Some(self.spans()).filter(|s| s.len() >= n)
        })
        .await
    }
}

async fn http_collector() -> (SocketAddr, Received) {
    let received = Received::default();
    let app = Router::new()
        .route(
            "/v1/traces",
            post(
                |State(r): State<Received>, headers: HeaderMap, body: Bytes| async move {
                    let mut raw = body.to_vec();
                    if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
                        let mut out = Vec::new();
                        flate2::read::GzDecoder::new(&body[..])
                            .read_to_end(&mut out)
                            .unwrap();
                        raw = out;
                    }
                    let json = headers
                        .get("content-type")
                        .is_some_and(|v| v.to_str().unwrap_or_default().contains("json"));
                    let req = if json {
                        serde_json::from_slice::<ExportTraceServiceRequest>(&raw).unwrap()
                    } else {
                        ExportTraceServiceRequest::decode(&raw[..]).unwrap()
                    };
                    let hs = headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                        .collect();
                    r.requests.lock().unwrap().push((req, hs));
                    ExportTraceServiceResponse::default().encode_to_vec()
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, received)
}

struct Grpc(Received);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let hs = request
            .metadata()
            .clone()
            .into_headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        self.0
            .requests
            .lock()
            .unwrap()
            .push((request.into_inner(), hs));
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn grpc_collector() -> (SocketAddr, Received) {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tokio_stream_from(listener);
    let service = TraceServiceServer::new(Grpc(received.clone()));
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    (addr, received)
}

/// The listener as a stream of connections, for tonic.
fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl futures_core_stream::Stream<Item = Result<tokio::net::TcpStream, std::io::Error>> {
    futures_core_stream::unfold(listener)
}

mod futures_core_stream {
    //! A tiny `Stream` over a listener (no extra dependency).
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub(crate) use tokio_stream_shim::Stream;

    pub(super) fn unfold(listener: tokio::net::TcpListener) -> Incoming {
        Incoming(listener)
    }

    pub(super) struct Incoming(tokio::net::TcpListener);

    impl Stream for Incoming {
        type Item = Result<tokio::net::TcpStream, std::io::Error>;
        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            match self.0.poll_accept(cx) {
                Poll::Ready(Ok((stream, _))) => Poll::Ready(Some(Ok(stream))),
                Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
                Poll::Pending => Poll::Pending,
            }
        }
    }

    mod tokio_stream_shim {
        pub(crate) use tonic::codegen::tokio_stream::Stream;
    }
}

async fn app(settings: Settings) -> (SocketAddr, opencensus_settings::Telemetry) {
    let telemetry = opencensus_settings::build(settings).unwrap_or_else(|e| panic!("{e}"));
    let provider = telemetry.tracer_provider().unwrap().clone();
    let app = Router::new()
        .route("/", get(|| async { "Hello World!" }))
        .route(
            "/users/{id}",
            get(|Path(id): Path<u64>| async move { format!("user {id}") }),
        )
        .layer(
            OpencensusLayer::new()
                .with_tracer_provider(provider)
                .with_propagator(opencensus_settings::propagation::TraceContextPropagator),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, telemetry)
}

async fn exercise(addr: SocketAddr) {
    let client = reqwest::Client::new();
    client.get(format!("http://{addr}/")).send().await.unwrap();
    client
        .get(format!("http://{addr}/users/42?x=1"))
        .header("traceparent", format!("00-{TRACE}-{PARENT}-01"))
        .send()
        .await
        .unwrap();
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| {
            kv.value.as_ref().and_then(|v| match &v.value {
                Some(AnyValue::StringValue(s)) => Some(s.clone()),
                Some(AnyValue::IntValue(i)) => Some(i.to_string()),
                _ => None,
            })
        })
}

fn assert_the_trace(spans: &[(String, Span)]) {
    let root = spans
        .iter()
        .find(|(_, s)| s.name == "GET /")
        .expect("GET /");
    assert_eq!(root.0, "otlp-test");
    assert!(root.1.parent_span_id.is_empty());
    let user = spans
        .iter()
        .find(|(_, s)| s.name == "GET /users/{id}")
        .expect("GET /users/{id}");
    assert_eq!(hex(&user.1.trace_id), TRACE);
    assert_eq!(hex(&user.1.parent_span_id), PARENT);
    assert_eq!(attr(&user.1, "http.route").as_deref(), Some("/users/{id}"));
    assert_eq!(attr(&user.1, "url.query").as_deref(), Some("x=1"));
    assert_eq!(
        attr(&user.1, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(user.1.kind, 2, "SPAN_KIND_SERVER");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn http_protobuf_receives_the_trace() {
    let (collector, received) = http_collector().await;
    let settings = Settings::default()
        .with_sampler("AlwaysOnSampler()")
        .with_service_name("otlp-test")
        .with_exporter(format!(
            "OTLPSpanExporter(endpoint='http://{collector}/v1/traces', headers={{'x-api-key': 'sekrit'}}, compression='gzip', timeout=5)"
        ));
    let (addr, telemetry) = app(settings).await;
    assert!(!telemetry.report().to_string().contains("sekrit"));
    exercise(addr).await;
    telemetry.force_flush().unwrap();
    let spans = received.wait(2).await;
    assert_the_trace(&spans);
    let headers = received.headers();
    assert!(
        headers.contains(&("x-api-key".into(), "sekrit".into())),
        "{headers:?}"
    );
    assert!(
        headers.contains(&("content-encoding".into(), "gzip".into())),
        "{headers:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_receives_the_trace() {
    let (collector, received) = grpc_collector().await;
    let settings = Settings::default()
        .with_sampler("AlwaysOnSampler()")
        .with_service_name("otlp-test")
        .with_exporter(format!(
            "opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter(endpoint='http://{collector}', headers={{'x-api-key': 'sekrit'}})"
        ));
    let (addr, telemetry) = app(settings).await;
    exercise(addr).await;
    telemetry.force_flush().unwrap();
    let spans = received.wait(2).await;
    assert_the_trace(&spans);
    assert!(
        received
            .headers()
            .contains(&("x-api-key".into(), "sekrit".into()))
    );
}

fn check_env(vars: &[(&str, &str)]) -> String {
    check(
        Settings::loader()
            .env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .current_dir("/nonexistent")
            .executable_dir(None),
    )
    .to_string()
}

#[test]
fn check_shows_the_effective_endpoint_and_where_it_came_from() {
    let out = check_env(&[("OPENCENSUS__TRACE__EXPORTER", "OTLPSpanExporter()")]);
    assert!(
        out.contains("otlp endpoint          http://localhost:4318/v1/traces  <- default"),
        "{out}"
    );
    let out = check_env(&[
        ("OPENCENSUS__TRACE__EXPORTER", "OTLPSpanExporter()"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret1"),
    ]);
    assert!(
        out.contains(
            "http://collector:4318/v1/traces  <- environment variable OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
        "{out}"
    );
    assert!(
        out.contains("2.5s  <- environment variable OTEL_EXPORTER_OTLP_TIMEOUT"),
        "{out}"
    );
    assert!(out.contains("api-key (values redacted)"), "{out}");
    assert!(!out.contains("secret1"), "{out}");
    // The spec's keywords win; headers= replaces the variables'.
    let out = check_env(&[
        (
            "OPENCENSUS__TRACE__EXPORTER",
            "OTLPSpanExporter(endpoint='https://otel.example/custom', headers={'x-token': 'abc'}, timeout=3)",
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://ignored:4318/v1/traces",
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret1"),
    ]);
    assert!(
        out.contains("https://otel.example/custom  <- endpoint= of EXPORTER"),
        "{out}"
    );
    assert!(
        out.contains("x-token (values redacted)  <- headers= of EXPORTER"),
        "{out}"
    );
    assert!(!out.contains("api-key"), "{out}");
    assert!(out.contains("3s  <- timeout= of EXPORTER"), "{out}");
    // gRPC defaults.
    let out = check_env(&[(
        "OPENCENSUS__TRACE__EXPORTER",
        "OTLPSpanExporter(protocol='grpc')",
    )]);
    assert!(out.contains("http://localhost:4317  <- default"), "{out}");
}

#[test]
fn otlp_mistakes_are_errors() {
    for (spec, needle) in [
        (
            "opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter(protocol='http/protobuf')",
            "cannot use an http protocol",
        ),
        (
            "OTLPSpanExporter(protocol='http/xml')",
            "'http/protobuf', 'http/json' or 'grpc'",
        ),
        ("OTLPSpanExporter(compression='zstd')", "compression"),
        (
            "OTLPSpanExporter(endpoint='localhost:4318')",
            "not an http:// or https:// URL",
        ),
        ("OTLPSpanExporter(timeout=0)", "timeout"),
        // A range, not a panic (1e20 seconds used to overflow `Duration`).
        ("OTLPSpanExporter(timeout=1e20)", "at most 3600"),
    ] {
        let out = check_env(&[("OPENCENSUS__TRACE__EXPORTER", spec)]);
        assert!(out.contains(needle), "{spec}:\n{out}");
    }
    let out = check_env(&[
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
    ]);
    assert!(
        out.contains("OTEL_EXPORTER_OTLP_TIMEOUT must be a positive number of milliseconds"),
        "{out}"
    );
}

#[test]
fn otel_traces_exporter_selects_when_the_settings_name_none() {
    let out = check_env(&[("OTEL_TRACES_EXPORTER", "otlp")]);
    assert!(out.contains("OTLPSpanExporter()  <- environment variable OTEL_TRACES_EXPORTER (OTEL_TRACES_EXPORTER=otlp)"), "{out}");
    let out = check_env(&[("OTEL_TRACES_EXPORTER", "console")]);
    assert!(
        out.contains("PrintExporter()  <- environment variable OTEL_TRACES_EXPORTER"),
        "{out}"
    );
    let out = check_env(&[("OTEL_TRACES_EXPORTER", "none")]);
    assert!(out.contains("NoExporter()"), "{out}");
    let out = check_env(&[("OTEL_TRACES_EXPORTER", "zipkin")]);
    assert!(
        out.contains("OTEL_TRACES_EXPORTER has the unknown value `zipkin`"),
        "{out}"
    );
    // A settings EXPORTER shadows it.
    let out = check_env(&[
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OPENCENSUS__TRACE__EXPORTER", "PrintExporter()"),
    ]);
    assert!(
        out.contains("warning: OTEL_TRACES_EXPORTER=otlp is shadowed by EXPORTER"),
        "{out}"
    );
}

#[test]
fn headers_from_the_spec_replace_the_process_environment() {
    // The crate merges the process's OTEL_EXPORTER_OTLP_HEADERS into every request; our client
    // sends exactly the resolved set. A child process, so the variable is really in its env.
    let name = "headers_from_the_spec_replace_the_process_environment";
    if common::is_child(name) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        return rt.block_on(async {
            let endpoint = std::env::var("OCS_ENDPOINT").unwrap();
            let settings = Settings::load()
                .unwrap()
                .with_sampler("AlwaysOnSampler()")
                .with_exporter(format!(
                    "OTLPSpanExporter(endpoint='{endpoint}', headers={{'x-api-key': 'from-spec'}})"
                ));
            let (addr, telemetry) = app(settings.with_service_name("otlp-test")).await;
            exercise(addr).await;
            telemetry.shutdown();
        });
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (collector, received) = http_collector().await;
        let out = common::run_child_async(
            name,
            vec![
                (
                    "OCS_ENDPOINT".into(),
                    format!("http://{collector}/v1/traces"),
                ),
                (
                    "OTEL_EXPORTER_OTLP_HEADERS".into(),
                    "x-from-env=leaked".into(),
                ),
            ],
        )
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        received.wait(2).await;
        let headers = received.headers();
        assert!(
            headers.contains(&("x-api-key".into(), "from-spec".into())),
            "{headers:?}"
        );
        assert!(
            !headers.iter().any(|(k, _)| k == "x-from-env"),
            "{headers:?}"
        );
    });
}

// --- OpenTelemetry's configuration file (SPEC 10) -----------------------------------------

fn yaml_settings(dir: &std::path::Path, exporter: &str) -> Settings {
    let path = dir.join("otel.yaml");
    std::fs::write(
        &path,
        format!(
            "file_format: \"1.1\"\nresource:\n  attributes: [{{name: service.name, value: otlp-test}}]\ntracer_provider:\n  processors:\n    - batch:\n        schedule_delay: 50\n        exporter:\n{exporter}\n"
        ),
    )
    .unwrap();
    Settings::loader()
        .env([("OTEL_CONFIG_FILE", path.display().to_string())])
        .executable_dir(None)
        .load()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn yaml_otlp_http_with_json_encoding_and_headers() {
    let (collector, received) = http_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = yaml_settings(
        dir.path(),
        &format!(
            "          otlp_http:\n            endpoint: http://{collector}/v1/traces\n            encoding: json\n            headers: [{{name: x-api-key, value: \"${{KEY:-k3y}}\"}}]\n            headers_list: \"x-api-key=lower,x-tenant=t1\""
        ),
    );
    let (addr, telemetry) = app(settings).await;
    exercise(addr).await;
    let telemetry = common::flushed(telemetry).await;
    let spans = received.wait(2).await;
    assert_the_trace(&spans);
    let headers = received.headers();
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.contains("json")),
        "{headers:?}"
    );
    assert!(
        headers.contains(&("x-api-key".into(), "k3y".into())),
        "{headers:?}"
    );
    assert!(
        headers.contains(&("x-tenant".into(), "t1".into())),
        "{headers:?}"
    );
    drop(telemetry);
}

#[tokio::test(flavor = "multi_thread")]
async fn yaml_otlp_grpc_receives_the_trace() {
    let (collector, received) = grpc_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = yaml_settings(
        dir.path(),
        &format!(
            "          otlp_grpc:\n            endpoint: http://{collector}\n            compression: none\n            timeout: 5000"
        ),
    );
    let (addr, telemetry) = app(settings).await;
    exercise(addr).await;
    let telemetry = common::flushed(telemetry).await;
    let spans = received.wait(2).await;
    assert_the_trace(&spans);
    drop(telemetry);
}
