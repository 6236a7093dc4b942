//! Install / shutdown: each scenario runs in its own child process (installing sets process
//! globals), re-running this same test binary with `OCS_CHILD` naming the scenario.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Output;

use common::assert_ok;

use opencensus_settings::opentelemetry::global;
use opencensus_settings::opentelemetry::trace::{Span as _, TraceContextExt, Tracer};
use opencensus_settings::{ErrorKind, Settings, init_with};

/// In the child: `None`. In the parent: runs the child and returns its output.
fn child(name: &str, env: &[(&str, &str)]) -> Option<Output> {
    if common::is_child(name) {
        return None;
    }
    Some(common::run_child(name, env.iter().copied()))
}

fn file_settings(path: &std::path::Path) -> Settings {
    Settings::default()
        .with_sampler("opencensus.trace.samplers.AlwaysOnSampler()")
        .with_exporter(format!(
            "opencensus.trace.file_exporter.FileExporter(file_name='{}')",
            path.display()
        ))
}

fn read_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn install_exports_and_guard_drop_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spans.json");
    if let Some(out) = child(
        "install_exports_and_guard_drop_flushes",
        &[("OCS_FILE", path.to_str().unwrap())],
    ) {
        assert_ok(&out);
        let spans = read_lines(&path);
        assert_eq!(spans.len(), 2, "{spans:?}");
        assert_eq!(spans[0]["name"], "child");
        assert_eq!(spans[1]["name"], "parent");
        assert_eq!(spans[0]["parentSpanId"], spans[1]["spanId"]);
        assert_eq!(spans[0]["traceId"], spans[1]["traceId"]);
        return;
    }
    let path = std::path::PathBuf::from(std::env::var("OCS_FILE").unwrap());
    let telemetry = init_with(file_settings(&path).with_service_name("svc")).unwrap();
    assert!(opencensus_settings::installed().is_some());
    let report = telemetry.report().to_string();
    assert!(report.contains("FileExporter"), "{report}");
    let service = telemetry
        .report()
        .lines
        .iter()
        .find(|l| l.key == "service.name")
        .unwrap();
    assert_eq!(service.value, "svc");
    assert!(
        service.origin.starts_with("code at tests/install.rs:"),
        "{report}"
    );
    let tracer = global::tracer("test");
    tracer.in_span("parent", |_cx| {
        tracer.in_span("child", |_cx| {});
    });
    drop(telemetry);
    assert!(opencensus_settings::installed().is_none());
    assert_eq!(opencensus_settings::spans_after_shutdown(), 0);
}

#[test]
fn second_install_while_guard_alive_is_an_error() {
    if let Some(out) = child("second_install_while_guard_alive_is_an_error", &[]) {
        assert_ok(&out);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let first = init_with(file_settings(&dir.path().join("a.json"))).unwrap();
    let err = init_with(file_settings(&dir.path().join("b.json"))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyInstalled);
    assert!(err.to_string().contains("already installed"), "{err}");
    drop(first);
    let again = init_with(file_settings(&dir.path().join("c.json"))).unwrap();
    global::tracer("t").in_span("after", |_| {});
    drop(again);
    assert_eq!(read_lines(&dir.path().join("c.json")).len(), 1);
    assert!(read_lines(&dir.path().join("b.json")).is_empty());
}

#[test]
fn dropped_guard_counts_late_spans() {
    if let Some(out) = child("dropped_guard_counts_late_spans", &[]) {
        assert_ok(&out);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The classic mistake: the guard is dropped at once.
    #[allow(let_underscore_drop)]
    let _ = init_with(file_settings(&dir.path().join("x.json"))).unwrap();
    let tracer = global::tracer("t");
    tracer.in_span("late", |_| {});
    tracer.in_span("later", |_| {});
    assert_eq!(opencensus_settings::spans_after_shutdown(), 2);
    assert!(read_lines(&dir.path().join("x.json")).is_empty());
}

#[test]
fn open_spans_at_shutdown_are_counted() {
    if let Some(out) = child("open_spans_at_shutdown_are_counted", &[]) {
        assert_ok(&out);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let telemetry = init_with(file_settings(&dir.path().join("x.json"))).unwrap();
    let mut open = global::tracer("t").start("still-open");
    drop(telemetry);
    open.end();
    assert_eq!(opencensus_settings::spans_after_shutdown(), 1);
}

#[test]
fn invalid_settings_touch_no_global() {
    if let Some(out) = child("invalid_settings_touch_no_global", &[]) {
        assert_ok(&out);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("never.json");
    let err = init_with(file_settings(&path).with_propagator("Nope()")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownComponent);
    assert!(opencensus_settings::installed().is_none());
    assert!(!path.exists(), "the exporter must not be built");
    let span = global::tracer("t").start("x");
    assert!(!span.is_recording());
    // And the failed attempt left nothing behind: a valid install works.
    let ok = init_with(file_settings(&path)).unwrap();
    drop(ok);
}

#[test]
fn sdk_disabled_records_nothing_but_propagates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disabled.json");
    if let Some(out) = child(
        "sdk_disabled_records_nothing_but_propagates",
        &[
            ("OTEL_SDK_DISABLED", "true"),
            ("OCS_FILE", path.to_str().unwrap()),
        ],
    ) {
        assert_ok(&out);
        assert!(!path.exists());
        return;
    }
    let path = std::path::PathBuf::from(std::env::var("OCS_FILE").unwrap());
    let telemetry = opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
    drop(telemetry);
    let settings = Settings::load().unwrap().with_exporter(format!(
        "opencensus.trace.file_exporter.FileExporter(file_name='{}')",
        path.display()
    ));
    assert!(settings.sdk_disabled());
    let telemetry = init_with(settings).unwrap();
    assert!(telemetry.tracer_provider().is_none());
    assert!(telemetry.report().disabled);
    // Incoming context still reaches the handler.
    let mut headers = std::collections::HashMap::new();
    headers.insert(
        "traceparent".to_string(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string(),
    );
    let cx = global::get_text_map_propagator(|p| p.extract(&headers));
    let span = global::tracer("t").start_with_context("handler", &cx);
    assert!(!span.is_recording());
    assert_eq!(
        span.span_context().trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    let cx = cx.with_span(span);
    assert!(cx.has_active_span());
    drop(telemetry);
}

#[test]
fn init_from_settings_reads_file_and_env_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opencensus.toml");
    let spans = dir.path().join("spans.json");
    std::fs::write(
        &file,
        format!(
            "[OPENCENSUS.TRACE]\nSAMPLER = \"opencensus.trace.samplers.ProbabilitySampler(rate=0.5)\"\nEXPORTER = \"FileExporter(file_name='{}')\"\n",
            spans.display()
        ),
    )
    .unwrap();
    if let Some(out) = child(
        "init_from_settings_reads_file_and_env_and_reports",
        &[
            ("OPENCENSUS_SETTINGS", file.to_str().unwrap()),
            ("OPENCENSUS__TRACE__SAMPLER", "AlwaysOnSampler()"),
            ("OTEL_SERVICE_NAME", "report-test"),
            ("RUST_LOG", "info"),
        ],
    ) {
        let stdout = assert_ok(&out);
        let _ = &spans;
        // The start-up report is one INFO event under the target `opencensus_settings`.
        assert!(stdout.contains("opencensus_settings"), "{stdout}");
        assert!(
            stdout.contains("environment variable OPENCENSUS__TRACE__SAMPLER"),
            "{stdout}"
        );
        assert_eq!(read_lines(&spans).len(), 1);
        return;
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .init();
    let telemetry = opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
    let file = std::path::PathBuf::from(std::env::var("OPENCENSUS_SETTINGS").unwrap());
    let report = telemetry.report();
    assert_eq!(report.file.as_deref(), Some(file.to_str().unwrap()));
    let sampler = report.lines.iter().find(|l| l.key == "SAMPLER").unwrap();
    assert_eq!(sampler.value, "opencensus.trace.samplers.AlwaysOnSampler()");
    assert_eq!(
        sampler.origin,
        "environment variable OPENCENSUS__TRACE__SAMPLER"
    );
    let exporter = report.lines.iter().find(|l| l.key == "EXPORTER").unwrap();
    assert_eq!(exporter.origin, format!("{}:3", file.display()));
    global::tracer("t").in_span("one", |_| {});
    drop(telemetry);
}

#[test]
fn guard_drops_cleanly_inside_tokio_runtimes() {
    for flavor in ["current", "multi"] {
        let name = "guard_drops_cleanly_inside_tokio_runtimes";
        if std::env::var("OCS_CHILD").as_deref() == Ok(name) {
            if std::env::var("OCS_FLAVOR").as_deref() != Ok(flavor) {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("rt.json");
            let settings = file_settings(&path).with_exporter(format!(
                "FileExporter(file_name='{}', transport=opencensus.common.transports.async_.AsyncTransport)",
                path.display()
            ));
            let rt = if flavor == "current" {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .unwrap()
            };
            rt.block_on(async {
                let telemetry = init_with(settings).unwrap();
                tokio::spawn(async { global::tracer("t").in_span("in-task", |_| {}) })
                    .await
                    .unwrap();
                drop(telemetry); // must not deadlock or panic inside the runtime
            });
            assert_eq!(read_lines(&path).len(), 1);
            return;
        }
    }
    if std::env::var("OCS_CHILD").is_ok() {
        return;
    }
    for flavor in ["current", "multi"] {
        let out = child(
            "guard_drops_cleanly_inside_tokio_runtimes",
            &[("OCS_FLAVOR", flavor)],
        )
        .unwrap();
        assert_ok(&out);
    }
}

/// Issue 12 (defect 10): a layer that served a request before `init_from_settings()` used to
/// keep the no-op global tracer for ever; it now picks up what is installed later.
#[cfg(feature = "axum")]
#[test]
fn a_layer_used_before_init_records_once_installed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spans.json");
    let name = "a_layer_used_before_init_records_once_installed";
    if let Some(out) = child(name, &[("OCS_FILE", path.to_str().unwrap())]) {
        assert_ok(&out);
        let spans = read_lines(&path);
        let names: Vec<&str> = spans.iter().filter_map(|s| s["name"].as_str()).collect();
        assert_eq!(names, ["GET /after"], "{spans:?}");
        return;
    }
    let path = std::path::PathBuf::from(std::env::var("OCS_FILE").unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use axum::routing::get;
        let app = axum::Router::new()
            .route("/before", get(|| async { "ok" }))
            .route("/after", get(|| async { "ok" }))
            .layer(opencensus_settings::OpencensusLayer::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = reqwest::Client::new();
        let get = |p: &'static str| client.get(format!("http://{addr}{p}")).send();
        assert_eq!(get("/before").await.unwrap().status(), 200);
        let telemetry = init_with(file_settings(&path)).unwrap();
        assert_eq!(get("/after").await.unwrap().status(), 200);
        tokio::task::spawn_blocking(move || drop(telemetry))
            .await
            .unwrap();
    });
}
