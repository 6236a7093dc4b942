//! Settings -> validated components, with no side effects: what `check` runs, and what install
//! runs before it touches any global.

use std::fmt;

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;

use crate::error::{ErrorKind, Problem};
use crate::exclude::{ExcludeEntryError, HostExcludeList, PathExcludeList};
use crate::origin::{Origin, Setting};
use crate::registry::args::{Built, build_described};
use crate::registry::{
    ArgError, ComponentKind, ExporterComponent, PropagatorComponent, SamplerComponent,
};
use crate::report::{ReportLine, StartupReport};
use crate::samplers::ParentDecided;
use crate::samplers::rules::{
    AttributeMatch, KindMatch, Matcher, ParentMatch, RouteMatch, Rule, RuleSampler,
};
use crate::settings::SamplingRule;
use crate::settings::Settings;
use crate::settings::keys::Key;
use crate::spec::{self, Span};
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::ShouldSample;

/// Every component resolved from the settings, ready to install.
pub(crate) struct Resolved {
    pub(crate) sampler: SamplerComponent,
    pub(crate) exporter: ExporterComponent,
    pub(crate) propagator: PropagatorComponent,
    pub(crate) exclude_paths: PathExcludeList,
    pub(crate) exclude_hostnames: HostExcludeList,
    /// `SAMPLING_RULES`, compiled (empty: the sampler alone decides).
    pub(crate) rules: Vec<Rule>,
    /// The rules' semantics (see `Settings::rules_inherit`).
    pub(crate) rules_inherit: bool,
    pub(crate) resource: Resource,
    pub(crate) report: StartupReport,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.report, f)
    }
}

fn spec_problem(
    key: Key,
    setting: &Setting<String>,
    kind: ErrorKind,
    message: String,
    span: Span,
    help: Vec<String>,
    settings: &Settings,
) -> Problem {
    // A spec string the YAML front-end wrote: point at the YAML value the span came from.
    if let Some(positions) = settings.spec_positions.get(&key) {
        let origin = positions
            .iter()
            .find(|(range, _)| {
                range.contains(&span.start) || (span.start <= range.start && range.end <= span.end)
            })
            .map(|(_, o)| o.clone())
            .unwrap_or_else(|| setting.origin.clone());
        let mut p = Problem::new(kind, message)
            .key(settings.key_label(key))
            .at(origin);
        for h in help {
            p = p.help(h);
        }
        return p;
    }
    let mut p = Problem::new(kind, message)
        .key(key.name())
        .at(setting.origin.clone())
        .snippet(
            setting.value.clone(),
            span,
            settings.registry().secret_spans(&setting.value),
        )
        .first_line(settings.first_lines.get(&key).copied().unwrap_or(1));
    for h in help {
        p = p.help(h);
    }
    p
}

fn resolve_spec(
    settings: &Settings,
    key: Key,
    kind: ComponentKind,
    checking: bool,
) -> Result<(Built, String), Problem> {
    let setting = settings.setting_str(key);
    let registry = settings.registry();
    if setting.value.trim().is_empty() {
        return Err(Problem::new(
            ErrorKind::SpecSyntax,
            format!("{} is an empty spec string", key.name()),
        )
        .key(key.name())
        .at(setting.origin.clone())
        .help(format!(
            "an empty value does not mean \"the default\"; remove the key to use the default, or give {}",
            key.expected()
        )));
    }
    let call = spec::parse(&setting.value).map_err(|e| {
        let mut help = Vec::new();
        if !e.expected.is_empty() {
            help.push(format!("expected {}", e.expected.join(", ")));
        }
        if let Some(h) = &e.help {
            help.push(h.clone());
        }
        spec_problem(
            key,
            setting,
            ErrorKind::SpecSyntax,
            format!("invalid spec string: {}", e.message),
            e.span.clone(),
            help,
            settings,
        )
    })?;
    build_described(
        registry,
        &call,
        kind,
        Some(settings.environment()),
        checking,
    )
    .map_err(|e: ArgError| {
        if let Some(origin) = e.origin {
            // The bad value is not in the spec (an environment variable): no caret.
            let mut p = Problem::new(e.kind, e.message).key(key.name()).at(origin);
            for h in e.help {
                p = p.help(h);
            }
            return p;
        }
        let span = e.span.clone().unwrap_or(call.span.clone());
        spec_problem(key, setting, e.kind, e.message, span, e.help, settings)
    })
}

/// One problem for a bad exclusion entry of the list called `label`.
pub(crate) fn exclusion_problem(label: &str, e: ExcludeEntryError) -> Problem {
    Problem::new(
        ErrorKind::InvalidExclusion,
        format!(
            "{label} entry {} (`{}`): {}",
            e.index + 1,
            e.entry,
            e.message
        ),
    )
    .help(format!("expected {}", e.expected))
}

fn exclusion_problems(
    settings: &Settings,
    key: Key,
    setting: &Setting<Vec<String>>,
    errors: Vec<ExcludeEntryError>,
) -> Vec<Problem> {
    errors
        .into_iter()
        .map(|e| {
            exclusion_problem(&settings.key_label(key), e)
                .key(settings.key_label(key))
                .at(setting.origin.clone())
        })
        .collect()
}

fn origin_text(settings: &Settings, key: Key, origin: &Origin) -> String {
    match settings.shown(key) {
        Some(shown) => format!("{origin} ({shown})"),
        None => origin.to_string(),
    }
}

/// Resolves everything, to install; returns every problem found.
pub(crate) fn resolve(settings: &Settings) -> Result<Resolved, (Vec<Problem>, StartupReport)> {
    resolve_with(settings, false)
}

/// Resolves everything, for `check`: a known component this build lacks is validated and
/// reported as needing its feature, not refused.
pub(crate) fn resolve_checking(
    settings: &Settings,
) -> Result<Resolved, (Vec<Problem>, StartupReport)> {
    resolve_with(settings, true)
}

fn resolve_with(
    settings: &Settings,
    checking: bool,
) -> Result<Resolved, (Vec<Problem>, StartupReport)> {
    let mut problems = Vec::new();
    let mut report = StartupReport {
        file: settings.file().map(|p| p.display().to_string()),
        warnings: settings
            .warnings()
            .iter()
            .map(|w| w.message.clone())
            .collect(),
        disabled: settings.sdk_disabled(),
        ..StartupReport::default()
    };

    let mut sampler = None;
    let mut exporter = None;
    let mut propagator = None;
    for (key, kind) in [
        (Key::Sampler, ComponentKind::Sampler),
        (Key::Exporter, ComponentKind::Exporter),
        (Key::Propagator, ComponentKind::Propagator),
    ] {
        let setting = settings.setting_str(key);
        match resolve_spec(settings, key, kind, checking) {
            Ok((built, description)) => {
                report.lines.push(ReportLine {
                    key: settings.key_label(key),
                    // Nested secrets too (a credential's `client_secret=`).
                    value: crate::secret::redact_userinfo(
                        &settings.registry().redact(&description),
                    )
                    .into_owned(),
                    origin: origin_text(settings, key, &setting.origin),
                });
                match built {
                    Built::Sampler(s) => sampler = Some(s),
                    Built::Exporter(e) => {
                        report.lines.extend(e.details.iter().cloned());
                        exporter = Some(e);
                    }
                    Built::Propagator(p) => propagator = Some(p),
                    Built::Named => {}
                }
            }
            Err(p) => problems.push(p),
        }
    }

    let paths = &settings.exclude_paths;
    let exclude_paths = PathExcludeList::parse(&paths.value)
        .map_err(|errors| {
            problems.extend(exclusion_problems(
                settings,
                Key::ExcludePaths,
                paths,
                errors,
            ))
        })
        .ok();
    report.lines.push(ReportLine {
        key: settings.key_label(Key::ExcludePaths),
        value: format!("{:?}", paths.value),
        origin: paths.origin.to_string(),
    });
    let hosts = &settings.exclude_hostnames;
    let exclude_hostnames = HostExcludeList::parse(&hosts.value)
        .map_err(|errors| {
            problems.extend(exclusion_problems(
                settings,
                Key::ExcludeHostnames,
                hosts,
                errors,
            ))
        })
        .ok();
    report.lines.push(ReportLine {
        key: settings.key_label(Key::ExcludeHostnames),
        value: format!("{:?}", hosts.value),
        origin: hosts.origin.to_string(),
    });

    let reload = settings.reload_interval();
    report.lines.push(ReportLine {
        key: settings.label("RELOAD_INTERVAL").to_string(),
        value: if reload.value.is_zero() {
            "off".to_string()
        } else if settings.file().is_none() {
            format!("{:?} (no settings file to reload)", reload.value)
        } else {
            format!("{:?}", reload.value)
        },
        origin: reload.origin.to_string(),
    });
    let mut rules = Vec::new();
    for (i, rule) in settings.sampling_rules.value.iter().enumerate() {
        match resolve_rule(settings, rule.position, rule, checking) {
            Ok(r) => rules.push(r),
            Err(p) => problems.push(p),
        }
        report.lines.push(ReportLine {
            key: format!("{}[{i}]", settings.label("SAMPLING_RULES")),
            value: {
                let mut shown = rule.clone();
                shown.sampler = settings.registry().redact(&rule.sampler);
                shown.to_string()
            },
            origin: rule.origin.to_string(),
        });
    }

    let (resource, service_line) = build_resource(settings, checking);
    // SPEC 12: the report shows the role the envelopes will carry.
    let role_line = exporter
        .as_ref()
        .filter(|e: &&ExporterComponent| e.role_from_service_name)
        .map(|_| ReportLine {
            key: "ai.cloud.role".to_string(),
            value: service_line.value.clone(),
            origin: format!("service.name ({})", service_line.origin),
        });
    report.lines.push(service_line);
    report.lines.extend(role_line);
    if let Some(cs) = settings.environment().connection_string() {
        report.lines.push(ReportLine {
            key: "connection string".to_string(),
            value: cs.value.to_string(),
            origin: cs.origin.to_string(),
        });
    }
    if let Some(p) = &settings.processing {
        report.lines.push(ReportLine {
            key: "tracer_provider.processors[0]".to_string(),
            value: match p.value {
                crate::registry::Processing::Simple => {
                    "simple (each span sent as it ends)".to_string()
                }
                crate::registry::Processing::Batch(c) => format!(
                    "batch (schedule_delay={}ms, max_export_batch_size={}, max_queue_size={})",
                    c.export_interval.as_millis(),
                    c.max_batch_size,
                    c.max_queue_size
                ),
            },
            origin: p.origin.to_string(),
        });
    }
    if let Some(l) = &settings.span_limits {
        report.lines.push(ReportLine {
            key: "tracer_provider.limits".to_string(),
            value: format!(
                "attributes {}, events {}, links {}, attributes per event {}, per link {}",
                l.value.max_attributes_per_span,
                l.value.max_events_per_span,
                l.value.max_links_per_span,
                l.value.max_attributes_per_event,
                l.value.max_attributes_per_link
            ),
            origin: l.origin.to_string(),
        });
    }
    if let Some(d) = &settings.sdk_disabled {
        report.lines.push(ReportLine {
            key: settings.label("OTEL_SDK_DISABLED").to_string(),
            value: d.value.to_string(),
            origin: d.origin.to_string(),
        });
    }

    match (
        sampler,
        exporter,
        propagator,
        exclude_paths,
        exclude_hostnames,
    ) {
        (
            Some(sampler),
            Some(exporter),
            Some(propagator),
            Some(exclude_paths),
            Some(exclude_hostnames),
        ) if problems.is_empty() => Ok(Resolved {
            sampler,
            exporter,
            propagator,
            exclude_paths,
            exclude_hostnames,
            rules,
            rules_inherit: settings.rules_inherit,
            resource,
            report,
        }),
        _ => Err((problems, report)),
    }
}

/// The sampler to install: the rules (if any) over `sampler`, wrapped for exporters that write
/// a per-span rate (Application Insights' `sampleRate`). `tag_rate` makes every span carry its
/// rate (after a reload, the exporter's rate from start-up no longer describes the sampler).
pub(crate) fn compose_sampler(
    sampler: SamplerComponent,
    rules: Vec<Rule>,
    inherit: bool,
    per_span_rate: bool,
    tag_rate: bool,
) -> Box<dyn ShouldSample> {
    let rate = sampler.rate;
    let has_rules = !rules.is_empty();
    let base: Box<dyn ShouldSample> = if has_rules || (per_span_rate && tag_rate) {
        let rules = RuleSampler::new(rules, sampler.sampler, rate, per_span_rate);
        Box::new(if inherit {
            rules
        } else {
            rules.without_inheritance()
        })
    } else {
        sampler.sampler
    };
    // A per-span sampleRate only matters when some rate is not 100%.
    if per_span_rate && (has_rules || tag_rate || rate.is_none_or(|r| r < 1.0)) {
        Box::new(ParentDecided(base))
    } else {
        base
    }
}

/// One `SAMPLING_RULES` entry, compiled: its matchers, and its sampler built like `SAMPLER`.
/// Every problem points at the rule's own origin.
fn resolve_rule(
    settings: &Settings,
    index: usize,
    rule: &SamplingRule,
    checking: bool,
) -> Result<Rule, Problem> {
    let at = |message: String| {
        Problem::new(ErrorKind::InvalidValue, message)
            .key("SAMPLING_RULES")
            .at(rule.origin.clone())
    };
    // The first error of a one-entry list, as the rule's problem.
    let entry = |field: &str, errors: Vec<ExcludeEntryError>| {
        let e = errors.into_iter().next();
        let mut problem = at(format!(
            "rule {index}: `{field}` {}",
            e.as_ref()
                .map_or("is not valid".to_string(), |e| e.message.clone())
        ));
        if let Some(e) = e {
            problem = problem.help(format!("expected {}", e.expected));
        }
        problem
    };
    let path = match &rule.path {
        Some(p) => Some(PathExcludeList::parse(&[p]).map_err(|e| entry("path", e))?),
        None => None,
    };
    let host = match &rule.host {
        Some(h) => Some(HostExcludeList::parse(&[h]).map_err(|e| entry("host", e))?),
        None => None,
    };
    let kind = match rule.kind.as_deref() {
        Some("client") => KindMatch::Client,
        Some("any") => KindMatch::Any,
        _ => KindMatch::Server,
    };
    let span_kinds = rule
        .span_kinds
        .iter()
        .map(|k| match k.as_str() {
            "server" => SpanKind::Server,
            "client" => SpanKind::Client,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            _ => SpanKind::Internal,
        })
        .collect();
    let parent = rule
        .parent
        .iter()
        .map(|p| match p.as_str() {
            "remote" => ParentMatch::Remote,
            "local" => ParentMatch::Local,
            _ => ParentMatch::None,
        })
        .collect();
    let mut attributes = Vec::new();
    if let Some((key, values)) = &rule.attribute_values {
        attributes.push(AttributeMatch::Values {
            key: key.clone(),
            values: values.clone(),
        });
    }
    if let Some((key, included, excluded)) = &rule.attribute_patterns {
        attributes.push(AttributeMatch::Patterns {
            key: key.clone(),
            included: included.clone(),
            excluded: excluded.clone(),
        });
    }
    let registry = settings.registry();
    let call = spec::parse(&rule.sampler).map_err(|e| {
        at(format!(
            "rule {index}: invalid sampler spec string: {}",
            e.message
        ))
        .snippet(
            rule.sampler.clone(),
            e.span.clone(),
            registry.secret_spans(&rule.sampler),
        )
    })?;
    let built = build_described(
        registry,
        &call,
        ComponentKind::Sampler,
        Some(settings.environment()),
        checking,
    )
    .map_err(|e: ArgError| {
        let span = e.span.clone().unwrap_or(call.span.clone());
        let mut p = Problem::new(e.kind, format!("rule {index}: {}", e.message))
            .key("SAMPLING_RULES")
            .at(e.origin.clone().unwrap_or_else(|| rule.origin.clone()))
            .snippet(
                rule.sampler.clone(),
                span,
                registry.secret_spans(&rule.sampler),
            );
        for h in e.help {
            p = p.help(h);
        }
        p
    })?;
    let Built::Sampler(sampler) = built.0 else {
        return Err(at(format!("rule {index}: `sampler` must name a sampler")));
    };
    Ok(Rule {
        matcher: Matcher {
            path,
            route: rule.route.as_deref().map(RouteMatch::new),
            methods: rule.method.clone(),
            host,
            span_kinds,
            parent,
            attributes,
            ..Matcher::kind(kind)
        },
        sampler: sampler.sampler,
        rate: sampler.rate,
    })
}

/// The version of `opentelemetry_sdk` this crate is built on (`telemetry.sdk.version`: the
/// SDK's, not ours). A test holds it to Cargo.lock.
pub(crate) const SDK_VERSION: &str = "0.33.1";

/// The resource, built from nothing but our own settings (never `Resource::builder()`, which
/// reads the variables on its own and would bypass our precedence and origins).
fn build_resource(settings: &Settings, checking: bool) -> (Resource, ReportLine) {
    let mut attrs: Vec<KeyValue> = vec![
        KeyValue::new("telemetry.sdk.name", "opentelemetry"),
        KeyValue::new("telemetry.sdk.language", "rust"),
        KeyValue::new("telemetry.sdk.version", SDK_VERSION),
    ];
    let mut service: Option<(String, String)> = None;
    for a in &settings.resource_attributes {
        if a.value.0 == "service.name" {
            service = Some((
                a.value.1.as_str().into_owned(),
                format!("{} (service.name)", a.origin),
            ));
        } else {
            attrs.push(KeyValue::new(a.value.0.clone(), a.value.1.clone()));
        }
    }
    if let Some(name) = settings.service_name() {
        service = Some((name.value.clone(), name.origin.to_string()));
    }
    let (name, origin) = service.unwrap_or_else(|| {
        if checking {
            // `check` is not the app: its own executable name says nothing of the app's.
            return match app_package_name(settings) {
                Some(name) => (
                    format!("unknown_service:{name}"),
                    "default (the app's executable; `check` read the name from Cargo.toml)"
                        .to_string(),
                ),
                None => (
                    "unknown_service:<the app's executable name>".to_string(),
                    "default".to_string(),
                ),
            };
        }
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_default();
        (format!("unknown_service:{exe}"), "default".to_string())
    });
    let mut builder = Resource::builder_empty();
    if let Some(url) = &settings.resource_schema_url {
        builder = builder.with_schema_url(Vec::<KeyValue>::new(), url.value.clone());
    }
    let resource = builder
        .with_attributes(attrs)
        .with_service_name(name.clone())
        .build();
    (
        resource,
        ReportLine {
            key: "service.name".to_string(),
            value: name,
            origin,
        },
    )
}

/// For `check`: the package name in the `Cargo.toml` beside the settings file (else in the
/// current directory), which is the app's executable name unless it names its binary.
fn app_package_name(settings: &Settings) -> Option<String> {
    let dir = match settings.file().and_then(|f| f.parent()) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::env::current_dir().ok()?,
    };
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let manifest: toml::Table = text.parse().ok()?;
    let package = manifest.get("package")?.as_table()?;
    // A single named binary is the executable; several leave the package name as the guess.
    let bins = manifest.get("bin").and_then(|b| b.as_array());
    let bin_name = match bins.map(|b| b.as_slice()) {
        Some([only]) => only.get("name").and_then(|n| n.as_str()),
        _ => None,
    };
    bin_name
        .or_else(|| package.get("name")?.as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sdk_version_is_the_locked_opentelemetry_sdk() {
        let lock = include_str!("../Cargo.lock");
        let locked = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"opentelemetry_sdk\""))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
            .and_then(|v| v.strip_suffix('"'));
        assert_eq!(locked, Some(super::SDK_VERSION));
    }
}
