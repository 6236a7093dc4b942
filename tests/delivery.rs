//! Delivery that loses nothing: one fault test per mode against the ingestion test server,
//! local storage limits, queue pressure, and a crash (SIGKILL) whose stored telemetry the next
//! process delivers. Providers are built with `opencensus_settings::build` (no globals), so the
//! tests share one process except the crash test.

#![cfg(feature = "azure")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use common::ingest::{Ingest, Mode};
use opencensus_settings::opentelemetry::trace::{Tracer, TracerProvider};
use opencensus_settings::{ExportStats, OpencensusLayer, Settings, Telemetry};

fn settings(ingest: &Ingest, storage: &std::path::Path, extra: &str) -> Settings {
    Settings::default()
        .with_sampler("AlwaysOnSampler()")
        .with_exporter(format!(
            "AzureExporter(connection_string='{}', export_interval=0.02, timeout=1, storage_path='{}'{extra})",
            ingest.connection_string(),
            storage.display()
        ))
}

/// An exporter whose interval never ticks during a test: batches go out when full or flushed,
/// whatever the timing.
fn untimed(ingest: &Ingest, storage: &std::path::Path, extra: &str) -> Settings {
    Settings::default()
        .with_sampler("AlwaysOnSampler()")
        .with_exporter(format!(
            "AzureExporter(connection_string='{}', export_interval=3600, storage_path='{}'{extra})",
            ingest.connection_string(),
            storage.display()
        ))
}

/// Ends `n` spans on a plain thread (which may wait for room in the queue; an async worker
/// never does).
fn spans_on_a_plain_thread(telemetry: &Arc<Telemetry>, n: usize) {
    let plain = telemetry.clone();
    std::thread::spawn(move || {
        let tracer = plain.tracer_provider().unwrap().tracer("t");
        for _ in 0..n {
            tracer.in_span("s", |_| {});
        }
    })
    .join()
    .unwrap();
}

async fn app(telemetry: &Telemetry) -> SocketAddr {
    let provider = telemetry.tracer_provider().unwrap().clone();
    let app = Router::new()
        .route("/r/{n}", get(|| async { "ok" }))
        .layer(OpencensusLayer::new().with_tracer_provider(provider));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn send(addr: SocketAddr, n: usize) {
    let client = reqwest::Client::new();
    for i in 0..n {
        let resp = client
            .get(format!("http://{addr}/r/{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
}

async fn until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    common::poll(what, secs, || f().then_some(())).await;
}

/// Requests during `fault`; then the fault clears; every envelope must arrive.
async fn fault_case(fault: Mode) -> (Ingest, ExportStats, usize) {
    fault_case_with(fault, "").await
}

async fn fault_case_with(fault: Mode, extra: &str) -> (Ingest, ExportStats, usize) {
    const N: usize = 20;
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = opencensus_settings::build(settings(&ingest, dir.path(), extra)).unwrap();
    let addr = app(&telemetry).await;
    ingest.set_mode(fault.clone());
    send(addr, N).await;
    // The fault was seen, and what failed is kept (stored) rather than lost.
    until("the fault to be seen", 20, || ingest.calls() > 0).await;
    if !matches!(fault, Mode::Partial(..)) {
        until("telemetry to be stored", 20, || {
            telemetry.export_stats().stored > 0
        })
        .await;
    }
    ingest.set_mode(Mode::Accept);
    let all = ingest
        .wait_for("every request", |_| ingest.request_ids().len() >= N)
        .await;
    // The service records the envelopes before its answer reaches us: wait for the counts.
    until("every item counted", 20, || {
        let s = telemetry.export_stats();
        s.delivered + s.dropped() >= N as u64 && s.stored <= s.resent + s.dropped()
    })
    .await;
    let duplicates: usize = ingest.request_ids().values().map(|n| n - 1).sum();
    eprintln!(
        "{fault:?}: {} envelopes, {duplicates} duplicates, {:?}",
        all.len(),
        telemetry.export_stats()
    );
    assert!(ingest.rejected().is_empty(), "{:#?}", ingest.rejected());
    let stats = telemetry.export_stats();
    drop(telemetry);
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    (ingest, stats, duplicates)
}

#[tokio::test(flavor = "multi_thread")]
async fn ingestion_500_then_recovers() {
    let (_, stats, duplicates) = fault_case(Mode::Status(500)).await;
    assert_eq!(duplicates, 0);
    assert!(stats.resent > 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ingestion_503_then_recovers() {
    let (_, _, duplicates) = fault_case(Mode::Status(503)).await;
    assert_eq!(duplicates, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn ingestion_429_retry_after_is_honoured() {
    let (ingest, _, duplicates) = fault_case(Mode::RetryAfter(1)).await;
    assert_eq!(duplicates, 0);
    // After the first 429 (Retry-After: 1) nothing is sent for a second. Batches already in
    // flight when it came back land within the first moments; none may follow until 1 s.
    let times = ingest.call_times();
    assert!(times.len() >= 2, "{times:?}");
    let t0 = times[0];
    let quiet: Vec<Duration> = times
        .iter()
        .map(|t| t.duration_since(t0))
        .filter(|d| *d > Duration::from_millis(300) && *d < Duration::from_millis(950))
        .collect();
    assert!(
        quiet.is_empty(),
        "calls during the Retry-After second: {quiet:?}"
    );
    assert!(times.last().unwrap().duration_since(t0) >= Duration::from_millis(950));
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_206_resends_only_the_transient_items() {
    // The first item of every batch fails with 503 (transient) until the fault clears.
    let (ingest, stats, duplicates) = fault_case(Mode::Partial(vec![0], 503)).await;
    assert_eq!(duplicates, 0, "only the failed items are resent");
    assert_eq!(stats.dropped_invalid, 0);
    assert!(ingest.calls() > 1);
    // A loopback endpoint gets plain JSON by default (what went through local storage is
    // stored, and resent, gzip).
    assert!(ingest.gzip_calls() < ingest.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn compression_gzip_is_honoured_resends_included() {
    let (ingest, stats, duplicates) =
        fault_case_with(Mode::Partial(vec![0], 503), ", compression='gzip'").await;
    assert_eq!(duplicates, 0, "only the failed items are resent");
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert!(ingest.calls() > 1);
    assert_eq!(
        ingest.gzip_calls(),
        ingest.calls(),
        "every call, the resends of the 206 included, is gzip"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_206_with_invalid_items_counts_them() {
    // One batch, whatever the timing: the interval never ticks during the test, the batch goes
    // out when it is full (5 spans), and the fault rejects its item 1.
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = opencensus_settings::build(untimed(
        &ingest,
        dir.path(),
        ", timeout=1, max_batch_size=5",
    ))
    .unwrap();
    let addr = app(&telemetry).await;
    ingest.set_mode(Mode::Partial(vec![1], 400));
    send(addr, 5).await;
    until("the invalid item to be counted", 20, || {
        telemetry.export_stats().dropped_invalid > 0
    })
    .await;
    let stats = telemetry.export_stats();
    assert_eq!(stats.dropped_invalid, 1, "{stats:?}");
    assert_eq!(stats.delivered, 4, "{stats:?}");
    assert_eq!(ingest.calls(), 1);
    assert_eq!(ingest.request_ids().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_connections_then_recovers() {
    let (_, _, duplicates) = fault_case(Mode::Drop).await;
    eprintln!("duplicates after dropped connections: {duplicates}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_ingestion_does_not_stall_the_app() {
    const N: usize = 50;
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = opencensus_settings::build(settings(&ingest, dir.path(), "")).unwrap();
    let addr = app(&telemetry).await;
    ingest.set_mode(Mode::Stall(Duration::from_secs(3)));
    // A fixed number of requests completes within a generous deadline while ingestion stalls.
    tokio::time::timeout(Duration::from_secs(10), send(addr, N))
        .await
        .expect("requests completed while ingestion stalled");
    until("telemetry to be stored", 20, || {
        telemetry.export_stats().stored > 0
    })
    .await;
    ingest.set_mode(Mode::Accept);
    ingest
        .wait_for("every request", |_| ingest.request_ids().len() >= N)
        .await;
    let duplicates: usize = ingest.request_ids().values().map(|n| n - 1).sum();
    eprintln!("duplicates after a stall past the timeout: {duplicates}");
    assert_eq!(telemetry.export_stats().dropped(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_max_size_is_enforced_and_counted() {
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    let telemetry =
        opencensus_settings::build(settings(&ingest, dir.path(), ", storage_max_size=1")).unwrap();
    let addr = app(&telemetry).await;
    ingest.set_mode(Mode::Status(503));
    send(addr, 5).await;
    until("the full storage to be counted", 20, || {
        telemetry.export_stats().dropped_storage_full > 0
    })
    .await;
    assert_eq!(telemetry.export_stats().stored, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_retention_is_enforced_and_counted() {
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = opencensus_settings::build(settings(
        &ingest,
        dir.path(),
        ", storage_retention_period=0",
    ))
    .unwrap();
    let addr = app(&telemetry).await;
    ingest.set_mode(Mode::Status(503));
    send(addr, 5).await;
    until("expired telemetry to be counted", 20, || {
        telemetry.export_stats().dropped_expired > 0
    })
    .await;
    ingest.set_mode(Mode::Accept);
    let stats = telemetry.export_stats();
    assert_eq!(
        stats.stored,
        stats.dropped_expired + stats.resent,
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_directory_is_owner_only_and_symlinks_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("store");
    let telemetry = opencensus_settings::build(settings(&ingest, &storage, "")).unwrap();
    let mode = std::fs::metadata(&storage).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    drop(telemetry);

    // A directory another user owns is refused too (the tests run as root in CI: chown works).
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    if std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).is_ok() {
        let err = opencensus_settings::build(settings(&ingest, &foreign, "")).unwrap_err();
        assert!(err.to_string().contains("belongs to another user"), "{err}");
    }

    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&storage, &link).unwrap();
    let err = opencensus_settings::build(settings(&ingest, &link, "")).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_pressure_never_waits_on_a_runtime_thread_and_every_span_is_accounted_for() {
    const SPANS: usize = 100_000;
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    ingest.set_mode(Mode::Stall(Duration::from_millis(300)));
    let telemetry = Arc::new(
        opencensus_settings::build(settings(&ingest, dir.path(), ", max_batch_size=500")).unwrap(),
    );
    let tracer = telemetry.tracer_provider().unwrap().tracer("burst");
    // On this runtime's thread, a span never waits for room: when the queue is full it is
    // dropped and counted (SPEC 8: the request never waits for telemetry).
    let started = Instant::now();
    for _ in 0..SPANS {
        tracer.in_span("burst", |_| {});
    }
    eprintln!("async burst of {SPANS} spans in {:?}", started.elapsed());
    assert_eq!(telemetry.export_stats().waited_queue_full, 0);
    // A plain thread may wait a little for room.
    spans_on_a_plain_thread(&telemetry, SPANS);
    ingest.set_mode(Mode::Accept);
    let flush = telemetry.clone();
    tokio::task::spawn_blocking(move || flush.force_flush())
        .await
        .unwrap()
        .unwrap();
    // Every span ends delivered, waiting in storage, or counted as dropped; then storage
    // drains.
    let total = 2 * SPANS as u64;
    until(
        "every span to be accounted for and storage drained",
        60,
        || {
            let s = telemetry.export_stats();
            s.delivered + (s.stored - s.resent) + s.dropped() == total && s.stored == s.resent
        },
    )
    .await;
    let stats = telemetry.export_stats();
    eprintln!("{stats:?}");
    assert_eq!(stats.queued + stats.dropped_queue_full, total, "{stats:?}");
    assert_eq!(stats.dropped() - stats.dropped_queue_full, 0, "{stats:?}");
}

/// The two child roles of the crash test: `writer` serves requests during an outage until its
/// telemetry is stored, then waits to be killed; `reader` starts with the same key and storage
/// and exits once it has resent what the writer stored.
async fn crash_child(role: &str) {
    let cs = std::env::var("OCS_CS").unwrap();
    let storage = std::env::var("OCS_STORAGE").unwrap();
    let n: u64 = std::env::var("OCS_N").unwrap().parse().unwrap();
    let telemetry = opencensus_settings::build(Settings::default().with_sampler("AlwaysOnSampler()").with_exporter(format!(
        "AzureExporter(connection_string='{cs}', export_interval=0.02, timeout=1, storage_path='{storage}')"
    )))
    .unwrap();
    if role == "writer" {
        let addr = app(&telemetry).await;
        send(addr, n as usize).await;
        until("the writer's telemetry to be stored", 30, || {
            telemetry.export_stats().stored >= n
        })
        .await;
        println!("STORED");
        tokio::time::sleep(Duration::from_secs(600)).await;
        unreachable!("the parent kills the writer");
    }
    until("the reader to resend", 30, || {
        telemetry.export_stats().resent >= n
    })
    .await;
    println!("RESENT {:?}", telemetry.export_stats());
}

#[test]
fn crash_then_the_next_process_delivers() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    const N: usize = 8;
    let name = "crash_then_the_next_process_delivers";
    if let Ok(role) = std::env::var("OCS_CHILD_ROLE") {
        let rt = tokio::runtime::Runtime::new().unwrap();
        return rt.block_on(crash_child(&role));
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ingest = rt.block_on(Ingest::start());
    ingest.set_mode(Mode::Status(503));
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("store");
    let spawn = |role: &str| {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env("OCS_CHILD_ROLE", role)
            .env("OCS_CS", ingest.connection_string())
            .env("OCS_STORAGE", &storage)
            .env("OCS_N", N.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    };
    let mut writer = spawn("writer");
    let stdout = writer.stdout.take().unwrap();
    let stored = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("STORED"));
    assert!(stored, "the writer never stored its telemetry");
    writer.kill().unwrap(); // SIGKILL: no shutdown, no flush
    let _ = writer.wait();
    let blobs = std::fs::read_dir(&storage)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "blob")
        })
        .count();
    assert!(blobs > 0, "stored files survive the crash");
    assert!(ingest.request_ids().is_empty());

    ingest.set_mode(Mode::Accept);
    let reader = spawn("reader").wait_with_output().unwrap();
    assert!(
        reader.status.success(),
        "{}",
        String::from_utf8_lossy(&reader.stdout)
    );
    rt.block_on(ingest.wait_for("the writer's requests", |_| ingest.request_ids().len() >= N));
    let duplicates: usize = ingest.request_ids().values().map(|n| n - 1).sum();
    assert_eq!(duplicates, 0);
    assert!(ingest.rejected().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_within_the_grace_period_stores_what_it_cannot_send() {
    const N: usize = 10;
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    // A long export interval: the requests' spans are still queued when the guard is dropped.
    let telemetry = opencensus_settings::build(
        Settings::default()
            .with_sampler("AlwaysOnSampler()")
            .with_exporter(format!(
                "AzureExporter(connection_string='{}', export_interval=60, timeout=30, storage_path='{}')",
                ingest.connection_string(),
                dir.path().display()
            )),
    )
    .unwrap()
    // Two seconds: room to store on a machine whose cores are busy (one second failed 1 run
    // in 20 while two builds ran beside the tests).
    .with_shutdown_grace(Duration::from_secs(2));
    let addr = app(&telemetry).await;
    ingest.set_mode(Mode::Stall(Duration::from_secs(20)));
    send(addr, N).await;
    let started = Instant::now();
    let stats = tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert_eq!(stats.stored, N as u64, "{stats:?}");
    assert_eq!(stats.in_flight, 0, "{stats:?}");
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(files > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vanishingly_small_export_interval_still_exports() {
    // A valid float that rounds to a zero duration must not stop the export thread.
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = opencensus_settings::build(
        Settings::default()
            .with_sampler("AlwaysOnSampler()")
            .with_exporter(format!(
                "AzureExporter(connection_string='{}', export_interval=0.000000000001, storage_path='{}')",
                ingest.connection_string(),
                dir.path().display()
            )),
    )
    .unwrap();
    let addr = app(&telemetry).await;
    send(addr, 3).await;
    ingest
        .wait_for("3 requests", |_| ingest.request_ids().len() >= 3)
        .await;
    // The service records the envelopes before its answer reaches us: wait for the count.
    until("3 delivered", 20, || {
        telemetry.export_stats().delivered >= 3
    })
    .await;
    let stats = telemetry.export_stats();
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert_eq!(stats.delivered, 3, "{stats:?}");
}

/// SPEC 8: the default storage folder (in the temp dir) being unusable is not fatal: the app
/// starts without storage and counts what it could not store; an explicit unusable
/// `storage_path` is a settings error `check` reports.
#[test]
fn an_unusable_default_storage_folder_is_not_fatal() {
    let name = "an_unusable_default_storage_folder_is_not_fatal";
    if common::is_child(name) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        return rt.block_on(async {
            let ingest = Ingest::start().await;
            ingest.set_mode(Mode::Status(503));
            let telemetry = opencensus_settings::build(
                Settings::default()
                    .with_sampler("AlwaysOnSampler()")
                    .with_exporter(format!(
                        "AzureExporter(connection_string='{}', export_interval=3600, timeout=1)",
                        ingest.connection_string()
                    )),
            )
            .expect("an unusable default folder must not stop the app");
            let tracer = telemetry.tracer_provider().unwrap().tracer("t");
            for _ in 0..3 {
                tracer.in_span("s", |_| {});
            }
            let stats = tokio::task::spawn_blocking(move || {
                telemetry
                    .with_shutdown_grace(Duration::from_secs(2))
                    .shutdown()
            })
            .await
            .unwrap();
            assert_eq!(stats.dropped_no_storage, 3, "{stats:?}");
            assert_eq!(stats.stored, 0, "{stats:?}");
        });
    }
    // /proc: not even root can create a folder there.
    let out = common::run_child(name, [("TMPDIR", "/proc")]);
    common::assert_ok(&out);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let outcome = opencensus_settings::check(
        Settings::loader()
            .env([(
                "OPENCENSUS__TRACE__EXPORTER",
                format!(
                    "AzureExporter(connection_string='InstrumentationKey=00000000-0000-0000-0000-000000000000', storage_path='{}')",
                    file.display()
                ),
            )])
            .current_dir("/nonexistent")
            .executable_dir(None),
    );
    assert!(!outcome.is_ok());
    assert!(outcome.to_string().contains("storage_path"), "{outcome}");
}

/// Issue 12 (defect 8): storage is for outages, not bursts. With a healthy service a burst of
/// 8,300 spans in batches of 100 used to send 7,125 of them through the disk (gzip + fsync).
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_with_a_healthy_service_does_not_go_through_the_disk() {
    const SPANS: usize = 8_300;
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = Arc::new(
        opencensus_settings::build(untimed(&ingest, dir.path(), ", max_batch_size=100")).unwrap(),
    );
    spans_on_a_plain_thread(&telemetry, SPANS);
    let flush = telemetry.clone();
    tokio::task::spawn_blocking(move || flush.force_flush())
        .await
        .unwrap()
        .unwrap();
    until("every span delivered", 60, || {
        let s = telemetry.export_stats();
        s.delivered + s.stored - s.resent + s.dropped() >= SPANS as u64 && s.stored == s.resent
    })
    .await;
    let stats = telemetry.export_stats();
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    // Before: 7,125 stored. A healthy service's burst waits for a connection instead.
    assert!(stats.stored < 1_000, "{stats:?}");
}

/// SPEC 8: the grace period bounds shutdown, sends in flight included: with a hung endpoint
/// nothing ends "in flight"; what was not acknowledged is stored.
#[tokio::test(flavor = "multi_thread")]
async fn shutdown_with_a_hung_endpoint_stores_what_is_in_flight() {
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    ingest.set_mode(Mode::Stall(Duration::from_secs(30)));
    let telemetry = opencensus_settings::build(untimed(
        &ingest,
        dir.path(),
        ", timeout=30, max_batch_size=5",
    ))
    .unwrap();
    let tracer = telemetry.tracer_provider().unwrap().tracer("t");
    for _ in 0..5 {
        tracer.in_span("s", |_| {});
    }
    until("the send to hang", 20, || ingest.received() > 0).await;
    let started = Instant::now();
    let stats = tokio::task::spawn_blocking(move || {
        telemetry
            .with_shutdown_grace(Duration::from_secs(2))
            .shutdown()
    })
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stats.in_flight, 0, "{stats:?}");
    assert_eq!(stats.stored, 5, "{stats:?}");
}

/// Issue 12 (defect 1): with `max_batch_size=10000` the 8,192-span queue could never hold a
/// full batch, so spans waited for the interval tick and producers slept 100 ms each. The
/// queue now holds at least two full batches: a full batch goes out at once (the interval here
/// never ticks) and nobody waits.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_larger_than_the_old_queue_goes_out_when_full() {
    const SPANS: usize = 10_000;
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = Arc::new(
        opencensus_settings::build(untimed(&ingest, dir.path(), ", max_batch_size=10000")).unwrap(),
    );
    spans_on_a_plain_thread(&telemetry, SPANS);
    until("the full batch to be delivered", 30, || {
        telemetry.export_stats().delivered >= SPANS as u64
    })
    .await;
    let stats = telemetry.export_stats();
    assert_eq!(stats.waited_queue_full, 0, "{stats:?}");
    assert_eq!(stats.dropped(), 0, "{stats:?}");
}
