//! Trace-context propagation: strict parsers for the W3C, B3 and Google Cloud headers, and the
//! OpenTelemetry propagators built on them. A malformed header never fails a request: it starts
//! a fresh trace.

pub(crate) mod headers;

use std::str::FromStr;
use std::sync::LazyLock;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use headers::ParsedContext;

fn remote(parsed: &ParsedContext, state: TraceState) -> SpanContext {
    let flags = if parsed.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    SpanContext::new(
        TraceId::from_bytes(parsed.trace_id),
        SpanId::from_bytes(parsed.span_id),
        flags,
        true,
        state,
    )
}

fn current(cx: &Context) -> Option<ParsedContext> {
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| ParsedContext {
        trace_id: sc.trace_id().to_bytes(),
        span_id: sc.span_id().to_bytes(),
        sampled: sc.is_sampled(),
        flags: sc.trace_flags().to_u8(),
    })
}

static W3C_FIELDS: LazyLock<Vec<String>> =
    LazyLock::new(|| vec!["traceparent".into(), "tracestate".into()]);

/// W3C Trace Context (`traceparent` + `tracestate`), parsed strictly: exactly 2-32-16-2
/// lower-case hex digits, hex flags (bit 0 = sampled), no all-zero ids, version `ff` invalid.
/// The SDK's own propagator accepts malformed headers such as `00-1-2-01`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextPropagator;

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let Some(parsed) = current(cx) else {
            return;
        };
        let mut value = String::with_capacity(55);
        headers::format_traceparent(&parsed, &mut value);
        injector.set("traceparent", value);
        let span = cx.span();
        let state = span.span_context().trace_state().header();
        if !state.is_empty() {
            injector.set("tracestate", state);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some(parsed) = extractor
            .get("traceparent")
            .and_then(headers::parse_traceparent)
        else {
            return cx.clone();
        };
        let state = extractor
            .get_all("tracestate")
            .and_then(headers::parse_tracestate)
            .and_then(|s| TraceState::from_str(&s).ok())
            .unwrap_or_default();
        cx.with_remote_span_context(remote(&parsed, state))
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&W3C_FIELDS)
    }
}

/// Which B3 headers [`B3Propagator`] writes on outgoing calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum B3Inject {
    /// `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled` (OpenCensus's `B3FormatPropagator`).
    Multi,
    /// The single `b3` header.
    Single,
}

static B3_FIELDS: LazyLock<Vec<String>> = LazyLock::new(|| {
    [
        "b3",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-sampled",
        "x-b3-flags",
    ]
    .map(String::from)
    .to_vec()
});

/// Zipkin B3: reads the single `b3` header, else the `X-B3-*` headers (16-hex trace ids are
/// left-padded to 32; sampled for `1`, `d`, `true`).
#[derive(Debug, Clone, Copy)]
pub struct B3Propagator {
    inject: B3Inject,
}

impl B3Propagator {
    /// A B3 propagator writing `inject` headers.
    pub fn new(inject: B3Inject) -> Self {
        B3Propagator { inject }
    }
}

impl TextMapPropagator for B3Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let Some(parsed) = current(cx) else {
            return;
        };
        match self.inject {
            B3Inject::Single => {
                let mut value = String::with_capacity(52);
                headers::format_b3_single(&parsed, &mut value);
                injector.set("b3", value);
            }
            B3Inject::Multi => {
                let sc_trace = TraceId::from_bytes(parsed.trace_id);
                let sc_span = SpanId::from_bytes(parsed.span_id);
                injector.set("x-b3-traceid", sc_trace.to_string());
                injector.set("x-b3-spanid", sc_span.to_string());
                injector.set(
                    "x-b3-sampled",
                    if parsed.sampled { "1" } else { "0" }.to_string(),
                );
            }
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let parsed = match extractor.get("b3") {
            Some(single) => headers::parse_b3_single(single),
            None => headers::parse_b3_multi(
                extractor.get("x-b3-traceid"),
                extractor.get("x-b3-spanid"),
                extractor.get("x-b3-sampled"),
                extractor.get("x-b3-flags"),
            ),
        };
        match parsed {
            Some(b3) => {
                cx.with_remote_span_context(remote(&b3.to_context(), TraceState::default()))
            }
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&B3_FIELDS)
    }
}

static GOOGLE_FIELDS: LazyLock<Vec<String>> =
    LazyLock::new(|| vec!["x-cloud-trace-context".into()]);

/// Google Cloud's `X-Cloud-Trace-Context: TRACE/SPAN;o=N` (32-hex trace id, decimal span id,
/// `o=1` sampled).
#[derive(Debug, Clone, Copy, Default)]
pub struct GoogleCloudPropagator;

impl TextMapPropagator for GoogleCloudPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        if let Some(parsed) = current(cx) {
            let mut value = String::with_capacity(60);
            headers::format_google(&parsed, &mut value);
            injector.set("x-cloud-trace-context", value);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extractor
            .get("x-cloud-trace-context")
            .and_then(headers::parse_google)
        {
            Some(parsed) => cx.with_remote_span_context(remote(&parsed, TraceState::default())),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&GOOGLE_FIELDS)
    }
}
