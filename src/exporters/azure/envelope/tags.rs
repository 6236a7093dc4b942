//! Application Insights context tags: the table of known tags and their length limits, what a
//! tag holds for one envelope, and the tags derived from the resource (and the instrumentation
//! scope's attributes, which the crate chains after the resource's).

use std::collections::HashMap;

use opentelemetry::Value;
use opentelemetry::trace::{SpanId, TraceId};

use super::json::{Limited, cut};

/// Application Insights context tags and their length limits, sorted by name.
pub(super) const TAGS: [(&str, usize); 26] = [
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
pub(super) const T_APP_VER: usize = 0;
pub(super) const T_ROLE: usize = 1;
pub(super) const T_ROLE_INSTANCE: usize = 2;
pub(super) const T_DEVICE_ID: usize = 3;
pub(super) const T_DEVICE_MODEL: usize = 5;
pub(super) const T_SDK_VERSION: usize = 11;
pub(super) const T_OPERATION_ID: usize = 17;
pub(super) const T_OPERATION_NAME: usize = 18;
pub(super) const T_PARENT_ID: usize = 19;
pub(super) const T_AUTH_USER_ID: usize = 24;

/// The index of a known tag.
pub(super) fn tag_index(key: &str) -> Option<usize> {
    TAGS.binary_search_by(|(k, _)| (*k).cmp(key)).ok()
}

/// What a context tag holds for one envelope, written when the envelope is.
#[derive(Clone, Copy)]
pub(super) enum Tag<'a> {
    Str(&'a str),
    Value(&'a Value),
    Trace(TraceId),
    Span(SpanId),
    /// `"{method} {route}"`.
    Pair(&'a Value, &'a Value),
}

impl Tag<'_> {
    /// Writes the tag as one JSON string of at most `max` bytes.
    pub(super) fn write(self, out: &mut Vec<u8>, max: usize) {
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

/// One envelope's tags, by [`TAGS`] index.
pub(super) type Tags<'a> = [Option<Tag<'a>>; TAGS.len()];

/// Writes `"tags":{…}` (the known tags that are set, in table order).
pub(super) fn write_tags(out: &mut Vec<u8>, tags: &Tags<'_>) {
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
    out.push(b'}');
}

/// The tags every envelope takes from the resource and the scope attributes (given in that
/// order; a later key wins): `ai.*` attributes as themselves, the cloud role from the service
/// name (and namespace, or a Kubernetes workload for an unknown service), the role instance,
/// device, application version and SDK version. Each is already cut to its limit.
/// `ai.internal.sdkVersion` in the shape Microsoft's exporters write
/// (`{platform}{os}{attach}_{language}:otel{sdk version}:ext{exporter version}`, e.g.
/// `ulm_rust:otel0.33.1:ext0.1.0`), so the portal and Microsoft's support see which SDK and
/// which exporter sent an item.
pub(super) fn sdk_version(language: &str, otel: &str) -> String {
    format!(
        "{}_{language}:otel{otel}:ext{}",
        sdk_prefix(),
        env!("CARGO_PKG_VERSION")
    )
}

/// The platform, OS and attach letters of the SDK version, as Microsoft's exporters choose
/// them: `f` Azure Functions, `a` App Service, `k` Kubernetes, `u` unknown; `l` Linux, `w`
/// Windows, `u` other; `m` manual instrumentation. Read from the environment once.
pub(super) fn sdk_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let platform = if set("FUNCTIONS_WORKER_RUNTIME") {
            'f'
        } else if set("WEBSITE_SITE_NAME") {
            'a'
        } else if set("AKS_ARM_NAMESPACE_ID") || set("KUBERNETES_SERVICE_HOST") {
            'k'
        } else {
            'u'
        };
        let os = match std::env::consts::OS {
            "linux" => 'l',
            "windows" => 'w',
            _ => 'u',
        };
        format!("{platform}{os}m")
    })
}

pub(super) fn derived<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a Value)>,
) -> Vec<Option<String>> {
    let mut tags: Vec<Option<String>> = vec![None; TAGS.len()];
    let mut get: HashMap<&str, &Value> = HashMap::new();
    for (key, v) in pairs {
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
    if text("telemetry.sdk.name").is_some() {
        let version = text("telemetry.sdk.version").unwrap_or_else(|| "0.0.0".into());
        let language = text("telemetry.sdk.language").unwrap_or_else(|| "rust".into());
        tags[T_SDK_VERSION] = Some(sdk_version(&language, &version));
    }
    for (i, tag) in tags.iter_mut().enumerate() {
        if let Some(t) = tag {
            let keep = cut(t, TAGS[i].1).len();
            t.truncate(keep);
        }
    }
    tags
}
