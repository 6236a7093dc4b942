//! Propagators: W3C trace context (default, strict), B3, Google Cloud, W3C baggage, and a
//! composite of several.

use std::sync::Arc;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry_sdk::propagation::BaggagePropagator;

use crate::propagation::{B3Inject, B3Propagator, GoogleCloudPropagator, TraceContextPropagator};

use super::{ArgError, Factory, Registry};
use crate::settings::standard::COMPOSITE;

pub(crate) fn register(r: &mut Registry) {
    r.add_builtin(
        "opencensus.trace.propagation.trace_context_http_header_format.TraceContextPropagator",
        &[],
        Factory::Propagator(Arc::new(|_| Ok(Box::new(TraceContextPropagator)))),
    );
    r.add_builtin(
        "opentelemetry.baggage.propagation.W3CBaggagePropagator",
        &[],
        Factory::Propagator(Arc::new(|_| Ok(Box::new(BaggagePropagator::new())))),
    );
    r.add_builtin(
        COMPOSITE,
        &["propagators"],
        Factory::Propagator(Arc::new(|args| {
            let list = args.propagators("propagators")?.unwrap_or_default();
            Ok(Box::new(TextMapCompositePropagator::new(list)))
        })),
    );
    r.add_builtin(
        "opencensus.trace.propagation.b3_format.B3FormatPropagator",
        &["inject"],
        Factory::Propagator(Arc::new(|args| {
            let inject = match args.str("inject")?.unwrap_or("multi") {
                "multi" => B3Inject::Multi,
                "single" => B3Inject::Single,
                _ => {
                    let v = args.get("inject").map(|v| v.span.clone()).unwrap_or(args.call_span());
                    return Err(ArgError::invalid(
                        "invalid value for keyword `inject` of B3FormatPropagator: expected 'multi' or 'single'",
                    )
                    .at(v)
                    .with_help("'multi' (the default) writes X-B3-TraceId/SpanId/Sampled; 'single' writes one `b3` header"));
                }
            };
            Ok(Box::new(B3Propagator::new(inject)))
        })),
    );
    r.add_builtin(
        "opencensus.trace.propagation.google_cloud_format.GoogleCloudFormatPropagator",
        &[],
        Factory::Propagator(Arc::new(|_| Ok(Box::new(GoogleCloudPropagator)))),
    );
}
