//! Django-style: everything comes from `opencensus.toml` + the environment; the app adds one
//! `.layer(...)` line.
//!
//! ```text
//! cargo run --example axum_settings            # serve on 127.0.0.1:8000
//! cargo run --example axum_settings -- --demo  # send itself a few requests, print spans, exit
//! ```

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opencensus_settings::{OpencensusLayer, TracedError};

#[derive(Debug)]
struct BackendDown;

impl std::fmt::Display for BackendDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the backend is down")
    }
}

impl IntoResponse for BackendDown {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, "backend down").into_response()
    }
}

async fn hello() -> &'static str {
    "Hello World!"
}

async fn user(Path(id): Path<u64>) -> String {
    format!("user {id}")
}

async fn fail() -> Result<&'static str, TracedError<BackendDown>> {
    Err(BackendDown)?
}

fn app() -> Router {
    Router::new()
        .route("/", get(hello))
        .route("/users/{id}", get(user))
        .route("/fail", get(fail))
        .route("/healthz", get(|| async { "ok" }))
        .layer(OpencensusLayer::new())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = std::env::args().any(|a| a == "--demo");
    let settings = common::settings_loader().load()?;
    let telemetry = opencensus_settings::init_with(settings)?;
    eprint!("{}", telemetry.report());

    let addr: SocketAddr = if demo {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:8000"
    }
    .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let server = axum::serve(
        listener,
        app().into_make_service_with_connect_info::<SocketAddr>(),
    );
    if demo {
        tokio::spawn(async move { server.await });
        common::run_demo(addr).await;
        drop(telemetry); // flushes
        return Ok(());
    }
    eprintln!("listening on http://{addr}");
    // SIGTERM or Ctrl-C: serve returns, the guard drops and flushes.
    server
        .with_graceful_shutdown(opencensus_settings::shutdown_signal())
        .await?;
    drop(telemetry);
    Ok(())
}
