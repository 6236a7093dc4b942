//! The sections of the file, read into [`Settings`]: each value validated where it was
//! written, then expressed in the one pipeline's terms (spec strings for the registry's
//! components, rules for the rule engine, lists for the exclusion matchers), with the
//! `file:line` it came from.

use std::ops::Range;

use super::ctx::{Ctx, Fields, join};
use super::yaml::{Node, Pos, Scalar};
use crate::builtins::{COMPOSITE, CONSISTENT_PROBABILITY, SAMPLING};
use crate::error::ErrorKind;
use crate::export_thread::ThreadConfig;
use crate::origin::{Origin, Setting};
use crate::registry::Processing;
use crate::settings::SamplingRule;
use crate::settings::Settings;
use crate::settings::keys::Key;

/// The newest schema version this library knows (`file_format`).
pub(crate) const SCHEMA_MINOR: u64 = 1;

const SAMPLERS: [&str; 6] = [
    "always_on",
    "always_off",
    "trace_id_ratio_based",
    "parent_based",
    "probability/development",
    "composite/development",
];
const COMPOSABLE: [&str; 5] = [
    "always_on",
    "always_off",
    "probability",
    "parent_threshold",
    "rule_based",
];
const EXPORTERS: [&str; 4] = ["otlp_http", "otlp_grpc", "console", "azure_monitor"];
const PROPAGATORS: [&str; 5] = ["tracecontext", "baggage", "b3", "b3multi", "googlecloud"];

/// `AzureExporter`'s keywords an `azure_monitor` exporter takes (its batching belongs to the
/// processor).
const AZURE_KEYS: [&str; 10] = [
    "connection_string",
    "instrumentation_key",
    "credential",
    "service_name",
    "enable_local_storage",
    "storage_path",
    "storage_max_size",
    "storage_retention_period",
    "proxies",
    "compression",
];
const AZURE_BATCHING: [(&str, &str); 4] = [
    ("export_interval", "schedule_delay"),
    ("max_batch_size", "max_export_batch_size"),
    ("timeout", "export_timeout"),
    ("transport", "the processor (`batch`)"),
];

/// A spec string being written, remembering where in the YAML each argument came from (so a
/// component's own error about an argument points at the YAML value).
pub(crate) struct SpecText {
    pub(crate) text: String,
    pub(crate) positions: Vec<(Range<usize>, Origin)>,
    args: usize,
}

impl SpecText {
    fn new(name: &str) -> Self {
        SpecText {
            text: format!("{name}("),
            positions: Vec::new(),
            args: 0,
        }
    }

    fn arg(&mut self, name: &str, literal: &str, origin: Option<Origin>) {
        if self.args > 0 {
            self.text.push_str(", ");
        }
        self.args += 1;
        self.text.push_str(name);
        self.text.push('=');
        let start = self.text.len();
        self.text.push_str(literal);
        if let Some(o) = origin {
            self.positions.push((start..self.text.len(), o));
        }
    }

    fn finish(mut self) -> Self {
        self.text.push(')');
        self
    }
}

/// A string as a spec-string literal.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn seconds(ms: i64) -> String {
    format!("{:?}", ms as f64 / 1000.0)
}

/// Reads the whole document into `s`.
pub(crate) fn read(ctx: &mut Ctx<'_>, root: Option<&Node>, s: &mut Settings) {
    let Some(root) = root else {
        ctx.problems.push(
            crate::error::Problem::new(
                ErrorKind::InvalidValue,
                "the configuration file is empty: `file_format` is required",
            )
            .at(ctx.origin(Pos {
                line: 1,
                col: 1,
                index: 0,
            }))
            .help("start it with `file_format: \"1.1\"`"),
        );
        return;
    };
    let Some(top) = ctx.fields(
        root,
        "",
        &[
            "file_format",
            "disabled",
            "resource",
            "propagator",
            "tracer_provider",
            "meter_provider",
            "logger_provider",
            "instrumentation/development",
        ],
        &["log_level", "attribute_limits", "distribution"],
        false,
    ) else {
        return;
    };
    file_format(ctx, &top);
    if let Some(n) = top.get("disabled")
        && let Some(b) = ctx.boolean(n, "disabled")
    {
        s.sdk_disabled = Some(Setting {
            value: b,
            origin: ctx.line_origin(n.pos()),
        });
    }
    if let Some(n) = top.get("resource") {
        resource(ctx, n, s);
    }
    match top.get("propagator") {
        Some(n) => propagator(ctx, n, s),
        None => {
            s.propagator = Setting {
                value: format!("{COMPOSITE}(propagators=[])"),
                origin: Origin::Default,
            };
        }
    }
    match top.get("tracer_provider") {
        Some(n) => tracer_provider(ctx, n, s),
        None => {
            // The schema's default: a no-op tracer provider.
            s.sampler = Setting {
                value: format!("{SAMPLING}.ALWAYS_OFF"),
                origin: Origin::Default,
            };
            s.exporter = Setting {
                value: "opencensus_settings.exporters.NoExporter()".into(),
                origin: Origin::Default,
            };
            ctx.warn(
                top.pos,
                "the file has no `tracer_provider`: nothing is traced (the schema's default is a no-op tracer provider)",
            );
        }
    }
    let mut ignored = Vec::new();
    for name in ["meter_provider", "logger_provider"] {
        if let Some(n) = top.get(name) {
            if matches!(n, Node::Map { .. }) || n.is_null() {
                ignored.push((name, n.pos()));
            } else {
                ctx.error(
                    ErrorKind::InvalidValue,
                    name,
                    n,
                    format!("`{name}` must be a mapping, found {}", n.type_name()),
                    &[],
                );
            }
        }
    }
    if let Some((_, pos)) = ignored.first() {
        let names: Vec<&str> = ignored.iter().map(|(n, _)| *n).collect();
        ctx.warn(
            *pos,
            format!(
                "{} accepted and ignored: opencensus-settings configures traces only",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
                    + if names.len() > 1 { " are" } else { " is" }
            ),
        );
    }
    if let Some(n) = top.get("instrumentation/development") {
        instrumentation(ctx, n, s);
    }
}

fn file_format(ctx: &mut Ctx<'_>, top: &Fields<'_>) {
    let Some(n) = top.get("file_format") else {
        ctx.problems.push(
            ctx.problem(
                ErrorKind::InvalidValue,
                "file_format",
                Pos {
                    line: 1,
                    col: 1,
                    index: 0,
                },
                1,
                "`file_format` is required",
            )
            .help(format!(
                "write `file_format: \"1.{SCHEMA_MINOR}\"` at the top"
            )),
        );
        return;
    };
    let text = match n {
        Node::Scalar {
            value: Scalar::Str(_) | Scalar::Float(_) | Scalar::Int(_),
            text,
            ..
        } => text.trim().to_string(),
        other => {
            ctx.error(
                ErrorKind::InvalidValue,
                "file_format",
                other,
                format!(
                    "`file_format` must be a version string like \"1.{SCHEMA_MINOR}\", found {}",
                    other.type_name()
                ),
                &[],
            );
            return;
        }
    };
    let core = text.split('-').next().unwrap_or("");
    let mut parts = core.split('.');
    let major = parts.next().and_then(|m| m.parse::<u64>().ok());
    let minor = parts.next().and_then(|m| m.parse::<u64>().ok());
    match (major, minor, parts.next()) {
        (Some(1), Some(minor), None) => {
            if minor > SCHEMA_MINOR {
                ctx.warn(
                    n.pos(),
                    format!(
                        "file_format {text} is newer than the schema this library implements (1.{SCHEMA_MINOR}): keys it added are refused as unknown"
                    ),
                );
            }
        }
        (Some(major), Some(_), None) => ctx.error(
            ErrorKind::InvalidValue,
            "file_format",
            n,
            format!("file_format {text} is not supported: this library reads file_format 1.x"),
            &[
                &format!("write `file_format: \"1.{SCHEMA_MINOR}\"` and the 1.x schema's keys")
                    as &str,
            ]
            .iter()
            .copied()
            .chain(
                (major == 0).then_some("0.x was the experimental schema; its keys changed in 1.0"),
            )
            .collect::<Vec<_>>(),
        ),
        _ => ctx.error(
            ErrorKind::InvalidValue,
            "file_format",
            n,
            format!("`file_format` must be MAJOR.MINOR, like \"1.{SCHEMA_MINOR}\"; found `{text}`"),
            &[],
        ),
    }
}

fn resource(ctx: &mut Ctx<'_>, node: &Node, s: &mut Settings) {
    let Some(f) = ctx.fields(
        node,
        "resource",
        &["attributes", "attributes_list", "schema_url"],
        &["detection/development"],
        false,
    ) else {
        return;
    };
    let mut attrs: Vec<Setting<(String, opentelemetry::Value)>> = Vec::new();
    if let Some(list) = f.get("attributes")
        && let Some(items) = ctx.list(list, "resource.attributes")
    {
        for (i, item) in items.iter().enumerate() {
            let at = format!("resource.attributes[{i}]");
            let Some(a) = ctx.fields(item, &at, &["name", "value", "type"], &[], false) else {
                continue;
            };
            let name = match a.get("name") {
                Some(n) => ctx.required_string(n, &join(&at, "name")),
                None => {
                    ctx.problems.push(ctx.problem(
                        ErrorKind::InvalidValue,
                        &at,
                        a.pos,
                        1,
                        format!("`{at}` needs a `name`"),
                    ));
                    None
                }
            };
            let ty = match a.get("type") {
                Some(t) => ctx.string(t, &join(&at, "type")),
                None => None,
            };
            let Some(value) = a.get("value") else {
                ctx.problems.push(ctx.problem(
                    ErrorKind::InvalidValue,
                    &at,
                    a.pos,
                    1,
                    format!("`{at}` needs a `value`"),
                ));
                continue;
            };
            let Some(name) = name else { continue };
            if value.is_null() {
                continue; // the schema: a null value means the entry is ignored
            }
            let value = attribute_value(
                ctx,
                value,
                &join(&at, "value"),
                ty.as_deref(),
                a.get("type"),
            );
            if let Some(v) = value {
                if name == "service.name" && !matches!(v, opentelemetry::Value::String(_)) {
                    ctx.error(
                        ErrorKind::InvalidValue,
                        &join(&at, "value"),
                        item,
                        "`service.name` must be a string",
                        &[],
                    );
                    continue;
                }
                attrs.retain(|x| x.value.0 != name);
                attrs.push(Setting {
                    value: (name, v),
                    origin: ctx.line_origin(item.pos()),
                });
            }
        }
    }
    if let Some(n) = f.get("attributes_list")
        && let Some(list) = ctx.string(n, "resource.attributes_list")
    {
        match crate::environment::parse_key_values(&list, "resource.attributes_list") {
            Ok(pairs) => {
                for (k, v) in pairs {
                    // `attributes` wins over `attributes_list`.
                    if !attrs.iter().any(|a| a.value.0 == k) {
                        attrs.push(Setting {
                            value: (k, opentelemetry::Value::from(v)),
                            origin: ctx.line_origin(n.pos()),
                        });
                    }
                }
            }
            Err(message) => ctx.error(
                ErrorKind::InvalidValue,
                "resource.attributes_list",
                n,
                message,
                &["expected comma-separated key=value pairs, values percent-encoded, as OTEL_RESOURCE_ATTRIBUTES"],
            ),
        }
    }
    if let Some(n) = f.get("schema_url")
        && let Some(url) = ctx.string(n, "resource.schema_url")
    {
        s.resource_schema_url = Some(Setting {
            value: url,
            origin: ctx.line_origin(n.pos()),
        });
    }
    s.resource_attributes = attrs;
}

fn attribute_value(
    ctx: &mut Ctx<'_>,
    node: &Node,
    at: &str,
    ty: Option<&str>,
    ty_node: Option<&Node>,
) -> Option<opentelemetry::Value> {
    use opentelemetry::{Array, StringValue, Value};
    const TYPES: [&str; 8] = [
        "string",
        "bool",
        "int",
        "double",
        "string_array",
        "bool_array",
        "int_array",
        "double_array",
    ];
    let ty = ty.unwrap_or("string");
    if !TYPES.contains(&ty) {
        if let Some(t) = ty_node {
            let mut help = Vec::new();
            if let Some(c) = crate::spec::closest(ty, TYPES.iter().copied()) {
                help.push(format!("did you mean `{c}`?"));
            }
            let accepted = format!("accepted: {}", TYPES.join(", "));
            help.push(accepted);
            let help: Vec<&str> = help.iter().map(String::as_str).collect();
            ctx.error(
                ErrorKind::InvalidValue,
                &at.replace(".value", ".type"),
                t,
                format!("unknown attribute type `{ty}`"),
                &help,
            );
        }
        return None;
    }
    let scalar = |ctx: &mut Ctx<'_>, n: &Node, at: &str, elem: &str| -> Option<Value> {
        match elem {
            "string" => match n {
                // A string attribute takes the scalar's text (`version: 1.10` is "1.10").
                Node::Scalar {
                    value: Scalar::Str(_) | Scalar::Int(_) | Scalar::Float(_) | Scalar::Bool(_),
                    text,
                    ..
                } => Some(Value::from(text.clone())),
                other => {
                    ctx.error(
                        ErrorKind::InvalidValue,
                        at,
                        other,
                        format!("`{at}` must be a string, found {}", other.type_name()),
                        &[],
                    );
                    None
                }
            },
            _ if n.is_null() => {
                ctx.error(
                    ErrorKind::InvalidValue,
                    at,
                    n,
                    format!("`{at}` is empty"),
                    &[],
                );
                None
            }
            "bool" => ctx.boolean(n, at).map(Value::Bool),
            "int" => ctx.integer(n, at, i64::MIN, i64::MAX).map(Value::I64),
            _ => ctx.number(n, at, f64::MIN, f64::MAX).map(Value::F64),
        }
    };
    match ty.strip_suffix("_array") {
        None => {
            if matches!(node, Node::Seq { .. }) {
                ctx.error(
                    ErrorKind::InvalidValue,
                    at,
                    node,
                    format!("`{at}` is a list: give `type: {ty}_array`"),
                    &[],
                );
                return None;
            }
            scalar(ctx, node, at, ty)
        }
        Some(elem) => {
            let items = ctx.list(node, at)?;
            let mut values = Vec::new();
            for (i, item) in items.iter().enumerate() {
                values.push(scalar(ctx, item, &format!("{at}[{i}]"), elem)?);
            }
            Some(match elem {
                "string" => Value::Array(Array::String(
                    values
                        .into_iter()
                        .map(|v| StringValue::from(v.as_str().into_owned()))
                        .collect(),
                )),
                "bool" => Value::Array(Array::Bool(
                    values
                        .into_iter()
                        .filter_map(|v| match v {
                            Value::Bool(b) => Some(b),
                            _ => None,
                        })
                        .collect(),
                )),
                "int" => Value::Array(Array::I64(
                    values
                        .into_iter()
                        .filter_map(|v| match v {
                            Value::I64(b) => Some(b),
                            _ => None,
                        })
                        .collect(),
                )),
                _ => Value::Array(Array::F64(
                    values
                        .into_iter()
                        .filter_map(|v| match v {
                            Value::F64(b) => Some(b),
                            _ => None,
                        })
                        .collect(),
                )),
            })
        }
    }
}

fn propagator(ctx: &mut Ctx<'_>, node: &Node, s: &mut Settings) {
    let Some(f) = ctx.fields(
        node,
        "propagator",
        &["composite", "composite_list"],
        &[],
        false,
    ) else {
        return;
    };
    let mut names: Vec<String> = Vec::new();
    let mut ok = true;
    if let Some(list) = f.get("composite")
        && let Some(items) = ctx.list(list, "propagator.composite")
    {
        for (i, item) in items.iter().enumerate() {
            let at = format!("propagator.composite[{i}]");
            match ctx.one_of(
                item,
                &at,
                "propagator",
                &PROPAGATORS,
                &["xray", "ottrace", "jaeger"],
            ) {
                Some((name, _, body)) => {
                    let _ = ctx.fields(body, &join(&at, name), &[], &[], true);
                    if !names.iter().any(|n| n == name) {
                        names.push(name.to_string());
                    }
                }
                None => ok = false,
            }
        }
    }
    if let Some(n) = f.get("composite_list")
        && let Some(list) = ctx.string(n, "propagator.composite_list")
    {
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let lower = item.to_ascii_lowercase();
            if lower == "none" {
                continue;
            }
            if PROPAGATORS.contains(&lower.as_str()) {
                if !names.contains(&lower) {
                    names.push(lower);
                }
            } else {
                ok = false;
                let mut help = Vec::new();
                if let Some(c) = crate::spec::closest(item, PROPAGATORS.iter().copied()) {
                    help.push(format!("did you mean `{c}`?"));
                }
                help.push(format!("accepted: {}", PROPAGATORS.join(", ")));
                let help: Vec<&str> = help.iter().map(String::as_str).collect();
                let message = if ["xray", "ottrace", "jaeger"].contains(&lower.as_str()) {
                    format!("the propagator `{item}` is not implemented by opencensus-settings")
                } else {
                    format!("unknown propagator `{item}` in `propagator.composite_list`")
                };
                ctx.error(
                    if message.contains("not implemented") {
                        ErrorKind::NotAvailable
                    } else {
                        ErrorKind::UnknownComponent
                    },
                    "propagator.composite_list",
                    n,
                    message,
                    &help,
                );
            }
        }
    }
    if !ok {
        return;
    }
    let specs: Vec<&str> = names
        .iter()
        .filter_map(|n| crate::settings::standard::known_propagator(n))
        .collect();
    s.propagator = Setting {
        value: format!("{COMPOSITE}(propagators=[{}])", specs.join(", ")),
        origin: ctx.line_origin(node.pos()),
    };
}

fn tracer_provider(ctx: &mut Ctx<'_>, node: &Node, s: &mut Settings) {
    let at = "tracer_provider";
    let Some(f) = ctx.fields(
        node,
        at,
        &["processors", "sampler", "limits"],
        &["id_generator", "tracer_configurator/development"],
        false,
    ) else {
        return;
    };
    match f.get("processors") {
        Some(list) => {
            if let Some(items) = ctx.list(list, "tracer_provider.processors") {
                if let [_, second, ..] = items {
                    ctx.error(
                        ErrorKind::NotAvailable,
                        "tracer_provider.processors[1]",
                        second,
                        format!(
                            "{} processors are given; opencensus-settings sends to one exporter",
                            items.len()
                        ),
                        &["keep one processor; to send to several backends, send OTLP to an OpenTelemetry Collector and fan out there"],
                    );
                }
                if let Some(first) = items.first() {
                    processor(ctx, first, s);
                }
            }
        }
        None => ctx.problems.push(
            ctx.problem(
                ErrorKind::InvalidValue,
                "tracer_provider.processors",
                f.pos,
                1,
                "`tracer_provider` needs `processors` (a list with one `batch` or `simple` processor)",
            )
            .help("e.g. processors: [{batch: {exporter: {otlp_http: {}}}}]"),
        ),
    }
    match f.get("sampler") {
        Some(n) => sampler_setting(ctx, n, s),
        None => {
            s.sampler = Setting {
                value: format!("{SAMPLING}.ParentBased(root={SAMPLING}.ALWAYS_ON)"),
                origin: Origin::Default,
            };
        }
    }
    if let Some(n) = f.get("limits") {
        limits(ctx, n, s);
    }
}

fn processor(ctx: &mut Ctx<'_>, node: &Node, s: &mut Settings) {
    let at = "tracer_provider.processors[0]";
    let Some((kind, _, body)) = ctx.one_of(node, at, "span processor", &["batch", "simple"], &[])
    else {
        return;
    };
    let at = join(at, kind);
    let known: &[&str] = if kind == "batch" {
        &[
            "schedule_delay",
            "export_timeout",
            "max_queue_size",
            "max_export_batch_size",
            "exporter",
        ]
    } else {
        &["exporter"]
    };
    let Some(f) = ctx.fields(body, &at, known, &[], false) else {
        return;
    };
    let mut batching = ThreadConfig {
        max_batch_size: 512,
        export_interval: std::time::Duration::from_millis(5000),
        max_queue_size: 2048,
    };
    // `simple` has no export timeout of its own: the exporter's timeout alone bounds a send
    // (`None`), where a batch's is 30 s by default.
    let mut export_timeout = (kind == "batch").then_some(30_000);
    if kind == "batch" {
        if let Some(n) = f.get("schedule_delay")
            && let Some(v) = ctx.integer(n, &join(&at, "schedule_delay"), 0, 3_600_000)
        {
            batching.export_interval = std::time::Duration::from_millis(v as u64);
        }
        if let Some(n) = f.get("export_timeout")
            && let Some(v) = ctx.integer(n, &join(&at, "export_timeout"), 0, i64::MAX)
        {
            export_timeout = Some(v);
        }
        if let Some(n) = f.get("max_queue_size")
            && let Some(v) = ctx.integer(n, &join(&at, "max_queue_size"), 1, 1 << 24)
        {
            batching.max_queue_size = v as usize;
        }
        if let Some(n) = f.get("max_export_batch_size")
            && let Some(v) = ctx.integer(n, &join(&at, "max_export_batch_size"), 1, 1 << 20)
        {
            batching.max_batch_size = v as usize;
        }
        if batching.max_batch_size > batching.max_queue_size
            && f.get("max_export_batch_size").is_none_or(|n| n.is_null())
        {
            // Only the queue was given, smaller than the default batch: a batch is at most the
            // queue (the report shows both).
            batching.max_batch_size = batching.max_queue_size;
        }
        if batching.max_batch_size > batching.max_queue_size
            && let Some(n) = f.get("max_export_batch_size")
        {
            ctx.error(
                ErrorKind::InvalidValue,
                &join(&at, "max_export_batch_size"),
                n,
                format!(
                    "max_export_batch_size ({}) is larger than max_queue_size ({})",
                    batching.max_batch_size, batching.max_queue_size
                ),
                &["a batch is taken from the queue: keep it at most the queue's size"],
            );
        }
    }
    let Some(exporter_node) = f.get("exporter") else {
        ctx.problems.push(ctx.problem(
            ErrorKind::InvalidValue,
            &at,
            f.pos,
            1,
            format!("`{at}` needs an `exporter`"),
        ));
        return;
    };
    let processing = if kind == "batch" {
        Processing::Batch(batching)
    } else {
        Processing::Simple
    };
    // 0 is "no limit": the longest an export may take here is an hour.
    // (Longer ones are cut to an hour too; the report shows the effective timeout.)
    let export_timeout = export_timeout.map(|t| if t == 0 { 3_600_000 } else { t.min(3_600_000) });
    exporter(
        ctx,
        exporter_node,
        &join(&at, "exporter"),
        kind,
        export_timeout,
        s,
    );
    s.processing = Some(Setting {
        value: processing,
        origin: ctx.line_origin(node.pos()),
    });
}

fn exporter(
    ctx: &mut Ctx<'_>,
    node: &Node,
    at: &str,
    processor: &str,
    export_timeout_ms: Option<i64>,
    s: &mut Settings,
) {
    let Some((name, _, body)) = ctx.one_of(
        node,
        at,
        "span exporter",
        &EXPORTERS,
        &["otlp_file/development", "zipkin", "jaeger"],
    ) else {
        return;
    };
    let at = join(at, name);
    let spec = match name {
        "otlp_http" | "otlp_grpc" => otlp(ctx, body, &at, name == "otlp_grpc", export_timeout_ms),
        "console" => {
            let _ = ctx.fields(body, &at, &[], &[], true);
            let transport = if processor == "simple" {
                crate::exporters::SYNC_TRANSPORT
            } else {
                crate::exporters::ASYNC_TRANSPORT
            };
            let mut spec = SpecText::new("opencensus.trace.print_exporter.PrintExporter");
            spec.arg("transport", transport, None);
            Some(spec.finish())
        }
        _ => {
            if processor == "simple" {
                ctx.error(
                    ErrorKind::InvalidValue,
                    &at,
                    node,
                    "`azure_monitor` must be in a `batch` processor: Application Insights is sent in batches",
                    &["write `- batch: {exporter: {azure_monitor: {...}}}`"],
                );
                return;
            }
            azure(ctx, body, &at, export_timeout_ms)
        }
    };
    if let Some(spec) = spec {
        s.exporter = Setting {
            value: spec.text,
            origin: ctx.line_origin(node.pos()),
        };
        s.spec_positions.insert(Key::Exporter, spec.positions);
    }
}

fn otlp(
    ctx: &mut Ctx<'_>,
    body: &Node,
    at: &str,
    grpc: bool,
    export_timeout_ms: Option<i64>,
) -> Option<SpecText> {
    let known: &[&str] = if grpc {
        &[
            "endpoint",
            "headers",
            "headers_list",
            "compression",
            "timeout",
        ]
    } else {
        &[
            "endpoint",
            "headers",
            "headers_list",
            "compression",
            "timeout",
            "encoding",
        ]
    };
    let f = ctx.fields(body, at, known, &["tls"], true)?;
    let class = if grpc {
        crate::exporters::otlp::GRPC_NAME
    } else {
        crate::exporters::otlp::HTTP_NAME
    };
    let mut spec = SpecText::new(class);
    let default_endpoint = if grpc {
        "http://localhost:4317"
    } else {
        "http://localhost:4318/v1/traces"
    };
    let (endpoint, origin) = match f.get("endpoint") {
        Some(n) => match ctx.string(n, &join(at, "endpoint")) {
            Some(e) => (e, Some(ctx.origin(n.pos()))),
            None => (default_endpoint.to_string(), None),
        },
        None => (default_endpoint.to_string(), None),
    };
    spec.arg("endpoint", &quote(&endpoint), origin);
    if !grpc {
        let encoding = match f.get("encoding") {
            Some(n) => match ctx.string(n, &join(at, "encoding")) {
                Some(e) if e == "protobuf" => "http/protobuf",
                Some(e) if e == "json" => "http/json",
                Some(other) => {
                    ctx.error(
                        ErrorKind::InvalidValue,
                        &join(at, "encoding"),
                        n,
                        format!("unknown encoding `{other}`"),
                        &["accepted: protobuf, json"],
                    );
                    "http/protobuf"
                }
                None => "http/protobuf",
            },
            None => "http/protobuf",
        };
        spec.arg("protocol", &quote(encoding), None);
    }
    // headers: `headers` wins over `headers_list`.
    let mut headers: Vec<(String, String, Origin)> = Vec::new();
    if let Some(list) = f.get("headers")
        && let Some(items) = ctx.list(list, &join(at, "headers"))
    {
        for (i, item) in items.iter().enumerate() {
            let here = format!("{at}.headers[{i}]");
            let Some(h) = ctx.fields(item, &here, &["name", "value"], &[], false) else {
                continue;
            };
            let name = h
                .get("name")
                .and_then(|n| ctx.required_string(n, &join(&here, "name")));
            let value = match h.get("value") {
                Some(v) => ctx.string(v, &join(&here, "value")),
                None => {
                    ctx.problems.push(ctx.problem(
                        ErrorKind::InvalidValue,
                        &here,
                        h.pos,
                        1,
                        format!("`{here}` needs a `value`"),
                    ));
                    None
                }
            };
            match (name, value) {
                (Some(n), Some(v)) => {
                    headers.retain(|(k, _, _)| !k.eq_ignore_ascii_case(&n));
                    headers.push((n, v, ctx.origin(item.pos())));
                }
                (None, _) if h.get("name").is_none() => ctx.problems.push(ctx.problem(
                    ErrorKind::InvalidValue,
                    &here,
                    h.pos,
                    1,
                    format!("`{here}` needs a `name`"),
                )),
                // A null value: the entry is ignored (the schema).
                _ => {}
            }
        }
    }
    // (Secrets were marked before reading: `load`'s `mark_secrets`.)
    if let Some(n) = f.get("headers_list")
        && let Some(list) = ctx.string(n, &join(at, "headers_list"))
    {
        match crate::environment::parse_key_values(&list, "headers_list") {
            Ok(pairs) => {
                for (k, v) in pairs {
                    if !headers.iter().any(|(h, _, _)| h.eq_ignore_ascii_case(&k)) {
                        headers.push((k, v, ctx.origin(n.pos())));
                    }
                }
            }
            Err(_) => ctx.error(
                ErrorKind::InvalidValue,
                &join(at, "headers_list"),
                n,
                "`headers_list` must be key=value pairs separated by commas (its value is not shown)",
                &["the format of OTEL_EXPORTER_OTLP_HEADERS: api-key=secret,tenant=a"],
            ),
        }
    }
    let mut dict = String::from("{");
    for (i, (k, v, _)) in headers.iter().enumerate() {
        if i > 0 {
            dict.push_str(", ");
        }
        dict.push_str(&quote(k));
        dict.push_str(": ");
        dict.push_str(&quote(v));
    }
    dict.push('}');
    let header_origin = headers.first().map(|(_, _, o)| o.clone());
    spec.arg("headers", &dict, header_origin);
    let compression = match f.get("compression") {
        Some(n) => match ctx.string(n, &join(at, "compression")) {
            Some(c) if c == "gzip" || c == "none" => c,
            Some(other) => {
                ctx.error(
                    ErrorKind::InvalidValue,
                    &join(at, "compression"),
                    n,
                    format!("unknown compression `{other}`"),
                    &["accepted: gzip, none"],
                );
                "none".into()
            }
            None => "none".into(),
        },
        None => "none".into(),
    };
    spec.arg("compression", &quote(&compression), None);
    let mut timeout = 10_000;
    let mut timeout_origin = None;
    if let Some(n) = f.get("timeout")
        && let Some(v) = ctx.integer(n, &join(at, "timeout"), 0, i64::MAX)
    {
        timeout = if v == 0 { 3_600_000 } else { v.min(3_600_000) };
        timeout_origin = Some(ctx.origin(n.pos()));
    }
    // The batch's export_timeout bounds each export too.
    spec.arg(
        "timeout",
        &seconds(timeout.min(export_timeout_ms.unwrap_or(i64::MAX))),
        timeout_origin,
    );
    Some(spec.finish())
}

fn azure(
    ctx: &mut Ctx<'_>,
    body: &Node,
    at: &str,
    export_timeout_ms: Option<i64>,
) -> Option<SpecText> {
    let batching: Vec<&str> = AZURE_BATCHING.iter().map(|(k, _)| *k).collect();
    let mut known: Vec<&str> = AZURE_KEYS.to_vec();
    known.extend(batching.iter().copied());
    let f = ctx.fields(body, at, &known, &[], true)?;
    let mut spec = SpecText::new("opencensus.ext.azure.trace_exporter.AzureExporter");
    let mut ok = true;
    for (key, value) in f.iter() {
        let name = key.text.as_str();
        let here = join(at, name);
        if let Some((_, instead)) = AZURE_BATCHING.iter().find(|(k, _)| *k == name) {
            ctx.error_at_key(
                ErrorKind::InvalidValue,
                &here,
                key,
                format!("`{name}` is the processor's setting here, not the exporter's"),
                vec![format!("set {instead} of the `batch` processor instead")],
            );
            ok = false;
            continue;
        }
        if value.is_null() {
            continue;
        }
        let literal = match (name, value) {
            ("enable_local_storage", n) => ctx
                .boolean(n, &here)
                .map(|b| if b { "True" } else { "False" }.to_string()),
            ("storage_max_size" | "storage_retention_period", n) => {
                ctx.integer(n, &here, 0, i64::MAX).map(|i| i.to_string())
            }
            ("proxies", n) => {
                let Some(pf) = ctx.fields(n, &here, &["http", "https"], &[], false) else {
                    ok = false;
                    continue;
                };
                let mut dict = String::from("{");
                let mut first = true;
                for (k, v) in pf.iter() {
                    if v.is_null() {
                        continue; // not given
                    }
                    let Some(url) = ctx.string(v, &join(&here, &k.text)) else {
                        ok = false;
                        continue;
                    };
                    if !std::mem::take(&mut first) {
                        dict.push_str(", ");
                    }
                    dict.push_str(&format!("{}: {}", quote(&k.text), quote(&url)));
                }
                dict.push('}');
                Some(dict)
            }
            // credential: the spec string of a credential, e.g. ManagedIdentityCredential().
            ("credential", n) => ctx.string(n, &here).and_then(|c| {
                // One call, nothing after it (no argument can be smuggled in).
                match crate::spec::parse(&c) {
                    Ok(_) => Some(c),
                    Err(_) => {
                        ctx.error(
                            ErrorKind::SpecSyntax,
                            &here,
                            n,
                            // The parser's message may quote the text: a secret.
                            "`credential` is not one credential spec (its text is not shown)",
                            &["e.g. credential: \"ManagedIdentityCredential()\" or \"WorkloadIdentityCredential()\""],
                        );
                        None
                    }
                }
            }),
            (_, n) => ctx.string(n, &here).map(|v| quote(&v)),
        };
        match literal {
            Some(l) => spec.arg(name, &l, Some(ctx.origin(value.pos()))),
            None => ok = false,
        }
    }
    if let Some(ms) = export_timeout_ms {
        spec.arg("timeout", &seconds(ms), None);
    }
    ok.then(|| spec.finish())
}

fn limits(ctx: &mut Ctx<'_>, node: &Node, s: &mut Settings) {
    let at = "tracer_provider.limits";
    let Some(f) = ctx.fields(
        node,
        at,
        &[
            "attribute_count_limit",
            "event_count_limit",
            "link_count_limit",
            "event_attribute_count_limit",
            "link_attribute_count_limit",
        ],
        &["attribute_value_length_limit"],
        false,
    ) else {
        return;
    };
    let mut limits = opentelemetry_sdk::trace::SpanLimits::default();
    for (key, field) in [
        ("attribute_count_limit", &mut limits.max_attributes_per_span),
        ("event_count_limit", &mut limits.max_events_per_span),
        ("link_count_limit", &mut limits.max_links_per_span),
        (
            "event_attribute_count_limit",
            &mut limits.max_attributes_per_event,
        ),
        (
            "link_attribute_count_limit",
            &mut limits.max_attributes_per_link,
        ),
    ] {
        if let Some(n) = f.get(key)
            && let Some(v) = ctx.integer(n, &join(at, key), 0, u32::MAX as i64)
        {
            *field = v as u32;
        }
    }
    s.span_limits = Some(Setting {
        value: limits,
        origin: ctx.line_origin(node.pos()),
    });
}

fn instrumentation(ctx: &mut Ctx<'_>, node: &Node, s: &mut Settings) {
    let at = "instrumentation/development";
    let languages = [
        "cpp", "dotnet", "erlang", "go", "java", "js", "php", "python", "ruby", "swift",
    ];
    let mut known: Vec<&str> = languages.to_vec();
    known.push("rust");
    let Some(f) = ctx.fields(node, at, &known, &["general"], false) else {
        return;
    };
    for lang in languages {
        // Other languages' sections are theirs: only their shape is checked.
        if let Some(n) = f.get(lang)
            && !matches!(n, Node::Map { .. })
        {
            ctx.error(
                ErrorKind::InvalidValue,
                &join(at, lang),
                n,
                format!(
                    "`{}` must be a mapping, found {}",
                    join(at, lang),
                    n.type_name()
                ),
                &[],
            );
        }
    }
    let Some(rust) = f.get("rust") else { return };
    let at = join(at, "rust");
    let Some(r) = ctx.fields(rust, &at, &["http", "opencensus_settings"], &[], false) else {
        return;
    };
    if let Some(http) = r.get("http") {
        let at = join(&at, "http");
        if let Some(h) = ctx.fields(http, &at, &["server", "client"], &[], false) {
            if let Some(list) = section_list(ctx, &h, &at, "server", "excluded_paths") {
                s.exclude_paths = list;
            }
            if let Some(list) = section_list(ctx, &h, &at, "client", "excluded_hosts") {
                s.exclude_hostnames = list;
            }
        }
    }
    if let Some(ours) = r.get("opencensus_settings") {
        let at = join(&at, "opencensus_settings");
        if let Some(o) = ctx.fields(ours, &at, &["reload_interval"], &[], false)
            && let Some(n) = o.get("reload_interval")
            && let Some(ms) = ctx.integer(n, &join(&at, "reload_interval"), 0, 86_400_000)
        {
            if ms != 0 && ms < 1000 {
                ctx.error(
                    ErrorKind::InvalidValue,
                    &join(&at, "reload_interval"),
                    n,
                    format!("reload_interval {ms} ms is too short"),
                    &["accepted: 0 (off), or at least 1000 (milliseconds)"],
                );
            } else {
                s.reload_interval = Setting {
                    value: ms as f64 / 1000.0,
                    origin: ctx.line_origin(n.pos()),
                };
            }
        }
    }
}

// ---- samplers --------------------------------------------------------------------------

/// A sampler and the rules it carries (a `rule_based` sampler is rules over a default).
struct Built {
    spec: String,
    rules: Vec<SamplingRule>,
}

/// `section: { key: [strings] }` in `parent` (at `at`): the list with its line, when it is
/// given and valid (problems are reported in `ctx`).
fn section_list(
    ctx: &mut Ctx<'_>,
    parent: &Fields<'_>,
    at: &str,
    section: &str,
    key: &str,
) -> Option<Setting<Vec<String>>> {
    let at = join(at, section);
    let fields = ctx.fields(parent.get(section)?, &at, &[key], &[], false)?;
    let n = fields.get(key)?;
    let value = ctx.strings(n, &join(&at, key))?;
    Some(Setting {
        value,
        origin: ctx.line_origin(n.pos()),
    })
}

fn sampler_setting(ctx: &mut Ctx<'_>, node: &Node, s: &mut Settings) {
    let at = "tracer_provider.sampler";
    if let Some(b) = sampler(ctx, node, at, true) {
        s.sampler = Setting {
            value: b.spec,
            origin: ctx.line_origin(node.pos()),
        };
        if !b.rules.is_empty() {
            s.sampling_rules = Setting {
                value: b.rules,
                origin: ctx.line_origin(node.pos()),
            };
            s.rules_inherit = false;
        }
    }
}

fn ratio(ctx: &mut Ctx<'_>, body: &Node, at: &str) -> Option<f64> {
    let f = ctx.fields(body, at, &["ratio"], &[], true)?;
    match f.get("ratio") {
        Some(n) => {
            if n.is_null() {
                return Some(1.0);
            }
            ctx.number(n, &join(at, "ratio"), 0.0, 1.0)
        }
        None => Some(1.0),
    }
}

/// The samplers without delegates, by their name in either `Sampler` or a composable one
/// (`None`: not one of them).
fn leaf_sampler(ctx: &mut Ctx<'_>, name: &str, body: &Node, here: &str) -> Option<Option<Built>> {
    let spec = match name {
        "always_on" | "always_off" => ctx.fields(body, here, &[], &[], true).map(|_| {
            let which = if name == "always_on" {
                "ALWAYS_ON"
            } else {
                "ALWAYS_OFF"
            };
            format!("{SAMPLING}.{which}")
        }),
        "trace_id_ratio_based" => {
            ratio(ctx, body, here).map(|r| format!("{SAMPLING}.TraceIdRatioBased(rate={r:?})"))
        }
        "probability/development" | "probability" => {
            ratio(ctx, body, here).map(|r| format!("{CONSISTENT_PROBABILITY}(ratio={r:?})"))
        }
        _ => return None,
    };
    Some(spec.map(|spec| Built {
        spec,
        rules: Vec::new(),
    }))
}

/// A `Sampler`; `top` when rules may be produced here.
fn sampler(ctx: &mut Ctx<'_>, node: &Node, at: &str, top: bool) -> Option<Built> {
    let (name, _, body) = ctx.one_of(
        node,
        at,
        "sampler",
        &SAMPLERS,
        &["jaeger_remote/development", "always_record"],
    )?;
    let here = join(at, name);
    if let Some(built) = leaf_sampler(ctx, name, body, &here) {
        return built;
    }
    match name {
        "parent_based" => parent_based(ctx, body, &here, top),
        _ => composable(ctx, body, &here, top),
    }
}

const DELEGATES: [(&str, &str); 5] = [
    ("root", "ALWAYS_ON"),
    ("remote_parent_sampled", "ALWAYS_ON"),
    ("remote_parent_not_sampled", "ALWAYS_OFF"),
    ("local_parent_sampled", "ALWAYS_ON"),
    ("local_parent_not_sampled", "ALWAYS_OFF"),
];

fn parent_based(ctx: &mut Ctx<'_>, body: &Node, at: &str, top: bool) -> Option<Built> {
    let names: Vec<&str> = DELEGATES.iter().map(|(n, _)| *n).collect();
    let f = ctx.fields(body, at, &names, &[], true)?;
    let mut args = Vec::new();
    let mut root_rules = Vec::new();
    let mut ok = true;
    for (name, default) in DELEGATES {
        let spec = match f.get(name) {
            Some(n) if !n.is_null() => {
                match sampler(ctx, n, &join(at, name), top && name == "root") {
                    Some(b) => {
                        if name == "root" {
                            root_rules = b.rules;
                        }
                        b.spec
                    }
                    None => {
                        ok = false;
                        continue;
                    }
                }
            }
            _ => format!("{SAMPLING}.{default}"),
        };
        args.push((name, spec));
    }
    if !ok {
        return None;
    }
    let with_root = |root: String| {
        let mut spec = format!("{SAMPLING}.ParentBased(");
        for (i, (name, s)) in args.iter().enumerate() {
            if i > 0 {
                spec.push_str(", ");
            }
            let s = if *name == "root" { &root } else { s };
            spec.push_str(&format!("{name}={s}"));
        }
        spec.push(')');
        spec
    };
    if root_rules.is_empty() {
        let root = args.first().map(|(_, s)| s.clone()).unwrap_or_default();
        return Some(Built {
            spec: with_root(root),
            rules: Vec::new(),
        });
    }
    // Rules at the root: spans with a parent follow the parent delegates, roots the rules.
    Some(Built {
        spec: format!("{SAMPLING}.ALWAYS_OFF"),
        rules: with_parent_rule(with_root(format!("{SAMPLING}.ALWAYS_ON")), root_rules),
    })
}

/// A rule for spans that have a parent (decided by `parent_spec`), then `rules` for roots.
fn with_parent_rule(parent_spec: String, rules: Vec<SamplingRule>) -> Vec<SamplingRule> {
    let origin = rules
        .first()
        .map(|r| r.origin.clone())
        .unwrap_or(Origin::Default);
    let mut first = SamplingRule::otel(parent_spec, origin);
    first.parent = vec!["remote".into(), "local".into()];
    let mut out = vec![first];
    out.extend(rules);
    for (i, r) in out.iter_mut().enumerate() {
        r.position = i;
    }
    out
}

/// A `composite/development` sampler (or one of its composable delegates).
fn composable(ctx: &mut Ctx<'_>, node: &Node, at: &str, top: bool) -> Option<Built> {
    let (name, _, body) = ctx.one_of(node, at, "composable sampler", &COMPOSABLE, &[])?;
    let here = join(at, name);
    if let Some(built) = leaf_sampler(ctx, name, body, &here) {
        return built;
    }
    let plain = |spec: String| {
        Some(Built {
            spec,
            rules: Vec::new(),
        })
    };
    match name {
        "parent_threshold" => {
            let f = ctx.fields(body, &here, &["root"], &[], false)?;
            let Some(root) = f.get("root") else {
                ctx.problems.push(ctx.problem(
                    ErrorKind::InvalidValue,
                    &here,
                    f.pos,
                    1,
                    "`parent_threshold` needs `root`, the sampler for spans without a parent",
                ));
                return None;
            };
            let b = composable(ctx, root, &join(&here, "root"), top)?;
            if b.rules.is_empty() {
                return plain(format!("{SAMPLING}.ParentBased(root={})", b.spec));
            }
            Some(Built {
                spec: format!("{SAMPLING}.ALWAYS_OFF"),
                rules: with_parent_rule(
                    format!("{SAMPLING}.ParentBased(root={SAMPLING}.ALWAYS_ON)"),
                    b.rules,
                ),
            })
        }
        _ => {
            if !top {
                ctx.error(
                    ErrorKind::NotAvailable,
                    &here,
                    node,
                    "a `rule_based` sampler inside another rule's sampler is not implemented",
                    &["rule_based is implemented as the sampler, as the `root` of parent_based, or as the `root` of parent_threshold"],
                );
                return None;
            }
            rule_based(ctx, body, &here)
        }
    }
}

fn rule_based(ctx: &mut Ctx<'_>, body: &Node, at: &str) -> Option<Built> {
    let f = ctx.fields(body, at, &["rules"], &[], true)?;
    let mut rules = Vec::new();
    let mut ok = true;
    if let Some(list) = f.get("rules")
        && let Some(items) = ctx.list(list, &join(at, "rules"))
    {
        for (i, item) in items.iter().enumerate() {
            match rule(ctx, item, &format!("{at}.rules[{i}]"), i) {
                Some(r) => rules.push(r),
                None => ok = false,
            }
        }
    }
    if !ok {
        return None;
    }
    if rules.is_empty() {
        // No rules: no span is sampled (the schema's default).
        return Some(Built {
            spec: format!("{SAMPLING}.ALWAYS_OFF"),
            rules: Vec::new(),
        });
    }
    Some(Built {
        // None of the rules matching: not sampled.
        spec: format!("{SAMPLING}.ALWAYS_OFF"),
        rules,
    })
}

fn rule(ctx: &mut Ctx<'_>, node: &Node, at: &str, index: usize) -> Option<SamplingRule> {
    let f = ctx.fields(
        node,
        at,
        &[
            "attribute_values",
            "attribute_patterns",
            "span_kinds",
            "parent",
            "sampler",
        ],
        &[],
        false,
    )?;
    let Some(sampler_node) = f.get("sampler") else {
        ctx.problems.push(ctx.problem(
            ErrorKind::InvalidValue,
            at,
            f.pos,
            1,
            format!("`{at}` needs a `sampler`"),
        ));
        return None;
    };
    let sampler = composable(ctx, sampler_node, &join(at, "sampler"), false)?;
    let mut rule = SamplingRule::otel(sampler.spec, ctx.line_origin(node.pos()));
    rule.position = index;
    let mut ok = true;
    if let Some(n) = f.get("attribute_values") {
        let here = join(at, "attribute_values");
        match ctx.fields(n, &here, &["key", "values"], &[], false) {
            Some(v) => {
                let key = v
                    .get("key")
                    .and_then(|k| ctx.required_string(k, &join(&here, "key")));
                let values = v
                    .get("values")
                    .and_then(|k| ctx.strings(k, &join(&here, "values")));
                match (key, values) {
                    (Some(k), Some(vs)) => rule.attribute_values = Some((k, vs)),
                    _ => {
                        if v.get("key").is_none() || v.get("values").is_none() {
                            ctx.problems.push(ctx.problem(
                                ErrorKind::InvalidValue,
                                &here,
                                v.pos,
                                1,
                                format!("`{here}` needs `key` and `values`"),
                            ));
                        }
                        ok = false;
                    }
                }
            }
            None => ok = false,
        }
    }
    if let Some(n) = f.get("attribute_patterns") {
        let here = join(at, "attribute_patterns");
        match ctx.fields(n, &here, &["key", "included", "excluded"], &[], false) {
            Some(v) => {
                let key = v
                    .get("key")
                    .and_then(|k| ctx.required_string(k, &join(&here, "key")));
                let included = match v.get("included") {
                    Some(k) => ctx.strings(k, &join(&here, "included")),
                    None => Some(Vec::new()),
                };
                let excluded = match v.get("excluded") {
                    Some(k) => ctx.strings(k, &join(&here, "excluded")),
                    None => Some(Vec::new()),
                };
                match (key, included, excluded) {
                    (Some(k), Some(i), Some(e)) => rule.attribute_patterns = Some((k, i, e)),
                    _ => {
                        if v.get("key").is_none() {
                            ctx.problems.push(ctx.problem(
                                ErrorKind::InvalidValue,
                                &here,
                                v.pos,
                                1,
                                format!("`{here}` needs a `key`"),
                            ));
                        }
                        ok = false;
                    }
                }
            }
            None => ok = false,
        }
    }
    for (field, accepted) in [
        (
            "span_kinds",
            &["internal", "server", "client", "producer", "consumer"][..],
        ),
        ("parent", &["none", "remote", "local"][..]),
    ] {
        let Some(n) = f.get(field) else { continue };
        let here = join(at, field);
        let Some(items) = ctx.list(n, &here) else {
            ok = false;
            continue;
        };
        let mut values = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_at = format!("{here}[{i}]");
            match ctx.required_string(item, &item_at) {
                Some(v) if accepted.contains(&v.as_str()) => values.push(v),
                Some(v) => {
                    let mut help = Vec::new();
                    if let Some(c) = crate::spec::closest(&v, accepted.iter().copied()) {
                        help.push(format!("did you mean `{c}`?"));
                    }
                    help.push(format!("accepted: {}", accepted.join(", ")));
                    let help: Vec<&str> = help.iter().map(String::as_str).collect();
                    ctx.error(
                        ErrorKind::InvalidValue,
                        &item_at,
                        item,
                        format!("unknown value `{v}` in `{here}`"),
                        &help,
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        if field == "span_kinds" {
            rule.span_kinds = values;
        } else {
            rule.parent = values;
        }
    }
    ok.then_some(rule)
}
