//! AzureExporter end to end: real apps configured from settings send real requests; a real
//! ingestion server (tests/common/ingest.rs) validates every envelope. Installing sets process
//! globals, so each app runs in a child process (this test binary, re-run with `OCS_CHILD`).

#![cfg(feature = "azure")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::process::Output;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::ingest::{IKEY, Ingest, requests};
use common::{assert_ok, is_child};
use opencensus_settings::{OpencensusLayer, TracedError};
use serde_json::Value;

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";

/// Runs `name` in a child process with `env`, from inside the parent's runtime.
async fn child(name: &str, env: Vec<(String, String)>) -> Output {
    common::run_child_async(name, env).await
}

/// Runs the app scenario `name` in a child, with `file` as its settings and the ingestion
/// server's connection string in the environment.
async fn app_child(name: &str, ingest: &Ingest, file: String) -> Output {
    child(name, ingest.app_env(file)).await
}

fn settings_file(dir: &std::path::Path, exporter: &str) -> String {
    let path = dir.join("opencensus.toml");
    std::fs::write(
        &path,
        format!(
            "[OPENCENSUS.TRACE]\nSAMPLER = \"opencensus.trace.samplers.AlwaysOnSampler()\"\nEXPORTER = \"\"\"{exporter}\"\"\"\nEXCLUDELIST_PATHS = [\"_ah/health\", \"/healthz\"]\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

// --- the app ----------------------------------------------------------------------------

#[derive(Debug)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("backend down")
    }
}

impl IntoResponse for Down {
    fn into_response(self) -> Response {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}

fn app(extra: &'static str) -> Router {
    Router::new()
        .route("/", get(|| async { "Hello World!" }))
        .route(
            "/users/{id}",
            get(|Path(id): Path<u64>| async move { format!("user {id}") }),
        )
        .route("/fail", get(|| async { Err::<&str, _>(TracedError(Down)) }))
        .route("/healthz", get(|| async { "ok" }))
        .route(extra, get(|| async { "runtime" }))
        .layer(OpencensusLayer::new())
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
        .unwrap()
    });
    addr
}

async fn get_path(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut req = reqwest::Client::new().get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}

// --- end to end -------------------------------------------------------------------------

fn by_url<'a>(envelopes: &'a [Value], suffix: &str) -> &'a Value {
    requests(envelopes)
        .into_iter()
        .find(|e| {
            e["data"]["baseData"]["url"]
                .as_str()
                .is_some_and(|u| u.ends_with(suffix))
        })
        .unwrap_or_else(|| panic!("no request envelope for {suffix}: {envelopes:#?}"))
}

/// A loader reading only `vars` (no settings file, no process environment).
fn env_loader(vars: &[(&str, &str)]) -> opencensus_settings::SettingsLoader {
    opencensus_settings::Settings::loader()
        .env(vars.iter().copied())
        .current_dir("/nonexistent")
        .executable_dir(None)
}

fn first_exception(envelopes: &[Value]) -> &Value {
    envelopes
        .iter()
        .find(|e| e["name"] == "Microsoft.ApplicationInsights.Exception")
        .unwrap_or_else(|| panic!("no exception envelope: {envelopes:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_arrive_as_request_telemetry() {
    let name = "requests_arrive_as_request_telemetry";
    if is_child(name) {
        return child_app().await;
    }
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The seed's exact exporter spec; the connection string comes from the environment.
    let file = settings_file(
        dir.path(),
        "opencensus.ext.azure.trace_exporter.AzureExporter(\n    service_name='foobar',\n)",
    );
    let out = app_child(name, &ingest, file).await;
    let stdout = assert_ok(&out);
    let port: u16 = stdout
        .lines()
        .find_map(|l| l.split("APP_PORT=").nth(1))
        .unwrap_or_else(|| panic!("no APP_PORT in the child's output:\n{stdout}"))
        .trim()
        .parse()
        .unwrap();
    let all = ingest
        .wait_for("6 requests and 1 exception", |e| {
            requests(e).len() >= 5
                && e.iter()
                    .any(|x| x["name"] == "Microsoft.ApplicationInsights.Exception")
        })
        .await;
    assert!(
        ingest.rejected().is_empty(),
        "rejected: {:#?}",
        ingest.rejected()
    );
    assert!(
        ingest.paths().iter().all(|p| p == "/v2/track"),
        "{:?}",
        ingest.paths()
    );
    // A loopback endpoint gets plain JSON (compression='none' by default there), for spans
    // with events too: before one envelope writer served every span, those went out as gzip.
    assert_eq!(ingest.gzip_calls(), 0);

    for e in &all {
        assert_eq!(e["iKey"], IKEY);
        assert_eq!(e["tags"]["ai.cloud.role"], "foobar", "{e:#}");
        assert!(
            e["tags"]["ai.cloud.roleInstance"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{e:#}"
        );
        assert_eq!(e["sampleRate"], 100.0);
    }
    let root = by_url(&all, &format!("127.0.0.1:{port}/"));
    let b = &root["data"]["baseData"];
    assert_eq!(b["name"], "GET /");
    assert_eq!(b["responseCode"], "200");
    assert_eq!(b["success"], true);
    assert_eq!(b["url"], format!("http://127.0.0.1:{port}/"));
    assert_eq!(root["tags"]["ai.operation.name"], "GET /");
    assert_eq!(root["tags"]["ai.operation.id"].as_str().unwrap().len(), 32);

    let user = by_url(&all, "/users/42?x=1");
    assert_eq!(user["data"]["baseData"]["name"], "GET /users/{id}");
    assert_eq!(
        user["data"]["baseData"]["url"],
        format!("http://127.0.0.1:{port}/users/42?x=1")
    );
    assert_eq!(user["tags"]["ai.operation.name"], "GET /users/{id}");

    let missing = by_url(&all, "/missing");
    assert_eq!(missing["data"]["baseData"]["responseCode"], "404");
    assert_eq!(missing["data"]["baseData"]["success"], false);
    assert_eq!(missing["data"]["baseData"]["name"], "GET");
    assert_eq!(missing["tags"]["ai.operation.name"], "GET");

    let fail = by_url(&all, "/fail");
    assert_eq!(fail["data"]["baseData"]["responseCode"], "500");
    assert_eq!(fail["data"]["baseData"]["success"], false);
    let exception = first_exception(&all);
    assert_eq!(
        exception["tags"]["ai.operation.id"],
        fail["tags"]["ai.operation.id"]
    );
    assert_eq!(
        exception["tags"]["ai.operation.parentId"],
        fail["data"]["baseData"]["id"]
    );
    // SPEC 12: found under the request's operation in the Failures view.
    assert_eq!(exception["tags"]["ai.operation.name"], "GET /fail");
    let sdk = exception["tags"]["ai.internal.sdkVersion"]
        .as_str()
        .unwrap();
    assert!(
        sdk.ends_with(&format!(
            "m_rust:otel0.33.1:ext{}",
            env!("CARGO_PKG_VERSION")
        )),
        "{sdk}"
    );
    let details = &exception["data"]["baseData"]["exceptions"][0];
    assert!(
        details["typeName"].as_str().unwrap().ends_with("Down"),
        "{details}"
    );
    assert_eq!(details["message"], "backend down");

    let traced = requests(&all)
        .into_iter()
        .find(|e| e["tags"]["ai.operation.id"] == TRACE)
        .unwrap_or_else(|| panic!("no request in operation {TRACE}"));
    assert_eq!(traced["tags"]["ai.operation.parentId"], PARENT);

    // The excluded path produced nothing.
    assert!(requests(&all).iter().all(|e| {
        !e["data"]["baseData"]["url"]
            .as_str()
            .unwrap()
            .contains("healthz")
    }));
    assert_eq!(requests(&all).len(), 5);
}

async fn child_app() {
    let telemetry = opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
    let report = telemetry.report().to_string();
    assert!(report.contains("ingestion endpoint"), "{report}");
    assert!(!report.contains(IKEY), "{report}");
    let addr = serve(app("/unused")).await;
    println!("APP_PORT={}", addr.port());
    assert_eq!(get_path(addr, "/", &[]).await, 200);
    assert_eq!(get_path(addr, "/users/42?x=1", &[]).await, 200);
    assert_eq!(get_path(addr, "/missing", &[]).await, 404);
    assert_eq!(get_path(addr, "/fail", &[]).await, 500);
    assert_eq!(get_path(addr, "/healthz", &[]).await, 200);
    let tp = format!("00-{TRACE}-{PARENT}-01");
    assert_eq!(
        get_path(addr, "/users/7", &[("traceparent", &tp)]).await,
        200
    );
    drop(telemetry); // flushes within the grace period
}

// --- the four runtime set-ups -----------------------------------------------------------

async fn runtime_case(name: &str) {
    runtime_case_with(name, "opencensus.trace.samplers.AlwaysOnSampler()").await;
}

async fn runtime_case_with(name: &str, sampler: &str) -> Vec<Value> {
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = settings_file(
        dir.path(),
        "AzureExporter(service_name='rt', export_interval=0.05)",
    );
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("opencensus.trace.samplers.AlwaysOnSampler()", sampler);
    std::fs::write(&file, text).unwrap();
    let out = app_child(name, &ingest, file).await;
    assert_ok(&out);
    let route = format!("GET /{name}");
    let all = ingest
        .wait_for(&route, |e| {
            requests(e)
                .iter()
                .any(|r| r["data"]["baseData"]["name"] == route.as_str())
        })
        .await;
    assert!(ingest.rejected().is_empty(), "{:#?}", ingest.rejected());
    assert_eq!(requests(&all).len(), 1);
    all
}

#[test]
fn init_before_any_runtime_exists() {
    let name = "init_before_any_runtime_exists";
    if is_child(name) {
        // A synchronous test function: `init_from_settings` runs with no runtime at all.
        let telemetry = opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let addr = serve(app("/init_before_any_runtime_exists")).await;
            assert_eq!(
                get_path(addr, "/init_before_any_runtime_exists", &[]).await,
                200
            );
        });
        drop(rt);
        drop(telemetry); // no runtime anywhere now
        return;
    }
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(runtime_case(name));
}

#[test]
fn inside_a_multi_thread_runtime() {
    let name = "inside_a_multi_thread_runtime";
    if is_child(name) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        return rt.block_on(async {
            let telemetry =
                opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
            // Secrets never show in Debug output.
            assert!(!format!("{telemetry:?}").contains(IKEY));
            let addr = serve(app("/inside_a_multi_thread_runtime")).await;
            // ProbabilitySampler(rate=0.5) keeps a sampled parent. This trace id is one the
            // sampler would have chosen itself (low 64 bits under 2^63), so sampleRate says 50;
            // one it would not have chosen counts once (issue 17, `upstream_sampled_requests_count_once`).
            let tp = format!("00-0af7651916cd43dd0000000000000042-{PARENT}-01");
            let status = get_path(
                addr,
                "/inside_a_multi_thread_runtime",
                &[("traceparent", &tp)],
            )
            .await;
            assert_eq!(status, 200);
            drop(telemetry); // inside the runtime
        });
    }
    let envelopes = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(runtime_case_with(
            name,
            "opencensus.trace.samplers.ProbabilitySampler(rate=0.5)",
        ));
    assert_eq!(envelopes[0]["sampleRate"], 50.0);
}

#[test]
fn inside_a_current_thread_runtime() {
    let name = "inside_a_current_thread_runtime";
    if is_child(name) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        return rt.block_on(async {
            let telemetry =
                opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
            let addr = serve(app("/inside_a_current_thread_runtime")).await;
            assert_eq!(
                get_path(addr, "/inside_a_current_thread_runtime", &[]).await,
                200
            );
            drop(telemetry); // must not deadlock the only runtime thread
        });
    }
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(runtime_case(name));
}

#[cfg(feature = "actix")]
#[test]
fn inside_an_actix_web_app() {
    let name = "inside_an_actix_web_app";
    if is_child(name) {
        return actix_rt::System::new().block_on(async {
            use actix_web::{App, HttpServer, web};
            let telemetry =
                opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
            let server = HttpServer::new(|| {
                App::new()
                    .wrap(opencensus_settings::actix::OpencensusMiddleware::new())
                    .route(
                        "/inside_an_actix_web_app",
                        web::get().to(|| async { "actix" }),
                    )
            })
            .workers(1)
            .bind("127.0.0.1:0")
            .unwrap();
            let addr = server.addrs()[0];
            let server = server.run();
            let handle = server.handle();
            actix_rt::spawn(server);
            assert_eq!(get_path(addr, "/inside_an_actix_web_app", &[]).await, 200);
            handle.stop(true).await;
            drop(telemetry);
        });
    }
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(runtime_case(name));
}

// --- settings-level behaviour -----------------------------------------------------------

#[test]
fn missing_connection_string_names_every_way() {
    let outcome = opencensus_settings::check(
        opencensus_settings::Settings::loader()
            .env([(
                "OPENCENSUS__TRACE__EXPORTER",
                "AzureExporter(service_name='x')",
            )])
            .current_dir("/nonexistent")
            .executable_dir(None),
    );
    let text = outcome.to_string();
    assert!(!outcome.is_ok());
    for way in [
        "connection_string=",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPINSIGHTS_INSTRUMENTATIONKEY",
        "instrumentation_key=",
    ] {
        assert!(text.contains(way), "{way} missing from:\n{text}");
    }
}

#[test]
fn connection_string_errors_never_show_the_key() {
    let secret = "InstrumentationKey=11111111-2222-3333-4444-55555555555Z";
    for (var, value, exporter) in [
        (
            "OPENCENSUS__TRACE__EXPORTER",
            format!("AzureExporter(connection_string='{secret}')"),
            None,
        ),
        (
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            secret.to_string(),
            Some("AzureExporter()"),
        ),
        (
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            "InstrumentationKey=11111111-2222-3333-4444-555555555555;Authorization=AAD".to_string(),
            Some("AzureExporter()"),
        ),
    ] {
        let mut env = vec![(var.to_string(), value.clone())];
        if let Some(e) = exporter {
            env.push(("OPENCENSUS__TRACE__EXPORTER".to_string(), e.to_string()));
        }
        let outcome = opencensus_settings::check(
            opencensus_settings::Settings::loader()
                .env(env)
                .current_dir("/nonexistent")
                .executable_dir(None),
        );
        let text = outcome.to_string();
        assert!(!outcome.is_ok(), "{text}");
        assert!(!text.contains("11111111"), "{text}");
        if var.starts_with("APPLICATIONINSIGHTS") {
            assert!(
                text.contains("APPLICATIONINSIGHTS_CONNECTION_STRING"),
                "{text}"
            );
        }
    }
}

#[test]
fn azure_keywords_are_validated() {
    let cs = format!("InstrumentationKey={IKEY}");
    for (spec, needle) in [
        (
            format!(
                "AzureExporter(connection_string='{cs}', transport=opencensus.common.transports.sync.SyncTransport)"
            ),
            "SyncTransport is not accepted",
        ),
        (
            format!("AzureExporter(connection_string='{cs}', instrumentation_key='{IKEY}')"),
            "not both",
        ),
        (
            format!("AzureExporter(connection_string='{cs}', export_interval=0)"),
            "export_interval",
        ),
        (
            format!("AzureExporter(connection_string='{cs}', max_batch_size=0)"),
            "max_batch_size",
        ),
        (
            format!("AzureExporter(connection_string='{cs}', timeout=-1)"),
            "timeout",
        ),
        (
            format!("AzureExporter(connection_string='{cs}', enable_local_storage=true)"),
            "did you mean `True`?",
        ),
        (
            format!("AzureExporter(connection_string='{cs}', proxies={{'ftp': 'http://p'}})"),
            "proxies",
        ),
        (
            format!("AzureExporter(connection_string='{cs}', servce_name='x')"),
            "did you mean `service_name`?",
        ),
        (
            format!("AzureExporter(connection_string='{cs}', compression='zstd')"),
            "'gzip', 'none' or None",
        ),
    ] {
        let outcome = opencensus_settings::check(
            opencensus_settings::Settings::loader()
                .env([("OPENCENSUS__TRACE__EXPORTER", spec.as_str())])
                .current_dir("/nonexistent")
                .executable_dir(None),
        );
        assert!(outcome.to_string().contains(needle), "{spec}:\n{outcome}");
        assert!(!outcome.to_string().contains(IKEY), "{outcome}");
    }
    let ok = opencensus_settings::check(
        opencensus_settings::Settings::loader()
            .env([(
                "OPENCENSUS__TRACE__EXPORTER",
                format!("AzureExporter(connection_string='{cs};IngestionEndpoint=http://10.1.2.3:8080/', service_name='svc', export_interval=1.5, max_batch_size=10, timeout=3, enable_local_storage=False, storage_path='/tmp/x', storage_max_size=1024, storage_retention_period=60, proxies={{'https': 'http://user:pw@proxy:3128'}}, transport=AsyncTransport)").as_str(),
            )])
            .current_dir("/nonexistent")
            .executable_dir(None),
    );
    let text = ok.to_string();
    assert!(ok.is_ok(), "{text}");
    assert!(text.contains("http://10.1.2.3:8080/v2/track"), "{text}");
    assert!(text.contains("plain http:// and not loopback"), "{text}");
    assert!(
        text.contains("compression") && text.contains("gzip"),
        "{text}"
    );
    assert!(!text.contains(IKEY) && !text.contains("pw@proxy"), "{text}");
}

#[cfg(feature = "reqwest")]
#[tokio::test(flavor = "multi_thread")]
async fn outgoing_calls_arrive_as_dependencies_in_the_same_operation() {
    let name = "outgoing_calls_arrive_as_dependencies_in_the_same_operation";
    if is_child(name) {
        let telemetry = opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(opencensus_settings::client::TracingMiddleware::new())
            .build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/users/{id}", get(|| async { "user" }))
            .route(
                "/call",
                get(move || {
                    let client = client.clone();
                    async move {
                        let r = client
                            .get(format!("http://{addr}/users/1?x=2"))
                            .send()
                            .await;
                        r.map(|r| r.status().as_u16()).unwrap_or(0).to_string()
                    }
                }),
            )
            .route(
                "/unanswered",
                get(move || {
                    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                        .with(opencensus_settings::client::TracingMiddleware::new())
                        .build();
                    async move {
                        // Nothing listens on port 9 of loopback: no response at all.
                        let r = client.post("http://127.0.0.1:9/orders").send().await;
                        r.map(|r| r.status().as_u16()).unwrap_or(0).to_string()
                    }
                }),
            )
            .layer(OpencensusLayer::new());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        assert_eq!(get_path(addr, "/call", &[]).await, 200);
        assert_eq!(get_path(addr, "/unanswered", &[]).await, 200);
        drop(telemetry);
        return;
    }
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = settings_file(dir.path(), "AzureExporter(service_name='deps')");
    let out = app_child(name, &ingest, file).await;
    assert_ok(&out);
    let all = ingest
        .wait_for("3 requests and 2 dependencies", |e| {
            requests(e).len() >= 3
                && e.iter()
                    .filter(|x| x["name"] == "Microsoft.ApplicationInsights.RemoteDependency")
                    .count()
                    >= 2
        })
        .await;
    assert!(ingest.rejected().is_empty(), "{:#?}", ingest.rejected());
    let call = requests(&all)
        .into_iter()
        .find(|e| e["data"]["baseData"]["name"] == "GET /call")
        .unwrap();
    let user = requests(&all)
        .into_iter()
        .find(|e| e["data"]["baseData"]["name"] == "GET /users/{id}")
        .unwrap();
    let deps: Vec<&Value> = all
        .iter()
        .filter(|e| e["name"] == "Microsoft.ApplicationInsights.RemoteDependency")
        .collect();
    // SPEC 12: named `"{METHOD} {path}"` (no query) as Microsoft's exporters name them.
    let dep = deps
        .iter()
        .find(|e| e["data"]["baseData"]["name"] == "GET /users/1")
        .unwrap_or_else(|| panic!("{deps:#?}"));
    let unanswered = deps
        .iter()
        .find(|e| e["data"]["baseData"]["name"] == "POST /orders")
        .unwrap_or_else(|| panic!("{deps:#?}"));
    assert_eq!(unanswered["data"]["baseData"]["resultCode"], "0");
    assert_eq!(unanswered["data"]["baseData"]["success"], false);
    assert_eq!(unanswered["data"]["baseData"]["target"], "127.0.0.1:9");
    let op = &call["tags"]["ai.operation.id"];
    assert_eq!(&dep["tags"]["ai.operation.id"], op);
    assert_eq!(&user["tags"]["ai.operation.id"], op);
    assert_eq!(
        dep["tags"]["ai.operation.parentId"],
        call["data"]["baseData"]["id"]
    );
    assert_eq!(
        user["tags"]["ai.operation.parentId"],
        dep["data"]["baseData"]["id"]
    );
    assert_eq!(dep["data"]["baseData"]["resultCode"], "200");
}

/// A span the old second envelope path panicked on: an error request whose URL crosses the
/// 2,048-byte limit inside a multi-byte character, with an exception event. Both its Request
/// and its Exception arrive, and `compression='none'` holds for spans with events too.
#[tokio::test(flavor = "multi_thread")]
async fn an_error_span_with_a_long_utf8_url_is_delivered_with_its_exception() {
    use opencensus_settings::opentelemetry::KeyValue;
    use opencensus_settings::opentelemetry::trace::{
        Span as _, SpanKind, Status, Tracer as _, TracerProvider as _,
    };

    let ingest = Ingest::start().await;
    let spec = format!(
        "AzureExporter(connection_string='{}', export_interval=3600, enable_local_storage=False, compression='none')",
        ingest.connection_string()
    );
    let settings = env_loader(&[
        ("OPENCENSUS__TRACE__SAMPLER", "AlwaysOnSampler()"),
        ("OPENCENSUS__TRACE__EXPORTER", &spec),
    ])
    .load()
    .unwrap();
    let telemetry = opencensus_settings::build(settings).unwrap();
    let tracer = telemetry.tracer_provider().unwrap().tracer("test");
    let url = format!("https://example.com/{}é?q=1", "a".repeat(2027));
    assert!(!url.is_char_boundary(2048));
    let mut span = tracer
        .span_builder("GET /long")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/long"),
            KeyValue::new("url.full", url),
        ])
        .start(&tracer);
    span.add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", "my_app::DbDown"),
            KeyValue::new("exception.message", "the database is down"),
        ],
    );
    span.set_status(Status::error("the database is down"));
    span.end();
    let telemetry = common::flushed(telemetry).await;
    let all = ingest
        .wait_for("the request and its exception", |e| e.len() >= 2)
        .await;
    assert!(ingest.rejected().is_empty(), "{:#?}", ingest.rejected());
    assert_eq!(ingest.gzip_calls(), 0, "compression='none' must hold");
    let request = requests(&all)[0];
    let url = request["data"]["baseData"]["url"].as_str().unwrap();
    assert_eq!(url.len(), 2047, "cut before the 'é'");
    assert_eq!(request["data"]["baseData"]["success"], false);
    let exception = first_exception(&all);
    assert_eq!(
        exception["tags"]["ai.operation.id"],
        request["tags"]["ai.operation.id"]
    );
    assert_eq!(
        exception["data"]["baseData"]["exceptions"][0]["typeName"],
        "my_app::DbDown"
    );
    let stats = tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
    assert_eq!(stats.delivered, 2, "{stats:?}");
    assert_eq!(stats.dropped(), 0, "{stats:?}");
}

/// SPEC 8: every duration has a range; a value outside it is a settings error that names the
/// range, in `check` and in `build()`, never a panic (1e20 seconds used to overflow `Duration`;
/// 1e19 passed `check` and then killed the export thread).
#[test]
fn huge_durations_are_settings_errors_that_name_the_range() {
    let cs = format!("InstrumentationKey={IKEY}");
    for (spec, needle) in [
        (
            format!("AzureExporter(connection_string='{cs}', export_interval=1e20)"),
            "at most 86400",
        ),
        (
            format!("AzureExporter(connection_string='{cs}', export_interval=1e19)"),
            "at most 86400",
        ),
        (
            format!("AzureExporter(connection_string='{cs}', timeout=1e20)"),
            "at most 3600",
        ),
        (
            format!("AzureExporter(connection_string='{cs}', timeout=inf)"),
            "timeout",
        ),
    ] {
        let loader = || env_loader(&[("OPENCENSUS__TRACE__EXPORTER", &spec)]);
        let outcome = opencensus_settings::check(loader());
        assert!(!outcome.is_ok(), "{spec}");
        assert!(outcome.to_string().contains(needle), "{spec}:\n{outcome}");
        assert!(!outcome.to_string().contains(IKEY), "{outcome}");
        let built = loader().load().and_then(opencensus_settings::build);
        assert!(built.is_err(), "{spec}");
    }
    // The largest accepted values build (and shut down) without overflow.
    let spec = format!(
        "AzureExporter(connection_string='{cs}', export_interval=86400, timeout=3600, enable_local_storage=False)"
    );
    let settings = env_loader(&[("OPENCENSUS__TRACE__EXPORTER", &spec)])
        .load()
        .unwrap();
    let telemetry = opencensus_settings::build(settings).unwrap();
    telemetry
        .with_shutdown_grace(std::time::Duration::from_millis(100))
        .shutdown();
}

/// Issue 17 (item 1): the README's app, stopped with SIGTERM as on every deploy, delivers every
/// request it served (before: `serve` never returned, the guard never dropped, and with the
/// default `export_interval=15` nothing arrived).
#[test]
fn a_readme_shaped_app_stopped_with_sigterm_delivers_everything() {
    let name = "a_readme_shaped_app_stopped_with_sigterm_delivers_everything";
    if is_child(name) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        return rt.block_on(async {
            // As in the README: default export interval (15 s), graceful shutdown.
            let _telemetry = opencensus_settings::init_from_settings().unwrap();
            let app = Router::new()
                .route("/users/{id}", get(|| async { "user" }))
                .layer(OpencensusLayer::new());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            println!("APP_PORT={}", listener.local_addr().unwrap().port());
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(opencensus_settings::shutdown_signal())
            .await
            .unwrap();
        });
    }
    use std::io::BufRead;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ingest = rt.block_on(Ingest::start());
    let dir = tempfile::tempdir().unwrap();
    let file = settings_file(dir.path(), "AzureExporter(service_name='readme')");
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("OCS_CHILD", name)
        .env("OPENCENSUS_SETTINGS", &file)
        .env(
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            ingest.connection_string(),
        )
        .stdout(std::process::Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("OPENCENSUS__") || k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    // Keep reading the child's output to its end (a closed pipe would fail its last prints).
    let (port_tx, port_rx) = std::sync::mpsc::channel::<u16>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(p) = line.split("APP_PORT=").nth(1) {
                let _ = port_tx.send(p.trim().parse().unwrap());
            }
        }
    });
    let port = port_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the child's port");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    rt.block_on(async {
        for i in 0..5 {
            assert_eq!(get_path(addr, &format!("/users/{i}"), &[]).await, 200);
        }
    });
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // Everything was delivered by the time the process exited: no waiting on an interval.
    let all = ingest.accepted();
    assert_eq!(requests(&all).len(), 5, "{all:#?}");
    assert!(ingest.rejected().is_empty());
}

/// Issue 17 (item 3): with `ProbabilitySampler(rate=0.0001)` (the default) and an incoming
/// sampled `traceparent`, the request used to claim `sampleRate: 0.01` and count as 10,000
/// requests in the portal. The upstream service chose the trace: it counts once (100). Spans
/// the handler starts keep the local rate's trace, and so its rate.
#[tokio::test(flavor = "multi_thread")]
async fn upstream_sampled_requests_count_once() {
    let ingest = Ingest::start().await;
    let spec = format!(
        "AzureExporter(connection_string='{}', export_interval=3600, enable_local_storage=False)",
        ingest.connection_string()
    );
    let settings = env_loader(&[
        (
            "OPENCENSUS__TRACE__SAMPLER",
            "ProbabilitySampler(rate=0.0001)",
        ),
        ("OPENCENSUS__TRACE__EXPORTER", &spec),
    ])
    .load()
    .unwrap();
    let telemetry = opencensus_settings::build(settings).unwrap();
    let addr = serve(work_app(&telemetry)).await;
    let tp = format!("00-{TRACE}-{PARENT}-01");
    assert_eq!(get_path(addr, "/work", &[("traceparent", &tp)]).await, 200);
    let telemetry = common::flushed(telemetry).await;
    let all = ingest
        .wait_for("the request and its child", |e| e.len() >= 2)
        .await;
    let request = requests(&all)[0];
    assert_eq!(request["sampleRate"], 100.0, "{request:#}");
    let child = all
        .iter()
        .find(|e| e["name"] == "Microsoft.ApplicationInsights.RemoteDependency")
        .unwrap();
    // Its child belongs to the same upstream-chosen trace: it counts once too.
    assert_eq!(child["sampleRate"], 100.0, "{child:#}");
    // A trace the local sampler would have chosen anyway keeps the local rate (low 64 bits of
    // the trace id under the 0.0001 threshold).
    let chosen = format!("00-0af7651916cd43dd0000000000000001-{PARENT}-01");
    assert_eq!(
        get_path(addr, "/work", &[("traceparent", &chosen)]).await,
        200
    );
    let telemetry = common::flushed(telemetry).await;
    let all = ingest
        .wait_for("the second request", |e| requests(e).len() >= 2)
        .await;
    let second = requests(&all)
        .into_iter()
        .find(|e| e["tags"]["ai.operation.id"] == "0af7651916cd43dd0000000000000001")
        .unwrap();
    assert_eq!(second["sampleRate"], 0.01, "{second:#}");
    drop(telemetry);
}

/// Issue 17 (item 8): the report shows `ai.cloud.role` as the envelopes will carry it: the
/// exporter's `service_name=` when given, else the service name (here `OTEL_SERVICE_NAME`).
#[test]
fn the_report_shows_the_cloud_role_the_envelopes_carry() {
    let cs = format!("InstrumentationKey={IKEY}");
    for (spec, role) in [
        (
            format!("AzureExporter(connection_string='{cs}', service_name='api')"),
            "api",
        ),
        (format!("AzureExporter(connection_string='{cs}')"), "orders"),
    ] {
        let outcome = opencensus_settings::check(env_loader(&[
            ("OPENCENSUS__TRACE__EXPORTER", &spec),
            ("OTEL_SERVICE_NAME", "orders"),
        ]));
        assert!(outcome.is_ok(), "{outcome}");
        let line = outcome
            .report
            .lines
            .iter()
            .find(|l| l.key == "ai.cloud.role")
            .unwrap_or_else(|| panic!("no ai.cloud.role line:\n{outcome}"));
        assert_eq!(line.value, role, "{outcome}");
        assert_eq!(
            outcome
                .report
                .lines
                .iter()
                .filter(|l| l.key == "ai.cloud.role")
                .count(),
            1
        );
    }
}

/// `/work` (which starts a child span, `query`) behind a layer recording into `telemetry`.
fn work_app(telemetry: &opencensus_settings::Telemetry) -> Router {
    use opencensus_settings::opentelemetry::trace::{Tracer as _, TracerProvider as _};
    let provider = telemetry.tracer_provider().unwrap().clone();
    let tracer = provider.tracer("handler");
    Router::new()
        .route(
            "/work",
            get(move || {
                let tracer = tracer.clone();
                async move {
                    tracer.in_span("query", |_| {});
                    "done"
                }
            }),
        )
        .layer(
            OpencensusLayer::new()
                .with_tracer_provider(provider)
                .with_propagator(opencensus_settings::propagation::TraceContextPropagator),
        )
}

/// SPEC 9: Microsoft's fixed-percentage sampler through `OTEL_TRACES_SAMPLER`: the decision is
/// the distros' DJB2 score of the trace id (so a Rust service keeps what a .NET one at 50% keeps)
/// and every envelope of a kept trace says 50.
#[tokio::test(flavor = "multi_thread")]
async fn microsofts_fixed_percentage_decides_by_trace_id_and_reaches_the_envelopes() {
    let ingest = Ingest::start().await;
    let spec = format!(
        "AzureExporter(connection_string='{}', export_interval=3600, enable_local_storage=False)",
        ingest.connection_string()
    );
    let settings = env_loader(&[
        ("OTEL_TRACES_SAMPLER", "microsoft.fixed_percentage"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ("OPENCENSUS__TRACE__EXPORTER", &spec),
    ])
    .load()
    .unwrap();
    let telemetry = opencensus_settings::build(settings).unwrap();
    let addr = serve(work_app(&telemetry)).await;
    // Scores (azure-monitor-opentelemetry-exporter 1.0.0b58): 0.0234 is kept at 0.5, 0.9996 is
    // not, even with a sampled parent (the score decides, as in every distro).
    let kept = "00000000000000000000000000000001";
    let dropped = "ffffffffffffffffffffffffffffffff";
    for trace in [kept, dropped] {
        let tp = format!("00-{trace}-{PARENT}-01");
        assert_eq!(get_path(addr, "/work", &[("traceparent", &tp)]).await, 200);
    }
    let telemetry = common::flushed(telemetry).await;
    let all = ingest
        .wait_for("the kept request and its child", |e| e.len() >= 2)
        .await;
    drop(telemetry);
    assert_eq!(all.len(), 2, "{all:#?}");
    for e in &all {
        assert_eq!(e["tags"]["ai.operation.id"], kept, "{e:#}");
        assert_eq!(e["sampleRate"], 50.0, "{e:#}");
        assert!(
            e["data"]["baseData"]["properties"]
                .get("_MS.sampleRate")
                .is_none(),
            "{e:#}"
        );
    }
}
