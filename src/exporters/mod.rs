//! The built-in exporters, each as the factory the registry calls: OpenCensus's Print and File
//! exporters (with their `SyncTransport`/`AsyncTransport`), Azure Application Insights (feature
//! `azure`) and OTLP (feature `otlp`). They sit above the registry (they are its plugins) and
//! below `builtins`, which registers them; none knows the settings.

pub(crate) mod azure;
mod file;
pub(crate) mod otlp;
pub(crate) mod print;

use std::fs::OpenOptions;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use opentelemetry_sdk::trace::SpanExporter;

use crate::error::BoxError;
use crate::registry::{
    ArgError, Args, BuildContext, ComponentKind, ExporterComponent, Factory, Registry,
};
use file::FileExporter;
use print::{NoProcessor, PrintExporter};

pub(crate) const SYNC_TRANSPORT: &str = "opencensus.common.transports.sync.SyncTransport";
pub(crate) const ASYNC_TRANSPORT: &str = "opencensus.common.transports.async_.AsyncTransport";

fn transport_is_async(args: &Args<'_>) -> Result<bool, ArgError> {
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

/// Registers the Print and File exporters, their transports, and `NoExporter`.
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

    // Known whatever the features: without theirs, validated by `check` but not installable.
    azure::register(r);
    otlp::register(r);

    // OTEL_TRACES_EXPORTER=none: spans are sampled as configured and go nowhere.
    r.add_builtin(
        "opencensus_settings.exporters.NoExporter",
        &[],
        Factory::Exporter(Arc::new(|_| {
            Ok(ExporterComponent::processor(|_| Ok(NoProcessor)))
        })),
    );
}
