//! The settings keys of `[OPENCENSUS.TRACE]`, their spellings and defaults.

/// One setting of `[OPENCENSUS.TRACE]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Key {
    Sampler,
    Exporter,
    Propagator,
    ExcludePaths,
    ExcludeHostnames,
}

pub(crate) const ALL_KEYS: [Key; 5] = [
    Key::Sampler,
    Key::Exporter,
    Key::Propagator,
    Key::ExcludePaths,
    Key::ExcludeHostnames,
];

/// Every accepted spelling (upper-case), for suggestions.
pub(crate) const SPELLINGS: [&str; 9] = [
    "SAMPLING_RULES",
    "RELOAD_INTERVAL",
    "SAMPLER",
    "EXPORTER",
    "PROPAGATOR",
    "EXCLUDELIST_PATHS",
    "EXCLUDELIST_HOSTNAMES",
    "BLACKLIST_PATHS",
    "BLACKLIST_HOSTNAMES",
];

pub(crate) const DEFAULT_SAMPLER: &str =
    "opencensus.trace.samplers.ProbabilitySampler(rate=0.0001)";
pub(crate) const DEFAULT_EXPORTER: &str = "opencensus.trace.print_exporter.PrintExporter()";
pub(crate) const DEFAULT_PROPAGATOR: &str =
    "opencensus.trace.propagation.trace_context_http_header_format.TraceContextPropagator()";
pub(crate) const DEFAULT_EXCLUDE_PATHS: &[&str] = &["_ah/health"];

impl Key {
    /// The canonical (upper-case, current) name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Key::Sampler => "SAMPLER",
            Key::Exporter => "EXPORTER",
            Key::Propagator => "PROPAGATOR",
            Key::ExcludePaths => "EXCLUDELIST_PATHS",
            Key::ExcludeHostnames => "EXCLUDELIST_HOSTNAMES",
        }
    }

    /// Parses a spelling in any case; `BLACKLIST_*` are aliases of `EXCLUDELIST_*`.
    pub(crate) fn parse(spelling: &str) -> Option<Key> {
        let upper = spelling.to_ascii_uppercase();
        Some(match upper.as_str() {
            "SAMPLER" => Key::Sampler,
            "EXPORTER" => Key::Exporter,
            "PROPAGATOR" => Key::Propagator,
            "EXCLUDELIST_PATHS" | "BLACKLIST_PATHS" => Key::ExcludePaths,
            "EXCLUDELIST_HOSTNAMES" | "BLACKLIST_HOSTNAMES" => Key::ExcludeHostnames,
            _ => return None,
        })
    }

    pub(crate) fn is_list(self) -> bool {
        matches!(self, Key::ExcludePaths | Key::ExcludeHostnames)
    }

    /// The figment path of this key.
    pub(crate) fn path(self) -> String {
        format!("OPENCENSUS.TRACE.{}", self.name())
    }

    /// What the value must look like, for error messages.
    pub(crate) fn expected(self) -> &'static str {
        match self {
            Key::Sampler => {
                "a sampler spec string, e.g. \"opencensus.trace.samplers.ProbabilitySampler(rate=0.5)\""
            }
            Key::Exporter => {
                "an exporter spec string, e.g. \"opencensus.trace.print_exporter.PrintExporter()\""
            }
            Key::Propagator => {
                "a propagator spec string, e.g. \"opencensus.trace.propagation.trace_context_http_header_format.TraceContextPropagator()\""
            }
            Key::ExcludePaths => "a list of path entries, e.g. [\"_ah/health\", \"/healthz\"]",
            Key::ExcludeHostnames => {
                "a list of host names, e.g. [\"example.com\", \"localhost:8080\"]"
            }
        }
    }
}

/// The suggestion for an unknown key, if one is close.
pub(crate) fn suggest_key(unknown: &str) -> Option<&'static str> {
    let upper = unknown.to_ascii_uppercase();
    crate::spec::closest(&upper, SPELLINGS.iter().copied())
}
