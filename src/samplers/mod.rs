//! Samplers: OpenCensus's three (with OpenCensus's exact decision rule) and the OpenTelemetry
//! ones the standard `OTEL_TRACES_SAMPLER` values name.

mod microsoft;
pub(crate) mod otel;
pub(crate) mod rules;

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

pub use microsoft::{ApplicationInsightsSampler, RateLimitedSampler, djb2_score};

use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

/// OpenCensus's `ProbabilitySampler(rate)`, decided exactly as OpenCensus decides:
///
/// 1. a sampled parent (remote or local) is always sampled; an unsampled parent does not force
///    "drop", the rate decides;
/// 2. otherwise, with `low` the last 16 hex digits of the trace id as an unsigned 64-bit integer,
///    sample iff `low <= floor(rate * 2^64)`, compared exactly in integers (rate 1 samples all).
///
/// This differs from OpenTelemetry's `TraceIdRatioBased` on the threshold ids and at rate 0,
/// and from its parent-based form for unsampled parents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbabilitySampler {
    rate: f64,
    /// `None`: every trace id is sampled (rate 1).
    threshold: Option<u64>,
}

impl ProbabilitySampler {
    /// A sampler keeping `rate` of the traces; `None` unless `0 <= rate <= 1`.
    pub fn new(rate: f64) -> Option<Self> {
        if !(0.0..=1.0).contains(&rate) {
            return None;
        }
        Some(ProbabilitySampler {
            rate,
            threshold: threshold(rate),
        })
    }

    /// The configured rate.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The largest sampled `low` value (`None`: all are sampled).
    pub fn threshold(&self) -> Option<u64> {
        self.threshold
    }

    /// The decision for a root span (no sampled parent) of `trace_id`.
    pub fn samples_trace_id(&self, trace_id: TraceId) -> bool {
        let bytes = trace_id.to_bytes();
        let mut low = [0u8; 8];
        low.copy_from_slice(&bytes[8..]);
        let low = u64::from_be_bytes(low);
        match self.threshold {
            None => true,
            Some(t) => low <= t,
        }
    }
}

/// `floor(rate * 2^64)` exactly. Multiplying by a power of two is exact in f64, and an
/// integral f64 below 2^64 converts to u64 exactly; rate 1 is 2^64, which samples everything.
fn threshold(rate: f64) -> Option<u64> {
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    let scaled = (rate * TWO_POW_64).floor();
    if scaled >= TWO_POW_64 {
        None
    } else {
        Some(scaled as u64)
    }
}

/// A span's valid parent: where it is, and whether it was sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parent {
    pub(crate) remote: bool,
    pub(crate) sampled: bool,
}

/// The span's parent, when it has a valid one.
pub(crate) fn parent_of(parent: Option<&Context>) -> Option<Parent> {
    let cx = parent.filter(|cx| cx.has_active_span())?;
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| Parent {
        remote: sc.is_remote(),
        sampled: sc.is_sampled(),
    })
}

/// What a span's parent says: (valid and sampled, valid and local).
pub(crate) fn parent_state(parent: Option<&Context>) -> (bool, bool) {
    parent_of(parent).map_or((false, false), |p| (p.sampled, !p.remote))
}

fn parent_trace_state(parent: Option<&Context>) -> TraceState {
    parent
        .filter(|cx| cx.has_active_span())
        .map(|cx| cx.span().span_context().trace_state().clone())
        .unwrap_or_default()
}

fn result(decision: bool, parent: Option<&Context>) -> SamplingResult {
    SamplingResult {
        decision: if decision {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::Drop
        },
        attributes: Vec::new(),
        trace_state: parent_trace_state(parent),
    }
}

impl ShouldSample for ProbabilitySampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let (parent_sampled, _) = parent_state(parent_context);
        result(
            parent_sampled || self.samples_trace_id(trace_id),
            parent_context,
        )
    }
}

/// OpenCensus's `AlwaysOnSampler` / `AlwaysOffSampler`: the same decision whatever the parent
/// (`AlwaysOffSampler` drops even when the parent was sampled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Always(pub(crate) bool);

impl ShouldSample for Always {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        result(self.0, parent_context)
    }
}

/// The attribute that carries a span's own sampling percentage (Microsoft's exporters and
/// samplers use this name); the Application Insights writer reads it for `sampleRate`, and it
/// is never exported as a property.
pub(crate) const SAMPLE_RATE_KEY: &str = "_MS.sampleRate";

/// Wraps the configured sampler for exporters that write a per-span rate (SPEC 12). When a
/// sampled parent (remote or local) decided and the configured sampler would not have chosen
/// this trace on its own, the local rate does not describe how the span was chosen: it is
/// marked with a rate of 100 (it counts once). A trace the local sampler would have chosen
/// anyway keeps the local rate. For the trace-id samplers (ProbabilitySampler,
/// TraceIdRatioBased) the root decision is a function of the trace id, so a request and every
/// span inside it agree, with nothing carried between them.
#[derive(Debug, Clone)]
pub(crate) struct ParentDecided(pub(crate) Box<dyn ShouldSample>);

impl ShouldSample for ParentDecided {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let mut result =
            self.0
                .should_sample(parent_context, trace_id, name, span_kind, attributes, links);
        // A sampler that says its own rate (Microsoft's, the rule engine) has applied its
        // parent rules already; asking it again would also count a rate limiter's decision
        // twice.
        if result
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == SAMPLE_RATE_KEY)
        {
            return result;
        }
        let (parent_sampled, _) = parent_state(parent_context);
        if result.decision == SamplingDecision::RecordAndSample
            && parent_sampled
            && self
                .0
                .should_sample(None, trace_id, name, span_kind, attributes, links)
                .decision
                != SamplingDecision::RecordAndSample
        {
            result
                .attributes
                .push(KeyValue::new(SAMPLE_RATE_KEY, 100.0));
        }
        result
    }
}

/// The rates of recently kept traces, by trace id, for spans whose local parent was kept by a
/// sampler with a rate of its own (a rule's, a rate limiter's): they count as their parent
/// does. Bounded: the oldest are forgotten first (a child then counts once).
#[derive(Debug, Default)]
pub(crate) struct RecentRates(Mutex<(HashMap<TraceId, f64>, VecDeque<TraceId>)>);

/// Traces remembered at most.
const RECENT_RATES: usize = 4096;

impl RecentRates {
    pub(crate) fn put(&self, trace_id: TraceId, rate: f64) {
        let Ok(mut g) = self.0.lock() else { return };
        let (map, order) = &mut *g;
        if map.insert(trace_id, rate).is_none() {
            order.push_back(trace_id);
            if order.len() > RECENT_RATES
                && let Some(old) = order.pop_front()
            {
                map.remove(&old);
            }
        }
    }

    pub(crate) fn get(&self, trace_id: TraceId) -> Option<f64> {
        self.0.lock().ok()?.0.get(&trace_id).copied()
    }
}
