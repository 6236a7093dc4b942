//! OpenCensus's `FileExporter`: one JSON object per span and line.

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::Status;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::print::kind_str;

/// One JSON object per line in a file.
pub(crate) struct FileExporter {
    pub(super) path: PathBuf,
    pub(super) file: Mutex<BufWriter<File>>,
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
