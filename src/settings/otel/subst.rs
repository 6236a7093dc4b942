//! Environment substitution in scalar values, as OpenTelemetry's configuration data model
//! says: `${NAME}` and `${env:NAME}` (a name is `[a-zA-Z_][a-zA-Z0-9_]*`), `${NAME:-default}`
//! (the default when the variable is undefined or empty), `$$` for a literal `$`. An undefined
//! variable without a default is replaced by nothing. A substituted value is never scanned
//! again (no recursion), and never adds YAML structure (the caller types the result as one
//! scalar). A `${` that does not form a reference is an error, not left in place.

/// Where variables come from.
pub(crate) trait Lookup {
    /// The variable's value, `None` when undefined.
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// A reference that is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubstError {
    pub(crate) message: String,
    /// Byte offset of the `$` in the value.
    pub(crate) offset: usize,
    pub(crate) help: Vec<String>,
}

fn is_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Substitutes every reference in `value`.
pub(crate) fn substitute(value: &str, lookup: &dyn Lookup) -> Result<String, SubstError> {
    if !value.contains('$') {
        return Ok(value.to_string());
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut offset = 0;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let at = &rest[i..];
        if let Some(after) = at.strip_prefix("$$") {
            out.push('$');
            rest = after;
            offset += i + 2;
            continue;
        }
        if !at.starts_with("${") {
            out.push('$');
            rest = &at[1..];
            offset += i + 1;
            continue;
        }
        let here = offset + i;
        let body_and_more = &at[2..];
        // The default runs to the first `}`, on one line.
        let Some(close) = body_and_more
            .find(['}', '\n'])
            .filter(|&c| body_and_more.as_bytes().get(c) == Some(&b'}'))
        else {
            return Err(SubstError {
                message: "`${` starts a substitution that is not closed with `}`".into(),
                offset: here,
                help: vec![
                    "write `${NAME}`, `${env:NAME}` or `${NAME:-default}`; `$$` is a literal `$`"
                        .into(),
                ],
            });
        };
        let body = &body_and_more[..close];
        let (name, default) = match body.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        let name = name.strip_prefix("env:").unwrap_or(name);
        if !is_name(name) {
            let mut help = vec![
                "a variable name is letters, digits and `_`, not starting with a digit; write `$$` for a literal `$`".to_string(),
            ];
            if default.is_none() && name.contains(':') {
                help.insert(
                    0,
                    "a default is written `${NAME:-default}` (with `-`)".to_string(),
                );
            }
            return Err(SubstError {
                message: format!("`${{{body}}}` is not a valid substitution"),
                offset: here,
                help,
            });
        }
        let found = lookup.get(name).filter(|v| !v.is_empty());
        match (found, default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {}
        }
        rest = &body_and_more[close + 1..];
        offset = here + 2 + close + 1;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "EMPTY" => Some(String::new()),
            "NESTED" => Some("${A}".into()),
            "DOLLAR" => Some("$$".into()),
            _ => None,
        }
    }

    fn s(v: &str) -> String {
        substitute(v, &env).unwrap()
    }

    #[test]
    fn references() {
        assert_eq!(s("${A}"), "alpha");
        assert_eq!(s("${env:A}"), "alpha");
        assert_eq!(s("x${A}y"), "xalphay");
        assert_eq!(s("${UNDEFINED}"), "");
        assert_eq!(s("a${UNDEFINED}b"), "ab");
        assert_eq!(s("${UNDEFINED:-fallback}"), "fallback");
        assert_eq!(
            s("${UNDEFINED:-with spaces and: colons}"),
            "with spaces and: colons"
        );
        assert_eq!(s("${A:-fallback}"), "alpha");
        assert_eq!(s("${EMPTY:-fallback}"), "fallback");
        assert_eq!(s("${EMPTY}"), "");
        assert_eq!(s("${UNDEFINED:-}"), "");
        assert_eq!(s("${env:UNDEFINED:-d}"), "d");
    }

    #[test]
    fn escapes_and_no_recursion() {
        assert_eq!(s("$$"), "$");
        assert_eq!(s("$${A}"), "${A}");
        assert_eq!(s("$$$${A}"), "$${A}");
        assert_eq!(s("$$${A}"), "$alpha");
        assert_eq!(s("cost: $5"), "cost: $5");
        assert_eq!(s("${NESTED}"), "${A}");
        assert_eq!(s("${DOLLAR}"), "$$");
        assert_eq!(s("$"), "$");
    }

    #[test]
    fn invalid_references_are_errors() {
        for bad in [
            "${1BAD}",
            "${}",
            "${A:default}",
            "${A",
            "x ${A-B}",
            "${A B}",
        ] {
            let e = substitute(bad, &env).unwrap_err();
            assert!(e.message.contains("substitution"), "{bad}: {e:?}");
        }
        let e = substitute("ok ${A:default}", &env).unwrap_err();
        assert_eq!(e.offset, 3);
        assert!(e.help[0].contains(":-"));
    }
}
