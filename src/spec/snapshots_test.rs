//! Snapshot tests of rendered errors (`src/spec/snapshots/*.snap`).
//!
//! Snapshot names are not prefixed with the module path, so the files stay
//! valid when this folder moves to another crate.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::single_range_in_vec_init
)]

use super::{Span, parse, render_snippet};

/// The spec, the error message, the snippet and the help of `spec`'s parse error.
fn rendered(spec: &str, redact: &[Span]) -> String {
    let err = parse(spec).expect_err("spec should be invalid");
    let mut out = format!(
        "error: {}\n{}",
        err.message,
        render_snippet(spec, err.span, redact, "")
    );
    if let Some(help) = &err.help {
        out.push_str("\n   = help: ");
        out.push_str(help);
    }
    out
}

fn check(name: &str, spec: &str, redact: &[Span]) {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!("parse({spec:?})"));
    settings.bind(|| insta::assert_snapshot!(name, rendered(spec, redact)));
}

#[test]
fn snapshot_arithmetic() {
    check(
        "spec_err_arithmetic",
        "opencensus.trace.samplers.ProbabilitySampler(rate=1/2)",
        &[],
    );
}

#[test]
fn snapshot_missing_close_paren_multiline() {
    check(
        "spec_err_missing_close_paren",
        "opencensus.ext.azure.trace_exporter.AzureExporter(\n    service_name='foobar',\n    # no closing paren\n",
        &[],
    );
}

#[test]
fn snapshot_unterminated_triple_quote() {
    check(
        "spec_err_unterminated_triple",
        "AzureExporter(\n    service_name='''foobar\n        and more\n)",
        &[],
    );
}

#[test]
fn snapshot_unknown_escape() {
    check(
        "spec_err_unknown_escape",
        r"FileExporter(file_name='C:\data\traces.json')",
        &[],
    );
}

#[test]
fn snapshot_repeated_keyword() {
    check(
        "spec_err_repeated_keyword",
        "AzureExporter(\n    service_name='a',\n    service_name='b',\n)",
        &[],
    );
}

#[test]
fn snapshot_positional_after_keyword() {
    check(
        "spec_err_positional_after_keyword",
        "ProbabilitySampler(rate=0.5, 0.25)",
        &[],
    );
}

#[test]
fn snapshot_trailing_after_call() {
    check(
        "spec_err_trailing",
        "opencensus.trace.samplers.AlwaysOnSampler(); import os",
        &[],
    );
}

#[test]
fn snapshot_fstring() {
    check(
        "spec_err_fstring",
        "PrintExporter(prefix=f'{os.environ}')",
        &[],
    );
}

#[test]
fn snapshot_tabs_and_multibyte() {
    check(
        "spec_err_tabs_multibyte",
        "\tA(nom='é€😀',\tcl\u{e9}=1)",
        &[],
    );
}

#[test]
fn snapshot_hex_literal() {
    check("spec_err_hex", "A(x=[1, 2, 0x1F])", &[]);
}

#[test]
fn snapshot_empty() {
    check("spec_err_empty", "  # only a comment\n", &[]);
}

#[test]
fn snapshot_redacted_secret() {
    let spec = "AzureExporter(connection_string='InstrumentationKey=s3cr3t' proxies={})";
    let start = spec.find("InstrumentationKey").unwrap();
    let end = spec.find("' ").unwrap();
    let out = rendered(spec, &[start..end]);
    assert!(!out.contains("s3cr3t"));
    check("spec_err_redacted", spec, &[start..end]);
}
