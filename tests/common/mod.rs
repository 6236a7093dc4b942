//! Shared test support: polling with a deadline (never a bare sleep to wait for export), the
//! child-process harness (tests that set process globals re-run their own test binary with
//! `OCS_CHILD` naming the scenario), and the ingestion test server.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

pub mod ingest;

use std::future::Future;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Flushes `telemetry` (a blocking call) from inside a runtime and hands it back.
pub async fn flushed(telemetry: opencensus_settings::Telemetry) -> opencensus_settings::Telemetry {
    tokio::task::spawn_blocking(move || {
        telemetry.force_flush().unwrap();
        telemetry
    })
    .await
    .unwrap()
}

/// Polls `f` every few milliseconds until it gives `Some`; panics naming `what` after `secs`.
pub async fn poll<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// [`poll`] for a plain thread (no runtime).
pub fn poll_blocking<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Polls until `f` holds or `secs` pass; never panics (the caller asserts on what it reads).
pub async fn settle(secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Whether this process is the child running scenario `name`.
pub fn is_child(name: &str) -> bool {
    std::env::var("OCS_CHILD").as_deref() == Ok(name)
}

/// Runs this test binary again for the scenario (test) `name`, with `OCS_CHILD=name`, none of
/// the parent's `OPENCENSUS*`, `OTEL_*` and Application Insights variables, and `env`.
pub fn run_child<K, V>(name: &str, env: impl IntoIterator<Item = (K, V)>) -> Output
where
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("OCS_CHILD", name);
    for (k, _) in std::env::vars() {
        if k.starts_with("OPENCENSUS")
            || k.starts_with("OTEL_")
            || k.starts_with("APPLICATIONINSIGHTS")
            || k.starts_with("APPINSIGHTS")
        {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env);
    cmd.output().unwrap()
}

/// [`run_child`] from inside a runtime (on a blocking thread).
pub fn run_child_async(name: &str, env: Vec<(String, String)>) -> impl Future<Output = Output> {
    let name = name.to_string();
    async move {
        tokio::task::spawn_blocking(move || run_child(&name, env))
            .await
            .unwrap()
    }
}

/// The child's stdout, after asserting it succeeded (its output shown when it did not).
pub fn assert_ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
