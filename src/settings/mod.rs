//! Settings: built-in defaults < standard variables < settings file < `OPENCENSUS__TRACE__*`
//! variables, every effective value with its origin.
//!
//! figment does the layering (one provider per value, so every value keeps its own origin);
//! this module does what figment alone gets wrong for us: it keeps the case of variable names,
//! names the real variable in errors, refuses a missing file instead of reading it as empty,
//! never searches parent directories, keeps numeric-looking strings as strings, and keeps the
//! line of every value of the file.

mod env;
mod file;
pub(crate) mod keys;
pub(crate) mod standard;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use figment::value::{Dict, Map, Value as FigValue};
use figment::{Figment, Metadata, Profile, Provider};

use crate::environment::{EnvVar, Environment};
use crate::error::{Error, ErrorKind, Problem};
use crate::origin::{Origin, Setting};
use crate::registry::Registry;
use keys::Key;

/// A warning found while loading (the settings are still valid).
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// One value of one source, before layering.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: Key,
    /// The key as the user spelled it (or the variable's name).
    pub(crate) spelling: String,
    pub(crate) value: RawValue,
    pub(crate) origin: Origin,
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
    pub(crate) service_name: Option<Setting<String>>,
    pub(crate) resource_attributes: Vec<Setting<(String, String)>>,
    pub(crate) sdk_disabled: Option<Setting<bool>>,
    pub(crate) environment: Environment,
    pub(crate) warnings: Vec<Warning>,
    /// What `standard` variables showed for a key, when in effect (for display).
    pub(crate) shown: HashMap<Key, String>,
    pub(crate) registry: Arc<Registry>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("file", &self.file)
            .field("sampler", &self.sampler)
            .field("exporter", &self.exporter)
            .field("propagator", &self.propagator)
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
            service_name: None,
            resource_attributes: Vec::new(),
            sdk_disabled: None,
            environment: Environment::default(),
            warnings: Vec::new(),
            shown: HashMap::new(),
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

    /// How a standard variable showed the value of `key`, when it is the one in effect.
    pub(crate) fn shown(&self, key: Key) -> Option<&str> {
        self.shown.get(&key).map(String::as_str)
    }
}

/// Loads [`Settings`] from explicit inputs. By default it reads the process environment, the
/// current directory and the executable's directory, like [`Settings::load`].
#[derive(Debug, Default)]
pub struct SettingsLoader {
    env: Option<Vec<(OsString, OsString)>>,
    config: Option<PathBuf>,
    cwd: Option<PathBuf>,
    exe_dir: Option<Option<PathBuf>>,
    registry: Option<Registry>,
}

impl SettingsLoader {
    /// A loader reading the process's environment and directories.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses these variables instead of the process environment.
    pub fn env<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        self.env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Reads this settings file (it must exist); overrides `OPENCENSUS_SETTINGS`, as
    /// `opencensus-settings check --config PATH` does.
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config = Some(path.into());
        self
    }

    /// Looks for `opencensus.toml` in this directory instead of the current one.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Looks for `opencensus.toml` beside this directory instead of the executable's (`None`:
    /// do not look there).
    pub fn executable_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.exe_dir = Some(dir);
        self
    }

    /// Uses `registry` to resolve spec strings.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Loads and layers everything.
    ///
    /// # Errors
    /// Every problem found (file, TOML, keys, types, variables), together.
    pub fn load(self) -> Result<Settings, Error> {
        let (settings, problems) = self.load_collecting();
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(Error::from_problems(problems))
        }
    }

    /// Loads as far as possible: the settings (with defaults where a value was bad) and every
    /// problem found.
    pub(crate) fn load_collecting(self) -> (Settings, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();

        let raw_env: Vec<(OsString, OsString)> = match self.env {
            Some(vars) => vars,
            None => std::env::vars_os().collect(),
        };
        let env: Vec<EnvVar> = raw_env
            .into_iter()
            .filter_map(|(k, v)| {
                let name = k.into_string().ok()?;
                Some(EnvVar {
                    name,
                    value: v.into_string().map_err(|_| ()),
                })
            })
            .collect();

        // 1. Which file.
        let file = discover(
            self.config,
            &env,
            self.cwd,
            self.exe_dir.unwrap_or_else(exe_dir),
            &mut problems,
        );

        // 2. Sources.
        let standard = standard::read(&env);
        problems.extend(standard.problems.iter().cloned());
        let mut file_entries = Vec::new();
        if let Some(path) = &file {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let parsed = file::parse_file(path, &text);
                    problems.extend(parsed.problems);
                    file_entries = parsed.entries;
                }
                Err(err) => problems.push(
                    Problem::new(
                        ErrorKind::Io,
                        format!("cannot read the settings file {}: {err}", path.display()),
                    )
                    .at(Origin::File {
                        path: path.clone(),
                        line: 1,
                    })
                    .source(err),
                ),
            }
        }
        let env_entries = env::parse_env(&env);
        problems.extend(env_entries.problems);
        warnings.extend(env_entries.warnings);

        // 3. Layer with figment: one provider per value, so each keeps its origin.
        let mut origins: HashMap<String, Origin> = HashMap::new();
        let mut figment = Figment::new();
        let mut add = |figment: Figment, key: Key, value: FigValue, origin: &Origin| {
            let name = origin.to_string();
            origins.insert(name.clone(), origin.clone());
            figment.merge(EntryProvider { key, value, name })
        };
        let defaults = Settings::default();
        for key in keys::ALL_KEYS {
            let value = match key {
                Key::Sampler | Key::Exporter | Key::Propagator => {
                    FigValue::from(defaults.setting_str(key).value.clone())
                }
                _ => FigValue::from(defaults.setting_list(key).value.clone()),
            };
            figment = add(figment, key, value, &Origin::Default);
        }
        let mut standard_problems: HashMap<String, Problem> = HashMap::new();
        for entry in &standard.entries {
            let value = match &entry.spec {
                Ok(spec) => spec.clone(),
                Err(problem) => {
                    standard_problems.insert(entry.origin.to_string(), problem.clone());
                    String::new()
                }
            };
            figment = add(figment, entry.key, FigValue::from(value), &entry.origin);
        }
        for entry in file_entries.iter().chain(env_entries.entries.iter()) {
            let value = match &entry.value {
                RawValue::Str(s) => FigValue::from(s.clone()),
                RawValue::List(l) => FigValue::from(l.clone()),
            };
            figment = add(figment, entry.key, value, &entry.origin);
        }

        // 4. Read back the effective values and their origins.
        let mut settings = Settings {
            file: file.clone(),
            environment: Environment {
                vars: Arc::new(env),
                ..Environment::default()
            },
            registry: Arc::new(self.registry.unwrap_or_default()),
            ..Settings::default()
        };
        for key in keys::ALL_KEYS {
            let path = key.path();
            let origin = figment
                .find_metadata(&path)
                .and_then(|m| origins.get(m.name.as_ref()))
                .cloned()
                .unwrap_or(Origin::Default);
            let value = figment.find_value(&path).ok();
            if key.is_list() {
                let list = value
                    .and_then(|v| v.into_array())
                    .map(|items| {
                        items
                            .into_iter()
                            .filter_map(|v| v.into_string())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                let setting = Setting {
                    value: list,
                    origin,
                };
                match key {
                    Key::ExcludePaths => settings.exclude_paths = setting,
                    _ => settings.exclude_hostnames = setting,
                }
            } else {
                let s = value.and_then(|v| v.into_string()).unwrap_or_default();
                let setting = Setting { value: s, origin };
                match key {
                    Key::Sampler => settings.sampler = setting,
                    Key::Exporter => settings.exporter = setting,
                    _ => settings.propagator = setting,
                }
            }
        }

        // 5. Standard variables: errors only while in effect; shadowed ones are warnings.
        for entry in &standard.entries {
            let effective = settings.setting_str(entry.key).origin.clone();
            let in_effect = effective == entry.origin;
            match (&entry.spec, in_effect) {
                (Err(_), true) => {
                    if let Some(p) = standard_problems.remove(&entry.origin.to_string()) {
                        problems.push(p);
                    }
                }
                (Ok(_), true) => {
                    settings.shown.insert(entry.key, entry.shown.clone());
                }
                (Err(problem), false) => warnings.push(Warning {
                    message: format!(
                        "{} is shadowed by {} from {}, and would be invalid anyway: {}",
                        entry.shown,
                        entry.key.name(),
                        effective,
                        problem.message()
                    ),
                    origin: Some(entry.origin.clone()),
                }),
                (Ok(_), false) => warnings.push(Warning {
                    message: format!(
                        "{} is shadowed by {} from {}",
                        entry.shown,
                        entry.key.name(),
                        effective
                    ),
                    origin: Some(entry.origin.clone()),
                }),
            }
        }
        if standard.entries.iter().all(|e| e.key != Key::Sampler)
            && settings
                .env_var("OTEL_TRACES_SAMPLER_ARG")
                .is_some_and(|v| !v.trim().is_empty())
        {
            warnings.push(Warning {
                message:
                    "OTEL_TRACES_SAMPLER_ARG is set but OTEL_TRACES_SAMPLER is not; it is ignored"
                        .to_string(),
                origin: Some(Origin::env("OTEL_TRACES_SAMPLER_ARG")),
            });
        }

        settings.service_name = standard.service_name;
        settings.resource_attributes = standard.resource_attributes;
        settings.sdk_disabled = standard.sdk_disabled;
        settings.environment.connection_string = standard.connection_string;
        settings.environment.instrumentation_key = standard.instrumentation_key;
        settings.warnings = warnings;
        (settings, problems)
    }
}

fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

/// `--config`, else `OPENCENSUS_SETTINGS` (must exist, must not be empty), else
/// `./opencensus.toml`, else `opencensus.toml` beside the executable. Never a parent directory.
fn discover(
    config: Option<PathBuf>,
    env: &[EnvVar],
    cwd: Option<PathBuf>,
    exe_dir: Option<PathBuf>,
    problems: &mut Vec<Problem>,
) -> Option<PathBuf> {
    if let Some(path) = config {
        if !path.is_file() {
            problems.push(
                Problem::new(
                    ErrorKind::Io,
                    format!("the settings file {} does not exist", path.display()),
                )
                .help("pass the path of an existing opencensus.toml"),
            );
            return None;
        }
        return Some(path);
    }
    if let Some(var) = env.iter().rev().find(|v| v.name == "OPENCENSUS_SETTINGS") {
        let origin = Origin::env("OPENCENSUS_SETTINGS");
        match &var.value {
            Ok(v) if v.trim().is_empty() => {
                problems.push(
                    Problem::new(ErrorKind::Io, "OPENCENSUS_SETTINGS is set but empty")
                        .at(origin)
                        .help("set it to the path of a settings file, or unset it to use ./opencensus.toml"),
                );
                return None;
            }
            Ok(v) => {
                let path = PathBuf::from(v);
                if !path.is_file() {
                    problems.push(
                        Problem::new(
                            ErrorKind::Io,
                            format!("the settings file {} named by OPENCENSUS_SETTINGS does not exist", path.display()),
                        )
                        .at(origin)
                        .help("set OPENCENSUS_SETTINGS to an existing file, or unset it to use ./opencensus.toml"),
                    );
                    return None;
                }
                return Some(path);
            }
            Err(()) => {
                problems.push(
                    Problem::new(ErrorKind::Io, "OPENCENSUS_SETTINGS is not valid UTF-8")
                        .at(origin),
                );
                return None;
            }
        }
    }
    let cwd = cwd.or_else(|| std::env::current_dir().ok());
    if let Some(dir) = cwd {
        let path = dir.join("opencensus.toml");
        if path.is_file() {
            return Some(path);
        }
    }
    if let Some(dir) = exe_dir {
        let path = dir.join("opencensus.toml");
        if path.is_file() {
            return Some(path);
        }
    }
    None
}

/// One value as a figment provider, so that figment's metadata names its own origin.
struct EntryProvider {
    key: Key,
    value: FigValue,
    name: String,
}

impl Provider for EntryProvider {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut trace = Dict::new();
        trace.insert(self.key.name().to_string(), self.value.clone());
        let mut opencensus = Dict::new();
        opencensus.insert("TRACE".to_string(), FigValue::from(trace));
        let mut root = Dict::new();
        root.insert("OPENCENSUS".to_string(), FigValue::from(opencensus));
        Ok(Profile::Default.collect(root))
    }
}
