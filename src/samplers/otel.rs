//! OpenTelemetry samplers the SDK does not have in this form: `parent_based` with all five
//! delegates (the SDK's fixes four of them), and the consistent `probability` sampler of the
//! composable samplers (a threshold over the trace id's 56 random bits).

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingResult, ShouldSample};

use super::Parent;

/// `parent_based`: the root sampler for spans without a parent, one of four delegates by
/// whether the parent is remote and sampled.
#[derive(Debug, Clone)]
pub(crate) struct ParentBasedWith {
    pub(crate) root: Box<dyn ShouldSample>,
    pub(crate) remote_sampled: Box<dyn ShouldSample>,
    pub(crate) remote_not_sampled: Box<dyn ShouldSample>,
    pub(crate) local_sampled: Box<dyn ShouldSample>,
    pub(crate) local_not_sampled: Box<dyn ShouldSample>,
}

impl ShouldSample for ParentBasedWith {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let delegate = match super::parent_of(parent_context) {
            None => &self.root,
            Some(Parent {
                remote: true,
                sampled: true,
            }) => &self.remote_sampled,
            Some(Parent { remote: true, .. }) => &self.remote_not_sampled,
            Some(Parent { sampled: true, .. }) => &self.local_sampled,
            Some(_) => &self.local_not_sampled,
        };
        delegate.should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

/// The composable `probability` sampler (and `probability/development`): sampled iff the
/// trace id's last 56 bits (its randomness, W3C Trace Context level 2) are at least the
/// rejection threshold `round((1 - ratio) * 2^56)`. Consistent: every service with a ratio
/// at least as large samples the same traces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ConsistentProbability {
    /// `None`: never sampled (ratio 0); `Some(0)`: always.
    threshold: Option<u64>,
}

const TWO_POW_56: f64 = 72_057_594_037_927_936.0;

impl ConsistentProbability {
    pub(crate) fn new(ratio: f64) -> Option<Self> {
        if !(0.0..=1.0).contains(&ratio) {
            return None;
        }
        let threshold = if ratio == 0.0 {
            None
        } else {
            // round((1 - ratio) * 2^56), at most 2^56 - 1 for a positive ratio.
            Some((((1.0 - ratio) * TWO_POW_56).round() as u64).min((1u64 << 56) - 1))
        };
        Some(ConsistentProbability { threshold })
    }

    pub(crate) fn samples(&self, trace_id: TraceId) -> bool {
        let bytes = trace_id.to_bytes();
        let mut low = [0u8; 8];
        low[1..].copy_from_slice(&bytes[9..]);
        let randomness = u64::from_be_bytes(low);
        self.threshold.is_some_and(|t| randomness >= t)
    }
}

impl ShouldSample for ConsistentProbability {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        super::result(self.samples(trace_id), parent_context)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::samplers::Always;
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceState};
    use opentelemetry_sdk::trace::SamplingDecision;

    fn id(low56: u64) -> TraceId {
        let mut b = [0u8; 16];
        b[0] = 0xff; // bits outside the randomness never matter
        b[8] = 0xff;
        b[9..].copy_from_slice(&low56.to_be_bytes()[1..]);
        TraceId::from_bytes(b)
    }

    #[test]
    fn threshold_over_the_56_random_bits() {
        let half = ConsistentProbability::new(0.5).unwrap();
        assert!(!half.samples(id((1 << 55) - 1)));
        assert!(half.samples(id(1 << 55)));
        assert!(ConsistentProbability::new(1.0).unwrap().samples(id(0)));
        assert!(
            !ConsistentProbability::new(0.0)
                .unwrap()
                .samples(id((1 << 56) - 1))
        );
        // Tiny ratios still sample the top of the range.
        assert!(
            ConsistentProbability::new(1e-12)
                .unwrap()
                .samples(id((1 << 56) - 1))
        );
        assert!(ConsistentProbability::new(1.5).is_none());
    }

    #[test]
    fn consistent_across_ratios() {
        let low = ConsistentProbability::new(0.1).unwrap();
        let high = ConsistentProbability::new(0.3).unwrap();
        for i in 0..1000u64 {
            let t = id(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 8);
            if low.samples(t) {
                assert!(high.samples(t));
            }
        }
    }

    fn parent(remote: bool, sampled: bool) -> Context {
        let sc = SpanContext::new(
            TraceId::from_bytes([1; 16]),
            SpanId::from_bytes([2; 8]),
            if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            remote,
            TraceState::default(),
        );
        Context::new().with_remote_span_context(sc)
    }

    #[test]
    fn parent_based_picks_the_delegate() {
        // Each delegate inverts the SDK's default, so the right one is visible.
        let s = ParentBasedWith {
            root: Box::new(Always(false)),
            remote_sampled: Box::new(Always(false)),
            remote_not_sampled: Box::new(Always(true)),
            local_sampled: Box::new(Always(false)),
            local_not_sampled: Box::new(Always(true)),
        };
        let decide = |cx: Option<&Context>| {
            s.should_sample(
                cx,
                TraceId::from_bytes([1; 16]),
                "x",
                &SpanKind::Server,
                &[],
                &[],
            )
            .decision
        };
        assert_eq!(decide(None), SamplingDecision::Drop);
        assert_eq!(decide(Some(&parent(true, true))), SamplingDecision::Drop);
        assert_eq!(
            decide(Some(&parent(true, false))),
            SamplingDecision::RecordAndSample
        );
    }
}
