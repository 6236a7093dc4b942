//! [`SettingsLoader`]: the load pipeline. Which file (`discover`), the sources (standard
//! variables, the file, `OPENCENSUS__TRACE__*`), layering with figment (one provider per value,
//! so each keeps its origin), reading back the effective values, and the standard variables'
//! warnings.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use figment::value::{Dict, Map, Value as FigValue};
use figment::{Figment, Metadata, Profile, Provider};

use super::discover::{discover, exe_dir};
use super::keys::{self, Key};
use super::{RawValue, Settings, Warning, env, file, standard};
use crate::environment::{EnvVar, Environment};
use crate::error::{Error, ErrorKind, Problem};
use crate::origin::{Origin, Setting};
use crate::registry::Registry;

/// Loads [`Settings`] from explicit inputs. By default it reads the process environment, the
/// current directory and the executable's directory, like [`Settings::load`].
#[derive(Debug, Default)]
pub struct SettingsLoader {
    env: Option<Vec<(OsString, OsString)>>,
    config: Option<PathBuf>,
    cwd: Option<PathBuf>,
    exe_dir: Option<Option<PathBuf>>,
    registry: Option<Registry>,
    /// The registry of an earlier load (a reload), shared rather than rebuilt.
    shared_registry: Option<Arc<Registry>>,
    /// `config` is OpenTelemetry's configuration file whatever its name (a reload of one).
    yaml: bool,
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

    /// A loader that reads again what `settings` was loaded from: the same file, the same
    /// environment snapshot (variables are read once, at start-up), the same registry.
    pub(crate) fn again(settings: &Settings) -> Self {
        let env = settings
            .environment
            .vars
            .iter()
            .filter_map(|v| {
                v.value
                    .as_ref()
                    .ok()
                    .map(|value| (OsString::from(&v.name), OsString::from(value)))
            })
            .collect();
        SettingsLoader {
            env: Some(env),
            config: settings.file.clone(),
            cwd: None,
            exe_dir: Some(None),
            registry: None,
            shared_registry: Some(settings.registry.clone()),
            yaml: settings.format == super::Format::OtelYaml,
        }
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

        let registry: Arc<Registry> = match self.shared_registry {
            Some(r) => r,
            None => Arc::new(self.registry.unwrap_or_default()),
        };

        // 0. OpenTelemetry's configuration file, when named: it is the whole configuration.
        let yaml_file = match &self.config {
            Some(path) if self.yaml || super::otel::is_yaml_path(path) => Some(path.clone()),
            Some(_) => None,
            None => super::otel::named_file(&env).map(|(path, _)| match &self.cwd {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path,
            }),
        };
        if let Some(path) = yaml_file {
            let mut scratch = Vec::new();
            let toml = if self.config.is_none() {
                discover(
                    None,
                    &env,
                    self.cwd,
                    self.exe_dir.unwrap_or_else(exe_dir),
                    &mut scratch,
                )
            } else {
                None
            };
            return Self::load_yaml(path, env, registry, toml);
        }

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
        let mut file_rules = None;
        let mut file_reload = None;
        if let Some(path) = &file {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let parsed = file::parse_file(path, &text, &registry.secret_spans(&text));
                    problems.extend(parsed.problems);
                    file_entries = parsed.entries;
                    file_rules = parsed.rules;
                    file_reload = parsed.reload;
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
                    .caused_by(err),
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
            registry,
            ..Settings::default()
        };
        if let Some((secs, origin)) = env_entries.reload.clone().or(file_reload) {
            settings.reload_interval = Setting {
                value: secs,
                origin,
            };
        }
        // SAMPLING_RULES is one value: the variable's list replaces the file's.
        if let Some((rules, origin)) = env_entries.rules.clone().or(file_rules) {
            settings.sampling_rules = Setting {
                value: rules,
                origin,
            };
        }
        for key in keys::ALL_KEYS {
            let path = key.path();
            let origin = figment
                .find_metadata(&path)
                .and_then(|m| origins.get(m.name.as_ref()))
                .cloned()
                .unwrap_or(Origin::Default);
            if let Some(entry) = file_entries
                .iter()
                .find(|e| e.key == key && e.origin == origin && e.first_line > 0)
            {
                settings.first_lines.insert(key, entry.first_line);
            }
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

impl SettingsLoader {
    /// OpenTelemetry's file: the schema's defaults, the file, and of the variables only the
    /// Application Insights connection string (every Azure exporter falls back to it).
    fn load_yaml(
        path: PathBuf,
        env: Vec<EnvVar>,
        registry: Arc<Registry>,
        toml: Option<PathBuf>,
    ) -> (Settings, Vec<Problem>) {
        let mut problems = Vec::new();
        let standard = standard::read(&env);
        for p in &standard.problems {
            if p.origin().and_then(|o| o.env_var()).is_some_and(|v| {
                v.starts_with("APPLICATIONINSIGHTS_") || v.starts_with("APPINSIGHTS_")
            }) {
                problems.push(p.clone());
            }
        }
        let mut settings = Settings {
            file: Some(path.clone()),
            environment: Environment {
                vars: Arc::new(env),
                connection_string: standard.connection_string,
                instrumentation_key: standard.instrumentation_key,
                ..Environment::default()
            },
            registry,
            ..Settings::default()
        };
        super::otel::load(&path, &mut settings, &mut problems);
        if let Some(toml) = toml {
            settings.warnings.push(Warning {
                message: format!(
                    "{} is not read: OpenTelemetry's configuration file {} is the whole configuration",
                    toml.display(),
                    path.display()
                ),
                origin: None,
            });
        }
        (settings, problems)
    }
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
