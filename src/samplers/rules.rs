//! The rule engine (SPEC 9): an ordered list of matchers over what is known when a span starts
//! (its kind, its start attributes, its parent), each with the sampler that decides the spans it
//! matches; the first rule that matches decides, none matching means the default sampler.
//!
//! It knows no settings format: `SAMPLING_RULES` in TOML builds it today, OpenTelemetry's
//! `rule_based` sampler can build it from YAML. The facts it matches are the attributes the
//! middleware gives at span start (`url.path`, `http.route`, `http.request.method`,
//! `server.address`, `server.port`, or `url.full` for calls).
//!
//! The deciding sampler's rate becomes the span's `_MS.sampleRate` (so Application Insights
//! counts it right): 100 when a sampled parent forced a decision the sampler alone would not
//! have made; spans inside a request a rule decided carry the request's rate.

use std::sync::Arc;

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

use super::{RecentRates, SAMPLE_RATE_KEY, parent_of, parent_state, parent_trace_state};
use crate::exclude::{HostExcludeList, PathExcludeList};

/// Which spans a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KindMatch {
    Server,
    Client,
    Any,
}

impl KindMatch {
    fn matches(self, kind: &SpanKind) -> bool {
        match self {
            KindMatch::Any => true,
            KindMatch::Server => matches!(kind, SpanKind::Server),
            KindMatch::Client => matches!(kind, SpanKind::Client),
        }
    }
}

/// A route matcher: the template exactly, or a glob over it (`*` any run of characters in one
/// segment, `**` as a whole segment any number of segments; braces are literal).
#[derive(Debug, Clone)]
pub(crate) enum RouteMatch {
    Exact(String),
    Glob(Vec<String>),
}

impl RouteMatch {
    pub(crate) fn new(pattern: &str) -> Self {
        if pattern.contains('*') {
            RouteMatch::Glob(pattern.split('/').map(str::to_string).collect())
        } else {
            RouteMatch::Exact(pattern.to_string())
        }
    }

    fn matches(&self, route: &str) -> bool {
        match self {
            RouteMatch::Exact(want) => want == route,
            RouteMatch::Glob(segments) => {
                let have: Vec<&str> = route.split('/').collect();
                glob_segments(segments, &have)
            }
        }
    }
}

fn glob_segments(pattern: &[String], have: &[&str]) -> bool {
    match pattern.split_first() {
        None => have.is_empty(),
        Some((p, rest)) if p == "**" => {
            (0..=have.len()).any(|skip| glob_segments(rest, &have[skip..]))
        }
        Some((p, rest)) => match have.split_first() {
            Some((h, more)) => glob_one(p, h) && glob_segments(rest, more),
            None => false,
        },
    }
}

/// `*` as any run of characters within one segment.
fn glob_one(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Where a span's parent is (OpenTelemetry's `parent` condition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParentMatch {
    None,
    Remote,
    Local,
}

/// An attribute condition (OpenTelemetry's `attribute_values` / `attribute_patterns`):
/// non-string values match by their string form, an array when any item matches.
#[derive(Debug, Clone)]
pub(crate) enum AttributeMatch {
    Values {
        key: String,
        values: Vec<String>,
    },
    Patterns {
        key: String,
        /// Empty: every value is included.
        included: Vec<String>,
        excluded: Vec<String>,
    },
}

/// `*` any run of characters (none included), `?` exactly one; case-sensitive.
pub(crate) fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

fn string_forms(v: &Value) -> Vec<std::borrow::Cow<'_, str>> {
    use opentelemetry::Array;
    match v {
        Value::Array(Array::String(items)) => items.iter().map(|s| s.as_str().into()).collect(),
        Value::Array(Array::Bool(items)) => items.iter().map(|b| b.to_string().into()).collect(),
        Value::Array(Array::I64(items)) => items.iter().map(|b| b.to_string().into()).collect(),
        Value::Array(Array::F64(items)) => items.iter().map(|b| b.to_string().into()).collect(),
        other => vec![other.as_str()],
    }
}

impl AttributeMatch {
    fn matches(&self, attributes: &[KeyValue]) -> bool {
        let key = match self {
            AttributeMatch::Values { key, .. } | AttributeMatch::Patterns { key, .. } => key,
        };
        let Some(kv) = attributes.iter().rev().find(|kv| kv.key.as_str() == key) else {
            return false;
        };
        string_forms(&kv.value).iter().any(|v| match self {
            AttributeMatch::Values { values, .. } => values.iter().any(|want| want == v),
            AttributeMatch::Patterns {
                included, excluded, ..
            } => {
                (included.is_empty() || included.iter().any(|p| wildcard(p, v)))
                    && !excluded.iter().any(|p| wildcard(p, v))
            }
        })
    }
}

/// What one rule requires; every matcher given must match.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub(crate) kind: KindMatch,
    pub(crate) path: Option<PathExcludeList>,
    pub(crate) route: Option<RouteMatch>,
    /// Upper-case methods; empty: any.
    pub(crate) methods: Vec<String>,
    pub(crate) host: Option<HostExcludeList>,
    /// OpenTelemetry's `span_kinds` (non-empty: replaces `kind`).
    pub(crate) span_kinds: Vec<SpanKind>,
    /// OpenTelemetry's `parent` (empty: any).
    pub(crate) parent: Vec<ParentMatch>,
    pub(crate) attributes: Vec<AttributeMatch>,
}

impl Matcher {
    /// A matcher with only `kind` (add conditions by setting fields).
    pub(crate) fn kind(kind: KindMatch) -> Self {
        Matcher {
            kind,
            path: None,
            route: None,
            methods: Vec::new(),
            host: None,
            span_kinds: Vec::new(),
            parent: Vec::new(),
            attributes: Vec::new(),
        }
    }
}

/// What a span's start attributes say about it.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Facts<'a> {
    pub(crate) path: Option<&'a str>,
    pub(crate) route: Option<&'a str>,
    pub(crate) method: Option<&'a str>,
    pub(crate) host: Option<&'a str>,
    pub(crate) port: Option<u16>,
}

fn text(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// `scheme://authority/path?query` -> (authority, path without query).
fn split_url(url: &str) -> (Option<&str>, &str) {
    let Some((_, rest)) = url.split_once("://") else {
        return (None, url.split(['?', '#']).next().unwrap_or(url));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let path = tail.split(['?', '#']).next().unwrap_or("");
    (Some(authority), if path.is_empty() { "/" } else { path })
}

impl<'a> Facts<'a> {
    /// The facts in `attributes` (the last of a repeated key wins).
    pub(crate) fn of(attributes: &'a [KeyValue]) -> Self {
        let mut f = Facts::default();
        let mut url_full = None;
        for kv in attributes {
            match kv.key.as_str() {
                "url.path" => f.path = text(&kv.value),
                "http.route" => f.route = text(&kv.value),
                "http.request.method" | "http.method" => f.method = text(&kv.value),
                "server.address" => f.host = text(&kv.value),
                "server.port" => {
                    if let Value::I64(p) = kv.value {
                        f.port = u16::try_from(p).ok();
                    }
                }
                "url.full" | "http.url" => url_full = text(&kv.value),
                _ => {}
            }
        }
        if let Some(url) = url_full {
            let (authority, path) = split_url(url);
            f.path = f.path.or(Some(path));
            if f.host.is_none()
                && let Some(a) = authority
            {
                let (host, port) = crate::hostport::split_host(a);
                f.host = Some(host);
                f.port = f.port.or(port);
            }
        }
        f
    }
}

impl Matcher {
    pub(crate) fn matches(
        &self,
        kind: &SpanKind,
        f: &Facts<'_>,
        attributes: &[KeyValue],
        parent: ParentMatch,
    ) -> bool {
        if self.span_kinds.is_empty() {
            if !self.kind.matches(kind) {
                return false;
            }
        } else if !self.span_kinds.contains(kind) {
            return false;
        }
        if !self.parent.is_empty() && !self.parent.contains(&parent) {
            return false;
        }
        if !self.attributes.iter().all(|a| a.matches(attributes)) {
            return false;
        }
        if let Some(paths) = &self.path {
            match f.path {
                Some(p) if paths.matches(None, p) => {}
                _ => return false,
            }
        }
        if let Some(route) = &self.route
            && !f.route.is_some_and(|r| route.matches(r))
        {
            return false;
        }
        if !self.methods.is_empty() {
            match f.method {
                Some(m) if self.methods.iter().any(|want| want.eq_ignore_ascii_case(m)) => {}
                _ => return false,
            }
        }
        if let Some(hosts) = &self.host {
            match f.host {
                Some(h) if hosts.matches(h, f.port) => {}
                _ => return false,
            }
        }
        true
    }
}

/// One rule: its matcher, and the sampler (with its rate, when fixed) that decides.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) matcher: Matcher,
    pub(crate) sampler: Box<dyn ShouldSample>,
    pub(crate) rate: Option<f64>,
}

/// The rules and the default, as one sampler. Clones share what they remember.
#[derive(Debug, Clone)]
pub(crate) struct RuleSampler {
    rules: Arc<[Rule]>,
    default: Box<dyn ShouldSample>,
    default_rate: Option<f64>,
    /// Write `_MS.sampleRate` (for exporters that carry a per-span rate).
    write_rate: bool,
    /// A span no rule matches inside a request a rule decided is decided as the request
    /// (`SAMPLING_RULES`); OpenTelemetry's `rule_based` does not.
    inherit: bool,
    /// Some rule has a `parent` condition.
    uses_parent: bool,
    recent: Arc<RecentRates>,
}

impl RuleSampler {
    pub(crate) fn new(
        rules: Vec<Rule>,
        default: Box<dyn ShouldSample>,
        default_rate: Option<f64>,
        write_rate: bool,
    ) -> Self {
        RuleSampler {
            uses_parent: rules.iter().any(|r| !r.matcher.parent.is_empty()),
            rules: rules.into(),
            default,
            default_rate,
            write_rate,
            inherit: true,
            recent: Arc::default(),
        }
    }

    /// Without `SAMPLING_RULES`' inheritance (OpenTelemetry's `rule_based`).
    pub(crate) fn without_inheritance(mut self) -> Self {
        self.inherit = false;
        self
    }
}

fn rate_of(result: &SamplingResult) -> Option<f64> {
    result
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == SAMPLE_RATE_KEY)
        .and_then(|kv| match kv.value {
            Value::F64(f) => Some(f),
            Value::I64(i) => Some(i as f64),
            _ => None,
        })
}

impl ShouldSample for RuleSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let (parent_sampled, parent_local) = parent_state(parent_context);
        // Read only when a rule asks (`SAMPLING_RULES` never does).
        let parent = match self
            .uses_parent
            .then(|| parent_of(parent_context))
            .flatten()
        {
            None => ParentMatch::None,
            Some(p) if p.remote => ParentMatch::Remote,
            Some(_) => ParentMatch::Local,
        };
        let facts = Facts::of(attributes);
        let rule = self
            .rules
            .iter()
            .find(|r| r.matcher.matches(span_kind, &facts, attributes, parent));
        // No rule of its own, inside a request a rule decided: as the request, with its rate.
        if rule.is_none()
            && self.inherit
            && parent_sampled
            && parent_local
            && let Some(rate) = self.recent.get(trace_id)
        {
            return SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: if self.write_rate {
                    vec![KeyValue::new(SAMPLE_RATE_KEY, rate)]
                } else {
                    Vec::new()
                },
                trace_state: parent_trace_state(parent_context),
            };
        }
        let (sampler, rate) = match rule {
            Some(r) => (&r.sampler, r.rate),
            None => (&self.default, self.default_rate),
        };
        let mut result =
            sampler.should_sample(parent_context, trace_id, name, span_kind, attributes, links);
        let sampled = result.decision == SamplingDecision::RecordAndSample;
        // The sampler's own rate (Microsoft's samplers say it), else its fixed rate; 100 when a
        // sampled parent forced what it alone would not choose (the span counts once).
        let percentage = rate_of(&result).or_else(|| {
            let rate = rate?;
            let forced = sampled
                && parent_sampled
                && sampler
                    .should_sample(None, trace_id, name, span_kind, attributes, links)
                    .decision
                    != SamplingDecision::RecordAndSample;
            let percentage = if forced { 100.0 } else { rate * 100.0 };
            if self.write_rate {
                result
                    .attributes
                    .push(KeyValue::new(SAMPLE_RATE_KEY, percentage));
            }
            Some(percentage)
        });
        if sampled
            && rule.is_some()
            && !parent_local
            && let Some(percentage) = percentage
        {
            self.recent.put(trace_id, percentage);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::samplers::Always;

    fn kv(k: &'static str, v: &'static str) -> KeyValue {
        KeyValue::new(k, v)
    }

    fn matcher(kind: KindMatch) -> Matcher {
        Matcher::kind(kind)
    }

    fn paths(p: &str) -> Option<PathExcludeList> {
        Some(PathExcludeList::parse(&[p]).unwrap())
    }

    #[test]
    fn every_matcher() {
        let request = [
            kv("http.request.method", "GET"),
            kv("url.path", "/api/checkout/pay"),
            kv("http.route", "/api/checkout/{step}"),
            kv("server.address", "shop.example.com"),
        ];
        let f = Facts::of(&request);
        let server = SpanKind::Server;
        let table: Vec<(Matcher, bool)> = vec![
            (
                Matcher {
                    path: paths("/api/checkout/**"),
                    ..matcher(KindMatch::Server)
                },
                true,
            ),
            (
                Matcher {
                    path: paths("/api/other"),
                    ..matcher(KindMatch::Server)
                },
                false,
            ),
            (
                Matcher {
                    path: paths("api"),
                    ..matcher(KindMatch::Server)
                },
                true,
            ),
            (
                Matcher {
                    route: Some(RouteMatch::Exact("/api/checkout/{step}".into())),
                    ..matcher(KindMatch::Server)
                },
                true,
            ),
            (
                Matcher {
                    route: Some(RouteMatch::Exact("/api/checkout".into())),
                    ..matcher(KindMatch::Server)
                },
                false,
            ),
            (
                Matcher {
                    route: Some(RouteMatch::new("/api/*/{step}")),
                    ..matcher(KindMatch::Server)
                },
                true,
            ),
            (
                Matcher {
                    route: Some(RouteMatch::new("/api/**")),
                    ..matcher(KindMatch::Server)
                },
                true,
            ),
            (
                Matcher {
                    route: Some(RouteMatch::new("/api/check*/{*}")),
                    ..matcher(KindMatch::Server)
                },
                true,
            ),
            (
                Matcher {
                    route: Some(RouteMatch::new("/api/*")),
                    ..matcher(KindMatch::Server)
                },
                false,
            ),
            (
                Matcher {
                    methods: vec!["POST".into(), "GET".into()],
                    ..matcher(KindMatch::Server)
                },
                true,
            ),
            (
                Matcher {
                    methods: vec!["POST".into()],
                    ..matcher(KindMatch::Server)
                },
                false,
            ),
            (
                Matcher {
                    host: Some(HostExcludeList::parse(&["SHOP.example.com"]).unwrap()),
                    ..matcher(KindMatch::Server)
                },
                true,
            ),
            (
                Matcher {
                    host: Some(HostExcludeList::parse(&["shop.example.com:8443"]).unwrap()),
                    ..matcher(KindMatch::Server)
                },
                false,
            ),
            (matcher(KindMatch::Client), false),
            (matcher(KindMatch::Any), true),
            // All matchers of a rule must match.
            (
                Matcher {
                    path: paths("/api/**"),
                    methods: vec!["POST".into()],
                    ..matcher(KindMatch::Server)
                },
                false,
            ),
        ];
        for (i, (m, want)) in table.iter().enumerate() {
            assert_eq!(
                m.matches(&server, &f, &request, ParentMatch::None),
                *want,
                "row {i}: {m:?}"
            );
        }
        // A call: path and host from url.full.
        let call = [
            kv("http.request.method", "GET"),
            kv(
                "url.full",
                "https://user@internal.example.com:8443/v1/items?x=1",
            ),
        ];
        let f = Facts::of(&call);
        assert_eq!(f.path, Some("/v1/items"));
        assert_eq!((f.host, f.port), (Some("internal.example.com"), Some(8443)));
        let m = Matcher {
            host: Some(HostExcludeList::parse(&["internal.example.com"]).unwrap()),
            ..matcher(KindMatch::Client)
        };
        assert!(m.matches(&SpanKind::Client, &f, &call, ParentMatch::None));
        assert!(!m.matches(&SpanKind::Server, &f, &call, ParentMatch::None));
    }

    #[test]
    fn opentelemetry_conditions() {
        assert!(wildcard("/internal/*", "/internal/a/b"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "ac"));
        assert!(wildcard("*", ""));
        assert!(wildcard("4*", "404"));
        assert!(!wildcard("/x", "/x/y"));
        let attrs = [
            KeyValue::new("http.response.status_code", 404i64),
            KeyValue::new("db.operation", "PING"),
        ];
        let f = Facts::of(&attrs);
        let values = |key: &str, v: &[&str]| AttributeMatch::Values {
            key: key.into(),
            values: v.iter().map(|s| s.to_string()).collect(),
        };
        let m = Matcher {
            span_kinds: vec![SpanKind::Client],
            attributes: vec![values("db.operation", &["PING"])],
            ..matcher(KindMatch::Server)
        };
        assert!(m.matches(&SpanKind::Client, &f, &attrs, ParentMatch::None));
        assert!(!m.matches(&SpanKind::Server, &f, &attrs, ParentMatch::None));
        let m = Matcher {
            attributes: vec![values("http.response.status_code", &["404"])],
            parent: vec![ParentMatch::None],
            ..matcher(KindMatch::Any)
        };
        assert!(m.matches(&SpanKind::Internal, &f, &attrs, ParentMatch::None));
        assert!(!m.matches(&SpanKind::Internal, &f, &attrs, ParentMatch::Remote));
        let m = Matcher {
            attributes: vec![AttributeMatch::Patterns {
                key: "http.response.status_code".into(),
                included: vec!["4*".into()],
                excluded: vec!["404".into()],
            }],
            ..matcher(KindMatch::Any)
        };
        assert!(!m.matches(&SpanKind::Internal, &f, &attrs, ParentMatch::None));
        let missing = Matcher {
            attributes: vec![values("absent", &["x"])],
            ..matcher(KindMatch::Any)
        };
        assert!(!missing.matches(&SpanKind::Internal, &f, &attrs, ParentMatch::None));
    }

    fn decide(s: &RuleSampler, attrs: &[KeyValue]) -> (bool, Option<f64>) {
        let r = s.should_sample(
            None,
            TraceId::from(42u128),
            "x",
            &SpanKind::Server,
            attrs,
            &[],
        );
        let rate = r
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == SAMPLE_RATE_KEY)
            .and_then(|kv| match kv.value {
                Value::F64(f) => Some(f),
                _ => None,
            });
        (r.decision == SamplingDecision::RecordAndSample, rate)
    }

    #[test]
    fn the_first_matching_rule_decides_and_sets_the_rate() {
        let rules = vec![
            Rule {
                matcher: Matcher {
                    path: paths("/api/checkout/**"),
                    ..matcher(KindMatch::Server)
                },
                sampler: Box::new(Always(true)),
                rate: Some(1.0),
            },
            Rule {
                matcher: Matcher {
                    path: paths("/api/**"),
                    ..matcher(KindMatch::Server)
                },
                sampler: Box::new(Always(false)),
                rate: Some(0.0),
            },
        ];
        let s = RuleSampler::new(
            rules,
            Box::new(crate::samplers::ProbabilitySampler::new(0.5).unwrap()),
            Some(0.5),
            true,
        );
        assert_eq!(
            decide(&s, &[kv("url.path", "/api/checkout/pay")]),
            (true, Some(100.0))
        );
        assert_eq!(
            decide(&s, &[kv("url.path", "/api/items")]),
            (false, Some(0.0))
        );
        // None matches: the default, with its rate.
        let (_, rate) = decide(&s, &[kv("url.path", "/other")]);
        assert_eq!(rate, Some(50.0));
    }
}
