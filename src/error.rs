//! The one public error type: every problem found in one load, each with what, where and what
//! would be accepted.

use std::fmt;
use std::sync::Arc;

use crate::origin::Origin;

/// A boxed error from a build step or an exporter.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What kind of problem an [`Error`] (or one of its [`Problem`]s) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The settings file could not be read (missing, unreadable, not UTF-8).
    Io,
    /// The settings file is not valid TOML.
    Toml,
    /// OpenTelemetry's configuration file is not valid YAML.
    Yaml,
    /// A key (in the file or an `OPENCENSUS__TRACE__*` variable) that is not a setting.
    UnknownKey,
    /// A settings value of the wrong type or shape, or two spellings of one key.
    InvalidValue,
    /// A spec string that does not parse.
    SpecSyntax,
    /// A spec string naming a component the registry does not know.
    UnknownComponent,
    /// A component's argument is unknown, missing, of the wrong type or out of range.
    InvalidArgument,
    /// The component exists but is not available in this build or not supported yet.
    NotAvailable,
    /// An exclusion-list entry that is empty or malformed.
    InvalidExclusion,
    /// A standard OpenTelemetry / Application Insights environment variable with an invalid value.
    InvalidEnvironment,
    /// `init_*` was called while a [`Telemetry`](crate::Telemetry) guard is alive.
    AlreadyInstalled,
    /// Building a component failed at install time (for example a file that cannot be opened).
    Install,
}

/// A code snippet shown under a problem, with a caret under the offending span.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Snippet {
    pub(crate) text: String,
    pub(crate) span: std::ops::Range<usize>,
    /// Byte ranges that are secrets: printed as `*`.
    pub(crate) redact: Vec<std::ops::Range<usize>>,
    /// The number the gutter gives the text's first line (its line in the file).
    pub(crate) first_line: usize,
}

/// One problem: what was wrong, where it came from, and what would be accepted.
#[derive(Clone)]
pub struct Problem(Box<ProblemInner>);

#[derive(Clone)]
pub(crate) struct ProblemInner {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    pub(crate) key: Option<String>,
    pub(crate) origin: Option<Origin>,
    pub(crate) snippet: Option<Snippet>,
    pub(crate) help: Vec<String>,
    pub(crate) source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Problem {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Problem(Box::new(ProblemInner {
            kind,
            message: message.into(),
            key: None,
            origin: None,
            snippet: None,
            help: Vec::new(),
            source: None,
        }))
    }

    pub(crate) fn key(mut self, key: impl Into<String>) -> Self {
        self.0.key = Some(key.into());
        self
    }

    pub(crate) fn at(mut self, origin: Origin) -> Self {
        self.0.origin = Some(origin);
        self
    }

    pub(crate) fn snippet(
        mut self,
        text: impl Into<String>,
        span: std::ops::Range<usize>,
        redact: Vec<std::ops::Range<usize>>,
    ) -> Self {
        self.0.snippet = Some(Snippet {
            text: text.into(),
            span,
            redact,
            first_line: 1,
        });
        self
    }

    /// Numbers the snippet's gutter from `line` (the file line its text starts on).
    pub(crate) fn first_line(mut self, line: usize) -> Self {
        if let Some(snippet) = &mut self.0.snippet {
            snippet.first_line = line.max(1);
        }
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        let help = help.into();
        if !help.is_empty() {
            self.0.help.push(help);
        }
        self
    }

    pub(crate) fn caused_by(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.0.source = Some(Arc::new(source));
        self
    }

    pub(crate) fn caused_by_boxed(
        mut self,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> Self {
        self.0.source = Some(Arc::from(source));
        self
    }

    /// The kind of this problem.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The one-line message (no location).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The setting the problem is about (`SAMPLER`, `EXCLUDELIST_PATHS`, ...), when there is one.
    pub fn setting(&self) -> Option<&str> {
        self.0.key.as_deref()
    }

    /// Where the bad value came from, when known.
    pub fn origin(&self) -> Option<&Origin> {
        self.0.origin.as_ref()
    }

    /// Suggestions: what would be accepted.
    pub fn help_lines(&self) -> &[String] {
        &self.0.help
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.0.message)?;
        match (&self.0.key, &self.0.origin) {
            (Some(key), Some(origin @ (Origin::File { .. } | Origin::Position { .. }))) => {
                write!(f, "\n  --> {key} at {origin}")?
            }
            (Some(key), Some(origin)) => write!(f, "\n  --> {key} from {origin}")?,
            (None, Some(origin @ Origin::File { .. })) => write!(f, "\n  --> {origin}")?,
            (None, Some(origin)) => write!(f, "\n  --> {origin}")?,
            (Some(key), None) => write!(f, "\n  --> {key}")?,
            (None, None) => {}
        }
        if let Some(snippet) = &self.0.snippet {
            let rendered = crate::spec::render::render_snippet_from(
                &snippet.text,
                snippet.span.clone(),
                &snippet.redact,
                "",
                snippet.first_line,
            );
            write!(f, "\n{rendered}")?;
        }
        for help in &self.0.help {
            let gutter = if self.0.snippet.is_some() {
                "   = "
            } else {
                "  = "
            };
            write!(f, "\n{gutter}help: {help}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The error of every fallible call in this crate: one or more [`Problem`]s, all those found in
/// one load (the settings are checked completely before anything is reported).
///
/// `Display` and `Debug` both render the full report, so `fn main() -> Result<(), Error>` prints
/// the same readable text as `{}`.
#[derive(Clone)]
pub struct Error {
    problems: Vec<Problem>,
}

impl Error {
    pub(crate) fn from_problems(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        Error { problems }
    }

    /// The kind of the first problem.
    pub fn kind(&self) -> ErrorKind {
        self.problems
            .first()
            .map(|p| p.0.kind)
            .unwrap_or(ErrorKind::InvalidValue)
    }

    /// Every problem found, in the order they were found.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The origin of the first problem's bad value, when known.
    pub fn origin(&self) -> Option<&Origin> {
        self.problems.first().and_then(|p| p.0.origin.as_ref())
    }
}

impl From<Problem> for Error {
    fn from(problem: Problem) -> Self {
        Error {
            problems: vec![problem],
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            fmt::Display::fmt(problem, f)?;
        }
        if self.problems.len() > 1 {
            write!(
                f,
                "\n\n{} problems found in the settings",
                self.problems.len()
            )?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `fn main() -> Result<_, Error>` prints `Error: {:?}`: make it the readable report,
        // with nothing before it (SPEC 12: its Debug is its Display).
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Problem {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.problems
            .iter()
            .find_map(|p| p.0.source.as_deref())
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}
