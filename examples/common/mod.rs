//! Shared by the examples: the shipped settings file and the `--demo` client.

#![allow(dead_code)]

use std::net::SocketAddr;

/// `OPENCENSUS_SETTINGS` or `./opencensus.toml` when the user has one, else the settings the
/// examples ship with (every request sampled, printed to stdout).
pub(crate) fn settings_loader() -> opencensus_settings::SettingsLoader {
    let loader = opencensus_settings::Settings::loader();
    let has_own = std::env::var_os("OPENCENSUS_SETTINGS").is_some()
        || std::path::Path::new("opencensus.toml").is_file();
    if has_own {
        loader
    } else {
        loader.config_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/opencensus.toml"
        ))
    }
}

/// `--demo`: the requests the demo sends to itself.
pub(crate) const DEMO: &[(&str, Option<&str>)] = &[
    ("/", None),
    ("/users/42?x=1", None),
    (
        "/users/7",
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    ),
    ("/missing", None),
    ("/fail", None),
    ("/healthz", None),
];

/// Sends the demo requests to `addr` and prints what came back.
pub(crate) async fn run_demo(addr: SocketAddr) {
    let client = reqwest::Client::new();
    for (path, traceparent) in DEMO {
        let mut req = client.get(format!("http://{addr}{path}"));
        if let Some(tp) = traceparent {
            req = req.header("traceparent", *tp);
        }
        match req.send().await {
            Ok(resp) => println!("demo: GET {path} -> {}", resp.status()),
            Err(err) => println!("demo: GET {path} failed: {err}"),
        }
    }
}
