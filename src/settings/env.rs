//! `OPENCENSUS__TRACE__<KEY>` variables: keys in any case, lists as TOML arrays or `a,b`.

use super::keys::{Key, suggest_key};
use super::{Entry, RawValue, Warning, check_duplicates};
use crate::environment::EnvVar;
use crate::error::{ErrorKind, Problem};
use crate::origin::Origin;

pub(crate) struct EnvEntries {
    pub(crate) entries: Vec<Entry>,
    pub(crate) problems: Vec<Problem>,
    pub(crate) warnings: Vec<Warning>,
    /// `OPENCENSUS__TRACE__SAMPLING_RULES`, with its origin.
    pub(crate) rules: Option<(Vec<super::SamplingRule>, Origin)>,
    /// `OPENCENSUS__TRACE__RELOAD_INTERVAL` (seconds), with its origin.
    pub(crate) reload: Option<(f64, Origin)>,
}

/// Reads every `OPENCENSUS__*` variable (any case) of the snapshot.
pub(crate) fn parse_env(vars: &[EnvVar]) -> EnvEntries {
    let mut out = EnvEntries {
        entries: Vec::new(),
        problems: Vec::new(),
        warnings: Vec::new(),
        rules: None,
        reload: None,
    };
    for var in vars {
        let upper = var.name.to_ascii_uppercase();
        if let Some(rest) = upper.strip_prefix("OPENCENSUS__") {
            read_var(var, rest, &mut out);
        } else if let Some(rest) = upper.strip_prefix("OPENCENSUS_TRACE_") {
            let right = format!("OPENCENSUS__TRACE__{rest}");
            out.warnings.push(Warning {
                message: format!(
                    "environment variable {} is ignored: settings variables use double underscores, did you mean {right}?",
                    var.name
                ),
                origin: Some(Origin::env(&var.name)),
            });
        }
    }
    out.problems.extend(check_duplicates(&out.entries));
    out
}

fn not_utf8(var: &EnvVar, key: &str, origin: Origin) -> Problem {
    Problem::new(
        ErrorKind::InvalidValue,
        format!("environment variable {} is not valid UTF-8", var.name),
    )
    .key(key)
    .at(origin)
}

fn read_var(var: &EnvVar, rest: &str, out: &mut EnvEntries) {
    let origin = Origin::env(&var.name);
    let parts: Vec<&str> = rest.split("__").collect();
    let key_name = match parts.as_slice() {
        ["TRACE", key] if !key.is_empty() => *key,
        [section, ..] if *section != "TRACE" => {
            out.problems.push(
                Problem::new(
                    ErrorKind::UnknownKey,
                    format!(
                        "environment variable {} names the unknown section `{section}`",
                        var.name
                    ),
                )
                .at(origin)
                .help("settings variables are named OPENCENSUS__TRACE__<KEY>, e.g. OPENCENSUS__TRACE__SAMPLER"),
            );
            return;
        }
        _ => {
            out.problems.push(
                Problem::new(
                    ErrorKind::UnknownKey,
                    format!("environment variable {} is not a settings variable", var.name),
                )
                .at(origin)
                .help("settings variables are named OPENCENSUS__TRACE__<KEY>, e.g. OPENCENSUS__TRACE__SAMPLER"),
            );
            return;
        }
    };
    if key_name == super::rules::RELOAD {
        match &var.value {
            Ok(value) => match super::rules::reload_from_env(value, origin.clone()) {
                Ok(secs) => out.reload = Some((secs, origin)),
                Err(p) => out.problems.push(p),
            },
            Err(()) => out
                .problems
                .push(not_utf8(var, super::rules::RELOAD, origin)),
        }
        return;
    }
    if key_name == super::rules::NAME {
        match &var.value {
            Ok(value) => {
                let (rules, problems) = super::rules::from_env(&var.name, value);
                out.rules = Some((rules, origin));
                out.problems.extend(problems);
            }
            Err(()) => out.problems.push(not_utf8(var, super::rules::NAME, origin)),
        }
        return;
    }
    let Some(key) = Key::parse(key_name) else {
        let mut p = Problem::new(
            ErrorKind::UnknownKey,
            format!(
                "environment variable {} names the unknown key `{key_name}`",
                var.name
            ),
        )
        .at(origin);
        if let Some(s) = suggest_key(key_name) {
            p = p.help(format!("did you mean OPENCENSUS__TRACE__{s}?"));
        }
        out.problems.push(p.help(
            "accepted keys: SAMPLER, EXPORTER, PROPAGATOR, EXCLUDELIST_PATHS, EXCLUDELIST_HOSTNAMES, SAMPLING_RULES, RELOAD_INTERVAL",
        ));
        return;
    };
    let value = match &var.value {
        Ok(v) => v,
        Err(()) => {
            out.problems.push(
                Problem::new(
                    ErrorKind::InvalidValue,
                    format!("environment variable {} is not valid UTF-8", var.name),
                )
                .key(key.name())
                .at(origin),
            );
            return;
        }
    };
    let raw = if key.is_list() {
        match parse_list(value) {
            Ok(list) => RawValue::List(list),
            Err((message, span)) => {
                out.problems.push(
                    Problem::new(ErrorKind::InvalidValue, message)
                        .key(key.name())
                        .at(origin)
                        .snippet(value.clone(), span, Vec::new())
                        .help("give a TOML array like [\"a\", \"b\"] or a comma-separated list like a,b"),
                );
                return;
            }
        }
    } else {
        RawValue::Str(value.clone())
    };
    out.entries.push(Entry {
        key,
        spelling: var.name.clone(),
        value: raw,
        origin,
        first_line: 0,
    });
}

/// A list from the environment: a TOML array when it starts with `[`, else comma-separated
/// (items trimmed; an empty value is the empty list).
pub(crate) fn parse_list(value: &str) -> Result<Vec<String>, (String, std::ops::Range<usize>)> {
    let trimmed = value.trim_start();
    if trimmed.starts_with('[') {
        let parsed = toml::de::DeValue::parse(value).map_err(|e| {
            (
                format!(
                    "a value starting with `[` must be a TOML array of strings: {}",
                    e.message().trim()
                ),
                e.span().unwrap_or(0..value.len()),
            )
        })?;
        let toml::de::DeValue::Array(items) = parsed.get_ref() else {
            return Err((
                "a value starting with `[` must be a TOML array of strings".to_string(),
                parsed.span(),
            ));
        };
        let mut list = Vec::with_capacity(items.len());
        for item in items.iter() {
            match item.get_ref() {
                toml::de::DeValue::String(s) => list.push(s.to_string()),
                other => {
                    return Err((
                        format!("every entry must be a string, found {}", other.type_str()),
                        item.span(),
                    ));
                }
            }
        }
        return Ok(list);
    }
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    Ok(value.split(',').map(|s| s.trim().to_string()).collect())
}
