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
        // The floor of a tracer, hand-made: what any tracer must do at least.
        "floor" => router.layer(floor::Layer::start(&sink)?),
        // The floor of an untraced request that carries a trace: the incoming `traceparent`
        // handed to the handler as an OpenTelemetry context, nothing recorded.
        "floor_context" => router.layer(floor::ContextLayer),
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
    floor::join();
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

/// The floor of a request tracer, hand-made: per request the incoming `traceparent` parsed,
/// three clock reads, a span id (and a trace id without `traceparent`), a copy of the path, the
/// handler run in the request span's context (an OpenTelemetry `Context`, so that its spans
/// nest, as the issue requires), and one record put on a bounded queue. The export thread, woken once a batch, writes a minimal request envelope
/// for each (12 fields, about 400 bytes of JSON; its time and duration are plain numbers,
/// cheaper than the formatted ones a real envelope needs) and posts batches of 512 to the sink
/// over one kept-alive connection. It keeps no attribute, runs no sampler or span processor,
/// validates nothing and retries nothing: a tracer that must do those costs more.
mod floor {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant, SystemTime};

    use opencensus_settings::opentelemetry::context::{FutureExt as _, WithContext};
    use opencensus_settings::opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };

    struct Record {
        trace: [u8; 16],
        parent: [u8; 8],
        id: u64,
        unix_us: u64,
        duration_ns: u64,
        path: String,
        status: u16,
    }

    /// The export thread, joined after the server stops (it posts what is left first).
    static EXPORT: std::sync::Mutex<Option<std::thread::JoinHandle<()>>> =
        std::sync::Mutex::new(None);

    /// Waits for the export thread once every sender is gone.
    pub(crate) fn join() {
        let join = EXPORT.lock().ok().and_then(|mut slot| slot.take());
        if let Some(join) = join {
            join.thread().unpark();
            let _ = join.join();
        }
    }

    /// A bounded queue; the export thread is woken when a batch is full (else once a second),
    /// never for each record.
    struct Queue {
        tx: SyncSender<Record>,
        pending: AtomicUsize,
        thread: std::thread::Thread,
    }

    #[derive(Clone)]
    pub(crate) struct Layer(Arc<Queue>);

    impl Layer {
        pub(crate) fn start(sink: &str) -> Result<Self, std::io::Error> {
            let (tx, rx) = sync_channel(65536);
            let authority = sink.trim_start_matches("http://").to_string();
            let (ready_tx, ready_rx) = sync_channel::<Arc<Queue>>(1);
            let join = std::thread::Builder::new()
                .name("opencensus-floor".into())
                .spawn(move || {
                    if let Ok(queue) = ready_rx.recv() {
                        export(rx, &queue, &authority);
                    }
                })?;
            let queue = Arc::new(Queue {
                tx,
                pending: AtomicUsize::new(0),
                thread: join.thread().clone(),
            });
            let _ = ready_tx.send(queue.clone());
            if let Ok(mut slot) = EXPORT.lock() {
                *slot = Some(join);
            }
            Ok(Layer(queue))
        }
    }

    impl<S> tower::Layer<S> for Layer {
        type Service = Service<S>;
        fn layer(&self, inner: S) -> Self::Service {
            Service {
                inner,
                queue: self.0.clone(),
            }
        }
    }

    #[derive(Clone)]
    pub(crate) struct Service<S> {
        inner: S,
        queue: Arc<Queue>,
    }

    fn hex(b: u8) -> u8 {
        match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => 0,
        }
    }

    /// The incoming `traceparent`'s trace id, parent span id and flags (the shape is trusted:
    /// the load generator sends a valid one).
    fn traceparent(req: &axum::extract::Request) -> Option<([u8; 16], [u8; 8], u8)> {
        let tp = req.headers().get("traceparent")?.as_bytes();
        if tp.len() != 55 {
            return None;
        }
        let mut trace = [0u8; 16];
        let mut span = [0u8; 8];
        decode(&tp[3..35], &mut trace);
        decode(&tp[36..52], &mut span);
        Some((trace, span, (hex(tp[53]) << 4) | hex(tp[54])))
    }

    fn decode(text: &[u8], out: &mut [u8]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = (hex(text[2 * i]) << 4) | hex(text[2 * i + 1]);
        }
    }

    thread_local! {
        static RNG: std::cell::Cell<u64> = const { std::cell::Cell::new(0x9E37_79B9_7F4A_7C15) };
    }

    fn next_id() -> u64 {
        RNG.with(|r| {
            let mut x = r.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            r.set(x);
            x
        })
    }

    impl<S> tower::Service<axum::extract::Request> for Service<S>
    where
        S: tower::Service<axum::extract::Request, Response = axum::response::Response>,
    {
        type Response = S::Response;
        type Error = S::Error;
        type Future = Future<WithContext<S::Future>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, req: axum::extract::Request) -> Self::Future {
            let (trace, parent) = match traceparent(&req) {
                Some((trace, parent, _)) => (trace, parent),
                None => {
                    let mut trace = [0u8; 16];
                    trace[..8].copy_from_slice(&next_id().to_le_bytes());
                    trace[8..].copy_from_slice(&next_id().to_le_bytes());
                    (trace, [0u8; 8])
                }
            };
            let unix_us = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_micros() as u64)
                .unwrap_or(0);
            let id = next_id();
            let record = Record {
                trace,
                parent,
                id,
                unix_us,
                duration_ns: 0,
                path: req.uri().path().to_owned(),
                status: 0,
            };
            // The handler runs in the request span's context, so that its own spans nest
            // under the request (what the issue requires of any tracer).
            let span = SpanContext::new(
                TraceId::from_bytes(trace),
                SpanId::from_bytes(id.to_be_bytes()),
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            );
            let cx = opencensus_settings::opentelemetry::Context::current()
                .with_remote_span_context(span);
            Future {
                inner: self.inner.call(req).with_context(cx),
                started: Instant::now(),
                record: Some(record),
                queue: self.queue.clone(),
            }
        }
    }

    pin_project_lite::pin_project! {
        pub(crate) struct Future<F> {
            #[pin]
            inner: F,
            started: Instant,
            record: Option<Record>,
            queue: Arc<Queue>,
        }
    }

    impl<F, E> std::future::Future for Future<F>
    where
        F: std::future::Future<Output = Result<axum::response::Response, E>>,
    {
        type Output = F::Output;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.project();
            let out = std::task::ready!(this.inner.poll(cx));
            if let Some(mut record) = this.record.take() {
                record.duration_ns = this.started.elapsed().as_nanos() as u64;
                record.status = out.as_ref().map(|r| r.status().as_u16()).unwrap_or(500);
                let queue = &**this.queue;
                // Counted before it is sent, so the export thread never takes away more than
                // was counted.
                let pending = queue.pending.fetch_add(1, Ordering::Relaxed) + 1;
                if queue.tx.try_send(record).is_err() {
                    queue.pending.fetch_sub(1, Ordering::Relaxed);
                } else if pending == BATCH {
                    queue.thread.unpark();
                }
            }
            Poll::Ready(out)
        }
    }

    /// What an excluded or sampled-out request must do at least: the incoming `traceparent`
    /// parsed and its trace made the handler's context (attached whenever the handler runs), so
    /// that the handler's own spans and outgoing calls carry it.
    #[derive(Clone)]
    pub(crate) struct ContextLayer;

    impl<S> tower::Layer<S> for ContextLayer {
        type Service = ContextService<S>;
        fn layer(&self, inner: S) -> Self::Service {
            ContextService(inner)
        }
    }

    #[derive(Clone)]
    pub(crate) struct ContextService<S>(S);

    impl<S> tower::Service<axum::extract::Request> for ContextService<S>
    where
        S: tower::Service<axum::extract::Request, Response = axum::response::Response>,
    {
        type Response = S::Response;
        type Error = S::Error;
        type Future = WithContext<S::Future>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.0.poll_ready(cx)
        }

        fn call(&mut self, req: axum::extract::Request) -> Self::Future {
            let parent = traceparent(&req).map(|(trace, span, flags)| {
                SpanContext::new(
                    TraceId::from_bytes(trace),
                    SpanId::from_bytes(span),
                    TraceFlags::new(flags),
                    true,
                    TraceState::NONE,
                )
            });
            let cx = match parent {
                Some(sc) => opencensus_settings::opentelemetry::Context::current()
                    .with_remote_span_context(sc),
                None => opencensus_settings::opentelemetry::Context::current(),
            };
            self.0.call(req).with_context(cx)
        }
    }

    fn put_hex(out: &mut Vec<u8>, bytes: &[u8]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for b in bytes {
            out.push(DIGITS[(b >> 4) as usize]);
            out.push(DIGITS[(b & 15) as usize]);
        }
    }

    fn envelope(out: &mut Vec<u8>, r: &Record) {
        let mut n = itoa::Buffer::new();
        out.extend_from_slice(b"{\"name\":\"Microsoft.ApplicationInsights.Request\",\"time\":\"");
        out.extend_from_slice(n.format(r.unix_us).as_bytes());
        out.extend_from_slice(b"\",\"iKey\":\"");
        out.extend_from_slice(super::IKEY.as_bytes());
        out.extend_from_slice(b"\",\"tags\":{\"ai.operation.id\":\"");
        put_hex(out, &r.trace);
        out.extend_from_slice(b"\",\"ai.operation.parentId\":\"");
        put_hex(out, &r.parent);
        out.extend_from_slice(b"\",\"ai.operation.name\":\"GET ");
        out.extend_from_slice(r.path.as_bytes());
        out.extend_from_slice(
            b"\"},\"data\":{\"baseType\":\"RequestData\",\"baseData\":{\"ver\":2,\"id\":\"",
        );
        put_hex(out, &r.id.to_be_bytes());
        out.extend_from_slice(b"\",\"name\":\"GET ");
        out.extend_from_slice(r.path.as_bytes());
        out.extend_from_slice(b"\",\"duration\":\"");
        out.extend_from_slice(n.format(r.duration_ns).as_bytes());
        out.extend_from_slice(b"\",\"responseCode\":\"");
        out.extend_from_slice(n.format(r.status).as_bytes());
        out.extend_from_slice(b"\",\"success\":true,\"url\":\"http://127.0.0.1");
        out.extend_from_slice(r.path.as_bytes());
        out.extend_from_slice(b"\",\"properties\":{\"service.name\":\"bench\"}}}}");
    }

    const BATCH: usize = 512;

    fn export(rx: Receiver<Record>, queue: &Arc<Queue>, authority: &str) {
        let mut body = Vec::with_capacity(BATCH * 512);
        let mut conn: Option<BufReader<std::net::TcpStream>> = None;
        loop {
            std::thread::park_timeout(Duration::from_secs(1));
            // Only this thread's reference left: every layer is gone, the server stopped. The
            // fence orders what the layers sent before they let go, before the drain below.
            let last = Arc::strong_count(queue) == 1;
            if last {
                std::sync::atomic::fence(Ordering::Acquire);
            }
            loop {
                let mut n = 0;
                while n < BATCH {
                    match rx.try_recv() {
                        Ok(record) => {
                            body.push(if n == 0 { b'[' } else { b',' });
                            envelope(&mut body, &record);
                            n += 1;
                        }
                        Err(_) => break,
                    }
                }
                if n == 0 {
                    break;
                }
                queue.pending.fetch_sub(n, Ordering::Relaxed);
                body.push(b']');
                if post(&mut conn, authority, &body).is_err() {
                    conn = None;
                }
                body.clear();
                if n < BATCH {
                    break;
                }
            }
            if last {
                return;
            }
        }
    }

    fn post(
        conn: &mut Option<BufReader<std::net::TcpStream>>,
        authority: &str,
        body: &[u8],
    ) -> std::io::Result<()> {
        if conn.is_none() {
            *conn = Some(BufReader::new(std::net::TcpStream::connect(authority)?));
        }
        let Some(reader) = conn.as_mut() else {
            return Ok(());
        };
        let head = format!(
            "POST /v2.1/track HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        reader.get_mut().write_all(head.as_bytes())?;
        reader.get_mut().write_all(body)?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut answer = vec![0u8; length];
        reader.read_exact(&mut answer)
    }
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
