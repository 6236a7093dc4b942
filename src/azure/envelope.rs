//! Our own envelope path: `SpanData` written straight into one JSON buffer per batch, with no
//! per-field allocation, hash map or B-tree (issue 6: the crate's conversion, serde and gzip at
//! level 6 cost about 9 µs of CPU per span on the server's core).
//!
//! It covers the spans nearly every request makes: any kind, without events, links or
//! instrumentation-scope attributes. Those others (an exception event, say) still go through
//! `opentelemetry-application-insights`. The output is the crate's envelope, field for field,
//! with our SPEC section 7 adjustments built in (see `exporter::adjust`), and one fix: long
//! values are cut at a character boundary (the crate cuts at a byte count and panics inside a
//! multi-byte character). A test compares both paths over generated spans.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::Value;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

/// Application Insights context tags and their length limits, sorted by name.
const TAGS: [(&str, usize); 26] = [
    ("ai.application.ver", 1024),
    ("ai.cloud.role", 256),
    ("ai.cloud.roleInstance", 256),
    ("ai.device.id", 1024),
    ("ai.device.locale", 64),
    ("ai.device.model", 256),
    ("ai.device.oemName", 256),
    ("ai.device.osVersion", 256),
    ("ai.device.type", 64),
    ("ai.internal.agentVersion", 64),
    ("ai.internal.nodeName", 256),
    ("ai.internal.sdkVersion", 64),
    ("ai.location.city", 256),
    ("ai.location.country", 256),
    ("ai.location.ip", 46),
    ("ai.location.province", 256),
    ("ai.operation.correlationVector", 64),
    ("ai.operation.id", 128),
    ("ai.operation.name", 1024),
    ("ai.operation.parentId", 128),
    ("ai.operation.syntheticSource", 1024),
    ("ai.session.id", 64),
    ("ai.session.isFirst", 5),
    ("ai.user.accountId", 1024),
    ("ai.user.authUserId", 1024),
    ("ai.user.id", 128),
];
const T_APP_VER: usize = 0;
const T_ROLE: usize = 1;
const T_ROLE_INSTANCE: usize = 2;
const T_DEVICE_ID: usize = 3;
const T_DEVICE_MODEL: usize = 5;
const T_SDK_VERSION: usize = 11;
const T_OPERATION_ID: usize = 17;
const T_OPERATION_NAME: usize = 18;
const T_PARENT_ID: usize = 19;
const T_AUTH_USER_ID: usize = 24;

fn tag_index(key: &str) -> Option<usize> {
    TAGS.binary_search_by(|(k, _)| (*k).cmp(key)).ok()
}

const PROPERTY_KEY_MAX: usize = 150;
const PROPERTY_VALUE_MAX: usize = 8192;

/// Whether a span can take our path (the rest goes through the crate).
pub(crate) fn fast_path(span: &SpanData) -> bool {
    span.events.events.is_empty()
        && span.links.links.is_empty()
        && span.instrumentation_scope.attributes().next().is_none()
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as the inside of a JSON string.
fn escape(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// An integer's decimal digits, without allocating.
struct Digits {
    buf: [u8; 20],
    start: usize,
    negative: bool,
}

impl Digits {
    fn new(v: i64) -> Digits {
        let mut buf = [0u8; 20];
        let mut n = v.unsigned_abs();
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Digits {
            buf,
            start,
            negative: v < 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or_default()
    }
}

/// Writes one JSON string of at most `max` bytes (before escaping) from several pieces.
struct Limited<'o> {
    out: &'o mut Vec<u8>,
    left: usize,
}

impl<'o> Limited<'o> {
    fn open(out: &'o mut Vec<u8>, max: usize) -> Limited<'o> {
        out.push(b'"');
        Limited { out, left: max }
    }

    fn str(&mut self, s: &str) {
        if self.left == 0 {
            return;
        }
        let s = cut(s, self.left);
        self.left -= s.len();
        escape(self.out, s);
    }

    fn int(&mut self, v: i64) {
        let d = Digits::new(v);
        if d.negative {
            self.str("-");
        }
        self.str(d.as_str());
    }

    /// A value as the crate prints it (`Value::as_str`), without allocating for the common
    /// kinds.
    fn value(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.str(s.as_str()),
            Value::I64(i) => self.int(*i),
            Value::Bool(b) => self.str(if *b { "true" } else { "false" }),
            other => self.str(&other.as_str()),
        }
    }

    fn hex(&mut self, bytes: &[u8]) {
        for b in bytes {
            if self.left == 0 {
                return;
            }
            self.out.push(HEX[usize::from(b >> 4)]);
            self.left -= 1;
            if self.left == 0 {
                return;
            }
            self.out.push(HEX[usize::from(b & 0xf)]);
            self.left -= 1;
        }
    }

    fn close(self) {
        self.out.push(b'"');
    }
}

fn json_str(out: &mut Vec<u8>, s: &str, max: usize) {
    let mut w = Limited::open(out, max);
    w.str(s);
    w.close();
}

fn starts_with_slash(v: &Value) -> bool {
    match v {
        Value::String(s) => s.as_str().starts_with('/'),
        Value::I64(_) | Value::Bool(_) => false,
        other => other.as_str().starts_with('/'),
    }
}

/// What a context tag holds for one span, written when the envelope is.
#[derive(Clone, Copy)]
enum Tag<'a> {
    Str(&'a str),
    Value(&'a Value),
    Trace(TraceId),
    Span(SpanId),
    /// `"{method} {route}"`.
    Pair(&'a Value, &'a Value),
}

impl Tag<'_> {
    fn write(self, out: &mut Vec<u8>, max: usize) {
        let mut w = Limited::open(out, max);
        match self {
            Tag::Str(s) => w.str(s),
            Tag::Value(v) => w.value(v),
            Tag::Trace(id) => w.hex(&id.to_bytes()),
            Tag::Span(id) => w.hex(&id.to_bytes()),
            Tag::Pair(a, b) => {
                w.value(a);
                w.str(" ");
                w.value(b);
            }
        }
        w.close();
    }
}

/// The attributes the envelope fields are made of, found in one pass (the last of a repeated
/// key wins, as in the crate's hash map).
#[derive(Default)]
struct Known<'a> {
    method: Option<&'a Value>,
    method_old: Option<&'a Value>,
    route: Option<&'a Value>,
    status: Option<&'a Value>,
    status_old: Option<&'a Value>,
    url_full: Option<&'a Value>,
    http_url: Option<&'a Value>,
    url_path: Option<&'a Value>,
    url_query: Option<&'a Value>,
    http_target: Option<&'a Value>,
    url_scheme: Option<&'a Value>,
    http_scheme: Option<&'a Value>,
    header_host: Option<&'a Value>,
    http_host: Option<&'a Value>,
    server_address: Option<&'a Value>,
    net_host_name: Option<&'a Value>,
    server_port: Option<&'a Value>,
    net_host_port: Option<&'a Value>,
    client_address: Option<&'a Value>,
    http_client_ip: Option<&'a Value>,
    network_peer_address: Option<&'a Value>,
    client_socket_address: Option<&'a Value>,
    net_sock_peer_addr: Option<&'a Value>,
    net_peer_ip: Option<&'a Value>,
    network_peer_port: Option<&'a Value>,
    server_socket_address: Option<&'a Value>,
    server_socket_port: Option<&'a Value>,
    net_sock_peer_name: Option<&'a Value>,
    net_peer_name: Option<&'a Value>,
    net_sock_peer_port: Option<&'a Value>,
    net_peer_port: Option<&'a Value>,
    db_query_text: Option<&'a Value>,
    db_statement: Option<&'a Value>,
    db_namespace: Option<&'a Value>,
    db_name: Option<&'a Value>,
    db_system_name: Option<&'a Value>,
    db_system: Option<&'a Value>,
    messaging_system: Option<&'a Value>,
    rpc_system_name: Option<&'a Value>,
    rpc_system: Option<&'a Value>,
    user_id: Option<&'a Value>,
    enduser_id: Option<&'a Value>,
    http_prefix: bool,
    db_prefix: bool,
}

impl<'a> Known<'a> {
    fn scan(span: &'a SpanData, tags: &mut [Option<Tag<'a>>; 26]) -> Known<'a> {
        let mut k = Known::default();
        for kv in &span.attributes {
            let key = kv.key.as_str();
            let v = Some(&kv.value);
            let slot = match key {
                "http.request.method" => &mut k.method,
                "http.method" => &mut k.method_old,
                "http.route" => &mut k.route,
                "http.response.status_code" => &mut k.status,
                "http.status_code" => &mut k.status_old,
                "url.full" => &mut k.url_full,
                "http.url" => &mut k.http_url,
                "url.path" => &mut k.url_path,
                "url.query" => &mut k.url_query,
                "http.target" => &mut k.http_target,
                "url.scheme" => &mut k.url_scheme,
                "http.scheme" => &mut k.http_scheme,
                "http.request.header.host" => &mut k.header_host,
                "http.host" => &mut k.http_host,
                "server.address" => &mut k.server_address,
                "net.host.name" => &mut k.net_host_name,
                "server.port" => &mut k.server_port,
                "net.host.port" => &mut k.net_host_port,
                "client.address" => &mut k.client_address,
                "http.client_ip" => &mut k.http_client_ip,
                "network.peer.address" => &mut k.network_peer_address,
                "client.socket.address" => &mut k.client_socket_address,
                "net.sock.peer.addr" => &mut k.net_sock_peer_addr,
                "net.peer.ip" => &mut k.net_peer_ip,
                "network.peer.port" => &mut k.network_peer_port,
                "server.socket.address" => &mut k.server_socket_address,
                "server.socket.port" => &mut k.server_socket_port,
                "net.sock.peer.name" => &mut k.net_sock_peer_name,
                "net.peer.name" => &mut k.net_peer_name,
                "net.sock.peer.port" => &mut k.net_sock_peer_port,
                "net.peer.port" => &mut k.net_peer_port,
                "db.query.text" => &mut k.db_query_text,
                "db.statement" => &mut k.db_statement,
                "db.namespace" => &mut k.db_namespace,
                "db.name" => &mut k.db_name,
                "db.system.name" => &mut k.db_system_name,
                "db.system" => &mut k.db_system,
                "messaging.system" => &mut k.messaging_system,
                "rpc.system.name" => &mut k.rpc_system_name,
                "rpc.system" => &mut k.rpc_system,
                "user.id" => &mut k.user_id,
                "enduser.id" => &mut k.enduser_id,
                _ => {
                    if key.starts_with("ai.")
                        && let Some(i) = tag_index(key)
                    {
                        tags[i] = Some(Tag::Value(&kv.value));
                    }
                    if key.starts_with("http.") {
                        k.http_prefix = true;
                    } else if key.starts_with("db.") {
                        k.db_prefix = true;
                    }
                    continue;
                }
            };
            *slot = v;
            if key.starts_with("http.") {
                k.http_prefix = true;
            } else if key.starts_with("db.") {
                k.db_prefix = true;
            }
        }
        k
    }
}

/// Writes envelopes for one exporter: what depends on the resource and the settings is
/// computed once, in [`EnvelopeWriter::set_resource`].
pub(crate) struct EnvelopeWriter {
    /// `"sampleRate":…,"iKey":"…",`: holds the instrumentation key, so never printed.
    head: Vec<u8>,
    resource_tags: Vec<Option<String>>,
    /// The resource's properties (`_MS.` keys left out), already written as `"k":"v"` pairs.
    resource_properties: Vec<u8>,
    /// Their keys (cut to the property key limit): a span attribute with one of them is
    /// replaced by the resource's value, as in the crate.
    resource_keys: Vec<String>,
    resource_http_prefix: bool,
    resource_db_prefix: bool,
}

impl std::fmt::Debug for EnvelopeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeWriter").finish_non_exhaustive()
    }
}

impl EnvelopeWriter {
    /// A writer for `instrumentation_key` and a sampling percentage (`sampleRate`).
    pub(crate) fn new(instrumentation_key: &str, sample_rate: f64) -> EnvelopeWriter {
        let mut head = Vec::with_capacity(80);
        head.extend_from_slice(b"\"sampleRate\":");
        match serde_json::to_vec(&sample_rate) {
            Ok(v) => head.extend_from_slice(&v),
            Err(_) => head.extend_from_slice(b"100.0"),
        }
        head.extend_from_slice(b",\"iKey\":");
        json_str(&mut head, instrumentation_key, 40);
        head.push(b',');
        let mut writer = EnvelopeWriter {
            head,
            resource_tags: vec![None; TAGS.len()],
            resource_properties: Vec::new(),
            resource_keys: Vec::new(),
            resource_http_prefix: false,
            resource_db_prefix: false,
        };
        writer.set_resource(&Resource::builder_empty().build());
        writer
    }

    /// Computes the tags and properties every envelope takes from the resource.
    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        let mut tags: Vec<Option<String>> = vec![None; TAGS.len()];
        let mut get = std::collections::HashMap::new();
        for (k, v) in resource.iter() {
            let key = k.as_str();
            if key.starts_with("ai.")
                && let Some(i) = tag_index(key)
            {
                tags[i] = Some(v.as_str().into_owned());
            }
            get.insert(key, v);
        }
        let text = |k: &str| get.get(k).map(|v| v.as_str().into_owned());
        if let Some(name) = text("service.name") {
            let mut role = name.clone();
            if let Some(ns) = text("service.namespace") {
                role = format!("{ns}.{role}");
            }
            if name.starts_with("unknown_service:")
                && let Some(k8s) = [
                    "k8s.deployment.name",
                    "k8s.replicaset.name",
                    "k8s.statefulset.name",
                    "k8s.job.name",
                    "k8s.cronjob.name",
                    "k8s.daemonset.name",
                ]
                .iter()
                .find_map(|k| text(k))
            {
                role = k8s;
            }
            tags[T_ROLE] = Some(role);
        }
        if let Some(instance) = text("k8s.pod.name").or_else(|| text("service.instance.id")) {
            tags[T_ROLE_INSTANCE] = Some(instance);
        }
        if let Some(id) = text("device.id") {
            tags[T_DEVICE_ID] = Some(id);
        }
        if let Some(model) = text("device.model.name") {
            tags[T_DEVICE_MODEL] = Some(model);
        }
        if let Some(version) = text("service.version") {
            tags[T_APP_VER] = Some(version);
        }
        if let Some(sdk) = text("telemetry.sdk.name") {
            let version = text("telemetry.sdk.version").unwrap_or_else(|| "0.0.0".into());
            tags[T_SDK_VERSION] = Some(format!("{sdk}:{version}"));
        }
        for (i, tag) in tags.iter_mut().enumerate() {
            if let Some(t) = tag {
                let keep = cut(t, TAGS[i].1).len();
                t.truncate(keep);
            }
        }
        self.resource_tags = tags;

        let mut props: Vec<(String, String)> = resource
            .iter()
            .filter(|(k, _)| !k.as_str().starts_with("_MS."))
            .map(|(k, v)| {
                (
                    cut(k.as_str(), PROPERTY_KEY_MAX).to_string(),
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
        self.resource_properties = fragment;
    }

    /// Appends the envelope of `span` (which passed [`fast_path`]) to `out`.
    pub(crate) fn write(&self, span: &SpanData, out: &mut Vec<u8>) {
        let request = matches!(span.span_kind, SpanKind::Server | SpanKind::Consumer);
        let mut tags: [Option<Tag<'_>>; 26] = [None; 26];
        for (slot, value) in tags.iter_mut().zip(&self.resource_tags) {
            if let Some(v) = value {
                *slot = Some(Tag::Str(v));
            }
        }
        let k = Known::scan(span, &mut tags);
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
            // SPEC 7: the request name, even when no route matched.
            tags[T_OPERATION_NAME] = Some(match (method, k.route) {
                (Some(m), Some(r)) => Tag::Pair(m, r),
                _ => Tag::Str(&span.name),
            });
        }

        out.extend_from_slice(if request {
            b"{\"name\":\"Microsoft.ApplicationInsights.Request\",\"time\":"
        } else {
            b"{\"name\":\"Microsoft.ApplicationInsights.RemoteDependency\",\"time\":"
        });
        write_time(out, span.start_time);
        out.push(b',');
        out.extend_from_slice(&self.head);
        out.extend_from_slice(b"\"tags\":{");
        let mut first = true;
        for (i, tag) in tags.iter().enumerate() {
            if let Some(tag) = tag {
                if !first {
                    out.push(b',');
                }
                first = false;
                out.push(b'"');
                out.extend_from_slice(TAGS[i].0.as_bytes());
                out.extend_from_slice(b"\":");
                tag.write(out, TAGS[i].1);
            }
        }
        out.extend_from_slice(b"},\"data\":{\"baseType\":");
        if request {
            self.request(span, &k, method, status, error, out);
        } else {
            self.dependency(span, &k, status, out);
        }
        out.extend_from_slice(b"}}}");
    }

    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        span: &SpanData,
        k: &Known<'_>,
        method: Option<&Value>,
        status: Option<&Value>,
        error: bool,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(b"\"RequestData\",\"baseData\":{\"ver\":2,\"id\":");
        Tag::Span(span.span_context.span_id()).write(out, 128);
        if let Some(source) = k
            .client_address
            .or(k.http_client_ip)
            .or(k.network_peer_address)
            .or(k.client_socket_address)
            .or(k.net_sock_peer_addr)
            .or(k.net_peer_ip)
        {
            out.extend_from_slice(b",\"source\":");
            Tag::Value(source).write(out, 1024);
        }
        match (method, k.route) {
            (Some(m), Some(r)) => {
                out.extend_from_slice(b",\"name\":");
                Tag::Pair(m, r).write(out, 1024);
            }
            (Some(m), None) => {
                out.extend_from_slice(b",\"name\":");
                Tag::Value(m).write(out, 1024);
            }
            (None, _) if !span.name.is_empty() => {
                out.extend_from_slice(b",\"name\":");
                json_str(out, &span.name, 1024);
            }
            (None, _) => {}
        }
        out.extend_from_slice(b",\"duration\":");
        write_duration(out, span);
        out.extend_from_slice(b",\"responseCode\":");
        // SPEC 7: a request that ended in error without a response reports 500.
        let code = status.and_then(status_number);
        let synthetic_500 = error && code.is_none();
        let mut w = Limited::open(out, 1024);
        match status {
            _ if synthetic_500 => w.str("500"),
            Some(s) => w.value(s),
            None => w.str(result_code(&span.status)),
        }
        w.close();
        // SPEC 7: 4xx and 5xx are failures, whatever the span status.
        let failed = error || code.is_some_and(|c| c >= 400);
        out.extend_from_slice(if failed {
            b",\"success\":false"
        } else {
            b",\"success\":true"
        });
        if let Some(url) = k.url_full.or(k.http_url) {
            out.extend_from_slice(b",\"url\":");
            Tag::Value(url).write(out, 2048);
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
        // The crate path has these as attributes too (`exporter::adjust`): the same here.
        let extras = [
            synthetic_500.then_some(("http.response.status_code", "500")),
            Some(("ai.operation.name", &*span.name)),
        ];
        self.properties(span, &extras, out);
    }

    fn dependency(
        &self,
        span: &SpanData,
        k: &Known<'_>,
        status: Option<&Value>,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(b"\"RemoteDependencyData\",\"baseData\":{\"ver\":2,\"name\":");
        json_str(out, &span.name, 1024);
        out.extend_from_slice(b",\"id\":");
        Tag::Span(span.span_context.span_id()).write(out, 128);
        out.extend_from_slice(b",\"resultCode\":");
        let mut w = Limited::open(out, 1024);
        match status {
            Some(s) => w.value(s),
            None => w.str(result_code(&span.status)),
        }
        w.close();
        out.extend_from_slice(b",\"duration\":");
        write_duration(out, span);
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
            Tag::Value(data).write(out, 8192);
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
            Tag::Value(host).write(out, 1024);
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
            Tag::Value(db).write(out, 1024);
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
        self.properties(span, &[], out);
    }

    /// `,"properties":{…}`: the span's attributes, then `extras` (as if appended to them;
    /// the last of a repeated key wins), then the resource's, which replace attributes of the
    /// same key; `_MS.` keys left out.
    fn properties(&self, span: &SpanData, extras: &[Option<(&str, &str)>], out: &mut Vec<u8>) {
        let attrs = &span.attributes;
        let mut wrote = false;
        let shadowed = |key: &str, later: &[opentelemetry::KeyValue]| {
            later
                .iter()
                .any(|kv| cut(kv.key.as_str(), PROPERTY_KEY_MAX) == key)
                || extras.iter().flatten().any(|(k, _)| *k == key)
                || self.resource_keys.iter().any(|k| k == key)
        };
        let mut open = |out: &mut Vec<u8>| {
            out.extend_from_slice(if wrote { b"," } else { b",\"properties\":{" });
            wrote = true;
        };
        for (i, kv) in attrs.iter().enumerate() {
            let full = kv.key.as_str();
            if full.starts_with("_MS.") {
                continue;
            }
            let key = cut(full, PROPERTY_KEY_MAX);
            if shadowed(key, &attrs[i + 1..]) {
                continue;
            }
            open(out);
            json_str(out, key, PROPERTY_KEY_MAX);
            out.push(b':');
            Tag::Value(&kv.value).write(out, PROPERTY_VALUE_MAX);
        }
        for (key, value) in extras.iter().flatten() {
            if self.resource_keys.iter().any(|k| k == key) {
                continue;
            }
            open(out);
            json_str(out, key, PROPERTY_KEY_MAX);
            out.push(b':');
            json_str(out, value, PROPERTY_VALUE_MAX);
        }
        if !self.resource_properties.is_empty() {
            open(out);
            out.extend_from_slice(&self.resource_properties);
        }
        if wrote {
            out.push(b'}');
        }
    }
}

fn status_number(v: &Value) -> Option<i64> {
    match v {
        Value::I64(i) => Some(*i),
        Value::String(s) => s.as_str().parse().ok(),
        _ => None,
    }
}

fn result_code(status: &Status) -> &'static str {
    match status {
        Status::Unset => "0",
        Status::Ok => "1",
        Status::Error { .. } => "2",
    }
}

fn two(out: &mut Vec<u8>, v: u64) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// `"d.hh:mm:ss.ffffff"` (the crate's format: whole days first, microseconds last).
fn write_duration(out: &mut Vec<u8>, span: &SpanData) {
    let d = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let micros = d.as_micros();
    let secs = (micros / 1_000_000) as u64;
    let frac = (micros % 1_000_000) as u64;
    out.push(b'"');
    let days = Digits::new(i64::try_from(secs / 86_400).unwrap_or(i64::MAX));
    out.extend_from_slice(days.as_str().as_bytes());
    out.push(b'.');
    two(out, secs / 3600 % 24);
    out.push(b':');
    two(out, secs / 60 % 60);
    out.push(b':');
    two(out, secs % 60);
    out.push(b'.');
    let mut digits = [b'0'; 6];
    let mut f = frac;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    out.extend_from_slice(&digits);
    out.push(b'"');
}

/// The civil date (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `"YYYY-MM-DDThh:mm:ss.mmmZ"` (RFC 3339, UTC, milliseconds, as the crate writes it).
fn write_time(out: &mut Vec<u8>, t: SystemTime) {
    let (secs, millis) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            u64::from(d.subsec_millis()),
        ),
        Err(e) => {
            let d = e.duration();
            let mut s = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            let mut nanos = u64::from(d.subsec_nanos());
            if nanos > 0 {
                s -= 1;
                nanos = 1_000_000_000 - nanos;
            }
            (s, nanos / 1_000_000)
        }
    };
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400) as u64;
    let (year, month, day) = civil(days);
    out.push(b'"');
    let y = Digits::new(year);
    if y.negative {
        out.push(b'-');
    }
    for _ in y.as_str().len()..4 {
        out.push(b'0');
    }
    out.extend_from_slice(y.as_str().as_bytes());
    out.push(b'-');
    two(out, month);
    out.push(b'-');
    two(out, day);
    out.push(b'T');
    two(out, rest / 3600);
    out.push(b':');
    two(out, rest / 60 % 60);
    out.push(b':');
    two(out, rest % 60);
    out.push(b'.');
    out.push(b'0' + (millis / 100) as u8);
    two(out, millis % 100);
    out.extend_from_slice(b"Z\"");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use bytes::Bytes;
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{InstrumentationScope, KeyValue, Value};
    use opentelemetry_http::{HttpClient, HttpError, Request, Response};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
    use proptest::prelude::*;
    use serde_json::Value as Json;

    use super::{EnvelopeWriter, fast_path};

    const KEY: &str = "0d3c4f2a-5b6e-4c7d-8e9f-a0b1c2d3e4f5";

    /// Captures what the crate would send, to compare its envelopes with ours.
    #[derive(Debug, Clone, Default)]
    struct Capture(Arc<Mutex<Vec<Bytes>>>);

    #[async_trait::async_trait]
    impl HttpClient for Capture {
        async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
            self.0.lock().unwrap().push(request.into_body());
            Ok(Response::builder().status(200).body(Bytes::from_static(
                b"{\"itemsReceived\":0,\"itemsAccepted\":0,\"errors\":[]}",
            ))?)
        }
    }

    /// The crate's envelopes for `spans`, after our adjustments.
    fn crate_envelopes(spans: Vec<SpanData>, resource: &Resource, rate: f64) -> Vec<Json> {
        let capture = Capture::default();
        #[allow(deprecated)]
        let mut exporter =
            opentelemetry_application_insights::Exporter::new_from_connection_string(
                format!("InstrumentationKey={KEY}"),
                capture.clone(),
            )
            .unwrap()
            .with_sample_rate(rate);
        exporter.set_resource(resource);
        let mut spans = spans;
        for span in &mut spans {
            super::super::exporter::adjust(span);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(exporter.export(spans)).unwrap();
        let bodies = capture.0.lock().unwrap();
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bodies[0][..]), &mut raw)
            .unwrap();
        serde_json::from_slice(&raw).unwrap()
    }

    fn our_envelopes(spans: &[SpanData], resource: &Resource, rate: f64) -> Vec<Json> {
        let mut writer = EnvelopeWriter::new(KEY, rate * 100.0);
        writer.set_resource(resource);
        let mut body = vec![b'['];
        for (i, span) in spans.iter().enumerate() {
            assert!(fast_path(span));
            if i > 0 {
                body.push(b',');
            }
            writer.write(span, &mut body);
        }
        body.push(b']');
        serde_json::from_slice(&body).unwrap_or_else(|e| {
            let text = String::from_utf8_lossy(&body);
            panic!("{e}: {}", &text[..text.len().min(600)])
        })
    }

    fn span(
        kind: SpanKind,
        name: &str,
        attributes: Vec<KeyValue>,
        status: Status,
        parent: u64,
        start_ms: i64,
        micros: u64,
    ) -> SpanData {
        let start = if start_ms >= 0 {
            UNIX_EPOCH + Duration::from_millis(start_ms as u64) + Duration::from_nanos(123_456)
        } else {
            UNIX_EPOCH - Duration::from_millis(start_ms.unsigned_abs()) + Duration::from_nanos(1)
        };
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(0x0123_4567_89ab_cdef_0011_2233_4455_6677u128),
                SpanId::from(0x00ab_cdef_0123_4567u64),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: kind,
            name: name.to_string().into(),
            start_time: start,
            end_time: start + Duration::from_micros(micros),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: InstrumentationScope::builder("t").build(),
        }
    }

    fn server_resource() -> Resource {
        Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", "bench"),
                KeyValue::new("service.instance.id", "host-1"),
                KeyValue::new("telemetry.sdk.name", "opentelemetry"),
                KeyValue::new("telemetry.sdk.language", "rust"),
                KeyValue::new("telemetry.sdk.version", "0.33.1"),
            ])
            .build()
    }

    fn request_attributes(status: i64) -> Vec<KeyValue> {
        vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.path", "/users/42"),
            KeyValue::new("url.query", "x=1"),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("server.address", "127.0.0.1"),
            KeyValue::new("server.port", 8080i64),
            KeyValue::new("http.route", "/users/{id}"),
            KeyValue::new("http.response.status_code", status),
            KeyValue::new("user_agent.original", "wrk \"4\"\n\u{1}"),
            KeyValue::new("client.address", "127.0.0.1"),
            KeyValue::new("network.protocol.version", "1.1"),
        ]
    }

    #[test]
    fn a_request_matches_the_crate_and_spec_section_7() {
        let spans = vec![
            span(
                SpanKind::Server,
                "GET /users/{id}",
                request_attributes(200),
                Status::Unset,
                0,
                1_764_000_000_123,
                1_234,
            ),
            span(
                SpanKind::Server,
                "GET /users/{id}",
                request_attributes(404),
                Status::Unset,
                7,
                1_764_000_000_123,
                90_061_000_001,
            ),
            span(
                SpanKind::Server,
                "GET",
                vec![KeyValue::new("http.request.method", "GET")],
                Status::error("boom"),
                0,
                0,
                0,
            ),
        ];
        let resource = server_resource();
        let ours = our_envelopes(&spans, &resource, 1.0);
        assert_eq!(ours, crate_envelopes(spans, &resource, 1.0));
        let ok = &ours[0];
        assert_eq!(ok["name"], "Microsoft.ApplicationInsights.Request");
        assert_eq!(ok["time"], "2025-11-24T16:00:00.123Z");
        assert_eq!(ok["sampleRate"], 100.0);
        assert_eq!(ok["iKey"], KEY);
        assert_eq!(ok["tags"]["ai.operation.name"], "GET /users/{id}");
        assert_eq!(ok["tags"]["ai.cloud.role"], "bench");
        assert_eq!(ok["tags"]["ai.cloud.roleInstance"], "host-1");
        assert!(ok["tags"].get("ai.operation.parentId").is_none());
        let base = &ok["data"]["baseData"];
        assert_eq!(base["url"], "http://127.0.0.1:8080/users/42?x=1");
        assert_eq!(base["responseCode"], "200");
        assert_eq!(base["success"], true);
        assert_eq!(base["duration"], "0.00:00:00.001234");
        assert_eq!(
            base["properties"]["user_agent.original"],
            "wrk \"4\"\n\u{1}"
        );
        let not_found = &ours[1]["data"]["baseData"];
        assert_eq!(not_found["success"], false);
        assert_eq!(not_found["duration"], "1.01:01:01.000001");
        assert_eq!(ours[1]["tags"]["ai.operation.parentId"], "0000000000000007");
        let failed = &ours[2]["data"]["baseData"];
        assert_eq!(failed["responseCode"], "500");
        assert_eq!(ours[2]["tags"]["ai.operation.name"], "GET");
        assert_eq!(ours[2]["time"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn long_values_are_cut_at_a_character_boundary() {
        // The crate panics here (it cuts at byte 2048, inside the 'é'); we cut before it.
        let long = format!("/{}é", "a".repeat(2046));
        let spans = vec![span(
            SpanKind::Server,
            "GET",
            vec![
                KeyValue::new("url.full", long),
                KeyValue::new("k", "€".repeat(3000)),
            ],
            Status::Unset,
            0,
            1,
            1,
        )];
        let ours = our_envelopes(&spans, &Resource::builder_empty().build(), 1.0);
        let base = &ours[0]["data"]["baseData"];
        assert_eq!(base["url"].as_str().unwrap().len(), 2047);
        assert_eq!(base["properties"]["k"].as_str().unwrap().len(), 8190);
    }

    const KEYS: &[&str] = &[
        "http.request.method",
        "http.method",
        "http.route",
        "http.response.status_code",
        "http.status_code",
        "url.full",
        "http.url",
        "url.path",
        "url.query",
        "http.target",
        "url.scheme",
        "http.scheme",
        "http.request.header.host",
        "http.host",
        "server.address",
        "net.host.name",
        "server.port",
        "net.host.port",
        "client.address",
        "http.client_ip",
        "network.peer.address",
        "client.socket.address",
        "net.sock.peer.addr",
        "net.peer.ip",
        "network.peer.port",
        "server.socket.address",
        "server.socket.port",
        "net.sock.peer.name",
        "net.peer.name",
        "net.sock.peer.port",
        "net.peer.port",
        "db.query.text",
        "db.statement",
        "db.namespace",
        "db.name",
        "db.system.name",
        "db.system",
        "messaging.system",
        "rpc.system.name",
        "rpc.system",
        "user.id",
        "enduser.id",
        "ai.operation.name",
        "ai.cloud.role",
        "ai.user.id",
        "ai.unknown",
        "_MS.hidden",
        "custom",
        "db.custom",
        "http.custom",
        "service.name",
    ];

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            "[ -~]{0,12}".prop_map(Value::from),
            "/[a-z]{0,5}".prop_map(Value::from),
            "[\"\\\\\n\t\u{1}é€a]{0,6}".prop_map(Value::from),
            (100i64..600).prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            (-1.0e6f64..1.0e6).prop_map(Value::from),
            Just(Value::from("x".repeat(3000))),
        ]
    }

    fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
        prop::collection::vec((0..KEYS.len(), value()), 0..14).prop_map(|v| {
            v.into_iter()
                .map(|(k, v)| KeyValue::new(KEYS[k], v))
                .collect()
        })
    }

    fn kind() -> impl Strategy<Value = SpanKind> {
        prop_oneof![
            Just(SpanKind::Server),
            Just(SpanKind::Consumer),
            Just(SpanKind::Client),
            Just(SpanKind::Producer),
            Just(SpanKind::Internal),
        ]
    }

    fn status() -> impl Strategy<Value = Status> {
        prop_oneof![
            Just(Status::Unset),
            Just(Status::Ok),
            Just(Status::error("e"))
        ]
    }

    fn resource() -> impl Strategy<Value = Resource> {
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "service.name",
                    "service.namespace",
                    "service.instance.id",
                    "k8s.pod.name",
                    "k8s.deployment.name",
                    "k8s.job.name",
                    "device.id",
                    "device.model.name",
                    "service.version",
                    "telemetry.sdk.name",
                    "telemetry.sdk.version",
                    "ai.session.id",
                    "ai.cloud.role",
                    "_MS.x",
                    "custom",
                    "http.flavor",
                    "db.x",
                ]),
                prop_oneof![
                    "[a-z]{1,8}".prop_map(Value::from),
                    "unknown_service:[a-z]{1,4}".prop_map(Value::from),
                    (0i64..100).prop_map(Value::from),
                ],
            ),
            0..8,
        )
        .prop_map(|attrs| {
            Resource::builder_empty()
                .with_attributes(attrs.into_iter().map(|(k, v)| KeyValue::new(k, v)))
                .build()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn our_envelopes_are_the_crates(
            spans in prop::collection::vec(
                (kind(), "[a-zA-Z /{}]{0,10}", attributes(), status(), prop::sample::select(vec![0u64, 1, u64::MAX]),
                 -2_000_000_000_000i64..250_000_000_000_000, 0u64..200_000_000_000),
                1..4),
            resource in resource(),
            rate in prop::sample::select(vec![1.0f64, 0.5, 0.125, 0.3]),
        ) {
            let spans: Vec<SpanData> = spans
                .into_iter()
                .map(|(k, n, a, s, p, t, d)| span(k, &n, a, s, p, t, d))
                .collect();
            let ours = our_envelopes(&spans, &resource, rate);
            let theirs = crate_envelopes(spans, &resource, rate);
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn spans_with_events_links_or_scope_attributes_take_the_crate_path() {
        let mut s = span(SpanKind::Server, "GET", vec![], Status::Unset, 0, 1, 1);
        assert!(fast_path(&s));
        s.events.events.push(opentelemetry::trace::Event::new(
            "exception",
            SystemTime::now(),
            vec![],
            0,
        ));
        assert!(!fast_path(&s));
        let mut s = span(SpanKind::Server, "GET", vec![], Status::Unset, 0, 1, 1);
        s.instrumentation_scope = InstrumentationScope::builder("t")
            .with_attributes([KeyValue::new("ai.cloud.role", "x")])
            .build();
        assert!(!fast_path(&s));
    }
}
