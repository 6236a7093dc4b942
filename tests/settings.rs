//! Settings layering, origins, and each figment pitfall the loader must avoid.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use opencensus_settings::{ErrorKind, Origin, Settings, SettingsLoader, check};

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }
    /// A loader isolated from the process: only `vars`, this dir as cwd, no exe dir.
    fn loader(&self, vars: &[(&str, &str)]) -> SettingsLoader {
        Settings::loader()
            .env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .current_dir(self.path())
            .executable_dir(None)
    }
}

fn file_origin(path: &Path, line: usize) -> Origin {
    Origin::File {
        path: path.to_path_buf(),
        line,
    }
}

fn env_origin(var: &str) -> Origin {
    Origin::Env {
        var: var.to_string(),
    }
}

const SEED: &str = r#"# the seed document's settings
[OPENCENSUS.TRACE]
SAMPLER = "opencensus.trace.samplers.ProbabilitySampler(rate=0.5)"
EXPORTER = """opencensus.ext.azure.trace_exporter.AzureExporter(
    service_name='foobar',
)"""
EXCLUDELIST_PATHS = ["_ah/health", "/healthz"]
"#;

#[test]
fn no_file_means_defaults_with_default_origins() {
    let dir = Dir::new();
    let s = dir.loader(&[]).load().unwrap();
    assert_eq!(s.file(), None);
    assert_eq!(
        s.sampler().value,
        "opencensus.trace.samplers.ProbabilitySampler(rate=0.0001)"
    );
    assert_eq!(s.sampler().origin, Origin::Default);
    assert_eq!(s.exclude_paths().value, vec!["_ah/health".to_string()]);
    assert_eq!(s.exclude_hostnames().value, Vec::<String>::new());
    let outcome = check(dir.loader(&[]));
    assert!(outcome.is_ok(), "{outcome}");
    assert!(outcome.to_string().contains("none found"), "{outcome}");
}

#[test]
fn file_values_keep_their_lines() {
    let dir = Dir::new();
    let path = dir.write("opencensus.toml", SEED);
    let s = dir.loader(&[]).load().unwrap();
    assert_eq!(s.file(), Some(path.as_path()));
    assert_eq!(s.sampler().origin, file_origin(&path, 3));
    assert_eq!(s.exporter().origin, file_origin(&path, 4));
    assert!(s.exporter().value.contains("service_name='foobar'"));
    assert_eq!(s.exclude_paths().origin, file_origin(&path, 7));
    assert_eq!(s.exclude_paths().value, vec!["_ah/health", "/healthz"]);
    // Not given in the file: still the default.
    assert_eq!(s.propagator().origin, Origin::Default);
}

#[test]
fn precedence_across_all_four_layers() {
    let dir = Dir::new();
    let path = dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nSAMPLER = \"AlwaysOffSampler()\"\nPROPAGATOR = \"TraceContextPropagator()\"\n",
    );
    // standard < file < OPENCENSUS__TRACE__*
    let s = dir
        .loader(&[
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_PROPAGATORS", "baggage"),
            (
                "OPENCENSUS__TRACE__SAMPLER",
                "ProbabilitySampler(rate=0.25)",
            ),
        ])
        .load()
        .unwrap();
    assert_eq!(s.sampler().value, "ProbabilitySampler(rate=0.25)");
    assert_eq!(s.sampler().origin, env_origin("OPENCENSUS__TRACE__SAMPLER"));
    assert_eq!(s.propagator().origin, file_origin(&path, 3));
    // Both standard variables are shadowed: warnings that name them.
    let warnings: Vec<String> = s.warnings().iter().map(|w| w.message.clone()).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("OTEL_TRACES_SAMPLER=always_on")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("OTEL_PROPAGATORS=baggage")),
        "{warnings:?}"
    );

    // Without the file and the override, the standard variable beats the default.
    let dir2 = Dir::new();
    let s = dir2
        .loader(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ])
        .load()
        .unwrap();
    assert_eq!(s.sampler().origin, env_origin("OTEL_TRACES_SAMPLER"));
    assert_eq!(
        s.sampler().value,
        "opentelemetry.sdk.trace.sampling.ParentBased(root=opentelemetry.sdk.trace.sampling.TraceIdRatioBased(rate=0.5))"
    );
    // ... and the default when nothing is set.
    let s = dir2.loader(&[]).load().unwrap();
    assert_eq!(s.sampler().origin, Origin::Default);
}

#[test]
fn sdk_disabled_always_wins_and_still_validates() {
    let dir = Dir::new();
    dir.write(
        "opencensus.toml",
        SEED.replace(
            "AzureExporter(\n    service_name='foobar',\n)",
            "PrintExporter()",
        )
        .as_str(),
    );
    let s = dir.loader(&[("OTEL_SDK_DISABLED", "TRUE")]).load().unwrap();
    assert!(s.sdk_disabled());
    let bad = dir.loader(&[
        ("OTEL_SDK_DISABLED", "true"),
        ("OPENCENSUS__TRACE__SAMPLER", "Nope()"),
    ]);
    assert!(!check(bad).is_ok());
    let err = dir
        .loader(&[("OTEL_SDK_DISABLED", "yes")])
        .load()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidEnvironment);
    assert!(err.to_string().contains("OTEL_SDK_DISABLED"), "{err}");
    // Empty means unset.
    assert!(
        !dir.loader(&[("OTEL_SDK_DISABLED", "")])
            .load()
            .unwrap()
            .sdk_disabled()
    );
}

// --- figment pitfalls -------------------------------------------------------------------

#[test]
fn pitfall_env_keys_are_not_lowercased_away() {
    // figment's Env lowercases keys, so an override onto `OPENCENSUS.TRACE` was dropped.
    let dir = Dir::new();
    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nSAMPLER = \"AlwaysOffSampler()\"\n",
    );
    for var in [
        "OPENCENSUS__TRACE__SAMPLER",
        "opencensus__trace__sampler",
        "OpenCensus__Trace__Sampler",
    ] {
        let s = dir.loader(&[(var, "AlwaysOnSampler()")]).load().unwrap();
        assert_eq!(s.sampler().value, "AlwaysOnSampler()", "{var}");
        assert_eq!(s.sampler().origin, env_origin(var), "{var}");
    }
}

#[test]
fn pitfall_errors_name_the_real_variable_not_the_dotted_key() {
    let dir = Dir::new();
    let err = dir
        .loader(&[("opencensus__trace__sampler", "ProbabilitySampler(rate=1.5)")])
        .load()
        .and_then(opencensus_settings::init_with)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("environment variable opencensus__trace__sampler"),
        "{text}"
    );
    assert!(!text.contains("OPENCENSUS.TRACE.SAMPLER"), "{text}");
    assert_eq!(
        err.origin(),
        Some(&env_origin("opencensus__trace__sampler"))
    );
}

#[test]
fn pitfall_missing_file_is_an_error_not_empty() {
    let dir = Dir::new();
    let missing = dir.path().join("nope.toml");
    let err = dir
        .loader(&[("OPENCENSUS_SETTINGS", missing.to_str().unwrap())])
        .load()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("OPENCENSUS_SETTINGS"), "{err}");
    assert!(err.to_string().contains("nope.toml"), "{err}");
    // An empty OPENCENSUS_SETTINGS is an error too.
    let err = dir
        .loader(&[("OPENCENSUS_SETTINGS", "")])
        .load()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("OPENCENSUS_SETTINGS is set but empty"),
        "{err}"
    );
    // --config overrides OPENCENSUS_SETTINGS, and must exist too.
    let real = dir.write(
        "real.toml",
        "[OPENCENSUS.TRACE]\nSAMPLER = \"AlwaysOnSampler()\"\n",
    );
    let s = dir
        .loader(&[("OPENCENSUS_SETTINGS", missing.to_str().unwrap())])
        .config_file(&real)
        .load()
        .unwrap();
    assert_eq!(s.file(), Some(real.as_path()));
    assert!(dir.loader(&[]).config_file(&missing).load().is_err());
}

#[test]
fn pitfall_parent_directories_are_not_searched() {
    let dir = Dir::new();
    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nSAMPLER = \"AlwaysOnSampler()\"\n",
    );
    let child = dir.path().join("app");
    std::fs::create_dir_all(&child).unwrap();
    let s = Settings::loader()
        .env(Vec::<(String, String)>::new())
        .current_dir(&child)
        .executable_dir(None)
        .load()
        .unwrap();
    assert_eq!(s.file(), None);
    assert_eq!(s.sampler().origin, Origin::Default);
    // Beside the executable is the second place looked at.
    let s = Settings::loader()
        .env(Vec::<(String, String)>::new())
        .current_dir(&child)
        .executable_dir(Some(dir.path().to_path_buf()))
        .load()
        .unwrap();
    assert_eq!(s.sampler().value, "AlwaysOnSampler()");
}

#[test]
fn pitfall_numeric_looking_strings_stay_strings() {
    let dir = Dir::new();
    let s = dir
        .loader(&[
            ("OPENCENSUS__TRACE__EXCLUDELIST_PATHS", "1,2.5,true"),
            ("OPENCENSUS__TRACE__EXCLUDELIST_HOSTNAMES", "8080"),
        ])
        .load()
        .unwrap();
    assert_eq!(s.exclude_paths().value, vec!["1", "2.5", "true"]);
    assert_eq!(s.exclude_hostnames().value, vec!["8080"]);
    // A numeric SAMPLER is a string that is not a valid spec: a spec error, not a type error.
    let outcome = check(dir.loader(&[("OPENCENSUS__TRACE__SAMPLER", "1")]));
    let err = outcome.error.unwrap();
    assert_eq!(err.kind(), ErrorKind::SpecSyntax, "{err}");
}

#[test]
fn pitfall_file_lines_are_kept_in_errors() {
    let dir = Dir::new();
    let path = dir.write(
        "opencensus.toml",
        "\n\n[OPENCENSUS.TRACE]\nEXPORTER = \"PrintExporter()\"\nSAMPLER = \"ProbabilitySampler(rate=2)\"\n",
    );
    let err = check(dir.loader(&[])).error.unwrap();
    assert_eq!(err.origin(), Some(&file_origin(&path, 5)));
    assert!(
        err.to_string()
            .contains(&format!("SAMPLER at {}:5", path.display())),
        "{err}"
    );
}

#[test]
fn a_multi_line_spec_error_numbers_its_gutter_with_the_files_lines() {
    let dir = Dir::new();
    // The value starts on the line of its quotes: `servce_name` is on line 4 of the file.
    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nSAMPLER = \"AlwaysOnSampler()\"\nEXPORTER = \"\"\"opencensus.trace.print_exporter.PrintExporter(\n    servce_name='x',\n)\"\"\"\n",
    );
    let err = check(dir.loader(&[])).error.unwrap().to_string();
    assert!(err.contains("EXPORTER at "), "{err}");
    assert!(err.contains(":3\n"), "{err}");
    assert!(err.contains(" 4 |     servce_name='x',"), "{err}");
    assert!(!err.contains(" 2 |"), "{err}");

    // A newline right after the opening quotes is not part of the value: it starts on line 4,
    // and `servce_name` is on line 5.
    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nSAMPLER = \"AlwaysOnSampler()\"\nEXPORTER = \'\'\'\nopencensus.trace.print_exporter.PrintExporter(\n    servce_name='x',\n)\'\'\'\n",
    );
    let err = check(dir.loader(&[])).error.unwrap().to_string();
    assert!(err.contains(" 5 |     servce_name='x',"), "{err}");
}

// --- keys ---------------------------------------------------------------------------------

#[test]
fn keys_and_tables_are_case_insensitive() {
    let dir = Dir::new();
    dir.write(
        "opencensus.toml",
        "[opencensus.trace]\nsampler = \"AlwaysOnSampler()\"\nExcludeList_Paths = [\"x\"]\n",
    );
    let s = dir.loader(&[]).load().unwrap();
    assert_eq!(s.sampler().value, "AlwaysOnSampler()");
    assert_eq!(s.exclude_paths().value, vec!["x"]);
}

#[test]
fn blacklist_is_an_alias_and_both_spellings_clash() {
    let dir = Dir::new();
    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nBLACKLIST_PATHS = [\"old\"]\n",
    );
    let s = dir.loader(&[]).load().unwrap();
    assert_eq!(s.exclude_paths().value, vec!["old"]);

    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nBLACKLIST_PATHS = [\"old\"]\nEXCLUDELIST_PATHS = [\"new\"]\n",
    );
    let err = dir.loader(&[]).load().unwrap_err();
    assert!(err.to_string().contains("BLACKLIST_PATHS"), "{err}");
    assert!(err.to_string().contains("EXCLUDELIST_PATHS"), "{err}");

    // Across sources a higher one simply overrides.
    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nBLACKLIST_PATHS = [\"old\"]\n",
    );
    let s = dir
        .loader(&[("OPENCENSUS__TRACE__EXCLUDELIST_PATHS", "new")])
        .load()
        .unwrap();
    assert_eq!(s.exclude_paths().value, vec!["new"]);
}

#[test]
fn keys_differing_only_in_case_are_an_error_naming_both() {
    let dir = Dir::new();
    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nSAMPLER = \"AlwaysOnSampler()\"\nsampler = \"AlwaysOffSampler()\"\n",
    );
    let err = dir.loader(&[]).load().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("`SAMPLER` and `sampler`"), "{text}");
    let err = dir
        .loader(&[
            ("OPENCENSUS__TRACE__SAMPLER", "AlwaysOnSampler()"),
            ("opencensus__trace__SAMPLER", "AlwaysOnSampler()"),
        ])
        .load()
        .unwrap_err();
    assert!(
        err.to_string().contains("OPENCENSUS__TRACE__SAMPLER"),
        "{err}"
    );
    assert!(
        err.to_string().contains("opencensus__trace__SAMPLER"),
        "{err}"
    );
}

#[test]
fn unknown_keys_get_a_suggestion() {
    let dir = Dir::new();
    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nSAMPLR = \"AlwaysOnSampler()\"\n",
    );
    let err = dir.loader(&[]).load().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownKey);
    assert!(err.to_string().contains("did you mean `SAMPLER`?"), "{err}");

    let err = dir
        .loader(&[("OPENCENSUS__TRACE__EXPORTR", "PrintExporter()")])
        .load()
        .unwrap_err();
    assert!(
        err.to_string().contains("OPENCENSUS__TRACE__EXPORTR"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("did you mean OPENCENSUS__TRACE__EXPORTER?"),
        "{err}"
    );

    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACES]\nSAMPLER = \"AlwaysOnSampler()\"\n",
    );
    let err = dir.loader(&[]).load().unwrap_err();
    assert!(err.to_string().contains("did you mean `TRACE`?"), "{err}");
}

#[test]
fn single_underscore_variable_gets_a_warning() {
    let dir = Dir::new();
    let s = dir
        .loader(&[("OPENCENSUS_TRACE_SAMPLER", "AlwaysOnSampler()")])
        .load()
        .unwrap();
    assert_eq!(s.sampler().origin, Origin::Default);
    let w = &s.warnings()[0];
    assert!(
        w.message.contains("OPENCENSUS__TRACE__SAMPLER"),
        "{}",
        w.message
    );
}

#[test]
fn plain_string_where_a_list_is_expected_is_one_entry() {
    let dir = Dir::new();
    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nEXCLUDELIST_PATHS = \"https://example.com\"\n",
    );
    let s = dir.loader(&[]).load().unwrap();
    assert_eq!(s.exclude_paths().value, vec!["https://example.com"]);
}

#[test]
fn env_lists_accept_toml_arrays_and_comma_lists() {
    let dir = Dir::new();
    let cases: &[(&str, &[&str])] = &[
        ("[\"a\", \"b\"]", &["a", "b"]),
        ("a,b", &["a", "b"]),
        (" a , b ", &["a", "b"]),
        ("", &[]),
        ("[]", &[]),
        ("single", &["single"]),
    ];
    for (value, want) in cases {
        let s = dir
            .loader(&[("OPENCENSUS__TRACE__EXCLUDELIST_HOSTNAMES", value)])
            .load()
            .unwrap();
        assert_eq!(&s.exclude_hostnames().value, want, "{value:?}");
    }
    for bad in ["[\"a\"", "[1, 2]", "[\"a\"] trailing"] {
        let err = dir
            .loader(&[("OPENCENSUS__TRACE__EXCLUDELIST_PATHS", bad)])
            .load()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("OPENCENSUS__TRACE__EXCLUDELIST_PATHS"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn wrong_types_in_the_file_are_errors_with_lines() {
    let dir = Dir::new();
    let path = dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nSAMPLER = 0.5\nEXCLUDELIST_PATHS = [\"a\", 1]\n",
    );
    let err = dir.loader(&[]).load().unwrap_err();
    assert_eq!(err.problems().len(), 2, "{err}");
    assert_eq!(err.problems()[0].origin(), Some(&file_origin(&path, 2)));
    assert!(
        err.problems()[0]
            .message()
            .contains("must be a string, found the float 0.5")
    );
    assert!(
        err.problems()[1].message().contains("found the integer 1"),
        "{err}"
    );
}

#[test]
fn invalid_toml_is_reported_with_its_line() {
    let dir = Dir::new();
    let path = dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nSAMPLER = \"unterminated\n",
    );
    let err = dir.loader(&[]).load().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Toml);
    assert_eq!(err.origin(), Some(&file_origin(&path, 2)));
}

#[test]
fn empty_spec_string_is_an_error_not_the_default() {
    let dir = Dir::new();
    dir.write("opencensus.toml", "[OPENCENSUS.TRACE]\nSAMPLER = \"\"\n");
    let err = check(dir.loader(&[])).error.unwrap();
    assert!(err.to_string().contains("empty spec string"), "{err}");
}

#[test]
fn all_problems_of_one_load_are_reported_together() {
    let dir = Dir::new();
    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nSAMPLER = \"ProbabilitySampler(rate=2)\"\nEXPORTER = \"Nope()\"\nEXCLUDELIST_PATHS = [\"\"]\nBOGUS = 1\n",
    );
    let outcome =
        check(dir.loader(&[("OPENCENSUS__TRACE__PROPAGATOR", "TraceContextPropagator(")]));
    let err = outcome.error.unwrap();
    assert_eq!(err.problems().len(), 5, "{err}");
}

#[test]
fn standard_variables_are_errors_only_while_in_effect() {
    let dir = Dir::new();
    // In effect: an error naming the variable.
    let err = dir
        .loader(&[("OTEL_TRACES_SAMPLER", "sometimes")])
        .load()
        .unwrap_err();
    assert!(err.to_string().contains("OTEL_TRACES_SAMPLER"), "{err}");
    let err = dir
        .loader(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ])
        .load()
        .unwrap_err();
    assert!(err.to_string().contains("OTEL_TRACES_SAMPLER_ARG"), "{err}");
    let err = dir
        .loader(&[("OTEL_PROPAGATORS", "tracecontext,jaeger")])
        .load()
        .unwrap_err();
    assert!(err.to_string().contains("OTEL_PROPAGATORS"), "{err}");
    // Shadowed by the file: a warning.
    dir.write(
        "opencensus.toml",
        "[OPENCENSUS.TRACE]\nSAMPLER = \"AlwaysOnSampler()\"\n",
    );
    let s = dir
        .loader(&[("OTEL_TRACES_SAMPLER", "sometimes")])
        .load()
        .unwrap();
    assert!(
        s.warnings()
            .iter()
            .any(|w| w.message.contains("OTEL_TRACES_SAMPLER=sometimes"))
    );
    // Empty means unset.
    let s = dir.loader(&[("OTEL_PROPAGATORS", "")]).load().unwrap();
    assert_eq!(s.propagator().origin, Origin::Default);
}

#[test]
fn every_standard_sampler_and_propagator_value_resolves() {
    let dir = Dir::new();
    for v in [
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    ] {
        let outcome = check(dir.loader(&[
            ("OTEL_TRACES_SAMPLER", v),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ]));
        assert!(outcome.is_ok(), "{v}: {outcome}");
        assert!(
            outcome
                .to_string()
                .contains(&format!("OTEL_TRACES_SAMPLER={v}")),
            "{outcome}"
        );
    }
    for v in ["tracecontext", "baggage", "tracecontext,baggage", "none"] {
        let outcome = check(dir.loader(&[("OTEL_PROPAGATORS", v)]));
        assert!(outcome.is_ok(), "{v}: {outcome}");
    }
}

#[test]
fn resource_variables() {
    let dir = Dir::new();
    let s = dir
        .loader(&[
            ("OTEL_SERVICE_NAME", "checkout"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod,team=a%20b",
            ),
        ])
        .load()
        .unwrap();
    assert_eq!(s.service_name().unwrap().value, "checkout");
    let outcome = check(dir.loader(&[("OTEL_SERVICE_NAME", "checkout")]));
    assert!(
        outcome
            .to_string()
            .contains("checkout  <- environment variable OTEL_SERVICE_NAME"),
        "{outcome}"
    );
    let err = dir
        .loader(&[("OTEL_RESOURCE_ATTRIBUTES", "novalue")])
        .load()
        .unwrap_err();
    assert!(
        err.to_string().contains("OTEL_RESOURCE_ATTRIBUTES"),
        "{err}"
    );
}

#[test]
fn connection_string_is_never_shown() {
    let dir = Dir::new();
    let secret = "InstrumentationKey=11111111-2222-3333-4444-555555555555";
    let s = dir
        .loader(&[("APPLICATIONINSIGHTS_CONNECTION_STRING", secret)])
        .load()
        .unwrap();
    assert!(!format!("{s:?}").contains("11111111"));
    let outcome = check(dir.loader(&[("APPLICATIONINSIGHTS_CONNECTION_STRING", secret)]));
    assert!(!outcome.to_string().contains("11111111"), "{outcome}");
    assert!(outcome.to_string().contains("<redacted>"), "{outcome}");
}
