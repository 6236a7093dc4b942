//! `SAMPLING_RULES` (SPEC 9): an array of inline tables, from the file (each rule keeps the
//! line of its own table) or from `OPENCENSUS__TRACE__SAMPLING_RULES` (a TOML array of inline
//! tables). Only the shape is checked here; globs, hosts and sampler specs are compiled with
//! the other components, at resolve time, with the same origins.

use std::fmt;

use toml::Spanned;
use toml::de::DeValue;

use crate::error::{ErrorKind, Problem};
use crate::origin::Origin;

/// The key's name.
pub(crate) const NAME: &str = "SAMPLING_RULES";

/// The matcher keys a rule accepts.
const MATCHERS: [&str; 5] = ["path", "route", "method", "host", "kind"];

/// One sampling rule: every matcher given must match; `sampler` decides the spans it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SamplingRule {
    /// `path=`: an `EXCLUDELIST_PATHS` entry (prefix, `/`, or a glob).
    pub path: Option<String>,
    /// `route=`: the route template, exact or a glob.
    pub route: Option<String>,
    /// `method=`: the methods (empty: any).
    pub method: Vec<String>,
    /// `host=`: a host or `host:port` (the `Host` header of a request, the target of a call).
    pub host: Option<String>,
    /// `kind=`: `server` (the default), `client` or `any`.
    pub kind: Option<String>,
    /// OpenTelemetry's `attribute_values`: the attribute, and the values (as strings) that match.
    pub attribute_values: Option<(String, Vec<String>)>,
    /// OpenTelemetry's `attribute_patterns`: the attribute, the `*`/`?` patterns it must match
    /// (empty: any) and those it must not.
    pub attribute_patterns: Option<(String, Vec<String>, Vec<String>)>,
    /// OpenTelemetry's `span_kinds` (`server`, `client`, ...); empty: as `kind=` says.
    pub span_kinds: Vec<String>,
    /// OpenTelemetry's `parent`: `none`, `remote`, `local` (empty: any).
    pub parent: Vec<String>,
    /// The sampler's spec string.
    pub sampler: String,
    /// Where the rule was written (its own line of the file, or the variable).
    pub origin: Origin,
    /// Its position in the list, from 0 (what messages call it).
    pub(crate) position: usize,
}

impl SamplingRule {
    /// A rule of OpenTelemetry's `rule_based` sampler: any span kind, no matcher yet.
    pub(crate) fn otel(sampler: String, origin: Origin) -> Self {
        SamplingRule {
            path: None,
            route: None,
            method: Vec::new(),
            host: None,
            kind: Some("any".to_string()),
            attribute_values: None,
            attribute_patterns: None,
            span_kinds: Vec::new(),
            parent: Vec::new(),
            sampler,
            origin,
            position: 0,
        }
    }
}

impl fmt::Display for SamplingRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut put = |f: &mut fmt::Formatter<'_>, k: &str, v: &str| -> fmt::Result {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{k}={v}")
        };
        if let Some(k) = &self.kind {
            put(f, "kind", k)?;
        }
        if let Some(p) = &self.path {
            put(f, "path", p)?;
        }
        if let Some(r) = &self.route {
            put(f, "route", r)?;
        }
        if !self.method.is_empty() {
            put(f, "method", &self.method.join(","))?;
        }
        if let Some(h) = &self.host {
            put(f, "host", h)?;
        }
        if !self.span_kinds.is_empty() {
            put(f, "span_kinds", &self.span_kinds.join(","))?;
        }
        if !self.parent.is_empty() {
            put(f, "parent", &self.parent.join(","))?;
        }
        if let Some((k, values)) = &self.attribute_values {
            put(f, k, &format!("{values:?}"))?;
        }
        if let Some((k, included, excluded)) = &self.attribute_patterns {
            let mut shown = String::new();
            if !included.is_empty() {
                shown.push_str(&format!("like {included:?}"));
            }
            if !excluded.is_empty() {
                if !shown.is_empty() {
                    shown.push(' ');
                }
                shown.push_str(&format!("not like {excluded:?}"));
            }
            put(f, k, &shown)?;
        }
        if first {
            f.write_str("any span")?;
        }
        write!(f, " -> {}", self.sampler)
    }
}

/// A rule's field, as either source gives it.
enum Field {
    Str(String),
    List(Vec<String>),
    /// Anything else: what it is, for the error.
    Other(&'static str),
}

fn describe(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
        DeValue::String(_) => "a string",
    }
}

fn field(value: &DeValue<'_>) -> Field {
    match value {
        DeValue::String(s) => Field::Str(s.to_string()),
        DeValue::Array(items) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items.iter() {
                match item.get_ref() {
                    DeValue::String(s) => list.push(s.to_string()),
                    other => return Field::Other(describe(other)),
                }
            }
            Field::List(list)
        }
        other => Field::Other(describe(other)),
    }
}

fn problem(message: String, origin: &Origin) -> Problem {
    Problem::new(ErrorKind::InvalidValue, message)
        .key(NAME)
        .at(origin.clone())
}

/// One rule from its fields; `index` is its position (for messages).
fn rule(
    fields: Vec<(String, Field)>,
    index: usize,
    origin: Origin,
) -> Result<SamplingRule, Problem> {
    let mut rule = SamplingRule::otel(String::new(), origin.clone());
    rule.kind = None;
    rule.position = index;
    let mut sampler = None;
    let mut matchers = 0;
    for (key, value) in fields {
        let lower = key.to_ascii_lowercase();
        let text = |value: Field, what: &str| -> Result<String, Problem> {
            match value {
                Field::Str(s) if !s.trim().is_empty() => Ok(s),
                Field::Str(_) => Err(problem(format!("rule {index}: `{key}` is empty"), &origin)
                    .help(format!("give {what}"))),
                Field::List(_) => Err(problem(
                    format!("rule {index}: `{key}` must be a string, found an array"),
                    &origin,
                )
                .help(format!("give {what}"))),
                Field::Other(found) => Err(problem(
                    format!("rule {index}: `{key}` must be a string, found {found}"),
                    &origin,
                )
                .help(format!("give {what}"))),
            }
        };
        match lower.as_str() {
            "sampler" => {
                sampler = Some(text(
                    value,
                    "a sampler spec string, e.g. \"AlwaysOnSampler()\"",
                )?)
            }
            "path" => {
                rule.path = Some(text(
                    value,
                    "an EXCLUDELIST_PATHS entry, e.g. \"/api/checkout/**\"",
                )?);
                matchers += 1;
            }
            "route" => {
                rule.route = Some(text(
                    value,
                    "a route template or a glob, e.g. \"/users/{id}\"",
                )?);
                matchers += 1;
            }
            "host" => {
                rule.host = Some(text(
                    value,
                    "a host or host:port, e.g. \"internal.example.com\"",
                )?);
                matchers += 1;
            }
            "kind" => {
                let kind = text(value, "server, client or any")?;
                if !matches!(
                    kind.to_ascii_lowercase().as_str(),
                    "server" | "client" | "any"
                ) {
                    return Err(problem(
                        format!(
                            "rule {index}: `kind` must be server, client or any, found `{kind}`"
                        ),
                        &origin,
                    ));
                }
                rule.kind = Some(kind.to_ascii_lowercase());
                matchers += 1;
            }
            "method" => {
                let methods = match value {
                    Field::Str(s) => vec![s],
                    Field::List(l) => l,
                    Field::Other(found) => {
                        return Err(problem(
                            format!(
                                "rule {index}: `method` must be a method or a list of methods, found {found}"
                            ),
                            &origin,
                        ));
                    }
                };
                if methods.is_empty() || methods.iter().any(|m| m.trim().is_empty()) {
                    return Err(problem(
                        format!("rule {index}: `method` has an empty method"),
                        &origin,
                    )
                    .help("give a method like \"GET\" or a list like [\"GET\", \"HEAD\"]"));
                }
                rule.method = methods
                    .into_iter()
                    .map(|m| m.trim().to_ascii_uppercase())
                    .collect();
                matchers += 1;
            }
            _ => {
                let mut p = problem(format!("rule {index}: unknown key `{key}`"), &origin);
                if let Some(s) =
                    crate::spec::closest(&lower, MATCHERS.iter().copied().chain(["sampler"]))
                {
                    p = p.help(format!("did you mean `{s}`?"));
                }
                return Err(
                    p.help("a rule has matchers (path, route, method, host, kind) and a sampler")
                );
            }
        }
    }
    let Some(sampler) = sampler else {
        return Err(problem(format!("rule {index} has no `sampler`"), &origin)
            .help("add sampler = \"...\", e.g. sampler = \"AlwaysOnSampler()\""));
    };
    if matchers == 0 {
        return Err(
            problem(format!("rule {index} has no matcher"), &origin).help(
                "give path, route, method, host or kind (a rule matching everything is SAMPLER)",
            ),
        );
    }
    rule.sampler = sampler;
    Ok(rule)
}

/// The rules of the file's `SAMPLING_RULES` value, and the problems of the entries that are
/// not rules (the others are kept, so resolving reports their problems in the same pass);
/// `origin_at` gives each table its line.
pub(crate) fn from_file(
    value: &Spanned<DeValue<'_>>,
    origin_at: &dyn Fn(usize) -> Origin,
) -> (Vec<SamplingRule>, Vec<Problem>) {
    let DeValue::Array(items) = value.get_ref() else {
        return (Vec::new(), vec![problem(
            format!(
                "{NAME} must be an array of inline tables, found {}",
                describe(value.get_ref())
            ),
            &origin_at(value.span().start),
        )
        .help("e.g. SAMPLING_RULES = [{ path = \"/api/checkout/**\", sampler = \"AlwaysOnSampler()\" }]")]);
    };
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let origin = origin_at(item.span().start);
        let DeValue::Table(table) = item.get_ref() else {
            problems.push(problem(
                format!(
                    "rule {index} must be an inline table, found {}",
                    describe(item.get_ref())
                ),
                &origin,
            ));
            continue;
        };
        let mut entries: Vec<_> = table.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        let fields = entries
            .into_iter()
            .map(|(k, v)| (k.get_ref().to_string(), field(v.get_ref())))
            .collect();
        match rule(fields, index, origin) {
            Ok(r) => rules.push(r),
            Err(p) => problems.push(p),
        }
    }
    (rules, problems)
}

/// The rules of `OPENCENSUS__TRACE__SAMPLING_RULES` (`var` is the variable's real name).
pub(crate) fn from_env(var: &str, value: &str) -> (Vec<SamplingRule>, Vec<Problem>) {
    let origin = Origin::env(var);
    let text = format!("rules = {value}");
    let parsed =
        match toml::de::DeTable::parse(&text) {
            Ok(t) => t,
            Err(e) => {
                return (
                    Vec::new(),
                    vec![
                problem(
                    format!(
                        "{var} must be a TOML array of inline tables: {}",
                        e.message().trim()
                    ),
                    &origin,
                )
                .help("e.g. [{ path = \"/api/checkout/**\", sampler = \"AlwaysOnSampler()\" }]"),
            ],
                );
            }
        };
    let Some(value) = parsed.get_ref().get("rules") else {
        return (Vec::new(), Vec::new());
    };
    from_file(value, &|_| origin.clone())
}

/// `RELOAD_INTERVAL`'s name.
pub(crate) const RELOAD: &str = "RELOAD_INTERVAL";
/// `RELOAD_INTERVAL` by default (seconds).
pub(crate) const DEFAULT_RELOAD_SECS: f64 = 10.0;
/// `RELOAD_INTERVAL` at most (seconds): a day.
const MAX_RELOAD_SECS: f64 = 86_400.0;

fn reload_problem(found: &str, origin: Origin) -> Problem {
    Problem::new(
        ErrorKind::InvalidValue,
        format!("{RELOAD} must be a number of seconds in 0..=86400 (0 turns reloading off), found {found}"),
    )
    .key(RELOAD)
    .at(origin)
}

/// `RELOAD_INTERVAL` from the file: an integer or a float of seconds.
pub(crate) fn reload_from_file(value: &DeValue<'_>, origin: Origin) -> Result<f64, Problem> {
    let secs = match value {
        DeValue::Integer(i) => i.as_str().parse::<f64>().ok(),
        DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
        other => return Err(reload_problem(describe(other), origin)),
    };
    match secs {
        Some(s) if (0.0..=MAX_RELOAD_SECS).contains(&s) => Ok(s),
        _ => Err(reload_problem(&format!("{value:?}"), origin)),
    }
}

/// `OPENCENSUS__TRACE__RELOAD_INTERVAL`.
pub(crate) fn reload_from_env(value: &str, origin: Origin) -> Result<f64, Problem> {
    match value.trim().parse::<f64>() {
        Ok(s) if (0.0..=MAX_RELOAD_SECS).contains(&s) => Ok(s),
        _ => Err(reload_problem(&format!("`{value}`"), origin)),
    }
}
