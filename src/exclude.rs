//! Exclusion lists for incoming requests (`EXCLUDELIST_PATHS`) and outgoing
//! calls (`EXCLUDELIST_HOSTNAMES`).
//!
//! These fix the `OpenCensus` semantics (where `/health` never matched, `''`
//! excluded everything and `/` could not be excluded):
//!
//! * **Plain entries** (`health`, `/health`, `_ah/health`) are case-sensitive
//!   prefixes of the request path; one leading `/` is ignored on both sides, so
//!   `health` and `/health` are the same entry and match `/health`, `/healthz`
//!   and `/health/live`, but not `/api/health`.
//! * **`/`** alone matches only the root path (`/` or the empty path).
//! * **Globs** (entries containing `*`) are anchored at both ends: `*` matches
//!   any run of characters inside one path segment, `**` as a whole segment
//!   matches zero or more whole segments (`/static/**` matches `/static`,
//!   `/static/` and `/static/a/b`).
//! * **URL entries** (`http://` or `https://`, scheme not compared) match on the
//!   request's `Host` header (case-insensitive, optional port) plus an optional
//!   path prefix.
//!
//! Paths are compared as received: never percent-decoded and never including a
//! query string. Matching never allocates.

use std::fmt;

use crate::hostport::{parse_authority, split_host};

/// What a path exclusion entry should look like (used in error reports).
const PATH_EXPECTED: &str = "a path prefix like `health`, a glob like `/api/*/health`, \
     or a URL like `https://example.com/health`";

/// What a host exclusion entry should look like (used in error reports).
const HOST_EXPECTED: &str =
    "a host like `example.com`, `example.com:8443`, `[::1]` or `[::1]:8080`";

/// One invalid entry of an exclusion list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExcludeEntryError {
    /// Zero-based position of the entry in the list given to `parse`.
    pub index: usize,
    /// The entry exactly as given.
    pub entry: String,
    /// What is wrong with the entry.
    pub message: String,
    /// What a valid entry looks like.
    pub expected: String,
}

impl fmt::Display for ExcludeEntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExcludeEntryError {}

/// Removes at most one leading `/`.
fn strip_slash(s: &str) -> &str {
    s.strip_prefix('/').unwrap_or(s)
}

/// Rejects empty entries, surrounding whitespace and embedded whitespace or
/// control characters, which all point to a mistake in the configuration.
fn check_text(entry: &str, empty_message: &str) -> Result<(), String> {
    let trimmed = entry.trim();
    if trimmed.is_empty() {
        return Err(empty_message.to_owned());
    }
    if trimmed.len() != entry.len() {
        return Err("entry has leading/trailing whitespace".to_owned());
    }
    if entry.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("entry contains whitespace or control characters".to_owned());
    }
    Ok(())
}

/// Returns the text after `http://` or `https://` (scheme case-insensitive).
fn strip_http_scheme(entry: &str) -> Option<&str> {
    for scheme in ["http://", "https://"] {
        if entry
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        {
            return entry.get(scheme.len()..);
        }
    }
    None
}

/// One precompiled glob segment.
#[derive(Debug, Clone)]
enum Segment {
    /// `**`: zero or more whole segments.
    AnyDepth,
    /// A segment without `*`: exact comparison.
    Literal(Box<str>),
    /// A segment with `*`: wildcard comparison within the segment.
    Wild(Box<str>),
}

impl Segment {
    /// Whether this (non-`**`) segment matches one path segment.
    fn matches(&self, segment: &str) -> bool {
        match self {
            Segment::AnyDepth => true,
            Segment::Literal(lit) => **lit == *segment,
            Segment::Wild(pattern) => wild_match(pattern.as_bytes(), segment.as_bytes()),
        }
    }
}

/// Greedy single-star wildcard match (`*` = any run of bytes, possibly empty).
/// `O(|pattern| * |text|)` worst case, no recursion, no allocation.
fn wild_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // (pattern index after the last `*`, text index that `*` will extend to)
    let mut resume: Option<(usize, usize)> = None;
    while let Some(&tc) = text.get(t) {
        match pattern.get(p) {
            Some(b'*') => {
                p += 1;
                resume = Some((p, t));
            }
            Some(&pc) if pc == tc => {
                p += 1;
                t += 1;
            }
            _ => match resume {
                Some((rp, rt)) => {
                    p = rp;
                    t = rt + 1;
                    resume = Some((rp, rt + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&b| b == b'*'))
}

/// Returns the path segment starting at byte `offset` and the offset of the
/// following segment (`None` if this is the last one).
fn segment_at(path: &str, offset: usize) -> (&str, Option<usize>) {
    let rest = path.get(offset..).unwrap_or_default();
    match rest.split_once('/') {
        Some((segment, _)) => (segment, Some(offset + segment.len() + 1)),
        None => (rest, None),
    }
}

/// A precompiled, anchored path glob.
#[derive(Debug, Clone)]
struct Glob {
    segments: Box<[Segment]>,
}

impl Glob {
    /// Compiles a glob entry (leading `/` optional).
    fn parse(entry: &str) -> Result<Self, String> {
        if let Some(c) = entry
            .chars()
            .find(|c| matches!(c, '?' | '[' | ']' | '{' | '}'))
        {
            return Err(format!(
                "glob character `{c}` is not supported (only `*` and `**` are)"
            ));
        }
        let mut segments = Vec::new();
        for part in strip_slash(entry).split('/') {
            if part == "**" {
                // Consecutive `**` segments are equivalent to one.
                if !matches!(segments.last(), Some(Segment::AnyDepth)) {
                    segments.push(Segment::AnyDepth);
                }
            } else if part.contains("**") {
                return Err(format!(
                    "`**` must be a whole path segment, like `/api/**/health` (found `{part}`)"
                ));
            } else if part.contains('*') {
                segments.push(Segment::Wild(part.into()));
            } else {
                segments.push(Segment::Literal(part.into()));
            }
        }
        Ok(Self {
            segments: segments.into_boxed_slice(),
        })
    }

    /// Matches a path whose single leading `/` was already removed.
    ///
    /// Segment-level two-pointer algorithm (like `*` in classic wildcard
    /// matching, with `**` as the star and each segment as one unit): at most
    /// `O(|segments| * |path segments|)` segment comparisons, no allocation.
    fn matches(&self, path: &str) -> bool {
        let segments = &self.segments;
        let mut p = 0usize;
        let mut offset = Some(0usize);
        // (pattern index after the last `**`, offset of the segment it absorbs next)
        let mut resume: Option<(usize, usize)> = None;
        while let Some(off) = offset {
            let (segment, next) = segment_at(path, off);
            match segments.get(p) {
                Some(Segment::AnyDepth) => {
                    p += 1;
                    resume = Some((p, off));
                    continue;
                }
                Some(s) if s.matches(segment) => {
                    p += 1;
                    offset = next;
                    continue;
                }
                _ => {}
            }
            let Some((rp, roff)) = resume else {
                return false;
            };
            // Let the last `**` absorb one more segment and retry after it.
            let (_, after) = segment_at(path, roff);
            p = rp;
            offset = after;
            if let Some(a) = after {
                resume = Some((rp, a));
            }
        }
        segments
            .get(p..)
            .is_some_and(|rest| rest.iter().all(|s| matches!(s, Segment::AnyDepth)))
    }
}

/// A precompiled `http(s)://host[:port][/prefix]` entry.
#[derive(Debug, Clone)]
struct UrlEntry {
    /// Lower-cased host, IPv6 without brackets.
    host: Box<str>,
    /// `None` = every port.
    port: Option<u16>,
    /// Path prefix without its leading `/`; `None` = the whole host.
    prefix: Option<Box<str>>,
}

impl UrlEntry {
    fn parse(rest: &str) -> Result<Self, String> {
        if rest.contains('*') {
            return Err("wildcards (`*`) are not supported in URL entries".to_owned());
        }
        if rest.contains('?') {
            return Err("URL entries cannot contain a query (`?`)".to_owned());
        }
        if rest.contains('#') {
            return Err("URL entries cannot contain a fragment (`#`)".to_owned());
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err("userinfo (`user@`) is not allowed in URL entries".to_owned());
        }
        let (host, port) = parse_authority(authority)?;
        let prefix = strip_slash(path);
        Ok(Self {
            host,
            port,
            prefix: (!prefix.is_empty()).then(|| prefix.into()),
        })
    }

    /// `host`/`port` from [`split_request_host`], `path` without its leading `/`.
    fn matches(&self, host: &str, port: Option<u16>, path: &str) -> bool {
        self.host.eq_ignore_ascii_case(host)
            && self.port.is_none_or(|p| Some(p) == port)
            && self
                .prefix
                .as_deref()
                .is_none_or(|pre| path.starts_with(pre))
    }
}

/// What a single path entry compiles to.
enum PathEntry {
    Root,
    Prefix(Box<str>),
    Glob(Glob),
    Url(UrlEntry),
}

fn parse_path_entry(entry: &str) -> Result<PathEntry, String> {
    check_text(entry, "empty entry would exclude every request")?;
    if let Some(rest) = strip_http_scheme(entry) {
        return UrlEntry::parse(rest).map(PathEntry::Url);
    }
    if entry.contains("://") {
        return Err("only `http://` and `https://` URLs are supported".to_owned());
    }
    if entry.contains('*') {
        return Glob::parse(entry).map(PathEntry::Glob);
    }
    let prefix = strip_slash(entry);
    if prefix.is_empty() {
        Ok(PathEntry::Root)
    } else {
        Ok(PathEntry::Prefix(prefix.into()))
    }
}

/// Precompiled `EXCLUDELIST_PATHS`: decides whether an incoming request is
/// excluded from tracing. See the [module documentation](self) for the rules.
#[derive(Debug, Clone, Default)]
pub struct PathExcludeList {
    /// Original entry texts, in order.
    texts: Vec<Box<str>>,
    /// Whether `/` (root only) is excluded.
    root: bool,
    /// Plain prefixes without leading `/`: sorted, and none is a prefix of
    /// another, so at most one can match and a binary search finds it.
    prefixes: Vec<Box<str>>,
    globs: Vec<Glob>,
    urls: Vec<UrlEntry>,
}

impl PathExcludeList {
    /// Compiles a list of entries.
    ///
    /// # Errors
    ///
    /// Every invalid entry is reported, in order, with its index.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, Vec<ExcludeEntryError>> {
        let mut list = Self::default();
        let mut errors = Vec::new();
        let mut prefixes: Vec<Box<str>> = Vec::new();
        for (index, raw) in entries.iter().enumerate() {
            let entry = raw.as_ref();
            match parse_path_entry(entry) {
                Ok(PathEntry::Root) => list.root = true,
                Ok(PathEntry::Prefix(p)) => prefixes.push(p),
                Ok(PathEntry::Glob(g)) => list.globs.push(g),
                Ok(PathEntry::Url(u)) => list.urls.push(u),
                Err(message) => errors.push(ExcludeEntryError {
                    index,
                    entry: entry.to_owned(),
                    message,
                    expected: PATH_EXPECTED.to_owned(),
                }),
            }
            list.texts.push(entry.into());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        prefixes.sort_unstable();
        // Keep only minimal prefixes: in sorted order, every string that has a
        // kept prefix follows it directly (or after others sharing it).
        for p in prefixes {
            if list
                .prefixes
                .last()
                .is_none_or(|kept| !p.starts_with(&**kept))
            {
                list.prefixes.push(p);
            }
        }
        Ok(list)
    }

    /// Whether the list has no entries (then nothing is excluded).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// Number of entries, as given to [`PathExcludeList::parse`].
    #[must_use]
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether a request is excluded.
    ///
    /// `host`: the request's Host header value (may be None), `path`: the
    /// request path (no query). Never allocates.
    #[must_use]
    pub fn matches(&self, host: Option<&str>, path: &str) -> bool {
        if self.texts.is_empty() {
            return false;
        }
        let path = strip_slash(path);
        if self.root && path.is_empty() {
            return true;
        }
        if self.matches_prefix(path) {
            return true;
        }
        if self.globs.iter().any(|g| g.matches(path)) {
            return true;
        }
        match host {
            Some(header) if !self.urls.is_empty() => {
                let (host, port) = split_host(header);
                self.urls.iter().any(|u| u.matches(host, port, path))
            }
            _ => false,
        }
    }

    /// Plain-prefix check on a path without its leading `/`.
    fn matches_prefix(&self, path: &str) -> bool {
        let prefixes = &self.prefixes;
        if prefixes.len() <= 4 {
            return prefixes.iter().any(|p| path.starts_with(&**p));
        }
        // The only candidate is the greatest prefix that sorts <= path.
        let i = prefixes.partition_point(|p| **p <= *path);
        i.checked_sub(1)
            .and_then(|i| prefixes.get(i))
            .is_some_and(|p| path.starts_with(&**p))
    }

    /// The original entry texts, in order.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.texts.iter().map(|t| &**t)
    }
}

/// One `host[:port]` entry.
#[derive(Debug, Clone)]
struct HostEntry {
    /// Lower-cased host, IPv6 without brackets.
    host: Box<str>,
    /// `None` = every port.
    port: Option<u16>,
}

fn parse_host_entry(entry: &str) -> Result<HostEntry, String> {
    check_text(entry, "empty entry is not a host")?;
    if entry.contains("://") {
        return Err("give the host without a scheme (no `://`)".to_owned());
    }
    if entry.contains('/') {
        return Err("a host entry cannot contain a path (`/`)".to_owned());
    }
    if entry.contains('*') {
        return Err("wildcards (`*`) are not supported in host entries".to_owned());
    }
    let (host, port) = parse_authority(entry)?;
    Ok(HostEntry { host, port })
}

/// Precompiled `EXCLUDELIST_HOSTNAMES`: decides whether an outgoing call is
/// excluded from tracing. Entries are `host` or `host:port` (`[::1]`,
/// `[::1]:443` for IPv6); hosts compare case-insensitively (IPv6 textually,
/// not normalized), and an entry without a port matches every port.
#[derive(Debug, Clone, Default)]
pub struct HostExcludeList {
    texts: Vec<Box<str>>,
    hosts: Vec<HostEntry>,
}

impl HostExcludeList {
    /// Compiles a list of entries.
    ///
    /// # Errors
    ///
    /// Every invalid entry is reported, in order, with its index.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, Vec<ExcludeEntryError>> {
        let mut list = Self::default();
        let mut errors = Vec::new();
        for (index, raw) in entries.iter().enumerate() {
            let entry = raw.as_ref();
            match parse_host_entry(entry) {
                Ok(h) => list.hosts.push(h),
                Err(message) => errors.push(ExcludeEntryError {
                    index,
                    entry: entry.to_owned(),
                    message,
                    expected: HOST_EXPECTED.to_owned(),
                }),
            }
            list.texts.push(entry.into());
        }
        if errors.is_empty() {
            Ok(list)
        } else {
            Err(errors)
        }
    }

    /// Whether the list has no entries (then nothing is excluded).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// Number of entries, as given to [`HostExcludeList::parse`].
    #[must_use]
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether an outgoing call is excluded.
    ///
    /// `host` without port (an IPv6 address may be given with or without
    /// brackets), `port` if known (explicit or scheme default). Never
    /// allocates.
    #[must_use]
    pub fn matches(&self, host: &str, port: Option<u16>) -> bool {
        if self.texts.is_empty() {
            return false;
        }
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        self.hosts
            .iter()
            .any(|e| e.host.eq_ignore_ascii_case(host) && e.port.is_none_or(|p| Some(p) == port))
    }

    /// The original entry texts, in order.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.texts.iter().map(|t| &**t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(entries: &[&str]) -> PathExcludeList {
        match PathExcludeList::parse(entries) {
            Ok(l) => l,
            Err(e) => panic!("{entries:?} should parse: {e:?}"),
        }
    }

    const SIX: &[&str] = &["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];

    #[rustfmt::skip]
    const PATH_CASES: &[(&[&str], Option<&str>, &str, bool)] = &[
        // OpenCensus cases: `health` is a prefix after the leading slash.
        (&["health"], None, "/health", true),
        (&["health"], None, "/healthz", true),
        (&["health"], None, "/health/live", true),
        (&["health"], None, "/api/health", false),
        (&["health"], None, "health", true),
        (&["health"], None, "/", false),
        (&["health"], None, "", false),
        (&["health"], None, "/heal", false),
        // `/health` is the same entry as `health`.
        (&["/health"], None, "/health", true),
        (&["/health"], None, "/healthz", true),
        (&["/health"], None, "/health/live", true),
        (&["/health"], None, "/api/health", false),
        // `/` matches only the root.
        (&["/"], None, "/", true),
        (&["/"], None, "", true),
        (&["/"], None, "/health", false),
        (&["/"], None, "//", false),
        (&["/", "health"], None, "/healthz", true),
        // App Engine style.
        (&["_ah/health"], None, "/_ah/health", true),
        (&["_ah/health"], None, "/_ah/health/x", true),
        (&["_ah/health"], None, "/_ah/start", false),
        (&["/_ah/health"], None, "/_ah/health", true),
        // Case-sensitive, never decoded, `?` is an ordinary character.
        (&["health"], None, "/Health", false),
        (&["Health"], None, "/health", false),
        (&["health"], None, "/health?x=1", true),
        (&["health?x"], None, "/health?x", true),
        (&["health?x"], None, "/health", false),
        (&["a%20b"], None, "/a%20b", true),
        (&["a%20b"], None, "/a b", false),
        // Several prefixes (linear and binary-search paths).
        (&["a", "b"], None, "/b/c", true),
        (&["api/v1", "api"], None, "/api/v2", true),
        (&["api/v1/users", "api/v2"], None, "/api/v1", false),
        (SIX, None, "/gamma/x", true),
        (SIX, None, "/zeta", true),
        (SIX, None, "/alpha", true),
        (SIX, None, "/epsilonx", true),
        (SIX, None, "/eta", false),
        (SIX, None, "/a", false),
        (SIX, None, "/", false),
        (SIX, None, "/zz", false),
        // Globs: `*` within a segment, anchored.
        (&["/api/*/health"], None, "/api/v1/health", true),
        (&["/api/*/health"], None, "/api//health", true),
        (&["/api/*/health"], None, "/api/v1/x/health", false),
        (&["/api/*/health"], None, "/api/health", false),
        (&["/api/*/health"], None, "/api/v1/healthz", false),
        (&["metrics/*"], None, "/metrics/x", true),
        (&["/metrics/*"], None, "/metrics/x", true),
        (&["/metrics/*"], None, "/metrics/", true),
        (&["/metrics/*"], None, "/metrics", false),
        (&["/metrics/*"], None, "/metrics/a/b", false),
        (&["/*.css"], None, "/style.css", true),
        (&["/*.css"], None, "/css/style.css", false),
        (&["/api/v*/users"], None, "/api/v2/users", true),
        (&["/api/v*/users"], None, "/api/x2/users", false),
        (&["/a*b*c"], None, "/abc", true),
        (&["/a*b*c"], None, "/axxbyyc", true),
        (&["/a*b*c"], None, "/axxbyy", false),
        (&["/*/*"], None, "/a/b", true),
        (&["/*/*"], None, "/a", false),
        (&["*"], None, "/", true),
        (&["*"], None, "/x", true),
        (&["*"], None, "/x/y", false),
        (&["/Static/**"], None, "/static/a", false),
        // `**` in the middle, at the end, at the start.
        (&["/api/**/health"], None, "/api/health", true),
        (&["/api/**/health"], None, "/api/v1/health", true),
        (&["/api/**/health"], None, "/api/v1/x/health", true),
        (&["/api/**/health"], None, "/api/v1/x/healthz", false),
        (&["/api/**/health"], None, "/apix/health", false),
        (&["/api/**/health"], None, "/api/health/x", false),
        (&["/static/**"], None, "/static", true),
        (&["/static/**"], None, "/static/", true),
        (&["/static/**"], None, "/static/a/b", true),
        (&["/static/**"], None, "/staticx", false),
        (&["/static/**"], None, "/other/static/a", false),
        (&["/**/health"], None, "/health", true),
        (&["/**/health"], None, "/a/b/health", true),
        (&["/**/health"], None, "/a/b/health/x", false),
        (&["**"], None, "/anything/at/all", true),
        (&["/**"], None, "/", true),
        (&["/api/**/*.json"], None, "/api/x/y/z.json", true),
        (&["/api/**/*.json"], None, "/api/z.json", true),
        (&["/api/**/*.json"], None, "/api/z.xml", false),
        (&["/**/v*/**"], None, "/a/v1/b", true),
        (&["/**/v*/**"], None, "/a/b", false),
        (&["/a/**/**/b"], None, "/a/b", true),
        // URL entries.
        (&["https://example.com"], Some("example.com"), "/anything", true),
        (&["https://example.com"], Some("EXAMPLE.COM:8443"), "/", true),
        (&["https://example.com"], Some(" example.com "), "/", true),
        (&["https://example.com"], None, "/anything", false),
        (&["https://example.com"], Some("other.com"), "/", false),
        (&["https://example.com"], Some("sub.example.com"), "/", false),
        (&["http://example.com"], Some("example.com:443"), "/", true),
        (&["HTTPS://Example.COM/"], Some("example.com"), "/x", true),
        (&["http://example.com:8080/health"], Some("example.com:8080"), "/health/live", true),
        (&["http://example.com:8080/health"], Some("example.com"), "/health", false),
        (&["http://example.com:8080/health"], Some("example.com:8081"), "/health", false),
        (&["http://example.com:8080/health"], Some("example.com:8080"), "/api", false),
        (&["http://example.com:8080/health"], Some("example.com:nope"), "/health", false),
        (&["https://example.com/health"], Some("example.com"), "/healthz", true),
        (&["https://example.com/health"], Some("example.com"), "/api/health", false),
        (&["https://example.com:443"], Some("example.com:443"), "/", true),
        (&["https://example.com:443"], Some("example.com"), "/", false),
        (&["https://[::1]:8080/health"], Some("[::1]:8080"), "/health", true),
        (&["https://[::1]:8080/health"], Some("[::1]"), "/health", false),
        (&["https://[::1]"], Some("[::1]:9000"), "/x", true),
        (&["https://[2001:DB8::1]"], Some("[2001:db8::1]"), "/", true),
        // A bare (invalid) IPv6 Host header is taken as a host with unknown port.
        (&["https://[::1]"], Some("::1"), "/", true),
        (&["https://[::1]:80"], Some("::1"), "/", false),
        // Mixed lists and the empty list.
        (&["health", "/api/**/debug", "https://admin.internal"], Some("admin.internal:9090"), "/x", true),
        (&["health", "/api/**/debug", "https://admin.internal"], Some("public"), "/x", false),
        (&["health", "/api/**/debug", "https://admin.internal"], Some("public"), "/api/a/debug", true),
        (&[], Some("example.com"), "/health", false),
    ];

    #[test]
    fn path_table() {
        assert!(PATH_CASES.len() >= 60);
        for (entries, host, path, expected) in PATH_CASES {
            let l = list(entries);
            assert_eq!(
                l.matches(*host, path),
                *expected,
                "entries {entries:?}, host {host:?}, path {path:?}"
            );
        }
    }

    #[rustfmt::skip]
    const BAD_PATHS: &[(&[&str], usize, &str)] = &[
        (&[""], 0, "empty entry would exclude every request"),
        (&["   "], 0, "empty entry would exclude every request"),
        (&["ok", " health"], 1, "leading/trailing whitespace"),
        (&["health "], 0, "leading/trailing whitespace"),
        (&["health\n"], 0, "leading/trailing whitespace"),
        (&["he alth"], 0, "whitespace or control"),
        (&["a**b"], 0, "`**` must be a whole path segment"),
        (&["/api/**x"], 0, "`**` must be a whole path segment"),
        (&["/api/***"], 0, "`**` must be a whole path segment"),
        (&["/api/*/h?"], 0, "glob character `?` is not supported"),
        (&["/api/[ab]/*"], 0, "glob character `[` is not supported"),
        (&["/a*]"], 0, "glob character `]` is not supported"),
        (&["/api/{a,b}/*"], 0, "glob character `{` is not supported"),
        (&["https://"], 0, "empty host"),
        (&["https:///health"], 0, "empty host"),
        (&["https://:8080"], 0, "empty host"),
        (&["https://example.com:0"], 0, "invalid port `0`"),
        (&["https://example.com:65536"], 0, "invalid port `65536`"),
        (&["https://example.com:123456"], 0, "invalid port"),
        (&["https://example.com:abc"], 0, "invalid port `abc`"),
        (&["https://example.com:"], 0, "invalid port ``"),
        (&["https://example.com/*"], 0, "wildcards (`*`) are not supported"),
        (&["https://user@example.com"], 0, "userinfo"),
        (&["https://example.com/health?x=1"], 0, "query"),
        (&["https://example.com/#frag"], 0, "fragment"),
        (&["https://[::1"], 0, "unterminated"),
        (&["https://[]"], 0, "empty host"),
        (&["https://[zz]"], 0, "not an IPv6 address"),
        (&["https://[::1]x"], 0, "unexpected `x`"),
        (&["https://::1/health"], 0, "must be enclosed in brackets"),
        (&["https://exa!mple.com"], 0, "invalid character `!`"),
        (&["ftp://example.com"], 0, "only `http://` and `https://`"),
        (&["ok", "also/ok", "https://exa mple.com"], 2, "whitespace"),
    ];

    #[test]
    fn malformed_path_entries() {
        assert!(BAD_PATHS.len() >= 20);
        for (entries, index, message) in BAD_PATHS {
            let errors = match PathExcludeList::parse(entries) {
                Ok(_) => panic!("{entries:?} should be rejected"),
                Err(e) => e,
            };
            assert_eq!(errors.len(), 1, "{entries:?}: {errors:?}");
            let e = &errors[0];
            assert_eq!(e.index, *index, "{entries:?}");
            assert_eq!(e.entry, entries[*index]);
            assert!(e.message.contains(message), "{entries:?}: {}", e.message);
            assert_eq!(e.to_string(), e.message);
            assert_eq!(e.expected, PATH_EXPECTED);
        }
    }

    #[test]
    fn all_errors_reported() {
        let errors = match PathExcludeList::parse(&["", "ok", "a**b", "https://x:0"]) {
            Ok(_) => panic!("should fail"),
            Err(e) => e,
        };
        let indices: Vec<usize> = errors.iter().map(|e| e.index).collect();
        assert_eq!(indices, [0, 2, 3]);
    }

    #[test]
    fn accessors() {
        let l = list(&["b", "/a", "b", "https://x"]);
        assert_eq!(l.len(), 4);
        assert!(!l.is_empty());
        assert_eq!(
            l.entries().collect::<Vec<_>>(),
            ["b", "/a", "b", "https://x"]
        );
        let empty = PathExcludeList::default();
        assert!(empty.is_empty());
        assert_eq!(empty.len(), 0);
        assert!(!empty.matches(Some("x"), "/"));
        let parsed_empty = list(&[]);
        assert!(parsed_empty.is_empty());
    }

    #[rustfmt::skip]
    const HOST_CASES: &[(&[&str], &str, Option<u16>, bool)] = &[
        (&["example.com"], "example.com", None, true),
        (&["example.com"], "example.com", Some(443), true),
        (&["example.com"], "EXAMPLE.com", Some(80), true),
        (&["Example.COM"], "example.com", None, true),
        (&["example.com"], "sub.example.com", None, false),
        (&["example.com"], "example.co", None, false),
        (&["example.com:443"], "example.com", Some(443), true),
        (&["example.com:443"], "example.com", Some(80), false),
        (&["example.com:443"], "example.com", None, false),
        (&["[::1]"], "::1", Some(8080), true),
        (&["[::1]"], "[::1]", None, true),
        (&["[::1]:443"], "[::1]", Some(443), true),
        (&["[::1]:443"], "::1", Some(80), false),
        (&["[2001:DB8::1]"], "2001:db8::1", None, true),
        (&["a", "b:1", "c"], "b", Some(1), true),
        (&["a", "b:1", "c"], "c", Some(9), true),
        (&["a", "b:1", "c"], "d", Some(9), false),
        (&["localhost", "127.0.0.1:4317"], "127.0.0.1", Some(4317), true),
        (&[], "example.com", None, false),
    ];

    #[test]
    fn host_table() {
        for (entries, host, port, expected) in HOST_CASES {
            let l = match HostExcludeList::parse(entries) {
                Ok(l) => l,
                Err(e) => panic!("{entries:?}: {e:?}"),
            };
            assert_eq!(
                l.matches(host, *port),
                *expected,
                "{entries:?} {host} {port:?}"
            );
        }
        let l = HostExcludeList::default();
        assert!(l.is_empty() && l.entries().next().is_none() && !l.matches("x", None));
    }

    #[rustfmt::skip]
    const BAD_HOSTS: &[(&[&str], usize, &str)] = &[
        (&[""], 0, "empty entry"),
        (&[" "], 0, "empty entry"),
        (&["a", " b"], 1, "leading/trailing whitespace"),
        (&["a b"], 0, "whitespace"),
        (&["https://example.com"], 0, "without a scheme"),
        (&["example.com/health"], 0, "cannot contain a path"),
        (&["*.example.com"], 0, "wildcards"),
        (&["example.com:0"], 0, "invalid port `0`"),
        (&["example.com:70000"], 0, "invalid port"),
        (&["example.com:x"], 0, "invalid port"),
        (&["example.com:"], 0, "invalid port"),
        (&[":443"], 0, "empty host"),
        (&["::1"], 0, "brackets"),
        (&["[::1"], 0, "unterminated"),
        (&["[::1]443"], 0, "unexpected"),
        (&["user@example.com"], 0, "invalid character `@`"),
    ];

    #[test]
    fn malformed_host_entries() {
        for (entries, index, message) in BAD_HOSTS {
            let errors = match HostExcludeList::parse(entries) {
                Ok(_) => panic!("{entries:?} should be rejected"),
                Err(e) => e,
            };
            assert_eq!(errors.len(), 1, "{entries:?}: {errors:?}");
            assert_eq!(errors[0].index, *index);
            assert!(
                errors[0].message.contains(message),
                "{entries:?}: {}",
                errors[0].message
            );
            assert_eq!(errors[0].expected, HOST_EXPECTED);
        }
    }

    #[test]
    fn pathological_globs_are_fast() {
        let pattern = format!("/{}*b", "*a".repeat(20));
        let path = format!("/{}", "a".repeat(20_000));
        let l = list(&[pattern.as_str()]);
        let start = std::time::Instant::now();
        assert!(!l.matches(None, &path));
        let many_segments = format!("/{}", "a/".repeat(5_000));
        let l = list(&["/**/a*a*a*a*b/**/c*c*d/**"]);
        assert!(!l.matches(None, &many_segments));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_inputs_never_panic(
            entries in proptest::collection::vec("[a-z/*?:\\[\\]@.%: -]{0,16}|https?://.{0,16}|.{0,16}", 0..5),
            host in proptest::option::of(".{0,20}|\\[[0-9a-f:]{0,8}\\](:[0-9]{0,6})?"),
            path in "/?[a-z*/.]{0,40}|.{0,40}",
        ) {
            if let Ok(l) = PathExcludeList::parse(&entries) {
                let _ = l.matches(host.as_deref(), &path);
            }
            if let Ok(l) = HostExcludeList::parse(&entries) {
                let _ = l.matches(host.as_deref().unwrap_or(""), None);
            }
        }

        #[test]
        fn plain_entry_matches_itself_and_extensions(
            entry in "[a-zA-Z0-9._~%?-][a-zA-Z0-9._~%?/-]{0,20}",
            suffix in "[a-zA-Z0-9._~%?/-]{0,20}",
        ) {
            prop_assume!(!entry.contains("://"));
            let l = list(&[entry.as_str()]);
            let exact = format!("/{entry}");
            let longer = format!("/{entry}{suffix}");
            prop_assert!(l.matches(None, &exact));
            prop_assert!(l.matches(None, &longer));
            let slashed = list(&[exact.as_str()]);
            prop_assert!(slashed.matches(None, &longer));
        }

        #[test]
        fn star_free_glob_is_exact_equality(
            pattern in "/?[ab/]{0,8}",
            path in "/?[ab/]{0,8}",
        ) {
            let glob = match Glob::parse(&pattern) {
                Ok(g) => g,
                Err(e) => panic!("{pattern:?}: {e}"),
            };
            let p = strip_slash(&path);
            prop_assert_eq!(glob.matches(p), p == strip_slash(&pattern));
        }

        #[test]
        fn pathological_star_patterns_complete(stars in 1usize..30, len in 0usize..3000) {
            let pattern = format!("/{}*b", "*a".repeat(stars));
            let path = format!("/{}", "a".repeat(len));
            let l = list(&[pattern.as_str()]);
            prop_assert!(!l.matches(None, &path));
            let with_b = format!("{path}{}b", "a".repeat(stars));
            prop_assert!(l.matches(None, &with_b));
        }
    }
}
