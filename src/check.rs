//! `opencensus-settings check`: load and validate the way `init_from_settings` would, print
//! every effective value with its origin, and every error. No exporter is built, nothing is
//! sent, no global is touched.

use std::fmt;

use crate::error::Error;
use crate::report::StartupReport;
use crate::resolve::resolve_checking;
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
    match resolve_checking(&settings) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use crate::registry::{ArgError, ComponentKind, Factory, Param, Registry};
    use crate::settings::Settings;

    /// A registry where `SlowExporter` is known but needs a feature this build lacks.
    fn registry() -> Registry {
        let mut r = Registry::default();
        r.add_builtin_params(
            "opencensus_settings.test.SlowExporter",
            vec![Param::new("timeout")],
            Factory::Unavailable {
                kind: ComponentKind::Exporter,
                feature: "slow",
                validate: Arc::new(|args| {
                    args.seconds_in("timeout", 10.0, 60.0).map(|_| ())?;
                    Ok::<(), ArgError>(())
                }),
            },
        );
        r
    }

    fn loader(exporter: &str) -> crate::settings::SettingsLoader {
        Settings::loader()
            .env([("OPENCENSUS__TRACE__EXPORTER", exporter)])
            .current_dir("/nonexistent")
            .executable_dir(None)
            .registry(registry())
    }

    #[test]
    fn a_component_this_build_lacks_is_checked_and_reported_as_needing_its_feature() {
        // SPEC 10: valid, and needing a feature to run, is not unknown.
        let outcome = super::check(loader("SlowExporter(timeout=5)"));
        assert!(outcome.is_ok(), "{outcome}");
        let text = outcome.to_string();
        assert!(
            text.contains("valid; needs feature `slow` to run"),
            "{text}"
        );

        // Its arguments are judged all the same.
        let outcome = super::check(loader("SlowExporter(timeout=500)"));
        let text = outcome.to_string();
        assert!(!outcome.is_ok(), "{text}");
        assert!(text.contains("timeout"), "{text}");
        let outcome = super::check(loader("SlowExporter(timeot=5)"));
        assert!(!outcome.is_ok(), "{outcome}");
        assert!(outcome.to_string().contains("did you mean"), "{outcome}");

        // Installing it is refused, naming the feature.
        let err = crate::install::build(loader("SlowExporter(timeout=5)").load().unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("not available in this build") && err.contains("`slow` feature"),
            "{err}"
        );
    }
}
