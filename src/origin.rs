//! Where an effective setting came from, and a value paired with it.

use std::fmt;
use std::path::PathBuf;

/// The origin of one effective value: the built-in default, a line of the settings file, an
/// environment variable (by its real name, as the user spelled it), or code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// The built-in default (OpenCensus's).
    Default,
    /// A line of a settings file.
    File {
        /// The file's path, as it was found.
        path: PathBuf,
        /// 1-based line of the value.
        line: usize,
    },
    /// A line and column of a file (OpenTelemetry's YAML configuration file, whose errors
    /// point at the value).
    Position {
        /// The file's path, as it was found.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// An environment variable, by the exact name it has in the environment.
    Env {
        /// The variable's real name.
        var: String,
    },
    /// Set in code (for example with [`Settings::with_sampler`](crate::Settings::with_sampler)).
    Code {
        /// `file:line` of the call.
        location: String,
    },
}

impl Origin {
    pub(crate) fn env(var: impl Into<String>) -> Self {
        Origin::Env { var: var.into() }
    }

    #[track_caller]
    pub(crate) fn caller() -> Self {
        let loc = std::panic::Location::caller();
        Origin::Code {
            location: format!("{}:{}", loc.file(), loc.line()),
        }
    }

    /// The environment variable's name, when the value came from one.
    pub fn env_var(&self) -> Option<&str> {
        match self {
            Origin::Env { var } => Some(var),
            _ => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path, line } => write!(f, "{}:{}", path.display(), line),
            Origin::Position { path, line, column } => {
                write!(f, "{}:{}:{}", path.display(), line, column)
            }
            Origin::Env { var } => write!(f, "environment variable {var}"),
            Origin::Code { location } => write!(f, "code at {location}"),
        }
    }
}

/// One effective value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub origin: Origin,
}
