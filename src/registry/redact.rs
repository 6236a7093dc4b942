//! Where the secrets are in a spec string (or any text that holds spec strings, such as a
//! settings file), so that no output shows them: `Debug`, errors with their caret snippets,
//! reports.
//!
//! - the value of every keyword the registry declares secret (`connection_string=...`), found
//!   lexically, so a spec that does not parse shows none either; a triple-quoted value is
//!   covered whole;
//! - a positional argument in a secret parameter's place (`AzureExporter('InstrumentationKey=...')`),
//!   when the spec parses;
//! - any string literal holding a connection string (`InstrumentationKey=`);
//! - the `user:password` of every URL.

use super::Registry;
use crate::spec::{self, Call, Span, Value};

/// The end of a quoted value starting at `value` (its first byte is the quote `q`): one past the
/// closing quote, or `None` when it never closes.
fn quoted_end(value: &str, q: char) -> Option<usize> {
    let triple: String = std::iter::repeat_n(q, 3).collect();
    if value.starts_with(&triple) {
        return value[3..].find(&triple).map(|i| 3 + i + 3);
    }
    let mut prev_backslash = false;
    for (i, c) in value.char_indices().skip(1) {
        if c == q && !prev_backslash {
            return Some(i + 1);
        }
        prev_backslash = c == '\\' && !prev_backslash;
    }
    None
}

/// The end of a `{...}` value (one past its `}`), skipping quoted strings (a `}` inside a
/// header value does not end it); `None` when it never closes.
fn dict_end(value: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut prev_backslash = false;
    for (i, c) in value.char_indices() {
        match quote {
            Some(q) => {
                if c == q && !prev_backslash {
                    quote = None;
                }
                prev_backslash = c == '\\' && !prev_backslash;
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '}' => return Some(i + 1),
                _ => {}
            },
        }
    }
    None
}

impl Registry {
    /// Byte ranges of the secrets in `text` (see the module docs), possibly overlapping.
    pub(crate) fn secret_spans(&self, text: &str) -> Vec<Span> {
        let mut out = Vec::new();
        for name in self.secret_params() {
            let mut from = 0;
            while let Some(found) = text[from..].find(name) {
                let start = from + found;
                from = start + name.len();
                let Some(after_eq) = text[from..].trim_start().strip_prefix('=') else {
                    continue;
                };
                let value = after_eq.trim_start();
                let value_start = text.len() - value.len();
                let end = match value.chars().next() {
                    Some(q @ ('\'' | '"')) => {
                        quoted_end(value, q).map_or(text.len(), |e| value_start + e)
                    }
                    Some('{') => dict_end(value).map_or(text.len(), |e| value_start + e),
                    _ => value
                        .find([',', ')', '\n'])
                        .map_or(text.len(), |i| value_start + i),
                };
                // Already redacted (a description that shows `token='<redacted>'`): as it is.
                let already = matches!(
                    text.get(value_start..end),
                    Some("'<redacted>'" | "\"<redacted>\"" | "<redacted>")
                );
                if end > value_start && !already {
                    out.push(value_start..end);
                }
            }
        }
        // A connection string in any string literal.
        let lower = text.to_ascii_lowercase();
        let mut from = 0;
        while let Some(found) = lower[from..].find("instrumentationkey=") {
            let at = from + found;
            let start = lower[..at].rfind(['\'', '"']).map_or(at, |q| q + 1);
            let end = lower[at..]
                .find(['\'', '"', '\n'])
                .map_or(text.len(), |i| at + i);
            out.push(start..end);
            from = end.max(at + 1);
        }
        if let Ok(call) = spec::parse(text) {
            self.positional_secrets(&call, &mut out);
        }
        out.extend(crate::secret::userinfo_spans(text));
        out
    }

    fn positional_secrets(&self, call: &Call, out: &mut Vec<Span>) {
        let params = self.find(&call.name.value).map(|c| c.params.as_slice());
        for (i, arg) in call.args.iter().enumerate() {
            if arg.keyword.is_none() && params.and_then(|p| p.get(i)).is_some_and(|p| p.is_secret())
            {
                out.push(arg.value.span.clone());
            }
            self.value_secrets(&arg.value.value, out);
        }
    }

    fn value_secrets(&self, value: &Value, out: &mut Vec<Span>) {
        match value {
            Value::Call(call) => self.positional_secrets(call, out),
            Value::List(items) | Value::Tuple(items) => {
                for item in items {
                    self.value_secrets(&item.value, out);
                }
            }
            Value::Dict(pairs) => {
                for (k, v) in pairs {
                    self.value_secrets(&k.value, out);
                    self.value_secrets(&v.value, out);
                }
            }
            _ => {}
        }
    }

    /// `text` with every secret shown as `<redacted>` (for `Debug`).
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut spans = self.secret_spans(text);
        if spans.is_empty() {
            return text.to_string();
        }
        spans.sort_by_key(|s| s.start);
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for span in spans {
            if span.start < last {
                last = last.max(span.end);
                continue;
            }
            out.push_str(&text[last..span.start]);
            out.push_str("<redacted>");
            last = span.end;
        }
        out.push_str(&text[last.min(text.len())..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::Registry;

    #[test]
    fn every_form_of_a_secret_is_found() {
        let r = Registry::default();
        let key = "InstrumentationKey=00000000-0000-0000-0000-000000000001";
        for spec in [
            format!("AzureExporter(connection_string='{key}')"),
            format!("AzureExporter(connection_string=\"{key}\")"),
            format!("AzureExporter(connection_string=\'\'\'{key}\'\'\')"),
            format!("AzureExporter(connection_string=\"\"\"{key}\"\"\", max_batch_size=0)"),
            format!("AzureExporter('{key}', max_batch_size=0)"),
            format!("AzureExporter(service_name='x', connection_string='{key}"),
            format!("EXPORTER = \"AzureExporter('{key}')\" oops"),
        ] {
            let shown = r.redact(&spec);
            assert!(!shown.contains("00000000-0000"), "{spec} -> {shown}");
        }
        let otlp = "OTLPSpanExporter(endpoint='https://user:pw@collector:4318/v1/traces', headers={'api-key': 'k1'})";
        let shown = r.redact(otlp);
        assert!(
            !shown.contains("user:pw") && !shown.contains("k1"),
            "{shown}"
        );
        assert_eq!(r.redact("AlwaysOnSampler()"), "AlwaysOnSampler()");
    }
}
