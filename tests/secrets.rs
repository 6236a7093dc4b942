//! SPEC 8's redaction list, each form a user can write a secret in, against every output that
//! could show it: `Debug` of the settings and the guard, errors (with their caret snippets and
//! quoted TOML lines), and `check`'s report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use opencensus_settings::{Settings, check};

const GUID: &str = "5ec2e7c0-0000-4000-8000-00000000abcd";

fn key() -> String {
    format!("InstrumentationKey={GUID}")
}

fn loader(vars: &[(&str, &str)]) -> opencensus_settings::SettingsLoader {
    Settings::loader()
        .env(vars.iter().copied())
        .current_dir("/nonexistent")
        .executable_dir(None)
}

#[cfg(feature = "azure")]
#[test]
fn settings_and_telemetry_debug_never_show_the_connection_string() {
    let spec = format!(
        "AzureExporter(connection_string='{}', enable_local_storage=False)",
        key()
    );
    let settings = loader(&[("OPENCENSUS__TRACE__EXPORTER", &spec)])
        .load()
        .unwrap();
    let debug = format!("{settings:?}");
    assert!(!debug.contains(GUID), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    let telemetry = opencensus_settings::build(settings).unwrap();
    let debug = format!("{telemetry:?}");
    assert!(!debug.contains(GUID), "{debug}");
    telemetry
        .with_shutdown_grace(std::time::Duration::from_millis(50))
        .shutdown();
}

#[cfg(feature = "azure")]
#[test]
fn positional_and_triple_quoted_keys_never_appear_in_errors() {
    for spec in [
        format!("AzureExporter('{}', max_batch_size=0)", key()),
        format!(
            "AzureExporter(connection_string='''{}''', max_batch_size=0)",
            key()
        ),
        format!(
            "AzureExporter(connection_string=\"\"\"{}\"\"\", max_batch_size=0)",
            key()
        ),
        format!(
            "AzureExporter(connection_string='{}', max_batch_size=0",
            key()
        ),
    ] {
        let out = check(loader(&[("OPENCENSUS__TRACE__EXPORTER", &spec)])).to_string();
        assert!(out.contains("error"), "{spec}:\n{out}");
        assert!(!out.contains(GUID), "{spec}:\n{out}");
    }
}

#[test]
fn a_toml_syntax_error_on_the_exporter_line_does_not_quote_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opencensus.toml");
    std::fs::write(
        &path,
        format!(
            "[OPENCENSUS.TRACE]\nEXPORTER = \"AzureExporter(connection_string='{}')\" trailing\n",
            key()
        ),
    )
    .unwrap();
    let out = check(loader(&[]).config_file(&path)).to_string();
    assert!(out.contains("not valid TOML"), "{out}");
    assert!(!out.contains(GUID), "{out}");
}

#[cfg(feature = "otlp")]
#[test]
fn check_never_prints_url_userinfo() {
    let spec = "OTLPSpanExporter(endpoint='https://alice:s3cret@collector:4318/v1/traces')";
    let outcome = check(loader(&[("OPENCENSUS__TRACE__EXPORTER", spec)]));
    let out = outcome.to_string();
    assert!(!out.contains("s3cret") && !out.contains("alice"), "{out}");
    assert!(out.contains("<redacted>@collector:4318"), "{out}");
}
