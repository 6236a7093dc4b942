//! What an exporter factory returns ([`ExporterComponent`]: validated arguments, a build step
//! for install time) and what that build step sees ([`BuildContext`]).

use std::fmt;
use std::sync::Arc;

use opentelemetry_sdk::trace::{SimpleSpanProcessor, SpanExporter, SpanProcessor};

use crate::environment::Environment;
use crate::export_thread::{CatchUnwind, Hooks, ThreadConfig, ThreadProcessor};
use crate::report::ReportLine;
use crate::stats::ExportCounters;

use crate::error::BoxError;
type BuildFn = dyn FnOnce(&BuildContext<'_>) -> Result<Box<dyn SpanProcessor>, BoxError> + Send;

/// The span processor a configuration asked for (OpenTelemetry's file names one per exporter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Processing {
    /// Export each span as it ends.
    Simple,
    /// Batches, on our export thread, with these settings.
    Batch(ThreadConfig),
}

/// What an exporter's build step can see at install time.
#[derive(Debug)]
#[non_exhaustive]
pub struct BuildContext<'a> {
    pub(crate) environment: &'a Environment,
    pub(crate) sample_rate: Option<f64>,
    pub(crate) counters: Arc<ExportCounters>,
    pub(crate) processing: Option<Processing>,
}

impl BuildContext<'_> {
    /// The batching to use: the configuration's, else `default`.
    pub(crate) fn batching(&self, default: ThreadConfig) -> ThreadConfig {
        match self.processing {
            Some(Processing::Batch(config)) => config,
            _ => default,
        }
    }

    /// The configuration asked for a simple processor.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) fn simple(&self) -> bool {
        self.processing == Some(Processing::Simple)
    }

    /// The environment the settings were loaded from (read variables through it, never from
    /// the process, so a loader's explicit environment holds for exporters too).
    pub fn environment(&self) -> &Environment {
        self.environment
    }

    /// The configured sampler's rate, when it has one.
    pub fn sample_rate(&self) -> Option<f64> {
        self.sample_rate
    }

    /// The counters the built-in exporters report into (readable from the guard). An
    /// exporter of yours given as [`ExporterComponent::batch`] is counted by the export thread
    /// already; these counters are not for it to write.
    #[deprecated(
        note = "the counters are written by the export thread and the built-in exporters only; read them with `Telemetry::export_stats`"
    )]
    pub fn counters(&self) -> Arc<ExportCounters> {
        self.counters.clone()
    }

    /// The counters, for the built-in exporters.
    pub(crate) fn export_counters(&self) -> Arc<ExportCounters> {
        self.counters.clone()
    }
}

/// A configured exporter: its arguments are validated; the I/O (opening files, connecting)
/// happens in the build step, at install, never in `check`.
pub struct ExporterComponent {
    build: Box<BuildFn>,
    pub(crate) details: Vec<ReportLine>,
    /// The exporter writes a per-span sampling rate (`_MS.sampleRate`, Application Insights'
    /// `sampleRate`): the installer then marks the spans whose parent decided.
    pub(crate) per_span_rate: bool,
    /// The exporter names the service by the resource's `service.name` unless it was given a
    /// name of its own: the report then shows `ai.cloud.role` as the service name.
    pub(crate) role_from_service_name: bool,
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
            per_span_rate: false,
            role_from_service_name: false,
        }
    }

    /// A known exporter this build lacks, as `check` reports it once its arguments are valid;
    /// installing it is an error (never reached: install refuses it before).
    pub(crate) fn needs_feature(class: &str, feature: &'static str) -> Self {
        let class = class.to_string();
        ExporterComponent {
            build: Box::new(move |_| {
                Err(format!(
                    "{class} is not available in this build: build opencensus-settings with the `{feature}` feature"
                )
                .into())
            }),
            details: vec![ReportLine {
                key: "availability".into(),
                value: format!("valid; needs feature `{feature}` to run"),
                origin: "this build of opencensus-settings".into(),
            }],
            per_span_rate: false,
            role_from_service_name: false,
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
        let value: String = value.into();
        self.details.push(ReportLine {
            key: key.into(),
            // A URL's userinfo never reaches a report, whoever wrote the detail.
            value: crate::secret::redact_userinfo(&value).into_owned(),
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
        Self::processor(move |cx| {
            let inner = build(cx)?;
            Ok(SimpleSpanProcessor::new(Guarded {
                inner,
                counters: cx.export_counters(),
            }))
        })
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
            Ok(ThreadProcessor::spawn(
                "exporter",
                exporter,
                cx.batching(ThreadConfig::default()),
                cx.export_counters(),
                Hooks::default(),
            )?)
        })
    }

    pub(crate) fn build(self, cx: &BuildContext<'_>) -> Result<Box<dyn SpanProcessor>, BoxError> {
        (self.build)(cx)
    }
}

/// An exporter whose panics are caught and counted (`dropped_panic`), for the exporters that
/// run on the thread that ends the span (`SyncTransport`): a panicking exporter must never
/// take a request down with it.
#[derive(Debug)]
struct Guarded<E> {
    inner: E,
    counters: Arc<ExportCounters>,
}

impl<E: SpanExporter> SpanExporter for Guarded<E> {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        let n = batch.len() as u64;
        match CatchUnwind::new(self.inner.export(batch)).await {
            Ok(result) => result,
            Err(payload) => {
                crate::stats::count_panic(&self.counters, n, payload.as_ref());
                Ok(())
            }
        }
    }

    fn shutdown_with_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}
