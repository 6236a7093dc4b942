//! Live reload (SPEC 9): the settings file read again every `RELOAD_INTERVAL` (and on
//! `Telemetry::reload`). A valid change swaps the sampler, the rules and both exclusion lists
//! for new requests, at once; an invalid file keeps what runs and says why, once per content;
//! what only a restart can change is said once. Environment variables are the start-up
//! snapshot. The file is read through its path each time, so a symlink swap (a Kubernetes
//! ConfigMap) is seen.

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::Error;
use crate::live::{Live, LiveCell};
use crate::resolve::{compose_sampler, resolve};
use crate::settings::{Settings, SettingsLoader};

/// What the last reload attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReloadStatus {
    /// Nothing was tried yet.
    NotYet,
    /// There is no settings file to read again.
    NoFile,
    /// The file is as it was when last read.
    Unchanged,
    /// A valid change is in force for new requests.
    Applied {
        /// The keys whose new values apply (`SAMPLER`, `SAMPLING_RULES`, ...).
        changed: Vec<String>,
        /// Keys that changed too but need a restart (`EXPORTER`, `PROPAGATOR`, ...).
        restart_needed: Vec<String>,
    },
    /// The file is not valid (or cannot be read): the running settings stay.
    Invalid {
        /// What is wrong, with `file:line`.
        error: String,
    },
}

struct State {
    /// The file's content when last read.
    last: Option<Vec<u8>>,
    /// The settings in force.
    current: Settings,
    status: ReloadStatus,
    /// Restart-needing changes already said (key and new value).
    restart_said: HashSet<String>,
}

/// Reads the settings file again and swaps what it may.
pub(crate) struct Reloader {
    live: LiveCell,
    per_span_rate: bool,
    state: Mutex<State>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Reloader {
    pub(crate) fn new(settings: Settings, live: LiveCell, per_span_rate: bool) -> Self {
        let last = settings.file().and_then(|p| std::fs::read(p).ok());
        Reloader {
            live,
            per_span_rate,
            state: Mutex::new(State {
                last,
                current: settings,
                status: ReloadStatus::NotYet,
                restart_said: HashSet::new(),
            }),
        }
    }

    pub(crate) fn status(&self) -> ReloadStatus {
        lock(&self.state).status.clone()
    }

    /// Reads the file; applies it if it changed and is valid.
    pub(crate) fn reload(&self) -> ReloadStatus {
        let mut state = lock(&self.state);
        let status = self.attempt(&mut state);
        state.status = status.clone();
        status
    }

    fn attempt(&self, state: &mut State) -> ReloadStatus {
        let Some(path) = state.current.file().map(std::path::Path::to_path_buf) else {
            return ReloadStatus::NoFile;
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                let error = format!("cannot read the settings file {}: {e}", path.display());
                if !matches!(&state.status, ReloadStatus::Invalid { error: old } if *old == error) {
                    crate::diag::warn(format_args!("{error}; the running settings are kept"));
                }
                return ReloadStatus::Invalid { error };
            }
        };
        if state.last.as_deref() == Some(&bytes[..]) {
            // Unchanged: what the last attempt found still holds.
            return match &state.status {
                ReloadStatus::Invalid { error } => ReloadStatus::Invalid {
                    error: error.clone(),
                },
                _ => ReloadStatus::Unchanged,
            };
        }
        state.last = Some(bytes);
        let (settings, problems) = SettingsLoader::again(&state.current).load_collecting();
        let resolved = if problems.is_empty() {
            resolve(&settings).map_err(|(problems, _)| problems)
        } else {
            Err(problems)
        };
        let resolved = match resolved {
            Ok(r) => r,
            Err(problems) => {
                let error = Error::from_problems(problems).to_string();
                crate::diag::warn(format_args!(
                    "the settings file {} changed but is not valid, so the running settings are kept: {error}",
                    path.display()
                ));
                return ReloadStatus::Invalid { error };
            }
        };
        let old = &state.current;
        let mut changed = Vec::new();
        let name = |toml: &'static str| settings.label(toml).to_string();
        if settings.sampler().value != old.sampler().value {
            changed.push(name("SAMPLER"));
        }
        if settings.sampling_rules().value != old.sampling_rules().value {
            changed.push(name("SAMPLING_RULES"));
        }
        if settings.exclude_paths().value != old.exclude_paths().value {
            changed.push(name("EXCLUDELIST_PATHS"));
        }
        if settings.exclude_hostnames().value != old.exclude_hostnames().value {
            changed.push(name("EXCLUDELIST_HOSTNAMES"));
        }
        let mut restart_needed = Vec::new();
        let resource = |s: &Settings| {
            format!(
                "{:?} {:?}",
                s.resource_attributes
                    .iter()
                    .map(|a| (&a.value.0, a.value.1.as_str()))
                    .collect::<Vec<_>>(),
                s.resource_schema_url.as_ref().map(|u| &u.value)
            )
        };
        for (key, new, was) in [
            (
                "tracer_provider.processors[0]",
                format!("{:?}", settings.processing.as_ref().map(|p| p.value)),
                format!("{:?}", old.processing.as_ref().map(|p| p.value)),
            ),
            (
                "tracer_provider.limits",
                format!("{:?}", settings.span_limits.as_ref().map(|p| p.value)),
                format!("{:?}", old.span_limits.as_ref().map(|p| p.value)),
            ),
            ("resource", resource(&settings), resource(old)),
            (
                settings.label("OTEL_SDK_DISABLED"),
                settings.sdk_disabled().to_string(),
                old.sdk_disabled().to_string(),
            ),
            (
                settings.label("EXPORTER"),
                settings.exporter().value.clone(),
                old.exporter().value.clone(),
            ),
            (
                settings.label("PROPAGATOR"),
                settings.propagator().value.clone(),
                old.propagator().value.clone(),
            ),
            (
                "the service name (OTEL_SERVICE_NAME)",
                format!("{:?}", settings.service_name().map(|s| &s.value)),
                format!("{:?}", old.service_name().map(|s| &s.value)),
            ),
            (
                settings.label("RELOAD_INTERVAL"),
                settings.reload_interval().value.as_secs_f64().to_string(),
                old.reload_interval().value.as_secs_f64().to_string(),
            ),
        ] {
            if new != was {
                restart_needed.push(key.to_string());
                if state.restart_said.insert(format!("{key}={new}")) {
                    crate::diag::warn(format_args!(
                        "{key} changed in {}: it needs a restart to apply (the running one is kept)",
                        path.display()
                    ));
                }
            }
        }
        let attributes_at_start = !resolved.rules.is_empty();
        self.live.store(Arc::new(Live {
            sampler: compose_sampler(
                resolved.sampler,
                resolved.rules,
                resolved.rules_inherit,
                self.per_span_rate,
                true,
            ),
            exclude_paths: resolved.exclude_paths,
            exclude_hostnames: resolved.exclude_hostnames,
            attributes_at_start,
        }));
        if !changed.is_empty() {
            tracing::info!(
                target: "opencensus_settings",
                "settings reloaded from {}: {} now in force",
                path.display(),
                changed.join(", ")
            );
        }
        // The settings in force keep what needs a restart as it runs.
        let mut current = settings;
        current.exporter = old.exporter.clone();
        current.propagator = old.propagator.clone();
        current.reload_interval = old.reload_interval.clone();
        current.processing = old.processing.clone();
        current.span_limits = old.span_limits.clone();
        current.resource_attributes = old.resource_attributes.clone();
        current.resource_schema_url = old.resource_schema_url.clone();
        current.sdk_disabled = old.sdk_disabled.clone();
        state.current = current;
        ReloadStatus::Applied {
            changed,
            restart_needed,
        }
    }
}

/// The thread that polls the file every `RELOAD_INTERVAL`; stopped (and joined) on drop.
pub(crate) struct Poller {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    /// Starts polling; `None` if the thread cannot be started (said once: reload still works
    /// on demand).
    pub(crate) fn start(reloader: Arc<Reloader>, every: Duration) -> Option<Poller> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("opencensus-reload".into())
            .spawn(move || {
                let (flag, cvar) = &*signal;
                let mut stopped = match flag.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                loop {
                    let (guard, _) = match cvar.wait_timeout_while(stopped, every, |s| !*s) {
                        Ok(r) => r,
                        Err(p) => p.into_inner(),
                    };
                    stopped = guard;
                    if *stopped {
                        return;
                    }
                    drop(stopped);
                    reloader.reload();
                    stopped = match flag.lock() {
                        Ok(g) => g,
                        Err(p) => p.into_inner(),
                    };
                }
            });
        match spawned {
            Ok(thread) => Some(Poller {
                stop,
                thread: Some(thread),
            }),
            Err(e) => {
                crate::diag::warn(format_args!(
                    "the settings file will not be reloaded on its own: cannot start the thread ({e}); Telemetry::reload() still works"
                ));
                None
            }
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        let (flag, cvar) = &*self.stop;
        match flag.lock() {
            Ok(mut g) => *g = true,
            Err(p) => *p.into_inner() = true,
        }
        cvar.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
