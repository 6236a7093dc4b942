//! A string that never shows itself in `Debug`, `Display`, logs or errors, and the redaction of
//! credentials inside URLs (userinfo, and the query parameters that carry them).

use std::borrow::Cow;

use std::fmt;

/// A secret value (connection string, instrumentation key, auth header). Its `Debug` and
/// `Display` print `<redacted>`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Never log what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Query parameters whose values carry credentials (SPEC 8; the semantic conventions name the
/// first ones), compared case-insensitively.
#[cfg_attr(
    not(any(feature = "axum", feature = "actix", feature = "reqwest")),
    allow(dead_code)
)]
const CREDENTIAL_PARAMS: &[&str] = &[
    "sig",
    "signature",
    "token",
    "access_token",
    "code",
    "key",
    "api_key",
    "apikey",
    "password",
    "secret",
    "client_secret",
    "awsaccesskeyid",
    "x-goog-signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
];

#[cfg_attr(
    not(any(feature = "axum", feature = "actix", feature = "reqwest")),
    allow(dead_code)
)]
fn is_credential(pair: &str) -> bool {
    let key = pair.split_once('=').map_or(pair, |(k, _)| k);
    CREDENTIAL_PARAMS
        .iter()
        .any(|p| p.eq_ignore_ascii_case(key))
}

/// `query` (without its `?`) with the values of credential parameters replaced by
/// `REDACTED`; borrowed (no allocation) when there is none.
#[cfg_attr(
    not(any(feature = "axum", feature = "actix", feature = "reqwest")),
    allow(dead_code)
)]
pub(crate) fn redact_query(query: &str) -> Cow<'_, str> {
    if !query.split('&').any(is_credential) {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if is_credential(pair) => {
                out.push_str(key);
                out.push_str("=REDACTED");
            }
            _ => out.push_str(pair),
        }
    }
    Cow::Owned(out)
}

/// Byte ranges of the `user:password` parts of every URL in `text` (`scheme://user:pw@host`).
pub(crate) fn userinfo_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let start = from + found + 3;
        let rest = &text[start..];
        let end = rest
            .find(['/', '?', '#', '\'', '"', ',', ')', ' ', '\n'])
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            out.push(start..start + at);
        }
        from = start;
    }
    out
}

/// `text` with the `user:password@` of every URL in it shown as `<redacted>@` (for reports
/// and errors); borrowed when there is none.
pub(crate) fn redact_userinfo(text: &str) -> Cow<'_, str> {
    let spans = userinfo_spans(text);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for span in spans {
        out.push_str(&text[last..span.start]);
        out.push_str("<redacted>");
        last = span.end;
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_query_values_are_redacted_whatever_their_case() {
        assert_eq!(redact_query("x=1&y=2"), "x=1&y=2");
        assert!(matches!(redact_query("x=1"), Cow::Borrowed(_)));
        assert_eq!(
            redact_query("sv=2024&SIG=abc%2F&Signature=z&code=oauth&x=1&token"),
            "sv=2024&SIG=REDACTED&Signature=REDACTED&code=REDACTED&x=1&token"
        );
        assert_eq!(
            redact_query("X-Amz-Credential=a&X-Amz-Signature=b"),
            "X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"
        );
    }

    #[test]
    fn userinfo_is_redacted() {
        assert_eq!(
            redact_userinfo("https://u:p@collector:4318/v1/traces"),
            "https://<redacted>@collector:4318/v1/traces"
        );
        assert_eq!(
            redact_userinfo("http://collector:4318/a@b"),
            "http://collector:4318/a@b"
        );
        assert_eq!(redact_userinfo("collector:4318"), "collector:4318");
        assert_eq!(
            redact_userinfo("X(endpoint='http://a:b@h:1/x', proxies={'https': 'http://c:d@p'})"),
            "X(endpoint='http://<redacted>@h:1/x', proxies={'https': 'http://<redacted>@p'})"
        );
    }
}
