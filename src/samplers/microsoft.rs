//! Microsoft's samplers, as the Azure Monitor distros decide (azure-monitor-opentelemetry-exporter
//! 1.0.0b58 is the reference; its vectors are pinned in the tests): a Rust service keeps the
//! traces that .NET, Java, Python and Node services at the same settings keep.
//!
//! - [`ApplicationInsightsSampler`]: a fixed ratio, decided by the 32-bit DJB2 score of the
//!   lower-case trace id (parents are not consulted: every service computes the same score).
//! - [`RateLimitedSampler`]: the percentage that keeps about `traces_per_second` traces a
//!   second (a smoothed count of decisions, adapting in 0.1 s), applied to the same score; a
//!   span whose local parent was dropped is dropped, one whose local parent was kept is kept
//!   with the parent's percentage.
//!
//! Both write the percentage into `_MS.sampleRate`, which becomes the envelope's `sampleRate`.

use std::sync::{Arc, Mutex};

use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingResult, ShouldSample};

use super::{RecentRates, SAMPLE_RATE_KEY};

const DJB2_SEED: i32 = 5381;

/// The distros' sampling score of a trace id in `0.0..=1.0`: DJB2 over the 32 lower-case hex
/// digits in wrapping 32-bit signed arithmetic, its absolute value (`i32::MIN` as `i32::MAX`)
/// divided by `i32::MAX`.
pub fn djb2_score(trace_id: TraceId) -> f64 {
    let mut hash: i32 = DJB2_SEED;
    for byte in trace_id.to_bytes() {
        for nibble in [byte >> 4, byte & 0x0f] {
            let c = if nibble < 10 {
                b'0' + nibble
            } else {
                b'a' + nibble - 10
            };
            hash = hash
                .wrapping_shl(5)
                .wrapping_add(hash)
                .wrapping_add(i32::from(c));
        }
    }
    let magnitude = if hash == i32::MIN {
        i32::MAX
    } else {
        hash.abs()
    };
    f64::from(magnitude) / f64::from(i32::MAX)
}

/// The distros' rounding of a percentage down to one whose item count (`100 / percentage`) is
/// a whole number.
pub(crate) fn round_down_to_nearest(percentage: f64) -> f64 {
    if percentage <= 0.0 {
        return 0.0;
    }
    let item_count = 100.0 / percentage;
    if !item_count.is_finite() || item_count >= f64::from(i32::MAX) {
        return 0.0;
    }
    100.0 / item_count.ceil()
}

fn decided(sampled: bool, percentage: f64, parent: Option<&Context>) -> SamplingResult {
    let mut r = super::result(sampled, parent);
    r.attributes
        .push(KeyValue::new(SAMPLE_RATE_KEY, percentage));
    r
}

/// Microsoft's `ApplicationInsightsSampler(sampling_ratio)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApplicationInsightsSampler {
    ratio: f64,
}

impl ApplicationInsightsSampler {
    /// A sampler keeping `ratio` of the traces; `None` unless `0 <= ratio <= 1`.
    pub fn new(ratio: f64) -> Option<Self> {
        (0.0..=1.0)
            .contains(&ratio)
            .then_some(ApplicationInsightsSampler { ratio })
    }

    /// The configured ratio.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }
}

impl ShouldSample for ApplicationInsightsSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let percentage = self.ratio * 100.0;
        let sampled = if percentage == 0.0 {
            false
        } else if percentage == 100.0 {
            true
        } else {
            djb2_score(trace_id) < self.ratio
        };
        decided(sampled, percentage, parent_context)
    }
}

/// A clock in nanoseconds (monotonic in production; a test's own in tests).
pub(crate) type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

fn monotonic_clock() -> Clock {
    let start = std::time::Instant::now();
    Arc::new(move || u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX))
}

#[derive(Debug, Clone, Copy)]
struct Window {
    count: f64,
    nanos: f64,
    last: u64,
}

/// The distros' adaptive percentage: a count of decisions and the time they span, both decayed
/// exponentially with a 0.1 s adaptation time.
pub(crate) struct RatePercentage {
    per_nano: f64,
    window: Mutex<Window>,
    clock: Clock,
}

const INVERSE_ADAPTATION_PER_NANO: f64 = 1e-9 / 0.1;

impl RatePercentage {
    pub(crate) fn new(traces_per_second: f64, clock: Clock) -> Self {
        let last = clock();
        RatePercentage {
            per_nano: 1e-9 * traces_per_second,
            window: Mutex::new(Window {
                count: 0.0,
                nanos: 0.0,
                last,
            }),
            clock,
        }
    }

    /// Counts one decision and returns the percentage in force for it.
    pub(crate) fn next(&self) -> f64 {
        let now = (self.clock)();
        let window = {
            let mut w = match self.window.lock() {
                Ok(w) => w,
                Err(poisoned) => poisoned.into_inner(),
            };
            if now <= w.last {
                w.count += 1.0;
            } else {
                let delta = (now - w.last) as f64;
                let decay = (-delta * INVERSE_ADAPTATION_PER_NANO).exp();
                w.count = w.count * decay + 1.0;
                w.nanos = w.nanos * decay + delta;
                w.last = now;
            }
            *w
        };
        if window.count == 0.0 {
            return 100.0;
        }
        let probability = window.nanos * self.per_nano / window.count;
        round_down_to_nearest(100.0 * probability.min(1.0))
    }
}

/// Microsoft's `RateLimitedSampler(traces_per_second)`. Clones share one limiter.
#[derive(Clone)]
pub struct RateLimitedSampler {
    traces_per_second: f64,
    state: Arc<(RatePercentage, RecentRates)>,
}

impl std::fmt::Debug for RateLimitedSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitedSampler")
            .field("traces_per_second", &self.traces_per_second)
            .finish_non_exhaustive()
    }
}

impl RateLimitedSampler {
    /// A sampler keeping about `traces_per_second` traces a second; `None` unless it is a
    /// finite number `>= 0`.
    pub fn new(traces_per_second: f64) -> Option<Self> {
        Self::with_clock(traces_per_second, monotonic_clock())
    }

    pub(crate) fn with_clock(traces_per_second: f64, clock: Clock) -> Option<Self> {
        (traces_per_second.is_finite() && traces_per_second >= 0.0).then(|| RateLimitedSampler {
            traces_per_second,
            state: Arc::new((
                RatePercentage::new(traces_per_second, clock),
                RecentRates::default(),
            )),
        })
    }

    /// The configured limit.
    pub fn traces_per_second(&self) -> f64 {
        self.traces_per_second
    }
}

impl ShouldSample for RateLimitedSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        // A local parent decides, as in the distros: dropped drops, kept keeps its rate.
        if let Some(cx) = parent_context.filter(|cx| cx.has_active_span()) {
            let span = cx.span();
            let sc = span.span_context();
            if sc.is_valid() && !sc.is_remote() {
                if !span.is_recording() {
                    return decided(false, 0.0, parent_context);
                }
                if let Some(rate) = self.state.1.get(trace_id) {
                    return decided(true, rate, parent_context);
                }
            }
        }
        let percentage = self.state.0.next();
        let sampled = djb2_score(trace_id) * 100.0 < percentage;
        if sampled {
            self.state.1.put(trace_id, percentage);
        }
        // The distros leave the attribute out at 100; writing it always keeps wrappers from
        // asking twice (which would count a decision twice). The envelope is the same.
        decided(sampled, percentage, parent_context)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp)]

    use std::sync::atomic::{AtomicU64, Ordering};

    use opentelemetry_sdk::trace::SamplingDecision;

    use super::*;

    fn id(hex: &str) -> TraceId {
        TraceId::from_hex(hex).unwrap()
    }

    /// Generated with azure-monitor-opentelemetry-exporter 1.0.0b58:
    /// `_get_DJB2_sample_score(format_trace_id(t).lower())` and
    /// `ApplicationInsightsSampler(r).should_sample(...)` for r in 0.1, 0.5, 0.9.
    const VECTORS: &[(&str, f64, [bool; 3])] = &[
        (
            "0af7651916cd43dd8448eb211c80319c",
            0.5278892803601405,
            [false, false, true],
        ),
        (
            "00000000000000000000000000000001",
            0.02339351457701694,
            [true, true, true],
        ),
        (
            "ffffffffffffffffffffffffffffffff",
            0.9996135514227736,
            [false, false, false],
        ),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736",
            0.33461353850300124,
            [false, true, true],
        ),
        (
            "0123456789abcdef0123456789abcdef",
            0.2572846455766282,
            [false, true, true],
        ),
        (
            "6513270e269e0d37f2a74de452e6b438",
            0.2014480504214056,
            [false, true, true],
        ),
        (
            "d23f0824128b2f330c5c7fd0a6a3a450",
            0.5796881460490115,
            [false, false, true],
        ),
        (
            "9531985d5d9dc9f81818e811892f902b",
            0.10238070418237741,
            [false, true, true],
        ),
        (
            "36f675cc81e74ef5e8e25d940ed90475",
            0.15865991318535988,
            [false, true, true],
        ),
        (
            "6b0d549b6f03675a1600a35a099950d8",
            0.7594577096213856,
            [false, false, true],
        ),
        (
            "8d116ece1738f7d93d9c172411e20b8f",
            0.9894011635283945,
            [false, false, false],
        ),
        (
            "90c192cfd3ac94af0f21ddb66cad4a26",
            0.9872736371994362,
            [false, false, false],
        ),
        (
            "a170b33839263059f28c105d1fb17c23",
            0.7821770644663726,
            [false, false, true],
        ),
        (
            "0fd630f1f29d0da9953f48f1a09f76b5",
            0.9134421576342742,
            [false, false, false],
        ),
        (
            "0cb1e29c658cda1495e60af593bd04cf",
            0.2260810724581038,
            [false, true, true],
        ),
        (
            "8e81973e0becd7b03898d190f9ebdacc",
            0.4684659072516793,
            [false, true, true],
        ),
        (
            "6b4cb2424a23d5962217beaddbc496cb",
            0.3643839477395564,
            [false, true, true],
        ),
        (
            "922766581e27a1c08a6a63ec24ede6a4",
            0.25684350275287565,
            [false, true, true],
        ),
        (
            "ae97ba94d0eda82f8f6d05584ef8aa38",
            0.1983140293500917,
            [false, true, true],
        ),
        (
            "923a736994e3bf911a61dbe22e44158b",
            0.6330498119970084,
            [false, false, true],
        ),
        (
            "18f135d25f557203301850c5a38fd547",
            0.48843868704905674,
            [false, true, true],
        ),
        (
            "907a70c31012f037b64ce4228c38fb29",
            0.7028586327577283,
            [false, false, true],
        ),
        (
            "7f15052434b9b5df9e7769b10f4205b4",
            0.07888366052828899,
            [true, true, true],
        ),
        (
            "c6f877186d76b07e881ed162ae2eb154",
            0.18211389900283603,
            [false, true, true],
        ),
    ];

    fn sampled(s: &dyn ShouldSample, trace: TraceId) -> (bool, f64) {
        let r = s.should_sample(None, trace, "x", &SpanKind::Server, &[], &[]);
        let rate = r
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == SAMPLE_RATE_KEY)
            .and_then(|kv| match kv.value {
                opentelemetry::Value::F64(f) => Some(f),
                _ => None,
            })
            .unwrap();
        (r.decision == SamplingDecision::RecordAndSample, rate)
    }

    #[test]
    fn djb2_scores_and_decisions_are_the_distros() {
        for (hex, score, decisions) in VECTORS {
            assert_eq!(djb2_score(id(hex)), *score, "{hex}");
            for (ratio, want) in [0.1, 0.5, 0.9].iter().zip(decisions) {
                let s = ApplicationInsightsSampler::new(*ratio).unwrap();
                assert_eq!(
                    sampled(&s, id(hex)),
                    (*want, ratio * 100.0),
                    "{hex} at {ratio}"
                );
            }
        }
        // 0 and 1 decide without the score.
        let never = ApplicationInsightsSampler::new(0.0).unwrap();
        let always = ApplicationInsightsSampler::new(1.0).unwrap();
        let low = id("00000000000000000000000000000001");
        assert_eq!(sampled(&never, low), (false, 0.0));
        assert_eq!(
            sampled(&always, id("ffffffffffffffffffffffffffffffff")),
            (true, 100.0)
        );
        assert!(ApplicationInsightsSampler::new(1.5).is_none());
        assert!(ApplicationInsightsSampler::new(f64::NAN).is_none());
    }

    #[test]
    fn rounding_down_is_the_distros() {
        // `_round_down_to_nearest` of 1.0.0b58.
        for (p, want) in [
            (100.0, 100.0),
            (50.0, 50.0),
            (33.4, 33.333333333333336),
            (33.3, 25.0),
            (12.5, 12.5),
            (7.0, 6.666666666666667),
            (0.3, 0.2994011976047904),
            (0.0001, 0.0001),
            (1e-12, 0.0),
            (0.0, 0.0),
        ] {
            assert_eq!(round_down_to_nearest(p), want, "{p}");
        }
    }

    fn fake_clock() -> (Arc<AtomicU64>, Clock) {
        let now = Arc::new(AtomicU64::new(1_000_000_000_000));
        let read = now.clone();
        (now, Arc::new(move || read.load(Ordering::Relaxed)))
    }

    #[test]
    fn the_percentage_follows_the_distros_state_machine() {
        // The distro's RateLimitedSamplingPercentage(5.0) with time.time_ns patched: one
        // decision a millisecond, then a burst after 5 s of silence.
        let (now, clock) = fake_clock();
        let p = RatePercentage::new(5.0, clock);
        let mut seen = Vec::new();
        for i in 0..3000 {
            now.fetch_add(1_000_000, Ordering::Relaxed);
            let v = p.next();
            if [0, 1, 2, 9, 99, 999, 2999].contains(&i) {
                seen.push(v);
            }
        }
        assert_eq!(
            seen,
            [
                0.5,
                0.5,
                0.5,
                0.5,
                0.4975124378109453,
                0.4975124378109453,
                0.5
            ]
        );
        now.fetch_add(5_000_000_000, Ordering::Relaxed);
        assert_eq!([p.next(), p.next(), p.next()], [100.0, 100.0, 100.0]);
    }

    #[test]
    fn a_steady_load_keeps_about_the_limit_and_the_rates_estimate_the_count() {
        // 1,000 root spans a second for 20 s at traces_per_second=5: 100 +/- 30 kept, and
        // sum(100 / sampleRate) within 30% of the 20,000 that happened.
        let (now, clock) = fake_clock();
        let s = RateLimitedSampler::with_clock(5.0, clock).unwrap();
        let mut kept = 0u32;
        let mut estimate = 0.0;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            now.fetch_add(1_000_000, Ordering::Relaxed);
            // xorshift trace ids: deterministic, spread over the score's range.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let trace = TraceId::from(u128::from(state) << 64 | u128::from(state.rotate_left(32)));
            let (yes, rate) = sampled(&s, trace);
            if yes {
                kept += 1;
                estimate += 100.0 / rate;
            }
        }
        assert!((70..=130).contains(&kept), "kept {kept}");
        assert!(
            (estimate - 20_000.0).abs() <= 6_000.0,
            "estimate {estimate}"
        );
    }

    #[test]
    fn local_parents_decide_for_their_children() {
        use opentelemetry::trace::{SpanContext, TraceFlags, TraceState};
        let (now, clock) = fake_clock();
        let s = RateLimitedSampler::with_clock(5.0, clock).unwrap();
        now.fetch_add(1_000_000_000, Ordering::Relaxed);
        let trace = id("00000000000000000000000000000001");
        // A root, kept (its score is low) at the percentage in force.
        let (yes, rate) = sampled(&s, trace);
        assert!(yes);
        // A remote parent does not decide: the limiter does.
        let remote = Context::new().with_remote_span_context(SpanContext::new(
            trace,
            opentelemetry::trace::SpanId::from(7),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ));
        let r = s.should_sample(Some(&remote), trace, "x", &SpanKind::Server, &[], &[]);
        assert_eq!(r.decision, SamplingDecision::RecordAndSample);
        // A local parent, from a provider with `sampler`. (The sampler under test reads the
        // child's trace id, which a real child shares.)
        let local_parent = |sampler: opentelemetry_sdk::trace::Sampler| {
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_sampler(sampler)
                .build();
            let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "t");
            let span = opentelemetry::trace::Tracer::build_with_context(
                &tracer,
                opentelemetry::trace::SpanBuilder::from_name("p"),
                &Context::new(),
            );
            Context::new().with_span(span)
        };
        // A local, recording parent: kept, with the root's rate.
        let local = local_parent(opentelemetry_sdk::trace::Sampler::AlwaysOn);
        let r = s.should_sample(Some(&local), trace, "c", &SpanKind::Internal, &[], &[]);
        assert_eq!(r.decision, SamplingDecision::RecordAndSample);
        assert_eq!(r.attributes, vec![KeyValue::new(SAMPLE_RATE_KEY, rate)]);
        // A local parent that was dropped: dropped.
        let local = local_parent(opentelemetry_sdk::trace::Sampler::AlwaysOff);
        let r = s.should_sample(Some(&local), trace, "c", &SpanKind::Internal, &[], &[]);
        assert_eq!(r.decision, SamplingDecision::Drop);
    }
}
