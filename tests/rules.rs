//! SAMPLING_RULES (SPEC 9) end to end: an app configured from a settings file with rules, real
//! requests and calls, the envelopes at the ingestion test server. And the settings side: each
//! rule keeps the line of its own inline table, in errors and in `check`.

#![cfg(all(feature = "azure", feature = "axum", feature = "reqwest"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use common::ingest::{Ingest, requests};
use common::{assert_ok, is_child};
use opencensus_settings::OpencensusLayer;
use serde_json::Value;

const KEPT: &str = "00000000000000000000000000000001"; // DJB2 score 0.023
const DROPPED: &str = "ffffffffffffffffffffffffffffffff"; // DJB2 score 0.9996
const PARENT: &str = "b7ad6b7169203331";

const RULES: &str = r#"[OPENCENSUS.TRACE]
SAMPLER = "AlwaysOffSampler()"
EXPORTER = "AzureExporter(export_interval=3600, enable_local_storage=False)"
SAMPLING_RULES = [
  { path = "/api/checkout/**", sampler = "AlwaysOnSampler()" },
  { route = "/users/{id}", method = ["GET", "HEAD"], sampler = "ApplicationInsightsSampler(sampling_ratio=0.5)" },
  { kind = "client", host = "127.0.0.1", sampler = "AlwaysOffSampler()" },
  { kind = "client", sampler = "AlwaysOnSampler()" },
]
"#;

/// Serves `app` on 127.0.0.1 (port 0) in the background; its address.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// `GET path` with `headers`.
async fn send_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// The body of `GET path`, with `headers`.
async fn get_body(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    send_get(addr, path, headers).await.text().await.unwrap()
}

async fn get_path(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> u16 {
    send_get(addr, path, headers).await.status().as_u16()
}

/// Runs scenario `name` as a child app configured by the settings file `settings`, sending to
/// a new ingestion test server; the server and the child's standard output.
async fn run_app(name: &str, settings: &str) -> (Ingest, String) {
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opencensus.toml");
    std::fs::write(&file, settings).unwrap();
    let out = common::run_child_async(name, ingest.app_env(file.display())).await;
    let stdout = assert_ok(&out);
    (ingest, stdout)
}

async fn child_app() {
    let telemetry = opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
    let report = telemetry.report().to_string();
    assert!(report.contains("SAMPLING_RULES[2]"), "{report}");
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(opencensus_settings::client::TracingMiddleware::new())
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route(
            "/api/checkout/pay",
            get(move || {
                let client = client.clone();
                async move {
                    use opencensus_settings::opentelemetry::trace::Tracer as _;
                    opencensus_settings::opentelemetry::global::tracer("handler")
                        .in_span("charge", |_| {});
                    // A call to 127.0.0.1: the client rule drops it.
                    let _ = client.get(format!("http://{addr}/other")).send().await;
                    "paid"
                }
            }),
        )
        .route("/users/{id}", get(|| async { "user" }))
        .route("/other", get(|| async { "other" }))
        .layer(OpencensusLayer::new());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    assert_eq!(get_path(addr, "/api/checkout/pay", &[]).await, 200);
    assert_eq!(get_path(addr, "/other", &[]).await, 200);
    for trace in [KEPT, DROPPED] {
        let tp = format!("00-{trace}-{PARENT}-00");
        assert_eq!(
            get_path(addr, "/users/7", &[("traceparent", &tp)]).await,
            200
        );
    }
    drop(telemetry);
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_decide_per_request_and_their_rate_reaches_the_envelopes() {
    let name = "rules_decide_per_request_and_their_rate_reaches_the_envelopes";
    if is_child(name) {
        return child_app().await;
    }
    let (ingest, _) = run_app(name, RULES).await;
    let all = ingest
        .wait_for("checkout, its child, one user request", |e| e.len() >= 3)
        .await;
    assert!(ingest.rejected().is_empty(), "{:#?}", ingest.rejected());
    let reqs = requests(&all);
    let names: Vec<&str> = reqs
        .iter()
        .map(|e| e["data"]["baseData"]["name"].as_str().unwrap())
        .collect();
    // /other fell to SAMPLER (AlwaysOff); the user request with the high score was not kept.
    assert_eq!(names.len(), 2, "{names:?}");
    let checkout = reqs
        .iter()
        .find(|e| e["data"]["baseData"]["name"] == "GET /api/checkout/pay")
        .unwrap();
    assert_eq!(checkout["sampleRate"], 100.0);
    let user = reqs
        .iter()
        .find(|e| e["data"]["baseData"]["name"] == "GET /users/{id}")
        .unwrap();
    assert_eq!(user["tags"]["ai.operation.id"], KEPT);
    assert_eq!(user["sampleRate"], 50.0);
    // The handler's span follows its request; the call to 127.0.0.1 was dropped by its rule.
    let deps: Vec<&Value> = all
        .iter()
        .filter(|e| e["name"] == "Microsoft.ApplicationInsights.RemoteDependency")
        .collect();
    assert_eq!(deps.len(), 1, "{deps:#?}");
    assert_eq!(deps[0]["data"]["baseData"]["name"], "charge");
    assert_eq!(deps[0]["sampleRate"], 100.0);
    assert_eq!(
        deps[0]["tags"]["ai.operation.id"],
        checkout["tags"]["ai.operation.id"]
    );
}

fn check(
    dir: &std::path::Path,
    text: &str,
    env: &[(&str, &str)],
) -> opencensus_settings::CheckOutcome {
    std::fs::write(dir.join("opencensus.toml"), text).unwrap();
    opencensus_settings::check(
        opencensus_settings::Settings::loader()
            .env(
                env.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .chain([(
                        "APPLICATIONINSIGHTS_CONNECTION_STRING".to_string(),
                        format!("InstrumentationKey={}", common::ingest::IKEY),
                    )]),
            )
            .current_dir(dir)
            .executable_dir(None),
    )
}

#[test]
fn check_prints_each_rule_with_its_own_line() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = check(dir.path(), RULES, &[]);
    assert!(outcome.is_ok(), "{outcome}");
    let text = outcome.to_string();
    for (i, line) in [(0, 5), (1, 6), (2, 7), (3, 8)] {
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("SAMPLING_RULES[{i}]")))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(row.contains(&format!("opencensus.toml:{line}")), "{row}");
    }
    assert!(
        text.contains(
            "route=/users/{id} method=GET,HEAD -> ApplicationInsightsSampler(sampling_ratio=0.5)"
        ),
        "{text}"
    );
}

#[test]
fn bad_rules_are_errors_at_the_rules_own_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[OPENCENSUS.TRACE]\nSAMPLING_RULES = [\n  { path = \"/a\", sampler = \"AlwaysOnSampler()\" },\n  { pth = \"/b\", sampler = \"AlwaysOnSampler()\" },\n  { path = \"/c\" },\n  { sampler = \"AlwaysOnSampler()\" },\n  { path = \"/d\", sampler = \"ProbabilitySampler(rate=2)\" },\n  { path = \"/x/**y\", sampler = \"AlwaysOnSampler()\" },\n  { kind = \"both\", sampler = \"AlwaysOnSampler()\" },\n]\n";
    let outcome = check(dir.path(), text, &[]);
    let err = outcome.error.unwrap();
    let all = err.to_string();
    let problems: Vec<_> = err.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(problems.len(), 6, "{all}");
    let want = [
        (4, "unknown key `pth`", "did you mean `path`?"),
        (5, "rule 2 has no `sampler`", "sampler ="),
        (6, "rule 3 has no matcher", "SAMPLER"),
        (
            7,
            "rule 4: invalid value for keyword `rate`",
            "ProbabilitySampler(rate=2)",
        ),
        (8, "rule 5: `path`", "glob"),
        (9, "`kind` must be server, client or any", "both"),
    ];
    for (line, message, also) in want {
        let p = problems
            .iter()
            .find(|p| p.contains(message))
            .unwrap_or_else(|| panic!("no `{message}` in {all}"));
        assert!(p.contains(&format!("opencensus.toml:{line}")), "{p}");
        assert!(p.contains(also), "{p}");
    }
}

#[test]
fn rules_from_the_environment_replace_the_files_and_errors_name_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let var = "OPENCENSUS__TRACE__SAMPLING_RULES";
    let outcome = check(
        dir.path(),
        RULES,
        &[(
            var,
            r#"[{ method = "POST", sampler = "AlwaysOnSampler()" }]"#,
        )],
    );
    assert!(outcome.is_ok(), "{outcome}");
    let text = outcome.to_string();
    assert!(text.contains("SAMPLING_RULES[0]"), "{text}");
    assert!(!text.contains("SAMPLING_RULES[1]"), "{text}");
    assert!(
        text.contains(&format!("environment variable {var}")),
        "{text}"
    );
    let outcome = check(dir.path(), RULES, &[(var, "[{ method = 3 }]")]);
    let err = outcome.error.unwrap().to_string();
    assert!(err.contains(var) && err.contains("method"), "{err}");
    let outcome = check(dir.path(), RULES, &[(var, "not toml")]);
    let err = outcome.error.unwrap().to_string();
    assert!(
        err.contains("must be a TOML array of inline tables"),
        "{err}"
    );
}

#[test]
fn reload_interval_is_checked_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = check(
        dir.path(),
        "[OPENCENSUS.TRACE]\nRELOAD_INTERVAL = 2.5\n",
        &[],
    );
    assert!(outcome.is_ok(), "{outcome}");
    let text = outcome.to_string();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("RELOAD_INTERVAL"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("2.5s") && line.contains("opencensus.toml:2"),
        "{line}"
    );
    for bad in ["-1", "\"ten\"", "100000"] {
        let outcome = check(
            dir.path(),
            &format!("[OPENCENSUS.TRACE]\nRELOAD_INTERVAL = {bad}\n"),
            &[],
        );
        let err = outcome.error.unwrap().to_string();
        assert!(
            err.contains("RELOAD_INTERVAL must be a number of seconds in 0..=86400")
                && err.contains("opencensus.toml:2"),
            "{err}"
        );
    }
    let outcome = check(
        dir.path(),
        "[OPENCENSUS.TRACE]\n",
        &[("OPENCENSUS__TRACE__RELOAD_INTERVAL", "0")],
    );
    assert!(outcome.to_string().contains("off"), "{outcome}");
}

/// The actix-web middleware goes through the same rules (one `Shared::begin` for both).
#[cfg(feature = "actix")]
#[tokio::test(flavor = "multi_thread")]
async fn rules_decide_actix_requests_too() {
    let name = "rules_decide_actix_requests_too";
    if is_child(name) {
        let telemetry = opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(|| {
                    actix_web::App::new()
                        .wrap(opencensus_settings::actix::OpencensusMiddleware::new())
                        .route(
                            "/api/checkout/pay",
                            actix_web::web::get().to(|| async { "paid" }),
                        )
                        .route("/other", actix_web::web::get().to(|| async { "other" }))
                })
                .workers(1)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .unwrap();
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).unwrap();
                server.await.unwrap();
            });
        });
        let (addr, handle) = rx.recv().unwrap();
        assert_eq!(get_path(addr, "/api/checkout/pay", &[]).await, 200);
        assert_eq!(get_path(addr, "/other", &[]).await, 200);
        handle.stop(true).await;
        thread.join().unwrap();
        drop(telemetry);
        return;
    }
    let (ingest, _) = run_app(name, RULES).await;
    let all = ingest
        .wait_for("the checkout request", |e| !e.is_empty())
        .await;
    let reqs = requests(&all);
    assert_eq!(reqs.len(), 1, "{all:#?}");
    assert_eq!(reqs[0]["data"]["baseData"]["name"], "GET /api/checkout/pay");
    assert_eq!(reqs[0]["sampleRate"], 100.0);
}

const HALF: &str = r#"[OPENCENSUS.TRACE]
SAMPLER = "opencensus.trace.samplers.ProbabilitySampler(rate=0.5)"
EXPORTER = "AzureExporter(export_interval=3600, enable_local_storage=False)"
"#;

/// Requests without a parent: the sampler decides each by the trace id it is given.
const ROOTS: usize = 48;

async fn decided_first_app() {
    use opencensus_settings::opentelemetry::trace::TraceContextExt as _;
    let telemetry = opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
    // The handler answers what its context says: trace id, span id, sampled.
    let app = Router::new()
        .route(
            "/",
            get(|| async {
                let cx = opencensus_settings::opentelemetry::Context::current();
                let span = cx.span();
                let sc = span.span_context();
                format!(
                    "{}-{}-{}-{}",
                    sc.trace_id(),
                    sc.span_id(),
                    u8::from(sc.is_sampled()),
                    u8::from(span.is_recording())
                )
            }),
        )
        .layer(OpencensusLayer::new());
    let addr = serve(app).await;
    let mut seen = Vec::new();
    for _ in 0..ROOTS {
        seen.push(get_body(addr, "/", &[]).await);
    }
    // An unsampled parent: ProbabilitySampler decides by the trace id (here, a dropped one).
    let parent = format!("00-{DROPPED}-{PARENT}-00");
    seen.push(get_body(addr, "/", &[("traceparent", &parent)]).await);
    println!("SEEN {}", seen.join(" "));
    drop(common::flushed(telemetry).await);
}

/// The installed pipeline asks the live sampler before building a span: the decision a
/// recorded request was given must be the one its own trace id earns (a root request's trace
/// id is chosen before the decision), a dropped request still has a context of its own (a new
/// span id in the incoming trace, not sampled, not recording), and nothing dropped is exported.
#[tokio::test(flavor = "multi_thread")]
async fn the_sampler_decides_first_for_the_trace_id_the_request_gets() {
    let name = "the_sampler_decides_first_for_the_trace_id_the_request_gets";
    if is_child(name) {
        return decided_first_app().await;
    }
    let (ingest, stdout) = run_app(name, HALF).await;
    let seen: Vec<Vec<String>> = stdout
        .lines()
        .find_map(|l| l.split_once("SEEN ").map(|(_, seen)| seen))
        .unwrap()
        .split(' ')
        .map(|s| s.split('-').map(String::from).collect())
        .collect();
    assert_eq!(seen.len(), ROOTS + 1);
    let half = opencensus_settings::registry::ProbabilitySampler::new(0.5).unwrap();
    let threshold = half.threshold().unwrap();
    let earns = |trace: &str| u64::from_str_radix(&trace[16..], 16).unwrap() <= threshold;
    let kept: Vec<&Vec<String>> = seen.iter().filter(|s| s[2] == "1").collect();
    for s in &seen {
        assert_eq!(
            s[2] == "1",
            earns(&s[0]),
            "decision and trace id disagree: {s:?}"
        );
        assert_eq!(s[2], s[3], "recording iff sampled: {s:?}");
    }
    assert!(
        !kept.is_empty() && kept.len() < ROOTS,
        "{} of {ROOTS} kept",
        kept.len()
    );
    let last = &seen[ROOTS];
    assert_eq!(last[0], DROPPED);
    assert_ne!(
        last[1], PARENT,
        "a dropped request has a span id of its own"
    );
    assert_eq!(last[1].len(), 16);
    assert_eq!(last[2], "0");
    let all = ingest
        .wait_for("every kept request", |e| requests(e).len() >= kept.len())
        .await;
    assert!(ingest.rejected().is_empty(), "{:#?}", ingest.rejected());
    let mut exported: Vec<(&str, &str)> = requests(&all)
        .iter()
        .map(|e| {
            (
                e["tags"]["ai.operation.id"].as_str().unwrap(),
                e["data"]["baseData"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    let mut expected: Vec<(&str, &str)> = kept
        .iter()
        .map(|s| (s[0].as_str(), s[1].as_str()))
        .collect();
    exported.sort_unstable();
    expected.sort_unstable();
    assert_eq!(exported, expected);
}

/// Counts the questions it is asked and keeps every other one: a sampler with state, as a
/// rate limiter is.
#[derive(Debug, Clone)]
struct EveryOther;

static ASKED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl opencensus_settings::opentelemetry_sdk::trace::ShouldSample for EveryOther {
    fn should_sample(
        &self,
        parent: Option<&opencensus_settings::opentelemetry::Context>,
        _trace_id: opencensus_settings::opentelemetry::trace::TraceId,
        _name: &str,
        _kind: &opencensus_settings::opentelemetry::trace::SpanKind,
        _attributes: &[opencensus_settings::opentelemetry::KeyValue],
        _links: &[opencensus_settings::opentelemetry::trace::Link],
    ) -> opencensus_settings::opentelemetry_sdk::trace::SamplingResult {
        use opencensus_settings::opentelemetry::trace::TraceContextExt as _;
        use opencensus_settings::opentelemetry_sdk::trace::{SamplingDecision, SamplingResult};
        let n = ASKED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        SamplingResult {
            decision: if n.is_multiple_of(2) {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: vec![opencensus_settings::opentelemetry::KeyValue::new(
                "_MS.sampleRate",
                50.0,
            )],
            trace_state: parent
                .map(|cx| cx.span().span_context().trace_state().clone())
                .unwrap_or_default(),
        }
    }
}

const REQUESTS: usize = 6;

async fn asked_once_app() {
    let mut registry = opencensus_settings::registry::Registry::default();
    registry
        .register_sampler("test.samplers.EveryOther", Vec::<&str>::new(), |_| {
            Ok(opencensus_settings::registry::SamplerComponent {
                sampler: Box::new(EveryOther),
                rate: None,
            })
        })
        .unwrap();
    let settings = opencensus_settings::Settings::loader()
        .registry(registry)
        .load()
        .unwrap_or_else(|e| panic!("{e}"));
    let telemetry = opencensus_settings::init_with(settings).unwrap_or_else(|e| panic!("{e}"));
    let addr = serve(
        Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(OpencensusLayer::new()),
    )
    .await;
    for i in 0..REQUESTS {
        // With and without a parent: both take the installed path.
        let headers: &[(&str, &str)] = if i.is_multiple_of(3) {
            &[(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
            )]
        } else {
            &[]
        };
        assert_eq!(get_path(addr, "/", headers).await, 200);
    }
    println!("ASKED {}", ASKED.load(std::sync::atomic::Ordering::SeqCst));
    drop(common::flushed(telemetry).await);
}

/// The installed layer asks the sampler once a request (a sampler with state, a rate limiter
/// say, counts each request once), keeps what that one answer kept, and the rate the sampler
/// gave reaches the envelope.
#[tokio::test(flavor = "multi_thread")]
async fn the_sampler_is_asked_once_a_request() {
    let name = "the_sampler_is_asked_once_a_request";
    if is_child(name) {
        return asked_once_app().await;
    }
    let (ingest, stdout) = run_app(
        name,
        "[OPENCENSUS.TRACE]\nSAMPLER = \"test.samplers.EveryOther()\"\n\
         EXPORTER = \"AzureExporter(export_interval=3600, enable_local_storage=False)\"\n",
    )
    .await;
    assert!(stdout.contains(&format!("ASKED {REQUESTS}")), "{stdout}");
    let all = ingest
        .wait_for("every other request", |e| requests(e).len() >= REQUESTS / 2)
        .await;
    assert!(ingest.rejected().is_empty(), "{:#?}", ingest.rejected());
    let reqs = requests(&all);
    assert_eq!(reqs.len(), REQUESTS / 2);
    assert!(reqs.iter().all(|e| e["sampleRate"] == 50.0), "{reqs:#?}");
}
