//! Reading `[OPENCENSUS.TRACE]` out of a TOML file, keeping the line of every value.

use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::keys::{Key, suggest_key};
use super::{Entry, RawValue, check_duplicates};
use crate::error::{ErrorKind, Problem};
use crate::origin::Origin;

/// The 1-based line a string value's text starts on, given where its opening quote is: TOML
/// drops a newline right after `"""` or `'''`, so such a value starts on the next line.
fn content_line(text: &str, quote: usize) -> usize {
    let line = line_of(text, quote);
    let rest = text.get(quote..).unwrap_or("");
    let after = rest
        .strip_prefix("\"\"\"")
        .or_else(|| rest.strip_prefix("'''"));
    match after {
        Some(a) if a.starts_with('\n') || a.starts_with("\r\n") => line + 1,
        _ => line,
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

pub(crate) struct FileEntries {
    pub(crate) entries: Vec<Entry>,
    pub(crate) problems: Vec<Problem>,
    /// `SAMPLING_RULES`, with the origin of the key.
    pub(crate) rules: Option<(Vec<super::SamplingRule>, Origin)>,
    /// `RELOAD_INTERVAL` (seconds), with its origin.
    pub(crate) reload: Option<(f64, Origin)>,
}

/// Parses the settings file text. `path` is only used for origins; `secrets` are the byte
/// ranges of `text` that no error snippet may show (a TOML error quotes the line).
pub(crate) fn parse_file(
    path: &Path,
    text: &str,
    secrets: &[std::ops::Range<usize>],
) -> FileEntries {
    let mut out = FileEntries {
        entries: Vec::new(),
        problems: Vec::new(),
        rules: None,
        reload: None,
    };
    let origin_at = |offset: usize| Origin::File {
        path: path.to_path_buf(),
        line: line_of(text, offset),
    };
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(err) => {
            let span = err.span().unwrap_or(0..0);
            out.problems.push(
                Problem::new(
                    ErrorKind::Toml,
                    format!(
                        "the settings file is not valid TOML: {}",
                        err.message().trim()
                    ),
                )
                .at(origin_at(span.start))
                .snippet(text, span.clone(), secrets.to_vec())
                .help("the file holds a `[OPENCENSUS.TRACE]` table, see opencensus.toml.example"),
            );
            return out;
        }
    };

    // Top level: only `OPENCENSUS` (any case).
    let opencensus = find_tables(
        root.get_ref(),
        "OPENCENSUS",
        &["OPENCENSUS"],
        "the settings file holds only the `[OPENCENSUS.TRACE]` table",
        &origin_at,
        &mut out.problems,
    );
    for table in opencensus {
        let traces = find_tables(
            table,
            "TRACE",
            &["TRACE"],
            "OpenCensus settings live in `[OPENCENSUS.TRACE]`",
            &origin_at,
            &mut out.problems,
        );
        for trace in traces {
            read_trace_table(trace, text, secrets, &origin_at, &mut out);
        }
    }
    out
}

/// Returns the sub-tables named `want` (any case) of `table`; every other key is an error.
fn find_tables<'a, 'i>(
    table: &'a DeTable<'i>,
    want: &str,
    accepted: &[&str],
    context: &str,
    origin_at: &dyn Fn(usize) -> Origin,
    problems: &mut Vec<Problem>,
) -> Vec<&'a DeTable<'i>> {
    let mut found: Vec<(&'a Spanned<std::borrow::Cow<'i, str>>, &'a DeTable<'i>)> = Vec::new();
    for (key, value) in in_file_order(table) {
        let name: &str = key.get_ref();
        if name.eq_ignore_ascii_case(want) {
            match value.get_ref() {
                DeValue::Table(t) => {
                    if let Some((first, _)) = found.first() {
                        problems.push(
                            Problem::new(
                                ErrorKind::InvalidValue,
                                format!(
                                    "`{}` and `{}` differ only in case; keys are case-insensitive, give only one",
                                    first.get_ref(),
                                    name
                                ),
                            )
                            .at(origin_at(key.span().start))
                            .help(format!("the first is at line {}", line_of_origin(origin_at(first.span().start)))),
                        );
                        continue;
                    }
                    found.push((key, t));
                }
                other => problems.push(
                    Problem::new(
                        ErrorKind::InvalidValue,
                        format!("`{name}` must be a table, found {}", other.type_str()),
                    )
                    .at(origin_at(value.span().start))
                    .help(format!("write it as `[{}]`", accepted.join("."))),
                ),
            }
        } else {
            let mut p = Problem::new(ErrorKind::UnknownKey, format!("unknown key `{name}`"))
                .at(origin_at(key.span().start))
                .help(context.to_string());
            if let Some(s) =
                crate::spec::closest(&name.to_ascii_uppercase(), accepted.iter().copied())
            {
                p = p.help(format!("did you mean `{s}`?"));
            }
            problems.push(p);
        }
    }
    found.into_iter().map(|(_, t)| t).collect()
}

type Item<'a, 'i> = (
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
);

/// The table's items in the order they appear in the file (the map itself is sorted by key).
fn in_file_order<'a, 'i>(table: &'a DeTable<'i>) -> Vec<Item<'a, 'i>> {
    let mut items: Vec<Item<'a, 'i>> = table.iter().collect();
    items.sort_by_key(|(k, _)| k.span().start);
    items
}

fn line_of_origin(origin: Origin) -> usize {
    match origin {
        Origin::File { line, .. } => line,
        _ => 0,
    }
}

fn read_trace_table(
    trace: &DeTable<'_>,
    text: &str,
    secrets: &[std::ops::Range<usize>],
    origin_at: &dyn Fn(usize) -> Origin,
    out: &mut FileEntries,
) {
    let mut entries = Vec::new();
    for (key, value) in in_file_order(trace) {
        let name: &str = key.get_ref();
        let origin = origin_at(value.span().start);
        if name.eq_ignore_ascii_case(super::rules::NAME) {
            let (rules, problems) = super::rules::from_file(value, origin_at);
            out.rules = Some((rules, origin));
            out.problems.extend(problems);
            continue;
        }
        if name.eq_ignore_ascii_case(super::rules::RELOAD) {
            match super::rules::reload_from_file(value.get_ref(), origin.clone()) {
                Ok(secs) => out.reload = Some((secs, origin)),
                Err(p) => out.problems.push(p),
            }
            continue;
        }
        let Some(k) = Key::parse(name) else {
            let mut p = Problem::new(
                ErrorKind::UnknownKey,
                format!("unknown key `{name}` in [OPENCENSUS.TRACE]"),
            )
            .at(origin_at(key.span().start));
            if let Some(s) = suggest_key(name) {
                p = p.help(format!("did you mean `{s}`?"));
            }
            p = p.help(
                "accepted keys: SAMPLER, EXPORTER, PROPAGATOR, EXCLUDELIST_PATHS, EXCLUDELIST_HOSTNAMES, SAMPLING_RULES, RELOAD_INTERVAL",
            );
            out.problems.push(p);
            continue;
        };
        match convert(k, value, text) {
            Ok(raw) => entries.push(Entry {
                key: k,
                spelling: name.to_string(),
                value: raw,
                origin,
                first_line: content_line(text, value.span().start),
            }),
            Err((message, span)) => {
                out.problems.push(
                    Problem::new(ErrorKind::InvalidValue, message)
                        .key(k.name())
                        .at(origin)
                        .snippet(text, span, secrets.to_vec())
                        .help(format!("expected {}", k.expected())),
                );
            }
        }
    }
    out.problems.extend(check_duplicates(&entries));
    out.entries.extend(entries);
}

type ConvertError = (String, std::ops::Range<usize>);

fn convert(key: Key, value: &Spanned<DeValue<'_>>, _text: &str) -> Result<RawValue, ConvertError> {
    let span = value.span();
    match (key.is_list(), value.get_ref()) {
        (false, DeValue::String(s)) => Ok(RawValue::Str(s.to_string())),
        (false, other) => Err((
            format!("{} must be a string, found {}", key.name(), describe(other)),
            span,
        )),
        // A plain string where a list is expected is one entry (OpenCensus iterated it char by char).
        (true, DeValue::String(s)) => Ok(RawValue::List(vec![s.to_string()])),
        (true, DeValue::Array(items)) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items.iter() {
                match item.get_ref() {
                    DeValue::String(s) => list.push(s.to_string()),
                    other => {
                        return Err((
                            format!(
                                "every entry of {} must be a string, found {}",
                                key.name(),
                                describe(other)
                            ),
                            item.span(),
                        ));
                    }
                }
            }
            Ok(RawValue::List(list))
        }
        (true, other) => Err((
            format!(
                "{} must be a list of strings, found {}",
                key.name(),
                describe(other)
            ),
            span,
        )),
    }
}

fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::Integer(i) => format!("the integer {}", i.as_str()),
        DeValue::Float(f) => format!("the float {}", f.as_str()),
        DeValue::Boolean(b) => format!("the boolean {b}"),
        DeValue::Datetime(d) => format!("the datetime {d}"),
        DeValue::Array(_) => "an array".to_string(),
        DeValue::Table(_) => "a table".to_string(),
        DeValue::String(_) => "a string".to_string(),
    }
}
