//! OpenTelemetry's declarative configuration file (`OTEL_CONFIG_FILE`, the
//! `opentelemetry-configuration` schema, `file_format` 1.x) as a second front-end: the YAML is
//! read with positions (`yaml`), substituted (`subst`), validated strictly section by section
//! (`read`, with `ctx` for what they share) and expressed as the same [`Settings`] the TOML
//! front-end produces, so everything after it (resolve, install, check, reload) is one
//! pipeline. While the file is in use it is the whole configuration (SPEC 10).

mod ctx;
pub(crate) mod read;
mod subst;
mod yaml;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use crate::environment::EnvVar;
use crate::error::{ErrorKind, Problem};
use crate::origin::{Origin, Setting};
use crate::settings::{Settings, Warning};

/// The variables that name the file, in precedence order.
pub(crate) const FILE_VARS: [&str; 2] = ["OTEL_CONFIG_FILE", "OTEL_EXPERIMENTAL_CONFIG_FILE"];

/// The file the environment names (an empty value is unset), and the variable that named it.
pub(crate) fn named_file(env: &[EnvVar]) -> Option<(PathBuf, &'static str)> {
    FILE_VARS.iter().find_map(|name| {
        let var = env.iter().rev().find(|v| v.name == *name)?;
        let value = var.value.as_ref().ok()?.trim();
        (!value.is_empty()).then(|| (PathBuf::from(value), *name))
    })
}

/// Whether a path given directly (`check --config`) is a YAML file.
pub(crate) fn is_yaml_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

struct EnvLookup<'a> {
    env: &'a [EnvVar],
    used: RefCell<Vec<String>>,
}

impl subst::Lookup for EnvLookup<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.used.borrow_mut().push(name.to_string());
        let var = self.env.iter().rev().find(|v| v.name == name)?;
        var.value.as_ref().ok().cloned()
    }
}

/// Reads the file at `path` into `settings` (which starts from the schema's defaults), with
/// every problem found. `settings.environment` must hold the variables already.
pub(crate) fn load(path: &Path, settings: &mut Settings, problems: &mut Vec<Problem>) {
    apply_schema_defaults(settings);
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(err) => {
            problems.push(
                Problem::new(
                    ErrorKind::Io,
                    format!(
                        "cannot read the configuration file {}: {err}",
                        path.display()
                    ),
                )
                .at(Origin::File {
                    path: path.to_path_buf(),
                    line: 1,
                })
                .caused_by(err),
            );
            return;
        }
    };
    // A byte-order mark is not content (and would shift every column).
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    let env = settings.environment.vars.clone();
    let lookup = EnvLookup {
        env: &env,
        used: RefCell::new(Vec::new()),
    };
    let mut ctx = ctx::Ctx {
        path,
        source: &text,
        problems: Vec::new(),
        warnings: Vec::new(),
        // The lines that look like secrets, before anything is parsed: a file that does not
        // parse (or a shape the reader does not expect) shows none either.
        secrets: secret_lines(&text),
    };
    match yaml::parse(&text, &lookup) {
        Ok(root) => {
            // Secrets first, so no error (wherever it is found) shows one.
            if let Some(root) = &root {
                mark_secrets(&mut ctx, root);
            }
            read::read(&mut ctx, root.as_ref(), settings)
        }
        Err(errors) => {
            for e in errors {
                let line = text
                    .get(e.pos.index.min(text.len())..)
                    .and_then(|rest| rest.split('\n').next())
                    .unwrap_or("");
                let before = text.get(..e.pos.index.min(text.len())).unwrap_or("");
                let line_start = before.rsplit('\n').next().unwrap_or("");
                let flow_subst =
                    e.message.contains("flow") && format!("{line_start}{line}").contains("${");
                let mut p = ctx.problem(ErrorKind::Yaml, "", e.pos, e.len, e.message);
                if flow_subst {
                    p = p.help(
                        "inside `[...]` or `{...}`, `{` is YAML syntax: write a substitution in quotes, \"${NAME}\"",
                    );
                }
                for h in e.help {
                    p = p.help(h);
                }
                ctx.problems.push(p);
            }
        }
    }
    // The OTEL_* variables are ignored while the file is in use, unless the file names them.
    let used = lookup.used.into_inner();
    let mut ignored: Vec<&str> = env
        .iter()
        .filter(|v| {
            v.name.starts_with("OTEL_")
                && !FILE_VARS.contains(&v.name.as_str())
                && v.value.as_ref().is_ok_and(|s| !s.trim().is_empty())
                && !used.contains(&v.name)
        })
        .map(|v| v.name.as_str())
        .collect();
    ignored.sort_unstable();
    ignored.dedup();
    if !ignored.is_empty() {
        ctx.warnings.push(Warning {
            message: format!(
                "{} ignored while the configuration file is in use (the file can name a variable as ${{NAME}})",
                ignored.join(", ")
                    + if ignored.len() == 1 { " is" } else { " are" }
            ),
            origin: Some(Origin::File {
                path: path.to_path_buf(),
                line: 1,
            }),
        });
    }
    problems.extend(ctx.problems);
    settings.warnings.extend(ctx.warnings);
}

/// Keys whose values are secrets, wherever they appear (`value` covers header entries; it
/// also hides resource attribute values in error snippets, which costs nothing).
const SECRET_KEYS: [&str; 7] = [
    "headers",
    "headers_list",
    "connection_string",
    "instrumentation_key",
    "proxies",
    "credential",
    "value",
];

/// Byte ranges of `text` after any `secret_key:` (quoted or not, spaces before the colon
/// allowed) to the end of its line, and over the lines after it that are indented deeper
/// (a block value, or a value continued on the next lines): found lexically.
fn secret_lines(text: &str) -> Vec<std::ops::Range<usize>> {
    let lines: Vec<(usize, &str)> = {
        let mut start = 0;
        text.split_inclusive('\n')
            .map(|l| {
                let at = start;
                start += l.len();
                (at, l.trim_end_matches(['\n', '\r']))
            })
            .collect()
    };
    let indent = |l: &str| l.len() - l.trim_start_matches([' ', '-']).len();
    let mut out = Vec::new();
    for (n, (line_start, content)) in lines.iter().enumerate() {
        for key in SECRET_KEYS {
            let mut from = 0;
            while let Some(found) = content.get(from..).and_then(|c| c.find(key)) {
                let at = from + found;
                from = at + key.len();
                let before = content[..at].trim_end_matches(['"', '\'']);
                let before_ok = before
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
                let after = content[from..].trim_start_matches(['"', '\'']).trim_start();
                if !before_ok || !after.starts_with(':') {
                    continue;
                }
                let value = content.len() - after.len() + 1;
                if content.len() > value {
                    out.push(line_start + value..line_start + content.len());
                }
                // The lines after it indented deeper belong to the value.
                let own = indent(content);
                for (next_start, next) in lines.iter().skip(n + 1) {
                    if next.trim().is_empty() {
                        continue;
                    }
                    if indent(next) <= own {
                        break;
                    }
                    out.push(*next_start..next_start + next.len());
                }
            }
        }
    }
    out
}

/// Every value that is a secret wherever it appears: header values, `headers_list`,
/// connection strings, instrumentation keys, proxies, credentials.
fn mark_secrets(ctx: &mut ctx::Ctx<'_>, node: &yaml::Node) {
    fn all(ctx: &mut ctx::Ctx<'_>, node: &yaml::Node) {
        match node {
            yaml::Node::Scalar { .. } => ctx.secret(node),
            yaml::Node::Map { entries, .. } => entries.iter().for_each(|(_, n)| all(ctx, n)),
            yaml::Node::Seq { items, .. } => items.iter().for_each(|n| all(ctx, n)),
        }
    }
    match node {
        yaml::Node::Map { entries, .. } => {
            for (key, value) in entries {
                match key.text.as_str() {
                    "headers_list"
                    | "connection_string"
                    | "instrumentation_key"
                    | "proxies"
                    | "credential" => all(ctx, value),
                    "headers" => {
                        if let yaml::Node::Seq { items, .. } = value {
                            for item in items {
                                if let yaml::Node::Map { entries, .. } = item {
                                    for (k, v) in entries {
                                        if k.text == "value" {
                                            all(ctx, v);
                                        }
                                    }
                                }
                            }
                        }
                    }
                    _ => mark_secrets(ctx, value),
                }
            }
        }
        yaml::Node::Seq { items, .. } => items.iter().for_each(|n| mark_secrets(ctx, n)),
        yaml::Node::Scalar { .. } => {}
    }
}

/// The schema's defaults for everything the file may omit (not OpenCensus's).
fn apply_schema_defaults(s: &mut Settings) {
    let none = |v: Vec<String>| Setting {
        value: v,
        origin: Origin::Default,
    };
    let default = |v: String| Setting {
        value: v,
        origin: Origin::Default,
    };
    let sampling = crate::builtins::SAMPLING;
    s.sampler = default(format!("{sampling}.ParentBased(root={sampling}.ALWAYS_ON)"));
    s.exporter = default("opencensus_settings.exporters.NoExporter()".into());
    s.propagator = default(format!("{}(propagators=[])", crate::builtins::COMPOSITE));
    s.exclude_paths = none(Vec::new());
    s.exclude_hostnames = none(Vec::new());
    s.format = crate::settings::Format::OtelYaml;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::{Map, Value, json};

    use super::yaml::{Node, Scalar};

    fn to_json(node: &Node) -> Value {
        match node {
            Node::Scalar { value, .. } => match value {
                Scalar::Null => Value::Null,
                Scalar::Bool(b) => json!(b),
                Scalar::Int(i) => json!(i),
                Scalar::Float(f) if f.is_nan() => json!({"$float": "nan"}),
                Scalar::Float(f) if f.is_infinite() => {
                    json!({"$float": if *f > 0.0 { "inf" } else { "-inf" }})
                }
                Scalar::Float(f) => json!(f),
                Scalar::Str(s) => json!(s),
            },
            Node::Map { entries, .. } => {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(k.text.clone(), to_json(v));
                }
                Value::Object(m)
            }
            Node::Seq { items, .. } => Value::Array(items.iter().map(to_json).collect()),
        }
    }

    /// Where we differ from OpenTelemetry Python on purpose: the specification says
    /// otherwise (or YAML 1.2, which the specification requires, types it otherwise).
    const DEVIATIONS: &[(&str, &str)] = &[
        (
            "env_prefix",
            "`${env:NAME}` is a reference (Python leaves it as text)",
        ),
        (
            "empty_var_with_default",
            "an empty variable takes the default (Python: null)",
        ),
        (
            "invalid_leading_digit",
            "an invalid reference is an error (Python keeps the text)",
        ),
        ("invalid_colon_no_dash", "an invalid reference is an error"),
        ("invalid_empty_braces", "an invalid reference is an error"),
        ("invalid_unclosed", "an invalid reference is an error"),
        (
            "invalid_unclosed_embedded",
            "an invalid reference is an error",
        ),
        ("invalid_question_mark", "an invalid reference is an error"),
        ("invalid_dollar_in_name", "an invalid reference is an error"),
        (
            "invalid_spaces_in_braces",
            "an invalid reference is an error",
        ),
        ("invalid_dash_in_name", "an invalid reference is an error"),
        ("invalid_dot_in_name", "an invalid reference is an error"),
        (
            "invalid_env_prefix_bad_name",
            "an invalid reference is an error",
        ),
        ("invalid_other_prefix", "an unknown prefix is an error"),
        ("invalid_inside_quoted", "an invalid reference is an error"),
        (
            "yamlish_yes_plain",
            "YAML 1.2: `yes` is a string (PyYAML is YAML 1.1)",
        ),
        ("yamlish_on_plain", "YAML 1.2: `on` is a string"),
        ("yamlish_off_plain", "YAML 1.2: `off` is a string"),
        (
            "yamlish_leading_zero_plain",
            "YAML 1.2: `010` is 10, not octal 8",
        ),
        ("yamlish_octal_0o_plain", "YAML 1.2: `0o10` is 8"),
        (
            "yamlish_underscore_int_plain",
            "YAML 1.2: `1_000` is a string",
        ),
        ("yamlish_sexagesimal_plain", "YAML 1.2: `1:30` is a string"),
        ("yamlish_exp_float_plain", "YAML 1.2: `1e3` is a number"),
        (
            "yamlish_exp_float_dot_plain",
            "YAML 1.2: `1.0e3` is a number",
        ),
        (
            "yamlish_date_plain",
            "YAML 1.2 core schema has no dates: a string",
        ),
        ("typed_string_field_yes", "YAML 1.2: `yes` is a string"),
        ("typed_bool_field_yes", "YAML 1.2: `yes` is a string"),
        ("typed_int_field_yes", "YAML 1.2: `yes` is a string"),
        ("typed_string_field_leading_zero", "YAML 1.2: `010` is 10"),
        ("typed_bool_field_leading_zero", "YAML 1.2: `010` is 10"),
        ("typed_int_field_leading_zero", "YAML 1.2: `010` is 10"),
        ("style_explicit_str_tag_int", "`!!str` makes a string"),
        (
            "two_refs_adjacent",
            "types are decided after substitution: `11` is an integer (Python types a value only when it is one reference)",
        ),
    ];

    #[test]
    fn substitution_and_typing_match_opentelemetry_python_except_where_the_spec_differs() {
        let text = include_str!("../../../tests/otel-config/python-substitution-vectors.json");
        let vectors: Value = serde_json::from_str(text).unwrap();
        let mut differ = Vec::new();
        let mut compared = 0;
        for case in vectors["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let env: Vec<(String, String)> = case["env"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let lookup = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
            let ours = super::yaml::parse(case["yaml"].as_str().unwrap(), &lookup);
            let ours = match ours {
                Ok(Some(node)) => Some(to_json(&node)),
                Ok(None) => Some(Value::Null),
                Err(_) => None,
            };
            compared += 1;
            let theirs = case.get("python").cloned();
            if ours != theirs {
                differ.push(format!("{name}: ours {ours:?}, python {theirs:?}"));
            }
        }
        assert!(compared > 150, "{compared}");
        let unexpected: Vec<&String> = differ
            .iter()
            .filter(|d| {
                !DEVIATIONS
                    .iter()
                    .any(|(n, _)| d.starts_with(&format!("{n}:")))
            })
            .collect();
        assert!(unexpected.is_empty(), "{unexpected:#?}");
        let unused: Vec<&str> = DEVIATIONS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| !differ.iter().any(|d| d.starts_with(&format!("{n}:"))))
            .collect();
        assert!(
            unused.is_empty(),
            "deviations that no longer differ: {unused:?}"
        );
    }
}
