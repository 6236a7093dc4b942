//! The export thread: a span processor of our own with a bounded queue and public counters,
//! feeding an async exporter from a thread that owns a current-thread Tokio runtime. It works
//! whether the app has no runtime, a multi-thread one, a current-thread one or actix's, and
//! shutting down never waits on the app's runtime (so it cannot deadlock it).

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use tokio::sync::mpsc;

use crate::stats::{ExportCounters, count_late, count_panic};

// The span queue is std's bounded channel (lock-free when it has room, and a send never wakes
// the export thread by itself); control messages use Tokio's.

/// How the export thread batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ThreadConfig {
    pub(crate) max_batch_size: usize,
    pub(crate) export_interval: Duration,
    pub(crate) max_queue_size: usize,
}

/// The export queue's bound, in spans: at about 1-2 KiB a span, it keeps the memory a
/// saturated server spends on waiting telemetry near 16 MiB (measured: +18.6 MiB peak RSS at
/// full load); past it, producers wait for room (back-pressure) instead of losing spans.
pub(crate) const QUEUE_SPANS: usize = 8_192;

impl Default for ThreadConfig {
    /// What `ExporterComponent::batch` and the OTLP exporter use: batches of up to 512 spans,
    /// at least every second, a queue of [`QUEUE_SPANS`].
    fn default() -> Self {
        ThreadConfig {
            max_batch_size: 512,
            export_interval: Duration::from_secs(1),
            max_queue_size: QUEUE_SPANS,
        }
    }
}

/// How long a producer waits for room in a full queue before the span is dropped (counted).
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(100);

/// Batches in flight at most (each is a task on the export thread's runtime): beyond this the
/// thread waits for one to finish, and the queue absorbs the difference.
const MAX_PENDING_EXPORTS: usize = 64;

type Background = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
type ShutdownHook = Box<dyn Fn(std::time::Instant) + Send + Sync>;

/// Optional extras for the export thread.
#[derive(Default)]
pub(crate) struct Hooks {
    /// Runs on the export thread's runtime for as long as it lives (a storage drain, say).
    pub(crate) background: Option<Background>,
    /// Told the shutdown deadline before the last export (so sends stop in time).
    pub(crate) on_shutdown: Option<ShutdownHook>,
    /// Runs on the export thread after the last export, before the exporter shuts down.
    pub(crate) finish: Option<Background>,
}

enum Control {
    Flush(std::sync::mpsc::SyncSender<OTelSdkResult>),
    Shutdown(std::sync::mpsc::SyncSender<OTelSdkResult>),
    Resource(Resource),
}

/// What producers and the export thread share besides the queue itself.
struct Signal {
    /// Spans put in the queue and not yet taken (counted before the send, so never below
    /// the queue's real length).
    pending: AtomicUsize,
    /// Rung when `pending` reaches a full batch: the one wake-up per batch (a wake-up per span
    /// costs the server's core a context switch each).
    full: tokio::sync::Notify,
    /// Set at shutdown: later spans are counted as late.
    closed: AtomicBool,
    batch: usize,
}

/// The span processor that hands spans to the export thread.
pub(crate) struct ThreadProcessor {
    /// Boxed: a slot is a pointer, so the queue's ring stays small and cache-warm (a ring of
    /// 8,192 inline spans is 3 MiB, and every send missed the cache).
    spans: std::sync::mpsc::SyncSender<Box<SpanData>>,
    signal: Arc<Signal>,
    control: mpsc::UnboundedSender<Control>,
    counters: Arc<ExportCounters>,
    join: Mutex<Option<std::thread::JoinHandle<()>>>,
    on_shutdown: Option<ShutdownHook>,
    name: &'static str,
}

impl fmt::Debug for ThreadProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadProcessor")
            .field("exporter", &self.name)
            .field("counters", &self.counters.snapshot())
            .finish()
    }
}

/// The export thread's state: the exporter (shared with the export tasks) and the tasks.
struct Exports<E> {
    exporter: Arc<E>,
    tasks: tokio::task::JoinSet<()>,
    counters: Arc<ExportCounters>,
    max: usize,
}

impl<E: SpanExporter + 'static> Exports<E> {
    /// Starts exporting `batch` in chunks, each as a task; waits only when too many are pending.
    async fn start(&mut self, batch: &mut Vec<SpanData>) {
        while !batch.is_empty() {
            // A whole batch goes as it is (no span moved again); a longer one in chunks.
            let chunk: Vec<SpanData> = if batch.len() <= self.max {
                // The next batch is likely the size of this one.
                let n = batch.len();
                std::mem::replace(batch, Vec::with_capacity(n))
            } else {
                batch.drain(..self.max).collect()
            };
            while self.tasks.len() >= MAX_PENDING_EXPORTS {
                let _ = self.tasks.join_next().await;
            }
            let exporter = self.exporter.clone();
            let counters = self.counters.clone();
            self.tasks.spawn(async move {
                let n = chunk.len() as u64;
                match CatchUnwind::new(exporter.export(chunk)).await {
                    Ok(Ok(())) => {
                        counters.exported.fetch_add(n, Ordering::Relaxed);
                    }
                    Ok(Err(err)) => {
                        counters.failed.fetch_add(n, Ordering::Relaxed);
                        counters.set_last_error(err.to_string());
                    }
                    // Counted as exported (taken from the queue) and as dropped_panic.
                    Err(payload) => {
                        counters.exported.fetch_add(n, Ordering::Relaxed);
                        count_panic(&counters, n, payload.as_ref());
                    }
                }
            });
        }
    }

    /// Waits for every pending export.
    async fn settle(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    fn result(&self, failed_before: u64) -> OTelSdkResult {
        if self.counters.failed.load(Ordering::Relaxed) > failed_before {
            let last = self.counters.last_error();
            Err(OTelSdkError::InternalFailure(
                last.unwrap_or_else(|| "export failed".into()),
            ))
        } else {
            Ok(())
        }
    }

    async fn set_resource(&mut self, resource: &Resource) {
        self.settle().await;
        if let Some(exporter) = Arc::get_mut(&mut self.exporter) {
            exporter.set_resource(resource);
        }
    }
}

impl ThreadProcessor {
    /// Starts the export thread for `exporter`.
    pub(crate) fn spawn<E>(
        name: &'static str,
        exporter: E,
        config: ThreadConfig,
        counters: Arc<ExportCounters>,
        hooks: Hooks,
    ) -> std::io::Result<Self>
    where
        E: SpanExporter + 'static,
    {
        Self::spawn_built(name, move || Ok(exporter), config, counters, hooks)
            .map_err(std::io::Error::other)
    }

    /// Starts the export thread, building the exporter inside its runtime's context (exporters
    /// such as tonic's open their channel on the current runtime).
    pub(crate) fn spawn_built<E, F>(
        name: &'static str,
        make: F,
        config: ThreadConfig,
        counters: Arc<ExportCounters>,
        hooks: Hooks,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>>
    where
        E: SpanExporter + 'static,
        F: FnOnce() -> Result<E, Box<dyn std::error::Error + Send + Sync>>,
    {
        let (spans_tx, spans_rx) =
            std::sync::mpsc::sync_channel::<Box<SpanData>>(config.max_queue_size.max(1));
        let signal = Arc::new(Signal {
            pending: AtomicUsize::new(0),
            full: tokio::sync::Notify::new(),
            closed: AtomicBool::new(false),
            batch: config.max_batch_size.max(1),
        });
        let thread_signal = signal.clone();
        let (control_tx, mut control_rx) = mpsc::unbounded_channel::<Control>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let exporter = {
            let _entered = runtime.enter();
            make()?
        };
        let thread_counters = counters.clone();
        let background = hooks.background;
        let mut finish = hooks.finish;
        let join = std::thread::Builder::new()
            .name(format!("opencensus-{name}"))
            .spawn(move || {
                // Nothing the exporter does (its HTTP client included) is ever traced.
                let quiet = Context::new().with_telemetry_suppressed();
                let max = config.max_batch_size.max(1);
                let mut exports = Exports {
                    exporter: Arc::new(exporter),
                    tasks: tokio::task::JoinSet::new(),
                    counters: thread_counters,
                    max,
                };
                let signal = thread_signal;
                // Takes up to `limit` spans from the queue into `batch`.
                let take = |batch: &mut Vec<SpanData>, limit: usize| {
                    let mut taken = 0;
                    while taken < limit {
                        match spans_rx.try_recv() {
                            Ok(span) => {
                                batch.push(*span);
                                taken += 1;
                            }
                            Err(_) => break,
                        }
                    }
                    signal.pending.fetch_sub(taken, Ordering::Relaxed);
                };
                let shared = signal.clone();
                let work = async move {
                    if let Some(background) = background {
                        tokio::spawn(background);
                    }
                    let mut batch: Vec<SpanData> = Vec::with_capacity(max);
                    // A period of zero would panic (`export_interval=1e-12` is a valid float).
                    let period = config.export_interval.max(Duration::from_millis(1));
                    let mut tick =
                        tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tokio::select! {
                            biased;
                            control = control_rx.recv() => match control {
                                Some(Control::Resource(resource)) => exports.set_resource(&resource).await,
                                Some(Control::Flush(reply)) => {
                                    let failed = exports.counters.failed.load(Ordering::Relaxed);
                                    take(&mut batch, usize::MAX);
                                    exports.start(&mut batch).await;
                                    exports.settle().await;
                                    let _ = reply.send(exports.result(failed));
                                }
                                Some(Control::Shutdown(reply)) => {
                                    let failed = exports.counters.failed.load(Ordering::Relaxed);
                                    shared.closed.store(true, Ordering::SeqCst);
                                    take(&mut batch, usize::MAX);
                                    exports.start(&mut batch).await;
                                    exports.settle().await;
                                    if let Some(finish) = finish.take() {
                                        finish.await;
                                    }
                                    let shutdown = exports.exporter.shutdown();
                                    let _ = reply.send(exports.result(failed).and(shutdown));
                                    return;
                                }
                                None => return,
                            },
                            () = shared.full.notified() => {
                                // Whole batches only; a remainder waits for the next one or
                                // for the interval.
                                while shared.pending.load(Ordering::Relaxed) >= max {
                                    take(&mut batch, max);
                                    if batch.is_empty() {
                                        break;
                                    }
                                    exports.start(&mut batch).await;
                                }
                            }
                            _ = tick.tick() => {
                                take(&mut batch, usize::MAX);
                                exports.start(&mut batch).await;
                            }
                        }
                    }
                };
                runtime.block_on(work.with_context(quiet));
            })?;
        Ok(ThreadProcessor {
            spans: spans_tx,
            signal,
            control: control_tx,
            counters,
            join: Mutex::new(Some(join)),
            on_shutdown: hooks.on_shutdown,
            name,
        })
    }

    fn ask(
        &self,
        make: impl FnOnce(std::sync::mpsc::SyncSender<OTelSdkResult>) -> Control,
        timeout: Duration,
    ) -> OTelSdkResult {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        if self.control.send(make(tx)).is_err() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        match rx.recv_timeout(timeout) {
            Ok(result) => result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(
                OTelSdkError::InternalFailure("the export thread stopped".to_string()),
            ),
        }
    }
}

impl ThreadProcessor {
    /// Counts a span dropped at a full queue, and says so now (once a minute).
    fn dropped_queue_full(&self) {
        self.counters
            .dropped_queue_full
            .fetch_add(1, Ordering::Relaxed);
        crate::diag::report(
            crate::diag::Kind::QueueFull,
            "spans dropped: the export queue is full (the exporter falls behind the load); \
             they are counted as dropped_queue_full",
        );
    }

    /// One try to queue a span; rings the export thread when a batch is full.
    fn offer(
        &self,
        span: Box<SpanData>,
    ) -> Result<(), std::sync::mpsc::TrySendError<Box<SpanData>>> {
        let signal = &self.signal;
        let pending = signal.pending.fetch_add(1, Ordering::Relaxed) + 1;
        match self.spans.try_send(span) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
                if pending == signal.batch {
                    signal.full.notify_one();
                }
                Ok(())
            }
            Err(e) => {
                signal.pending.fetch_sub(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}

impl SpanProcessor for ThreadProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if self.signal.closed.load(Ordering::Relaxed) {
            return count_late(1);
        }
        let mut span = match self.offer(Box::new(span)) {
            Ok(()) => return,
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                return count_late(1);
            }
            Err(std::sync::mpsc::TrySendError::Full(span)) => span,
        };
        // The exporter fell behind and the queue (its memory bound) is full. On an async
        // runtime's thread (tokio, actix) the request must never wait for telemetry: drop and
        // count. A plain thread may wait a little for room; drop (counted) only if none comes.
        if tokio::runtime::Handle::try_current().is_ok() {
            self.dropped_queue_full();
            self.signal.full.notify_one();
            return;
        }
        self.counters
            .waited_queue_full
            .fetch_add(1, Ordering::Relaxed);
        self.signal.full.notify_one();
        let deadline = std::time::Instant::now() + QUEUE_FULL_WAIT;
        let mut pause = Duration::from_micros(20);
        loop {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(2));
            match self.offer(span) {
                Ok(()) => return,
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                    return count_late(1);
                }
                Err(std::sync::mpsc::TrySendError::Full(back)) => {
                    if std::time::Instant::now() >= deadline {
                        self.dropped_queue_full();
                        return;
                    }
                    span = back;
                }
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.ask(Control::Flush, Duration::from_secs(30))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        // Sends stop a little before the deadline, so what is left can be stored in time.
        if let Some(hook) = &self.on_shutdown {
            let margin = (timeout / 10).min(Duration::from_millis(500));
            hook(std::time::Instant::now() + timeout.saturating_sub(margin));
        }
        let result = self.ask(Control::Shutdown, timeout);
        if result.is_ok()
            && let Ok(mut join) = self.join.lock()
            && let Some(handle) = join.take()
        {
            let _ = handle.join();
        }
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        let _ = self.control.send(Control::Resource(resource.clone()));
    }
}

/// A future whose panic comes back as `Err(payload)` (what `futures`' `catch_unwind` does):
/// a panicking exporter must not take the export thread down with it. The inner future is
/// boxed (one allocation per batch), which keeps this free of `unsafe` pin projection.
pub(crate) struct CatchUnwind<F>(std::pin::Pin<Box<F>>);

impl<F: std::future::Future> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> Self {
        CatchUnwind(Box::pin(future))
    }
}

impl<F: std::future::Future> std::future::Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(payload) => std::task::Poll::Ready(Err(payload)),
        }
    }
}
