//! Outgoing calls traced: the front app's `/call` handler calls a backend app through a
//! `reqwest_middleware` client carrying `TracingMiddleware`. One trace covers the front's
//! SERVER span, its CLIENT span and the backend's SERVER span (linked by `traceparent`).
//!
//! ```text
//! cargo run --features reqwest --example outgoing             # serve on 127.0.0.1:8000
//! cargo run --features reqwest --example outgoing -- --demo   # call /call once, print spans, exit
//! ```

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use opencensus_settings::OpencensusLayer;
use opencensus_settings::client::TracingMiddleware;
use reqwest_middleware::ClientWithMiddleware;

#[derive(Clone)]
struct Backend {
    client: ClientWithMiddleware,
    base: String,
}

async fn call(State(backend): State<Backend>) -> Result<String, (StatusCode, String)> {
    let bad_gateway = |e: reqwest_middleware::Error| (StatusCode::BAD_GATEWAY, e.to_string());
    let resp = backend
        .client
        .get(format!("{}/users/42", backend.base))
        .send()
        .await
        .map_err(bad_gateway)?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| bad_gateway(e.into()))?;
    Ok(format!("backend said {status}: {body}"))
}

async fn serve(app: Router, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = std::env::args().any(|a| a == "--demo");
    let telemetry = opencensus_settings::init_with(common::settings_loader().load()?)?;
    eprint!("{}", telemetry.report());

    let backend = Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<u64>| async move { format!("user {id}") }),
        )
        .layer(OpencensusLayer::new());
    let backend_addr = serve(backend, "127.0.0.1:0".parse()?).await?;

    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::new())
        .build();
    let front = Router::new()
        .route("/call", get(call))
        .with_state(Backend {
            client,
            base: format!("http://{backend_addr}"),
        })
        .layer(OpencensusLayer::new());
    let port = if demo { 0 } else { 8000 };
    let front_addr = serve(front, SocketAddr::from(([127, 0, 0, 1], port))).await?;

    if demo {
        let resp = reqwest::Client::new()
            .get(format!("http://{front_addr}/call"))
            .send()
            .await?;
        println!(
            "demo: GET /call -> {}: {}",
            resp.status(),
            resp.text().await?
        );
        drop(telemetry); // flushes
        return Ok(());
    }
    eprintln!("listening on http://{front_addr}/call (backend on {backend_addr})");
    // SIGTERM or Ctrl-C: stop, and let the guard flush what was recorded.
    opencensus_settings::shutdown_signal().await;
    drop(telemetry);
    Ok(())
}
