//! The error type returned by [`parse`](super::parse).

use std::fmt;

use super::value::Span;

/// A parse error in a spec string, with the byte range it points at.
///
/// `message` is one line, starts in lower case and has no trailing period,
/// e.g. ``expected `)` to close the call to `ProbabilitySampler`, found `;` ``.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpecError {
    /// One-line description of the problem.
    pub message: String,
    /// Byte range of the offending text in the spec (always on char boundaries).
    pub span: Span,
    /// Short descriptions of what would have been accepted at that point (may be empty).
    pub expected: Vec<String>,
    /// An optional hint on how to fix the problem.
    pub help: Option<String>,
}

impl SpecError {
    /// Creates an error with a message and a span, no `expected` list and no help.
    pub fn new(message: impl Into<String>, span: Span) -> Self {
        Self {
            message: message.into(),
            span,
            expected: Vec::new(),
            help: None,
        }
    }

    /// Sets the help text.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the list of what would have been accepted.
    #[must_use]
    pub fn with_expected<I, S>(mut self, expected: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.expected = expected.into_iter().map(Into::into).collect();
        self
    }

    /// Renders the error as a multi-line report: `error: <message>`, the
    /// snippet of `spec` with the span underlined (see
    /// [`render_snippet`](super::render_snippet)), and `= help: ...` if there
    /// is a help text. `redact` ranges are printed as `*`.
    pub fn render(&self, spec: &str, redact: &[Span]) -> String {
        let mut out = format!("error: {}\n", self.message);
        out.push_str(&super::render::render_snippet(
            spec,
            self.span.clone(),
            redact,
            "",
        ));
        if !self.expected.is_empty() {
            out.push_str("\n   = expected: ");
            out.push_str(&self.expected.join(", "));
        }
        if let Some(help) = &self.help {
            out.push_str("\n   = help: ");
            out.push_str(help);
        }
        out
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}
