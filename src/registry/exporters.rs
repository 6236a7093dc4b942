//! Exporters: OpenCensus's Print and File exporters (with their transports), and the names of
//! those that come in their own features.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SimpleSpanProcessor, SpanData, SpanExporter, SpanProcessor};

use super::{ArgError, ComponentKind, Factory, Registry};
use crate::settings::Settings;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BuildFn = dyn FnOnce(&BuildContext<'_>) -> Result<Box<dyn SpanProcessor>, BoxError> + Send;

/// What an exporter's build step can see at install time.
#[derive(Debug)]
pub struct BuildContext<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) sample_rate: Option<f64>,
    pub(crate) counters: std::sync::Arc<crate::export_thread::ExportCounters>,
}

impl BuildContext<'_> {
    /// The effective settings (and, through [`Settings::env_var`], the environment).
    pub fn settings(&self) -> &Settings {
        self.settings
    }

    /// The configured sampler's rate, when it has one.
    pub fn sample_rate(&self) -> Option<f64> {
        self.sample_rate
    }

    /// The counters exporters report into (readable from the guard).
    pub fn counters(&self) -> std::sync::Arc<crate::export_thread::ExportCounters> {
        self.counters.clone()
    }
}

/// A configured exporter: its arguments are validated; the I/O (opening files, connecting)
/// happens in the build step, at install, never in `check`.
pub struct ExporterComponent {
    build: Box<BuildFn>,
    pub(crate) details: Vec<crate::resolve::ReportLine>,
}

impl fmt::Debug for ExporterComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExporterComponent { .. }")
    }
}

impl ExporterComponent {
    /// An exporter given as a span processor built at install.
    pub fn processor<F, P>(build: F) -> Self
    where
        F: FnOnce(&BuildContext<'_>) -> Result<P, BoxError> + Send + 'static,
        P: SpanProcessor + 'static,
    {
        ExporterComponent {
            build: Box::new(move |cx| Ok(Box::new(build(cx)?) as Box<dyn SpanProcessor>)),
            details: Vec::new(),
        }
    }

    /// Adds a line to the start-up report and `check` output (an effective endpoint, say).
    /// Never pass a secret.
    pub fn with_detail(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
        origin: impl Into<String>,
    ) -> Self {
        self.details.push(crate::resolve::ReportLine {
            key: key.into(),
            value: value.into(),
            origin: origin.into(),
        });
        self
    }

    /// An exporter that exports each span as it ends (OpenCensus's `SyncTransport`).
    pub fn simple<F, E>(build: F) -> Self
    where
        F: FnOnce(&BuildContext<'_>) -> Result<E, BoxError> + Send + 'static,
        E: SpanExporter + 'static,
    {
        Self::processor(move |cx| Ok(SimpleSpanProcessor::new(build(cx)?)))
    }

    /// An exporter fed in batches by our export thread (OpenCensus's `AsyncTransport`): a
    /// bounded queue whose drops are counted in [`Telemetry::export_stats`](crate::Telemetry::export_stats),
    /// batches of up to 512 spans at least every second, a current-thread Tokio runtime of its
    /// own for async exporters.
    pub fn batch<F, E>(build: F) -> Self
    where
        F: FnOnce(&BuildContext<'_>) -> Result<E, BoxError> + Send + 'static,
        E: SpanExporter + 'static,
    {
        Self::processor(move |cx| {
            let exporter = build(cx)?;
            Ok(crate::export_thread::ThreadProcessor::spawn(
                "exporter",
                exporter,
                crate::export_thread::ThreadConfig {
                    max_batch_size: 512,
                    export_interval: std::time::Duration::from_secs(1),
                    max_queue_size: crate::export_thread::QUEUE_SPANS,
                },
                cx.counters(),
                crate::export_thread::Hooks::default(),
            )?)
        })
    }

    pub(crate) fn build(self, cx: &BuildContext<'_>) -> Result<Box<dyn SpanProcessor>, BoxError> {
        (self.build)(cx)
    }
}

pub(crate) const SYNC_TRANSPORT: &str = "opencensus.common.transports.sync.SyncTransport";
pub(crate) const ASYNC_TRANSPORT: &str = "opencensus.common.transports.async_.AsyncTransport";

fn transport_is_async(args: &super::Args<'_>) -> Result<bool, ArgError> {
    Ok(args.reference("transport", ComponentKind::Transport)? == Some(ASYNC_TRANSPORT))
}

fn with_transport<E>(is_async: bool, exporter: E) -> ExporterComponent
where
    E: SpanExporter + 'static,
{
    if is_async {
        ExporterComponent::batch(move |_| Ok(exporter))
    } else {
        ExporterComponent::simple(move |_| Ok(exporter))
    }
}

pub(crate) fn register(r: &mut Registry) {
    r.add_builtin(SYNC_TRANSPORT, &[], Factory::Transport);
    r.add_builtin(ASYNC_TRANSPORT, &[], Factory::Transport);

    r.add_builtin(
        "opencensus.trace.print_exporter.PrintExporter",
        &["transport"],
        Factory::Exporter(Arc::new(|args| {
            let is_async = transport_is_async(args)?;
            Ok(with_transport(is_async, PrintExporter))
        })),
    );
    let _ = r.alias(
        "opencensus.trace.exporters.print_exporter.PrintExporter",
        "opencensus.trace.print_exporter.PrintExporter",
    );

    r.add_builtin(
        "opencensus.trace.file_exporter.FileExporter",
        &["file_name", "transport", "file_mode"],
        Factory::Exporter(Arc::new(|args| {
            let file_name = args.str("file_name")?.unwrap_or("opencensus-traces.json");
            if file_name.is_empty()
                && let Some(v) = args.get("file_name")
            {
                return Err(args.invalid("file_name", "a non-empty file name", v));
            }
            let append = match args.str("file_mode")?.unwrap_or("w+") {
                "w" | "w+" => false,
                "a" | "a+" => true,
                _ => {
                    let v = args.get("file_mode").map(|v| (*v).clone());
                    let mut err = ArgError::invalid(
                        "invalid value for keyword `file_mode` of FileExporter: expected 'w+', 'w', 'a' or 'a+'",
                    );
                    if let Some(v) = v {
                        err = err.at(v.span);
                    }
                    return Err(err.with_help("'w+' (the default) truncates the file once at start-up; 'a' appends"));
                }
            };
            let is_async = transport_is_async(args)?;
            let path = PathBuf::from(file_name);
            let build = move |_: &BuildContext<'_>| -> Result<FileExporter, BoxError> {
                let file = OpenOptions::new()
                    .create(true)
                    .write(true)
                    .append(append)
                    .truncate(!append)
                    .open(&path)
                    .map_err(|e| format!("cannot open {} for the FileExporter: {e}", path.display()))?;
                Ok(FileExporter {
                    path: path.clone(),
                    file: Mutex::new(BufWriter::new(file)),
                })
            };
            Ok(if is_async {
                ExporterComponent::batch(build)
            } else {
                ExporterComponent::simple(build)
            })
        })),
    );
    let _ = r.alias(
        "opencensus.trace.exporters.file_exporter.FileExporter",
        "opencensus.trace.file_exporter.FileExporter",
    );

    #[cfg(feature = "azure")]
    crate::azure::register(r);
    #[cfg(not(feature = "azure"))]
    r.add_builtin_params(
        "opencensus.ext.azure.trace_exporter.AzureExporter",
        Vec::new(),
        Factory::Unavailable(
            ComponentKind::Exporter,
            "build opencensus-settings with the `azure` feature",
        ),
    );
    #[cfg(feature = "otlp")]
    crate::otlp::register(r);
    #[cfg(not(feature = "otlp"))]
    for name in [
        "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter",
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter",
    ] {
        r.add_builtin_params(
            name,
            Vec::new(),
            Factory::Unavailable(
                ComponentKind::Exporter,
                "build opencensus-settings with the `otlp` feature",
            ),
        );
    }

    // OTEL_TRACES_EXPORTER=none: spans are sampled as configured and go nowhere.
    r.add_builtin(
        "opencensus_settings.exporters.NoExporter",
        &[],
        Factory::Exporter(Arc::new(|_| {
            Ok(ExporterComponent::processor(|_| Ok(NoProcessor)))
        })),
    );
}

/// Exports nothing (`OTEL_TRACES_EXPORTER=none`).
#[derive(Debug)]
struct NoProcessor;

impl SpanProcessor for NoProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}
    fn on_end(&self, _span: SpanData) {}
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// One line per span on stdout (OpenCensus's PrintExporter, made readable).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PrintExporter;

impl SpanExporter for PrintExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut out = String::new();
        for span in &batch {
            print_line(span, &mut out);
            out.push('\n');
        }
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        lock.write_all(out.as_bytes())
            .and_then(|()| lock.flush())
            .map_err(|e| OTelSdkError::InternalFailure(format!("PrintExporter: {e}")))
    }
}

/// One JSON object per line in a file.
pub(crate) struct FileExporter {
    path: PathBuf,
    file: Mutex<BufWriter<File>>,
}

impl fmt::Debug for FileExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileExporter")
            .field("path", &self.path)
            .finish()
    }
}

impl SpanExporter for FileExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut out = Vec::new();
        for span in &batch {
            // Serialising a serde_json::Value cannot fail.
            let _ = serde_json::to_writer(&mut out, &span_json(span));
            out.push(b'\n');
        }
        let mut file = self
            .file
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("FileExporter: lock poisoned".into()))?;
        file.write_all(&out)
            .and_then(|()| file.flush())
            .map_err(|e| {
                OTelSdkError::InternalFailure(format!("FileExporter {}: {e}", self.path.display()))
            })
    }

    fn force_flush(&self) -> OTelSdkResult {
        let mut file = self
            .file
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("FileExporter: lock poisoned".into()))?;
        file.flush()
            .map_err(|e| OTelSdkError::InternalFailure(format!("FileExporter: {e}")))
    }
}

fn kind_str(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

fn duration_ms(span: &SpanData) -> f64 {
    span.end_time
        .duration_since(span.start_time)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

fn print_value(v: &Value, out: &mut String) {
    use std::fmt::Write as _;
    match v {
        Value::String(s) => {
            let s = s.as_str();
            if s.is_empty() || s.contains([' ', '"', '=']) {
                let _ = write!(out, "{s:?}");
            } else {
                out.push_str(s);
            }
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

fn print_attrs(attrs: &[KeyValue], out: &mut String) {
    for kv in attrs {
        out.push(' ');
        out.push_str(kv.key.as_str());
        out.push('=');
        print_value(&kv.value, out);
    }
}

/// `span GET /users/{id} kind=server trace=... span=... parent=... status=unset duration=0.123ms attrs...`
pub(crate) fn print_line(span: &SpanData, out: &mut String) {
    use std::fmt::Write as _;
    let sc = &span.span_context;
    let _ = write!(
        out,
        "span {:?} kind={} trace={} span={}",
        span.name,
        kind_str(&span.span_kind),
        sc.trace_id(),
        sc.span_id()
    );
    if span.parent_span_id != opentelemetry::trace::SpanId::INVALID {
        let _ = write!(out, " parent={}", span.parent_span_id);
        if span.parent_span_is_remote {
            out.push_str("(remote)");
        }
    }
    match &span.status {
        Status::Unset => out.push_str(" status=unset"),
        Status::Ok => out.push_str(" status=ok"),
        Status::Error { description } => {
            let _ = write!(out, " status=error({description:?})");
        }
    }
    let _ = write!(out, " duration={:.3}ms", duration_ms(span));
    print_attrs(&span.attributes, out);
    for event in span.events.iter() {
        let _ = write!(out, " event={}", event.name);
        out.push('{');
        let mut inner = String::new();
        print_attrs(&event.attributes, &mut inner);
        out.push_str(inner.trim_start());
        out.push('}');
    }
}

fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::I64(i) => serde_json::Value::from(*i),
        Value::F64(f) => serde_json::Value::from(*f),
        Value::String(s) => serde_json::Value::from(s.as_str()),
        other => serde_json::Value::from(other.to_string()),
    }
}

fn json_attrs(attrs: &[KeyValue]) -> serde_json::Value {
    serde_json::Value::Object(
        attrs
            .iter()
            .map(|kv| (kv.key.as_str().to_string(), json_value(&kv.value)))
            .collect(),
    )
}

pub(crate) fn span_json(span: &SpanData) -> serde_json::Value {
    let sc = &span.span_context;
    let parent = (span.parent_span_id != opentelemetry::trace::SpanId::INVALID)
        .then(|| span.parent_span_id.to_string());
    let status = match &span.status {
        Status::Unset => serde_json::json!({"code": "unset"}),
        Status::Ok => serde_json::json!({"code": "ok"}),
        Status::Error { description } => {
            serde_json::json!({"code": "error", "description": description.as_ref()})
        }
    };
    serde_json::json!({
        "name": span.name.as_ref(),
        "kind": kind_str(&span.span_kind),
        "traceId": sc.trace_id().to_string(),
        "spanId": sc.span_id().to_string(),
        "parentSpanId": parent,
        "parentIsRemote": span.parent_span_is_remote,
        "sampled": sc.is_sampled(),
        "startTimeUnixNano": unix_nanos(span.start_time).to_string(),
        "endTimeUnixNano": unix_nanos(span.end_time).to_string(),
        "status": status,
        "attributes": json_attrs(&span.attributes),
        "events": span.events.iter().map(|e| serde_json::json!({
            "name": e.name.as_ref(),
            "timeUnixNano": unix_nanos(e.timestamp).to_string(),
            "attributes": json_attrs(&e.attributes),
        })).collect::<Vec<_>>(),
        "scope": span.instrumentation_scope.name(),
    })
}
