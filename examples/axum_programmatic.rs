//! Flask-style: the sampler and exporter are given in code (OpenCensus's
//! `FlaskMiddleware(app, exporter=..., sampler=...)`), installed with `init_with`, so the request
//! span and the spans the handler starts share one exporter.
//!
//! ```text
//! cargo run --example axum_programmatic -- --demo
//! ```

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use opencensus_settings::opentelemetry::global;
use opencensus_settings::opentelemetry::trace::Tracer;
use opencensus_settings::{OpencensusLayer, Settings};

async fn user(Path(id): Path<u64>) -> String {
    // A span the handler starts: a child of the request span, same exporter.
    global::tracer("app").in_span("load user", |_cx| format!("user {id}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = std::env::args().any(|a| a == "--demo");
    let telemetry = opencensus_settings::init_with(
        Settings::default()
            .with_sampler("opencensus.trace.samplers.ProbabilitySampler(rate=1.0)")
            .with_exporter("opencensus.trace.print_exporter.PrintExporter()")
            .with_exclude_paths(["/healthz"])
            .with_service_name("programmatic-example"),
    )?;
    eprint!("{}", telemetry.report());

    let app = Router::new()
        .route("/", get(|| async { "Hello World!" }))
        .route("/users/{id}", get(user))
        .route("/healthz", get(|| async { "ok" }))
        .layer(OpencensusLayer::new());

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
        app.into_make_service_with_connect_info::<SocketAddr>(),
    );
    if demo {
        tokio::spawn(async move { server.await });
        common::run_demo(addr).await;
        drop(telemetry);
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
