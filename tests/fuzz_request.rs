//! Fuzzing that reaches the request path (issue 12): arbitrary header bytes for every
//! propagation format, arbitrary paths and queries of any length and script, through the real
//! tower layer and an axum router. Nothing may panic, every request is answered as the router
//! answers it, and every recorded span is well formed.

#![cfg(feature = "axum")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderName, HeaderValue, Request};
use opencensus_settings::OpencensusLayer;
use opencensus_settings::opentelemetry::propagation::TextMapCompositePropagator;
use opencensus_settings::opentelemetry_sdk::propagation::BaggagePropagator;
use opencensus_settings::opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SdkTracerProvider,
};
use opencensus_settings::propagation::{
    B3Inject, B3Propagator, GoogleCloudPropagator, TraceContextPropagator,
};
use proptest::prelude::*;
use tower::ServiceExt;

const HEADERS: &[&str] = &[
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
    "x-cloud-trace-context",
    "baggage",
    "host",
    "user-agent",
];

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        // Near-valid values, mutated.
        "00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}".prop_map(String::into_bytes),
        "[0-9a-f]{32}/[0-9]{1,22};o=[0-9]".prop_map(String::into_bytes),
        "[0-9a-f]{16,32}-[0-9a-f]{16}(-[01d])?(-[0-9a-f]{16})?".prop_map(String::into_bytes),
        "([a-z]{1,5}=[^,;]{0,10}(;[a-z]=1)?,?){0,5}".prop_map(String::into_bytes),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[a-z0-9/._~-]{0,40}",
        // Any script, percent-encoded as it travels.
        "\\PC{0,60}".prop_map(|s| format!("/{}", utf8_percent(&s))),
        (1usize..5000).prop_map(|n| format!("/users/{}", "é".repeat(n).replace('é', "%C3%A9"))),
    ]
}

fn utf8_percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn app(exporter: &InMemorySpanExporter) -> Router {
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_simple_exporter(exporter.clone())
        .build();
    let propagator = TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator),
        Box::new(B3Propagator::new(B3Inject::Single)),
        Box::new(GoogleCloudPropagator),
        Box::new(BaggagePropagator::new()),
    ]);
    Router::new()
        .route("/", get(|| async { "root" }))
        .route("/users/{id}", get(|| async { "user" }))
        .layer(
            OpencensusLayer::new()
                .with_tracer_provider(provider)
                .with_propagator(propagator)
                .with_exclude_paths(&["/healthz", "/static/**"])
                .unwrap(),
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_never_panic_and_are_answered(
        path in path(),
        query in prop::option::of("\\PC{0,80}"),
        headers in prop::collection::vec((0..HEADERS.len(), header_value()), 0..8),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let result: Result<(), TestCaseError> = rt.block_on(async {
            let exporter = InMemorySpanExporter::default();
            let app = app(&exporter);
            let uri = match &query {
                Some(q) => format!("{path}?{}", utf8_percent(q).replace("%3D", "=").replace("%26", "&")),
                None => path.clone(),
            };
            let mut builder = Request::builder().uri(uri.as_str());
            for (name, value) in &headers {
                if let Ok(v) = HeaderValue::from_bytes(value) {
                    builder = builder.header(HeaderName::from_static(HEADERS[*name]), v);
                }
            }
            let Ok(request) = builder.body(Body::empty()) else { return Ok(()) };
            let response = app.oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            prop_assert!(status == 200 || status == 404, "{status}");
            for span in exporter.get_finished_spans().unwrap() {
                prop_assert!(span.name.starts_with("GET"), "{}", span.name);
                prop_assert!(span.span_context.is_valid());
            }
            Ok(())
        });
        result?;
    }
}
