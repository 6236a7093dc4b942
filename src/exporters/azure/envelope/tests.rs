//! The conformance check: our envelopes against `opentelemetry-application-insights` 0.46's
//! (a dev-dependency only), field for field, over generated spans of every kind, with events,
//! links and scope attributes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use proptest::prelude::*;
use serde_json::Value as Json;

use super::EnvelopeWriter;

const KEY: &str = "0d3c4f2a-5b6e-4c7d-8e9f-a0b1c2d3e4f5";

/// Captures what the crate would send, to compare its envelopes with ours.
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Vec<Bytes>>>);

#[async_trait::async_trait]
impl HttpClient for Capture {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        self.0.lock().unwrap().push(request.into_body());
        Ok(Response::builder().status(200).body(Bytes::from_static(
            b"{\"itemsReceived\":0,\"itemsAccepted\":0,\"errors\":[]}",
        ))?)
    }
}

/// The crate's envelopes for `spans`, after our adjustments.
fn crate_envelopes(spans: Vec<SpanData>, resource: &Resource, rate: f64) -> Vec<Json> {
    let capture = Capture::default();
    #[allow(deprecated)]
    let mut exporter = opentelemetry_application_insights::Exporter::new_from_connection_string(
        format!("InstrumentationKey={KEY}"),
        capture.clone(),
    )
    .unwrap()
    .with_sample_rate(rate);
    exporter.set_resource(resource);
    let mut spans = spans;
    for span in &mut spans {
        spec7(span);
        spec12_name(span);
    }
    let shapes: Vec<(bool, bool, usize, Option<String>)> = spans
        .iter()
        .map(|s| {
            let request = matches!(s.span_kind, SpanKind::Server | SpanKind::Consumer);
            let has_status = s.attributes.iter().any(|kv| {
                kv.key.as_str() == "http.response.status_code"
                    || kv.key.as_str() == "http.status_code"
            });
            (
                request,
                has_status,
                s.events.len(),
                spec12_sdk_version(resource, s),
            )
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(exporter.export(spans)).unwrap();
    let bodies = capture.0.lock().unwrap();
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bodies[0][..]), &mut raw)
        .unwrap();
    let mut envelopes: Vec<Json> = serde_json::from_slice(&raw).unwrap();
    spec12_envelopes(&mut envelopes, &shapes);
    envelopes
}

/// SPEC 12 on the span (what makes the crate write it): an HTTP CLIENT span's dependency is
/// named `"{METHOD} {path}"`.
fn spec12_name(span: &mut SpanData) {
    if span.span_kind != SpanKind::Client {
        return;
    }
    let find = |key: &str| {
        span.attributes
            .iter()
            .rev()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    };
    let Some(method) = find("http.request.method").or_else(|| find("http.method")) else {
        return;
    };
    let url = find("url.full").or_else(|| find("http.url"));
    let path = url.as_deref().map_or("/", super::url_path).to_string();
    span.name = format!("{method} {path}").into();
}

/// The SDK version tag SPEC 12 wants for `span` under `resource` (when the crate writes one
/// at all): from the resource's attributes, then the span's scope's.
fn spec12_sdk_version(resource: &Resource, span: &SpanData) -> Option<String> {
    let get = |k: &str| {
        span.instrumentation_scope
            .attributes()
            .filter(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.as_str().into_owned())
            .last()
            .or_else(|| {
                resource
                    .iter()
                    .find(|(key, _)| key.as_str() == k)
                    .map(|(_, v)| v.as_str().into_owned())
            })
    };
    get("telemetry.sdk.name")?;
    Some(super::tags::sdk_version(
        &get("telemetry.sdk.language").unwrap_or_else(|| "rust".into()),
        &get("telemetry.sdk.version").unwrap_or_else(|| "0.0.0".into()),
    ))
}

/// SPEC 12 on the crate's envelopes, span by span (`shapes`: request?, has an HTTP status?,
/// how many events): a dependency without a response has `resultCode` "0"; a request's
/// exception items carry its `ai.operation.name`; the SDK version tag is Microsoft's shape.
fn spec12_envelopes(envelopes: &mut [Json], shapes: &[(bool, bool, usize, Option<String>)]) {
    let mut at = 0;
    for (request, has_status, events, sdk) in shapes {
        let (request, has_status, events) = (*request, *has_status, *events);
        let operation = envelopes[at]["tags"].get("ai.operation.name").cloned();
        if !request && !has_status {
            envelopes[at]["data"]["baseData"]["resultCode"] = Json::from("0");
        }
        for e in &mut envelopes[at + 1..=at + events] {
            if request
                && e["name"] == "Microsoft.ApplicationInsights.Exception"
                && let Some(op) = &operation
            {
                e["tags"]["ai.operation.name"] = op.clone();
            }
        }
        if let Some(sdk) = sdk {
            for e in &mut envelopes[at..=at + events] {
                if e["tags"].get("ai.internal.sdkVersion").is_some() {
                    e["tags"]["ai.internal.sdkVersion"] = Json::from(sdk.as_str());
                }
            }
        }
        at += 1 + events;
    }
}

fn our_envelopes(spans: &[SpanData], resource: &Resource, rate: f64) -> Vec<Json> {
    let mut writer = EnvelopeWriter::new(KEY, rate * 100.0);
    writer.set_resource(resource);
    let mut body = vec![b'['];
    let mut count = 0;
    for (i, span) in spans.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        count += writer.write(span, &mut body);
    }
    body.push(b']');
    let envelopes: Vec<Json> = serde_json::from_slice(&body).unwrap_or_else(|e| {
        let text = String::from_utf8_lossy(&body);
        panic!("{e}: {}", &text[..text.len().min(600)])
    });
    assert_eq!(envelopes.len() as u64, count);
    envelopes
}

fn span(
    kind: SpanKind,
    name: &str,
    attributes: Vec<KeyValue>,
    status: Status,
    parent: u64,
    start_ms: i64,
    micros: u64,
) -> SpanData {
    let start = if start_ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(start_ms as u64) + Duration::from_nanos(123_456)
    } else {
        UNIX_EPOCH - Duration::from_millis(start_ms.unsigned_abs()) + Duration::from_nanos(1)
    };
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(0x0123_4567_89ab_cdef_0011_2233_4455_6677u128),
            SpanId::from(0x00ab_cdef_0123_4567u64),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::from(parent),
        parent_span_is_remote: false,
        span_kind: kind,
        name: name.to_string().into(),
        start_time: start,
        end_time: start + Duration::from_micros(micros),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: InstrumentationScope::builder("t").build(),
    }
}

fn server_resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "bench"),
            KeyValue::new("service.instance.id", "host-1"),
            KeyValue::new("telemetry.sdk.name", "opentelemetry"),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.version", "0.33.1"),
        ])
        .build()
}

fn request_attributes(status: i64) -> Vec<KeyValue> {
    vec![
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("url.path", "/users/42"),
        KeyValue::new("url.query", "x=1"),
        KeyValue::new("url.scheme", "http"),
        KeyValue::new("server.address", "127.0.0.1"),
        KeyValue::new("server.port", 8080i64),
        KeyValue::new("http.route", "/users/{id}"),
        KeyValue::new("http.response.status_code", status),
        KeyValue::new("user_agent.original", "wrk \"4\"\n\u{1}"),
        KeyValue::new("client.address", "127.0.0.1"),
        KeyValue::new("network.protocol.version", "1.1"),
    ]
}

#[test]
fn a_request_matches_the_crate_and_spec_section_7() {
    let spans = vec![
        span(
            SpanKind::Server,
            "GET /users/{id}",
            request_attributes(200),
            Status::Unset,
            0,
            1_764_000_000_123,
            1_234,
        ),
        span(
            SpanKind::Server,
            "GET /users/{id}",
            request_attributes(404),
            Status::Unset,
            7,
            1_764_000_000_123,
            90_061_000_001,
        ),
        span(
            SpanKind::Server,
            "GET",
            vec![KeyValue::new("http.request.method", "GET")],
            Status::error("boom"),
            0,
            0,
            0,
        ),
    ];
    let resource = server_resource();
    let ours = our_envelopes(&spans, &resource, 1.0);
    assert_eq!(ours, crate_envelopes(spans, &resource, 1.0));
    let ok = &ours[0];
    assert_eq!(ok["name"], "Microsoft.ApplicationInsights.Request");
    assert_eq!(ok["time"], "2025-11-24T16:00:00.123Z");
    assert_eq!(ok["sampleRate"], 100.0);
    assert_eq!(ok["iKey"], KEY);
    assert_eq!(ok["tags"]["ai.operation.name"], "GET /users/{id}");
    assert_eq!(ok["tags"]["ai.cloud.role"], "bench");
    assert_eq!(ok["tags"]["ai.cloud.roleInstance"], "host-1");
    assert!(ok["tags"].get("ai.operation.parentId").is_none());
    let base = &ok["data"]["baseData"];
    assert_eq!(base["url"], "http://127.0.0.1:8080/users/42?x=1");
    assert_eq!(base["responseCode"], "200");
    assert_eq!(base["success"], true);
    assert_eq!(base["duration"], "0.00:00:00.001234");
    assert_eq!(
        base["properties"]["user_agent.original"],
        "wrk \"4\"\n\u{1}"
    );
    let not_found = &ours[1]["data"]["baseData"];
    assert_eq!(not_found["success"], false);
    assert_eq!(not_found["duration"], "1.01:01:01.000001");
    assert_eq!(ours[1]["tags"]["ai.operation.parentId"], "0000000000000007");
    let failed = &ours[2]["data"]["baseData"];
    assert_eq!(failed["responseCode"], "500");
    assert_eq!(ours[2]["tags"]["ai.operation.name"], "GET");
    assert_eq!(ours[2]["time"], "1970-01-01T00:00:00.000Z");
}

#[test]
fn long_values_are_cut_at_a_character_boundary() {
    // The crate panics here (it cuts at byte 2048, inside the 'é'); we cut before it.
    let long = format!("/{}é", "a".repeat(2046));
    let spans = vec![span(
        SpanKind::Server,
        "GET",
        vec![
            KeyValue::new("url.full", long),
            KeyValue::new("k", "€".repeat(3000)),
        ],
        Status::Unset,
        0,
        1,
        1,
    )];
    let ours = our_envelopes(&spans, &Resource::builder_empty().build(), 1.0);
    let base = &ours[0]["data"]["baseData"];
    assert_eq!(base["url"].as_str().unwrap().len(), 2047);
    assert_eq!(base["properties"]["k"].as_str().unwrap().len(), 8190);
}

const KEYS: &[&str] = &[
    "http.request.method",
    "http.method",
    "http.route",
    "http.response.status_code",
    "http.status_code",
    "url.full",
    "http.url",
    "url.path",
    "url.query",
    "http.target",
    "url.scheme",
    "http.scheme",
    "http.request.header.host",
    "http.host",
    "server.address",
    "net.host.name",
    "server.port",
    "net.host.port",
    "client.address",
    "http.client_ip",
    "network.peer.address",
    "client.socket.address",
    "net.sock.peer.addr",
    "net.peer.ip",
    "network.peer.port",
    "server.socket.address",
    "server.socket.port",
    "net.sock.peer.name",
    "net.peer.name",
    "net.sock.peer.port",
    "net.peer.port",
    "db.query.text",
    "db.statement",
    "db.namespace",
    "db.name",
    "db.system.name",
    "db.system",
    "messaging.system",
    "rpc.system.name",
    "rpc.system",
    "user.id",
    "enduser.id",
    "ai.operation.name",
    "ai.cloud.role",
    "ai.user.id",
    "ai.unknown",
    "_MS.hidden",
    "custom",
    "db.custom",
    "http.custom",
    "service.name",
];

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[ -~]{0,12}".prop_map(Value::from),
        "/[a-z]{0,5}".prop_map(Value::from),
        "[\"\\\\\n\t\u{1}é€a]{0,6}".prop_map(Value::from),
        (100i64..600).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        Just(Value::from("x".repeat(3000))),
    ]
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec((0..KEYS.len(), value()), 0..14).prop_map(|v| {
        v.into_iter()
            .map(|(k, v)| KeyValue::new(KEYS[k], v))
            .collect()
    })
}

fn kind() -> impl Strategy<Value = SpanKind> {
    prop_oneof![
        Just(SpanKind::Server),
        Just(SpanKind::Consumer),
        Just(SpanKind::Client),
        Just(SpanKind::Producer),
        Just(SpanKind::Internal),
    ]
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Unset),
        Just(Status::Ok),
        Just(Status::error("e"))
    ]
}

fn resource() -> impl Strategy<Value = Resource> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "service.name",
                "service.namespace",
                "service.instance.id",
                "k8s.pod.name",
                "k8s.deployment.name",
                "k8s.job.name",
                "device.id",
                "device.model.name",
                "service.version",
                "telemetry.sdk.name",
                "telemetry.sdk.version",
                "ai.session.id",
                "ai.cloud.role",
                "_MS.x",
                "custom",
                "http.flavor",
                "db.x",
            ]),
            prop_oneof![
                "[a-z]{1,8}".prop_map(Value::from),
                "unknown_service:[a-z]{1,4}".prop_map(Value::from),
                (0i64..100).prop_map(Value::from),
            ],
        ),
        0..8,
    )
    .prop_map(|attrs| {
        Resource::builder_empty()
            .with_attributes(attrs.into_iter().map(|(k, v)| KeyValue::new(k, v)))
            .build()
    })
}

const EVENT_KEYS: &[&str] = &[
    "exception.type",
    "exception.message",
    "exception.stacktrace",
    "exception.escaped",
    "level",
    "ai.customEvent.name",
    "_MS.x",
    "custom",
    "code.lineno",
];

fn event_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        value(),
        prop::sample::select(vec!["INFO", "WARN", "ERROR", "DEBUG", "TRACE", "info"])
            .prop_map(Value::from),
    ]
}

fn events() -> impl Strategy<Value = Vec<(String, Vec<KeyValue>, i64)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["exception", "ai.custom", "a message", "", "level"])
                .prop_map(str::to_string),
            prop::collection::vec((0..EVENT_KEYS.len(), event_value()), 0..6).prop_map(|v| {
                v.into_iter()
                    .map(|(k, v)| KeyValue::new(EVENT_KEYS[k], v))
                    .collect::<Vec<_>>()
            }),
            -5_000i64..5_000,
        ),
        0..3,
    )
}

fn links() -> impl Strategy<Value = Vec<Link>> {
    prop_oneof![
        prop::collection::vec((1u128.., 1u64..), 0..3),
        // More than `_MS.links` carries.
        Just((1..=110u64).map(|i| (u128::from(i) << 64 | 7, i)).collect()),
    ]
    .prop_map(|ids| {
        ids.into_iter()
            .map(|(t, s)| {
                Link::with_context(SpanContext::new(
                    TraceId::from(t),
                    SpanId::from(s),
                    TraceFlags::SAMPLED,
                    true,
                    TraceState::default(),
                ))
            })
            .collect()
    })
}

fn scope_attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "service.name",
                "service.instance.id",
                "ai.cloud.role",
                "ai.session.id",
                "telemetry.sdk.name",
                "custom",
            ]),
            "[a-z:]{1,8}",
        ),
        0..3,
    )
    .prop_map(|v| v.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
}

/// Adds events (at `start + offset` ms), links and scope attributes to a generated span.
fn decorate(
    mut span: SpanData,
    events: Vec<(String, Vec<KeyValue>, i64)>,
    links: Vec<Link>,
    scope: Vec<KeyValue>,
) -> SpanData {
    for (name, attributes, offset) in events {
        let at = if offset >= 0 {
            span.start_time + Duration::from_millis(offset as u64)
        } else {
            span.start_time - Duration::from_millis(offset.unsigned_abs())
        };
        span.events
            .events
            .push(opentelemetry::trace::Event::new(name, at, attributes, 0));
    }
    span.links.links = links;
    if !scope.is_empty() {
        span.instrumentation_scope = InstrumentationScope::builder("t")
            .with_attributes(scope)
            .build();
    }
    span
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn our_envelopes_are_the_crates(
        spans in prop::collection::vec(
            (
                (kind(), "[a-zA-Z /{}]{0,10}", attributes(), status(), prop::sample::select(vec![0u64, 1, u64::MAX]),
                 -2_000_000_000_000i64..250_000_000_000_000, 0u64..200_000_000_000),
                events(),
                links(),
                scope_attributes(),
            ),
            1..4),
        resource in resource(),
        rate in prop::sample::select(vec![1.0f64, 0.5, 0.125, 0.3]),
    ) {
        let spans: Vec<SpanData> = spans
            .into_iter()
            .map(|((k, n, a, s, p, t, d), e, l, scope)| decorate(span(k, &n, a, s, p, t, d), e, l, scope))
            .collect();
        let ours = our_envelopes(&spans, &resource, rate);
        let theirs = crate_envelopes(spans, &resource, rate);
        prop_assert_eq!(ours, theirs);
    }
}

#[test]
fn an_error_request_with_a_long_utf8_url_and_an_exception_is_written_whole() {
    // The crate panics on this span (it cuts the URL at byte 2048, inside the 'é'), and so lost
    // both the request and its exception; our writer cuts before the character.
    let mut s = span(
        SpanKind::Server,
        "GET",
        vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.full", format!("/{}é", "a".repeat(2046))),
        ],
        Status::error("boom"),
        0,
        1,
        1,
    );
    s.events.events.push(opentelemetry::trace::Event::new(
        "exception",
        SystemTime::now(),
        vec![
            KeyValue::new("exception.type", "my_app::DbDown"),
            KeyValue::new("exception.message", "é".repeat(20_000)),
        ],
        0,
    ));
    let ours = our_envelopes(&[s], &server_resource(), 1.0);
    assert_eq!(ours.len(), 2);
    assert_eq!(
        ours[0]["data"]["baseData"]["url"].as_str().unwrap().len(),
        2047
    );
    assert_eq!(ours[1]["name"], "Microsoft.ApplicationInsights.Exception");
    let exception = &ours[1]["data"]["baseData"]["exceptions"][0];
    assert_eq!(exception["typeName"], "my_app::DbDown");
    assert_eq!(exception["message"].as_str().unwrap().len(), 32768);
    assert_eq!(ours[1]["tags"]["ai.operation.parentId"], "00abcdef01234567");
}

/// What SPEC section 7 changes from the crate's envelope, expressed as the attributes that make
/// the crate write it (the writer builds these in):
/// - `success` is false for 4xx and 5xx (the crate looks at the span status alone);
/// - `ai.operation.name` is the request name even without a route (the method alone);
/// - a request that ended without a response (a panic, an inner error) reports 500.
fn spec7(span: &mut SpanData) {
    if !matches!(span.span_kind, SpanKind::Server | SpanKind::Consumer) {
        return;
    }
    let find = |key: &str| {
        span.attributes
            .iter()
            .rev()
            .find(|kv| kv.key.as_str() == key)
    };
    let code = find("http.response.status_code")
        .or_else(|| find("http.status_code"))
        .and_then(|kv| match &kv.value {
            Value::I64(i) => Some(*i),
            Value::String(s) => s.as_str().parse().ok(),
            _ => None,
        });
    match code {
        Some(code) if code >= 400 && !matches!(span.status, Status::Error { .. }) => {
            span.status = Status::error("");
        }
        None if matches!(span.status, Status::Error { .. }) => {
            span.attributes
                .push(KeyValue::new("http.response.status_code", 500i64));
        }
        _ => {}
    }
    span.attributes
        .push(KeyValue::new("ai.operation.name", span.name.to_string()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Arbitrary attribute values and event names of any length and script: the writer never
    /// panics, writes valid JSON, and one envelope per span and event.
    #[test]
    fn arbitrary_values_always_make_valid_envelopes(
        values in prop::collection::vec((0..KEYS.len(), prop_oneof![
            "\\PC{0,50}".prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            (0usize..40_000).prop_map(|n| Value::from("€".repeat(n / 3) + &"x".repeat(n % 3))),
            any::<f64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
        ]), 0..12),
        name in any::<String>(),
        kind in kind(),
        events in prop::collection::vec((any::<String>(), any::<String>()), 0..3),
    ) {
        let attributes: Vec<KeyValue> = values.into_iter().map(|(k, v)| KeyValue::new(KEYS[k], v)).collect();
        let mut s = span(kind, &name, attributes, Status::error(name.clone()), 1, 1, 1);
        for (event, message) in events {
            s.events.events.push(opentelemetry::trace::Event::new(
                event,
                SystemTime::now(),
                vec![KeyValue::new("exception.message", message)],
                0,
            ));
        }
        let n = 1 + s.events.len();
        let ours = our_envelopes(&[s], &server_resource(), 1.0);
        prop_assert_eq!(ours.len(), n);
    }
}

#[test]
fn a_span_whose_parent_decided_counts_once() {
    // SPEC 12: `_MS.sampleRate` (set when a sampled remote parent decided) replaces the local
    // rate for the span and its events, and is not a property.
    let mut s = span(
        SpanKind::Server,
        "GET",
        vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("_MS.sampleRate", 100.0),
        ],
        Status::error("x"),
        0,
        1,
        1,
    );
    s.events.events.push(opentelemetry::trace::Event::new(
        "exception",
        SystemTime::now(),
        vec![],
        0,
    ));
    let plain = span(SpanKind::Server, "GET", vec![], Status::Unset, 0, 1, 1);
    let ours = our_envelopes(&[s, plain], &server_resource(), 0.0001);
    assert_eq!(ours[0]["sampleRate"], 100.0);
    assert_eq!(ours[1]["sampleRate"], 100.0);
    assert_eq!(ours[2]["sampleRate"], 0.01);
    assert!(
        ours[0]["data"]["baseData"]["properties"]
            .get("_MS.sampleRate")
            .is_none()
    );
}

#[test]
fn details_as_microsofts_exporters_write_them() {
    // SPEC 12: an HTTP dependency is `"{METHOD} {path}"` (no query), a call without a
    // response has resultCode "0" and success false, a request's exception carries the
    // request's operation name, and the SDK version names the SDK and this exporter.
    let call = span(
        SpanKind::Client,
        "GET",
        vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.full", "https://api.example.com:8443/users/7?token=x#f"),
            KeyValue::new("server.address", "api.example.com"),
            KeyValue::new("server.port", 8443i64),
            KeyValue::new("http.response.status_code", 404i64),
        ],
        Status::Unset,
        1,
        1,
        1,
    );
    let unanswered = span(
        SpanKind::Client,
        "POST",
        vec![
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("url.full", "http://10.0.0.1"),
        ],
        Status::error("connection refused"),
        1,
        1,
        1,
    );
    let mut request = span(
        SpanKind::Server,
        "GET /orders/{id}",
        vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/orders/{id}"),
            KeyValue::new("http.response.status_code", 500i64),
        ],
        Status::error("x"),
        0,
        1,
        1,
    );
    request.events.events.push(opentelemetry::trace::Event::new(
        "exception",
        SystemTime::now(),
        vec![KeyValue::new("exception.type", "my_app::DbDown")],
        0,
    ));
    let ours = our_envelopes(&[call, unanswered, request], &server_resource(), 1.0);
    let call = &ours[0]["data"]["baseData"];
    assert_eq!(call["name"], "GET /users/7");
    assert_eq!(call["resultCode"], "404");
    assert_eq!(call["target"], "api.example.com:8443");
    let unanswered = &ours[1]["data"]["baseData"];
    assert_eq!(unanswered["name"], "POST /");
    assert_eq!(unanswered["resultCode"], "0");
    assert_eq!(unanswered["success"], false);
    assert_eq!(ours[3]["name"], "Microsoft.ApplicationInsights.Exception");
    assert_eq!(ours[3]["tags"]["ai.operation.name"], "GET /orders/{id}");
    let sdk = ours[0]["tags"]["ai.internal.sdkVersion"].as_str().unwrap();
    let (prefix, rest) = sdk.split_once('_').unwrap();
    assert_eq!(prefix.len(), 3, "{sdk}");
    assert!(
        "faku".contains(&prefix[..1]) && "lwu".contains(&prefix[1..2]),
        "{sdk}"
    );
    assert!(prefix.ends_with('m'), "{sdk}");
    assert_eq!(
        rest,
        format!("rust:otel0.33.1:ext{}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn url_paths_for_dependency_names() {
    for (url, path) in [
        ("https://h/a/b?q=1", "/a/b"),
        ("https://h:1/a#x", "/a"),
        ("https://h", "/"),
        ("https://h?x", "/"),
        ("http://user@h/p", "/p"),
        ("/relative?x", "/relative"),
        ("", "/"),
    ] {
        assert_eq!(super::url_path(url), path, "{url}");
    }
}

#[test]
fn a_grpc_request_carries_its_method_name_and_status() {
    // SPEC 12: named `{package.Service}/{Method}`; `responseCode` the gRPC status, and any
    // status but OK a failure although HTTP said 200.
    let grpc = |code: i64, status: Status| {
        span(
            SpanKind::Server,
            "pkg.Orders/Get",
            vec![
                KeyValue::new("http.request.method", "POST"),
                KeyValue::new("http.response.status_code", 200i64),
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", "pkg.Orders"),
                KeyValue::new("rpc.method", "Get"),
                KeyValue::new("rpc.grpc.status_code", code),
            ],
            status,
            0,
            1,
            1,
        )
    };
    let ours = our_envelopes(
        &[
            grpc(0, Status::Unset),
            grpc(13, Status::error("grpc-status 13")),
        ],
        &server_resource(),
        1.0,
    );
    for (e, code, success) in [(&ours[0], "0", true), (&ours[1], "13", false)] {
        let base = &e["data"]["baseData"];
        assert_eq!(base["name"], "pkg.Orders/Get");
        assert_eq!(e["tags"]["ai.operation.name"], "pkg.Orders/Get");
        assert_eq!(base["responseCode"], code);
        assert_eq!(base["success"], success);
    }
}
