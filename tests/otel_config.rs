//! OpenTelemetry's configuration file (`OTEL_CONFIG_FILE`, SPEC 10): loading, strictness,
//! substitution (with vectors pinned from OpenTelemetry Python), the schema repository's own
//! examples, the samplers' semantics on a real provider, `check`, reload, and a real app
//! sending to the ingestion test server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use opencensus_settings::{Settings, SettingsLoader, check};
use opentelemetry::trace::{
    Span, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider,
};
use opentelemetry::{Context, KeyValue};

const HEAD: &str = "file_format: \"1.1\"\n";

/// A loader for `yaml`, written to a fresh directory, with `env` (and nothing of the process).
fn loader_in(dir: &Path, yaml: &str, env: &[(&str, &str)]) -> (SettingsLoader, PathBuf) {
    let path = dir.join("otel.yaml");
    std::fs::write(&path, yaml).unwrap();
    let mut vars: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.push(("OTEL_CONFIG_FILE".into(), path.display().to_string()));
    (
        Settings::loader()
            .env(vars)
            .current_dir(dir)
            .executable_dir(None),
        path,
    )
}

fn outcome(yaml: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (loader, path) = loader_in(dir.path(), yaml, env);
    let text = check(loader).to_string();
    // Stable across runs: the temporary directory is `<dir>`.
    text.replace(&path.parent().unwrap().display().to_string(), "<dir>")
}

fn settings(yaml: &str, env: &[(&str, &str)]) -> Settings {
    let dir = tempfile::tempdir().unwrap();
    let (loader, _) = loader_in(dir.path(), yaml, env);
    let s = loader.load().unwrap_or_else(|e| panic!("{e}"));
    std::mem::forget(dir); // the file stays for what reads it again
    s
}

// --- the schema repository's examples ---------------------------------------------------

#[test]
fn the_schema_examples_load_or_say_exactly_what_is_not_supported() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/otel-config");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "yaml").then_some(p)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 14, "{names:?}");
    let mut all = String::new();
    for path in names {
        let out = check(
            Settings::loader()
                .config_file(&path)
                .env(Vec::<(String, String)>::new())
                .current_dir("/nonexistent")
                .executable_dir(None),
        );
        let text = out
            .to_string()
            .replace(&dir.display().to_string(), "<examples>");
        // The verdict and every warning and error line (the report itself is long).
        let verdict: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("error") || l.starts_with("warning") || l.starts_with("ok"))
            .collect();
        all.push_str(&format!(
            "== {}\n{}\n",
            path.file_name().unwrap().to_string_lossy(),
            verdict.join("\n")
        ));
    }
    insta::assert_snapshot!(all);
}

// --- strictness: every kind of error, rendered -------------------------------------------

#[test]
fn every_error_kind_renders_with_its_line_and_what_is_accepted() {
    let cases: &[(&str, &str)] = &[
        (
            "not yaml",
            "file_format: \"1.1\"\ntracer_provider:\n  processors: [\n",
        ),
        (
            "missing file_format",
            "tracer_provider:\n  processors:\n    - simple: {exporter: {console: }}\n",
        ),
        ("another major", "file_format: \"2.0\"\n"),
        (
            "top-level typo",
            "file_format: \"1.1\"\ntracer_providr:\n  processors: []\n",
        ),
        (
            "nested typo",
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        shedule_delay: 100\n        exporter: {console: }\n",
        ),
        (
            "wrong type",
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        schedule_delay: 500.0\n        exporter: {console: }\n",
        ),
        (
            "out of range",
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - simple: {exporter: {console: }}\n  sampler:\n    trace_id_ratio_based: {ratio: 1.5}\n",
        ),
        (
            "unknown component",
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - simple: {exporter: {consol: }}\n",
        ),
        (
            "not implemented component",
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - simple: {exporter: {console: }}\n  sampler:\n    jaeger_remote/development: {endpoint: x}\n",
        ),
        (
            "two components",
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - simple: {exporter: {console: , otlp_http: }}\n",
        ),
        (
            "bad substitution",
            "file_format: \"1.1\"\ndisabled: ${OTEL_SDK_DISABLED:false}\n",
        ),
        (
            "substituted wrong type",
            "file_format: \"1.1\"\ndisabled: ${FLAG}\n",
        ),
        (
            "azure in simple",
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - simple: {exporter: {azure_monitor: }}\n",
        ),
        (
            "azure batching keyword",
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        exporter:\n          azure_monitor:\n            export_interval: 5\n",
        ),
        (
            "bad endpoint (the component's own check)",
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        exporter:\n          otlp_http:\n            endpoint: ftp://collector\n",
        ),
        (
            "exclusion entry",
            "file_format: \"1.1\"\ninstrumentation/development:\n  rust:\n    http:\n      server:\n        excluded_paths: [\"\"]\n",
        ),
        (
            "rule kind",
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - simple: {exporter: {console: }}\n  sampler:\n    composite/development:\n      rule_based:\n        rules:\n          - span_kinds: [sever]\n            sampler: {always_on: }\n",
        ),
        (
            "two processors",
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - simple: {exporter: {console: }}\n    - batch: {exporter: {otlp_http: }}\n",
        ),
    ];
    let mut all = String::new();
    for (name, yaml) in cases {
        let text = outcome(yaml, &[("FLAG", "maybe")]);
        assert!(
            text.contains("error"),
            "{name}: expected an error, got\n{text}"
        );
        let from = text.find("\nerror").map_or(0, |i| i + 1);
        all.push_str(&format!("== {name}\n{}\n\n", &text[from..]));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn all_errors_of_one_load_come_together() {
    let yaml = "file_format: \"1.1\"\ntracer_providr: {}\npropagator:\n  composite: [{tracecontxt: }]\ntracer_provider:\n  processors:\n    - batch:\n        schedule_delay: -1\n        exporter: {otlp_http: {compresion: gzip}}\n";
    let text = outcome(yaml, &[]);
    assert!(text.contains("4 problems found"), "{text}");
    for line in [":2:1", ":4:16", ":8:25", ":9:32"] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
}

#[test]
fn secrets_are_never_shown() {
    let yaml = "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        exporter:\n          otlp_http:\n            headers: [{name: api-key, value: s3cr3t-value, extra: 1}]\n            headers_list: \"tenant=t0ps3cr3t,bad\"\n";
    let text = outcome(yaml, &[]);
    assert!(text.contains("error"), "{text}");
    assert!(!text.contains("s3cr3t-value"), "{text}");
    assert!(!text.contains("t0ps3cr3t"), "{text}");
    let ok = "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        exporter:\n          otlp_http:\n            headers: [{name: api-key, value: s3cr3t-value}]\n";
    let s = settings(ok, &[]);
    assert!(!format!("{s:?}").contains("s3cr3t"));
    let text = outcome(ok, &[]);
    assert!(text.contains("ok:"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(text.contains("api-key (values redacted)"), "{text}");
}

// --- versions, precedence --------------------------------------------------------------

#[test]
fn versions() {
    assert!(outcome("file_format: 1.0\n", &[]).contains("ok:"));
    assert!(outcome("file_format: \"1.0-rc.3\"\n", &[]).contains("ok:"));
    let newer = outcome("file_format: \"1.5\"\n", &[]);
    assert!(
        newer.contains("ok:") && newer.contains("newer than the schema"),
        "{newer}"
    );
    assert!(outcome("file_format: \"0.3\"\n", &[]).contains("0.x was the experimental schema"));
    assert!(outcome("file_format: true\n", &[]).contains("must be a version string"));
}

#[test]
fn the_file_is_the_whole_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("opencensus.toml"),
        "[OPENCENSUS.TRACE]\nSAMPLER = \"AlwaysOffSampler()\"\n",
    )
    .unwrap();
    let yaml = format!(
        "{HEAD}tracer_provider:\n  processors: [{{simple: {{exporter: {{console: }}}}}}]\n  sampler: {{always_on: }}\n"
    );
    let (loader, _) = loader_in(
        dir.path(),
        &yaml,
        &[
            ("OTEL_TRACES_SAMPLER", "always_off"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://elsewhere:4318"),
            ("OTEL_SERVICE_NAME", "from-env"),
        ],
    );
    let s = loader.load().unwrap();
    assert!(
        s.sampler().value.ends_with("ALWAYS_ON"),
        "{:?}",
        s.sampler()
    );
    let warnings: Vec<String> = s.warnings().iter().map(|w| w.message.clone()).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("opencensus.toml is not read")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains(
            "OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER are ignored"
        )),
        "{warnings:?}"
    );
    // A variable the file names is used, and not warned about.
    let s = settings(
        "file_format: \"1.1\"\nresource:\n  attributes: [{name: service.name, value: \"${OTEL_SERVICE_NAME}\"}]\n",
        &[("OTEL_SERVICE_NAME", "checkout")],
    );
    assert!(
        s.warnings()
            .iter()
            .all(|w| !w.message.contains("OTEL_SERVICE_NAME"))
    );
    let text = outcome(
        "file_format: \"1.1\"\nresource:\n  attributes: [{name: service.name, value: \"${OTEL_SERVICE_NAME}\"}]\n",
        &[("OTEL_SERVICE_NAME", "checkout")],
    );
    assert!(text.contains("checkout  <- <dir>/otel.yaml:3"), "{text}");
}

#[test]
fn which_variable_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    std::fs::write(&a, "file_format: \"1.1\"\ndisabled: true\n").unwrap();
    std::fs::write(&b, "file_format: \"1.1\"\n").unwrap();
    let load = |vars: Vec<(&str, String)>| {
        Settings::loader()
            .env(vars)
            .current_dir(dir.path())
            .executable_dir(None)
            .load()
            .unwrap()
    };
    let both = load(vec![
        ("OTEL_CONFIG_FILE", a.display().to_string()),
        ("OTEL_EXPERIMENTAL_CONFIG_FILE", b.display().to_string()),
    ]);
    assert_eq!(both.file(), Some(a.as_path()));
    let empty = load(vec![
        ("OTEL_CONFIG_FILE", String::new()),
        ("OTEL_EXPERIMENTAL_CONFIG_FILE", "b.yaml".into()),
    ]);
    assert_eq!(empty.file(), Some(dir.path().join("b.yaml").as_path()));
    assert!(!empty.sdk_disabled());
    assert!(both.sdk_disabled());
}

// --- substitution, against OpenTelemetry Python ------------------------------------------

/// Vectors from opentelemetry-configuration 0.66b2 / opentelemetry-sdk 1.45.2 (Python), run
/// on the same YAML and environment; where Python departs from the specification (noted),
/// the specification wins.
#[test]
fn substitution_matches_the_reference() {
    // (yaml value of service.name, env, expected service.name; None: the key is null and the
    // default applies)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<&'a str>);
    let cases: &[Case<'_>] = &[
        ("\"${A}\"", &[("A", "alpha")], Some("alpha")),
        ("${A}", &[("A", "alpha")], Some("alpha")),
        ("\"x${UNDEFINED}y\"", &[], Some("xy")),
        ("\"${UNDEFINED:-fallback}\"", &[], Some("fallback")),
        ("\"${UNDEFINED:-with spaces}\"", &[], Some("with spaces")),
        ("\"${A:-fallback}\"", &[("A", "alpha")], Some("alpha")),
        // Python gives null here; the specification: empty takes the default.
        ("\"${EMPTY:-d}\"", &[("EMPTY", "")], Some("d")),
        ("\"$$\"", &[], Some("$")),
        ("\"$${A}\"", &[("A", "alpha")], Some("${A}")),
        ("\"$$$${A}\"", &[("A", "alpha")], Some("$${A}")),
        // No recursion, no structure.
        ("\"${R}\"", &[("R", "${A}"), ("A", "alpha")], Some("${A}")),
        ("${L}", &[("L", "[1, 2]")], Some("[1, 2]")),
        ("${M}", &[("M", "{a: b}")], Some("{a: b}")),
        ("${D}", &[("D", "- x")], Some("- x")),
        ("${K}", &[("K", "a: b")], Some("a: b")),
        // An undefined variable alone, unquoted: null (the attribute is then ignored).
        ("${UNDEFINED}", &[], None),
        // Python leaves `${env:A}` as text; the specification substitutes it.
        ("\"${env:A}\"", &[("A", "alpha")], Some("alpha")),
    ];
    for (value, env, want) in cases {
        let yaml = format!(
            "{HEAD}resource:\n  attributes:\n    - name: service.name\n      value: {value}\n"
        );
        let text = outcome(&yaml, env);
        assert!(text.contains("ok:"), "{value}: {text}");
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("service.name"))
            .unwrap()
            .to_string();
        match want {
            Some(w) => assert!(
                line.contains(&format!(" {w}  <- ")),
                "{value} with {env:?}: {line}"
            ),
            None => assert!(line.contains("unknown_service"), "{value}: {line}"),
        }
    }
    // Types after substitution: unquoted is typed (as Python), quoted stays a string.
    assert!(settings("file_format: \"1.1\"\ndisabled: ${F}\n", &[("F", "true")]).sdk_disabled());
    assert!(
        outcome(
            "file_format: \"1.1\"\ndisabled: \"${F}\"\n",
            &[("F", "true")]
        )
        .contains("must be true or false, found a string")
    );
    // Keys are never substituted.
    assert!(
        outcome("file_format: \"1.1\"\n${K}: 1\n", &[("K", "disabled")])
            .contains("unknown key `${K}`")
    );
    // The official examples' idiom.
    let idiom = "file_format: \"1.1\"\ndisabled: ${OTEL_SDK_DISABLED:-false}\n";
    assert!(!settings(idiom, &[]).sdk_disabled());
    assert!(settings(idiom, &[("OTEL_SDK_DISABLED", "true")]).sdk_disabled());
}

// --- samplers, on a real provider --------------------------------------------------------

fn provider(
    yaml: &str,
) -> (
    opencensus_settings::Telemetry,
    opentelemetry_sdk::trace::SdkTracerProvider,
) {
    let t = opencensus_settings::build(settings(yaml, &[])).unwrap_or_else(|e| panic!("{e}"));
    let p = t.tracer_provider().unwrap().clone();
    (t, p)
}

fn sampled(
    p: &opentelemetry_sdk::trace::SdkTracerProvider,
    cx: &Context,
    kind: SpanKind,
    attrs: Vec<KeyValue>,
) -> bool {
    let tracer = p.tracer("t");
    let span = tracer
        .span_builder("s")
        .with_kind(kind)
        .with_attributes(attrs)
        .start_with_context(&tracer, cx);
    span.span_context().is_sampled()
}

fn remote(sampled: bool) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_bytes([7; 16]),
        SpanId::from_bytes([3; 8]),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        },
        true,
        TraceState::default(),
    ))
}

#[test]
fn parent_based_with_five_delegates() {
    // Each delegate the opposite of its default: every one is seen to decide.
    let (_t, p) = provider(
        "file_format: \"1.1\"\ntracer_provider:\n  processors: [{simple: {exporter: {console: }}}]\n  sampler:\n    parent_based:\n      root: {always_off: }\n      remote_parent_sampled: {always_off: }\n      remote_parent_not_sampled: {always_on: }\n",
    );
    assert!(!sampled(&p, &Context::new(), SpanKind::Server, vec![]));
    assert!(!sampled(&p, &remote(true), SpanKind::Server, vec![]));
    assert!(sampled(&p, &remote(false), SpanKind::Server, vec![]));
}

#[test]
fn rule_based_drops_redis_pings_and_follows_parents() {
    // The schema's own snippet (`Sampler_composite_rule_based_drop_redis_ping.yaml`), with
    // a console exporter.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/otel-config/Sampler_composite_rule_based_drop_redis_ping.yaml");
    let yaml = std::fs::read_to_string(path)
        .unwrap()
        .replace("otlp_http:", "console:");
    let (_t, p) = provider(&yaml);
    let ping = || vec![KeyValue::new("db.operation", "PING")];
    assert!(!sampled(&p, &Context::new(), SpanKind::Client, ping()));
    assert!(sampled(&p, &Context::new(), SpanKind::Server, ping()));
    assert!(sampled(
        &p,
        &Context::new(),
        SpanKind::Client,
        vec![KeyValue::new("db.operation", "GET")]
    ));
    // parent_threshold: the parent decides.
    assert!(!sampled(&p, &remote(false), SpanKind::Server, vec![]));
    assert!(sampled(&p, &remote(true), SpanKind::Server, vec![]));
}

#[test]
fn rule_based_kitchen_sink_semantics() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/otel-config/Sampler_rule_based_kitchen_sink.yaml");
    let yaml = std::fs::read_to_string(path).unwrap();
    let (_t, p) = provider(&yaml);
    let route = |r: &str| vec![KeyValue::new("http.route", r.to_string())];
    let path = |r: &str| vec![KeyValue::new("http.path", r.to_string())];
    assert!(!sampled(
        &p,
        &Context::new(),
        SpanKind::Server,
        route("/healthz")
    ));
    assert!(sampled(
        &p,
        &Context::new(),
        SpanKind::Server,
        path("/internal/x")
    ));
    // Excluded by the pattern: falls to the last rule (0.1%): with this trace id, not sampled.
    assert!(!sampled(
        &p,
        &remote(true),
        SpanKind::Server,
        path("/internal/special/x")
    ));
    // No rule of its own inside a sampled parent: OpenTelemetry's rules do not inherit.
    assert!(!sampled(&p, &remote(true), SpanKind::Internal, vec![]));
}

#[test]
fn no_tracer_provider_traces_nothing_and_no_propagator_propagates_nothing() {
    let s = settings(HEAD, &[]);
    assert!(
        s.sampler().value.ends_with("ALWAYS_OFF"),
        "{:?}",
        s.sampler()
    );
    assert!(
        s.propagator().value.ends_with("(propagators=[])"),
        "{:?}",
        s.propagator()
    );
    assert!(
        s.warnings()
            .iter()
            .any(|w| w.message.contains("nothing is traced"))
    );
    // No sampler: parent_based with always_on.
    let s = settings(
        "file_format: \"1.1\"\ntracer_provider:\n  processors: [{simple: {exporter: {console: }}}]\n",
        &[],
    );
    assert!(
        s.sampler()
            .value
            .contains("ParentBased(root=opentelemetry.sdk.trace.sampling.ALWAYS_ON)")
    );
}

#[test]
fn propagators_join_composite_and_composite_list() {
    let s = settings(
        "file_format: \"1.1\"\npropagator:\n  composite: [{tracecontext: }, {b3: }]\n  composite_list: \"baggage, tracecontext,b3multi\"\n",
        &[],
    );
    let p = &s.propagator().value;
    let order = [
        "TraceContextPropagator",
        "inject='single'",
        "W3CBaggagePropagator",
        "inject='multi'",
    ];
    let at: Vec<usize> = order.iter().map(|n| p.find(n).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{p}");
    assert_eq!(p.matches("TraceContextPropagator").count(), 1, "{p}");
}

#[test]
fn resource_types_and_limits() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/otel-config/Resource_kitchen_sink.yaml");
    let text = check(
        Settings::loader()
            .config_file(&path)
            .env(Vec::<(String, String)>::new())
            .executable_dir(None),
    )
    .to_string();
    assert!(text.contains("ok:"), "{text}");
    assert!(text.contains("detection/development"), "{text}");
    let (t, _) = provider(
        "file_format: \"1.1\"\nresource:\n  schema_url: https://opentelemetry.io/schemas/1.16.0\n  attributes:\n    - {name: n, value: 1, type: int}\n    - {name: b, value: [true, false], type: bool_array}\n    - {name: s, value: 1.10}\n  attributes_list: \"n=ignored,v=1.0.0\"\ntracer_provider:\n  processors: [{simple: {exporter: {console: }}}]\n  limits: {attribute_count_limit: 2, event_count_limit: 0}\n",
    );
    let report = t.report().to_string();
    assert!(report.contains("attributes 2, events 0"), "{report}");
    drop(t);
}

// --- check and reload --------------------------------------------------------------------

#[test]
fn check_exits_1_with_every_line_or_0_with_origins() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "file_format: \"1.1\"\ntracer_providr: {}\ntracer_provider:\n  processors:\n    - batch: {schedule_delay: x, exporter: {console: }}\n",
    )
    .unwrap();
    let run = |vars: &[(&str, &Path)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_opencensus-settings"));
        cmd.arg("check").current_dir(dir.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("OTEL_") || k.starts_with("OPENCENSUS") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[("OTEL_CONFIG_FILE", &bad)]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("bad.yaml:2:1"), "{text}");
    assert!(text.contains("bad.yaml:5:31"), "{text}");
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch: {exporter: {console: }}\n  sampler: {always_on: }\n",
    )
    .unwrap();
    let out = run(&[("OTEL_EXPERIMENTAL_CONFIG_FILE", &good)]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("good.yaml:5"), "{text}");
    assert!(text.contains("tracer_provider.sampler"), "{text}");
}

#[test]
fn reload_applies_a_new_sampler_from_the_yaml_file() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = |ratio: &str| {
        format!(
            "{HEAD}tracer_provider:\n  processors: [{{batch: {{exporter: {{console: }}}}}}]\n  sampler: {{trace_id_ratio_based: {{ratio: {ratio}}}}}\ninstrumentation/development:\n  rust:\n    opencensus_settings: {{reload_interval: 0}}\n"
        )
    };
    let (loader, path) = loader_in(dir.path(), &yaml("0.0"), &[]);
    let t = opencensus_settings::build(loader.load().unwrap()).unwrap();
    let p = t.tracer_provider().unwrap().clone();
    assert!(!sampled(&p, &Context::new(), SpanKind::Server, vec![]));
    std::fs::write(&path, yaml("1.0")).unwrap();
    match t.reload() {
        opencensus_settings::ReloadStatus::Applied { changed, .. } => {
            assert!(
                changed
                    .iter()
                    .any(|c| c.contains("SAMPLER") || c.contains("sampler")),
                "{changed:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(sampled(&p, &Context::new(), SpanKind::Server, vec![]));
    // A broken file keeps what runs, and says where.
    std::fs::write(&path, yaml("2")).unwrap();
    match t.reload() {
        opencensus_settings::ReloadStatus::Invalid { error } => {
            assert!(error.contains("otel.yaml:4:"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    assert!(sampled(&p, &Context::new(), SpanKind::Server, vec![]));
}

// --- a real app, configured by the file, sending to the ingestion test server --------------

#[cfg(all(feature = "azure", feature = "axum"))]
mod azure_monitor {
    use super::common::ingest::{IKEY, Ingest, requests};
    use super::common::{assert_ok, is_child};

    const YAML: &str = r#"file_format: "1.1"
resource:
  attributes:
    - name: service.name
      value: ${SERVICE:-checkout}
propagator:
  composite: [{tracecontext: }]
tracer_provider:
  processors:
    - batch:
        schedule_delay: 50
        exporter:
          azure_monitor:
            enable_local_storage: false
  sampler:
    parent_based:
      root: {always_on: }
instrumentation/development:
  rust:
    http:
      server:
        excluded_paths: ["/healthz"]
"#;

    #[tokio::test(flavor = "multi_thread")]
    async fn an_app_configured_by_the_file_sends_requests_to_application_insights() {
        let name =
            "azure_monitor::an_app_configured_by_the_file_sends_requests_to_application_insights";
        if is_child(name) {
            return child().await;
        }
        let ingest = Ingest::start().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("otel.yaml");
        std::fs::write(&path, YAML).unwrap();
        let env = vec![
            ("OTEL_CONFIG_FILE".to_string(), path.display().to_string()),
            (
                "APPLICATIONINSIGHTS_CONNECTION_STRING".to_string(),
                ingest.connection_string(),
            ),
            // Ignored while the file is in use.
            ("OTEL_TRACES_SAMPLER".to_string(), "always_off".to_string()),
        ];
        let out = super::common::run_child_async(name, env).await;
        let stdout = assert_ok(&out);
        assert!(
            stdout.contains("OTEL_TRACES_SAMPLER is ignored"),
            "{stdout}"
        );
        let all = ingest
            .wait_for("2 requests", |e| requests(e).len() >= 2)
            .await;
        assert!(ingest.rejected().is_empty(), "{:#?}", ingest.rejected());
        let reqs = requests(&all);
        assert_eq!(
            reqs.len(),
            2,
            "the excluded /healthz is not sent: {reqs:#?}"
        );
        for r in &reqs {
            assert_eq!(r["iKey"], IKEY);
            assert_eq!(r["tags"]["ai.cloud.role"], "checkout", "{r:#}");
        }
        let child = reqs
            .iter()
            .find(|r| r["data"]["baseData"]["name"] == "GET /users/{id}")
            .unwrap();
        assert_eq!(
            child["tags"]["ai.operation.id"],
            "0af7651916cd43dd8448eb211c80319c"
        );
    }

    async fn child() {
        use axum::Router;
        use axum::extract::Path;
        use axum::routing::get;
        let telemetry = opencensus_settings::init_from_settings().unwrap_or_else(|e| panic!("{e}"));
        println!("{}", telemetry.report());
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/users/{id}",
                get(|Path(id): Path<u64>| async move { format!("{id}") }),
            )
            .layer(opencensus_settings::OpencensusLayer::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = reqwest::Client::new();
        for path in ["/", "/healthz"] {
            let r = client
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        let r = client
            .get(format!("http://{addr}/users/7"))
            .header(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        drop(super::common::flushed(telemetry).await);
    }
}

#[test]
fn the_readme_yaml_examples_are_valid() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    assert!(blocks.len() >= 2, "{}", blocks.len());
    for block in blocks {
        let text = outcome(
            block,
            &[(
                "APPLICATIONINSIGHTS_CONNECTION_STRING",
                "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9",
            )],
        );
        assert!(
            text.contains("ok: the settings are valid"),
            "{block}\n{text}"
        );
    }
}

#[test]
fn disabled_still_validates_everything_and_batches_default_as_the_schema_says() {
    let text = outcome(
        "file_format: \"1.1\"\ndisabled: true\ntracer_provider:\n  processors: [{batch: {exporter: {otlp_http: {timeout: soon}}}}]\n",
        &[],
    );
    assert!(text.contains("timeout` must be an integer"), "{text}");
    // Python's defaults (5000 / 2048 / 512) for a batch with no settings.
    let text = outcome(
        "file_format: \"1.1\"\ntracer_provider:\n  processors: [{batch: {exporter: {console: }}}]\n",
        &[],
    );
    assert!(
        text.contains(
            "batch (schedule_delay=5000ms, max_export_batch_size=512, max_queue_size=2048)"
        ),
        "{text}"
    );
    // And the OTLP timeout: 10000 ms, bounded by the batch's export_timeout.
    let text = outcome(
        "file_format: \"1.1\"\ntracer_provider:\n  processors: [{batch: {export_timeout: 2000, exporter: {otlp_http: }}}]\n",
        &[],
    );
    assert!(
        text.contains("otlp timeout") && text.contains("2s"),
        "{text}"
    );
}

#[test]
fn non_ascii_text_byte_order_marks_and_unparsable_files_keep_positions_and_secrets() {
    // Columns count characters; the caret and the redaction stay on the right bytes.
    let yaml = "\u{feff}file_format: \"1.1\"  # Überwachung, 設定ファイル\ntracer_providr: {}\ntracer_provider:\n  processors:\n    - batch:\n        exporter:\n          otlp_http:\n            headers: [{name: ключ, value: s3cr3t-välue, extra: 1}]\n";
    let text = outcome(yaml, &[]);
    assert!(text.contains("otel.yaml:2:1"), "{text}");
    assert!(text.contains("unknown key `extra`"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(!text.contains("välue"), "{text}");
    // A block value after non-ASCII text: positions and redaction still right.
    let block = "file_format: \"1.1\"\nresource:\n  attributes:\n    - name: note\n      value: |\n        schöne Grüße, 設定\n        zweite Zeile\ntracer_provider:\n  processors:\n    - batch:\n        exporter:\n          azure_monitor:\n            connection_string: |\n              InstrumentationKey=s3cr3t-key\n            bogus: 1\n";
    let text = outcome(block, &[]);
    assert!(text.contains("otel.yaml:15:13"), "{text}");
    assert!(text.contains("15 |             bogus: 1"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    // A file that does not parse shows no secret either.
    let broken = "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        exporter:\n          otlp_http:\n            headers_list: \"api-key=t0ps3cr3t\" ]\n";
    let text = outcome(broken, &[]);
    assert!(text.contains("not valid YAML"), "{text}");
    assert!(!text.contains("t0ps3cr3t"), "{text}");
    // Nor a header in a shape the schema does not have.
    let shape = "file_format: \"1.1\"\ntracer_provider:\n  processors: [{batch: {exporter: {otlp_http: {headers: {api-key: s3cr3t}}}}}]\n";
    let text = outcome(shape, &[]);
    assert!(text.contains("must be a list"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    // A substituted secret of the wrong type is not echoed.
    let sub = "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        exporter:\n          otlp_http:\n            headers:\n              - name: k\n                value: ${TOKEN}\n";
    let text = outcome(sub, &[("TOKEN", "123456789")]);
    assert!(text.contains("must be a string"), "{text}");
    assert!(!text.contains("123456789"), "{text}");
}

#[test]
fn nulls_mean_defaults_or_say_what_is_empty_never_drop_silently() {
    // Other languages' sections are theirs: any keys.
    let shared = "file_format: \"1.1\"\ninstrumentation/development:\n  java:\n    spring_batch: {enabled: true}\n  python:\n    anything: 1\n";
    assert!(outcome(shared, &[]).contains("ok:"));
    // A rule condition left empty is an error, not a rule that matches everything.
    let rule = "file_format: \"1.1\"\ntracer_provider:\n  processors: [{simple: {exporter: {console: }}}]\n  sampler:\n    composite/development:\n      rule_based:\n        rules:\n          - span_kinds:\n              - ${KIND}\n            sampler: {always_off: }\n";
    let text = outcome(rule, &[]);
    assert!(text.contains("span_kinds[0]` is empty"), "{text}");
    // In a flow list, a substitution must be quoted: the error says so.
    let flow = rule.replace(
        "span_kinds:\n              - ${KIND}",
        "span_kinds: [${KIND}]",
    );
    let text = outcome(&flow, &[]);
    assert!(
        text.contains("write a substitution in quotes"),
        "{flow}\n{text}"
    );
    // An attribute without a name.
    let attr =
        "file_format: \"1.1\"\nresource:\n  attributes:\n    - name: ${NAME}\n      value: x\n";
    assert!(outcome(attr, &[]).contains("name` is empty"));
    // A proxy left empty is not given.
    let proxy = "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        exporter:\n          azure_monitor:\n            connection_string: \"InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9\"\n            proxies:\n              https: ${PROXY}\n";
    let text = outcome(proxy, &[]);
    assert!(text.contains("ok:"), "{text}");
    assert!(text.contains("AzureExporter"), "{text}");
    // A credential is one call.
    let cred = "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        exporter:\n          azure_monitor:\n            credential: \"ClientSecretCredential(client_secret=9f3a77b1), export_interval=5\"\n";
    let text = outcome(cred, &[]);
    assert!(text.contains("is not one credential spec"), "{text}");
    assert!(!text.contains("9f3a77b1"), "{text}");
    // Timeouts beyond an hour are cut to one, and the report says what is in force.
    let long = "file_format: \"1.1\"\ntracer_provider:\n  processors: [{batch: {export_timeout: 0, exporter: {otlp_http: {timeout: 7200000}}}}]\n";
    let text = outcome(long, &[]);
    assert!(
        text.contains("otlp timeout") && text.contains("3600s"),
        "{text}"
    );
    // A simple processor has no export timeout of its own: the exporter's 10 s holds.
    let simple = "file_format: \"1.1\"\ntracer_provider:\n  processors: [{simple: {exporter: {otlp_http: }}}]\n";
    let text = outcome(simple, &[]);
    assert!(
        text.contains("otlp timeout") && text.contains("10s"),
        "{text}"
    );
    // Only the queue given, smaller than a batch: batches shrink to it.
    let queue = "file_format: \"1.1\"\ntracer_provider:\n  processors: [{batch: {max_queue_size: 100, exporter: {console: }}}]\n";
    assert!(outcome(queue, &[]).contains("max_export_batch_size=100, max_queue_size=100"));
}
