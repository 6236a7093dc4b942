//! Microsoft Entra ID for Application Insights (SPEC 11), end to end: a loopback token
//! endpoint speaking the App Service / Functions managed-identity protocol (`IDENTITY_ENDPOINT`
//! and `IDENTITY_HEADER`), and the ingestion test server requiring the bearer. Each app runs in
//! a child process (the Azure SDK reads the identity variables from the process environment).

#![cfg(all(feature = "entra", feature = "axum"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use common::ingest::{IKEY, Ingest, Mode};
use common::{assert_ok, is_child};
use opencensus_settings::OpencensusLayer;

const IDENTITY_HEADER: &str = "identity-header-value-never-shown";

/// The managed-identity endpoint: token `tok-N` for the N-th fetch (N from 1), valid for two
/// minutes (so the SDK's cache, which refreshes five minutes early, fetches each time); the
/// first `fail_first` fetches answer 500.
#[derive(Clone, Default)]
struct TokenServer {
    fetches: Arc<AtomicUsize>,
    fail_first: usize,
    seen: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

async fn token(
    State(s): State<TokenServer>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<axum::response::Response, StatusCode> {
    use axum::response::IntoResponse;
    if headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        != Some(IDENTITY_HEADER)
    {
        return Err(StatusCode::UNAUTHORIZED);
    }
    s.seen.lock().unwrap().push(query.clone());
    let n = s.fetches.fetch_add(1, Ordering::SeqCst) + 1;
    if n <= s.fail_first {
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 120;
    let body = serde_json::json!({
        "access_token": format!("tok-{}", n - s.fail_first),
        "expires_on": expires.to_string(),
        "token_type": "Bearer",
        "resource": query.get("resource").cloned().unwrap_or_default(),
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response())
}

async fn token_server(fail_first: usize) -> (SocketAddr, TokenServer) {
    let state = TokenServer {
        fail_first,
        ..TokenServer::default()
    };
    let app = Router::new()
        .route("/msi/token", get(token))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, state)
}

/// The child: serves two requests, then waits until both are delivered (or resent from
/// storage), and shuts down.
async fn child_app() {
    let telemetry = opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
    println!("REPORT:\n{}", telemetry.report());
    let app = Router::new()
        .route("/work", get(|| async { "done" }))
        .layer(OpencensusLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let status = reqwest::get(format!("http://{addr}/work"))
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
        // Tokens are never fetched on a request's path.
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    let telemetry = common::flushed(telemetry).await;
    common::poll("both requests delivered", 60, || {
        let s = telemetry.export_stats();
        (s.delivered + s.resent >= 2).then_some(())
    })
    .await;
    drop(telemetry);
}

async fn run(name: &str, tokens: SocketAddr, env: &[(&str, String)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut vars: Vec<(String, String)> = vec![
        (
            "IDENTITY_ENDPOINT".into(),
            format!("http://{tokens}/msi/token"),
        ),
        ("IDENTITY_HEADER".into(), IDENTITY_HEADER.into()),
        (
            "OPENCENSUS__TRACE__SAMPLER".into(),
            "AlwaysOnSampler()".into(),
        ),
        (
            "OPENCENSUS_SETTINGS".into(),
            "/nonexistent-none.toml".into(),
        ),
    ];
    vars.retain(|(k, _)| k != "OPENCENSUS_SETTINGS");
    vars.push((
        "OPENCENSUS__TRACE__EXPORTER".into(),
        format!(
            "AzureExporter(export_interval=3600, storage_path='{}')",
            dir.path().display()
        ),
    ));
    for (k, v) in env {
        vars.retain(|(old, _)| old != k);
        vars.push(((*k).to_string(), v.clone()));
    }
    let out = common::run_child_async(name, vars).await;
    let stdout = assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stdout.contains(IDENTITY_HEADER) && !stderr.contains(IDENTITY_HEADER),
        "IDENTITY_HEADER shown:\n{stdout}\n{stderr}"
    );
    assert!(
        !stdout.contains("tok-") && !stderr.contains("tok-"),
        "a token shown"
    );
    stdout
}

/// An `Authorization=AAD` connection string and the authentication string Functions and App
/// Service set for a system-assigned identity.
fn system_assigned(ingest: &Ingest) -> [(&'static str, String); 2] {
    [
        (
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            aad_connection(ingest, ""),
        ),
        (
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
            "Authorization=AAD".into(),
        ),
    ]
}

fn aad_connection(ingest: &Ingest, extra: &str) -> String {
    format!(
        "InstrumentationKey={IKEY};IngestionEndpoint=http://{}/;Authorization=AAD{extra}",
        ingest.addr
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_system_assigned_identity_from_the_authentication_string_delivers() {
    let name = "a_system_assigned_identity_from_the_authentication_string_delivers";
    if is_child(name) {
        return child_app().await;
    }
    let ingest = Ingest::start().await;
    ingest.set_mode(Mode::Bearer(vec!["tok-1".into()]));
    let (tokens, server) = token_server(0).await;
    let stdout = run(name, tokens, &system_assigned(&ingest)).await;
    assert!(
        stdout.contains("ManagedIdentityCredential (system-assigned)")
            && stdout.contains("environment variable APPLICATIONINSIGHTS_AUTHENTICATION_STRING"),
        "{stdout}"
    );
    assert_eq!(ingest.accepted().len(), 2);
    assert!(ingest.bearers().iter().all(|b| b == "Bearer tok-1"));
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(
        seen[0].get("resource").map(String::as_str),
        Some("https://monitor.azure.com/")
    );
    assert!(!seen[0].contains_key("client_id"), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_assigned_identity_with_an_audience_delivers() {
    let name = "a_user_assigned_identity_with_an_audience_delivers";
    if is_child(name) {
        return child_app().await;
    }
    let ingest = Ingest::start().await;
    ingest.set_mode(Mode::Bearer(vec!["tok-1".into()]));
    let (tokens, server) = token_server(0).await;
    run(
        name,
        tokens,
        &[
            (
                "APPLICATIONINSIGHTS_CONNECTION_STRING",
                aad_connection(&ingest, ";AADAudience=https://monitor.azure.us"),
            ),
            (
                "OPENCENSUS__TRACE__EXPORTER",
                format!(
                    "AzureExporter(export_interval=3600, enable_local_storage=False, credential=ManagedIdentityCredential(client_id='{}'))",
                    "00000000-1111-2222-3333-444444444444"
                ),
            ),
        ],
    )
    .await;
    assert_eq!(ingest.accepted().len(), 2);
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(
        seen[0].get("resource").map(String::as_str),
        Some("https://monitor.azure.us")
    );
    assert_eq!(
        seen[0].get("client_id").map(String::as_str),
        Some("00000000-1111-2222-3333-444444444444")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_is_replaced_and_nothing_is_lost() {
    let name = "a_refused_token_is_replaced_and_nothing_is_lost";
    if is_child(name) {
        return child_app().await;
    }
    // The service has rotated: the first token is refused (401), the next one accepted.
    let ingest = Ingest::start().await;
    ingest.set_mode(Mode::Bearer(vec!["tok-2".into(), "tok-3".into()]));
    let (tokens, _server) = token_server(0).await;
    run(name, tokens, &system_assigned(&ingest)).await;
    assert_eq!(ingest.accepted().len(), 2);
    assert!(ingest.calls() >= 2, "one refused call, then the resend");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_endpoint_down_for_a_while_loses_nothing() {
    let name = "the_token_endpoint_down_for_a_while_loses_nothing";
    if is_child(name) {
        return child_app().await;
    }
    let ingest = Ingest::start().await;
    ingest.set_mode(Mode::Bearer(vec!["tok-1".into()]));
    // The first three fetches fail: the batch is stored (an outage), then resent once a
    // token comes, after the backoff (0.5 s, 1 s, 2 s).
    let (tokens, _server) = token_server(3).await;
    run(name, tokens, &system_assigned(&ingest)).await;
    assert_eq!(ingest.accepted().len(), 2);
}

#[test]
fn aad_without_a_credential_is_a_settings_error_naming_every_way() {
    let outcome = opencensus_settings::check(
        opencensus_settings::Settings::loader()
            .env([
                (
                    "APPLICATIONINSIGHTS_CONNECTION_STRING",
                    format!("InstrumentationKey={IKEY};Authorization=AAD"),
                ),
                ("OPENCENSUS__TRACE__EXPORTER", "AzureExporter()".to_string()),
            ])
            .current_dir("/nonexistent")
            .executable_dir(None),
    );
    let err = outcome.error.unwrap().to_string();
    for way in [
        "Authorization=AAD",
        "credential=ManagedIdentityCredential()",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "ClientSecretCredential",
    ] {
        assert!(err.contains(way), "{err}");
    }
    // A credential is checked without any network, and its secret never shown.
    let outcome = opencensus_settings::check(
        opencensus_settings::Settings::loader()
            .env([
                (
                    "APPLICATIONINSIGHTS_CONNECTION_STRING",
                    format!("InstrumentationKey={IKEY};Authorization=AAD"),
                ),
                (
                    "OPENCENSUS__TRACE__EXPORTER",
                    "AzureExporter(credential=ClientSecretCredential(tenant_id='t', client_id='c', client_secret='hunter2'))".to_string(),
                ),
            ])
            .current_dir("/nonexistent")
            .executable_dir(None),
    );
    assert!(outcome.is_ok(), "{outcome}");
    let text = outcome.to_string();
    assert!(
        text.contains("ClientSecretCredential (tenant t, client id c, secret redacted)"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    let outcome = opencensus_settings::check(
        opencensus_settings::Settings::loader()
            .env([(
                "OPENCENSUS__TRACE__EXPORTER",
                format!("AzureExporter(connection_string='InstrumentationKey={IKEY}', credential=ManagedIdentityCredential(clientid='x'))"),
            )])
            .current_dir("/nonexistent")
            .executable_dir(None),
    );
    let err = outcome.error.unwrap().to_string();
    assert!(err.contains("client_id"), "did you mean: {err}");
}

/// A credential of the app's own, given in code.
#[derive(Debug)]
struct Fixed;

#[async_trait::async_trait]
impl opencensus_settings::azure_core::credentials::TokenCredential for Fixed {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<opencensus_settings::azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> opencensus_settings::azure_core::Result<
        opencensus_settings::azure_core::credentials::AccessToken,
    > {
        assert_eq!(scopes, ["https://monitor.azure.com//.default"]);
        Ok(
            opencensus_settings::azure_core::credentials::AccessToken::new(
                "code-token",
                opencensus_settings::azure_core::time::OffsetDateTime::now_utc()
                    + opencensus_settings::azure_core::time::Duration::hours(1),
            ),
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_given_in_code_is_used() {
    use opencensus_settings::opentelemetry::trace::{Tracer as _, TracerProvider as _};
    let ingest = Ingest::start().await;
    ingest.set_mode(Mode::Bearer(vec!["code-token".into()]));
    let settings = opencensus_settings::Settings::default()
        .with_sampler("AlwaysOnSampler()")
        .with_exporter(format!(
            "AzureExporter(connection_string='{}', export_interval=3600, enable_local_storage=False)",
            aad_connection(&ingest, "")
        ))
        .with_azure_credential(Arc::new(Fixed));
    let telemetry = opencensus_settings::build(settings).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        telemetry
            .report()
            .to_string()
            .contains("a TokenCredential given in code"),
        "{}",
        telemetry.report()
    );
    telemetry
        .tracer_provider()
        .unwrap()
        .tracer("t")
        .in_span("work", |_| {});
    let telemetry = common::flushed(telemetry).await;
    ingest.wait_for("the span", |e| !e.is_empty()).await;
    assert_eq!(ingest.bearers(), ["Bearer code-token"]);
    drop(telemetry);
}
