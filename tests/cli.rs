//! `opencensus-settings check`: exit codes, origins, all errors at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn check_cmd(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_opencensus-settings"));
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("OPENCENSUS")
            || k.starts_with("OTEL_")
            || k.starts_with("APPLICATIONINSIGHTS")
        {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[test]
fn check_accepts_the_example_file_and_prints_origins() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/opencensus.toml.example");
    let out = check_cmd(dir.path())
        .args(["check", "--config", example])
        .env(
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            "InstrumentationKey=0d3c4f2a-5b6e-4c7d-8e9f-a0b1c2d3e4f5;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The effective ingestion endpoint and where it came from; the key redacted.
    assert!(
        stdout.contains("https://westeurope-5.in.applicationinsights.azure.com/v2/track  <- environment variable APPLICATIONINSIGHTS_CONNECTION_STRING"),
        "{stdout}"
    );
    assert!(stdout.contains("instrumentation key"), "{stdout}");
    assert!(!stdout.contains("0d3c4f2a"), "{stdout}");
    assert!(stdout.contains("service_name='foobar'"), "{stdout}");
    // Without a connection string anywhere, the same file is an error naming every way.
    let missing = check_cmd(dir.path())
        .args(["check", "--config", example])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("APPLICATIONINSIGHTS_CONNECTION_STRING")
    );
    assert!(stdout.contains("SAMPLER"), "{stdout}");
    assert!(
        stdout.contains("opencensus.trace.samplers.ProbabilitySampler(rate=0.5)  <- "),
        "{stdout}"
    );
    let text = std::fs::read_to_string(example).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("SAMPLER ="))
        .unwrap()
        + 1;
    assert!(
        stdout.contains(&format!("opencensus.toml.example:{line}\n")),
        "{stdout}"
    );
    assert!(stdout.contains("ok: the settings are valid"), "{stdout}");
}

#[test]
fn check_finds_the_file_in_the_current_directory_and_env_overrides() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("opencensus.toml"),
        "[OPENCENSUS.TRACE]\nSAMPLER = \"AlwaysOnSampler()\"\n",
    )
    .unwrap();
    let out = check_cmd(dir.path())
        .arg("check")
        .env("OPENCENSUS__TRACE__PROPAGATOR", "TraceContextPropagator()")
        .env("OTEL_TRACES_SAMPLER", "always_off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("opencensus.toml:2"), "{stdout}");
    assert!(
        stdout.contains("<- environment variable OPENCENSUS__TRACE__PROPAGATOR"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning: OTEL_TRACES_SAMPLER=always_off is shadowed by SAMPLER"),
        "{stdout}"
    );
}

#[test]
fn check_reports_every_error_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(
        &file,
        "[OPENCENSUS.TRACE]\nSAMPLER = \"ProbabilitySampler(rate=1.5)\"\nEXPORTER = \"PrintExportr()\"\nEXCLUDELIST_PATHS = [\"\"]\nSAMPLR = 1\n",
    )
    .unwrap();
    let out = check_cmd(dir.path())
        .args(["check", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("4 problems found"), "{stderr}");
    assert!(stderr.contains("broken.toml:2"), "{stderr}");
    assert!(stderr.contains("did you mean `PrintExporter`?"), "{stderr}");
    assert!(stderr.contains("did you mean `SAMPLER`?"), "{stderr}");
    assert!(stderr.contains("EXCLUDELIST_PATHS entry 1"), "{stderr}");
}

#[test]
fn check_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["bogus"][..],
        &["check", "--config"][..],
        &["check", "--nope"][..],
        &[][..],
    ] {
        let out = check_cmd(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage: opencensus-settings check"));
    }
    let out = check_cmd(dir.path())
        .args(["check", "--config", "/no/such/file.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn check_accepts_the_settings_the_examples_ship() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/opencensus.toml");
    let out = check_cmd(dir.path())
        .args(["check", "--config", shipped])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("opencensus.trace.samplers.AlwaysOnSampler()  <- "),
        "{stdout}"
    );
    assert!(
        stdout.contains("opencensus.trace.print_exporter.PrintExporter()  <- "),
        "{stdout}"
    );
}

/// Issue 17 (item 7): `check --config missing.toml` says so first, with no report of the
/// defaults before the error.
#[test]
fn check_with_a_missing_config_file_is_an_error_before_any_report() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["check", "--config", "missing.toml"],
        vec!["check", "--config=missing.toml"],
    ] {
        let out = check_cmd(dir.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.is_empty(), "no report: {stdout}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: the settings file missing.toml does not exist"),
            "{stderr}"
        );
    }
}

#[test]
fn check_reports_the_service_name_the_app_will_have() {
    // Not the tool's own name (`unknown_service:opencensus-settings`): the app's, as its
    // Cargo.toml names it, and the cloud role the envelopes will carry with it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"orders-api\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("opencensus.toml"),
        "[OPENCENSUS.TRACE]\nEXPORTER = \"PrintExporter()\"\n",
    )
    .unwrap();
    let out = check_cmd(dir.path()).arg("check").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("service.name"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("unknown_service:orders-api"), "{line}");
    assert!(
        !stdout.contains("unknown_service:opencensus-settings"),
        "{stdout}"
    );

    // Without a Cargo.toml, it says it cannot know rather than guess.
    std::fs::remove_file(dir.path().join("Cargo.toml")).unwrap();
    let out = check_cmd(dir.path()).arg("check").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("unknown_service:<the app's executable name>"),
        "{stdout}"
    );
}
