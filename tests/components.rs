//! Spec strings through the registry: every spec of SPEC.md and the seed resolves (or says
//! clearly why not), and rendered errors are snapshotted so a reviewer sees the caret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use opencensus_settings::registry::{ArgError, Registry, SamplerComponent};
use opencensus_settings::{ErrorKind, Settings, SettingsLoader, check};

fn loader(vars: &[(&str, &str)]) -> SettingsLoader {
    Settings::loader()
        .env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .current_dir(std::env::temp_dir().join("opencensus-settings-no-such-dir"))
        .executable_dir(None)
}

fn key_var(key: &str) -> String {
    format!("OPENCENSUS__TRACE__{key}")
}

/// Checks one spec under `key`; Ok(description) or Err(rendered error).
fn run(key: &str, spec: &str) -> Result<String, (ErrorKind, String)> {
    let var = key_var(key);
    let outcome = check(loader(&[(var.as_str(), spec)]));
    match outcome.error {
        None => Ok(outcome
            .report
            .lines
            .iter()
            .find(|l| l.key == key)
            .map(|l| l.value.clone())
            .unwrap_or_default()),
        Some(e) => Err((e.kind(), e.to_string())),
    }
}

#[test]
fn every_documented_spec_resolves() {
    let ok: &[(&str, &str, &str)] = &[
        (
            "SAMPLER",
            "opencensus.trace.samplers.ProbabilitySampler(rate=0.5)",
            "opencensus.trace.samplers.ProbabilitySampler(rate=0.5)",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(0.5)",
            "opencensus.trace.samplers.ProbabilitySampler(rate=0.5)",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(rate=1)",
            "opencensus.trace.samplers.ProbabilitySampler(rate=1)",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(rate=None)",
            "opencensus.trace.samplers.ProbabilitySampler()",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler",
            "opencensus.trace.samplers.ProbabilitySampler()",
        ),
        (
            "SAMPLER",
            "opencensus.trace.samplers.probability.ProbabilitySampler(rate=1e-4)",
            "opencensus.trace.samplers.ProbabilitySampler(rate=0.0001)",
        ),
        (
            "SAMPLER",
            "opencensus.trace.samplers.AlwaysOnSampler()",
            "opencensus.trace.samplers.AlwaysOnSampler()",
        ),
        (
            "SAMPLER",
            "opencensus.trace.samplers.always_on.AlwaysOnSampler",
            "opencensus.trace.samplers.AlwaysOnSampler()",
        ),
        (
            "SAMPLER",
            "opencensus.trace.samplers.always_off.AlwaysOffSampler()",
            "opencensus.trace.samplers.AlwaysOffSampler()",
        ),
        (
            "SAMPLER",
            "AlwaysOffSampler",
            "opencensus.trace.samplers.AlwaysOffSampler()",
        ),
        (
            "SAMPLER",
            "ParentBased(root=TraceIdRatioBased(rate=.25))",
            "opentelemetry.sdk.trace.sampling.ParentBased(root=TraceIdRatioBased(rate=0.25))",
        ),
        (
            "EXPORTER",
            "opencensus.trace.print_exporter.PrintExporter()",
            "opencensus.trace.print_exporter.PrintExporter()",
        ),
        (
            "EXPORTER",
            "opencensus.trace.exporters.print_exporter.PrintExporter()",
            "opencensus.trace.print_exporter.PrintExporter()",
        ),
        (
            "EXPORTER",
            "PrintExporter(transport=opencensus.common.transports.async_.AsyncTransport)",
            "opencensus.trace.print_exporter.PrintExporter(transport=opencensus.common.transports.async_.AsyncTransport)",
        ),
        (
            "EXPORTER",
            "opencensus.trace.file_exporter.FileExporter(file_name='traces.json', file_mode='a')",
            "opencensus.trace.file_exporter.FileExporter(file_name='traces.json', file_mode='a')",
        ),
        (
            "EXPORTER",
            "opencensus.trace.exporters.file_exporter.FileExporter(transport=SyncTransport)",
            "opencensus.trace.file_exporter.FileExporter(transport=SyncTransport)",
        ),
        (
            "EXPORTER",
            "FileExporter('x.json', AsyncTransport, 'w')",
            "opencensus.trace.file_exporter.FileExporter(file_name='x.json', transport=AsyncTransport, file_mode='w')",
        ),
        (
            "PROPAGATOR",
            "opencensus.trace.propagation.trace_context_http_header_format.TraceContextPropagator()",
            "opencensus.trace.propagation.trace_context_http_header_format.TraceContextPropagator()",
        ),
        (
            "PROPAGATOR",
            "TraceContextPropagator",
            "opencensus.trace.propagation.trace_context_http_header_format.TraceContextPropagator()",
        ),
        (
            "PROPAGATOR",
            "CompositePropagator(propagators=[TraceContextPropagator(), W3CBaggagePropagator()])",
            "opentelemetry.propagators.composite.CompositePropagator(propagators=[TraceContextPropagator(), W3CBaggagePropagator()])",
        ),
    ];
    for (key, spec, want) in ok {
        match run(key, spec) {
            Ok(got) => assert_eq!(&got, want, "{spec}"),
            Err((_, e)) => panic!("{spec} should resolve:\n{e}"),
        }
    }
}

#[cfg(not(feature = "otlp"))]
#[test]
fn components_not_in_this_build_say_so() {
    let (kind, text) = run(
        "EXPORTER",
        "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter()",
    )
    .unwrap_err();
    assert_eq!(kind, ErrorKind::NotAvailable, "{text}");
    assert!(
        text.contains("build opencensus-settings with the `otlp` feature"),
        "{text}"
    );
}

#[test]
fn the_seed_exporter_needs_a_connection_string() {
    // The seed's exporter parses and resolves; without a connection string it says how to give one.
    let (kind, text) = run(
        "EXPORTER",
        "opencensus.ext.azure.trace_exporter.AzureExporter(\n    service_name='foobar',\n)",
    )
    .unwrap_err();
    assert_eq!(kind, ErrorKind::InvalidArgument, "{text}");
    assert!(
        text.contains("APPLICATIONINSIGHTS_CONNECTION_STRING"),
        "{text}"
    );
}

#[test]
fn invalid_specs_are_errors_of_the_right_kind() {
    let bad: &[(&str, &str, ErrorKind, &str)] = &[
        (
            "SAMPLER",
            "ProbabilitySampler(rate=1.5)",
            ErrorKind::InvalidArgument,
            "expected a number in 0.0..=1.0, found 1.5",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(rate=-0.1)",
            ErrorKind::InvalidArgument,
            "found -0.1",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(rate=True)",
            ErrorKind::InvalidArgument,
            "True (a boolean)",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(rate='0.5')",
            ErrorKind::InvalidArgument,
            "without quotes",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(rate=[0.5])",
            ErrorKind::InvalidArgument,
            "found a list",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(rate=1/2)",
            ErrorKind::SpecSyntax,
            "arithmetic",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(rate=float('nan'))",
            ErrorKind::InvalidArgument,
            "expected a number",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(rat=0.5)",
            ErrorKind::InvalidArgument,
            "did you mean `rate`?",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(0.5, 0.6)",
            ErrorKind::InvalidArgument,
            "takes 1 positional argument",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(0.5, rate=0.6)",
            ErrorKind::InvalidArgument,
            "given twice",
        ),
        (
            "SAMPLER",
            "ProbabilitySampler(rate=0.5, rate=0.6)",
            ErrorKind::SpecSyntax,
            "rate",
        ),
        (
            "SAMPLER",
            "ProbabilitySamplr(rate=0.5)",
            ErrorKind::UnknownComponent,
            "did you mean `ProbabilitySampler`?",
        ),
        (
            "SAMPLER",
            "opencensus.trace.ProbabilitySampler(rate=0.5)",
            ErrorKind::UnknownComponent,
            "write `opencensus.trace.samplers.ProbabilitySampler`",
        ),
        (
            "SAMPLER",
            "PrintExporter()",
            ErrorKind::UnknownComponent,
            "`PrintExporter` is an exporter, but a sampler is expected here",
        ),
        (
            "SAMPLER",
            "__import__('os').system('rm -rf /')",
            ErrorKind::SpecSyntax,
            "",
        ),
        (
            "SAMPLER",
            "eval('1')",
            ErrorKind::UnknownComponent,
            "never evaluated",
        ),
        (
            "SAMPLER",
            "ParentBased()",
            ErrorKind::InvalidArgument,
            "needs `root=`",
        ),
        (
            "EXPORTER",
            "PrintExporter(transport=Nope)",
            ErrorKind::UnknownComponent,
            "unknown transport `Nope`",
        ),
        (
            "EXPORTER",
            "FileExporter(file_mode='x')",
            ErrorKind::InvalidArgument,
            "file_mode",
        ),
        (
            "EXPORTER",
            "FileExporter(file_name=3)",
            ErrorKind::InvalidArgument,
            "a string in quotes",
        ),
        (
            "EXPORTER",
            "PrintExporter(transport=true)",
            ErrorKind::UnknownComponent,
            "did you mean `True`?",
        ),
        (
            "PROPAGATOR",
            "TraceContextPropagator(",
            ErrorKind::SpecSyntax,
            "",
        ),
        (
            "PROPAGATOR",
            "CompositePropagator(propagators=[AlwaysOnSampler()])",
            ErrorKind::UnknownComponent,
            "is a sampler",
        ),
    ];
    for (key, spec, kind, needle) in bad {
        let (got_kind, text) = run(key, spec).expect_err(spec);
        assert_eq!(got_kind, *kind, "{spec}:\n{text}");
        assert!(
            text.contains(needle),
            "{spec}: missing {needle:?} in\n{text}"
        );
        assert!(
            text.contains(&format!("environment variable {}", key_var(key))),
            "{text}"
        );
        assert!(text.contains('^'), "a caret under the span:\n{text}");
    }
}

#[test]
fn user_components_resolve_and_are_checked() {
    let mut registry = Registry::default();
    registry
        .register_sampler("myapp.samplers.EveryNth", ["n"], |args| {
            let n = args.u64_in("n", 10, 1..=1_000_000)?;
            Ok(SamplerComponent {
                sampler: Box::new(
                    opencensus_settings::opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(
                        1.0 / n as f64,
                    ),
                ),
                rate: Some(1.0 / n as f64),
            })
        })
        .unwrap();
    registry
        .register_sampler("myapp.samplers.Picky", Vec::<&str>::new(), |args| {
            Err(ArgError::invalid("picky refuses").at(args.call_span()))
        })
        .unwrap();
    assert!(
        registry
            .register_sampler("bad name", ["x"], |_| unreachable!())
            .is_err()
    );
    assert!(
        registry
            .register_sampler("myapp.samplers.EveryNth", ["x"], |_| unreachable!())
            .is_err()
    );

    let ok = check(
        loader(&[("OPENCENSUS__TRACE__SAMPLER", "EveryNth(n=4)")]).registry(registry.clone()),
    );
    assert!(ok.is_ok(), "{ok}");
    assert!(
        ok.to_string().contains("myapp.samplers.EveryNth(n=4)"),
        "{ok}"
    );
    let bad = check(
        loader(&[("OPENCENSUS__TRACE__SAMPLER", "myapp.samplers.EveryNth(n=0)")])
            .registry(registry.clone()),
    );
    assert!(
        bad.to_string()
            .contains("expected an integer in 1..=1000000, found 0"),
        "{bad}"
    );
    let refused = check(loader(&[("OPENCENSUS__TRACE__SAMPLER", "Picky")]).registry(registry));
    assert!(refused.to_string().contains("picky refuses"), "{refused}");
    // Without the registry, the name is unknown.
    let unknown = check(loader(&[("OPENCENSUS__TRACE__SAMPLER", "EveryNth(n=4)")]));
    assert_eq!(unknown.error.unwrap().kind(), ErrorKind::UnknownComponent);
}

#[test]
fn exclusion_entries_are_validated() {
    for (list, needle) in [
        ("[\"\"]", "EXCLUDELIST_PATHS entry 1"),
        ("[\"ok\", \"a**b\"]", "entry 2"),
        ("[\"https://\"]", "entry 1"),
        ("[\"https://example.com:99999\"]", "entry 1"),
    ] {
        let outcome = check(loader(&[("OPENCENSUS__TRACE__EXCLUDELIST_PATHS", list)]));
        let err = outcome.error.expect(list);
        assert_eq!(err.kind(), ErrorKind::InvalidExclusion, "{err}");
        assert!(err.to_string().contains(needle), "{list}: {err}");
    }
    let outcome = check(loader(&[(
        "OPENCENSUS__TRACE__EXCLUDELIST_HOSTNAMES",
        "example.com/x",
    )]));
    assert!(outcome.error.is_some());
}

#[test]
fn secrets_never_appear_in_errors_or_reports() {
    let mut registry = Registry::default();
    registry
        .register_exporter(
            "myapp.Secretive",
            [
                opencensus_settings::registry::Param::secret("token"),
                "level".into(),
            ],
            |args| {
                let _ = args.str("token")?;
                let _ = args.f64_in("level", 1.0, 0.0..=1.0)?;
                Ok(opencensus_settings::registry::ExporterComponent::processor(
                    |_| {
                        Err::<opencensus_settings::opentelemetry_sdk::trace::BatchSpanProcessor, _>(
                            "never built in check".into(),
                        )
                    },
                ))
            },
        )
        .unwrap();
    for spec in [
        "Secretive(token='hunter2-SECRET', level=5)",
        "Secretive(token=42)",
        "Secretive(token='hunter2-SECRET' level=1)",
        "Secretive(token='hunter2-SECRET",
    ] {
        let outcome =
            check(loader(&[("OPENCENSUS__TRACE__EXPORTER", spec)]).registry(registry.clone()));
        let text = outcome.to_string();
        assert!(outcome.error.is_some(), "{spec}");
        assert!(!text.contains("hunter2"), "{spec}:\n{text}");
        assert!(!text.contains("token=42"), "{spec}:\n{text}");
    }
    let outcome = check(
        loader(&[(
            "OPENCENSUS__TRACE__EXPORTER",
            "Secretive(token='hunter2-SECRET')",
        )])
        .registry(registry),
    );
    assert!(outcome.is_ok(), "{outcome}");
    assert!(
        outcome.to_string().contains("token='<redacted>'"),
        "{outcome}"
    );
    assert!(!outcome.to_string().contains("hunter2"));
}

fn render(key: &str, spec: &str) -> String {
    run(key, spec).unwrap_err().1
}

#[test]
fn snapshot_rate_out_of_range() {
    insta::assert_snapshot!(render("SAMPLER", "ProbabilitySampler(rate=1.5)"));
}

#[test]
fn snapshot_unknown_component_with_suggestion() {
    insta::assert_snapshot!(render(
        "SAMPLER",
        "opencensus.trace.samplers.ProbabiltySampler(rate=0.5)"
    ));
}

#[test]
fn snapshot_unknown_keyword_multiline_seed_style() {
    insta::assert_snapshot!(render(
        "EXPORTER",
        "opencensus.trace.print_exporter.PrintExporter(\n    service_name='foobar',\n)"
    ));
}

#[test]
fn snapshot_arithmetic_is_not_evaluated() {
    insta::assert_snapshot!(render("SAMPLER", "ProbabilitySampler(rate=1/2)"));
}

#[test]
fn snapshot_wrong_kind() {
    insta::assert_snapshot!(render("PROPAGATOR", "ProbabilitySampler(rate=0.5)"));
}

#[test]
fn snapshot_file_type_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("opencensus.toml"),
        "[OPENCENSUS.TRACE]\nSAMPLER = \"AlwaysOnSampler()\"\nEXCLUDELIST_PATHS = [\"_ah/health\", 42]\n",
    )
    .unwrap();
    let outcome = check(
        Settings::loader()
            .env(Vec::<(String, String)>::new())
            .current_dir(dir.path())
            .executable_dir(None),
    );
    let text = outcome
        .error
        .unwrap()
        .to_string()
        .replace(&dir.path().display().to_string(), "[DIR]");
    insta::assert_snapshot!(text);
}

#[test]
fn b3_and_google_propagators_resolve() {
    for (spec, want) in [
        (
            "opencensus.trace.propagation.b3_format.B3FormatPropagator()",
            "opencensus.trace.propagation.b3_format.B3FormatPropagator()",
        ),
        (
            "B3FormatPropagator(inject='single')",
            "opencensus.trace.propagation.b3_format.B3FormatPropagator(inject='single')",
        ),
        (
            "opencensus.trace.propagation.google_cloud_format.GoogleCloudFormatPropagator()",
            "opencensus.trace.propagation.google_cloud_format.GoogleCloudFormatPropagator()",
        ),
    ] {
        assert_eq!(run("PROPAGATOR", spec).unwrap(), want);
    }
    let (kind, text) = run("PROPAGATOR", "B3FormatPropagator(inject='both')").unwrap_err();
    assert_eq!(kind, ErrorKind::InvalidArgument);
    assert!(text.contains("'multi' or 'single'"), "{text}");
    // OTEL_PROPAGATORS=b3 / b3multi map onto it.
    for v in ["b3", "b3multi", "tracecontext,b3"] {
        let outcome = check(loader(&[("OTEL_PROPAGATORS", v)]));
        assert!(outcome.is_ok(), "{v}: {outcome}");
    }
}

/// Issue 17 (item 10): an `Error` returned from `main` prints as `Error: ` + one clean message
/// (its `Debug` is its `Display`), not a blank line first.
#[test]
fn an_error_from_main_prints_one_clean_message() {
    let err = opencensus_settings::Settings::loader()
        .env([("OPENCENSUS__TRACE__SAMPLER", "ProbabilitySampler(rate=1.5)")])
        .current_dir("/nonexistent")
        .executable_dir(None)
        .load()
        .and_then(opencensus_settings::init_with)
        .unwrap_err();
    let debug = format!("{err:?}");
    assert_eq!(debug, err.to_string());
    assert!(debug.starts_with("error: "), "{debug}");
}
