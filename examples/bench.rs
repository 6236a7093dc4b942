//! The load benchmark's programs (driven by `bench/load.sh`): an axum "Hello World!" server in
//! one of several tracing modes, and an ingestion sink that answers like Application Insights
//! and counts the envelopes it receives.
//!
//! ```text
//! bench sink                                   # prints SINK_PORT=...
//! bench server --mode traced --sink http://127.0.0.1:PORT --storage /tmp/x [--runtime multi|single]   # prints PORT=...
//! ```
//! The server stops when its standard input closes, then prints `SERVED <n>` after flushing.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::routing::get;
use opencensus_settings::{OpencensusLayer, Settings};

const IKEY: &str = "0d3c4f2a-5b6e-4c7d-8e9f-a0b1c2d3e4f5";

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::args().nth(1).as_deref() {
        Some("sink") => sink(),
        Some("server") => server(),
        _ => Err("usage: bench sink | bench server --mode MODE --sink URL --storage DIR".into()),
    }
}

// --- the sink -----------------------------------------------------------------------------

fn sink() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("SINK_PORT={}", listener.local_addr()?.port());
        std::io::stdout().flush()?;
        let state = Arc::new(Sink {
            track: std::env::args().any(|a| a == "--track-ids"),
            ..Sink::default()
        });
        loop {
            let (stream, _) = listener.accept().await?;
            let state = state.clone();
            tokio::spawn(async move {
                let _ = sink_connection(stream, state).await;
            });
        }
    })
}

/// What the sink counts. `GET /count` (envelopes accepted), `/unique` and `/dups` (request
/// envelopes by id: the soak's exactly-once check), `/fail` and `/ok` (answer track calls with
/// 503, an outage, or normally).
/// Ids are tracked only with `--track-ids` (parsing every envelope costs the sink's core, which
/// wrk shares in the speed runs; without it envelopes are counted, not parsed).
#[derive(Default)]
struct Sink {
    track: bool,
    count: AtomicU64,
    fail: std::sync::atomic::AtomicBool,
    ids: std::sync::Mutex<std::collections::HashSet<String>>,
    dups: AtomicU64,
}

async fn sink_connection(stream: tokio::net::TcpStream, state: Arc<Sink>) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let control = line.starts_with("GET /");
        let mut length = 0usize;
        let mut gzip = false;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                if k == "content-length" {
                    length = v.trim().parse().unwrap_or(0);
                } else if k == "content-encoding" && v.trim() == "gzip" {
                    gzip = true;
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).await?;
        let mut status = "200 OK";
        let answer = if control {
            let path = line.split_whitespace().nth(1).unwrap_or_default();
            match path {
                "/fail" => state.fail.store(true, Ordering::SeqCst),
                "/ok" => state.fail.store(false, Ordering::SeqCst),
                _ => {}
            }
            match path {
                "/unique" => state.ids.lock().map(|i| i.len()).unwrap_or(0).to_string(),
                "/dups" => state.dups.load(Ordering::Relaxed).to_string(),
                _ => state.count.load(Ordering::Relaxed).to_string(),
            }
        } else if state.fail.load(Ordering::SeqCst) {
            status = "503 Service Unavailable";
            String::new()
        } else {
            let mut raw = Vec::new();
            if gzip {
                flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut raw)?;
            } else {
                raw = body;
            }
            let n = if state.track {
                let items: Vec<serde_json::Value> =
                    serde_json::from_slice(&raw).unwrap_or_default();
                track(&state, &items);
                items.len()
            } else {
                // One `"iKey":` an envelope (in a value it would be escaped): counted without
                // parsing, so the sink takes as little as it can of the core it shares with wrk
                // (Application Insights costs the server's machine nothing).
                memchr::memmem::find_iter(&raw, b"\"iKey\":").count()
            };
            state.count.fetch_add(n as u64, Ordering::Relaxed);
            format!("{{\"itemsReceived\":{n},\"itemsAccepted\":{n},\"errors\":[]}}")
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        reader.get_mut().write_all(response.as_bytes()).await?;
    }
}

/// Records request envelopes by id; counts ids seen before.
fn track(state: &Sink, items: &[serde_json::Value]) {
    if let Ok(mut ids) = state.ids.lock() {
        for item in items {
            if let Some(id) = item["data"]["baseData"]["id"].as_str()
                && !ids.insert(id.to_string())
            {
                state.dups.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

// --- the server ---------------------------------------------------------------------------

fn settings(mode: &str, sink: &str, storage: &str) -> Settings {
    let exporter = format!(
        "AzureExporter(connection_string='InstrumentationKey={IKEY};IngestionEndpoint={sink}', storage_path='{storage}', storage_max_size=4294967296, export_interval=1, max_batch_size=512)"
    );
    let base = Settings::default()
        .with_exporter(exporter)
        .with_service_name("bench")
        .with_exclude_paths(["/healthz"]);
    match mode {
        "sampled_out" => base.with_sampler("opencensus.trace.samplers.ProbabilitySampler(rate=0)"),
        _ => base.with_sampler("opencensus.trace.samplers.AlwaysOnSampler()"),
    }
}

fn server() -> Result<(), Box<dyn std::error::Error>> {
    let mode = arg("--mode").unwrap_or_else(|| "untraced".into());
    let sink = arg("--sink").unwrap_or_else(|| "http://127.0.0.1:9".into());
    let storage = arg("--storage").unwrap_or_else(|| {
        std::env::temp_dir()
            .join("bench-store")
            .display()
            .to_string()
    });
    // `--runtime multi`: what `#[tokio::main]` builds (a worker per available core; the
    // driver pins the server to one). `single`: one worker thread (the earlier rounds' shape).
    let rt = match arg("--runtime").as_deref() {
        Some("single") => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?,
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
    };
    let served = Arc::new(AtomicU64::new(0));
    let counter = served.clone();
    let hello = move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::Relaxed);
            "Hello World!"
        }
    };
    let router = Router::new()
        .route("/", get(hello.clone()))
        .route("/healthz", get(hello));

    let mut telemetry = None;
    let mut peer = None;
    let app = match mode.as_str() {
        "untraced" => router,
        // A pass-through layer: what `Router::layer` costs by itself (a clone of the layered
        // service and a boxed future per request), the floor under any tower middleware.
        "null_layer" => router.layer(tower::util::MapRequestLayer::new(
            |r: axum::extract::Request| r,
        )),
        "traced" | "sampled_out" | "excluded" | "outage" => {
            telemetry = Some(opencensus_settings::init_with(settings(
                &mode, &sink, &storage,
            ))?);
            router.layer(OpencensusLayer::new())
        }
        "peer" => {
            peer = Some(peer::install(&sink).map_err(|e| e.to_string())?);
            router.layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
        }
        other => return Err(format!("unknown mode {other}").into()),
    };

    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        println!("PORT={}", addr.port());
        std::io::stdout().flush()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            let _ = stop_tx.send(());
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    drop(rt);
    if let Some(telemetry) = telemetry {
        let stats = telemetry
            .with_shutdown_grace(std::time::Duration::from_secs(30))
            .shutdown();
        eprintln!("{stats:?}");
    }
    if let Some(provider) = peer {
        let _ = provider.shutdown();
    }
    println!("SERVED {}", served.load(Ordering::Relaxed));
    Ok(())
}

/// The peer: `axum-tracing-opentelemetry` + `tracing-opentelemetry` + the same
/// Application Insights exporter behind the SDK's batch processor (the usual set-up).
mod peer {
    use std::io::{Read, Write};

    use opencensus_settings::opentelemetry::global;
    use opencensus_settings::opentelemetry::trace::TracerProvider as _;
    use opencensus_settings::opentelemetry_sdk::propagation::TraceContextPropagator;
    use opencensus_settings::opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
    use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
    use tracing_subscriber::prelude::*;

    /// A minimal blocking HTTP/1.1 client: the batch processor runs exports with `block_on` on
    /// its own thread, where an async client has no reactor.
    #[derive(Debug)]
    struct Blocking;

    #[async_trait::async_trait]
    impl HttpClient for Blocking {
        async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
            let uri = request.uri().clone();
            let authority = uri.authority().ok_or("no authority")?.as_str().to_string();
            let mut stream = std::net::TcpStream::connect(&authority)?;
            let body = request.body();
            let mut head = format!(
                "POST {} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-length: {}\r\n",
                uri.path(),
                body.len()
            );
            for (k, v) in request.headers() {
                head.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap_or_default()));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes())?;
            stream.write_all(body)?;
            // `connection: close`: end our side so the server sees the end of the request.
            stream.shutdown(std::net::Shutdown::Write)?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response)?;
            let text = String::from_utf8_lossy(&response);
            let status: u16 = text
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(500);
            let body = text
                .split("\r\n\r\n")
                .nth(1)
                .unwrap_or_default()
                .to_string();
            Ok(Response::builder().status(status).body(Bytes::from(body))?)
        }
    }

    pub(crate) fn install(
        sink: &str,
    ) -> Result<SdkTracerProvider, Box<dyn std::error::Error + Send + Sync>> {
        #[allow(deprecated)]
        let exporter = opentelemetry_application_insights::Exporter::new_from_connection_string(
            format!("InstrumentationKey={}", super::IKEY),
            Blocking,
        )?
        .with_endpoint(sink)?;
        let provider = SdkTracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::builder(exporter).build())
            .build();
        global::set_text_map_propagator(TraceContextPropagator::new());
        global::set_tracer_provider(provider.clone());
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("peer"));
        tracing_subscriber::registry().with(layer).init();
        Ok(provider)
    }
}
