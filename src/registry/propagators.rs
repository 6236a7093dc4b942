//! Propagators: W3C trace context (default), W3C baggage, a composite of several; B3 and Google
//! Cloud formats come with the middleware.

use std::sync::Arc;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use super::{ComponentKind, Factory, Registry};
use crate::settings::standard::COMPOSITE;

pub(crate) fn register(r: &mut Registry) {
    r.add_builtin(
        "opencensus.trace.propagation.trace_context_http_header_format.TraceContextPropagator",
        &[],
        Factory::Propagator(Arc::new(|_| Ok(Box::new(TraceContextPropagator::new())))),
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
    r.add_builtin_params(
        "opencensus.trace.propagation.b3_format.B3FormatPropagator",
        Vec::new(),
        Factory::Unavailable(
            ComponentKind::Propagator,
            "the B3 propagator is not implemented yet",
        ),
    );
    r.add_builtin_params(
        "opencensus.trace.propagation.google_cloud_format.GoogleCloudFormatPropagator",
        Vec::new(),
        Factory::Unavailable(
            ComponentKind::Propagator,
            "the Google Cloud propagator is not implemented yet",
        ),
    );
}
