//! The built-in components, registered into the default [`Registry`]: OpenCensus's samplers
//! (with OpenCensus's decision rule) and the OpenTelemetry ones `OTEL_TRACES_SAMPLER` names,
//! the propagators, and the exporters of `exporters/`. The registry itself knows none of them.

use std::sync::Arc;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry_sdk::propagation::BaggagePropagator;
use opentelemetry_sdk::trace::Sampler;

use crate::propagation::{B3Inject, B3Propagator, GoogleCloudPropagator, TraceContextPropagator};
use crate::registry::{ArgError, Factory, Registry, SamplerComponent};
use crate::samplers::otel::{ConsistentProbability, ParentBasedWith};
use crate::samplers::{Always, ApplicationInsightsSampler, ProbabilitySampler, RateLimitedSampler};

/// The prefix of the OpenTelemetry samplers' names (what `OTEL_TRACES_SAMPLER` maps to).
pub(crate) const SAMPLING: &str = "opentelemetry.sdk.trace.sampling";
/// Microsoft's fixed-percentage sampler, by its Python path.
pub(crate) const AI_SAMPLER: &str =
    "azure.monitor.opentelemetry.exporter.ApplicationInsightsSampler";
/// Microsoft's rate-limited sampler, by its Python path.
pub(crate) const RATE_LIMITED_SAMPLER: &str =
    "azure.monitor.opentelemetry.exporter.RateLimitedSampler";

/// The consistent probability sampler of OpenTelemetry's composable samplers.
pub(crate) const CONSISTENT_PROBABILITY: &str =
    "opentelemetry.sdk.trace.sampling.ConsistentProbabilityBased";

/// The composite propagator's name (what `OTEL_PROPAGATORS` with several values maps to).
pub(crate) const COMPOSITE: &str = "opentelemetry.propagators.composite.CompositePropagator";

impl Default for Registry {
    /// The built-in components: OpenCensus's and OpenTelemetry's samplers, the propagators,
    /// and the exporters this build has (those it lacks are known, and say which feature
    /// they need).
    fn default() -> Self {
        let mut r = Registry::empty();
        register_samplers(&mut r);
        crate::exporters::register(&mut r);
        register_propagators(&mut r);
        r
    }
}

fn register_samplers(r: &mut Registry) {
    let always_on = Factory::Sampler(Arc::new(|_| {
        Ok(SamplerComponent {
            sampler: Box::new(Always(true)),
            rate: Some(1.0),
        })
    }));
    let always_off = Factory::Sampler(Arc::new(|_| {
        Ok(SamplerComponent {
            sampler: Box::new(Always(false)),
            rate: Some(0.0),
        })
    }));
    let probability = Factory::Sampler(Arc::new(|args| {
        let rate = args.f64_in("rate", 0.0001, 0.0..=1.0)?;
        let sampler = ProbabilitySampler::new(rate)
            .ok_or_else(|| ArgError::invalid("rate must be in 0.0..=1.0").at(args.call_span()))?;
        Ok(SamplerComponent {
            sampler: Box::new(sampler),
            rate: Some(rate),
        })
    }));
    r.add_builtin("opencensus.trace.samplers.AlwaysOnSampler", &[], always_on);
    r.add_builtin(
        "opencensus.trace.samplers.AlwaysOffSampler",
        &[],
        always_off,
    );
    r.add_builtin(
        "opencensus.trace.samplers.ProbabilitySampler",
        &["rate"],
        probability,
    );
    for (alias, target) in [
        (
            "opencensus.trace.samplers.probability.ProbabilitySampler",
            "opencensus.trace.samplers.ProbabilitySampler",
        ),
        (
            "opencensus.trace.samplers.always_on.AlwaysOnSampler",
            "opencensus.trace.samplers.AlwaysOnSampler",
        ),
        (
            "opencensus.trace.samplers.always_off.AlwaysOffSampler",
            "opencensus.trace.samplers.AlwaysOffSampler",
        ),
    ] {
        let _ = r.alias(alias, target);
    }

    // Microsoft's samplers, decided as the Azure Monitor distros decide (SPEC 9).
    r.add_builtin(
        AI_SAMPLER,
        &["sampling_ratio"],
        Factory::Sampler(Arc::new(|args| {
            let ratio = args.f64_in("sampling_ratio", 1.0, 0.0..=1.0)?;
            let sampler = ApplicationInsightsSampler::new(ratio).ok_or_else(|| {
                ArgError::invalid("sampling_ratio must be in 0.0..=1.0").at(args.call_span())
            })?;
            Ok(SamplerComponent {
                sampler: Box::new(sampler),
                rate: Some(ratio),
            })
        })),
    );
    r.add_builtin(
        RATE_LIMITED_SAMPLER,
        &["traces_per_second"],
        Factory::Sampler(Arc::new(|args| {
            let limit = args.f64_in("traces_per_second", 5.0, 0.0..=1e9)?;
            let sampler = RateLimitedSampler::new(limit).ok_or_else(|| {
                ArgError::invalid("traces_per_second must be a number >= 0").at(args.call_span())
            })?;
            Ok(SamplerComponent {
                sampler: Box::new(sampler),
                // The percentage changes with the load: each span carries its own.
                rate: None,
            })
        })),
    );

    // OpenTelemetry's samplers, with their own semantics (what OTEL_TRACES_SAMPLER names).
    r.add_builtin(
        &format!("{SAMPLING}.ALWAYS_ON"),
        &[],
        Factory::Sampler(Arc::new(|_| {
            Ok(SamplerComponent {
                sampler: Box::new(Sampler::AlwaysOn),
                rate: Some(1.0),
            })
        })),
    );
    r.add_builtin(
        &format!("{SAMPLING}.ALWAYS_OFF"),
        &[],
        Factory::Sampler(Arc::new(|_| {
            Ok(SamplerComponent {
                sampler: Box::new(Sampler::AlwaysOff),
                rate: Some(0.0),
            })
        })),
    );
    r.add_builtin(
        &format!("{SAMPLING}.TraceIdRatioBased"),
        &["rate"],
        Factory::Sampler(Arc::new(|args| {
            let rate = args.f64_in("rate", 1.0, 0.0..=1.0)?;
            Ok(SamplerComponent {
                sampler: Box::new(Sampler::TraceIdRatioBased(rate)),
                rate: Some(rate),
            })
        })),
    );
    r.add_builtin(
        &format!("{SAMPLING}.ParentBased"),
        &[
            "root",
            "remote_parent_sampled",
            "remote_parent_not_sampled",
            "local_parent_sampled",
            "local_parent_not_sampled",
        ],
        Factory::Sampler(Arc::new(|args| {
            let root = args.sampler("root")?.ok_or_else(|| {
                ArgError::invalid("`ParentBased` needs `root=`, the sampler for root spans")
                    .at(args.call_span())
                    .with_help("e.g. ParentBased(root=TraceIdRatioBased(rate=0.5))")
            })?;
            let mut delegates = Vec::new();
            for name in [
                "remote_parent_sampled",
                "remote_parent_not_sampled",
                "local_parent_sampled",
                "local_parent_not_sampled",
            ] {
                delegates.push(args.sampler(name)?.map(|s| s.sampler));
            }
            if delegates.iter().all(Option::is_none) {
                return Ok(SamplerComponent {
                    sampler: Box::new(Sampler::ParentBased(root.sampler)),
                    rate: root.rate,
                });
            }
            let mut it = delegates.into_iter();
            let mut next = |default: bool| -> Box<dyn opentelemetry_sdk::trace::ShouldSample> {
                it.next().flatten().unwrap_or_else(|| {
                    Box::new(if default {
                        Sampler::AlwaysOn
                    } else {
                        Sampler::AlwaysOff
                    })
                })
            };
            let remote_sampled = next(true);
            let remote_not_sampled = next(false);
            let local_sampled = next(true);
            let local_not_sampled = next(false);
            Ok(SamplerComponent {
                sampler: Box::new(ParentBasedWith {
                    root: root.sampler,
                    remote_sampled,
                    remote_not_sampled,
                    local_sampled,
                    local_not_sampled,
                }),
                rate: root.rate,
            })
        })),
    );
    r.add_builtin(
        CONSISTENT_PROBABILITY,
        &["ratio"],
        Factory::Sampler(Arc::new(|args| {
            let ratio = args.f64_in("ratio", 1.0, 0.0..=1.0)?;
            let sampler = ConsistentProbability::new(ratio).ok_or_else(|| {
                ArgError::invalid("ratio must be in 0.0..=1.0").at(args.call_span())
            })?;
            Ok(SamplerComponent {
                sampler: Box::new(sampler),
                rate: Some(ratio),
            })
        })),
    );
}

fn register_propagators(r: &mut Registry) {
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
