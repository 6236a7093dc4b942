//! Live reload (SPEC 9) under a running app: the settings file rewritten, then swapped through
//! a symlink (as a Kubernetes ConfigMap is), seen by `Telemetry::reload()` and by the poller
//! within two intervals; an invalid file leaves the app serving with the old settings; what
//! needs a restart is said. Requests go through a real server; envelopes reach the ingestion
//! test server.

#![cfg(all(feature = "azure", feature = "axum"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use common::ingest::{Ingest, requests};
use common::{assert_ok, is_child};
use opencensus_settings::{OpencensusLayer, ReloadStatus};

/// ProbabilitySampler keeps this one at any rate above 0 (low 64 bits = 1).
const TRACE: &str = "0af7651916cd43dd0000000000000001";
const PARENT: &str = "b7ad6b7169203331";

fn settings(sampler: &str, exclude: &str, interval: &str) -> String {
    format!(
        "[OPENCENSUS.TRACE]\nSAMPLER = \"{sampler}\"\nEXPORTER = \"AzureExporter(export_interval=3600, enable_local_storage=False)\"\nEXCLUDELIST_PATHS = [{exclude}]\nRELOAD_INTERVAL = {interval}\n"
    )
}

async fn get_path(addr: SocketAddr, path: &str) -> u16 {
    let tp = format!("00-{TRACE}-{PARENT}-00");
    reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .header("traceparent", tp)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Replaces what `link` points at in one rename, as kubelet swaps a ConfigMap's `..data`.
fn swap_symlink(link: &Path, target: &Path) {
    let tmp = link.with_extension("tmp-link");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

async fn child_app() {
    let link = std::path::PathBuf::from(std::env::var("OPENCENSUS_SETTINGS").unwrap());
    let dir = link.parent().unwrap().to_path_buf();
    let telemetry = opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
    let app = Router::new()
        .route("/work", get(|| async { "done" }))
        .route("/healthz", get(|| async { "ok" }))
        .layer(OpencensusLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // 1. AlwaysOff: nothing recorded.
    assert_eq!(get_path(addr, "/work").await, 200);

    // 2. The file rewritten: rate 0.5, /healthz no longer excluded. reload() applies it.
    std::fs::write(
        dir.join("a.toml"),
        settings("ProbabilitySampler(rate=0.5)", "\"/nothing\"", "0.2"),
    )
    .unwrap();
    let status = tokio::task::block_in_place(|| telemetry.reload());
    match &status {
        ReloadStatus::Applied {
            changed,
            restart_needed,
        } => {
            assert_eq!(changed, &["SAMPLER", "EXCLUDELIST_PATHS"], "{status:?}");
            assert!(restart_needed.is_empty(), "{status:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(get_path(addr, "/work").await, 200); // recorded, sampleRate 50
    assert_eq!(get_path(addr, "/healthz").await, 200); // recorded now

    // 3. An invalid file: the old settings stay, the app serves, the error has file:line.
    std::fs::write(
        dir.join("a.toml"),
        "[OPENCENSUS.TRACE]\nSAMPLER = \"Nope(\"\n",
    )
    .unwrap();
    let status = tokio::task::block_in_place(|| telemetry.reload());
    match &status {
        ReloadStatus::Invalid { error } => assert!(error.contains("opencensus.toml:2"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(get_path(addr, "/work").await, 200); // still recorded at 50

    // 4. A symlink swap, seen by the poller within two intervals (0.2 s): AlwaysOn, and an
    //    exporter change that needs a restart.
    std::fs::write(
        dir.join("b.toml"),
        settings("AlwaysOnSampler()", "\"/nothing\"", "0.2").replace(
            "enable_local_storage=False",
            "enable_local_storage=False, timeout=5",
        ),
    )
    .unwrap();
    let swapped = Instant::now();
    swap_symlink(&link, &dir.join("b.toml"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let s = telemetry.reload_status();
        if matches!(&s, ReloadStatus::Applied { changed, .. } if changed == &["SAMPLER"]) {
            break s;
        }
        assert!(Instant::now() < deadline, "not reloaded: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    println!("POLL_SECONDS={}", swapped.elapsed().as_secs_f64());
    match &status {
        ReloadStatus::Applied { restart_needed, .. } => {
            assert_eq!(restart_needed, &["EXPORTER"], "{status:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(get_path(addr, "/work").await, 200); // recorded at 100
    drop(telemetry);
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_reload_under_a_running_app() {
    let name = "settings_reload_under_a_running_app";
    if is_child(name) {
        return child_app().await;
    }
    let ingest = Ingest::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        settings("AlwaysOffSampler()", "\"/healthz\"", "0.2"),
    )
    .unwrap();
    let link = dir.path().join("opencensus.toml");
    std::os::unix::fs::symlink(dir.path().join("a.toml"), &link).unwrap();
    let out = common::run_child_async(name, ingest.app_env(link.display())).await;
    let stdout = assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let seconds: f64 = stdout
        .lines()
        .find_map(|l| l.split("POLL_SECONDS=").nth(1))
        .unwrap_or_else(|| panic!("stdout:\n{stdout}\nstderr:\n{stderr}"))
        .trim()
        .parse()
        .unwrap();
    // Two poll intervals, and room for a loaded machine's scheduling.
    assert!(seconds < 5.0, "the poller took {seconds} s");
    assert!(
        stderr.contains("changed but is not valid") && stderr.contains("opencensus.toml:2"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("changed but is not valid").count(),
        1,
        "said once per content: {stderr}"
    );
    assert!(
        stderr.contains("EXPORTER changed") && stderr.contains("needs a restart"),
        "{stderr}"
    );
    let all = ingest
        .wait_for("four requests", |e| requests(e).len() >= 4)
        .await;
    let reqs = requests(&all);
    assert_eq!(reqs.len(), 4, "{all:#?}");
    let rates: Vec<(String, f64)> = reqs
        .iter()
        .map(|e| {
            (
                e["data"]["baseData"]["name"].as_str().unwrap().to_string(),
                e["sampleRate"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rates,
        [
            ("GET /work".to_string(), 50.0),
            ("GET /healthz".to_string(), 50.0),
            ("GET /work".to_string(), 50.0),
            ("GET /work".to_string(), 100.0),
        ]
    );
}
