//! SPEC 8: a panic inside an exporter (a user's own included) is caught, counted
//! (`dropped_panic`) and logged once; the export thread keeps running, and a span ended on the
//! request's thread never unwinds into the app.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use opencensus_settings::opentelemetry::trace::{Tracer, TracerProvider};
use opencensus_settings::opentelemetry_sdk::error::OTelSdkResult;
use opencensus_settings::opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opencensus_settings::registry::{ExporterComponent, Registry};
use opencensus_settings::{Settings, Telemetry};

/// Panics on its first export, then counts what it is given.
#[derive(Debug, Clone, Default)]
struct PanicsOnce {
    calls: Arc<AtomicUsize>,
    spans: Arc<AtomicUsize>,
}

impl SpanExporter for PanicsOnce {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("the exporter broke");
        }
        self.spans.fetch_add(batch.len(), Ordering::SeqCst);
        Ok(())
    }
}

fn telemetry(batched: bool, exporter: PanicsOnce) -> Telemetry {
    let mut registry = Registry::default();
    registry
        .register_exporter("test.PanicsOnce", Vec::<&str>::new(), move |_| {
            let e = exporter.clone();
            Ok(if batched {
                ExporterComponent::batch(move |_| Ok(e))
            } else {
                ExporterComponent::simple(move |_| Ok(e))
            })
        })
        .unwrap();
    opencensus_settings::build(
        Settings::default()
            .with_registry(registry)
            .with_sampler("AlwaysOnSampler()")
            .with_exporter("test.PanicsOnce()"),
    )
    .unwrap()
}

#[test]
fn a_panicking_batch_exporter_is_counted_and_the_export_thread_goes_on() {
    let exporter = PanicsOnce::default();
    let telemetry = telemetry(true, exporter.clone());
    let tracer = telemetry.tracer_provider().unwrap().tracer("t");
    for _ in 0..3 {
        tracer.in_span("first", |_| {});
    }
    telemetry.force_flush().unwrap();
    for _ in 0..2 {
        tracer.in_span("second", |_| {});
    }
    telemetry.force_flush().unwrap();
    let stats = telemetry.export_stats();
    assert_eq!(stats.dropped_panic, 3, "{stats:?}");
    assert_eq!(exporter.spans.load(Ordering::SeqCst), 2);
    assert_eq!(stats.dropped(), 3);
}

#[test]
fn a_panicking_sync_exporter_never_unwinds_into_the_app() {
    let exporter = PanicsOnce::default();
    let telemetry = telemetry(false, exporter.clone());
    let tracer = telemetry.tracer_provider().unwrap().tracer("t");
    tracer.in_span("first", |_| {});
    tracer.in_span("second", |_| {});
    let stats = telemetry.export_stats();
    assert_eq!(stats.dropped_panic, 1, "{stats:?}");
    assert_eq!(exporter.spans.load(Ordering::SeqCst), 1);
}
