//! `opencensus-settings check`: load and validate the way `init_from_settings` would, print
//! every effective value with its origin, and every error. No exporter is built, nothing is
//! sent, no global is touched.

use std::fmt;

use crate::error::Error;
use crate::report::StartupReport;
use crate::resolve::resolve;
use crate::settings::SettingsLoader;

/// The outcome of [`check`]: what is configured and from where, and every problem.
#[derive(Debug)]
#[non_exhaustive]
pub struct CheckOutcome {
    /// What resolved, with origins (lines for values that failed are absent).
    pub report: StartupReport,
    /// Every problem, or `None` when the settings are valid.
    pub error: Option<Error>,
}

impl CheckOutcome {
    /// Whether the settings are valid.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

impl fmt::Display for CheckOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.report)?;
        match &self.error {
            None => write!(f, "ok: the settings are valid"),
            Some(err) => write!(f, "\n{err}"),
        }
    }
}

/// Loads and validates settings without installing anything: the library form of
/// `opencensus-settings check`. Give the loader your registry (with
/// [`SettingsLoader::registry`]) so your own components are checked too.
///
/// ```
/// let outcome = opencensus_settings::check(
///     opencensus_settings::Settings::loader().env([("OPENCENSUS__TRACE__SAMPLER", "AlwaysOnSampler()")]),
/// );
/// assert!(outcome.is_ok(), "{outcome}");
/// ```
pub fn check(loader: SettingsLoader) -> CheckOutcome {
    let (settings, mut problems) = loader.load_collecting();
    match resolve(&settings) {
        Ok(resolved) => CheckOutcome {
            report: resolved.report,
            error: (!problems.is_empty()).then(|| Error::from_problems(problems)),
        },
        Err((more, report)) => {
            problems.extend(more);
            CheckOutcome {
                report,
                error: Some(Error::from_problems(problems)),
            }
        }
    }
}
