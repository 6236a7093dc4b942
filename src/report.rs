//! What is configured and from where: the start-up report's lines, shared by the resolver (which
//! writes them), exporters (which add their own details) and `check` (which prints them).

use std::fmt;

/// One line of the start-up report / `check` output.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReportLine {
    /// `SAMPLER`, `EXPORTER`, ..., or `service.name`.
    pub key: String,
    /// The resolved value, secrets redacted.
    pub value: String,
    /// Where it came from (a standard variable shows its value too).
    pub origin: String,
}

/// What was configured, and from where: logged once at install (INFO, target
/// `opencensus_settings`), returned by [`Telemetry::report`](crate::Telemetry::report), printed by
/// `opencensus-settings check`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct StartupReport {
    /// The settings file used, or `None` for "no settings file".
    pub file: Option<String>,
    /// One line per setting.
    pub lines: Vec<ReportLine>,
    /// Warnings (shadowed standard variables, misspelt variables).
    pub warnings: Vec<String>,
    /// Whether `OTEL_SDK_DISABLED=true` is in effect.
    pub disabled: bool,
}

impl fmt::Display for StartupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => writeln!(f, "settings file: {file}")?,
            None => writeln!(
                f,
                "settings file: none found (built-in defaults and environment)"
            )?,
        }
        if self.disabled {
            writeln!(
                f,
                "tracing disabled by OTEL_SDK_DISABLED=true: nothing is recorded, context still propagates"
            )?;
        }
        let width = self.lines.iter().map(|l| l.key.len()).max().unwrap_or(0);
        for line in &self.lines {
            writeln!(
                f,
                "  {:width$}  {}  <- {}",
                line.key, line.value, line.origin
            )?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}
