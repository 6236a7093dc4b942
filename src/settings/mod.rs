//! Settings: built-in defaults < standard variables < settings file < `OPENCENSUS__TRACE__*`
//! variables, every effective value with its origin. This file is the [`Settings`] value and
//! its API; `loader` is the load pipeline, `discover` finds the file, `file`/`env`/`standard`
//! read the three sources.
//!
//! figment does the layering (one provider per value, so every value keeps its own origin);
//! this module does what figment alone gets wrong for us: it keeps the case of variable names,
//! names the real variable in errors, refuses a missing file instead of reading it as empty,
//! never searches parent directories, keeps numeric-looking strings as strings, and keeps the
//! line of every value of the file.

mod discover;
mod env;
mod file;
pub(crate) mod keys;
mod loader;
pub(crate) mod otel;
pub(crate) mod rules;
pub(crate) mod standard;

pub use loader::SettingsLoader;
pub use rules::SamplingRule;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::environment::Environment;
use crate::error::{Error, ErrorKind, Problem};
use crate::origin::{Origin, Setting};
use crate::registry::Registry;
use keys::Key;

/// A warning found while loading (the settings are still valid).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Warning {
    /// What is worth knowing.
    pub message: String,
    /// The variable or line it is about.
    pub origin: Option<Origin>,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "warning: {}", self.message)?;
        if let Some(origin) = &self.origin {
            write!(f, "\n  --> {origin}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    Str(String),
    List(Vec<String>),
}

/// Which front-end the settings came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Format {
    /// `opencensus.toml`, the variables, code.
    #[default]
    Opencensus,
    /// OpenTelemetry's configuration file (`OTEL_CONFIG_FILE`).
    OtelYaml,
}

/// One value of one source, before layering.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: Key,
    /// The key as the user spelled it (or the variable's name).
    pub(crate) spelling: String,
    pub(crate) value: RawValue,
    pub(crate) origin: Origin,
    /// The file line the value's text starts on (a multi-line string's content may start on
    /// the line after its opening quotes); 0 when not from a file.
    pub(crate) first_line: usize,
}

/// Two spellings of one key in one source: case variants, or `BLACKLIST_*` next to `EXCLUDELIST_*`.
pub(crate) fn check_duplicates(entries: &[Entry]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, a) in entries.iter().enumerate() {
        if let Some(b) = entries[..i].iter().find(|b| b.key == a.key) {
            let alias = !a.spelling.eq_ignore_ascii_case(&b.spelling);
            let message = if alias {
                format!(
                    "`{}` and `{}` both set {}; `BLACKLIST_*` is the old name of `EXCLUDELIST_*`: give only one",
                    b.spelling,
                    a.spelling,
                    a.key.name()
                )
            } else {
                format!(
                    "`{}` and `{}` differ only in case; keys are case-insensitive: give only one",
                    b.spelling, a.spelling
                )
            };
            problems.push(
                Problem::new(ErrorKind::InvalidValue, message)
                    .key(a.key.name())
                    .at(a.origin.clone())
                    .help(format!("the other one is at {}", b.origin)),
            );
        }
    }
    problems
}

/// The effective settings: every value with its origin, and the registry that gives spec
/// strings their meaning.
///
/// Load them with [`Settings::load`] (file + environment, as [`init_from_settings`](crate::init_from_settings)
/// does), or start from the built-in defaults with [`Settings::default`] and set values in code
/// (the Flask-style set-up), then install them with [`init_with`](crate::init_with).
#[derive(Clone)]
pub struct Settings {
    pub(crate) file: Option<PathBuf>,
    pub(crate) sampler: Setting<String>,
    pub(crate) exporter: Setting<String>,
    pub(crate) propagator: Setting<String>,
    pub(crate) exclude_paths: Setting<Vec<String>>,
    pub(crate) exclude_hostnames: Setting<Vec<String>>,
    pub(crate) sampling_rules: Setting<Vec<SamplingRule>>,
    /// `RELOAD_INTERVAL`, seconds (0: off).
    pub(crate) reload_interval: Setting<f64>,
    pub(crate) service_name: Option<Setting<String>>,
    pub(crate) resource_attributes: Vec<Setting<(String, opentelemetry::Value)>>,
    /// The resource's schema URL (OpenTelemetry's file).
    pub(crate) resource_schema_url: Option<Setting<String>>,
    pub(crate) sdk_disabled: Option<Setting<bool>>,
    /// The front-end.
    pub(crate) format: Format,
    /// For spec strings written by the YAML front-end: where each argument's value was in the
    /// file (a component's error about it points there).
    pub(crate) spec_positions: HashMap<Key, Vec<(std::ops::Range<usize>, Origin)>>,
    /// The span processor the file asked for (`batch` with its settings, or `simple`); `None`:
    /// each exporter's own.
    pub(crate) processing: Option<Setting<crate::registry::Processing>>,
    /// Span limits (OpenTelemetry's file); `None`: the SDK's defaults.
    pub(crate) span_limits: Option<Setting<opentelemetry_sdk::trace::SpanLimits>>,
    /// `SAMPLING_RULES` semantics: a span with no rule of its own inside a request a rule
    /// decided is decided as that request (ours); OpenTelemetry's `rule_based` has no such
    /// inheritance.
    pub(crate) rules_inherit: bool,
    pub(crate) environment: Environment,
    pub(crate) warnings: Vec<Warning>,
    /// What `standard` variables showed for a key, when in effect (for display).
    pub(crate) shown: HashMap<Key, String>,
    /// For values from the settings file: the file line their text starts on (so an error
    /// numbers a multi-line spec string's lines as the file does).
    pub(crate) first_lines: HashMap<Key, usize>,
    pub(crate) registry: Arc<Registry>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("file", &self.file)
            // Spec strings may hold secrets (a connection string, OTLP headers): redacted.
            .field("sampler", &self.registry.redact(&self.sampler.value))
            .field("exporter", &self.registry.redact(&self.exporter.value))
            .field("propagator", &self.registry.redact(&self.propagator.value))
            .field("exclude_paths", &self.exclude_paths)
            .field("exclude_hostnames", &self.exclude_hostnames)
            .field("service_name", &self.service_name)
            .field("sdk_disabled", &self.sdk_disabled)
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

fn default_setting<T>(value: T) -> Setting<T> {
    Setting {
        value,
        origin: Origin::Default,
    }
}

impl Default for Settings {
    /// The built-in defaults (OpenCensus's), reading neither a file nor the environment.
    fn default() -> Self {
        Settings {
            file: None,
            sampler: default_setting(keys::DEFAULT_SAMPLER.to_string()),
            exporter: default_setting(keys::DEFAULT_EXPORTER.to_string()),
            propagator: default_setting(keys::DEFAULT_PROPAGATOR.to_string()),
            exclude_paths: default_setting(
                keys::DEFAULT_EXCLUDE_PATHS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            exclude_hostnames: default_setting(Vec::new()),
            sampling_rules: default_setting(Vec::new()),
            reload_interval: default_setting(rules::DEFAULT_RELOAD_SECS),
            service_name: None,
            resource_attributes: Vec::new(),
            resource_schema_url: None,
            sdk_disabled: None,
            format: Format::Opencensus,
            spec_positions: HashMap::new(),
            processing: None,
            span_limits: None,
            rules_inherit: true,
            environment: Environment::default(),
            warnings: Vec::new(),
            shown: HashMap::new(),
            first_lines: HashMap::new(),
            registry: Arc::new(Registry::default()),
        }
    }
}

impl Settings {
    /// Loads the settings the way [`init_from_settings`](crate::init_from_settings) does: the
    /// file named by `OPENCENSUS_SETTINGS`, else `./opencensus.toml`, else `opencensus.toml`
    /// beside the executable (none is fine), layered with the environment.
    ///
    /// # Errors
    /// Every problem of the file and the variables, together (see [`Error::problems`]).
    pub fn load() -> Result<Settings, Error> {
        SettingsLoader::new().load()
    }

    /// A loader with explicit inputs (a settings file, an environment, directories): for tests
    /// and for tools like `opencensus-settings check --config`.
    pub fn loader() -> SettingsLoader {
        SettingsLoader::new()
    }

    /// The settings file that was read, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// `SAMPLER`: the sampler spec string and its origin.
    pub fn sampler(&self) -> &Setting<String> {
        &self.sampler
    }

    /// `EXPORTER`: the exporter spec string and its origin.
    pub fn exporter(&self) -> &Setting<String> {
        &self.exporter
    }

    /// `PROPAGATOR`: the propagator spec string and its origin.
    pub fn propagator(&self) -> &Setting<String> {
        &self.propagator
    }

    /// `EXCLUDELIST_PATHS` (alias `BLACKLIST_PATHS`).
    pub fn exclude_paths(&self) -> &Setting<Vec<String>> {
        &self.exclude_paths
    }

    /// `EXCLUDELIST_HOSTNAMES` (alias `BLACKLIST_HOSTNAMES`).
    pub fn exclude_hostnames(&self) -> &Setting<Vec<String>> {
        &self.exclude_hostnames
    }

    /// `SAMPLING_RULES`, in order (the first that matches a span decides it).
    pub fn sampling_rules(&self) -> &Setting<Vec<SamplingRule>> {
        &self.sampling_rules
    }

    /// `RELOAD_INTERVAL`: how often the settings file is read again (0: never; `Telemetry::reload`
    /// still works).
    pub fn reload_interval(&self) -> Setting<std::time::Duration> {
        Setting {
            value: std::time::Duration::from_secs_f64(self.reload_interval.value),
            origin: self.reload_interval.origin.clone(),
        }
    }

    /// The service name (`OTEL_SERVICE_NAME`, or set in code), if given.
    pub fn service_name(&self) -> Option<&Setting<String>> {
        self.service_name.as_ref()
    }

    /// Whether `OTEL_SDK_DISABLED=true` is in effect.
    pub fn sdk_disabled(&self) -> bool {
        self.sdk_disabled.as_ref().is_some_and(|s| s.value)
    }

    /// Warnings found while loading (shadowed standard variables, misspelt variable names).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The registry that resolves spec strings.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The environment these settings were loaded from (what exporters read).
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// The value of an environment variable as these settings saw it (exporters read their
    /// standard variables through this, so a loader's explicit environment holds for them too).
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.environment.var(name)
    }

    /// Uses this Microsoft Entra ID credential for `AzureExporter` (feature `entra`): any
    /// credential of the Azure SDK for Rust, or your own `TokenCredential`. `credential=` in the
    /// spec, when given, wins.
    #[cfg(feature = "entra")]
    #[track_caller]
    pub fn with_azure_credential(
        mut self,
        credential: Arc<dyn azure_core::credentials::TokenCredential>,
    ) -> Self {
        self.environment.azure_credential = Some((credential, Origin::caller()));
        self
    }

    /// Sets `SAMPLER` in code.
    #[track_caller]
    pub fn with_sampler(mut self, spec: impl Into<String>) -> Self {
        self.sampler = Setting {
            value: spec.into(),
            origin: Origin::caller(),
        };
        self.shown.remove(&Key::Sampler);
        self
    }

    /// Sets `EXPORTER` in code.
    #[track_caller]
    pub fn with_exporter(mut self, spec: impl Into<String>) -> Self {
        self.exporter = Setting {
            value: spec.into(),
            origin: Origin::caller(),
        };
        self
    }

    /// Sets `PROPAGATOR` in code.
    #[track_caller]
    pub fn with_propagator(mut self, spec: impl Into<String>) -> Self {
        self.propagator = Setting {
            value: spec.into(),
            origin: Origin::caller(),
        };
        self.shown.remove(&Key::Propagator);
        self
    }

    /// Sets `EXCLUDELIST_PATHS` in code.
    #[track_caller]
    pub fn with_exclude_paths<I, S>(mut self, entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclude_paths = Setting {
            value: entries.into_iter().map(Into::into).collect(),
            origin: Origin::caller(),
        };
        self
    }

    /// Sets `EXCLUDELIST_HOSTNAMES` in code.
    #[track_caller]
    pub fn with_exclude_hostnames<I, S>(mut self, entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclude_hostnames = Setting {
            value: entries.into_iter().map(Into::into).collect(),
            origin: Origin::caller(),
        };
        self
    }

    /// Sets the service name in code (beats `OTEL_SERVICE_NAME`).
    #[track_caller]
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(Setting {
            value: name.into(),
            origin: Origin::caller(),
        });
        self
    }

    /// Uses `registry` (with the application's own components) to resolve spec strings.
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = Arc::new(registry);
        self
    }

    pub(crate) fn setting_str(&self, key: Key) -> &Setting<String> {
        match key {
            Key::Sampler => &self.sampler,
            Key::Exporter => &self.exporter,
            _ => &self.propagator,
        }
    }

    pub(crate) fn setting_list(&self, key: Key) -> &Setting<Vec<String>> {
        match key {
            Key::ExcludeHostnames => &self.exclude_hostnames,
            _ => &self.exclude_paths,
        }
    }

    /// What the report, errors and reloads call the setting `name` (its `[OPENCENSUS.TRACE]`
    /// name, or the variable): the same name, or its path in OpenTelemetry's file.
    pub(crate) fn label(&self, name: &'static str) -> &'static str {
        const IN_YAML: [(&str, &str); 8] = [
            ("SAMPLER", "tracer_provider.sampler"),
            ("EXPORTER", "tracer_provider.processors[0].exporter"),
            ("PROPAGATOR", "propagator"),
            (
                "EXCLUDELIST_PATHS",
                "instrumentation/development.rust.http.server.excluded_paths",
            ),
            (
                "EXCLUDELIST_HOSTNAMES",
                "instrumentation/development.rust.http.client.excluded_hosts",
            ),
            ("SAMPLING_RULES", "tracer_provider.sampler rules"),
            (
                "RELOAD_INTERVAL",
                "instrumentation/development.rust.opencensus_settings.reload_interval",
            ),
            ("OTEL_SDK_DISABLED", "disabled"),
        ];
        match self.format {
            Format::Opencensus => name,
            Format::OtelYaml => IN_YAML
                .iter()
                .find(|(toml, _)| *toml == name)
                .map_or(name, |(_, yaml)| yaml),
        }
    }

    /// [`Settings::label`] of a key.
    pub(crate) fn key_label(&self, key: Key) -> String {
        self.label(key.name()).to_string()
    }

    /// How a standard variable showed the value of `key`, when it is the one in effect.
    pub(crate) fn shown(&self, key: Key) -> Option<&str> {
        self.shown.get(&key).map(String::as_str)
    }
}
