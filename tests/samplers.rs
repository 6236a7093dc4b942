//! ProbabilitySampler decides exactly like OpenCensus: boundary vectors, parent rules, and a
//! property test against an independent big-integer computation of floor(rate * 2^64).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use num_bigint::BigUint;
use opencensus_settings::opentelemetry::Context;
use opencensus_settings::opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opencensus_settings::opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};
use opencensus_settings::registry::ProbabilitySampler;
use proptest::prelude::*;

fn trace_id(low: u64) -> TraceId {
    let mut bytes = [0u8; 16];
    bytes[0] = 0xab; // the high half does not matter
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    TraceId::from_bytes(bytes)
}

fn decide(sampler: &ProbabilitySampler, parent: Option<&Context>, low: u64) -> bool {
    let r = sampler.should_sample(parent, trace_id(low), "x", &SpanKind::Server, &[], &[]);
    r.decision == SamplingDecision::RecordAndSample
}

#[test]
fn boundary_vectors_from_the_spec() {
    let half = ProbabilitySampler::new(0.5).unwrap();
    assert!(decide(&half, None, 0x8000_0000_0000_0000));
    assert!(!decide(&half, None, 0x8000_0000_0000_0001));
    assert_eq!(half.threshold(), Some(0x8000_0000_0000_0000));

    let quarter = ProbabilitySampler::new(0.25).unwrap();
    assert_eq!(quarter.threshold(), Some(0x4000_0000_0000_0000));
    assert!(decide(&quarter, None, 0x4000_0000_0000_0000));
    assert!(!decide(&quarter, None, 0x4000_0000_0000_0001));

    let default = ProbabilitySampler::new(0.0001).unwrap();
    assert_eq!(default.threshold(), Some(0x0006_8db8_bac7_10cb));
    assert!(decide(&default, None, 0x0006_8db8_bac7_10cb));
    assert!(!decide(&default, None, 0x0006_8db8_bac7_10cc));

    let zero = ProbabilitySampler::new(0.0).unwrap();
    assert!(decide(&zero, None, 0));
    assert!(!decide(&zero, None, 1));

    let one = ProbabilitySampler::new(1.0).unwrap();
    assert_eq!(one.threshold(), None);
    assert!(decide(&one, None, u64::MAX));
}

#[test]
fn out_of_range_rates_are_refused() {
    for rate in [-0.0001, 1.0001, f64::NAN, f64::INFINITY] {
        assert!(ProbabilitySampler::new(rate).is_none(), "{rate}");
    }
}

fn parent(sampled: bool, remote: bool) -> Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let sc = SpanContext::new(
        trace_id(u64::MAX),
        SpanId::from_bytes([1; 8]),
        flags,
        remote,
        TraceState::default(),
    );
    Context::new().with_remote_span_context(sc)
}

#[test]
fn a_sampled_parent_is_always_sampled_an_unsampled_one_lets_the_rate_decide() {
    let zero = ProbabilitySampler::new(0.0).unwrap();
    for remote in [true, false] {
        assert!(decide(&zero, Some(&parent(true, remote)), u64::MAX));
        // Unsampled parent: the rate decides (OpenTelemetry's ParentBased would force a drop).
        assert!(!decide(&zero, Some(&parent(false, remote)), u64::MAX));
        assert!(decide(&zero, Some(&parent(false, remote)), 0));
    }
}

#[test]
fn differs_from_trace_id_ratio_based_at_the_threshold() {
    use opencensus_settings::opentelemetry_sdk::trace::Sampler;
    let ours = ProbabilitySampler::new(0.5).unwrap();
    let theirs = Sampler::TraceIdRatioBased(0.5);
    let low = 0x8000_0000_0000_0000;
    let r = theirs.should_sample(None, trace_id(low), "x", &SpanKind::Server, &[], &[]);
    assert_eq!(r.decision, SamplingDecision::Drop);
    assert!(decide(&ours, None, low));
}

/// floor(rate * 2^64) with big integers, from the exact binary value of `rate`.
fn big_threshold(rate: f64) -> BigUint {
    let bits = rate.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exp) = if exponent == 0 {
        (fraction, -1074i64)
    } else {
        (fraction | (1u64 << 52), exponent - 1075)
    };
    // rate = mantissa * 2^exp; times 2^64:
    let shift = exp + 64;
    let m = BigUint::from(mantissa);
    if shift >= 0 {
        m << (shift as u64)
    } else {
        m >> ((-shift) as u64)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn matches_big_integer_rule(rate in 0.0f64..1.0, low in any::<u64>()) {
        let sampler = ProbabilitySampler::new(rate).unwrap();
        let expected = BigUint::from(low) <= big_threshold(rate);
        prop_assert_eq!(decide(&sampler, None, low), expected);
        // And right at the threshold.
        let t = big_threshold(rate);
        let t64: u64 = t.try_into().unwrap();
        prop_assert!(decide(&sampler, None, t64));
        if t64 < u64::MAX {
            prop_assert!(!decide(&sampler, None, t64 + 1));
        }
    }
}
