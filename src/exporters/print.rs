//! OpenCensus's `PrintExporter`: one line per span on stdout (opentelemetry-stdout prints
//! multi-line blocks), and the exporter `OTEL_TRACES_EXPORTER=none` names.

use std::io::Write;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter, SpanProcessor};

/// Exports nothing (`OTEL_TRACES_EXPORTER=none`).
#[derive(Debug)]
pub(crate) struct NoProcessor;

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

pub(super) fn kind_str(kind: &SpanKind) -> &'static str {
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
