//! `host[:port]` in its three uses, with one set of rules: a port is 1 to 5 ASCII digits with a
//! value in `1..=65535` (port 0 is never a port), an IPv6 host is bracketed.
//!
//! - [`split_host`]: a request's `Host` header on the request path (allocation-free; a bad or
//!   missing port is `None`, "unknown");
//! - [`parse_authority`]: a configured entry, validated, host lower-cased;
//! - [`is_loopback_url`]: whether a configured endpoint URL points at this machine.

/// A port: 1 to 5 ASCII digits with a value in `1..=65535`. Allocation-free.
pub(crate) fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 {
        return None;
    }
    let mut value: u32 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    match u16::try_from(value) {
        Ok(0) | Err(_) => None,
        Ok(port) => Some(port),
    }
}

/// Splits a request's `Host` value into host (IPv6 without brackets) and port; surrounding
/// spaces and tabs are ignored. A missing or unparsable port is `None`. Allocation-free.
pub(crate) fn split_host(header: &str) -> (&str, Option<u16>) {
    let header = header.trim_matches([' ', '\t']);
    if let Some(rest) = header.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((inner, after)) => (inner, after.strip_prefix(':').and_then(parse_port)),
            None => (header, None),
        };
    }
    match header.split_once(':') {
        Some((host, port)) if !port.contains(':') => (host, parse_port(port)),
        _ => (header, None),
    }
}

/// Validates and splits a configured `host[:port]` / `[v6][:port]` authority. The host comes
/// back lower-cased, without brackets.
///
/// # Errors
/// What is wrong with it, in words for a settings error.
pub(crate) fn parse_authority(authority: &str) -> Result<(Box<str>, Option<u16>), String> {
    if authority.is_empty() {
        return Err("empty host".to_owned());
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return Err("unterminated `[` in IPv6 host".to_owned());
        };
        if inner.is_empty() {
            return Err("empty host".to_owned());
        }
        if !inner.contains(':')
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(format!("`[{inner}]` is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(p),
                None => {
                    return Err(format!("unexpected `{after}` after IPv6 address"));
                }
            },
        };
        (inner, port)
    } else {
        let mut parts = authority.splitn(3, ':');
        let host = parts.next().unwrap_or_default();
        let port = parts.next();
        if parts.next().is_some() {
            return Err(
                "IPv6 addresses must be enclosed in brackets, like `[::1]:8080`".to_owned(),
            );
        }
        if host.is_empty() {
            return Err("empty host".to_owned());
        }
        if let Some(c) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '%')))
        {
            return Err(format!(
                "invalid character `{c}` in host (use the ASCII/punycode form)"
            ));
        }
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) => match parse_port(p) {
            Some(port) => Some(port),
            None => return Err(format!("invalid port `{p}` (expected 1-65535)")),
        },
    };
    Ok((host.to_ascii_lowercase().into_boxed_str(), port))
}

/// Whether `url` (`http(s)://authority/...`, or a bare authority) names `localhost` or a
/// loopback address.
#[cfg_attr(not(feature = "azure"), allow(dead_code))]
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
        .unwrap_or(&lower);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, _) = split_host(authority);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_is_not_a_port_anywhere() {
        assert_eq!(split_host("example.com:0"), ("example.com", None));
        assert!(parse_authority("example.com:0").is_err());
        assert_eq!(parse_port("65535"), Some(65535));
        assert_eq!(parse_port("65536"), None);
        assert_eq!(parse_port("+80"), None);
    }

    #[test]
    fn hosts_split_the_same_way_for_every_use() {
        assert_eq!(split_host("[::1]:8080"), ("::1", Some(8080)));
        assert_eq!(split_host(" a.b:81\t"), ("a.b", Some(81)));
        assert_eq!(split_host("::1"), ("::1", None));
        assert_eq!(
            parse_authority("[::1]:8080").unwrap(),
            ("::1".into(), Some(8080))
        );
        assert_eq!(parse_authority("A.B").unwrap(), ("a.b".into(), None));
        assert!(is_loopback_url("http://127.0.0.1:9/v2/track"));
        assert!(is_loopback_url("http://[::1]:9"));
        assert!(is_loopback_url("https://LOCALHOST"));
        assert!(!is_loopback_url("https://dc.services.visualstudio.com"));
    }
}
