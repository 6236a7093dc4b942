//! What a reload may change while the app serves (SPEC 9): the sampler (with its rules) and
//! both exclusion lists, as one value swapped atomically. A request reads it with one atomic
//! load (`arc-swap`): no lock, no allocation.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingResult, ShouldSample};

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
