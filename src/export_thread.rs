//! The export thread: a span processor of our own with a bounded queue and public counters,
//! feeding an async exporter from a thread that owns a current-thread Tokio runtime. It works
//! whether the app has no runtime, a multi-thread one, a current-thread one or actix's, and
//! shutting down never waits on the app's runtime (so it cannot deadlock it).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use tokio::sync::mpsc;

/// Counts of what happened to the spans handed to the export thread.
#[derive(Debug, Default)]
pub struct ExportCounters {
    pub(crate) queued: AtomicU64,
    pub(crate) exported: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
}

/// A snapshot of [`ExportCounters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExportStats {
    /// Spans accepted into the queue.
    pub queued: u64,
    /// Spans whose batch the exporter reported as sent.
    pub exported: u64,
    /// Spans whose batch failed to export (after the exporter's own retries).
    pub failed: u64,
    /// Spans dropped because the queue was full.
    pub dropped_queue_full: u64,
}

impl ExportCounters {
    /// The counts now.
    pub fn snapshot(&self) -> ExportStats {
        ExportStats {
            queued: self.queued.load(Ordering::Relaxed),
            exported: self.exported.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
        }
    }

    /// The last export error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }
}

/// How the export thread batches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ThreadConfig {
    pub(crate) max_batch_size: usize,
    pub(crate) export_interval: Duration,
    pub(crate) max_queue_size: usize,
}

enum Control {
    Flush(std::sync::mpsc::SyncSender<OTelSdkResult>),
    Shutdown(std::sync::mpsc::SyncSender<OTelSdkResult>),
    Resource(Resource),
}

/// The span processor that hands spans to the export thread.
pub(crate) struct ThreadProcessor {
    spans: mpsc::Sender<SpanData>,
    control: mpsc::UnboundedSender<Control>,
    counters: Arc<ExportCounters>,
    join: Mutex<Option<std::thread::JoinHandle<()>>>,
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

impl ThreadProcessor {
    /// Starts the export thread for `exporter`.
    pub(crate) fn spawn<E>(
        name: &'static str,
        mut exporter: E,
        config: ThreadConfig,
        counters: Arc<ExportCounters>,
    ) -> std::io::Result<Self>
    where
        E: SpanExporter + 'static,
    {
        let (spans_tx, mut spans_rx) = mpsc::channel::<SpanData>(config.max_queue_size.max(1));
        let (control_tx, mut control_rx) = mpsc::unbounded_channel::<Control>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread_counters = counters.clone();
        let join = std::thread::Builder::new()
            .name(format!("opencensus-{name}"))
            .spawn(move || {
                let counters = thread_counters;
                // Nothing the exporter does (its HTTP client included) is ever traced.
                let quiet = Context::new().with_telemetry_suppressed();
                let work = async move {
                    let max = config.max_batch_size.max(1);
                    let mut batch: Vec<SpanData> = Vec::with_capacity(max);
                    let mut deadline: Option<tokio::time::Instant> = None;
                    loop {
                        let sleep = async {
                            match deadline {
                                Some(d) => tokio::time::sleep_until(d).await,
                                None => std::future::pending::<()>().await,
                            }
                        };
                        tokio::select! {
                            biased;
                            control = control_rx.recv() => match control {
                                Some(Control::Resource(resource)) => exporter.set_resource(&resource),
                                Some(Control::Flush(reply)) => {
                                    while let Ok(span) = spans_rx.try_recv() {
                                        batch.push(span);
                                    }
                                    let result = export_all(&exporter, &mut batch, max, &counters).await;
                                    deadline = None;
                                    let _ = reply.send(result);
                                }
                                Some(Control::Shutdown(reply)) => {
                                    spans_rx.close();
                                    while let Ok(span) = spans_rx.try_recv() {
                                        batch.push(span);
                                    }
                                    let result = export_all(&exporter, &mut batch, max, &counters).await;
                                    let shutdown = exporter.shutdown();
                                    let _ = reply.send(result.and(shutdown));
                                    return;
                                }
                                None => return,
                            },
                            span = spans_rx.recv() => match span {
                                Some(span) => {
                                    batch.push(span);
                                    if batch.len() >= max {
                                        let _ = export_all(&exporter, &mut batch, max, &counters).await;
                                        deadline = None;
                                    } else if deadline.is_none() {
                                        deadline = Some(tokio::time::Instant::now() + config.export_interval);
                                    }
                                }
                                None => return,
                            },
                            () = sleep => {
                                let _ = export_all(&exporter, &mut batch, max, &counters).await;
                                deadline = None;
                            }
                        }
                    }
                };
                runtime.block_on(work.with_context(quiet));
            })?;
        Ok(ThreadProcessor {
            spans: spans_tx,
            control: control_tx,
            counters,
            join: Mutex::new(Some(join)),
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

async fn export_all<E: SpanExporter>(
    exporter: &E,
    batch: &mut Vec<SpanData>,
    max: usize,
    counters: &ExportCounters,
) -> OTelSdkResult {
    let mut result = Ok(());
    while !batch.is_empty() {
        let take = batch.len().min(max);
        let chunk: Vec<SpanData> = batch.drain(..take).collect();
        let n = chunk.len() as u64;
        match exporter.export(chunk).await {
            Ok(()) => {
                counters.exported.fetch_add(n, Ordering::Relaxed);
            }
            Err(err) => {
                counters.failed.fetch_add(n, Ordering::Relaxed);
                if let Ok(mut last) = counters.last_error.lock() {
                    *last = Some(err.to_string());
                }
                result = Err(err);
            }
        }
    }
    result
}

impl SpanProcessor for ThreadProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        match self.spans.try_send(span) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.counters
                    .dropped_queue_full
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => crate::install::count_late(1),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.ask(Control::Flush, Duration::from_secs(30))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
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
