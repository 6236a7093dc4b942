//! What a reload may change while the app serves (SPEC 9): the sampler (with its rules) and
//! both exclusion lists, as one value swapped atomically. A request reads it with one atomic
//! load (`arc-swap`): no lock, no allocation.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use opentelemetry::trace::{Link, SpanId, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SamplingResult, ShouldSample};

use crate::exclude::{HostExcludeList, PathExcludeList};

/// The settings in force for new requests.
pub(crate) struct Live {
    pub(crate) sampler: Box<dyn ShouldSample>,
    pub(crate) exclude_paths: PathExcludeList,
    pub(crate) exclude_hostnames: HostExcludeList,
    /// The sampler reads request attributes (`SAMPLING_RULES`): spans start with them.
    pub(crate) attributes_at_start: bool,
}

impl fmt::Debug for Live {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Live")
            .field("exclude_paths", &self.exclude_paths)
            .field("exclude_hostnames", &self.exclude_hostnames)
            .field("attributes_at_start", &self.attributes_at_start)
            .finish_non_exhaustive()
    }
}

/// The shared, swappable [`Live`].
pub(crate) type LiveCell = Arc<ArcSwap<Live>>;

/// The installed sampler: whatever [`Live`] holds now.
#[derive(Clone)]
pub(crate) struct LiveSampler(pub(crate) LiveCell);

impl fmt::Debug for LiveSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LiveSampler")
    }
}

thread_local! {
    /// The decision the server middleware made for the one span it is starting on this thread
    /// with the installed provider (see [`start_decided`]).
    static DECIDED: Cell<Option<SamplingResult>> = const { Cell::new(None) };
    /// The trace id that decision was made for (a request without a valid parent).
    static DECIDED_TRACE: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// Starts a span with the installed provider, its sampler answering `decision`: the server
/// middleware asked the live sampler itself, before building anything (so a dropped request
/// never reaches the SDK), and must not ask twice (a rate-limited sampler would count the
/// request twice). `new_trace` is the trace id the middleware made for a span without a valid
/// parent (the decision was made for it), which [`LiveIds`] hands to the SDK; `None` when the
/// span continues its parent's trace (the SDK asks for no trace id then). Both are cleared
/// afterwards, whether the SDK asked for them or not (a provider that is shut down does not),
/// so they can never answer for another span.
#[cfg_attr(not(any(feature = "axum", feature = "actix")), allow(dead_code))]
pub(crate) fn start_decided<T>(
    decision: SamplingResult,
    new_trace: Option<TraceId>,
    start: impl FnOnce() -> T,
) -> T {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            DECIDED.with(|d| d.set(None));
            DECIDED_TRACE.with(|t| t.set(None));
        }
    }
    DECIDED.with(|d| d.set(Some(decision)));
    DECIDED_TRACE.with(|t| t.set(new_trace));
    let _clear = Clear;
    start()
}

/// The installed provider's ids: random, but for the span [`start_decided`] starts, whose
/// trace id was chosen before its sampling decision.
#[derive(Debug, Default)]
pub(crate) struct LiveIds(RandomIdGenerator);

impl IdGenerator for LiveIds {
    fn new_trace_id(&self) -> TraceId {
        DECIDED_TRACE
            .try_with(Cell::take)
            .ok()
            .flatten()
            .unwrap_or_else(|| self.0.new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        self.0.new_span_id()
    }
}

impl ShouldSample for LiveSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        // `try_with`: a span started while this thread's locals are being destroyed.
        if let Some(decided) = DECIDED.try_with(Cell::take).ok().flatten() {
            return decided;
        }
        self.0.load().sampler.should_sample(
            parent_context,
            trace_id,
            name,
            span_kind,
            attributes,
            links,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::trace::SamplingDecision;

    fn sampler(keep: bool) -> LiveSampler {
        LiveSampler(Arc::new(ArcSwap::from_pointee(Live {
            sampler: Box::new(crate::samplers::Always(keep)),
            exclude_paths: PathExcludeList::default(),
            exclude_hostnames: HostExcludeList::default(),
            attributes_at_start: false,
        })))
    }

    fn ask(s: &LiveSampler) -> SamplingDecision {
        s.should_sample(None, TraceId::from(7), "GET", &SpanKind::Server, &[], &[])
            .decision
    }

    fn dropped() -> SamplingResult {
        SamplingResult {
            decision: SamplingDecision::Drop,
            attributes: Vec::new(),
            trace_state: Default::default(),
        }
    }

    #[test]
    fn a_decision_answers_once_and_never_outlives_its_span() {
        let live = sampler(true);
        let ids = LiveIds::default();
        // Inside: the first question gets the decision, the next the live sampler's answer;
        // the trace id made for the decision is handed out once.
        let (first, second, trace, next) =
            start_decided(dropped(), Some(TraceId::from(42)), || {
                (
                    ask(&live),
                    ask(&live),
                    ids.new_trace_id(),
                    ids.new_trace_id(),
                )
            });
        assert_eq!(first, SamplingDecision::Drop);
        assert_eq!(second, SamplingDecision::RecordAndSample);
        assert_eq!(trace, TraceId::from(42));
        assert_ne!(next, TraceId::from(42));
        // Not asked (a provider shut down, a parent's trace): cleared all the same.
        start_decided(dropped(), Some(TraceId::from(43)), || ());
        assert_eq!(ask(&live), SamplingDecision::RecordAndSample);
        assert_ne!(ids.new_trace_id(), TraceId::from(43));
        // A span that continues its parent's trace hands out no trace id, whatever was set.
        let trace = start_decided(dropped(), Some(TraceId::from(45)), || {
            start_decided(dropped(), None, || ids.new_trace_id())
        });
        assert_ne!(trace, TraceId::from(45));
        // A panic inside clears them too.
        let caught = std::panic::catch_unwind(|| {
            start_decided(dropped(), Some(TraceId::from(44)), || panic!("in the SDK"))
        });
        assert!(caught.is_err());
        assert_eq!(ask(&live), SamplingDecision::RecordAndSample);
        assert_ne!(ids.new_trace_id(), TraceId::from(44));
    }
}
