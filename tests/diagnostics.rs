//! SPEC 12's diagnostics, end to end: a refused key or an unreachable endpoint is reported
//! while the app runs (not only at shutdown), with the service's own reason, once a minute per
//! kind; on stderr when the app installed no `tracing` subscriber, through the subscriber when
//! it did. A guard dropped at once is named as such, and shutdown says nothing misleading.
//! Each app runs in a child process (installing sets process globals; stderr is what is read).

#![cfg(all(feature = "azure", feature = "axum"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ingest::{Ingest, Mode};
use common::{is_child, poll_blocking};
use opentelemetry::trace::{Tracer, TracerProvider as _};

const MARK: &str = "--- the child is still running ---";
const MARK2: &str = "--- second batch sent ---";
const REFUSED: &str = "Invalid instrumentation key";

fn exporter_env(connection_string: &str, storage: &std::path::Path) -> Vec<(String, String)> {
    vec![
        (
            "OPENCENSUS__TRACE__SAMPLER".into(),
            "opencensus.trace.samplers.AlwaysOnSampler()".into(),
        ),
        (
            "OPENCENSUS__TRACE__EXPORTER".into(),
            format!(
                "opencensus.ext.azure.trace_exporter.AzureExporter(storage_path='{}')",
                storage.display()
            ),
        ),
        (
            "APPLICATIONINSIGHTS_CONNECTION_STRING".into(),
            connection_string.into(),
        ),
    ]
}

/// The app's own subscriber, writing to stderr (where the parent reads).
fn stderr_subscriber(level: tracing::Level) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(level)
        .init();
}

/// The child: records a span, flushes, waits until delivery has acted on the answer, prints
/// the mark, does it again (within the minute), prints the second mark, then shuts down.
fn child_two_batches(subscriber: bool, done: fn(&opencensus_settings::ExportStats) -> u64) {
    if subscriber {
        stderr_subscriber(tracing::Level::INFO);
    }
    let telemetry = opencensus_settings::init_from_settings().unwrap();
    for (round, mark) in [(1, MARK), (2, MARK2)] {
        let tracer = telemetry.tracer_provider().unwrap().tracer("diag");
        tracer.in_span("work", |_| {});
        telemetry.force_flush().unwrap();
        poll_blocking("delivery to act on the answer", 20, || {
            (done(&telemetry.export_stats()) >= round).then_some(())
        });
        eprintln!("{mark}");
    }
    drop(telemetry);
}

fn stderr_of(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "child failed\nstdout:\n{}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// The lines before `mark`, and those between it and `mark2`, that contain `needle`.
fn lines_around<'a>(stderr: &'a str, needle: &str) -> (Vec<&'a str>, Vec<&'a str>) {
    let first = stderr.find(MARK).expect("no mark");
    let second = stderr.find(MARK2).expect("no second mark");
    let pick = |s: &'a str| s.lines().filter(|l| l.contains(needle)).collect::<Vec<_>>();
    (pick(&stderr[..first]), pick(&stderr[first..second]))
}

async fn refused_key(name: &str) -> String {
    let ingest = Ingest::start().await;
    ingest.set_mode(Mode::Refuse(400, REFUSED.into()));
    let dir = tempfile::tempdir().unwrap();
    let out =
        common::run_child_async(name, exporter_env(&ingest.connection_string(), dir.path())).await;
    let stderr = stderr_of(&out);
    let (before, between) = lines_around(&stderr, REFUSED);
    assert_eq!(
        before.len(),
        1,
        "the refusal is reported when it happens, once, with the service's reason:\n{stderr}"
    );
    assert!(before[0].contains("dropped"), "{stderr}");
    assert!(before[0].contains("400"), "{stderr}");
    assert!(
        !before[0].contains(common::ingest::IKEY),
        "the key is never written: {stderr}"
    );
    assert!(
        between.is_empty(),
        "a second refusal within the minute adds no line:\n{stderr}"
    );
    assert_eq!(ingest.calls(), 2, "both batches were sent");
    before[0].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_is_reported_on_stderr_when_no_subscriber_is_installed() {
    let name = "a_refused_key_is_reported_on_stderr_when_no_subscriber_is_installed";
    if is_child(name) {
        return tokio::task::block_in_place(|| child_two_batches(false, |s| s.dropped_invalid));
    }
    let line = refused_key(name).await;
    assert!(
        line.starts_with("opencensus-settings warning: "),
        "one plain line on stderr: {line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_is_reported_through_the_apps_subscriber() {
    let name = "a_refused_key_is_reported_through_the_apps_subscriber";
    if is_child(name) {
        return tokio::task::block_in_place(|| child_two_batches(true, |s| s.dropped_invalid));
    }
    let line = refused_key(name).await;
    assert!(
        line.contains("WARN") && line.contains("opencensus_settings"),
        "through the subscriber, with our target: {line}"
    );
    assert!(
        !line.contains("opencensus-settings warning:"),
        "not also on stderr directly: {line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_endpoint_is_reported_while_the_app_runs() {
    let name = "an_unreachable_endpoint_is_reported_while_the_app_runs";
    if is_child(name) {
        return tokio::task::block_in_place(|| child_two_batches(false, |s| s.stored));
    }
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let connection = format!(
        "InstrumentationKey={};IngestionEndpoint=http://127.0.0.1:{port}/",
        common::ingest::IKEY
    );
    let dir = tempfile::tempdir().unwrap();
    let out = common::run_child_async(name, exporter_env(&connection, dir.path())).await;
    let stderr = stderr_of(&out);
    let (before, _) = lines_around(&stderr, "could not be reached");
    assert_eq!(before.len(), 1, "{stderr}");
    assert!(before[0].contains("stored"), "{stderr}");
    assert!(
        before[0].starts_with("opencensus-settings warning: "),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guard_dropped_at_once_is_named_as_such() {
    let name = "a_guard_dropped_at_once_is_named_as_such";
    if is_child(name) {
        #[allow(clippy::let_underscore_must_use)]
        let _ = opencensus_settings::init_from_settings().unwrap();
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { "hi" }))
            .layer(opencensus_settings::OpencensusLayer::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let status = reqwest::get(format!("http://{addr}/"))
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "the response is the app's");
        return;
    }
    let out = common::run_child_async(
        name,
        vec![(
            "OPENCENSUS__TRACE__EXPORTER".into(),
            "opencensus.trace.print_exporter.PrintExporter()".into(),
        )],
    )
    .await;
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("serves requests after the Telemetry guard was dropped"),
        "{stderr}"
    );
    assert!(
        stderr.contains("let _telemetry = init_from_settings()?;"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("ran before init_from_settings"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_does_not_announce_a_new_global_provider() {
    let name = "shutdown_does_not_announce_a_new_global_provider";
    if is_child(name) {
        stderr_subscriber(tracing::Level::TRACE);
        for _ in 0..2 {
            let telemetry = opencensus_settings::init_from_settings().unwrap();
            eprintln!("{MARK}");
            drop(telemetry);
        }
        return;
    }
    let out = common::run_child_async(
        name,
        vec![(
            "OPENCENSUS__TRACE__EXPORTER".into(),
            "opencensus.trace.print_exporter.PrintExporter()".into(),
        )],
    )
    .await;
    let stderr = stderr_of(&out);
    // OpenTelemetry says it when an install sets the global provider (which is how we know
    // its internal logs reach this subscriber): once per install, never at shutdown.
    let said = stderr.matches("Global tracer provider is set").count();
    assert_eq!(said, 2, "{stderr}");
    // (Two installs and two shutdowns: a third line would be a shutdown's.)
    let last = stderr.rfind(MARK).unwrap();
    assert!(
        !stderr[last..].contains("Global tracer provider is set"),
        "the last shutdown says nothing: {stderr}"
    );
}
