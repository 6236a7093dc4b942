//! Pyramid-style: the actix-web middleware configured from settings (`opencensus.toml` + env).
//!
//! ```text
//! cargo run --features actix --example actix_settings -- --demo
//! ```

mod common;

use actix_web::{App, HttpResponse, HttpServer, ResponseError, web};
use opencensus_settings::actix::OpencensusMiddleware;

#[derive(Debug)]
struct BackendDown;

impl std::fmt::Display for BackendDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the backend is down")
    }
}

impl ResponseError for BackendDown {}

async fn hello() -> &'static str {
    "Hello World!"
}

async fn user(id: web::Path<u64>) -> String {
    format!("user {id}")
}

async fn fail() -> Result<HttpResponse, BackendDown> {
    Err(BackendDown)
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = std::env::args().any(|a| a == "--demo");
    let settings = common::settings_loader().load()?;
    let telemetry = opencensus_settings::init_with(settings)?;
    eprint!("{}", telemetry.report());

    let server = HttpServer::new(|| {
        App::new()
            .wrap(OpencensusMiddleware::new())
            .route("/", web::get().to(hello))
            .route("/users/{id}", web::get().to(user))
            .route("/fail", web::get().to(fail))
            .route("/healthz", web::get().to(|| async { "ok" }))
    })
    .workers(if demo { 1 } else { 2 })
    .bind(if demo {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:8000"
    })?;
    let addr = server.addrs()[0];
    let server = server.run();
    if demo {
        let handle = server.handle();
        actix_web::rt::spawn(server);
        // reqwest needs a Tokio runtime; actix's is a current-thread Tokio runtime.
        common::run_demo(addr).await;
        handle.stop(true).await;
        drop(telemetry);
        return Ok(());
    }
    eprintln!("listening on http://{addr}");
    server.await?;
    Ok(())
}
