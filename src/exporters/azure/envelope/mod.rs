//! The one envelope writer: every `SpanData` written straight into one JSON buffer per batch,
//! with no per-field allocation, hash map or serde tree.
//!
//! | span | envelope |
//! |---|---|
//! | SERVER, CONSUMER | `Microsoft.ApplicationInsights.Request` |
//! | CLIENT, PRODUCER, INTERNAL | `Microsoft.ApplicationInsights.RemoteDependency` (`type` `InProc` for INTERNAL) |
//! | `exception` event | `Microsoft.ApplicationInsights.Exception` in the span's operation |
//! | `ai.custom` event | `Microsoft.ApplicationInsights.Event` (`name` from `ai.customEvent.name`) |
//! | any other event | `Microsoft.ApplicationInsights.Message` (`severityLevel` from a `tracing` `level`) |
//! | links | the `_MS.links` property of the span's envelope |
//!
//! The output is `opentelemetry-application-insights` 0.46's envelope, field for field (the
//! property test in `tests.rs` compares both over generated spans), with SPEC section 7's
//! adjustments built in: a request's `success` is false for 4xx and 5xx, its
//! `ai.operation.name` is the request name even without a route, and a request that ended in
//! error without a response reports 500; and SPEC section 12's, as Microsoft's exporters write
//! them: an HTTP CLIENT span's dependency is `"{METHOD} {path}"`, a dependency without a
//! response has `resultCode` "0", a request's exceptions carry its `ai.operation.name`,
//! `ai.internal.sdkVersion` is `{platform}{os}m_rust:otel{version}:ext{version}`, and a gRPC
//! request is named by its method with the gRPC status as `responseCode`. One deliberate difference: long values are cut at a
//! character boundary (the crate cuts at a byte count and panics inside a multi-byte character).
//!
//! Split by concept: `json` (strings, limits, integers), `time` (timestamps, durations), `tags`
//! (the tag table and resource-derived tags), `known` (the attributes fields are made of), and
//! the mapping here.

mod json;
mod known;
mod tags;
#[cfg(test)]
mod tests;
mod time;

use opentelemetry::trace::{Event, SpanId, SpanKind, Status};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use json::{Limited, json_str, json_value};
use known::Known;
use tags::{
    T_AUTH_USER_ID, T_OPERATION_ID, T_OPERATION_NAME, T_PARENT_ID, TAGS, Tag, Tags, write_tags,
};
use time::{write_duration, write_time};

const PROPERTY_KEY_MAX: usize = 150;
const PROPERTY_VALUE_MAX: usize = 8192;
const MESSAGE_MAX: usize = 32768;
/// The most links `_MS.links` carries (what fits the property value limit).
const LINKS_MAX: usize = 107;

fn starts_with_slash(v: &Value) -> bool {
    match v {
        Value::String(s) => s.as_str().starts_with('/'),
        Value::I64(_) | Value::Bool(_) => false,
        other => other.as_str().starts_with('/'),
    }
}

/// Writes envelopes for one exporter: what depends on the resource and the settings is
/// computed once, in [`EnvelopeWriter::set_resource`].
pub(crate) struct EnvelopeWriter {
    /// `"sampleRate":…,"iKey":"…",`: holds the instrumentation key, so never printed.
    head: Vec<u8>,
    /// `"iKey":"…",` alone, for a span that carries its own rate (`_MS.sampleRate`).
    ikey: Vec<u8>,
    resource: Resource,
    resource_tags: Vec<Option<String>>,
    /// The resource's properties (`_MS.` keys left out), already written as `"k":"v"` pairs.
    resource_properties: Vec<u8>,
    /// Their keys (cut to the property key limit): a span attribute with one of them is
    /// replaced by the resource's value, as in the crate.
    resource_keys: Vec<String>,
    /// Which key lengths `resource_keys` has ([`len_bit`]): most attributes are told apart
    /// from every resource key by their length alone.
    resource_key_lens: u64,
    resource_http_prefix: bool,
    resource_db_prefix: bool,
}

impl std::fmt::Debug for EnvelopeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeWriter").finish_non_exhaustive()
    }
}

/// The envelope kinds and their `name` / `baseType`.
const REQUEST: (&str, &str) = ("Microsoft.ApplicationInsights.Request", "RequestData");
const DEPENDENCY: (&str, &str) = (
    "Microsoft.ApplicationInsights.RemoteDependency",
    "RemoteDependencyData",
);
const EXCEPTION: (&str, &str) = ("Microsoft.ApplicationInsights.Exception", "ExceptionData");
const EVENT: (&str, &str) = ("Microsoft.ApplicationInsights.Event", "EventData");
const MESSAGE: (&str, &str) = ("Microsoft.ApplicationInsights.Message", "MessageData");

impl EnvelopeWriter {
    /// A writer for `instrumentation_key` and a sampling percentage (`sampleRate`).
    pub(crate) fn new(instrumentation_key: &str, sample_rate: f64) -> EnvelopeWriter {
        let mut head = Vec::with_capacity(80);
        write_rate(&mut head, sample_rate);
        let mut ikey = Vec::with_capacity(60);
        ikey.extend_from_slice(b"\"iKey\":");
        json_str(&mut ikey, instrumentation_key, 40);
        ikey.push(b',');
        head.extend_from_slice(&ikey);
        let mut writer = EnvelopeWriter {
            head,
            ikey,
            resource: Resource::builder_empty().build(),
            resource_tags: vec![None; TAGS.len()],
            resource_properties: Vec::new(),
            resource_keys: Vec::new(),
            resource_key_lens: 0,
            resource_http_prefix: false,
            resource_db_prefix: false,
        };
        writer.set_resource(&Resource::builder_empty().build());
        writer
    }

    /// Computes the tags and properties every envelope takes from the resource.
    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.clone();
        self.resource_tags = tags::derived(resource.iter().map(|(k, v)| (k.as_str(), v)));
        let mut props: Vec<(String, String)> = resource
            .iter()
            .filter(|(k, _)| !k.as_str().starts_with("_MS."))
            .map(|(k, v)| {
                (
                    json::cut(k.as_str(), PROPERTY_KEY_MAX).to_string(),
                    v.as_str().into_owned(),
                )
            })
            .collect();
        props.sort_by(|a, b| a.0.cmp(&b.0));
        props.dedup_by(|later, earlier| later.0 == earlier.0);
        let mut fragment = Vec::new();
        for (k, v) in &props {
            if !fragment.is_empty() {
                fragment.push(b',');
            }
            json_str(&mut fragment, k, PROPERTY_KEY_MAX);
            fragment.push(b':');
            json_str(&mut fragment, v, PROPERTY_VALUE_MAX);
        }
        self.resource_http_prefix = props.iter().any(|(k, _)| k.starts_with("http."));
        self.resource_db_prefix = props.iter().any(|(k, _)| k.starts_with("db."));
        self.resource_keys = props.into_iter().map(|(k, _)| k).collect();
        self.resource_key_lens = self
            .resource_keys
            .iter()
            .fold(0, |mask, k| mask | len_bit(k.len()));
        self.resource_properties = fragment;
    }

    /// Appends the envelopes of `span` to `out`, comma-separated: the span's own, then one per
    /// event. Returns how many it wrote.
    pub(crate) fn write(&self, span: &SpanData, out: &mut Vec<u8>) -> u64 {
        // Scope attributes are rare: their tags are derived per span, after the resource's.
        let scoped;
        let base: &[Option<String>] = if span.instrumentation_scope.attributes().next().is_some() {
            scoped = tags::derived(
                self.resource.iter().map(|(k, v)| (k.as_str(), v)).chain(
                    span.instrumentation_scope
                        .attributes()
                        .map(|kv| (kv.key.as_str(), &kv.value)),
                ),
            );
            &scoped
        } else {
            &self.resource_tags
        };
        let mut tags = base_tags(base);
        let k = Known::scan(span, &mut tags);
        // SPEC 12: a span whose sampling the parent decided carries the rate that describes it
        // (`_MS.sampleRate`, as Microsoft's samplers set it); it and its events use that.
        let own_head = k.sample_rate.and_then(sample_rate_override).map(|rate| {
            let mut h = Vec::with_capacity(self.head.len());
            write_rate(&mut h, rate);
            h.extend_from_slice(&self.ikey);
            h
        });
        let head = own_head.as_deref().unwrap_or(&self.head);
        let operation = request_operation(span, &k);
        self.span(span, tags, &k, operation, head, out);
        for event in span.events.iter() {
            out.push(b',');
            self.event(span, event, base, operation, head, out);
        }
        1 + span.events.len() as u64
    }

    /// `{"name":…,"time":…,"sampleRate":…,"iKey":…,"tags":{…},"data":{"baseType":…,"baseData":{`
    fn open(
        &self,
        kind: (&str, &str),
        time: std::time::SystemTime,
        head: &[u8],
        tags: &Tags<'_>,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(b"{\"name\":\"");
        out.extend_from_slice(kind.0.as_bytes());
        out.extend_from_slice(b"\",\"time\":");
        write_time(out, time);
        out.push(b',');
        out.extend_from_slice(head);
        write_tags(out, tags);
        out.extend_from_slice(b",\"data\":{\"baseType\":\"");
        out.extend_from_slice(kind.1.as_bytes());
        out.extend_from_slice(b"\",\"baseData\":{\"ver\":2");
    }

    fn span<'a>(
        &self,
        span: &'a SpanData,
        mut tags: Tags<'a>,
        k: &Known<'a>,
        operation: Option<Tag<'a>>,
        head: &[u8],
        out: &mut Vec<u8>,
    ) {
        let request = matches!(span.span_kind, SpanKind::Server | SpanKind::Consumer);
        let method = k.method.or(k.method_old);
        let status = k.status.or(k.status_old);
        let error = matches!(span.status, Status::Error { .. });

        tags[T_OPERATION_ID] = Some(Tag::Trace(span.span_context.trace_id()));
        if span.parent_span_id != SpanId::INVALID {
            tags[T_PARENT_ID] = Some(Tag::Span(span.parent_span_id));
        }
        if let Some(user) = k.user_id.or(k.enduser_id) {
            tags[T_AUTH_USER_ID] = Some(Tag::Value(user));
        }
        if request {
            tags[T_OPERATION_NAME] = operation;
        }
        if request {
            self.open(REQUEST, span.start_time, head, &tags, out);
            self.request(span, k, method, status, error, out);
        } else {
            self.open(DEPENDENCY, span.start_time, head, &tags, out);
            let http_client = if span.span_kind == SpanKind::Client {
                method
            } else {
                None
            };
            self.dependency(span, k, http_client, status, out);
        }
        out.extend_from_slice(b"}}}");
    }

    fn request(
        &self,
        span: &SpanData,
        k: &Known<'_>,
        method: Option<&Value>,
        status: Option<&Value>,
        error: bool,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(b",\"id\":");
        Tag::Span(span.span_context.span_id()).write(out, 128);
        // SPEC 12: a gRPC call is named by its method, and its status is the gRPC one.
        let grpc = grpc_status(k);
        if let Some(source) = k
            .client_address
            .or(k.http_client_ip)
            .or(k.network_peer_address)
            .or(k.client_socket_address)
            .or(k.net_sock_peer_addr)
            .or(k.net_peer_ip)
        {
            out.extend_from_slice(b",\"source\":");
            json_value(out, source, 1024);
        }
        match (method, k.route) {
            _ if grpc.is_some() => {
                out.extend_from_slice(b",\"name\":");
                json_str(out, &span.name, 1024);
            }
            (Some(m), Some(r)) => {
                out.extend_from_slice(b",\"name\":");
                Tag::Pair(m, r).write(out, 1024);
            }
            (Some(m), None) => {
                out.extend_from_slice(b",\"name\":");
                json_value(out, m, 1024);
            }
            (None, _) if !span.name.is_empty() => {
                out.extend_from_slice(b",\"name\":");
                json_str(out, &span.name, 1024);
            }
            (None, _) => {}
        }
        out.extend_from_slice(b",\"duration\":");
        write_duration(out, span.start_time, span.end_time);
        out.extend_from_slice(b",\"responseCode\":");
        // SPEC 7: a request that ended in error without a response reports 500.
        let code = status.and_then(status_number);
        let synthetic_500 = error && code.is_none();
        let mut w = Limited::open(out, 1024);
        match (grpc, status) {
            (Some(g), _) => w.value(g),
            _ if synthetic_500 => w.str("500"),
            (None, Some(s)) => w.value(s),
            (None, None) => w.str(result_code(&span.status)),
        }
        w.close();
        // SPEC 7: 4xx and 5xx are failures, whatever the span status; SPEC 12: so is every
        // gRPC status but OK.
        let failed = match grpc {
            Some(g) => error || status_number(g) != Some(0),
            None => error || code.is_some_and(|c| c >= 400),
        };
        out.extend_from_slice(if failed {
            b",\"success\":false"
        } else {
            b",\"success\":true"
        });
        if let Some(url) = k.url_full.or(k.http_url) {
            out.extend_from_slice(b",\"url\":");
            json_value(out, url, 2048);
        } else if let Some(target) = k.url_path.or(k.http_target) {
            let query = if k.url_path.is_some() {
                k.url_query
            } else {
                None
            };
            out.extend_from_slice(b",\"url\":");
            let mut w = Limited::open(out, 2048);
            let host_name = k.server_address.or(k.net_host_name);
            let host_port = k.server_port.or(k.net_host_port);
            let scheme = k.url_scheme.or(k.http_scheme);
            let host = k.header_host.or(k.http_host);
            if let Some(scheme) = scheme {
                if let Some(host) = host {
                    w.value(scheme);
                    w.str("://");
                    w.value(host);
                } else if let (Some(name), Some(port)) = (host_name, host_port) {
                    w.value(scheme);
                    w.str("://");
                    w.value(name);
                    w.str(":");
                    w.value(port);
                }
            }
            if !starts_with_slash(target) {
                w.str("/");
            }
            w.value(target);
            if let Some(q) = query {
                w.str("?");
                w.value(q);
            }
            w.close();
        }
        // What SPEC 7 adds shows in the properties as attributes would (as the crate, given
        // the same attributes, shows them).
        let extras = [
            synthetic_500.then_some(("http.response.status_code", "500")),
            Some(("ai.operation.name", &*span.name)),
        ];
        self.span_properties(span, &extras, out);
    }

    fn dependency(
        &self,
        span: &SpanData,
        k: &Known<'_>,
        http_method: Option<&Value>,
        status: Option<&Value>,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(b",\"name\":");
        match http_method {
            // SPEC 12, as Microsoft's exporters: an HTTP call is `"{METHOD} {path}"`, so the
            // Dependencies view tells the calls to one host apart.
            Some(m) => {
                let url = k.url_full.or(k.http_url).map(|u| u.as_str());
                let mut w = Limited::open(out, 1024);
                w.value(m);
                w.str(" ");
                w.str(url.as_deref().map_or("/", url_path));
                w.close();
            }
            None => json_str(out, &span.name, 1024),
        }
        out.extend_from_slice(b",\"id\":");
        Tag::Span(span.span_context.span_id()).write(out, 128);
        out.extend_from_slice(b",\"resultCode\":");
        let mut w = Limited::open(out, 1024);
        match status {
            Some(s) => w.value(s),
            // SPEC 12, as Microsoft's exporters: no response is "0" (success says how it went).
            None => w.str("0"),
        }
        w.close();
        out.extend_from_slice(b",\"duration\":");
        write_duration(out, span.start_time, span.end_time);
        match span.status {
            Status::Unset => {}
            Status::Ok => out.extend_from_slice(b",\"success\":true"),
            Status::Error { .. } => out.extend_from_slice(b",\"success\":false"),
        }
        if let Some(data) = k
            .url_full
            .or(k.http_url)
            .or(k.db_query_text)
            .or(k.db_statement)
        {
            out.extend_from_slice(b",\"data\":");
            json_value(out, data, 8192);
        }
        let peer = k
            .server_address
            .or(k.network_peer_address)
            .or(k.server_socket_address)
            .or(k.net_sock_peer_name)
            .or(k.net_peer_name)
            .or(k.net_sock_peer_addr)
            .or(k.net_peer_ip);
        if let Some(host) = k.header_host.or(k.http_host) {
            out.extend_from_slice(b",\"target\":");
            json_value(out, host, 1024);
        } else if let Some(peer) = peer {
            out.extend_from_slice(b",\"target\":");
            let port = k
                .server_port
                .or(k.network_peer_port)
                .or(k.server_socket_port)
                .or(k.net_sock_peer_port)
                .or(k.net_peer_port);
            let mut w = Limited::open(out, 1024);
            w.value(peer);
            if let Some(port) = port {
                w.str(":");
                w.value(port);
            }
            w.close();
        } else if let Some(db) = k.db_namespace.or(k.db_name) {
            out.extend_from_slice(b",\"target\":");
            json_value(out, db, 1024);
        }
        let kind = if span.span_kind == SpanKind::Internal {
            Some(Tag::Str("InProc"))
        } else if let Some(v) = k
            .db_system_name
            .or(k.db_system)
            .or(k.messaging_system)
            .or(k.rpc_system_name)
            .or(k.rpc_system)
        {
            Some(Tag::Value(v))
        } else if k.http_prefix || self.resource_http_prefix {
            Some(Tag::Str("HTTP"))
        } else if k.db_prefix || self.resource_db_prefix {
            Some(Tag::Str("DB"))
        } else {
            None
        };
        if let Some(kind) = kind {
            out.extend_from_slice(b",\"type\":");
            kind.write(out, 1024);
        }
        self.span_properties(span, &[], out);
    }

    /// `,"properties":{…}` of a span's envelope: its attributes, then `extras` (as if appended
    /// to them; the last of a repeated key wins), then the resource's, which replace attributes
    /// of the same key, then `_MS.links`; `_MS.` attributes left out.
    fn span_properties(&self, span: &SpanData, extras: &[Option<(&str, &str)>], out: &mut Vec<u8>) {
        let mut props = Properties::new(out);
        let resource_keys = &self.resource_keys;
        let resource_lens = self.resource_key_lens;
        props.attributes(&span.attributes, &[], |key| {
            extras.iter().flatten().any(|(k, _)| *k == key)
                || (resource_lens & len_bit(key.len()) != 0
                    && resource_keys.iter().any(|k| k == key))
        });
        for (key, value) in extras.iter().flatten() {
            if !resource_keys.iter().any(|k| k == key) {
                props.key(key);
                json_str(props.out, value, PROPERTY_VALUE_MAX);
            }
        }
        if !self.resource_properties.is_empty() {
            props.separator();
            props.out.extend_from_slice(&self.resource_properties);
        }
        let links = &span.links.links;
        if !links.is_empty() {
            let mut text = Vec::with_capacity(links.len().min(LINKS_MAX) * 76 + 2);
            text.push(b'[');
            for (i, link) in links.iter().take(LINKS_MAX).enumerate() {
                if i > 0 {
                    text.push(b',');
                }
                text.extend_from_slice(b"{\"operation_Id\":\"");
                hex_into(&mut text, &link.span_context.trace_id().to_bytes());
                text.extend_from_slice(b"\",\"id\":\"");
                hex_into(&mut text, &link.span_context.span_id().to_bytes());
                text.extend_from_slice(b"\"}");
            }
            text.push(b']');
            props.key("_MS.links");
            // Only ASCII was written.
            json_str(
                props.out,
                std::str::from_utf8(&text).unwrap_or("[]"),
                PROPERTY_VALUE_MAX,
            );
        }
        props.close();
    }

    /// The envelope of one span event, in the span's operation (its parent is the span).
    fn event<'a>(
        &self,
        span: &'a SpanData,
        event: &Event,
        base: &'a [Option<String>],
        operation: Option<Tag<'a>>,
        head: &[u8],
        out: &mut Vec<u8>,
    ) {
        let mut tags = base_tags(base);
        tags[T_OPERATION_ID] = Some(Tag::Trace(span.span_context.trace_id()));
        tags[T_PARENT_ID] = Some(Tag::Span(span.span_context.span_id()));
        if event.name == "exception" {
            // SPEC 12: an exception of a request is found under the request's operation.
            tags[T_OPERATION_NAME] = operation;
        }
        let attrs = &event.attributes;
        // The last of a repeated key wins, as in the crate's hash map.
        let find = |key: &str| {
            attrs
                .iter()
                .rev()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| &kv.value)
        };
        match event.name.as_ref() {
            "exception" => {
                self.open(EXCEPTION, event.timestamp, head, &tags, out);
                out.extend_from_slice(b",\"exceptions\":[{\"typeName\":");
                match find("exception.type") {
                    Some(v) => json_value(out, v, 1024),
                    None => json_str(out, "<no type>", 1024),
                }
                out.extend_from_slice(b",\"message\":");
                match find("exception.message") {
                    Some(v) => json_value(out, v, MESSAGE_MAX),
                    None => json_str(out, "<no message>", MESSAGE_MAX),
                }
                if let Some(stack) = find("exception.stacktrace") {
                    out.extend_from_slice(b",\"stack\":");
                    json_value(out, stack, MESSAGE_MAX);
                }
                out.extend_from_slice(b"}]");
                event_properties(
                    attrs,
                    &[
                        "exception.type",
                        "exception.message",
                        "exception.stacktrace",
                    ],
                    out,
                );
            }
            "ai.custom" => {
                self.open(EVENT, event.timestamp, head, &tags, out);
                out.extend_from_slice(b",\"name\":");
                match find("ai.customEvent.name") {
                    Some(v) => json_value(out, v, 512),
                    None => json_str(out, "<no name>", 512),
                }
                event_properties(attrs, &["ai.customEvent.name"], out);
            }
            name => {
                self.open(MESSAGE, event.timestamp, head, &tags, out);
                out.extend_from_slice(b",\"message\":");
                json_str(
                    out,
                    if name.is_empty() {
                        "<no message>"
                    } else {
                        name
                    },
                    MESSAGE_MAX,
                );
                let level = find("level").and_then(severity_level);
                if let Some(level) = level {
                    out.extend_from_slice(b",\"severityLevel\":");
                    out.push(b'0' + level);
                }
                let removed: &[&str] = if level.is_some() { &["level"] } else { &[] };
                event_properties(attrs, removed, out);
            }
        }
        out.extend_from_slice(b"}}}");
    }
}

/// A `tracing` level as Application Insights' severity (Verbose 0 ... Error 3).
fn severity_level(v: &Value) -> Option<u8> {
    match v.as_str().as_ref() {
        "TRACE" | "DEBUG" => Some(0),
        "INFO" => Some(1),
        "WARN" => Some(2),
        "ERROR" => Some(3),
        _ => None,
    }
}

/// `,"properties":{…}` of an event's envelope: its attributes but `removed` (the ones that
/// became fields) and `_MS.` keys. The resource's are not repeated in events (as the crate).
fn event_properties(attrs: &[KeyValue], removed: &[&str], out: &mut Vec<u8>) {
    let mut props = Properties::new(out);
    props.attributes(attrs, removed, |_| false);
    props.close();
}

/// Writes `,"properties":{…}`, opened at the first property, nothing if there is none.
struct Properties<'o> {
    out: &'o mut Vec<u8>,
    open: bool,
}

impl<'o> Properties<'o> {
    fn new(out: &'o mut Vec<u8>) -> Self {
        Properties { out, open: false }
    }

    fn separator(&mut self) {
        self.out.extend_from_slice(if self.open {
            b","
        } else {
            b",\"properties\":{"
        });
        self.open = true;
    }

    fn key(&mut self, key: &str) {
        self.separator();
        json_str(self.out, key, PROPERTY_KEY_MAX);
        self.out.push(b':');
    }

    /// Attributes as properties, keys cut to the limit. An attribute whose (cut) key comes
    /// again later, or is `shadowed`, is left out (the later value wins, as in a map); so are
    /// `_MS.` keys and the keys `removed` (those that became envelope fields).
    fn attributes(
        &mut self,
        attrs: &[KeyValue],
        removed: &[&str],
        shadowed: impl Fn(&str) -> bool,
    ) {
        // The key lengths that come more than once: only a key of one of them can come again.
        let (mut seen, mut repeated) = (0u64, 0u64);
        for kv in attrs {
            let bit = len_bit(json::cut(kv.key.as_str(), PROPERTY_KEY_MAX).len());
            repeated |= seen & bit;
            seen |= bit;
        }
        for (i, kv) in attrs.iter().enumerate() {
            let full = kv.key.as_str();
            if full.starts_with("_MS.") || removed.contains(&full) {
                continue;
            }
            let key = json::cut(full, PROPERTY_KEY_MAX);
            if shadowed(key)
                || (repeated & len_bit(key.len()) != 0
                    && attrs[i + 1..]
                        .iter()
                        .any(|later| json::cut(later.key.as_str(), PROPERTY_KEY_MAX) == key))
            {
                continue;
            }
            self.key(key);
            json_value(self.out, &kv.value, PROPERTY_VALUE_MAX);
        }
    }

    fn close(self) {
        if self.open {
            self.out.push(b'}');
        }
    }
}

/// A key length as one bit of a 64-bit set (lengths 64 apart share a bit: a filter, never
/// the answer).
fn len_bit(len: usize) -> u64 {
    1 << (len % 64)
}

fn hex_into(out: &mut Vec<u8>, bytes: &[u8]) {
    for b in bytes {
        out.push(json::HEX[usize::from(b >> 4)]);
        out.push(json::HEX[usize::from(b & 0xf)]);
    }
}

/// A span's own sampling percentage (`_MS.sampleRate`), when it is one (0 < rate <= 100).
fn sample_rate_override(v: &Value) -> Option<f64> {
    let rate = match v {
        Value::F64(f) => *f,
        Value::I64(i) => *i as f64,
        _ => return None,
    };
    (rate.is_finite() && rate > 0.0 && rate <= 100.0).then_some(rate)
}

/// `"sampleRate":…,`
fn write_rate(out: &mut Vec<u8>, rate: f64) {
    out.extend_from_slice(b"\"sampleRate\":");
    match serde_json::to_vec(&rate) {
        Ok(v) => out.extend_from_slice(&v),
        Err(_) => out.extend_from_slice(b"100.0"),
    }
    out.push(b',');
}

/// An envelope's tags, starting from those of the resource (and scope).
fn base_tags(base: &[Option<String>]) -> Tags<'_> {
    let mut tags: Tags<'_> = [None; TAGS.len()];
    for (slot, value) in tags.iter_mut().zip(base) {
        if let Some(v) = value {
            *slot = Some(Tag::Str(v));
        }
    }
    tags
}

fn status_number(v: &Value) -> Option<i64> {
    match v {
        Value::I64(i) => Some(*i),
        Value::String(s) => s.as_str().parse().ok(),
        _ => None,
    }
}

/// A gRPC server span's status code (`rpc.system` `grpc` with `rpc.grpc.status_code`).
fn grpc_status<'a>(k: &Known<'a>) -> Option<&'a Value> {
    let system = k.rpc_system.or(k.rpc_system_name)?;
    (system.as_str() == "grpc").then_some(k.rpc_grpc_status_code?)
}

/// A request's `ai.operation.name` (SPEC 7: the request name, even when no route matched);
/// `None` for other spans.
fn request_operation<'a>(span: &'a SpanData, k: &Known<'a>) -> Option<Tag<'a>> {
    if !matches!(span.span_kind, SpanKind::Server | SpanKind::Consumer) {
        return None;
    }
    Some(match (k.method.or(k.method_old), k.route) {
        (Some(m), Some(r)) => Tag::Pair(m, r),
        _ => Tag::Str(&span.name),
    })
}

/// The path of a URL, as a dependency name shows it: without scheme, authority, query or
/// fragment; `/` when empty.
fn url_path(url: &str) -> &str {
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            match after.find(['/', '?', '#']) {
                Some(j) => &after[j..],
                None => "",
            }
        }
        None => url,
    };
    let path = match rest.find(['?', '#']) {
        Some(j) => &rest[..j],
        None => rest,
    };
    if path.is_empty() { "/" } else { path }
}

fn result_code(status: &Status) -> &'static str {
    match status {
        Status::Unset => "0",
        Status::Ok => "1",
        Status::Error { .. } => "2",
    }
}
