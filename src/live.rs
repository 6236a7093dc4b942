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

/// Starts a span with the installed provider, its sampler answering `decision` for
/// `trace_id`: the server middleware asked the live sampler itself, before building anything
/// (so a dropped request never reaches the SDK), and must not ask twice (a rate-limited
/// sampler would count the request twice). A span without a valid parent gets `trace_id`
/// from [`LiveIds`] (the decision was made for it). Both are cleared afterwards, whether the
/// SDK asked for them or not (a provider that is shut down does not), so they can never
/// answer for another span.
#[cfg_attr(not(any(feature = "axum", feature = "actix")), allow(dead_code))]
pub(crate) fn start_decided<T>(
    decision: SamplingResult,
    trace_id: TraceId,
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
    DECIDED_TRACE.with(|t| t.set(Some(trace_id)));
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
            .with(Cell::take)
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
        if let Some(decided) = DECIDED.with(Cell::take) {
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
